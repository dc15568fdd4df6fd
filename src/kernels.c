/* kernels.c — the portable fp32 reference kernels (see kernels.h).
 *
 * vs2k_linear is the one that matters for time: each thread takes a tile of weight rows,
 * widens it to fp32 once into a small private buffer (so bf16 weights are read from the mmap
 * exactly once per call), and reuses it for every input row. Dot products use 16 independent
 * partial sums so the compiler can vectorise them without reassociating a single sum. */
#include "kernels.h"

#include <math.h>
#include <stdlib.h>


#define LANES 16
/* Widened weight tile per thread: at most this many floats (256 KiB, well inside L2). */
#define TILE_FLOATS (64 * 1024)

void vs2k_dump(const vs2_run *run, const char *stage, const float *x, int64_t rows, int64_t cols) {
    if (run && run->stage) run->stage(run->stage_user, stage);
    if (run && run->dump) run->dump(run->dump_user, stage, x, rows, cols);
}

float vs2k_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | (man << 13); /* inf / nan */
    } else if (exp != 0) {
        u = sign | ((exp + 112) << 23) | (man << 13); /* normal: rebias 15 -> 127 */
    } else if (man == 0) {
        u = sign; /* zero */
    } else {      /* subnormal: value = man · 2^-24, exactly representable in fp32 */
        float f = ldexpf((float)man, -24);
        return sign ? -f : f;
    }
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

void vs2k_widen(const vs2_tensor *t, int64_t start, int64_t n, float *out) {
    const unsigned char *base = t->data;
    switch (t->dtype) {
    case VS2_DTYPE_F32:
        memcpy(out, base + start * 4, (size_t)n * 4);
        break;
    case VS2_DTYPE_BF16: {
        const uint16_t *p = (const uint16_t *)base + start;
        for (int64_t i = 0; i < n; i++) out[i] = vs2k_bf16_to_f32(p[i]);
        break;
    }
    case VS2_DTYPE_F16: {
        const uint16_t *p = (const uint16_t *)base + start;
        for (int64_t i = 0; i < n; i++) out[i] = vs2k_f16_to_f32(p[i]);
        break;
    }
    default: /* model_files rejects every other dtype for tensors the model uses */
        memset(out, 0, (size_t)n * sizeof *out);
        break;
    }
}

/* Four dot products of length K sharing one weight row: out[r] = x_r · w. */
static void dot4(const float *x0, const float *x1, const float *x2, const float *x3,
                 const float *w, int64_t K, float out[4]) {
    float a0[LANES] = {0}, a1[LANES] = {0}, a2[LANES] = {0}, a3[LANES] = {0};
    int64_t k = 0;
    for (; k + LANES <= K; k += LANES)
        for (int j = 0; j < LANES; j++) {
            float wv = w[k + j];
            a0[j] += x0[k + j] * wv;
            a1[j] += x1[k + j] * wv;
            a2[j] += x2[k + j] * wv;
            a3[j] += x3[k + j] * wv;
        }
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int j = 0; j < LANES; j++) {
        s0 += a0[j];
        s1 += a1[j];
        s2 += a2[j];
        s3 += a3[j];
    }
    for (; k < K; k++) {
        s0 += x0[k] * w[k];
        s1 += x1[k] * w[k];
        s2 += x2[k] * w[k];
        s3 += x3[k] * w[k];
    }
    out[0] = s0;
    out[1] = s1;
    out[2] = s2;
    out[3] = s3;
}

