/* test_vision.c — the vision tower (src/vision.c, docs/qwen2.5-vl.md §4) on the tiny checkpoints of the
 * vs2_tiny_ckpt fixture ($VS2_TEST_TMP/ckpt): window index against hand-worked cases, window
 * attention against one masked full attention, thread independence, stage dumps, bad input.
 *
 * Second mode, used by tests/t_vision_ref.sh:
 *   test_vision --compare CKPT_DIR REF_DIR [TOL]
 * runs every case of REF_DIR/cases.txt (written by tools/torch_ref/vision_ref.py) and compares
 * each dumped stage with the PyTorch one: max |c - ref| / max |ref| per stage must be <= TOL
 * (default 1e-4). Third mode, for measurements: test_vision --time CKPT T H W [THREADS]. */
#include "check.h"
#include "vision.h"

#include <stdint.h>
#include <time.h>

/* ---- helpers --------------------------------------------------------------------------------- */

static char g_tmp[1024];

static const char *ckpt(const char *name) {
    static char p[4][1200];
    static int k = 0;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/ckpt/%s", g_tmp, name);
    return p[k];
}

static uint32_t rng_state = 2463534242u;
static float frand(void) { /* xorshift32 in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return (float)(rng_state >> 8) / (float)(1u << 23) - 1.0f;
}

typedef struct model {
    vs2_model_files *mf;
    vs2_vision *v;
} model;

static int open_model(const char *dir, model *m) {
    vs2_error err = {0};
    vs2_model_files_params p = vs2_model_files_default_params();
    m->mf = NULL;
    m->v = NULL;
    if (vs2_model_files_open(dir, &p, &m->mf, &err) != VS2_OK) {
        fprintf(stderr, "open %s: %s\n", dir, err.message);
        return 0;
    }
    if (vs2_vision_create(m->mf, &m->v, &err) != VS2_OK) {
        fprintf(stderr, "vision %s: %s\n", dir, err.message);
        vs2_model_files_close(m->mf);
        return 0;
    }
    return 1;
}

static void close_model(model *m) {
    vs2_vision_free(m->v);
    vs2_model_files_close(m->mf);
}

static float *random_pixels(int64_t rows) {
    float *p = malloc((size_t)rows * VS2_PATCH_DIM * sizeof(float));
    for (int64_t i = 0; i < rows * VS2_PATCH_DIM; i++) p[i] = 2.0f * frand() + 0.2f;
    return p;
}

/* max |a - b| / max |b| */
static double rel_err(const float *a, const float *b, int64_t n) {
    double md = 0, mb = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= md)) md = d; /* NaN-propagating */
        if (fabs((double)b[i]) > mb) mb = fabs((double)b[i]);
    }
    return mb > 0 ? md / mb : md;
}

/* ---- 1. window index against hand-worked cases ----------------------------------------------- */

/* The transformers rule (get_window_index): merged grid H'×W' per temporal slice, padded with
 * vm - H' % vm rows and vm - W' % vm columns of -100; windows of vm×vm enumerated row-major per
 * slice; inside a window units row-major, padding dropped; cu gets cumsum(4·#real) per window,
 * then consecutive duplicates (empty windows) are removed. */
static void check_windows(int t, int h, int w, const int64_t *want_idx, int64_t n_idx,
                          const int64_t *want_cu, int64_t n_cu) {
    int64_t idx[512], cu[128];
    int64_t got = vs2_vision_window_index(t, h, w, 2, 4, idx, cu);
    CHECK_EQ_INT(got, n_cu);
    for (int64_t i = 0; i < n_cu && i < got; i++) CHECK_MSG(cu[i] == want_cu[i], "t=%d h=%d w=%d cu[%lld]", t, h, w, (long long)i);
    for (int64_t i = 0; i < n_idx; i++) CHECK_MSG(idx[i] == want_idx[i], "t=%d h=%d w=%d idx[%lld]", t, h, w, (long long)i);
}

