/* test_kernels.c — the fp32 reference kernels against straightforward double-precision
 * computations and the IEEE 754 definitions of f16/bf16. */
#include "check.h"
#include "kernels.h"

#include <stdint.h>

static uint32_t rng_state = 12345u;
static float frand(void) { /* xorshift32 in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return (float)(rng_state >> 8) / (float)(1u << 23) - 1.0f;
}

static uint16_t f32_to_bf16_trunc(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)(u >> 16);
}

static void test_f16_values(void) {
    /* IEEE binary16 encodings: 1.0, -2.0, max normal, min subnormal, min normal, inf. */
    CHECK(vs2k_f16_to_f32(0x3C00) == 1.0f);
    CHECK(vs2k_f16_to_f32(0xC000) == -2.0f);
    CHECK(vs2k_f16_to_f32(0x7BFF) == 65504.0f);
    CHECK(vs2k_f16_to_f32(0x0001) == ldexpf(1.0f, -24));
    CHECK(vs2k_f16_to_f32(0x0400) == ldexpf(1.0f, -14));
    CHECK(isinf(vs2k_f16_to_f32(0x7C00)));
    CHECK(isnan(vs2k_f16_to_f32(0x7E00)));
    CHECK(vs2k_bf16_to_f32(0x3F80) == 1.0f);  /* bf16 is the top half of fp32 */
    CHECK(vs2k_bf16_to_f32(0xC2F7) == -123.5f);
}

/* y = x Wᵀ + b for a bf16 W with shapes that exercise the tile edges (N not a multiple of the
 * tile, K not a multiple of 16, M not a multiple of 4). Reference: double accumulation over
 * the same widened values; tolerance 1e-5 relative to sum|x·w|, the fp32 rounding of a
 * K-term sum (K·2^-24 ≈ 2e-5 worst case, far less in practice). */
static void check_linear(int64_t M, int64_t K, int64_t N, int threads, vs2_dtype dt) {
    uint16_t *w16 = malloc((size_t)(N * K) * 2);
    float *w32 = malloc((size_t)(N * K) * 4), *x = malloc((size_t)(M * K) * 4);
    float *bias = malloc((size_t)N * 4), *y = malloc((size_t)(M * N) * 4);
    for (int64_t i = 0; i < N * K; i++) {
        w16[i] = f32_to_bf16_trunc(frand());
        w32[i] = vs2k_bf16_to_f32(w16[i]);
    }
    for (int64_t i = 0; i < M * K; i++) x[i] = frand();
    for (int64_t i = 0; i < N; i++) bias[i] = frand();
    vs2_tensor w = {.dtype = dt, .ndim = 2, .shape = {N, K},
                    .data = dt == VS2_DTYPE_BF16 ? (void *)w16 : (void *)w32};
    vs2_tensor b = {.dtype = VS2_DTYPE_F32, .ndim = 1, .shape = {N}, .data = bias};
    vs2_run run = {.threads = threads};
    CHECK_EQ_INT(vs2k_linear(x, M, K, &w, &b, y, &run), VS2_OK);
    double worst = 0;
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = bias[n], mag = fabs(bias[n]);
            for (int64_t k = 0; k < K; k++) {
                s += (double)x[m * K + k] * w32[n * K + k];
                mag += fabs((double)x[m * K + k] * w32[n * K + k]);
            }
            double e = fabs(y[m * N + n] - s) / mag;
            worst = e > worst ? e : worst;
        }
    CHECK_MSG(worst < 1e-5, "M=%lld K=%lld N=%lld threads=%d: rel err %g", (long long)M,
              (long long)K, (long long)N, threads, worst);
    free(w16), free(w32), free(x), free(bias), free(y);
}

static void test_linear(void) {
    check_linear(1, 16, 4, 1, VS2_DTYPE_BF16);
    check_linear(7, 37, 129, 1, VS2_DTYPE_BF16);
    check_linear(9, 300, 70, 2, VS2_DTYPE_F32);
    check_linear(5, 5000, 33, 2, VS2_DTYPE_BF16); /* K large: tile of 13 rows */
}

static void test_linear_threads_identical(void) {
    /* Threads split N only, so each output is computed by the same code in the same order. */
    int64_t M = 6, K = 70, N = 150;
    float *w = malloc((size_t)(N * K) * 4), *x = malloc((size_t)(M * K) * 4);
    float *y1 = malloc((size_t)(M * N) * 4), *y2 = malloc((size_t)(M * N) * 4);
    for (int64_t i = 0; i < N * K; i++) w[i] = frand();
    for (int64_t i = 0; i < M * K; i++) x[i] = frand();
    vs2_tensor wt = {.dtype = VS2_DTYPE_F32, .ndim = 2, .shape = {N, K}, .data = w};
    vs2_run r1 = {.threads = 1}, r2 = {.threads = 2};
    vs2k_linear(x, M, K, &wt, NULL, y1, &r1);
    vs2k_linear(x, M, K, &wt, NULL, y2, &r2);
    CHECK(memcmp(y1, y2, (size_t)(M * N) * 4) == 0);
    free(w), free(x), free(y1), free(y2);
}

static void test_norms_and_activations(void) {
    float x[4] = {1, -2, 3, -4}, wgt[4] = {1, 1, 2, 0.5f}, y[4];
    vs2k_rmsnorm(x, 1, 4, wgt, 1e-6, y);
    double rms = sqrt((1 + 4 + 9 + 16) / 4.0 + 1e-6);
    for (int i = 0; i < 4; i++) CHECK(fabs(y[i] - x[i] / rms * wgt[i]) < 1e-6);
    float g[3] = {0, 1, -3}, u[3] = {2, 2, 2};
    vs2k_silu_mul(g, u, 3);
    CHECK(fabs(g[0]) < 1e-7 && fabs(g[1] - 2 * 1 / (1 + exp(-1.0))) < 1e-6 &&
          fabs(g[2] - 2 * -3 / (1 + exp(3.0))) < 1e-6);
    float z[3] = {0, 1, -1};
    vs2k_gelu(z, 3); /* gelu(1) = 0.5·(1 + erf(1/√2)) = 0.841344746 */
    CHECK(fabs(z[0]) < 1e-7 && fabs(z[1] - 0.841344746) < 1e-6 && fabs(z[2] + 0.158655254) < 1e-6);
    float s[3] = {1000, 1001, 1002}; /* max-subtraction keeps large logits finite */
    vs2k_softmax(s, 3);
    double e0 = 1 / (1 + exp(1.0) + exp(2.0));
    CHECK(fabs(s[0] - e0) < 1e-6 && fabs(s[0] + s[1] + s[2] - 1) < 1e-6);
}

int main(void) {
    RUN(test_f16_values);
    RUN(test_linear);
    RUN(test_linear_threads_identical);
    RUN(test_norms_and_activations);
    return CHECK_DONE();
}
