/* kernels.h — numeric building blocks of the fp32 reference path (docs/qwen2.5-vl.md §4–§5).
 *
 * Weights stay as stored (bf16/f16/f32, mmap'd); kernels widen small tiles to fp32 as they use
 * them and accumulate in fp32, so no whole weight matrix is ever materialised in fp32.
 * Faster paths (int8 VNNI, CUDA) will sit behind the same functions and be checked against
 * these. */
#ifndef VS2_KERNELS_H
#define VS2_KERNELS_H

#include "vs2.h"

#include <stdint.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* How a forward pass runs: thread count and an optional stage dump for debugging and for
 * stage-by-stage comparison with a reference (names like "vision.block.7", "llm.layer.3"). */
typedef struct vs2_run {
    int threads; /* >= 1 */
    void (*dump)(void *user, const char *stage, const float *x, int64_t rows, int64_t cols);
    void *dump_user;
} vs2_run;

/* The calling thread's index inside an OpenMP parallel region (0 outside one, or without
 * OpenMP): it picks the thread's own slice of a per-thread scratch buffer. */
static inline int vs2k_thread_index(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Call run->dump if set. */
void vs2k_dump(const vs2_run *run, const char *stage, const float *x, int64_t rows, int64_t cols);

static inline float vs2k_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float vs2k_f16_to_f32(uint16_t h);

/* Widen elements [start, start + n) of a F32/F16/BF16 tensor (flat index) to fp32. */
void vs2k_widen(const vs2_tensor *t, int64_t start, int64_t n, float *out);

/* y[M×N] = x[M×K] · Wᵀ (+ b). W is a [N×K] tensor (F32/F16/BF16), b a [N] tensor or NULL.
 * fp32 accumulation; threads split the N dimension. x and y must not overlap.
 * Returns VS2_ERR_NOMEM if the per-thread tiles cannot be allocated (y untouched). */
vs2_status vs2k_linear(const float *x, int64_t M, int64_t K, const vs2_tensor *w,
                       const vs2_tensor *b, float *y, const vs2_run *run);

/* RMSNorm over rows of D: y = x · rsqrt(mean(x²) + eps) · weight (weight widened, D floats).
 * y may equal x. */
void vs2k_rmsnorm(const float *x, int64_t M, int64_t D, const float *weight, double eps, float *y);

/* gate[i] = silu(gate[i]) · up[i] */
void vs2k_silu_mul(float *gate, const float *up, int64_t n);
/* x[i] = gelu(x[i]), the exact erf form (torch nn.GELU() default). */
void vs2k_gelu(float *x, int64_t n);
/* In-place softmax of n values (max-subtracted, fp32). */
void vs2k_softmax(float *x, int64_t n);
/* y[i] += x[i] */
void vs2k_add(float *y, const float *x, int64_t n);
/* y[i] += a · x[i] (element by element: no reassociation; vectorised at -O3). */
void vs2k_axpy(float *restrict y, float a, const float *restrict x, int64_t n);

#endif
