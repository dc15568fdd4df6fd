/* kernels_q8.c — the kernel table, weight preparation and the int8 (Q8) sets.
 *
 * Q8 is llama.cpp's Q8_0 idea: weights and activations both in blocks of 32 along K, each
 * block with its own scale (weights: fp16, activations: fp32), dot products of a block in
 * exact int32 arithmetic, blocks combined in fp32. Blocks (rather than one scale per row or
 * per token) keep an outlier channel from flattening the rest of its row: Qwen2 models have
 * such channels in their activations.
 *
 * Per block the integer dot is exact, so the only freedom is the fp32 combination; both sets
 * do it in the same order with the same operations (acc = fma((float)isum, dw·dx, acc), then
 * + bias), which makes q8-portable and q8-avx512vnni bit-identical: the portable set is the
 * readable statement of what the vector code computes, and the test holds them equal.
 *
 * The AVX-512 VNNI instruction multiplies unsigned by signed bytes. Weights are stored as
 * q + 128 (unsigned) and activations stay signed; Σ(q_w + 128)·q_x = Σ q_w·q_x + 128·Σ q_x, so
 * each block's accumulator starts at −128·Σ q_x (kept per activation block). */
#define _DEFAULT_SOURCE /* madvise */
#include "internal.h"
#include "kernels.h"
#include "weight_cache.h"

#include <sys/mman.h>
#include <unistd.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- fp16 ---------------------------------------------------------------------------------- */

uint16_t vs2k_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds past 65504: inf */
    if (ax < 0x38800000u) { /* below 2^-14: fp16 subnormal (or zero), value = m · 2^-24 */
        float a;
        memcpy(&a, &ax, sizeof a);
        return (uint16_t)(sign | (uint32_t)lrintf(a * 16777216.0f)); /* exact scaling, RNE */
    }
    uint32_t r = ax + 0xfffu + ((ax >> 13) & 1u); /* round to nearest even at bit 13 */
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

float vs2k_f32_to_f16_value(float f) { return vs2k_f16_to_f32(vs2k_f32_to_f16(f)); }

/* ---- CPU features and the table ------------------------------------------------------------- */

