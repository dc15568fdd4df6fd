/* test_llm.c — the language model's fp32 reference path on the tiny checkpoints of the test
 * fixture (2 layers, hidden 64, 4 heads / 2 kv heads of 16, mrope_section [2, 3, 3], vocab 152064).
 *
 * Self-consistency: KV-cache decoding and chunked prefill equal one full recomputation; logits
 * do not depend on the thread count; the rope_delta rule of decoding (§5.5) equals the positions
 * get_rope_index gives the extended sequence; the lm_head (untied and tied) is the one used;
 * bad input gives a clear error and leaves the cache usable.
 *
 * Also the C side of t_llm_ref.sh (comparison with tools/torch_ref/llm_ref.py):
 *   test_llm --ref-prepare CKPT DIR T H W   write ids.i32, video.f32, meta.txt
 *   test_llm --ref-compare CKPT DIR         run vs2, compare positions and every stage */
#include "check.h"
#include "internal.h"
#include "llm.h"

#include <stdint.h>

static char ckpt_dir[1024];

static const char *ckpt(const char *name) {
    snprintf(ckpt_dir, sizeof ckpt_dir, "%s/test-tmp/ckpt/%s", check_env("VS2_BUILD_DIR"), name);
    return ckpt_dir;
}

/* A loaded tiny model. */
typedef struct model {
    vs2_model_files *mf;
    vs2_llm *llm;
    const vs2_config *cfg;
    int D, V;
} model;

static int open_model(const char *name, model *m) {
    memset(m, 0, sizeof *m);
    vs2_error err;
    vs2_model_files_params p = vs2_model_files_default_params();
    if (vs2_model_files_open(ckpt(name), &p, &m->mf, &err) != VS2_OK) {
        fprintf(stderr, "%s: %s\n", name, err.message);
        return 0;
    }
    if (vs2_llm_create(m->mf, &m->llm, &err) != VS2_OK) {
        fprintf(stderr, "%s: %s\n", name, err.message);
        vs2_model_files_close(m->mf);
        return 0;
    }
    m->cfg = vs2_model_files_config(m->mf);
    m->D = m->cfg->hidden_size;
    m->V = vs2_llm_vocab(m->llm);
    return 1;
}

static void close_model(model *m) {
    vs2_llm_free(m->llm);
    vs2_model_files_close(m->mf);
}

/* Deterministic pseudo-random floats in [-a, a). */
static void fill_random(float *x, int64_t n, uint64_t seed, float a) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = a * ((float)(s >> 40) / (float)(1 << 24) * 2.0f - 1.0f);
    }
}

/* A prompt with one video: system-ish text, <|vision_start|>, t·(h/2)·(w/2) pads,
 * <|vision_end|>, text, and the generation prompt; returns n. */
static int64_t video_prompt(int32_t *ids, int t, int h, int w) {
    static const int32_t head[] = {151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13,
                                   151645, 198, 151644, 872, 198, 151652};
    static const int32_t tail[] = {151653, 74785, 419, 2766, 13, 151645, 198, 151644, 77091, 198};
    int64_t n = 0;
    for (size_t i = 0; i < sizeof head / sizeof *head; i++) ids[n++] = head[i];
    for (int i = 0; i < t * (h / 2) * (w / 2); i++) ids[n++] = 151656;
    for (size_t i = 0; i < sizeof tail / sizeof *tail; i++) ids[n++] = tail[i];
    return n;
}

/* max |a − b| / max |b|: the error relative to the scale of the reference rows. */
static double rel_err(const float *a, const float *b, int64_t n) {
    double md = 0, mb = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (isnan(d)) return INFINITY;
        if (d > md) md = d;
        if (fabs((double)b[i]) > mb) mb = fabs((double)b[i]);
    }
    return mb > 0 ? md / mb : md;
}

static int64_t count_video(const int32_t *ids, int64_t n) {
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) c += ids[i] == 151656;
    return c;
}

/* Positions of the rows [a, b) of a [3][n] array, as a contiguous [3][b − a] array. */
static void slice_pos(const int64_t *pos, int64_t n, int64_t a, int64_t b, int64_t *out) {
    for (int ax = 0; ax < 3; ax++)
        for (int64_t i = a; i < b; i++) out[ax * (b - a) + (i - a)] = pos[ax * n + i];
}

/* A forward of rows [a, b) of the sequence on kv (video rows picked by counting pads). */
static vs2_status fwd(const model *m, vs2_kv_cache *kv, const int32_t *ids, int64_t n, const float *video,
                      const int64_t *pos, int64_t a, int64_t b, float *logits, int64_t n_logits, int threads,
                      vs2_error *err) {
    int64_t p[3 * 512];
    slice_pos(pos, n, a, b, p);
    int64_t v0 = count_video(ids, a), nv = count_video(ids + a, b - a);
    vs2_run run = {.threads = threads};
    return vs2_llm_forward(m->llm, kv, ids + a, b - a, nv ? video + v0 * m->D : NULL, nv, p, logits, n_logits, &run,
                           err);
}