/* y[:, n0:n0+nb] for all M rows from a widened tile wt[nb×K] and bias bt[nb] (or NULL). */
static void linear_tile(const float *x, int64_t M, int64_t K, const float *wt, const float *bt,
                        int64_t n0, int64_t nb, int64_t N, float *y) {
    for (int64_t m = 0; m < M; m += 4) {
        /* Rows past M repeat the last row; their results are discarded. */
        const float *xr[4];
        for (int r = 0; r < 4; r++) xr[r] = x + (m + r < M ? m + r : M - 1) * K;
        for (int64_t j = 0; j < nb; j++) {
            float d[4];
            dot4(xr[0], xr[1], xr[2], xr[3], wt + j * K, K, d);
            for (int r = 0; r < 4 && m + r < M; r++)
                y[(m + r) * N + n0 + j] = d[r] + (bt ? bt[j] : 0.0f);
        }
    }
}

/* Reference-set tiling: nb weight rows per tile, so a widened tile fits in TILE_FLOATS. */
static int64_t ref_tile_rows(int64_t K) {
    int64_t nb = TILE_FLOATS / (K > 0 ? K : 1);
    return nb < 4 ? 4 : nb > 64 ? 64 : nb;
}

size_t vs2k_ref_linear_scratch(int64_t K, int threads) {
    return (size_t)(threads > 0 ? threads : 1) * (size_t)(ref_tile_rows(K) * K) * sizeof(float);
}

typedef struct ref_job {
    const float *x;
    int64_t M, K, N, nb;
    const vs2_weight *w;
    float *y, *tiles;
} ref_job;

static void ref_task(void *ctx, int64_t t, int thread) {
    const ref_job *j = ctx;
    float *wt = j->tiles + (size_t)thread * (size_t)(j->nb * j->K);
    int64_t n0 = t * j->nb, cnt = j->N - n0 < j->nb ? j->N - n0 : j->nb;
    vs2k_widen(j->w->t, n0 * j->K, cnt * j->K, wt);
    linear_tile(j->x, j->M, j->K, wt, j->w->bias ? j->w->bias + n0 : NULL, n0, cnt, j->N, j->y);
}

void vs2k_ref_linear(const float *x, int64_t M, const vs2_weight *w, float *y, void *scratch,
                     vs2_pool *pool) {
    ref_job j = {x, M, w->K, w->N, ref_tile_rows(w->K), w, y, scratch};
    vs2_pool_for(pool, (j.N + j.nb - 1) / j.nb, ref_task, &j);
}

vs2_status vs2k_linear(const float *x, int64_t M, int64_t K, const vs2_tensor *w,
                       const vs2_tensor *b, float *y, const vs2_run *run) {
    const int threads = run && run->threads > 0 ? run->threads : 1;
    vs2_pool *pool = run ? run->pool : NULL, *own = NULL;
    if (!pool && threads > 1 && vs2_pool_create(threads, &own) == VS2_OK) pool = own;
    vs2_weight wv = {.format = VS2_WF_STORED, .N = w->shape[0], .K = K, .t = w};
    float *tiles = malloc(vs2k_ref_linear_scratch(K, vs2_pool_threads(pool)));
    if (b) wv.bias = malloc((size_t)wv.N * sizeof(float));
    vs2_status st = VS2_ERR_NOMEM;
    if (tiles && (!b || wv.bias)) {
        if (b) vs2k_widen(b, 0, wv.N, wv.bias);
        vs2k_ref_linear(x, M, &wv, y, tiles, pool);
        st = VS2_OK;
    }
    free(tiles);
    free(wv.bias);
    vs2_pool_free(own);
    return st;
}

void vs2k_rmsnorm(const float *x, int64_t M, int64_t D, const float *weight, double eps, float *y) {
    for (int64_t m = 0; m < M; m++) {
        const float *xr = x + m * D;
        float *yr = y + m * D;
        float ss = 0.0f;
        for (int64_t i = 0; i < D; i++) ss += xr[i] * xr[i];
        float inv = 1.0f / sqrtf(ss / (float)D + (float)eps);
        for (int64_t i = 0; i < D; i++) yr[i] = weight[i] * (xr[i] * inv);
    }
}

