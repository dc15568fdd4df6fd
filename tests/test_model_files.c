/* test_model_files.c — vs2_model_files_open on checkpoints written by
 * tools/make_tiny_checkpoint.py (ctest fixture vs2_tiny_ckpt, under $VS2_TEST_TMP/ckpt):
 * every tensor as vs2 sees it equals the generator's own record (tensors.json), and every
 * broken directory gives one clear error naming the file and tensor. Broken copies are made in
 * $VS2_TEST_TMP/mf-neg: shards are symlinked unless a case rewrites them. */
#include "check.h"
#include "internal.h"
#include "vs2.h"

#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_tmp[2048];

static void path_of(char *out, size_t cap, const char *a, const char *b) {
    if (snprintf(out, cap, "%s/%s", a, b) >= (int)cap) {
        fprintf(stderr, "path too long: %s/%s\n", a, b);
        exit(2);
    }
}

static const char *ckpt(const char *name) {
    static char p[4][4096];
    static int k = 0;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/ckpt/%s", g_tmp, name);
    return p[k];
}

/* ---- checksums (independent of the generator's code) --------------------------------------- */

static uint32_t crc32_of(const unsigned char *p, uint64_t n) {
    uint32_t c = 0xffffffffu;
    for (uint64_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static double half_to_double(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
}

static double value_sum(const vs2_tensor *t) {
    const unsigned char *p = t->data;
    double s = 0;
    size_t es = vs2_dtype_size(t->dtype);
    for (uint64_t i = 0; i < t->nbytes / es; i++) {
        if (t->dtype == VS2_DTYPE_F32 || t->dtype == VS2_DTYPE_BF16) {
            uint32_t u = t->dtype == VS2_DTYPE_F32
                             ? (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                                   (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24
                             : ((uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8) << 16;
            float f;
            memcpy(&f, &u, 4);
            s += f;
        } else {
            s += half_to_double((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        }
    }
    return s;
}

/* ---- positive: vs2's view equals the manifest --------------------------------------------------- */

static int shape_eq(const vs2_tensor *t, const json_t *shape) {
    if (t->ndim != (int)json_array_size(shape)) return 0;
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] != json_integer_value(json_array_get(shape, (size_t)i))) return 0;
    return 1;
}

static void check_against_manifest(const vs2_model_files *mf, const char *dir, int checksums) {
    char p[4096];
    path_of(p, sizeof p, dir, "tensors.json");
    json_error_t je;
    json_t *m = json_load_file(p, 0, &je);
    CHECK_MSG(m != NULL, "%s: %s", p, je.text);
    if (!m) return;
    const json_t *ts = json_object_get(m, "tensors");
    CHECK_EQ_INT(vs2_model_files_n_tensors(mf), json_array_size(ts));
    size_t i;
    json_t *r;
    json_array_foreach(ts, i, r) {
        const char *name = json_string_value(json_object_get(r, "name"));
        const vs2_tensor *t = vs2_model_files_tensor(mf, name);
        CHECK_MSG(t != NULL, "%s: tensor %s not found", dir, name);
        if (!t) continue;
        CHECK(!strcmp(t->stored_name, json_string_value(json_object_get(r, "stored_name"))));
        CHECK(!strcmp(t->file, json_string_value(json_object_get(r, "file"))));
        CHECK(!strcmp(vs2_dtype_name(t->dtype), json_string_value(json_object_get(r, "dtype"))));
        CHECK_MSG(shape_eq(t, json_object_get(r, "shape")), "%s: shape of %s", dir, name);
        CHECK_EQ_INT(t->offset, json_integer_value(json_object_get(r, "offset")));
        CHECK_EQ_INT(t->nbytes, json_integer_value(json_object_get(r, "nbytes")));
        /* Zero-copy: data lies in a page-aligned mapping at the file offset. */
        CHECK_EQ_INT((uintptr_t)t->data % 4096, t->offset % 4096);
        if (!checksums) continue;
        CHECK_EQ_INT(crc32_of(t->data, t->nbytes), json_integer_value(json_object_get(r, "crc32")));
        /* The generator's values are exact in a float64 sum, in any order. */
        CHECK_MSG(value_sum(t) == json_real_value(json_object_get(r, "sum")), "%s: sum of %s", dir,
                  name);
    }
    json_decref(m);
}

static vs2_model_files *open_ok(const char *dir) {
    vs2_model_files *mf = NULL;
    vs2_error err;
    vs2_model_files_params p = vs2_model_files_default_params();
    vs2_status s = vs2_model_files_open(dir, &p, &mf, &err);
    CHECK_MSG(s == VS2_OK, "%s: %s", dir, err.message);
    CHECK(mf != NULL);
    if (mf) CHECK_EQ_INT(vs2_model_files_n_problems(mf), 0);
    return mf;
}

static void check_tiny_config(const vs2_model_files *mf, const char *layout) {
    const vs2_config *c = vs2_model_files_config(mf);
    CHECK(!strcmp(c->layout, layout));
    CHECK(c->hidden_size == 64 && c->num_hidden_layers == 2 && c->num_attention_heads == 4 &&
          c->num_key_value_heads == 2 && c->head_dim == 16 && c->intermediate_size == 128);
    CHECK(c->mrope_section[0] + c->mrope_section[1] + c->mrope_section[2] == 8);
    CHECK(c->vision.depth == 4 && c->vision.hidden_size == 32 && c->vision.patch_size == 14 &&
          c->vision.window_size == 112 && c->vision.n_fullatt >= 1);
    CHECK_EQ_INT(c->video_token_id, 151656);
}

static void test_hub_bf16_single(void) {
    const char *d = ckpt("hub_bf16");
    vs2_model_files *mf = open_ok(d);
    if (!mf) return;
    check_tiny_config(mf, "hub");
    check_against_manifest(mf, d, 1);
    const vs2_generation_config *g = vs2_model_files_generation_config(mf);
    CHECK(g->present && g->do_sample && g->n_eos == 2 && g->eos_token_ids[1] == 151643);
    CHECK(!strcmp(vs2_model_files_dir(mf), d));
    CHECK(vs2_model_files_tensor(mf, "no.such.tensor") == NULL);
    CHECK(vs2_model_files_tensor_at(mf, 1u << 30) == NULL);
    vs2_model_files_close(mf);
}

static void test_nested_f32_new_names_sharded(void) {
    const char *d = ckpt("nested_f32_new");
    vs2_model_files *mf = open_ok(d);
    if (!mf) return;
    check_tiny_config(mf, "nested");
    check_against_manifest(mf, d, 1);
    /* model.language_model.* is looked up under its hub name. */
    const vs2_tensor *t = vs2_model_files_tensor(mf, "model.norm.weight");
    CHECK(t && !strcmp(t->stored_name, "model.language_model.norm.weight"));
    t = vs2_model_files_tensor(mf, "visual.merger.ln_q.weight");
    CHECK(t && !strcmp(t->stored_name, "model.visual.merger.ln_q.weight"));
    vs2_model_files_close(mf);
}

static void test_hub_f16_sharded(void) {
    const char *d = ckpt("hub_f16_2");
    vs2_model_files *mf = open_ok(d);
    if (!mf) return;
    check_against_manifest(mf, d, 1);
    vs2_model_files_close(mf);
}

static void test_tied_without_generation_config(void) {
    const char *d = ckpt("nested_bf16_tied");
    vs2_model_files *mf = open_ok(d);
    if (!mf) return;
    check_against_manifest(mf, d, 1);
    CHECK(vs2_model_files_config(mf)->tie_word_embeddings);
    CHECK(vs2_model_files_tensor(mf, "lm_head.weight") == NULL); /* tied: absent is fine */
    /* No generation_config.json: transformers defaults, eos/bos from config.json. */
    const vs2_generation_config *g = vs2_model_files_generation_config(mf);
    CHECK(!g->present && !g->do_sample && g->temperature == 1.0 && g->top_k == 50);
    CHECK(g->n_eos == 1 && g->eos_token_ids[0] == 151645 && g->bos_token_id == 151643);
    vs2_model_files_close(mf);
}

static void test_full_size_shapes(void) {
    /* The real 7B geometry (sparse zero data): 729 tensors, 8,292,166,656 parameters. */
    const char *d = ckpt("full");
    vs2_model_files *mf = open_ok(d);
    if (!mf) return;
    CHECK_EQ_INT(vs2_model_files_n_tensors(mf), 729);
    uint64_t params = 0;
    for (size_t i = 0; i < vs2_model_files_n_tensors(mf); i++) {
        const vs2_tensor *t = vs2_model_files_tensor_at(mf, i);
        params += t->nbytes / 2;
    }
    CHECK_EQ_INT(params, 8292166656ULL);
    check_against_manifest(mf, d, 0);
    vs2_model_files_close(mf);
}

/* ---- scratch copies ------------------------------------------------------------------------------ */

static int write_bytes(const char *path, const void *p, size_t n) {
    unlink(path); /* never write through a symlink into the fixture */
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* A scratch copy of checkpoint src: JSON files copied, shards symlinked. */
static const char *clone(const char *src, const char *name) {
    static char dst[4096];
    char p[4096], q[4096];
    snprintf(p, sizeof p, "%s/mf-neg", g_tmp);
    mkdir(p, 0777);
    snprintf(dst, sizeof dst, "%s/mf-neg/%s", g_tmp, name);
    mkdir(dst, 0777);
    DIR *d = opendir(dst);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            path_of(p, sizeof p, dst, e->d_name);
            unlink(p);
        }
    if (d) closedir(d);
    d = opendir(src);
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        path_of(p, sizeof p, src, e->d_name);
        path_of(q, sizeof q, dst, e->d_name);
        if (strstr(e->d_name, ".safetensors") && !strstr(e->d_name, ".json")) {
            CHECK(symlink(p, q) == 0);
        } else {
            char *text;
            size_t n;
            CHECK(vs2__read_file(p, 0, &text, &n, NULL) == VS2_OK);
            CHECK(write_bytes(q, text, n));
            free(text);
        }
    }
    if (d) closedir(d);
    return dst;
}

/* Tensor list of a shard, to rewrite it with changes. */
typedef struct {
    char name[256];
    vs2_dtype dtype;
    int ndim;
    int64_t shape[VS2_MAX_DIMS];
    const unsigned char *data;
    uint64_t nbytes;  /* bytes available in the source */
    uint64_t newbytes; /* size after the edit */
    int drop;
} entry;

typedef struct {
    entry e[512];
    size_t n;
} entries;

static void collect(const vs2_tensor *t, void *user) {
    entries *es = user;
    if (es->n >= 512) return;
    entry *e = &es->e[es->n++];
    snprintf(e->name, sizeof e->name, "%s", t->stored_name);
    e->dtype = t->dtype;
    e->ndim = t->ndim;
    memcpy(e->shape, t->shape, sizeof e->shape);
    e->data = t->data;
    e->nbytes = t->nbytes;
    e->drop = 0;
}

static entry *find_entry(entries *es, const char *name) {
    for (size_t i = 0; i < es->n; i++)
        if (!strcmp(es->e[i].name, name)) return &es->e[i];
    fprintf(stderr, "no entry %s\n", name);
    exit(2);
}

/* Read dir/shard, let edit() change the entry list, write it back as a valid safetensors file
 * (fresh offsets, header padded to 8; data copied, zero-padded or cut to the new sizes). */
static void rewrite_shard(const char *dir, const char *shard, void (*edit)(entries *)) {
    char p[4096];
    path_of(p, sizeof p, dir, shard);
    char *buf;
    size_t n;
    CHECK(vs2__read_file(p, 0, &buf, &n, NULL) == VS2_OK);
    entries *es = calloc(1, sizeof *es);
    CHECK(vs2_safetensors_parse(buf, n, shard, collect, es, NULL) == VS2_OK);
    edit(es);
    json_t *h = json_object();
    uint64_t off = 0;
    for (size_t i = 0; i < es->n; i++) {
        entry *e = &es->e[i];
        if (e->drop) continue;
        uint64_t nb = vs2_dtype_size(e->dtype);
        json_t *shape = json_array();
        for (int d = 0; d < e->ndim; d++) {
            json_array_append_new(shape, json_integer(e->shape[d]));
            nb *= (uint64_t)e->shape[d];
        }
        json_object_set_new(h, e->name,
                            json_pack("{s:s,s:o,s:[I,I]}", "dtype", vs2_dtype_name(e->dtype), "shape",
                                      shape, "data_offsets", (json_int_t)off, (json_int_t)(off + nb)));
        off += nb;
        e->newbytes = nb;
    }
    char *hs = json_dumps(h, JSON_COMPACT);
    size_t hl = strlen(hs), hp = (hl + 7) / 8 * 8;
    unsigned char *out = calloc(8 + hp + off + 1, 1);
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)hp >> (8 * i));
    memcpy(out + 8, hs, hl);
    memset(out + 8 + hl, ' ', hp - hl);
    unsigned char *w = out + 8 + hp;
    for (size_t i = 0; i < es->n; i++) {
        entry *e = &es->e[i];
        if (e->drop) continue;
        memcpy(w, e->data, e->nbytes < e->newbytes ? e->nbytes : e->newbytes);
        w += e->newbytes;
    }
    CHECK(write_bytes(p, out, 8 + hp + off));
    free(out);
    free(hs);
    json_decref(h);
    free(es);
    free(buf);
}

/* Open must fail with status want; the message names every word given. */
static void expect_fail(const char *dir, vs2_status want, const char *w1, const char *w2,
                        const char *w3) {
    vs2_model_files *mf = (vs2_model_files *)1;
    vs2_error err;
    vs2_model_files_params p = vs2_model_files_default_params();
    vs2_status s = vs2_model_files_open(dir, &p, &mf, &err);
    CHECK_MSG(s == want, "status %d (%s), want %d: %s", s, vs2_strerror(s), want, err.message);
    CHECK_EQ_INT(err.status, want);
    CHECK(mf == NULL); /* without keep_going nothing is returned */
    if (w1) CHECK_STR_CONTAINS(err.message, w1);
    if (w2) CHECK_STR_CONTAINS(err.message, w2);
    if (w3) CHECK_STR_CONTAINS(err.message, w3);
}

static void edit_text(const char *dir, const char *file, const char *from, const char *to) {
    char p[4096];
    path_of(p, sizeof p, dir, file);
    char *t;
    size_t n;
    CHECK(vs2__read_file(p, 0, &t, &n, NULL) == VS2_OK);
    char *at = strstr(t, from);
    CHECK_MSG(at != NULL, "'%s' not in %s", from, p);
    if (!at) return;
    size_t a = (size_t)(at - t), b = strlen(from), c = strlen(to);
    char *r = malloc(n - b + c + 1);
    memcpy(r, t, a);
    memcpy(r + a, to, c);
    memcpy(r + a + c, at + b, n - a - b);
    CHECK(write_bytes(p, r, n - b + c));
    free(r);
    free(t);
}

static void remove_file(const char *dir, const char *file) {
    char p[4096];
    path_of(p, sizeof p, dir, file);
    CHECK(unlink(p) == 0);
}

/* ---- negative: directory-level files -------------------------------------------------------- */

static void test_missing_files(void) {
    const char *d = clone(ckpt("hub_bf16"), "no_config");
    remove_file(d, "config.json");
    expect_fail(d, VS2_ERR_IO, "config.json", "missing", NULL);

    d = clone(ckpt("hub_bf16"), "no_weights");
    remove_file(d, "model.safetensors");
    expect_fail(d, VS2_ERR_IO, "model.safetensors", NULL, NULL);

    d = clone(ckpt("hub_bf16"), "no_tokenizer");
    remove_file(d, "tokenizer.json");
    expect_fail(d, VS2_ERR_IO, "tokenizer.json", NULL, NULL);

    d = clone(ckpt("hub_bf16"), "no_tokenizer_config");
    remove_file(d, "tokenizer_config.json");
    expect_fail(d, VS2_ERR_IO, "tokenizer_config.json", NULL, NULL);

    char p[4096];
    snprintf(p, sizeof p, "%s/mf-neg/does-not-exist", g_tmp);
    expect_fail(p, VS2_ERR_IO, "does-not-exist", "model directory", NULL);
    snprintf(p, sizeof p, "%s/config.json", ckpt("hub_bf16"));
    expect_fail(p, VS2_ERR_IO, "not a directory", NULL, NULL);
}

static void test_bad_configs(void) {
    const char *d = clone(ckpt("hub_bf16"), "bad_json");
    edit_text(d, "config.json", "{", "{{");
    expect_fail(d, VS2_ERR_FORMAT, "config.json", "invalid JSON", NULL);

    d = clone(ckpt("hub_bf16"), "bad_type");
    edit_text(d, "config.json", "\"hidden_size\": 64", "\"hidden_size\": \"64\"");
    expect_fail(d, VS2_ERR_FORMAT, "config.json", "hidden_size", "integer");

    d = clone(ckpt("hub_bf16"), "bad_generation");
    edit_text(d, "generation_config.json", "\"temperature\": 1e-06", "\"temperature\": \"low\"");
    expect_fail(d, VS2_ERR_FORMAT, "generation_config.json", "temperature", NULL);

    /* Inconsistent config: the error says what; with keep_going, tensor checks are skipped. */
    d = clone(ckpt("hub_bf16"), "bad_mrope");
    edit_text(d, "config.json", "\"mrope_section\": [\n      2,\n      3,\n      3",
              "\"mrope_section\": [\n      2,\n      3,\n      4");
    expect_fail(d, VS2_ERR_MODEL, "config.json", "mrope_section", NULL);
}

/* ---- negative: shards and index ---------------------------------------------------------------- */

static const char *SH1 = "model-00001-of-00002.safetensors", *SH2 = "model-00002-of-00002.safetensors";

static void test_bad_shards(void) {
    const char *d = clone(ckpt("hub_f16_2"), "missing_shard");
    remove_file(d, SH2);
    expect_fail(d, VS2_ERR_IO, SH2, "model.safetensors.index.json", NULL);

    /* Truncated shard: the last tensor's bytes are cut short. */
    char p[4096], q[4096];
    d = clone(ckpt("hub_f16_2"), "truncated_shard");
    path_of(p, sizeof p, ckpt("hub_f16_2"), SH2);
    path_of(q, sizeof q, d, SH2);
    char *buf;
    size_t n;
    CHECK(vs2__read_file(p, 0, &buf, &n, NULL) == VS2_OK);
    CHECK(write_bytes(q, buf, n - 10));
    expect_fail(d, VS2_ERR_FORMAT, SH2, "truncated", NULL);

    /* Header length beyond the file: the file ends inside the header. */
    CHECK(write_bytes(q, buf, 100));
    expect_fail(d, VS2_ERR_FORMAT, SH2, "header length", "truncated");

    /* Empty file. */
    CHECK(write_bytes(q, buf, 0));
    expect_fail(d, VS2_ERR_FORMAT, SH2, "too small", NULL);

    /* Header length above the 100 MB cap. */
    memcpy(buf, "\x00\xe2\xf5\x05\x00\x00\x00\x00", 8); /* 100,000,512 */
    CHECK(write_bytes(q, buf, n));
    expect_fail(d, VS2_ERR_FORMAT, SH2, "limit", NULL);
    free(buf);
}

static void test_bad_index(void) {
    /* Path traversal and absolute shard names are refused before anything is opened. */
    const char *d = clone(ckpt("hub_f16_2"), "index_traversal");
    edit_text(d, "model.safetensors.index.json", "\"model-00001", "\"../model-00001");
    expect_fail(d, VS2_ERR_FORMAT, "model.safetensors.index.json", "../model-00001", NULL);

    d = clone(ckpt("hub_f16_2"), "index_absolute");
    edit_text(d, "model.safetensors.index.json", "\"model-00001-of-00002.safetensors\"",
              "\"/etc/passwd\"");
    expect_fail(d, VS2_ERR_FORMAT, "model.safetensors.index.json", "/etc/passwd", NULL);

    d = clone(ckpt("hub_f16_2"), "index_malformed");
    edit_text(d, "model.safetensors.index.json", "\"weight_map\"", "\"weight_map");
    expect_fail(d, VS2_ERR_FORMAT, "model.safetensors.index.json", "invalid JSON", NULL);

    d = clone(ckpt("hub_f16_2"), "index_no_map");
    edit_text(d, "model.safetensors.index.json", "\"weight_map\"", "\"weights\"");
    expect_fail(d, VS2_ERR_FORMAT, "model.safetensors.index.json", "weight_map", NULL);

    /* The index names a shard that does not hold the tensor. */
    d = clone(ckpt("hub_f16_2"), "index_wrong_shard");
    edit_text(d, "model.safetensors.index.json",
              "\"visual.merger.ln_q.weight\": \"model-00001-of-00002.safetensors\"",
              "\"visual.merger.ln_q.weight\": \"model-00002-of-00002.safetensors\"");
    expect_fail(d, VS2_ERR_FORMAT, "visual.merger.ln_q.weight", "model-00002-of-00002.safetensors",
                NULL);
}

static void drop_ln_q(entries *es) { find_entry(es, "visual.merger.ln_q.weight")->drop = 1; }

static void test_index_vs_shard(void) {
    /* A tensor the index lists is missing from its shard. */
    const char *d = clone(ckpt("hub_f16_2"), "index_lists_missing");
    rewrite_shard(d, SH1, drop_ln_q);
    expect_fail(d, VS2_ERR_FORMAT, "visual.merger.ln_q.weight", SH1, "listed");

    /* A tensor in a shard that the index does not list. */
    d = clone(ckpt("hub_f16_2"), "index_lacks_tensor");
    edit_text(d, "model.safetensors.index.json",
              "\"visual.merger.ln_q.weight\": \"model-00001-of-00002.safetensors\",", "");
    expect_fail(d, VS2_ERR_FORMAT, "visual.merger.ln_q.weight", SH1, "not listed");
}

/* ---- negative: tensors vs the architecture ----------------------------------------------------- */

static void drop_norm(entries *es) { find_entry(es, "model.norm.weight")->drop = 1; }
static void drop_head(entries *es) { find_entry(es, "lm_head.weight")->drop = 1; }
static void shrink_k(entries *es) { find_entry(es, "model.layers.0.self_attn.k_proj.weight")->shape[0] = 16; }
static void norm_i64(entries *es) { find_entry(es, "model.norm.weight")->dtype = VS2_DTYPE_I64; }
static void norm_f64(entries *es) { find_entry(es, "model.norm.weight")->dtype = VS2_DTYPE_F64; }
static void dup_norm(entries *es) {
    es->e[es->n] = *find_entry(es, "model.norm.weight");
    snprintf(es->e[es->n].name, sizeof es->e[0].name, "model.language_model.norm.weight");
    es->n++;
}
static void add_extra(entries *es) {
    es->e[es->n] = *find_entry(es, "model.norm.weight");
    snprintf(es->e[es->n].name, sizeof es->e[0].name, "visual.rotary_pos_emb.inv_freq");
    es->n++;
}
static void three_problems(entries *es) {
    drop_norm(es);
    find_entry(es, "visual.blocks.0.norm1.weight")->drop = 1;
    shrink_k(es);
}

static void test_bad_tensors(void) {
    const char *d = clone(ckpt("hub_bf16"), "missing_tensor");
    rewrite_shard(d, "model.safetensors", drop_norm);
    expect_fail(d, VS2_ERR_MODEL, "model.norm.weight", "missing", "[64]");

    d = clone(ckpt("hub_bf16"), "missing_head");
    rewrite_shard(d, "model.safetensors", drop_head); /* untied: lm_head is required */
    expect_fail(d, VS2_ERR_MODEL, "lm_head.weight", "missing", NULL);

    d = clone(ckpt("hub_bf16"), "wrong_shape");
    rewrite_shard(d, "model.safetensors", shrink_k);
    expect_fail(d, VS2_ERR_MODEL, "model.layers.0.self_attn.k_proj.weight", "model.safetensors",
                "[16, 64]");
    vs2_error err;
    vs2_model_files *mf;
    vs2_model_files_open(d, NULL, &mf, &err);
    CHECK_STR_CONTAINS(err.message, "[32, 64]"); /* expected shape is named too */

    d = clone(ckpt("hub_bf16"), "wrong_dtype");
    rewrite_shard(d, "model.safetensors", norm_i64);
    expect_fail(d, VS2_ERR_MODEL, "model.norm.weight", "I64", "model.safetensors");
    rewrite_shard(d, "model.safetensors", norm_f64);
    expect_fail(d, VS2_ERR_MODEL, "model.norm.weight", "F64", NULL);

    /* The same tensor under both naming schemes. */
    d = clone(ckpt("hub_bf16"), "duplicate");
    rewrite_shard(d, "model.safetensors", dup_norm);
    expect_fail(d, VS2_ERR_FORMAT, "model.language_model.norm.weight", "model.norm.weight",
                "duplicates");
}

typedef struct {
    int warnings;
    char last[512];
} logbook;

static void log_cb(int level, const char *msg, void *user) {
    logbook *b = user;
    if (level == 1) {
        b->warnings++;
        snprintf(b->last, sizeof b->last, "%s", msg);
    }
}

static void test_keep_going_and_extras(void) {
    /* keep_going: all problems are collected, the first status is returned, mf is usable. */
    const char *d = clone(ckpt("hub_bf16"), "three_problems");
    rewrite_shard(d, "model.safetensors", three_problems);
    vs2_model_files_params p = vs2_model_files_default_params();
    p.keep_going = 1;
    vs2_model_files *mf = NULL;
    vs2_error err;
    CHECK_EQ_INT(vs2_model_files_open(d, &p, &mf, &err), VS2_ERR_MODEL);
    CHECK(mf != NULL);
    if (mf) {
        CHECK_EQ_INT(vs2_model_files_n_problems(mf), 3);
        CHECK_STR_CONTAINS(vs2_model_files_problem(mf, 0), "visual.blocks.0.norm1.weight");
        CHECK_STR_CONTAINS(vs2_model_files_problem(mf, 1), "k_proj");
        CHECK_STR_CONTAINS(vs2_model_files_problem(mf, 2), "model.norm.weight");
        CHECK(vs2_model_files_problem(mf, 3) == NULL);
        CHECK_STR_CONTAINS(err.message, "visual.blocks.0.norm1.weight");
        vs2_model_files_close(mf);
    }
    /* check_tensors = 0: the same files open (the header itself is valid). */
    p.keep_going = 0;
    p.check_tensors = 0;
    CHECK_EQ_INT(vs2_model_files_open(d, &p, &mf, &err), VS2_OK);
    vs2_model_files_close(mf);

    /* A tensor the architecture does not use is a warning, not a problem. */
    d = clone(ckpt("hub_bf16"), "extra_tensor");
    rewrite_shard(d, "model.safetensors", add_extra);
    logbook b = {0, ""};
    p = vs2_model_files_default_params();
    p.log = log_cb;
    p.log_user = &b;
    CHECK_EQ_INT(vs2_model_files_open(d, &p, &mf, &err), VS2_OK);
    CHECK_EQ_INT(b.warnings, 1);
    CHECK_STR_CONTAINS(b.last, "visual.rotary_pos_emb.inv_freq");
    vs2_model_files_close(mf);

    /* Bad arguments. */
    CHECK_EQ_INT(vs2_model_files_open(NULL, NULL, &mf, &err), VS2_ERR_INVALID_ARG);
    CHECK_EQ_INT(vs2_model_files_open(d, NULL, NULL, &err), VS2_ERR_INVALID_ARG);
    vs2_model_files_close(NULL);
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "%s", check_env("VS2_TEST_TMP"));
    RUN(test_hub_bf16_single);
    RUN(test_nested_f32_new_names_sharded);
    RUN(test_hub_f16_sharded);
    RUN(test_tied_without_generation_config);
    RUN(test_full_size_shapes);
    RUN(test_missing_files);
    RUN(test_bad_configs);
    RUN(test_bad_shards);
    RUN(test_bad_index);
    RUN(test_index_vs_shard);
    RUN(test_bad_tensors);
    RUN(test_keep_going_and_extras);
    return CHECK_DONE();
}
