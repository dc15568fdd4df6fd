/* model_files.c — open a Hugging Face model directory: configs, tokenizer file presence, and the
 * safetensors weights, mmap'd read-only and never copied.
 *
 * Every problem found is recorded as one message naming the file (and tensor). Without
 * keep_going the first problem ends the open; with it, all are collected (vs2 inspect). */
#include "internal.h"
#include "model_tensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_MAX_BYTES (16u << 20)
#define INDEX_MAX_BYTES (64u << 20)
#define NAME_MAX_BYTES 512

typedef struct {
    char *name;   /* file name inside the directory */
    void *map;    /* read-only private mapping of the whole file; NULL when empty/failed */
    size_t size;
    int ok;       /* header parsed and validated */
} shard;

struct vs2_model_files {
    char *dir;
    vs2_model_files_params params;
    vs2_config cfg;
    int have_cfg;             /* config.json parsed (possibly inconsistent) */
    int cfg_consistent;
    vs2_generation_config gen;
    shard *shards;
    size_t n_shards;
    vs2_tensor *tensors;
    size_t n_tensors, cap_tensors;
    size_t *by_name;          /* tensor indexes sorted by canonical name */
    const char *weights_file; /* model.safetensors or the index: named for missing tensors */
    int weights_incomplete;   /* a weights file failed: missing tensors are not reported */
    char **problems;
    size_t n_problems, cap_problems;
    size_t n_omitted;         /* problems past VS2_MAX_PROBLEMS: counted, not kept */
    vs2_error first;          /* the first problem */
};

/* ---- small helpers ---------------------------------------------------------------------------- */

static void mf_log(const vs2_model_files *mf, int level, const char *fmt, ...) VS2_PRINTF(3, 4);
static void mf_log(const vs2_model_files *mf, int level, const char *fmt, ...) {
    if (!mf->params.log) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mf->params.log(level, msg, mf->params.log_user);
}

/* Record a problem. Returns 1 when the open must stop (not keep_going). */
static int add_problem_err(vs2_model_files *mf, const vs2_error *e) {
    if (mf->first.status == VS2_OK) mf->first = *e;
    /* Capped: a hostile config could otherwise yield millions (12 per missing layer). */
    if (mf->n_problems >= VS2_MAX_PROBLEMS) {
        mf->n_omitted++;
        return !mf->params.keep_going;
    }
    mf_log(mf, 0, "%s", e->message);
    if (mf->n_problems == mf->cap_problems) {
        size_t cap = mf->cap_problems ? mf->cap_problems * 2 : 16;
        char **p = realloc(mf->problems, cap * sizeof *p);
        if (!p) return 1; /* the first problem is kept in mf->first */
        mf->problems = p;
        mf->cap_problems = cap;
    }
    char *m = strdup(e->message);
    if (m) mf->problems[mf->n_problems++] = m;
    return !mf->params.keep_going;
}

static int problem(vs2_model_files *mf, vs2_status st, const char *fmt, ...) VS2_PRINTF(3, 4);
static int problem(vs2_model_files *mf, vs2_status st, const char *fmt, ...) {
    vs2_error e;
    va_list ap;
    va_start(ap, fmt);
    vs2__vfail(&e, st, fmt, ap);
    va_end(ap);
    return add_problem_err(mf, &e);
}

static int stopped(const vs2_model_files *mf) {
    return mf->first.status != VS2_OK && !mf->params.keep_going;
}