static void test_window_index_cases(void) {
    /* docs/qwen2.5-vl.md §4.3 example: gh=8, gw=12 → H'=4, W'=6. Pad W' by 2 → windows (0,0) = cols 0-3
     * of rows 0-3 (16 units, 64 patches), (0,1) = cols 4-5 (8 units → cu 96). H' pads by a whole
     * 4 → an empty window row, dropped. */
    const int64_t a_idx[] = {0, 1, 2, 3, 6, 7, 8, 9, 12, 13, 14, 15, 18, 19, 20, 21,
                             4, 5, 10, 11, 16, 17, 22, 23};
    const int64_t a_cu[] = {0, 64, 96};
    check_windows(1, 8, 12, a_idx, 24, a_cu, 3);

    /* t=2, gh=6, gw=10 → H'=3, W'=5 (ids r·5 + c per slice, +15 for t=1). Windows per slice:
     * rows 0-2 × cols 0-3 (12 units → +48), rows 0-2 × col 4 (3 units → +12). */
    const int64_t b_idx[] = {0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13, 4, 9, 14,
                             15, 16, 17, 18, 20, 21, 22, 23, 25, 26, 27, 28, 19, 24, 29};
    const int64_t b_cu[] = {0, 48, 60, 108, 120};
    check_windows(2, 6, 10, b_idx, 30, b_cu, 5);

    /* gh=16, gw=8 → H'=8, W'=4: both divisible, so transformers pads a whole empty window
     * column and row; windows (0,0) units 0-15, (0,1) empty, (1,0) units 16-31, (1,1), (2,*)
     * empty: raw cu [0,64,64,128,128,128,128] → [0,64,128]; index is the identity. */
    int64_t c_idx[32];
    for (int i = 0; i < 32; i++) c_idx[i] = i;
    const int64_t c_cu[] = {0, 64, 128};
    check_windows(1, 16, 8, c_idx, 32, c_cu, 3);

    /* Smallest grid: one unit, one window of 4 patches per slice; 3 slices. */
    const int64_t d_idx[] = {0, 1, 2};
    const int64_t d_cu[] = {0, 4, 8, 12};
    check_windows(3, 2, 2, d_idx, 3, d_cu, 4);

    /* gh=2, gw=18 → H'=1, W'=9: windows cols 0-3, 4-7, 8 → 4, 4, 1 units. */
    const int64_t e_idx[] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    const int64_t e_cu[] = {0, 16, 32, 36};
    check_windows(1, 2, 18, e_idx, 9, e_cu, 4);
}

/* For many grids: the index is a permutation of the units, the windows tile each temporal slice
 * (cu strictly increasing, a slice boundary is a window boundary, last = N), every window is at
 * most vm×vm units, and the argsort of the index restores raster order. */
static void test_window_index_permutation(void) {
    for (int t = 1; t <= 3; t++)
        for (int h = 2; h <= 22; h += 4)
            for (int w = 2; w <= 26; w += 6) {
                int64_t nu = (int64_t)t * (h / 2) * (w / 2), n = nu * 4;
                int64_t *idx = malloc((size_t)nu * sizeof *idx), *inv = malloc((size_t)nu * sizeof *inv);
                int64_t cu[512];
                int64_t nc = vs2_vision_window_index(t, h, w, 2, 4, idx, cu);
                int ok = nc >= 2 && cu[0] == 0 && cu[nc - 1] == n;
                for (int64_t i = 0; i < nu; i++) inv[i] = -1;
                for (int64_t i = 0; i < nu; i++) {
                    ok &= idx[i] >= 0 && idx[i] < nu && inv[idx[i]] == -1;
                    if (idx[i] >= 0 && idx[i] < nu) inv[idx[i]] = i;
                }
                for (int64_t i = 0; ok && i < nu; i++) ok &= idx[inv[i]] == i;
                for (int64_t k = 1; k < nc; k++) ok &= cu[k] > cu[k - 1] && cu[k] - cu[k - 1] <= 64;
                /* slice boundaries t·h·w appear in cu */
                for (int s = 1; s <= t; s++) {
                    int found = 0;
                    for (int64_t k = 0; k < nc; k++) found |= cu[k] == (int64_t)s * h * w;
                    ok &= found;
                }
                /* a window never mixes slices */
                for (int64_t k = 1; ok && k < nc; k++) {
                    int64_t s0 = idx[cu[k - 1] / 4] / ((h / 2) * (w / 2));
                    for (int64_t u = cu[k - 1] / 4; u < cu[k] / 4; u++) ok &= idx[u] / ((h / 2) * (w / 2)) == s0;
                }
                CHECK_MSG(ok, "grid t=%d h=%d w=%d", t, h, w);
                free(idx);
                free(inv);
            }
}

