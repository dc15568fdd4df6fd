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
#include <string.h>

static inline __attribute__((always_inline)) void
tile(const int MR, const int NG, const vs2_q8_act *a, int64_t m0, const vs2_weight *w, int64_t g,
     float *y) {
    const int64_t nb = a->nb;
    const size_t gbytes = vs2k_q8_group_bytes(nb);
    const uint8_t *wg[2];
    for (int j = 0; j < NG; j++) wg[j] = w->q + (size_t)(g + j) * gbytes;
    __m512 accf[6][2];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NG; j++) accf[i][j] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m512i acc[6][2];
        __m512 dw[2];
        const uint8_t *blk[2];
        for (int j = 0; j < NG; j++) {
            blk[j] = wg[j] + (size_t)b * VS2_Q8_WBYTES;
            const uint8_t *sc = wg[j] + (size_t)nb * VS2_Q8_WBYTES + (size_t)b * 2 * VS2_Q8_GROUP;
            dw[j] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)sc));
            for (int l = 0; l < VS2_Q8_WBYTES; l += 64)
                _mm_prefetch((const char *)(blk[j] + 4 * VS2_Q8_WBYTES + l), _MM_HINT_T0);
        }
        for (int i = 0; i < MR; i++) {
            const __m512i c = _mm512_set1_epi32(-128 * a->s[(m0 + i) * nb + b]);
            for (int j = 0; j < NG; j++) acc[i][j] = c;
        }
        for (int kq = 0; kq < VS2_Q8_BLOCK / 4; kq++) {
            __m512i wv[2];
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