static char *join_path(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* Read DIR/name (capped). *exists = 0 when the file is absent. */
static vs2_status read_dir_file(vs2_model_files *mf, const char *name, size_t cap, char **text,
                                size_t *len, int *exists, vs2_error *e) {
    char *path = join_path(mf->dir, name);
    if (!path) return vs2__fail(e, VS2_ERR_NOMEM, "%s/%s: out of memory", mf->dir, name);
    struct stat st;
    *exists = stat(path, &st) == 0 || errno != ENOENT;
    vs2_status s = *exists ? vs2__read_file(path, cap, text, len, e) : VS2_OK;
    if (!*exists) vs2__fail(e, VS2_ERR_IO, "%s: missing", path);
    free(path);
    return s;
}

/* ---- configs and tokenizer files -------------------------------------------------------------- */

static void config_problem(void *user, const vs2_error *e) { add_problem_err(user, e); }

static void load_config(vs2_model_files *mf) {
    char *text;
    size_t len;
    int exists;
    vs2_error e;
    vs2_status s = read_dir_file(mf, "config.json", CONFIG_MAX_BYTES, &text, &len, &exists, &e);
    if (!exists || s != VS2_OK) {
        problem(mf, exists ? s : VS2_ERR_IO, "%s", e.message);
        return;
    }
    char *path = join_path(mf->dir, "config.json");
    s = vs2_config_parse(text, len, path ? path : "config.json", &mf->cfg, &e);
    free(text);
    if (s == VS2_OK || s == VS2_ERR_MODEL) {
        mf->have_cfg = 1; /* parsed; consistency problems are listed one by one */
        mf->cfg_consistent = vs2__config_check(&mf->cfg, path, config_problem, mf) == VS2_OK;
    } else {
        problem(mf, s, "%s", e.message);
    }
    free(path);
}

/* generation_config.json is optional; without it transformers derives bos/eos from config.json. */
static void load_generation(vs2_model_files *mf) {
    vs2_generation_config *g = &mf->gen;
    *g = (vs2_generation_config){.present = 0, .temperature = 1.0, .top_k = 50, .top_p = 1.0,
                                 .repetition_penalty = 1.0, .max_new_tokens = -1,
                                 .bos_token_id = -1, .pad_token_id = -1};
    char *text;
    size_t len;
    int exists;
    vs2_error e;
    vs2_status s = read_dir_file(mf, "generation_config.json", CONFIG_MAX_BYTES, &text, &len,
                                 &exists, &e);
    if (!exists) {
        if (mf->have_cfg) {
            g->bos_token_id = mf->cfg.bos_token_id;
            if (mf->cfg.eos_token_id >= 0) g->eos_token_ids[g->n_eos++] = mf->cfg.eos_token_id;
        }
        mf_log(mf, 2, "%s: no generation_config.json; using transformers defaults", mf->dir);
        return;
    }
    if (s != VS2_OK) {
        problem(mf, s, "%s", e.message);
        return;
    }
    char *path = join_path(mf->dir, "generation_config.json");
    s = vs2_generation_config_parse(text, len, path ? path : "generation_config.json", g, &e);
    free(text);
    free(path);
    if (s != VS2_OK) problem(mf, s, "%s", e.message);
}

/* Tokenizer files: presence and readability only (vs2_tokenizer_load parses them). */
static void check_readable(vs2_model_files *mf, const char *name) {
    char *path = join_path(mf->dir, name);
    if (!path) {
        problem(mf, VS2_ERR_NOMEM, "%s/%s: out of memory", mf->dir, name);
        return;
    }
    vs2_error e;
    int fd = vs2__open_regular(path, &e);
    if (fd < 0) problem(mf, e.status, "%s", e.message);
    else close(fd);
    free(path);
}

/* ---- weights ------------------------------------------------------------------------------------ */

/* Hub-layout name of a stored name: model.visual.* → visual.*, model.language_model.* → model.*. */
static char *canonical_name(const char *stored) {
    static const char vis[] = "model.visual.", lang[] = "model.language_model.";
    if (!strncmp(stored, vis, sizeof vis - 1)) return strdup(stored + 6);
    if (!strncmp(stored, lang, sizeof lang - 1)) {
        size_t n = strlen(stored + sizeof lang - 1);
        char *p = malloc(6 + n + 1);
        if (p) {
            memcpy(p, "model.", 6);
            memcpy(p + 6, stored + sizeof lang - 1, n + 1);
        }
        return p;
    }
    return strdup(stored);
}

typedef struct {
    vs2_model_files *mf;
    size_t shard;
    int nomem;
} visit_ctx;

static void visit_tensor(const vs2_tensor *t, void *user) {
    visit_ctx *v = user;
    vs2_model_files *mf = v->mf;
    if (v->nomem) return;
    if (mf->n_tensors == mf->cap_tensors) {
        size_t cap = mf->cap_tensors ? mf->cap_tensors * 2 : 1024;
        vs2_tensor *p = realloc(mf->tensors, cap * sizeof *p);
        if (!p) {
            v->nomem = 1;
            return;
        }
        mf->tensors = p;
        mf->cap_tensors = cap;
    }
    vs2_tensor c = *t;
    char *stored = strdup(t->stored_name), *name = canonical_name(t->stored_name);
    if (!stored || !name) {
        free(stored);
        free(name);
        v->nomem = 1;
        return;
    }
    c.stored_name = stored;
    c.name = name;
    c.file = mf->shards[v->shard].name;
    mf->tensors[mf->n_tensors++] = c;
}

/* mmap one shard and validate its header; its tensors are appended to mf->tensors. */
static void load_shard(vs2_model_files *mf, size_t i, const char *named_by) {
    shard *sh = &mf->shards[i];
    char *path = join_path(mf->dir, sh->name);
    if (!path) {
        problem(mf, VS2_ERR_NOMEM, "%s: out of memory", sh->name);
        return;
    }
    /* O_NONBLOCK: a FIFO named like a shard is refused below instead of blocking the open. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        problem(mf, VS2_ERR_IO, "%s: cannot open shard%s%s: %s", path, named_by ? " named by " : "",
                named_by ? named_by : "", strerror(errno));
    } else if (fstat(fd, &st) != 0) {
        problem(mf, VS2_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        problem(mf, VS2_ERR_IO, "%s: is %s, not a regular file", path, vs2__file_kind(st.st_mode));
    } else {
        sh->size = (size_t)st.st_size;
        if (sh->size) sh->map = mmap(NULL, sh->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (sh->map == MAP_FAILED) {
            sh->map = NULL;
            problem(mf, VS2_ERR_IO, "%s: cannot mmap %zu bytes: %s", path, sh->size, strerror(errno));
        } else {
            visit_ctx v = {mf, i, 0};
            vs2_error e;
            size_t before = mf->n_tensors;
            vs2_status s = vs2_safetensors_parse(sh->map, sh->size, sh->name, visit_tensor, &v, &e);
            if (s == VS2_OK && v.nomem) s = vs2__fail(&e, VS2_ERR_NOMEM, "%s: out of memory", sh->name);
            if (s != VS2_OK) problem(mf, s, "%s", e.message);
            else sh->ok = 1;
            mf_log(mf, 3, "%s: %zu tensors, %zu bytes", sh->name, mf->n_tensors - before, sh->size);
        }
    }
    if (fd >= 0) close(fd);
    free(path);
}

/* More shards than any real checkpoint has (72B: 38); bounds the linear name lookups below. */
#define MAX_SHARDS 4096

/* 1: added or found; 0: out of memory; -1: more than MAX_SHARDS distinct names. */
static int add_shard(vs2_model_files *mf, const char *name, size_t *index) {
    for (size_t i = 0; i < mf->n_shards; i++)
        if (!strcmp(mf->shards[i].name, name)) {
            *index = i;
            return 1;
        }
    if (mf->n_shards >= MAX_SHARDS) return -1;
    shard *p = realloc(mf->shards, (mf->n_shards + 1) * sizeof *p);
    if (!p) return 0;
    mf->shards = p;
    memset(&p[mf->n_shards], 0, sizeof *p);
    p[mf->n_shards].name = strdup(name);
    if (!p[mf->n_shards].name) return 0;
    *index = mf->n_shards++;
    return 1;
}

/* A shard name must be a plain file name in the directory (no traversal, no absolute path). */
static int shard_name_ok(const char *s) {
    return *s && strlen(s) < NAME_MAX_BYTES && !strchr(s, '/') && !strchr(s, '\\') && !strstr(s, "..");
}

static const char INDEX_NAME[] = "model.safetensors.index.json";

/* Parse the index: returns the weight_map (owned reference in *root) or NULL after a problem. */
static const json_t *load_index(vs2_model_files *mf, const char *text, size_t len, json_t **root) {
    json_error_t jerr;
    *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!*root) {
        problem(mf, VS2_ERR_FORMAT, "%s: invalid JSON at line %d, column %d: %s", INDEX_NAME,
                jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    const json_t *wm = json_is_object(*root) ? json_object_get(*root, "weight_map") : NULL;
    if (!json_is_object(wm)) {
        problem(mf, VS2_ERR_FORMAT, "%s: \"weight_map\" is missing or not an object", INDEX_NAME);
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)wm, k, v) {
        if (!json_is_string(v)) {
            problem(mf, VS2_ERR_FORMAT, "%s: weight_map entry of tensor '%s' is not a string",
                    INDEX_NAME, k);
            return NULL;
        }
        if (!shard_name_ok(json_string_value(v))) {
            problem(mf, VS2_ERR_FORMAT, "%s: tensor '%s': shard name '%.200s' is not a plain file name "
                    "in the model directory", INDEX_NAME, k, json_string_value(v));
            return NULL;
        }
    }
    return wm;
}

/* Every tensor of a shard must be listed for that shard. */
static void check_listed(vs2_model_files *mf, const json_t *wm) {
    for (size_t i = 0; i < mf->n_tensors && !stopped(mf); i++) {
        const vs2_tensor *t = &mf->tensors[i];
        const json_t *v = json_object_get(wm, t->stored_name);
        if (!v)
            problem(mf, VS2_ERR_FORMAT, "%s: tensor '%s' is not listed in %s", t->file, t->stored_name,
                    INDEX_NAME);
        else if (strcmp(json_string_value(v), t->file))
            problem(mf, VS2_ERR_FORMAT, "%s: tensor '%s' is stored here but %s maps it to '%s'",
                    t->file, t->stored_name, INDEX_NAME, json_string_value(v));
    }
}

static const vs2_tensor *find_stored(const vs2_model_files *mf, const char *stored, const char *file) {
    const vs2_tensor *t = NULL;
    char *canon = canonical_name(stored);
    if (canon) t = vs2_model_files_tensor(mf, canon);
    free(canon);
    return t && !strcmp(t->stored_name, stored) && !strcmp(t->file, file) ? t : NULL;
}

/* Every tensor the index lists must be in the shard it names (unless that shard already failed). */
static void check_index_entries(vs2_model_files *mf, const json_t *wm) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)wm, k, v) {
        if (stopped(mf)) return;
        const char *file = json_string_value(v);
        int shard_ok = 0;
        for (size_t i = 0; i < mf->n_shards; i++)
            if (!strcmp(mf->shards[i].name, file)) shard_ok = mf->shards[i].ok;
        if (shard_ok && !find_stored(mf, k, file))
            problem(mf, VS2_ERR_FORMAT, "%s: tensor '%s' is listed for shard '%s' but that shard has "
                    "no such tensor", INDEX_NAME, k, file);
    }
}