void vs2k_silu_mul(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void vs2k_gelu(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

void vs2k_softmax(float *x, int64_t n) {
    if (n <= 0) return;
    float mx = x[0];
    for (int64_t i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = 1.0f / sum;
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

void vs2k_add(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

void vs2k_axpy(float *restrict y, float a, const float *restrict x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

/* ---- Elementwise kernels over the pool --------------------------------------------------------- */

#define CHUNK (64 * 1024) /* elements per task */

typedef struct ew_job {
    float *a;
    const float *b, *w;
    int64_t n, D;
    double eps;
    void (*silu)(float *, const float *, int64_t);
} ew_job;

static int64_t chunk_len(const ew_job *j, int64_t t) { return j->n - t * CHUNK < CHUNK ? j->n - t * CHUNK : CHUNK; }
static int64_t n_chunks(int64_t n) { return (n + CHUNK - 1) / CHUNK; }

static void rms_task(void *ctx, int64_t t, int thread) {
    (void)thread;
    const ew_job *j = ctx;
    const int64_t rows = CHUNK / j->D > 0 ? CHUNK / j->D : 1, r0 = t * rows;
    const int64_t m = j->n - r0 < rows ? j->n - r0 : rows;
    vs2k_rmsnorm(j->b + r0 * j->D, m, j->D, j->w, j->eps, j->a + r0 * j->D);
}

void vs2k_rmsnorm_par(vs2_pool *pool, const float *x, int64_t M, int64_t D, const float *weight, double eps,
                      float *y) {
    ew_job j = {y, x, weight, M, D, eps, NULL};
    const int64_t rows = CHUNK / D > 0 ? CHUNK / D : 1;
    vs2_pool_for(pool, (M + rows - 1) / rows, rms_task, &j);
}

static void silu_task(void *ctx, int64_t t, int thread) {
    (void)thread;
    const ew_job *j = ctx;
    j->silu(j->a + t * CHUNK, j->b + t * CHUNK, chunk_len(j, t));
}

void vs2k_silu_mul_par(vs2_pool *pool, const vs2_kernels *k, float *gate, const float *up, int64_t n) {
    ew_job j = {gate, up, NULL, n, 0, 0, k && k->silu_mul ? k->silu_mul : vs2k_silu_mul};
    vs2_pool_for(pool, n_chunks(n), silu_task, &j);
}

static void add_task(void *ctx, int64_t t, int thread) {
    (void)thread;
    const ew_job *j = ctx;
    vs2k_add(j->a + t * CHUNK, j->b + t * CHUNK, chunk_len(j, t));
}

void vs2k_add_par(vs2_pool *pool, float *y, const float *x, int64_t n) {
    ew_job j = {y, x, NULL, n, 0, 0, NULL};
    vs2_pool_for(pool, n_chunks(n), add_task, &j);
}

static void gelu_task(void *ctx, int64_t t, int thread) {
    (void)thread;
    const ew_job *j = ctx;
    vs2k_gelu(j->a + t * CHUNK, chunk_len(j, t));
}

void vs2k_gelu_par(vs2_pool *pool, float *x, int64_t n) {
    ew_job j = {x, NULL, NULL, n, 0, 0, NULL};
    vs2_pool_for(pool, n_chunks(n), gelu_task, &j);
}

void vs2k_transpose_keys(const float *K, int64_t kv_stride, int64_t L, int hd, float *Kt) {
    for (int64_t b = 0; b < (L + 31) / 32; b++) {
        float *kt = Kt + b * 32 * hd;
        const int64_t nk = L - 32 * b < 32 ? L - 32 * b : 32;
        for (int64_t j = 0; j < nk; j++) {
            const float *k = K + (32 * b + j) * kv_stride;
            for (int d = 0; d < hd; d++) kt[d * 32 + j] = k[d];
        }
        for (int64_t j = nk; j < 32; j++)
            for (int d = 0; d < hd; d++) kt[d * 32 + j] = 0.0f;
    }
}
