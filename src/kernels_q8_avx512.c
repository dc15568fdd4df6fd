/* kernels_q8_avx512.c — the Q8 tile loop with AVX-512 VNNI (vpdpbusd). Compiled with AVX-512
 * flags whatever VS2_NATIVE says (CMakeLists.txt) and called only when vs2k_select found the
 * instructions, so builds for other CPUs (and valgrind, which has no AVX-512) stay usable.
 *
 * A tile is MR activation rows × NG groups of 16 weight rows. Per block of 32 along K:
 * integer accumulators start at −128·Σq_x, take 8 vpdpbusd each (4 bytes of K a step: the
 * activation's 4 bytes broadcast, the weight's 16 rows × 4 bytes in one register), and are
 * folded into fp32 with fma(float(acc), dw·dx, accf): lane for lane what tiles_portable
 * computes, hence bit-identical results. MR = 6, NG = 2 uses 12 + 12 accumulators plus the
 * weights and scales: within the 32 vector registers. */
#if defined(__x86_64__)
#include "kernels.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

/* How far ahead each weight stream is prefetched (a hint: past the end it never faults). */
#define PREFETCH_BLOCKS 8

static inline __attribute__((always_inline)) void
tile(const int MR, const int NG, const vs2_q8_act *a, int64_t m0, const vs2_weight *w, int64_t g,
     float *y) {
    const int64_t nb = a->nb;
    const size_t gbytes = vs2k_q8_group_bytes(nb);
    const uint8_t *wg[4];
    for (int j = 0; j < NG; j++) wg[j] = w->q + (size_t)(g + j) * gbytes;
    __m512 accf[6][4];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NG; j++) accf[i][j] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m512i acc[6][4];
        __m512 dw[4];
        const uint8_t *blk[4];
        for (int j = 0; j < NG; j++) {
            blk[j] = wg[j] + (size_t)b * VS2_Q8_WBYTES;
            const uint8_t *sc = wg[j] + (size_t)nb * VS2_Q8_WBYTES + (size_t)b * 2 * VS2_Q8_GROUP;
            dw[j] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)sc));
            for (int l = 0; l < VS2_Q8_WBYTES; l += 64)
                _mm_prefetch((const char *)(blk[j] + PREFETCH_BLOCKS * VS2_Q8_WBYTES + l), _MM_HINT_T0);
        }
        for (int i = 0; i < MR; i++) {
            const __m512i c = _mm512_set1_epi32(-128 * a->s[(m0 + i) * nb + b]);
            for (int j = 0; j < NG; j++) acc[i][j] = c;
        }
        for (int kq = 0; kq < VS2_Q8_BLOCK / 4; kq++) {
            __m512i wv[4];
            for (int j = 0; j < NG; j++)
                wv[j] = _mm512_load_si512((const void *)(blk[j] + kq * 64));
            for (int i = 0; i < MR; i++) {
                int32_t x4;
                memcpy(&x4, a->q + (m0 + i) * a->Kp + b * VS2_Q8_BLOCK + kq * 4, 4);
                const __m512i xb = _mm512_set1_epi32(x4);
                for (int j = 0; j < NG; j++) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], wv[j], xb);
            }
        }
        for (int i = 0; i < MR; i++) {
            const __m512 dx = _mm512_set1_ps(a->d[(m0 + i) * nb + b]);
            for (int j = 0; j < NG; j++)
                accf[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][j]), _mm512_mul_ps(dw[j], dx), accf[i][j]);
        }
    }
    for (int j = 0; j < NG; j++) {
        const int64_t n0 = (g + j) * VS2_Q8_GROUP;
        const int64_t valid = w->N - n0 < VS2_Q8_GROUP ? w->N - n0 : VS2_Q8_GROUP;
        const __mmask16 mask = (__mmask16)((1u << valid) - 1u);
        const __m512 bias = w->bias ? _mm512_maskz_loadu_ps(mask, w->bias + n0) : _mm512_setzero_ps();
        for (int i = 0; i < MR; i++) {
            __m512 v = w->bias ? _mm512_add_ps(accf[i][j], bias) : accf[i][j];
            _mm512_mask_storeu_ps(y + (m0 + i) * w->N + n0, mask, v);
        }
    }
}