/* qsort has no user pointer, so sort (name, index) pairs. */
typedef struct {
    const char *name;
    size_t index;
} name_ref;

static int cmp_ref(const void *a, const void *b) {
    const name_ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->index < y->index ? -1 : x->index > y->index);
}

static int build_name_index(vs2_model_files *mf) {
    size_t n = mf->n_tensors;
    name_ref *refs = malloc((n ? n : 1) * sizeof *refs);
    mf->by_name = malloc((n ? n : 1) * sizeof *mf->by_name);
    if (!refs || !mf->by_name) {
        free(refs);
        return 0;
    }
    for (size_t i = 0; i < n; i++) refs[i] = (name_ref){mf->tensors[i].name, i};
    qsort(refs, n, sizeof *refs, cmp_ref);
    for (size_t i = 0; i < n; i++) mf->by_name[i] = refs[i].index;
    free(refs);
    return 1;
}

/* The same canonical name twice (e.g. under both naming schemes) is ambiguous. */
static void check_duplicates(vs2_model_files *mf) {
    for (size_t i = 1; i < mf->n_tensors && !stopped(mf); i++) {
        const vs2_tensor *a = &mf->tensors[mf->by_name[i - 1]], *b = &mf->tensors[mf->by_name[i]];
        if (!strcmp(a->name, b->name))
            problem(mf, VS2_ERR_FORMAT, "%s: tensor '%s' (canonical '%s') duplicates '%s' in %s",
                    b->file, b->stored_name, b->name, a->stored_name, a->file);
    }
}