/* ---- 2. window attention = masked full attention; thread independence ------------------------ */

/* Tolerance 1e-5 relative: both paths compute the same dot products in the same order; the
 * masked softmax only adds exact zeros (exp(-inf)) to the sum, so they should even agree bit for
 * bit, but nothing in the formulation promises that (a compiler may vectorise the two loops
 * differently); fp32 rounding through 4 blocks stays far below 1e-5. */
static void check_masked(const char *name, int t, int h, int w) {
    model m;
    if (!open_model(ckpt(name), &m)) {
        CHECK_MSG(0, "cannot open %s", name);
        return;
    }
    const vs2_config *c = vs2_model_files_config(m.mf);
    int64_t rows = (int64_t)t * h * w, nout = vs2_vision_out_rows(m.v, t, h, w);
    float *pix = random_pixels(rows);
    float *a = malloc((size_t)(nout * c->vision.out_hidden_size) * sizeof(float));
    float *b = malloc((size_t)(nout * c->vision.out_hidden_size) * sizeof(float));
    vs2_run run = {.threads = 2};
    vs2_error err = {0};
    CHECK(vs2_vision_forward(m.v, pix, t, h, w, a, &run, &err) == VS2_OK);
    vs2_vision_set_masked_attention(m.v, 1);
    CHECK(vs2_vision_forward(m.v, pix, t, h, w, b, &run, &err) == VS2_OK);
    vs2_vision_set_masked_attention(m.v, 0);
    double e = rel_err(a, b, nout * c->vision.out_hidden_size);
    printf("masked vs windowed %s t=%d h=%d w=%d: max rel err %.3g\n", name, t, h, w, e);
    CHECK_MSG(e <= 1e-5, "%s: %g", name, e);
    /* not trivially equal: the output is not constant */
    int varied = 0;
    for (int64_t i = 1; i < nout * c->vision.out_hidden_size; i++) varied |= a[i] != a[0];
    CHECK(varied);
    free(pix);
    free(a);
    free(b);
    close_model(&m);
}

static void test_masked_equals_windowed(void) {
    check_masked("hub_bf16", 2, 6, 10);  /* merged 3×5: windows cut at column 4; two slices */
    check_masked("hub_bf16", 1, 16, 8);  /* merged 8×4: divisible, empty padded windows */
    check_masked("nested_f32_new", 3, 10, 18); /* merged 5×9, three slices, f32 weights */
    check_masked("hub_f16_2", 2, 12, 20);      /* merged 6×10, f16 weights, 2 shards */
}

/* Bit-identical for 1, 2 and 3 threads: every output element is produced by one work item with
 * a fixed arithmetic order (linear tiles fixed in size; attention items are whole
 * (segment, head) pairs). */
static void test_thread_independence(void) {
    model m;
    if (!open_model(ckpt("hub_bf16"), &m)) {
        CHECK(0);
        return;
    }
    const int t = 2, h = 10, w = 14;
    int64_t rows = (int64_t)t * h * w, n = vs2_vision_out_rows(m.v, t, h, w) * 64;
    float *pix = random_pixels(rows);
    float *o[3];
    for (int k = 0; k < 3; k++) {
        o[k] = malloc((size_t)n * sizeof(float));
        vs2_run run = {.threads = k + 1};
        vs2_error err = {0};
        CHECK(vs2_vision_forward(m.v, pix, t, h, w, o[k], &run, &err) == VS2_OK);
    }
    CHECK(memcmp(o[0], o[1], (size_t)n * sizeof(float)) == 0);
    CHECK(memcmp(o[0], o[2], (size_t)n * sizeof(float)) == 0);
    /* run == NULL is one thread, no dumps */
    vs2_error err = {0};
    CHECK(vs2_vision_forward(m.v, pix, t, h, w, o[1], NULL, &err) == VS2_OK);
    CHECK(memcmp(o[0], o[1], (size_t)n * sizeof(float)) == 0);
    for (int k = 0; k < 3; k++) free(o[k]);
    free(pix);
    close_model(&m);
}