/* KV-cache decoding and chunked prefill against one full recomputation. In this implementation
 * every row is computed by the same operations in the same order whatever the chunking, so the
 * agreement is exact; the tolerance (1e-5 of the row scale) leaves room for faster kernels
 * whose summation order depends on the number of rows. */
static void test_kv_cache(void) {
    model m;
    if (!open_model("hub_bf16", &m)) {
        CHECK(0);
        return;
    }
    int32_t ids[512];
    const int64_t n = video_prompt(ids, 2, 6, 10); /* 2 × 3 × 5 = 30 video tokens */
    const int64_t nv = count_video(ids, n), D = m.D, V = m.V;
    float *video = malloc((size_t)(nv * D) * sizeof(float));
    fill_random(video, nv * D, 7, 0.1f);
    vs2_grid g = {2, 6, 10, 1.0};
    int64_t pos[3 * 512], delta;
    vs2_error err;
    CHECK_EQ_INT(vs2_rope_index(m.cfg, ids, n, &g, 1, pos, &delta, &err), VS2_OK);

    float *full = malloc((size_t)(n * V) * sizeof(float)), *row = malloc((size_t)V * sizeof(float));
    vs2_kv_cache *kv = NULL;
    CHECK_EQ_INT(vs2_kv_cache_create(m.llm, n + 8, &kv, &err), VS2_OK);
    CHECK_EQ_INT(fwd(&m, kv, ids, n, video, pos, 0, n, full, n, 2, &err), VS2_OK);
    CHECK_EQ_INT(vs2_kv_cache_len(kv), n);

    /* Prefill P tokens (P inside the trailing text), then decode one token at a time with the
     * positions of the full run. */
    const int64_t P = n - 7;
    double worst = 0;
    vs2_kv_cache_truncate(kv, 0);
    CHECK_EQ_INT(fwd(&m, kv, ids, n, video, pos, 0, P, row, 1, 2, &err), VS2_OK);
    double e = rel_err(row, full + (P - 1) * V, V);
    worst = e > worst ? e : worst;
    for (int64_t i = P; i < n; i++) {
        CHECK_EQ_INT(fwd(&m, kv, ids, n, video, pos, i, i + 1, row, 1, 1, &err), VS2_OK);
        e = rel_err(row, full + i * V, V);
        worst = e > worst ? e : worst;
    }
    CHECK_MSG(worst <= 1e-5, "decode vs full: max relative error %.3g", worst);
    CHECK_EQ_INT(vs2_kv_cache_len(kv), n);

    /* Two-chunk prefill, split inside the video (so the second chunk's video rows start in the
     * middle of video_embeds), then the last rows. */
    const int64_t S = 15 + 11;
    vs2_kv_cache_truncate(kv, 0);
    CHECK_EQ_INT(fwd(&m, kv, ids, n, video, pos, 0, S, row, 1, 2, &err), VS2_OK);
    e = rel_err(row, full + (S - 1) * V, V);
    CHECK_MSG(e <= 1e-5, "chunk 1: %.3g", e);
    float *two = malloc((size_t)(2 * V) * sizeof(float));
    CHECK_EQ_INT(fwd(&m, kv, ids, n, video, pos, S, n, two, 2, 2, &err), VS2_OK);
    e = rel_err(two, full + (n - 2) * V, 2 * V);
    CHECK_MSG(e <= 1e-5, "two-chunk prefill vs one: %.3g", e);

    /* Truncation then re-decoding reproduces the same rows. */
    vs2_kv_cache_truncate(kv, n - 3);
    CHECK_EQ_INT(vs2_kv_cache_len(kv), n - 3);
    CHECK_EQ_INT(fwd(&m, kv, ids, n, video, pos, n - 3, n, two, 2, 1, &err), VS2_OK);
    e = rel_err(two, full + (n - 2) * V, 2 * V);
    CHECK_MSG(e <= 1e-5, "re-decoding after truncate: %.3g", e);

    vs2_kv_cache_free(kv);
    free(two);
    free(full);
    free(row);
    free(video);
    close_model(&m);
}

/* Decoding positions (§5.5): generated tokens at cache index c get c + rope_delta on all three
 * axes. Check that this equals get_rope_index of the extended sequence and that decoding with
 * it matches one full forward of prompt + generated tokens (same 1e-5 reasoning as above). */