static void load_weights(vs2_model_files *mf) {
    char *text;
    size_t len;
    int exists;
    vs2_error e;
    vs2_status s = read_dir_file(mf, INDEX_NAME, INDEX_MAX_BYTES, &text, &len, &exists, &e);
    json_t *root = NULL;
    const json_t *wm = NULL;
    size_t idx;
    mf->weights_file = exists ? INDEX_NAME : "model.safetensors";
    mf->weights_incomplete = 1; /* until every shard has loaded */
    if (exists) {
        if (s != VS2_OK) {
            problem(mf, s, "%s", e.message);
            return;
        }
        wm = load_index(mf, text, len, &root);
        free(text);
        const char *k;
        json_t *v;
        if (wm) json_object_foreach((json_t *)wm, k, v) {
            int added = add_shard(mf, json_string_value(v), &idx);
            if (added < 0) {
                problem(mf, VS2_ERR_FORMAT, "%s: names more than %d shard files", INDEX_NAME, MAX_SHARDS);
                break;
            }
            if (!added) {
                problem(mf, VS2_ERR_NOMEM, "%s: out of memory", INDEX_NAME);
                break;
            }
        }
    } else if (!add_shard(mf, "model.safetensors", &idx)) {
        problem(mf, VS2_ERR_NOMEM, "%s: out of memory", mf->dir);
    }
    int all_ok = !exists || wm != NULL;
    for (size_t i = 0; i < mf->n_shards && !stopped(mf); i++) {
        load_shard(mf, i, wm ? INDEX_NAME : NULL);
        all_ok &= mf->shards[i].ok;
    }
    mf->weights_incomplete = !all_ok;
    if (!stopped(mf) && !build_name_index(mf)) problem(mf, VS2_ERR_NOMEM, "%s: out of memory", mf->dir);
    if (!stopped(mf) && mf->by_name) check_duplicates(mf);
    if (wm && mf->by_name && !stopped(mf)) {
        check_listed(mf, wm);
        check_index_entries(mf, wm);
    }
    json_decref(root);
}