/* Instantiate the tile for MR = 1..6 and NG = 1, 2 (constants, so the arrays live in
 * registers). */
#define TILE_CASE(mr)                                                                              \
    case mr:                                                                                       \
        if (ng == 2)                                                                               \
            tile(mr, 2, a, m, w, g, y);                                                            \
        else                                                                                       \
            tile(mr, 1, a, m, w, g, y);                                                            \
        break;

void vs2k_q8_tiles_avx512(const vs2_q8_act *a, int64_t m0, int64_t m1, const vs2_weight *w,
                          int64_t g0, int64_t g1, float *y) {
    if (m1 - m0 == 1) { /* decode: four weight streams at once, for memory-level parallelism */
        int64_t g = g0;
        for (; g + 4 <= g1; g += 4) tile(1, 4, a, m0, w, g, y);
        for (; g < g1; g++) tile(1, 1, a, m0, w, g, y);
        return;
    }
    for (int64_t g = g0; g < g1; g += 2) {
        const int ng = g + 1 < g1 ? 2 : 1;
        for (int64_t m = m0; m < m1; m += 6) {
            switch (m1 - m < 6 ? (int)(m1 - m) : 6) {
                TILE_CASE(1)
                TILE_CASE(2)
                TILE_CASE(3)
                TILE_CASE(4)
                TILE_CASE(5)
                TILE_CASE(6)
            }
        }
    }
}
#else
#include "kernels.h"
void vs2k_q8_tiles_avx512(const vs2_q8_act *a, int64_t m0, int64_t m1, const vs2_weight *w,
                          int64_t g0, int64_t g1, float *y) {
    (void)a, (void)m0, (void)m1, (void)w, (void)g0, (void)g1, (void)y;
}
#endif

/* ---- fp32 attention (the fast sets' attention; kernels.h: vs2k_attend_avx512) ------------------ */
#if defined(__x86_64__)
/* e^x, Cephes' expf: x = n·ln2 + r, |r| ≤ ln2/2, a degree-6 polynomial for e^r, then × 2^n
 * (scalef). Relative error ≤ 2 ulp; 0 below −87.3 and inf above 88.7, as expf. */
static inline __m512 exp512(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.33654f)), _mm512_set1_ps(88.72283f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

/* 16 keys or values from fp32, or from bf16 (BF = 1: the LLM's KV cache; widening is exact). */
static inline __attribute__((always_inline)) __m512 load16(const int BF, const void *p, int64_t i) {
    if (!BF) return _mm512_loadu_ps((const float *)p + i);
    const __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)p + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* Scores of ROWS query rows against 32 keys: S[r][0..32) = q_r · Kt[·][0..32). */
static inline __attribute__((always_inline)) void
score_tile(const int BF, const int ROWS, const float *q, int hd, const void *kt, float *s, int64_t ldS) {
    __m512 acc[7][2];
    for (int r = 0; r < ROWS; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int d = 0; d < hd; d++) {
        const __m512 k0 = load16(BF, kt, d * 32), k1 = load16(BF, kt, d * 32 + 16);
        for (int r = 0; r < ROWS; r++) {
            const __m512 qb = _mm512_set1_ps(q[(int64_t)r * hd + d]);
            acc[r][0] = _mm512_fmadd_ps(qb, k0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(qb, k1, acc[r][1]);
        }
    }
    for (int r = 0; r < ROWS; r++) {
        _mm512_storeu_ps(s + r * ldS, acc[r][0]);
        _mm512_storeu_ps(s + r * ldS + 16, acc[r][1]);
    }
}

/* Softmax of s[0..lim) in place, zeros in [lim, Lkp). */
static void softmax_row(float *s, int64_t lim, int64_t Lkp) {
    __m512 mx = _mm512_set1_ps(-INFINITY);
    int64_t j = 0;
    for (; j + 16 <= lim; j += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(s + j));
    const __mmask16 tail = (__mmask16)((1u << (lim - j)) - 1u);
    mx = _mm512_mask_max_ps(mx, tail, mx, _mm512_maskz_loadu_ps(tail, s + j));
    const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512 sum = _mm512_setzero_ps();
    for (j = 0; j + 16 <= lim; j += 16) {
        const __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(s + j), m));
        _mm512_storeu_ps(s + j, e);
        sum = _mm512_add_ps(sum, e);
    }
    if (tail) {
        const __m512 e = _mm512_maskz_mov_ps(tail, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, s + j), m)));
        _mm512_mask_storeu_ps(s + j, tail, e);
        sum = _mm512_add_ps(sum, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
    for (j = 0; j + 16 <= lim; j += 16) _mm512_storeu_ps(s + j, _mm512_mul_ps(_mm512_loadu_ps(s + j), inv));
    if (tail) _mm512_mask_storeu_ps(s + j, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, s + j), inv));
    for (j = lim; j < Lkp; j++) s[j] = 0.0f;
}