static void test_decode_positions(void) {
    model m;
    if (!open_model("hub_bf16", &m)) {
        CHECK(0);
        return;
    }
    int32_t ids[512];
    const int64_t n = video_prompt(ids, 3, 4, 6), gen = 5; /* 3 × 2 × 3 = 18 video tokens */
    const int64_t nv = count_video(ids, n), D = m.D, V = m.V, N = n + gen;
    for (int64_t i = 0; i < gen; i++) ids[n + i] = (int32_t)(1000 + 37 * i);
    float *video = malloc((size_t)(nv * D) * sizeof(float));
    fill_random(video, nv * D, 11, 0.1f);
    vs2_grid g = {3, 4, 6, 1.0};
    int64_t pos[3 * 512], posN[3 * 512], delta, deltaN;
    vs2_error err;
    CHECK_EQ_INT(vs2_rope_index(m.cfg, ids, n, &g, 1, pos, &delta, &err), VS2_OK);
    CHECK_EQ_INT(vs2_rope_index(m.cfg, ids, N, &g, 1, posN, &deltaN, &err), VS2_OK);
    CHECK_EQ_INT(delta, deltaN);
    for (int64_t c = n; c < N; c++)
        for (int a = 0; a < 3; a++) CHECK_EQ_INT(posN[a * N + c], c + delta);

    float *full = malloc((size_t)(N * V) * sizeof(float)), *row = malloc((size_t)V * sizeof(float));
    vs2_kv_cache *kv = NULL;
    CHECK_EQ_INT(vs2_kv_cache_create(m.llm, N, &kv, &err), VS2_OK);
    CHECK_EQ_INT(fwd(&m, kv, ids, N, video, posN, 0, N, full, N, 2, &err), VS2_OK);
    vs2_kv_cache_truncate(kv, 0);
    CHECK_EQ_INT(fwd(&m, kv, ids, n, video, pos, 0, n, row, 1, 2, &err), VS2_OK);
    double worst = rel_err(row, full + (n - 1) * V, V);
    for (int64_t c = n; c < N; c++) {
        int64_t p3[3] = {c + delta, c + delta, c + delta};
        vs2_run run = {.threads = 2};
        CHECK_EQ_INT(vs2_llm_forward(m.llm, kv, ids + c, 1, NULL, 0, p3, row, 1, &run, &err), VS2_OK);
        double e = rel_err(row, full + c * V, V);
        worst = e > worst ? e : worst;
    }
    CHECK_MSG(worst <= 1e-5, "decode with c + rope_delta vs full: %.3g", worst);
    /* The cache is now full: one more token overflows, with a clear error. */
    int64_t p3[3] = {N + delta, N + delta, N + delta};
    CHECK_EQ_INT(vs2_llm_forward(m.llm, kv, ids, 1, NULL, 0, p3, row, 1, NULL, &err), VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "KV cache overflow");
    CHECK_EQ_INT(vs2_kv_cache_len(kv), N);
    vs2_kv_cache_free(kv);
    free(full);
    free(row);
    free(video);
    close_model(&m);
}

/* Threads 1, 2 and 3 give bit-identical logits: every output value is computed by one thread
 * in a fixed order (no tolerance). */
static void test_threads(void) {
    const char *names[] = {"hub_bf16", "nested_f32_new", "hub_f16_2", "nested_bf16_tied"};
    for (int c = 0; c < 4; c++) {
        model m;
        if (!open_model(names[c], &m)) {
            CHECK_MSG(0, "%s", names[c]);
            continue;
        }
        int32_t ids[512];
        const int64_t n = video_prompt(ids, 2, 6, 10), nv = count_video(ids, n), V = m.V;
        float *video = malloc((size_t)(nv * m.D) * sizeof(float));
        fill_random(video, nv * m.D, 3, 0.1f);
        vs2_grid g = {2, 6, 10, 1.0};
        int64_t pos[3 * 512], delta;
        CHECK_EQ_INT(vs2_rope_index(m.cfg, ids, n, &g, 1, pos, &delta, NULL), VS2_OK);
        float *out[3];
        for (int t = 0; t < 3; t++) {
            out[t] = malloc((size_t)(4 * V) * sizeof(float));
            vs2_kv_cache *kv = NULL;
            vs2_error err;
            CHECK_EQ_INT(vs2_kv_cache_create(m.llm, n, &kv, &err), VS2_OK);
            CHECK_EQ_INT(fwd(&m, kv, ids, n, video, pos, 0, n, out[t], 4, t + 1, &err), VS2_OK);
            vs2_kv_cache_free(kv);
        }
        int finite = 1;
        for (int64_t i = 0; i < 4 * V; i++) finite &= isfinite(out[0][i]) != 0;
        CHECK_MSG(finite, "%s: non-finite logits", names[c]);
        CHECK_MSG(!memcmp(out[0], out[1], (size_t)(4 * V) * sizeof(float)), "%s: threads 1 vs 2", names[c]);
        CHECK_MSG(!memcmp(out[0], out[2], (size_t)(4 * V) * sizeof(float)), "%s: threads 1 vs 3", names[c]);
        for (int t = 0; t < 3; t++) free(out[t]);
        free(video);
        close_model(&m);
    }
}