/* ---- 3. dumps ---------------------------------------------------------------------------------- */

typedef struct dump_log {
    char names[16][40];
    int64_t rows[16], cols[16];
    int n;
    const float *last_out;
} dump_log;

static void log_dump(void *user, const char *stage, const float *x, int64_t rows, int64_t cols) {
    dump_log *d = user;
    if (d->n < 16) {
        snprintf(d->names[d->n], sizeof d->names[d->n], "%s", stage);
        d->rows[d->n] = rows;
        d->cols[d->n] = cols;
        d->n++;
    }
    if (!strcmp(stage, "vision.out")) d->last_out = x;
}

static void test_dumps(void) {
    model m;
    if (!open_model(ckpt("hub_bf16"), &m)) {
        CHECK(0);
        return;
    }
    float *pix = random_pixels(2 * 4 * 6);
    float out[12 * 64];
    dump_log d = {0};
    vs2_run run = {.threads = 1, .dump = log_dump, .dump_user = &d};
    vs2_error err = {0};
    CHECK(vs2_vision_forward(m.v, pix, 2, 4, 6, out, &run, &err) == VS2_OK);
    const char *want[] = {"vision.patch_embed", "vision.window_index", "vision.block.0",
                          "vision.block.1", "vision.block.2", "vision.block.3", "vision.merger",
                          "vision.out"};
    const int64_t wr[] = {48, 12, 48, 48, 48, 48, 12, 12}, wc[] = {32, 1, 32, 32, 32, 32, 64, 64};
    CHECK_EQ_INT(d.n, 8);
    for (int i = 0; i < 8 && i < d.n; i++) {
        CHECK_MSG(!strcmp(d.names[i], want[i]), "dump %d: %s", i, d.names[i]);
        CHECK_EQ_INT(d.rows[i], wr[i]);
        CHECK_EQ_INT(d.cols[i], wc[i]);
    }
    CHECK(d.last_out == out);
    free(pix);
    close_model(&m);
}

/* ---- 4. bad input -------------------------------------------------------------------------------- */