/* o[r] = Σ_j p[r][j] · V[j] for ROWS rows (hd/16 ≤ 8 vectors each), keys [0, lk). */
static inline __attribute__((always_inline)) void
pv_tile(const int BF, const int ROWS, const int NV, const float *p, int64_t ldS, const void *V, int64_t vs,
        int64_t lk, float *o, int hd) {
    __m512 acc[3][8];
    for (int r = 0; r < ROWS; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    for (int64_t j = 0; j < lk; j++) {
        __m512 pr[3];
        for (int r = 0; r < ROWS; r++) pr[r] = _mm512_set1_ps(p[r * ldS + j]);
        for (int v = 0; v < NV; v++) {
            const __m512 x = load16(BF, V, j * vs + 16 * v);
            for (int r = 0; r < ROWS; r++) acc[r][v] = _mm512_fmadd_ps(pr[r], x, acc[r][v]);
        }
    }
    for (int r = 0; r < ROWS; r++)
        for (int v = 0; v < NV; v++) _mm512_storeu_ps(o + (int64_t)r * hd + 16 * v, acc[r][v]);
}

#define PV_CASES(nv)                                                                              \
    case nv:                                                                                      \
        if (rows == 3) pv_tile(BF, 3, nv, S + r * ldS, ldS, V, kv_stride, lk, obuf + r * hd, hd); \
        else if (rows == 2) pv_tile(BF, 2, nv, S + r * ldS, ldS, V, kv_stride, lk, obuf + r * hd, hd); \
        else pv_tile(BF, 1, nv, S + r * ldS, ldS, V, kv_stride, lk, obuf + r * hd, hd);           \
        break;

static inline __attribute__((always_inline)) void
attend(const int BF, const float *qbuf, int64_t nrows, const int64_t *lim, const void *Kt, const void *V,
       int64_t kv_stride, int hd, float *scratch, float *obuf) {
    const size_t esize = BF ? 2 : 4;
    int64_t Lk = 0;
    for (int64_t r = 0; r < nrows; r++) Lk = lim[r] > Lk ? lim[r] : Lk;
    const int64_t ldS = (Lk + 31) / 32 * 32;
    float *S = scratch;
    /* S = Q·Kᵀ in blocks of 32 keys (Kt: the keys transposed per block, zero padded). */
    for (int64_t k0 = 0; k0 < Lk; k0 += 32) {
        const void *kt = (const char *)Kt + (size_t)(k0 * hd) * esize;
        int64_t r = 0;
        for (; r + 7 <= nrows; r += 7) score_tile(BF, 7, qbuf + r * hd, hd, kt, S + r * ldS + k0, ldS);
        for (; r < nrows; r++) score_tile(BF, 1, qbuf + r * hd, hd, kt, S + r * ldS + k0, ldS);
    }
    for (int64_t r = 0; r < nrows; r++) softmax_row(S + r * ldS, lim[r], ldS);
    for (int64_t r = 0; r < nrows; r += 3) {
        const int rows = nrows - r < 3 ? (int)(nrows - r) : 3;
        int64_t lk = 0;
        for (int i = 0; i < rows; i++) lk = lim[r + i] > lk ? lim[r + i] : lk;
        switch (hd / 16) {
            PV_CASES(1)
            PV_CASES(2)
            PV_CASES(3)
            PV_CASES(4)
            PV_CASES(5)
            PV_CASES(6)
            PV_CASES(7)
            PV_CASES(8)
        }
    }
}

void vs2k_attend_avx512(const float *qbuf, int64_t nrows, const int64_t *lim, const float *Kt,
                        const float *V, int64_t kv_stride, int hd, float *scratch, float *obuf) {
    attend(0, qbuf, nrows, lim, Kt, V, kv_stride, hd, scratch, obuf);
}

void vs2k_attend_bf16_avx512(const float *qbuf, int64_t nrows, const int64_t *lim, const uint16_t *Kt,
                             const uint16_t *V, int64_t kv_stride, int hd, float *scratch, float *obuf) {
    attend(1, qbuf, nrows, lim, Kt, V, kv_stride, hd, scratch, obuf);
}

size_t vs2k_attend_scratch(int64_t nrows, int64_t Lk, int hd) {
    (void)hd;
    return (size_t)nrows * (size_t)((Lk + 31) / 32 * 32) * sizeof(float);
}
/* silu(g)·u = g·u / (1 + e^−g), with the vector exp (≤ 2 ulp): for the fast sets' MLPs, where
 * expf per element is a visible share of the time (75 M per layer of a 4,000-token prefill). */
void vs2k_silu_mul_avx512(float *gate, const float *up, int64_t n) {
    int64_t i = 0;
    const __m512 one = _mm512_set1_ps(1.0f);
    for (; i + 16 <= n; i += 16) {
        const __m512 g = _mm512_loadu_ps(gate + i);
        const __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), g));
        _mm512_storeu_ps(gate + i, _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)), _mm512_loadu_ps(up + i)));
    }
    for (; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}