/* Dump stages and the lm_head wiring: logits = norm rows · lm_headᵀ, with lm_head.weight when
 * untied and embed_tokens when tied. Checked in double on a few vocabulary rows; tolerance
 * 1e-5 of the logit scale (fp32 sums of 64 terms vs double). */
typedef struct dumps {
    int count;
    char names[8][32];
    int64_t rows[8], cols[8];
    float *norm;
} dumps;

static void on_dump(void *user, const char *stage, const float *x, int64_t rows, int64_t cols) {
    dumps *d = user;
    if (d->count < 8) {
        snprintf(d->names[d->count], sizeof d->names[0], "%s", stage);
        d->rows[d->count] = rows;
        d->cols[d->count] = cols;
        d->count++;
    }
    if (!strcmp(stage, "llm.norm")) {
        free(d->norm);
        d->norm = malloc((size_t)(rows * cols) * sizeof(float));
        memcpy(d->norm, x, (size_t)(rows * cols) * sizeof(float));
    }
}

static void check_head(const char *name, const char *head_tensor) {
    model m;
    if (!open_model(name, &m)) {
        CHECK_MSG(0, "%s", name);
        return;
    }
    const int32_t ids[6] = {151644, 872, 198, 1000, 2000, 151645};
    int64_t pos[18];
    for (int i = 0; i < 18; i++) pos[i] = i % 6;
    dumps d = {0};
    vs2_run run = {.threads = 2, .dump = on_dump, .dump_user = &d};
    float *logits = malloc((size_t)(2 * m.V) * sizeof(float));
    vs2_kv_cache *kv = NULL;
    vs2_error err;
    CHECK_EQ_INT(vs2_kv_cache_create(m.llm, 6, &kv, &err), VS2_OK);
    CHECK_EQ_INT(vs2_llm_forward(m.llm, kv, ids, 6, NULL, 0, pos, logits, 2, &run, &err), VS2_OK);
    CHECK_EQ_INT(d.count, 2 + m.cfg->num_hidden_layers);
    CHECK(!strcmp(d.names[0], "llm.embed") && !strcmp(d.names[1], "llm.layer.0") &&
          !strcmp(d.names[d.count - 1], "llm.norm"));
    for (int i = 0; i < d.count; i++) CHECK(d.rows[i] == 6 && d.cols[i] == m.D);
    const vs2_tensor *w = vs2_model_files_tensor(m.mf, head_tensor);
    CHECK(w != NULL);
    if (w && d.norm) {
        float *wr = malloc((size_t)m.D * sizeof(float));
        double worst = 0, scale = 0;
        const int32_t rows[] = {0, 198, 77091, 151645, 152063};
        for (int r = 0; r < 2; r++)
            for (size_t k = 0; k < sizeof rows / sizeof *rows; k++) {
                vs2k_widen(w, (int64_t)rows[k] * m.D, m.D, wr);
                double s = 0;
                for (int j = 0; j < m.D; j++) s += (double)d.norm[(4 + r) * m.D + j] * wr[j];
                double e = fabs(s - logits[(int64_t)r * m.V + rows[k]]);
                worst = e > worst ? e : worst;
                scale = fabs(s) > scale ? fabs(s) : scale;
            }
        CHECK_MSG(worst <= 1e-5 * scale, "%s: logits vs norm · %s: %.3g (scale %.3g)", name, head_tensor, worst,
                  scale);
        free(wr);
    }
    free(d.norm);
    free(logits);
    vs2_kv_cache_free(kv);
    close_model(&m);
}

static void test_head_and_dumps(void) {
    check_head("hub_bf16", "lm_head.weight");
    check_head("nested_bf16_tied", "model.embed_tokens.weight");
}