/* ---- architecture check ----------------------------------------------------------------------- */

typedef struct {
    vs2_model_files *mf;
    unsigned char *seen; /* per tensor index: required by the architecture */
} arch_ctx;

static int dtype_ok(vs2_dtype d) {
    return d == VS2_DTYPE_BF16 || d == VS2_DTYPE_F16 || d == VS2_DTYPE_F32;
}

/* Check one required tensor; d holds nd expected dimensions. optional: absence is fine. */
static void expect(arch_ctx *a, const char *name, int optional, int nd, const int64_t *d) {
    vs2_model_files *mf = a->mf;
    if (stopped(mf)) return;
    const vs2_tensor *t = vs2_model_files_tensor(mf, name);
    char want[160], got[160];
    vs2_shape_str(want, sizeof want, nd, d);
    if (!t) {
        /* After a weights file failed, its tensors would all be reported again: skip. */
        if (!optional && !mf->weights_incomplete)
            problem(mf, VS2_ERR_MODEL, "%s/%s: required tensor '%s' %s is missing", mf->dir,
                    mf->weights_file, name, want);
        return;
    }
    a->seen[t - mf->tensors] = 1;
    if (!dtype_ok(t->dtype)) {
        problem(mf, VS2_ERR_MODEL, "%s: tensor '%s': dtype %s is not supported (BF16, F16 or F32)",
                t->file, t->stored_name, vs2_dtype_name(t->dtype));
        return;
    }
    int same = t->ndim == nd;
    for (int i = 0; same && i < nd; i++) same = t->shape[i] == d[i];
    if (!same) {
        vs2_shape_str(got, sizeof got, t->ndim, t->shape);
        problem(mf, VS2_ERR_MODEL, "%s: tensor '%s': shape %s, but config.json implies %s", t->file,
                t->stored_name, got, want);
    }
}

static void expect_entry(arch_ctx *a, const vs2_config *c, const vs2_tensor_spec *s, int k) {
    char name[160];
    int64_t shape[5];
    const int nd = vs2_tensor_shape(s, c, shape);
    vs2_tensor_spec_name(s, s->name, k, name, sizeof name);
    expect(a, name, vs2_tensor_absent(s, c), nd, shape);
    if (!s->bias) return;
    vs2_tensor_spec_name(s, s->bias, k, name, sizeof name);
    expect(a, name, 0, 1, shape);
}

/* Every tensor of the table (model_tensors.c) in checkpoint order: a block's or layer's entries
 * (contiguous in the table) block by block. */
static void expect_all(arch_ctx *a, const vs2_config *c) {
    size_t n;
    const vs2_tensor_spec *T = vs2_model_tensors(&n);
    for (size_t i = 0; i < n && !stopped(a->mf);) {
        size_t j = i + 1;
        while (j < n && T[j].part == T[i].part) j++;
        const int count = vs2_tensor_count(&T[i], c);
        for (int k = 0; k < count && !stopped(a->mf); k++)
            for (size_t e = i; e < j && !stopped(a->mf); e++) expect_entry(a, c, &T[e], k);
        i = j;
    }
}

static void check_architecture(vs2_model_files *mf) {
    if (!mf->have_cfg || !mf->cfg_consistent) {
        mf_log(mf, 1, "%s: tensor checks skipped: config.json is unusable", mf->dir);
        return;
    }
    if (mf->weights_incomplete)
        mf_log(mf, 1, "%s: a weights file could not be read: missing tensors are not listed", mf->dir);
    arch_ctx a = {mf, calloc(mf->n_tensors ? mf->n_tensors : 1, 1)};
    if (!a.seen) {
        problem(mf, VS2_ERR_NOMEM, "%s: out of memory", mf->dir);
        return;
    }
    expect_all(&a, &mf->cfg);
    for (size_t i = 0; i < mf->n_tensors && !stopped(mf); i++)
        if (!a.seen[i])
            mf_log(mf, 1, "%s: tensor '%s' is not used by Qwen2.5-VL (ignored)", mf->tensors[i].file,
                   mf->tensors[i].stored_name);
    free(a.seen);
}