static void test_bad_input(void) {
    model m;
    if (!open_model(ckpt("hub_bf16"), &m)) {
        CHECK(0);
        return;
    }
    float pix[VS2_PATCH_DIM * 8], out[64 * 2];
    for (int i = 0; i < VS2_PATCH_DIM * 8; i++) pix[i] = frand();
    vs2_error err = {0};
    vs2_run run = {.threads = 2};
    /* odd h, odd w, zero and negative dims */
    CHECK(vs2_vision_forward(m.v, pix, 1, 3, 2, out, &run, &err) == VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "multiples of the merge size");
    CHECK(vs2_vision_forward(m.v, pix, 1, 2, 5, out, &run, &err) == VS2_ERR_INVALID_ARG);
    CHECK(vs2_vision_forward(m.v, pix, 0, 2, 2, out, &run, &err) == VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "must be positive");
    CHECK(vs2_vision_forward(m.v, pix, 1, 0, 2, out, &run, &err) == VS2_ERR_INVALID_ARG);
    CHECK(vs2_vision_forward(m.v, pix, 1, 2, -2, out, &run, &err) == VS2_ERR_INVALID_ARG);
    /* absurdly large grids are refused before any allocation */
    CHECK(vs2_vision_forward(m.v, pix, 1 << 30, 1 << 30, 1 << 30, out, &run, &err) == VS2_ERR_UNSUPPORTED);
    CHECK(vs2_vision_forward(m.v, pix, 2, 4096, 4096, out, &run, &err) == VS2_ERR_UNSUPPORTED);
    CHECK(vs2_vision_forward(m.v, NULL, 1, 2, 2, out, &run, &err) == VS2_ERR_INVALID_ARG);
    CHECK(vs2_vision_forward(m.v, pix, 1, 2, 2, NULL, &run, &err) == VS2_ERR_INVALID_ARG);
    /* pixel rows that do not match the grid */
    CHECK(vs2_vision_check_grid(m.v, 7, 2, 2, 2, &err) == VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "7 pixel rows");
    CHECK_STR_CONTAINS(err.message, "needs 8");
    CHECK(vs2_vision_check_grid(m.v, 8, 2, 2, 2, &err) == VS2_OK);
    CHECK(vs2_vision_check_grid(NULL, 8, 2, 2, 2, &err) == VS2_ERR_INVALID_ARG);
    CHECK_EQ_INT(vs2_vision_out_rows(m.v, 2, 2, 2), 2);
    CHECK_EQ_INT(vs2_vision_out_rows(m.v, 2, 3, 2), 0);
    /* a valid call still works after the failures */
    CHECK(vs2_vision_forward(m.v, pix, 2, 2, 2, out, &run, &err) == VS2_OK);
    /* the masked test path refuses long sequences instead of allocating N² */
    vs2_vision_set_masked_attention(m.v, 1);
    float *big = random_pixels(2 * 64 * 66);
    float *bo = malloc((size_t)(2 * 64 * 66 / 4 * 64) * sizeof(float));
    CHECK(vs2_vision_forward(m.v, big, 2, 64, 66, bo, &run, &err) == VS2_ERR_UNSUPPORTED);
    free(big);
    free(bo);
    close_model(&m);
    /* create: NULL arguments */
    vs2_vision *v = (vs2_vision *)&err;
    CHECK(vs2_vision_create(NULL, &v, &err) == VS2_ERR_INVALID_ARG);
    CHECK(v == NULL);
    CHECK(vs2_vision_create(NULL, NULL, &err) == VS2_ERR_INVALID_ARG);
    vs2_vision_free(NULL);
}

/* The real geometry (hidden 1280, 16 heads of 80, 32 blocks, merger 5120 → 3584) from the
 * "full" fixture checkpoint (zero-filled sparse files): create checks every shape and a small
 * grid runs through all 32 blocks without materialising a weight matrix. All weights are zero,
 * so the output must be exactly zero. */
static void test_full_geometry(void) {
    model m;
    if (!open_model(ckpt("full"), &m)) {
        CHECK_MSG(0, "cannot open the full-geometry checkpoint");
        return;
    }
    const vs2_config *c = vs2_model_files_config(m.mf);
    CHECK_EQ_INT(c->vision.hidden_size, 1280);
    float *pix = random_pixels(16);
    float *out = malloc((size_t)(4 * 3584) * sizeof(float));
    vs2_run run = {.threads = 2};
    vs2_error err = {0};
    CHECK(vs2_vision_forward(m.v, pix, 1, 4, 4, out, &run, &err) == VS2_OK);
    int zero = 1;
    for (int i = 0; i < 4 * 3584; i++) zero &= out[i] == 0.0f;
    CHECK(zero);
    free(pix);
    free(out);
    close_model(&m);
}

/* ---- the PyTorch comparison mode --------------------------------------------------------------- */

/* Besides each stage itself, each block's increment (block i minus its input) is compared:
 * with small random weights the residual stream is dominated by the patch embedding, so the
 * states alone would hide an error in a block's attention or MLP branch. */
typedef struct cmp_ctx {
    const char *ref_dir, *case_name;
    double tol, worst;
    int failures, stages;
    float *prev_c, *prev_r; /* previous residual state (window order), vs2 and reference */
    float *pe_c, *pe_r;     /* patch embedding (processor order) */
    int64_t rows, cols;
} cmp_ctx;