/* Video rows replace the <|video_pad|> embeddings: the embed dump holds them verbatim. */
static void test_video_injection(void) {
    model m;
    if (!open_model("nested_f32_new", &m)) {
        CHECK(0);
        return;
    }
    int32_t ids[512];
    const int64_t n = video_prompt(ids, 1, 2, 4), nv = count_video(ids, n); /* 2 video tokens */
    float *video = malloc((size_t)(nv * m.D) * sizeof(float));
    fill_random(video, nv * m.D, 5, 0.1f);
    int64_t pos[3 * 512], delta;
    vs2_grid g = {1, 2, 4, 1.0};
    CHECK_EQ_INT(vs2_rope_index(m.cfg, ids, n, &g, 1, pos, &delta, NULL), VS2_OK);
    dumps d = {0};
    vs2_run run = {.threads = 1, .dump = on_dump, .dump_user = &d};
    vs2_kv_cache *kv = NULL;
    CHECK_EQ_INT(vs2_kv_cache_create(m.llm, n, &kv, NULL), VS2_OK);
    CHECK_EQ_INT(vs2_llm_forward(m.llm, kv, ids, n, video, nv, pos, NULL, 0, &run, NULL), VS2_OK);
    /* Compare the final norm of a pad row with a run where the video rows are swapped: rows
     * 15 and 16 must swap too (no other row before them is affected). */
    float *a = d.norm;
    d.norm = NULL;
    float *swapped = malloc((size_t)(nv * m.D) * sizeof(float));
    memcpy(swapped, video + m.D, (size_t)m.D * sizeof(float));
    memcpy(swapped + m.D, video, (size_t)m.D * sizeof(float));
    vs2_kv_cache_truncate(kv, 0);
    CHECK_EQ_INT(vs2_llm_forward(m.llm, kv, ids, n, swapped, nv, pos, NULL, 0, &run, NULL), VS2_OK);
    CHECK(a && d.norm);
    if (a && d.norm) {
        CHECK(!memcmp(a, d.norm, (size_t)(15 * m.D) * sizeof(float)));
        CHECK(memcmp(a + 15 * m.D, d.norm + 15 * m.D, (size_t)m.D * sizeof(float)) != 0);
    }
    free(a);
    free(d.norm);
    free(swapped);
    free(video);
    vs2_kv_cache_free(kv);
    close_model(&m);
}

/* Bad input: a clear error, no crash, the cache left as it was and still usable. */
static void test_bad_input(void) {
    model m;
    if (!open_model("hub_bf16", &m)) {
        CHECK(0);
        return;
    }
    int32_t ids[512];
    const int64_t n = video_prompt(ids, 1, 2, 4), nv = count_video(ids, n);
    float *video = malloc((size_t)(nv * m.D) * sizeof(float));
    fill_random(video, nv * m.D, 5, 0.1f);
    int64_t pos[3 * 512], delta;
    vs2_grid g = {1, 2, 4, 1.0};
    CHECK_EQ_INT(vs2_rope_index(m.cfg, ids, n, &g, 1, pos, &delta, NULL), VS2_OK);
    float *logits = malloc((size_t)m.V * sizeof(float));
    vs2_kv_cache *kv = NULL;
    vs2_error err;
    CHECK_EQ_INT(vs2_kv_cache_create(m.llm, n, &kv, &err), VS2_OK);

    /* n_video not matching the pads; pads with no video rows */
    CHECK_EQ_INT(vs2_llm_forward(m.llm, kv, ids, n, video, nv - 1, pos, logits, 1, NULL, &err), VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "<|video_pad|>");
    CHECK_EQ_INT(vs2_llm_forward(m.llm, kv, ids, n, NULL, nv, pos, logits, 1, NULL, &err), VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "NULL");
    /* ids outside the vocabulary */
    int32_t bad_id[2] = {5, 152064};
    int64_t p2[6] = {0, 1, 0, 1, 0, 1};
    CHECK_EQ_INT(vs2_llm_forward(m.llm, kv, bad_id, 2, NULL, 0, p2, logits, 1, NULL, &err), VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "vocabulary");
    bad_id[1] = -1;
    CHECK_EQ_INT(vs2_llm_forward(m.llm, kv, bad_id, 2, NULL, 0, p2, logits, 1, NULL, &err), VS2_ERR_INVALID_ARG);
    /* positions out of range (negative, or not exact in fp32) */
    int32_t two[2] = {5, 6};
    int64_t pneg[6] = {0, 1, 0, -1, 0, 1}, pbig[6] = {0, 1, 0, 1, 0, INT64_C(1) << 30};
    CHECK_EQ_INT(vs2_llm_forward(m.llm, kv, two, 2, NULL, 0, pneg, logits, 1, NULL, &err), VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "position");
    CHECK_EQ_INT(vs2_llm_forward(m.llm, kv, two, 2, NULL, 0, pbig, logits, 1, NULL, &err), VS2_ERR_INVALID_ARG);
    /* n_logits beyond n; empty input; NULL pos */
    CHECK_EQ_INT(vs2_llm_forward(m.llm, kv, two, 2, NULL, 0, p2, logits, 3, NULL, &err), VS2_ERR_INVALID_ARG);
    CHECK_EQ_INT(vs2_llm_forward(m.llm, kv, two, 0, NULL, 0, p2, logits, 0, NULL, &err), VS2_ERR_INVALID_ARG);
    CHECK_EQ_INT(vs2_llm_forward(m.llm, kv, two, 2, NULL, 0, NULL, logits, 1, NULL, &err), VS2_ERR_INVALID_ARG);
    /* cache overflow: n + 1 tokens into a cache of n */
    int64_t pos1[3 * 512];
    for (int64_t i = 0; i < 3 * (n + 1); i++) pos1[i] = i % (n + 1);
    int32_t ids1[512];
    for (int64_t i = 0; i <= n; i++) ids1[i] = 100;
    CHECK_EQ_INT(vs2_llm_forward(m.llm, kv, ids1, n + 1, NULL, 0, pos1, logits, 1, NULL, &err), VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "KV cache overflow");
    /* caches of no or absurd size */
    CHECK_EQ_INT(vs2_kv_cache_create(m.llm, 0, &(vs2_kv_cache *){NULL}, &err), VS2_ERR_INVALID_ARG);
    CHECK_EQ_INT(vs2_kv_cache_create(m.llm, INT64_MAX / 2, &(vs2_kv_cache *){NULL}, &err), VS2_ERR_INVALID_ARG);

    /* Nothing was cached by the failures; a valid call still works. */
    CHECK_EQ_INT(vs2_kv_cache_len(kv), 0);
    CHECK_EQ_INT(vs2_llm_forward(m.llm, kv, ids, n, video, nv, pos, logits, 1, NULL, &err), VS2_OK);
    CHECK_EQ_INT(vs2_kv_cache_len(kv), n);
    CHECK_EQ_INT(vs2_kv_cache_capacity(kv), n);
    vs2_kv_cache_free(kv);
    free(logits);
    free(video);
    close_model(&m);
}