int vs2k_cpu_has_avx512vnni(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

static void q8_linear_portable(const float *x, int64_t M, const vs2_weight *w, float *y,
                               void *scratch, vs2_pool *pool);
static void q8_linear_avx512(const float *x, int64_t M, const vs2_weight *w, float *y,
                             void *scratch, vs2_pool *pool);

/* The portable int8 set keeps the reference attention (it is the readable statement of the
 * int8 arithmetic, not a speed path). */
const vs2_kernels vs2k_ref = {"ref", VS2_WF_STORED, vs2k_ref_linear, NULL, NULL, NULL};
const vs2_kernels vs2k_q8_portable = {"q8-portable", VS2_WF_Q8, q8_linear_portable, NULL, NULL, NULL};
static const vs2_kernels q8_avx512 = {"q8-avx512vnni", VS2_WF_Q8, q8_linear_avx512, vs2k_attend_avx512,
                                      vs2k_attend_bf16_avx512, vs2k_silu_mul_avx512};

vs2_status vs2k_select(const char *name, const vs2_kernels **out, vs2_error *err) {
    const int vnni = vs2k_cpu_has_avx512vnni();
    const char *env = getenv("VS2_BACKEND");
    const int from_env = (!name || !*name || !strcmp(name, "auto")) && env && *env;
    if (from_env) name = env;
    if (!name || !*name || !strcmp(name, "auto")) {
        *out = vnni ? &q8_avx512 : &vs2k_ref;
    } else if (!strcmp(name, "ref")) {
        *out = &vs2k_ref;
    } else if (!strcmp(name, "q8-portable")) {
        *out = &vs2k_q8_portable;
    } else if (!strcmp(name, "q8") || !strcmp(name, "q8-avx512vnni")) {
        if (!vnni && strcmp(name, "q8")) {
            *out = NULL;
            return vs2__fail(err, VS2_ERR_UNSUPPORTED,
                             "backend q8-avx512vnni: this CPU lacks AVX-512 VNNI (or AVX-512 BW/VL)");
        }
        *out = vnni ? &q8_avx512 : &vs2k_q8_portable;
    } else {
        *out = NULL;
        return vs2__fail(err, VS2_ERR_INVALID_ARG,
                         "backend '%s'%s: unknown (known: auto, ref, q8, q8-avx512vnni, q8-portable)", name,
                         from_env ? " (from VS2_BACKEND)" : "");
    }
    vs2__ok(err);
    return VS2_OK;
}

/* ---- Weight preparation --------------------------------------------------------------------- */

void vs2k_weight_free(vs2_weight *w) {
    if (!w) return;
    free(w->bias);
    if (!w->borrowed) free(w->q);
    memset(w, 0, sizeof *w);
}

typedef struct quant_job {
    const vs2_tensor *t;
    vs2_weight *w;
    float *wide; /* one row of Kp floats per thread */
} quant_job;

/* One group of 16 rows: widen each row, then per block scale, round and scatter the bytes into
 * the interleaved layout. */
static void quant_group(void *ctx, int64_t g, int thread) {
    const quant_job *j = ctx;
    const vs2_weight *w = j->w;
    const int64_t nb = w->Kp / VS2_Q8_BLOCK;
    float row[VS2_Q8_BLOCK];
    float *wide = j->wide + (size_t)thread * (size_t)w->Kp;
    uint8_t *base = w->q + (size_t)g * vs2k_q8_group_bytes(nb);
    uint8_t *scales = base + (size_t)nb * VS2_Q8_WBYTES;
    for (int lane = 0; lane < VS2_Q8_GROUP; lane++) {
        const int64_t n = g * VS2_Q8_GROUP + lane;
        if (n < w->N) {
            vs2k_widen(j->t, n * w->K, w->K, wide);
            for (int64_t k = w->K; k < w->Kp; k++) wide[k] = 0.0f;
        }
        for (int64_t b = 0; b < nb; b++) {
            uint8_t *blk = base + (size_t)b * VS2_Q8_WBYTES;
            uint16_t d16 = 0;
            if (n < w->N) {
                memcpy(row, wide + b * VS2_Q8_BLOCK, sizeof row);
                float amax = 0.0f;
                for (int k = 0; k < VS2_Q8_BLOCK; k++) amax = fabsf(row[k]) > amax ? fabsf(row[k]) : amax; /* not fmaxf: a libm call */
                d16 = vs2k_f32_to_f16(amax / 127.0f);
            } else {
                memset(row, 0, sizeof row);
            }
            const float d = vs2k_f16_to_f32(d16), id = d > 0.0f ? 1.0f / d : 0.0f;
            memcpy(scales + (size_t)b * 2 * VS2_Q8_GROUP + 2 * lane, &d16, 2);
            for (int k = 0; k < VS2_Q8_BLOCK; k++) {
                float r = nearbyintf(row[k] * id);
                int q = r > 127.0f ? 127 : r < -127.0f ? -127 : (int)r;
                blk[(k / 4) * 64 + lane * 4 + (k % 4)] = (uint8_t)(q + 128);
            }
        }
    }
}

size_t vs2k_weight_bytes(const vs2_weight *w) {
    return w->format == VS2_WF_Q8 ? (size_t)(w->Np / VS2_Q8_GROUP) * vs2k_q8_group_bytes(w->Kp / VS2_Q8_BLOCK) : 0;
}

/* Drop a quantised tensor's mmap'd pages from this process (they stay in the page cache; a
 * later read, e.g. of an embedding row, faults them back in). */
static void release_pages(const vs2_tensor *t) {
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)t->data + page - 1) & ~(page - 1), b = ((uintptr_t)t->data + t->nbytes) & ~(page - 1);
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