/* The activation quantiser of kernels_q8.c, 16 lanes at a time: the same max, the same scale
 * (amax / 127 and its reciprocal in scalar fp32), the same product and round-to-nearest-even
 * (vcvtps2dq under the default rounding mode, as nearbyintf), the same clamp. */
void vs2k_q8_quant_row_avx512(const float *xr, int64_t K, const vs2_q8_act *a, int64_t m) {
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    for (int64_t b = 0; b < a->nb; b++) {
        const int64_t k0 = b * VS2_Q8_BLOCK, n = K - k0 < VS2_Q8_BLOCK ? K - k0 : VS2_Q8_BLOCK;
        const __mmask16 m0 = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1u);
        const __mmask16 m1 = n >= 32 ? 0xFFFF : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1u);
        const __m512 x0 = _mm512_maskz_loadu_ps(m0, xr + k0), x1 = _mm512_maskz_loadu_ps(m1, xr + k0 + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
        const float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
        const __m512 v = _mm512_set1_ps(id);
        const __m512i q0 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(x0, v)), lo), hi);
        const __m512i q1 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(x1, v)), lo), hi);
        int8_t *q = a->q + m * a->Kp + k0;
        _mm_storeu_si128((__m128i *)q, _mm512_cvtepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(q + 16), _mm512_cvtepi32_epi8(q1));
        a->d[m * a->nb + b] = d;
        a->s[m * a->nb + b] = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    }
}
#endif