/* ---------------------------------------------------------------------------------------- */
/* t_llm_ref.sh driver                                                                       */
/* ---------------------------------------------------------------------------------------- */

static int write_file(const char *dir, const char *name, const void *data, size_t bytes) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, bytes, f) != bytes) {
        fprintf(stderr, "%s: cannot write\n", path);
        if (f) fclose(f);
        return 0;
    }
    return fclose(f) == 0;
}

static void *read_file(const char *dir, const char *name, size_t *bytes) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *data = NULL;
    size_t len = 0;
    vs2_error err;
    if (vs2__read_file(path, 0, &data, &len, &err) != VS2_OK) {
        fprintf(stderr, "%s\n", err.message);
        return NULL;
    }
    *bytes = len;
    return data;
}

/* The real chat prompt (T-EVAL text through the checkpoint's tokenizer) with a t × h × w video. */
static int ref_prepare(const char *dir_ckpt, const char *dir, int t, int h, int w) {
    vs2_tokenizer *tok = NULL;
    vs2_error err;
    if (vs2_tokenizer_load(dir_ckpt, &tok, &err) != VS2_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    char *user = vs2_prompt_render(VS2_TEMPLATE_EVAL, "a red fox runs through fresh snow at dawn");
    vs2_ids ids = {0};
    const int64_t nv = (int64_t)t * (h / 2) * (w / 2);
    vs2_status st = vs2_chat_video_ids(tok, user, (size_t)nv, &ids, &err);
    free(user);
    vs2_tokenizer_free(tok);
    if (st != VS2_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    vs2_model_files *mf = NULL;
    vs2_model_files_params p = vs2_model_files_default_params();
    if (vs2_model_files_open(dir_ckpt, &p, &mf, &err) != VS2_OK) {
        fprintf(stderr, "%s\n", err.message);
        vs2_ids_free(&ids);
        return 1;
    }
    const int64_t D = vs2_model_files_config(mf)->hidden_size;
    vs2_model_files_close(mf);
    float *video = malloc((size_t)(nv * D) * sizeof(float));
    fill_random(video, nv * D, 2024, 0.1f);
    char meta[256];
    int ml = snprintf(meta, sizeof meta, "grid %d %d %d 1.0\nn_logits 16\n", t, h, w);
    int ok = write_file(dir, "ids.i32", ids.ids, ids.n * sizeof(int32_t)) &&
             write_file(dir, "video.f32", video, (size_t)(nv * D) * sizeof(float)) &&
             write_file(dir, "meta.txt", meta, (size_t)ml);
    printf("ref-prepare: %zu tokens, %lld video tokens (grid %d %d %d)\n", ids.n, (long long)nv, t, h, w);
    free(video);
    vs2_ids_free(&ids);
    return ok ? 0 : 1;
}

typedef struct ref_cmp {
    const char *dir;
    double tol, worst;
    int fails, stages;
} ref_cmp;

/* Compares a dumped stage with the reference file <stage without "llm.">.f32. */
static void ref_dump(void *user, const char *stage, const float *x, int64_t rows, int64_t cols) {
    ref_cmp *c = user;
    char name[64];
    snprintf(name, sizeof name, "%s.f32", stage + 4);
    size_t bytes = 0;
    float *ref = read_file(c->dir, name, &bytes);
    if (!ref || bytes != (size_t)(rows * cols) * sizeof(float)) {
        fprintf(stderr, "%s: missing or %zu bytes, expected %lld\n", name, bytes, (long long)(rows * cols * 4));
        c->fails++;
    } else {
        double e = rel_err(x, ref, rows * cols);
        printf("  %-14s max rel err %.3g\n", stage, e);
        if (!(e <= c->tol)) c->fails++;
        c->worst = e > c->worst ? e : c->worst;
    }
    c->stages++;
    free(ref);
}

/* Tolerance 1e-4 of each stage's scale: both sides are fp32 with different summation orders
 * (torch's BLAS vs 16-lane partial sums), over 2 layers; measured errors are ~1e-6. */
static int ref_compare(const char *dir_ckpt, const char *dir) {
    model m;
    memset(&m, 0, sizeof m);
    vs2_error err;
    vs2_model_files_params p = vs2_model_files_default_params();
    if (vs2_model_files_open(dir_ckpt, &p, &m.mf, &err) != VS2_OK || vs2_llm_create(m.mf, &m.llm, &err) != VS2_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    m.cfg = vs2_model_files_config(m.mf);
    m.D = m.cfg->hidden_size;
    m.V = vs2_llm_vocab(m.llm);
    size_t bid = 0, bvid = 0, bpos = 0, bmeta = 0, blog = 0, binv = 0;
    int32_t *ids = read_file(dir, "ids.i32", &bid);
    float *video = read_file(dir, "video.f32", &bvid);
    int64_t *rpos = read_file(dir, "pos.i64", &bpos);
    char *meta = read_file(dir, "meta.txt", &bmeta), *rd = read_file(dir, "rope_delta.txt", &blog);
    float *rinv = read_file(dir, "inv_freq.f32", &binv);
    int fails = 0;
    if (!ids || !video || !rpos || !meta || !rd || !rinv) return 1;
    const int64_t n = (int64_t)(bid / 4), nv = (int64_t)(bvid / 4) / m.D;
    vs2_grid g = {0, 0, 0, 1.0};
    int n_logits = 0;
    if (sscanf(meta, "grid %d %d %d %lf n_logits %d", &g.t, &g.h, &g.w, &g.second_per_grid_t, &n_logits) != 5)
        return 1;

    /* inv_freq and positions: exact. */
    float *inv = malloc((size_t)m.cfg->head_dim / 2 * sizeof(float));
    vs2_rope_inv_freq(m.cfg->head_dim, m.cfg->rope_theta, inv);
    /* inv_freq: within 1 ulp of torch's (vs2's pow is correctly rounded, torch's SLEEF pow not
     * always; see rope.c). */
    int inv_off = binv != (size_t)m.cfg->head_dim / 2 * 4;
    for (int f = 0; !inv_off && f < m.cfg->head_dim / 2; f++) {
        uint32_t a, b;
        memcpy(&a, &inv[f], 4);
        memcpy(&b, &rinv[f], 4);
        inv_off += (a > b ? a - b : b - a) > 1;
    }
    if (inv_off) {
        fprintf(stderr, "inv_freq differs from torch by more than 1 ulp\n");
        fails++;
    }
    int64_t *pos = malloc((size_t)(3 * n) * sizeof(int64_t)), delta = 0;
    if (vs2_rope_index(m.cfg, ids, n, &g, 1, pos, &delta, &err) != VS2_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    if (bpos != (size_t)(3 * n) * 8 || memcmp(pos, rpos, bpos) || delta != atoll(rd)) {
        fprintf(stderr, "positions or rope_delta (%lld vs %s) differ from the reference\n", (long long)delta, rd);
        fails++;
    }
    printf("  positions     exact (%lld tokens, rope_delta %lld)\n", (long long)n, (long long)delta);

    ref_cmp c = {dir, 1e-4, 0, 0, 0};
    vs2_run run = {.threads = 2, .dump = ref_dump, .dump_user = &c};
    vs2_kv_cache *kv = NULL;
    float *logits = malloc((size_t)n_logits * (size_t)m.V * sizeof(float));
    if (vs2_kv_cache_create(m.llm, n, &kv, &err) != VS2_OK ||
        vs2_llm_forward(m.llm, kv, ids, n, video, nv, pos, logits, n_logits, &run, &err) != VS2_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    if (c.stages != m.cfg->num_hidden_layers + 2) fails++;
    size_t bl = 0;
    float *rlog = read_file(dir, "logits.f32", &bl);
    if (!rlog || bl != (size_t)n_logits * (size_t)m.V * 4) {
        fails++;
    } else {
        double e = rel_err(logits, rlog, (int64_t)n_logits * m.V);
        printf("  %-14s max rel err %.3g (%d rows)\n", "logits", e, n_logits);
        if (!(e <= 1e-4)) fails++;
    }
    fails += c.fails;
    printf("ref-compare %s: %d stages, worst hidden-state error %.3g, %s\n", dir_ckpt, c.stages, c.worst,
           fails ? "FAIL" : "ok");
    free(rlog);
    free(logits);
    vs2_kv_cache_free(kv);
    free(inv);
    free(pos);
    free(ids);
    free(video);
    free(rpos);
    free(meta);
    free(rd);
    free(rinv);
    close_model(&m);
    return fails ? 1 : 0;
}

/* Batched decoding equals separate single-token decodes exactly, for the reference set and the
 * fastest int8 set: 3 sequences with different prompts (different cache lengths) each take 5
 * steps in one vs2_llm_decode_batch call per step, against the same steps taken one sequence
 * at a time. Every row's arithmetic is independent of the other rows (llm.h), so the logits are
 * compared for equality; bad batches are refused. */
static void test_decode_batch(void) {
    model m;
    if (!open_model("hub_bf16", &m)) {
        CHECK(0);
        return;
    }
    vs2_error err;
    const vs2_kernels *sets[2] = {&vs2k_ref, NULL};
    CHECK_EQ_INT(vs2k_select("q8", &sets[1], &err), VS2_OK);
    for (int k = 0; k < 2; k++) {
        vs2_llm *llm = NULL;
        const vs2_prep prep = {sets[k], NULL, NULL};
        CHECK_EQ_INT(vs2_llm_create_k(m.mf, &prep, &llm, &err), VS2_OK);
        if (!llm) break;
        enum { B = 3, STEPS = 5 };
        vs2_kv_cache *a[B], *b[B];
        float *la = malloc((size_t)B * m.V * sizeof(float)), *lb = malloc((size_t)B * m.V * sizeof(float));
        vs2_run run = {.threads = 2};
        for (int s = 0; s < B; s++) {
            int32_t ids[8];
            int64_t n = 3 + 2 * s, pos[24];
            for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)(100 + 37 * s + i), pos[i] = pos[n + i] = pos[2 * n + i] = i;
            CHECK_EQ_INT(vs2_kv_cache_create(llm, 32, &a[s], &err), VS2_OK);
            CHECK_EQ_INT(vs2_kv_cache_create(llm, 32, &b[s], &err), VS2_OK);
            CHECK_EQ_INT(vs2_llm_forward(llm, a[s], ids, n, NULL, 0, pos, NULL, 0, &run, &err), VS2_OK);
            CHECK_EQ_INT(vs2_llm_forward(llm, b[s], ids, n, NULL, 0, pos, NULL, 0, &run, &err), VS2_OK);
        }
        int same = 1;
        for (int step = 0; step < STEPS; step++) {
            int32_t ids[B];
            int64_t pos[3 * B];
            for (int s = 0; s < B; s++) {
                ids[s] = (int32_t)(500 + 11 * step + s);
                pos[s] = pos[B + s] = pos[2 * B + s] = vs2_kv_cache_len(a[s]);
            }
            CHECK_EQ_INT(vs2_llm_decode_batch(llm, a, B, ids, pos, la, &run, &err), VS2_OK);
            for (int s = 0; s < B; s++) {
                int64_t p1[3] = {pos[s], pos[s], pos[s]};
                CHECK_EQ_INT(vs2_llm_forward(llm, b[s], &ids[s], 1, NULL, 0, p1, lb + (size_t)s * m.V, 1, &run, &err),
                             VS2_OK);
            }
            same &= !memcmp(la, lb, (size_t)B * m.V * sizeof(float));
        }
        CHECK_MSG(same, "%s: batched decoding differs from separate decodes", sets[k]->name);
        /* Refusals: a cache twice, a video pad id. */
        vs2_kv_cache *dup[2] = {a[0], a[0]};
        int32_t ids2[2] = {5, 6}, pad = 151656;
        int64_t pos2[6] = {9, 9, 9, 9, 9, 9};
        CHECK_EQ_INT(vs2_llm_decode_batch(llm, dup, 2, ids2, pos2, la, &run, &err), VS2_ERR_INVALID_ARG);
        CHECK_STR_CONTAINS(err.message, "the same");
        CHECK_EQ_INT(vs2_llm_decode_batch(llm, a, 1, &pad, pos2, la, &run, &err), VS2_ERR_INVALID_ARG);
        for (int s = 0; s < B; s++) {
            vs2_kv_cache_free(a[s]);
            vs2_kv_cache_free(b[s]);
        }
        free(la);
        free(lb);
        vs2_llm_free(llm);
    }
    close_model(&m);
}

int main(int argc, char **argv) {
    if (argc == 7 && !strcmp(argv[1], "--ref-prepare"))
        return ref_prepare(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
    if (argc == 4 && !strcmp(argv[1], "--ref-compare")) return ref_compare(argv[2], argv[3]);
    RUN(test_kv_cache);
    RUN(test_decode_positions);
    RUN(test_threads);
    RUN(test_head_and_dumps);
    RUN(test_video_injection);
    RUN(test_bad_input);
    RUN(test_decode_batch);
    return CHECK_DONE();
}