vs2_status vs2k_weight_prepare(const vs2_prep *prep, const vs2_tensor *t, const vs2_tensor *bias,
                               vs2_weight *w, vs2_error *err) {
    const vs2_kernels *k = prep->k;
    vs2_pool *pool = prep->pool;
    memset(w, 0, sizeof *w);
    w->format = k->format;
    w->t = t;
    w->N = t->shape[0];
    w->K = 1; /* all but the first dimension (the patch embedding's Conv3d is 5-D) */
    for (int i = 1; i < t->ndim; i++) w->K *= t->shape[i];
    if (bias) {
        w->bias = malloc((size_t)w->N * sizeof(float));
        if (!w->bias) return vs2__fail(err, VS2_ERR_NOMEM, "out of memory for the bias of '%s'", t->name);
        vs2k_widen(bias, 0, w->N, w->bias);
    }
    if (k->format == VS2_WF_STORED) return VS2_OK;
    w->Np = (w->N + VS2_Q8_GROUP - 1) / VS2_Q8_GROUP * VS2_Q8_GROUP;
    w->Kp = (w->K + VS2_Q8_BLOCK - 1) / VS2_Q8_BLOCK * VS2_Q8_BLOCK;
    uint64_t bytes;
    if (!vs2__mul_ok((uint64_t)(w->Np / VS2_Q8_GROUP), vs2k_q8_group_bytes(w->Kp / VS2_Q8_BLOCK), &bytes) ||
        bytes > SIZE_MAX)
        return vs2__fail(err, VS2_ERR_MODEL, "tensor '%s' is too large to quantise", t->name);
    const uint8_t *cached = vs2_wcache_take(prep->cache, w, (size_t)bytes);
    if (cached) {
        w->q = (uint8_t *)cached; /* read-only map; kernels only read */
        w->borrowed = 1;
        return VS2_OK;
    }
    if (!(w->q = aligned_alloc(64, (size_t)bytes))) {
        vs2k_weight_free(w);
        return vs2__fail(err, VS2_ERR_NOMEM, "out of memory for the int8 copy of '%s' (%.2f GB)", t->name,
                         (double)(w->Np * w->Kp) / 1e9);
    }
    quant_job j = {t, w, malloc((size_t)vs2_pool_threads(pool) * (size_t)w->Kp * sizeof(float))};
    if (!j.wide) {
        vs2k_weight_free(w);
        return vs2__fail(err, VS2_ERR_NOMEM, "out of memory while quantising '%s'", t->name);
    }
    vs2_pool_for(pool, w->Np / VS2_Q8_GROUP, quant_group, &j);
    free(j.wide);
    release_pages(t);
    vs2_wcache_add(prep->cache, w);
    return VS2_OK;
}

/* ---- Activations ----------------------------------------------------------------------------- */

static size_t align64(size_t n) { return (n + 63) / 64 * 64; }

size_t vs2k_linear_scratch(const vs2_kernels *k, int64_t M, int64_t K, int threads) {
    if (k->format == VS2_WF_STORED) return vs2k_ref_linear_scratch(K, threads);
    const int64_t Kp = (K + VS2_Q8_BLOCK - 1) / VS2_Q8_BLOCK * VS2_Q8_BLOCK, nb = Kp / VS2_Q8_BLOCK;
    return align64((size_t)(M * Kp)) + 2 * align64((size_t)(M * nb) * 4) + 64;
}

vs2_q8_act vs2k_q8_act_view(void *scratch, int64_t M, int64_t K) {
    vs2_q8_act a;
    a.M = M;
    a.Kp = (K + VS2_Q8_BLOCK - 1) / VS2_Q8_BLOCK * VS2_Q8_BLOCK;
    a.nb = a.Kp / VS2_Q8_BLOCK;
    uint8_t *p = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    a.q = (int8_t *)p;
    a.d = (float *)(p + align64((size_t)(M * a.Kp)));
    a.s = (int32_t *)((uint8_t *)a.d + align64((size_t)(M * a.nb) * 4));
    return a;
}

typedef struct act_job {
    const float *x;
    int64_t K;
    vs2_q8_act *a;
    void (*row)(const float *xr, int64_t K, const vs2_q8_act *a, int64_t m);
} act_job;

/* One activation row into blocks (the arithmetic vs2k_q8_quant_row_avx512 repeats exactly). */
static void quant_row_portable(const float *xr, int64_t K, const vs2_q8_act *a, int64_t m) {
    for (int64_t b = 0; b < a->nb; b++) {
        const int64_t k0 = b * VS2_Q8_BLOCK, n = K - k0 < VS2_Q8_BLOCK ? K - k0 : VS2_Q8_BLOCK;
        float amax = 0.0f;
        for (int64_t k = 0; k < n; k++) amax = fabsf(xr[k0 + k]) > amax ? fabsf(xr[k0 + k]) : amax;
        const float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
        int8_t *q = a->q + m * a->Kp + k0;
        int32_t s = 0;
        for (int64_t k = 0; k < VS2_Q8_BLOCK; k++) {
            int v = k < n ? (int)nearbyintf(xr[k0 + k] * id) : 0;
            v = v > 127 ? 127 : v < -127 ? -127 : v;
            q[k] = (int8_t)v;
            s += v;
        }
        a->d[m * a->nb + b] = d;
        a->s[m * a->nb + b] = s;
    }
}

static void quant_task(void *ctx, int64_t m, int thread) {
    (void)thread;
    const act_job *j = ctx;
    j->row(j->x + m * j->K, j->K, j->a, m);
}

typedef void (*row_fn)(const float *, int64_t, const vs2_q8_act *, int64_t);

static void quantize_rows(const float *x, int64_t M, int64_t K, vs2_q8_act *a, vs2_pool *pool, row_fn row) {
    act_job j = {x, K, a, row};
    vs2_pool_for(M >= 64 ? pool : NULL, M, quant_task, &j);
}