static void cmp_reset(cmp_ctx *c) {
    free(c->prev_c);
    free(c->prev_r);
    free(c->pe_c);
    free(c->pe_r);
    c->prev_c = c->prev_r = c->pe_c = c->pe_r = NULL;
}

static float *copy_f32(const float *x, int64_t n) {
    float *p = malloc((size_t)n * sizeof(float));
    memcpy(p, x, (size_t)n * sizeof(float));
    return p;
}

static void cmp_increment(cmp_ctx *c, const char *s, const float *x, const float *ref) {
    int64_t n = c->rows * c->cols;
    float *dc = malloc((size_t)n * sizeof(float)), *dr = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        dc[i] = x[i] - c->prev_c[i];
        dr[i] = ref[i] - c->prev_r[i];
    }
    double e = rel_err(dc, dr, n);
    int ok = e <= c->tol;
    printf("%s %-20s increment           max rel err %.3g%s\n", c->case_name, s, e, ok ? "" : "  FAIL");
    if (!ok) c->failures++;
    if (e > c->worst) c->worst = e;
    free(dc);
    free(dr);
}

static float *read_f32(const char *path, int64_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    float *p = malloc((size_t)n * sizeof(float));
    size_t got = fread(p, sizeof(float), (size_t)n, f);
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != (size_t)n || extra) {
        fprintf(stderr, "%s: expected %lld floats\n", path, (long long)n);
        free(p);
        return NULL;
    }
    return p;
}

static void cmp_dump(void *user, const char *stage, const float *x, int64_t rows, int64_t cols) {
    cmp_ctx *c = user;
    const char *s = strncmp(stage, "vision.", 7) == 0 ? stage + 7 : stage;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s.%s.f32", c->ref_dir, c->case_name, s);
    float *ref = read_f32(path, rows * cols);
    if (!ref) {
        fprintf(stderr, "FAIL %s %s: no usable reference %s\n", c->case_name, stage, path);
        c->failures++;
        return;
    }
    double e = rel_err(x, ref, rows * cols);
    int ok = e <= c->tol;
    printf("%s %-20s %6lld x %-5lld max rel err %.3g%s\n", c->case_name, s, (long long)rows,
           (long long)cols, e, ok ? "" : "  FAIL");
    if (!ok) c->failures++;
    if (strcmp(s, "window_index") != 0 && e > c->worst) c->worst = e;
    c->stages++;
    if (!strcmp(s, "patch_embed")) {
        cmp_reset(c);
        c->pe_c = copy_f32(x, rows * cols);
        c->pe_r = copy_f32(ref, rows * cols);
        c->rows = rows;
        c->cols = cols;
    } else if (!strcmp(s, "window_index") && c->pe_c && rows * 4 == c->rows) {
        /* the input of block 0: the patch embedding regrouped by the (vs2) window index */
        c->prev_c = malloc((size_t)(c->rows * c->cols) * sizeof(float));
        c->prev_r = malloc((size_t)(c->rows * c->cols) * sizeof(float));
        const int64_t u = 4 * c->cols;
        for (int64_t k = 0; k < rows; k++) {
            int64_t src = (int64_t)x[k];
            if (src < 0 || src >= rows) src = 0;
            memcpy(c->prev_c + k * u, c->pe_c + src * u, (size_t)u * sizeof(float));
            memcpy(c->prev_r + k * u, c->pe_r + src * u, (size_t)u * sizeof(float));
        }
    } else if (!strncmp(s, "block.", 6) && c->prev_c && rows == c->rows && cols == c->cols) {
        cmp_increment(c, s, x, ref);
        memcpy(c->prev_c, x, (size_t)(rows * cols) * sizeof(float));
        memcpy(c->prev_r, ref, (size_t)(rows * cols) * sizeof(float));
    }
    free(ref);
}