/* ---- public API ------------------------------------------------------------------------------ */

vs2_model_files_params vs2_model_files_default_params(void) {
    vs2_model_files_params p = {.keep_going = 0, .check_tensors = 1, .log = NULL, .log_user = NULL};
    return p;
}

static void open_steps(vs2_model_files *mf) {
    struct stat st;
    if (stat(mf->dir, &st) != 0) {
        problem(mf, VS2_ERR_IO, "%s: cannot open model directory: %s", mf->dir, strerror(errno));
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        problem(mf, VS2_ERR_IO, "%s: not a directory", mf->dir);
        return;
    }
    load_config(mf);
    if (!stopped(mf)) load_generation(mf);
    if (!stopped(mf)) check_readable(mf, "tokenizer.json");
    if (!stopped(mf)) check_readable(mf, "tokenizer_config.json");
    if (!stopped(mf)) load_weights(mf);
    if (!stopped(mf) && mf->params.check_tensors && mf->by_name) check_architecture(mf);
}

vs2_status vs2_model_files_open(const char *dir, const vs2_model_files_params *params,
                                vs2_model_files **out, vs2_error *err) {
    if (!out) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_model_files_open: out is NULL");
    *out = NULL;
    if (!dir || !*dir) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_model_files_open: no directory");
    vs2_model_files *mf = calloc(1, sizeof *mf);
    if (!mf || !(mf->dir = strdup(dir))) {
        free(mf);
        return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", dir);
    }
    mf->params = params ? *params : vs2_model_files_default_params();
    vs2__ok(&mf->first);
    open_steps(mf);
    vs2_status s = mf->first.status;
    if (s == VS2_OK) {
        vs2__ok(err);
    } else if (err) {
        *err = mf->first;
    }
    if (s != VS2_OK && !mf->params.keep_going) {
        vs2_model_files_close(mf);
        return s;
    }
    *out = mf;
    return s;
}

void vs2_model_files_close(vs2_model_files *mf) {
    if (!mf) return;
    for (size_t i = 0; i < mf->n_shards; i++) {
        if (mf->shards[i].map) munmap(mf->shards[i].map, mf->shards[i].size);
        free(mf->shards[i].name);
    }
    for (size_t i = 0; i < mf->n_tensors; i++) {
        free((char *)mf->tensors[i].name);
        free((char *)mf->tensors[i].stored_name);
    }
    for (size_t i = 0; i < mf->n_problems; i++) free(mf->problems[i]);
    free(mf->problems);
    free(mf->tensors);
    free(mf->by_name);
    free(mf->shards);
    free(mf->dir);
    free(mf);
}

const vs2_config *vs2_model_files_config(const vs2_model_files *mf) {
    return mf && mf->have_cfg ? &mf->cfg : NULL;
}

const vs2_generation_config *vs2_model_files_generation_config(const vs2_model_files *mf) {
    return mf ? &mf->gen : NULL;
}

const char *vs2_model_files_dir(const vs2_model_files *mf) { return mf ? mf->dir : NULL; }

size_t vs2_model_files_n_tensors(const vs2_model_files *mf) { return mf ? mf->n_tensors : 0; }

const vs2_tensor *vs2_model_files_tensor_at(const vs2_model_files *mf, size_t i) {
    return mf && i < mf->n_tensors ? &mf->tensors[i] : NULL;
}

const vs2_tensor *vs2_model_files_tensor(const vs2_model_files *mf, const char *name) {
    if (!mf || !name || !mf->by_name) return NULL;
    size_t lo = 0, hi = mf->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(mf->tensors[mf->by_name[mid]].name, name);
        if (c == 0) return &mf->tensors[mf->by_name[mid]];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

size_t vs2_model_files_n_problems(const vs2_model_files *mf) { return mf ? mf->n_problems : 0; }

size_t vs2_model_files_n_problems_omitted(const vs2_model_files *mf) { return mf ? mf->n_omitted : 0; }

const char *vs2_model_files_problem(const vs2_model_files *mf, size_t i) {
    return mf && i < mf->n_problems ? mf->problems[i] : NULL;
}