/* ---- The portable tile loop: the arithmetic the AVX-512 loop performs, lane by lane --------- */

static void tiles_portable(const vs2_q8_act *a, int64_t m0, int64_t m1, const vs2_weight *w,
                           int64_t g0, int64_t g1, float *y) {
    const int64_t nb = a->nb;
    for (int64_t g = g0; g < g1; g++) {
        const uint8_t *wg = w->q + (size_t)g * vs2k_q8_group_bytes(nb);
        const uint8_t *scales = wg + (size_t)nb * VS2_Q8_WBYTES;
        for (int64_t m = m0; m < m1; m++) {
            const int8_t *xq = a->q + m * a->Kp;
            float acc[VS2_Q8_GROUP] = {0};
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *blk = wg + (size_t)b * VS2_Q8_WBYTES;
                const float dx = a->d[m * nb + b];
                for (int lane = 0; lane < VS2_Q8_GROUP; lane++) {
                    int32_t isum = -128 * a->s[m * nb + b];
                    for (int k = 0; k < VS2_Q8_BLOCK; k++)
                        isum += (int32_t)blk[(k / 4) * 64 + lane * 4 + (k % 4)] *
                                (int32_t)xq[b * VS2_Q8_BLOCK + k];
                    uint16_t d16;
                    memcpy(&d16, scales + (size_t)b * 2 * VS2_Q8_GROUP + 2 * lane, 2);
                    acc[lane] = fmaf((float)isum, vs2k_f16_to_f32(d16) * dx, acc[lane]);
                }
            }
            for (int lane = 0; lane < VS2_Q8_GROUP; lane++) {
                const int64_t n = g * VS2_Q8_GROUP + lane;
                if (n < w->N) y[m * w->N + n] = w->bias ? acc[lane] + w->bias[n] : acc[lane];
            }
        }
    }
}

/* ---- Work split ------------------------------------------------------------------------------- */

/* Tasks are (row panel, column chunk) pairs: a panel of activation rows stays in L2 while the
 * chunk's weights stream past it; decode (few rows) is split by columns only. Each output is
 * computed by one task in a fixed order, so results do not depend on the thread count. */
#define PANEL_ROWS 192
#define CHUNK_GROUPS 8

typedef struct q8_job {
    const vs2_q8_act *a;
    const vs2_weight *w;
    float *y;
    int64_t n_panels, n_chunks, groups;
    void (*tiles)(const vs2_q8_act *, int64_t, int64_t, const vs2_weight *, int64_t, int64_t, float *);
} q8_job;

static void q8_task(void *ctx, int64_t t, int thread) {
    (void)thread;
    const q8_job *j = ctx;
    const int64_t p = t / j->n_chunks, c = t % j->n_chunks;
    const int64_t m0 = p * PANEL_ROWS, m1 = m0 + PANEL_ROWS < j->a->M ? m0 + PANEL_ROWS : j->a->M;
    const int64_t g0 = c * CHUNK_GROUPS, g1 = g0 + CHUNK_GROUPS < j->groups ? g0 + CHUNK_GROUPS : j->groups;
    j->tiles(j->a, m0, m1, j->w, g0, g1, j->y);
}

static void q8_linear(const float *x, int64_t M, const vs2_weight *w, float *y, void *scratch,
                      vs2_pool *pool,
                      void (*tiles)(const vs2_q8_act *, int64_t, int64_t, const vs2_weight *, int64_t,
                                    int64_t, float *),
                      row_fn row) {
    vs2_q8_act a = vs2k_q8_act_view(scratch, M, w->K);
    quantize_rows(x, M, w->K, &a, pool, row);
    q8_job j = {&a, w, y, (M + PANEL_ROWS - 1) / PANEL_ROWS, 0, w->Np / VS2_Q8_GROUP, tiles};
    j.n_chunks = (j.groups + CHUNK_GROUPS - 1) / CHUNK_GROUPS;
    vs2_pool_for(pool, j.n_panels * j.n_chunks, q8_task, &j);
}

static void q8_linear_portable(const float *x, int64_t M, const vs2_weight *w, float *y,
                               void *scratch, vs2_pool *pool) {
    q8_linear(x, M, w, y, scratch, pool, tiles_portable, quant_row_portable);
}

static void q8_linear_avx512(const float *x, int64_t M, const vs2_weight *w, float *y,
                             void *scratch, vs2_pool *pool) {
    q8_linear(x, M, w, y, scratch, pool, vs2k_q8_tiles_avx512, vs2k_q8_quant_row_avx512);
}