static int compare_mode(const char *ckpt_dir, const char *ref_dir, double tol) {
    model m;
    if (!open_model(ckpt_dir, &m)) return 1;
    const vs2_config *c = vs2_model_files_config(m.mf);
    char path[2048];
    snprintf(path, sizeof path, "%s/cases.txt", ref_dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        close_model(&m);
        return 1;
    }
    char name[256];
    int t, h, w, ncases = 0;
    long long rows;
    cmp_ctx cc = {.ref_dir = ref_dir, .tol = tol};
    while (fscanf(f, "%255s %d %d %d %lld", name, &t, &h, &w, &rows) == 5) {
        snprintf(path, sizeof path, "%s/%s.pixels.f32", ref_dir, name);
        float *pix = read_f32(path, rows * VS2_PATCH_DIM);
        int64_t nout = vs2_vision_out_rows(m.v, t, h, w);
        if (!pix || nout == 0) {
            fprintf(stderr, "FAIL %s: bad case\n", name);
            cc.failures++;
            free(pix);
            continue;
        }
        float *out = malloc((size_t)(nout * c->vision.out_hidden_size) * sizeof(float));
        int before = cc.stages;
        cc.case_name = name;
        vs2_run run = {.threads = 2, .dump = cmp_dump, .dump_user = &cc};
        vs2_error err = {0};
        if (vs2_vision_forward(m.v, pix, t, h, w, out, &run, &err) != VS2_OK) {
            fprintf(stderr, "FAIL %s: %s\n", name, err.message);
            cc.failures++;
        }
        if (cc.stages - before != c->vision.depth + 4) {
            fprintf(stderr, "FAIL %s: %d stages compared\n", name, cc.stages - before);
            cc.failures++;
        }
        free(out);
        free(pix);
        ncases++;
    }
    fclose(f);
    cmp_reset(&cc);
    close_model(&m);
    printf("%d cases, %d stages, worst max rel err %.3g (tolerance %.3g), %d failures\n", ncases,
           cc.stages, cc.worst, tol, cc.failures);
    return cc.failures || ncases == 0 ? 1 : 0;
}

/* ---- timing mode: test_vision --time CKPT T H W [THREADS] ----------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void time_dump(void *user, const char *stage, const float *x, int64_t rows, int64_t cols) {
    double *last = user;
    double t = now_s();
    (void)x;
    printf("  %-20s %6lld x %-5lld %8.3f s\n", stage, (long long)rows, (long long)cols, t - *last);
    *last = t;
}

static int time_mode(const char *dir, int t, int h, int w, int threads) {
    model m;
    if (!open_model(dir, &m)) return 1;
    int64_t rows = (int64_t)t * h * w, nout = vs2_vision_out_rows(m.v, t, h, w);
    float *pix = nout ? random_pixels(rows) : NULL;
    float *out = nout ? malloc((size_t)(nout * vs2_model_files_config(m.mf)->vision.out_hidden_size) * sizeof(float)) : NULL;
    double last = now_s(), t0 = last;
    vs2_run run = {.threads = threads, .dump = time_dump, .dump_user = &last};
    vs2_error err = {0};
    vs2_status st = vs2_vision_forward(m.v, pix, t, h, w, out, &run, &err);
    if (st != VS2_OK) fprintf(stderr, "%s\n", err.message);
    else printf("vision forward t=%d h=%d w=%d (%lld patches), %d threads: %.3f s\n", t, h, w,
                (long long)rows, threads, now_s() - t0);
    free(pix);
    free(out);
    close_model(&m);
    return st != VS2_OK;
}

int main(int argc, char **argv) {
    if (argc >= 4 && !strcmp(argv[1], "--compare"))
        return compare_mode(argv[2], argv[3], argc >= 5 ? atof(argv[4]) : 1e-4);
    if (argc >= 6 && !strcmp(argv[1], "--time"))
        return time_mode(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), argc >= 7 ? atoi(argv[6]) : 2);
    snprintf(g_tmp, sizeof g_tmp, "%s", check_env("VS2_TEST_TMP"));
    RUN(test_window_index_cases);
    RUN(test_window_index_permutation);
    RUN(test_masked_equals_windowed);
    RUN(test_thread_independence);
    RUN(test_dumps);
    RUN(test_bad_input);
    RUN(test_full_geometry);
    return CHECK_DONE();
}
