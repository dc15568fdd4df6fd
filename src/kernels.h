/* kernels.h — the numeric building blocks: the fp32 reference kernels (docs/qwen2.5-vl.md §4–§5), the
 * table of kernel sets that every forward pass calls (ref, q8-portable, q8-avx512vnni), prepared
 * weights and the thread pool's per-call state.
 *
 * The reference set keeps weights as stored (bf16/f16/f32, mmap'd) and widens small tiles to
 * fp32 as it uses them, so no whole weight matrix is ever materialised in fp32. The fast sets
 * prepare their own copies at load and are checked against the reference set in the tests. */
#ifndef VS2_KERNELS_H
#define VS2_KERNELS_H

#include "vs2.h"
#include "pool.h"

#include <stdint.h>
#include <string.h>


/* How a forward pass runs: thread count and an optional stage dump for debugging and for
 * stage-by-stage comparison with a reference (names like "vision.block.7", "llm.layer.3"). */
typedef struct vs2_run {
    int threads; /* >= 1 */
    void (*dump)(void *user, const char *stage, const float *x, int64_t rows, int64_t cols);
    void *dump_user;
    /* Optional: the worker threads of this call (pool.h). NULL: the forward functions start a
     * pool of `threads` for the call themselves. */
    struct vs2_pool *pool;
    /* Optional: told each stage's name as it completes (progress), dumps or not. */
    void (*stage)(void *user, const char *stage);
    void *stage_user;
} vs2_run;

/* Call run->stage and run->dump if set. */
void vs2k_dump(const vs2_run *run, const char *stage, const float *x, int64_t rows, int64_t cols);

static inline float vs2k_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float vs2k_f16_to_f32(uint16_t h);

/* f rounded to bf16, nearest even (NaN stays a quiet NaN). */
static inline uint16_t vs2k_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

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

/* ---- The kernel sets: one reference set and the fast sets behind one table ---------------- */

/* How a prepared weight is stored. */
typedef enum vs2_wformat {
    VS2_WF_STORED = 0, /* the checkpoint's tensor as mmap'd (F32/F16/BF16), widened per tile */
    VS2_WF_Q8 = 1      /* int8 in blocks of 32 along K with one fp16 scale per row and block */
} vs2_wformat;

/* Q8 layout: rows in groups of 16, K in blocks of nb = Kp/32. A group holds nb weight blocks of
 * 512 bytes (8 runs of 16 rows × 4 bytes: k = 4·run .. 4·run+3 of the block), then nb × 16
 * fp16 scales, padded to 64 bytes so every weight block is cache-line aligned. The bytes are
 * q + 128 with q in [-127, 127] (the unsigned operand of the VNNI dot instruction). */
#define VS2_Q8_BLOCK 32
#define VS2_Q8_GROUP 16
#define VS2_Q8_WBYTES (VS2_Q8_GROUP * VS2_Q8_BLOCK) /* 512 */
static inline size_t vs2k_q8_group_bytes(int64_t nb) {
    return ((size_t)nb * (VS2_Q8_WBYTES + 2 * VS2_Q8_GROUP) + 63) / 64 * 64;
}

/* A weight matrix [N × K] (y = x·Wᵀ + bias) as a kernel set uses it. */
typedef struct vs2_weight {
    vs2_wformat format;
    int64_t N, K;
    const vs2_tensor *t;  /* the stored tensor (both formats keep it, for checks) */
    float *bias;          /* N floats widened at load, or NULL */
    int64_t Np, Kp;       /* Q8: N rounded up to 16, K to 32 */
    uint8_t *q;           /* Q8: Np/16 groups of vs2k_q8_group_bytes(Kp/32) (64-byte aligned) */
    int borrowed;         /* q points into a weight cache file's map (not freed here) */
} vs2_weight;

/* One kernel set: chosen once at load (vs2k_select), named in every result. Norms, softmax,
 * RoPE and activations are fp32 in every set (they are a small share of the time and their
 * accuracy matters most) and are called directly; the table holds what differs. */
typedef struct vs2_kernels {
    const char *name;     /* "ref", "q8-avx512vnni", "q8-portable" */
    vs2_wformat format;   /* what vs2k_weight_prepare makes for this set */
    /* y[M×N] = x[M×K]·Wᵀ (+ bias). scratch: vs2k_linear_scratch(M, w, threads) bytes. */
    void (*linear)(const float *x, int64_t M, const vs2_weight *w, float *y, void *scratch,
                   vs2_pool *pool);
    /* Attention of nrows query rows (qbuf: nrows × hd, already × 1/√hd) over keys Kt (the keys
     * transposed by vs2k_transpose_keys) and values V (row stride kv_stride floats); row r sees
     * keys [0, lim[r]). obuf: nrows × hd. scratch: vs2k_attend_scratch(nrows, max lim, hd)
     * bytes. NULL: the caller's reference loops. */
    void (*attend)(const float *qbuf, int64_t nrows, const int64_t *lim, const float *Kt,
                   const float *V, int64_t kv_stride, int hd, float *scratch, float *obuf);
    /* The same over bf16 keys and values (the language model's KV cache in the sets that have
     * this; NULL: the cache stays fp32). */
    void (*attend_bf16)(const float *qbuf, int64_t nrows, const int64_t *lim, const uint16_t *Kt,
                        const uint16_t *V, int64_t kv_stride, int hd, float *scratch, float *obuf);
    /* gate[i] = silu(gate[i])·up[i] with a vector exp; NULL: vs2k_silu_mul (expf). */
    void (*silu_mul)(float *gate, const float *up, int64_t n);
} vs2_kernels;

/* The elementwise kernels split over the pool in contiguous chunks: each element gets the same
 * arithmetic as in the serial kernel, so results do not depend on the thread count. silu_mul
 * uses k->silu_mul when the set has one. */
void vs2k_rmsnorm_par(vs2_pool *pool, const float *x, int64_t M, int64_t D, const float *weight, double eps,
                      float *y);
void vs2k_silu_mul_par(vs2_pool *pool, const vs2_kernels *k, float *gate, const float *up, int64_t n);
void vs2k_add_par(vs2_pool *pool, float *y, const float *x, int64_t n);
void vs2k_gelu_par(vs2_pool *pool, float *x, int64_t n);
void vs2k_silu_mul_avx512(float *gate, const float *up, int64_t n);

/* The set for a name: "ref", "q8" (the fastest int8 set this CPU runs), "q8-avx512vnni",
 * "q8-portable", or NULL / "" / "auto" (the VS2_BACKEND environment variable if set, else the
 * fastest set whose accuracy is tested: q8 on CPUs with AVX-512 VNNI, ref elsewhere).
 * Errors name the set and what the CPU lacks. */
vs2_status vs2k_select(const char *name, const vs2_kernels **out, vs2_error *err);
extern const vs2_kernels vs2k_ref, vs2k_q8_portable;
int vs2k_cpu_has_avx512vnni(void);

/* How weights are prepared: the kernel set, threads for quantising, an optional weight cache
 * (weight_cache.h: taken from its file when it matches, else quantised and added to it). */
typedef struct vs2_prep {
    const vs2_kernels *k;
    vs2_pool *pool;
    struct vs2_wcache *cache;
} vs2_prep;

/* Prepare w (format of prep->k) from a stored [N×K] tensor and an optional [N] bias. The stored
 * tensor is never written; after quantising, its pages are released from this process. */
vs2_status vs2k_weight_prepare(const vs2_prep *prep, const vs2_tensor *t, const vs2_tensor *bias,
                               vs2_weight *w, vs2_error *err);
size_t vs2k_weight_bytes(const vs2_weight *w); /* bytes of w->q (0 for stored weights) */
void vs2k_weight_free(vs2_weight *w);
/* Bytes of scratch k->linear needs for M rows of K inputs on `threads` threads. */
size_t vs2k_linear_scratch(const vs2_kernels *k, int64_t M, int64_t K, int threads);
/* The reference set's linear (kernels.c): widened weight tiles, one per thread in scratch. */
void vs2k_ref_linear(const float *x, int64_t M, const vs2_weight *w, float *y, void *scratch,
                     vs2_pool *pool);
size_t vs2k_ref_linear_scratch(int64_t K, int threads);

/* Q8 pieces shared by the portable and the AVX-512 sets (kernels_q8.c). Activations: each
 * row quantised per block of 32 (scale = max|x| / 127, q = round(x / scale)), the sum of
 * each block's q kept for the unsigned-operand correction. */
typedef struct vs2_q8_act {
    int64_t M, Kp, nb;
    int8_t *q;     /* M × Kp */
    float *d;      /* M × nb */
    int32_t *s;    /* M × nb: Σ q over the block */
} vs2_q8_act;
/* Row m of the activations, vectorised: bit-identical to the portable quantiser. */
void vs2k_q8_quant_row_avx512(const float *xr, int64_t K, const vs2_q8_act *a, int64_t m);
vs2_q8_act vs2k_q8_act_view(void *scratch, int64_t M, int64_t K);
float vs2k_f32_to_f16_value(float f); /* f rounded to fp16 and back (nearest even) */
uint16_t vs2k_f32_to_f16(float f);
/* The AVX-512 VNNI tile loop (kernels_q8_avx512.c; compiled with AVX-512 flags, called only
 * after the CPU check): y rows [m0, m1) × row groups [g0, g1). */
/* The AVX-512 attention (scores as a small GEMM against 32 transposed keys at a time, a
 * vector exp in the softmax, P·V with values streamed once per 3 rows); needs hd % 16 == 0. */
/* Keys [0, L) (rows of hd floats, stride kv_stride) as blocks of 32 transposed keys:
 * Kt[b·hd·32 + d·32 + j] = K[32b + j][d], zeros past L: the form attend reads, made once per
 * key range rather than by every block of queries. vs2k_keys_t_floats: the floats Kt takes. */
void vs2k_transpose_keys(const float *K, int64_t kv_stride, int64_t L, int hd, float *Kt);
static inline int64_t vs2k_keys_t_floats(int64_t L, int hd) { return (L + 31) / 32 * 32 * hd; }
void vs2k_attend_avx512(const float *qbuf, int64_t nrows, const int64_t *lim, const float *Kt,
                        const float *V, int64_t kv_stride, int hd, float *scratch, float *obuf);
void vs2k_attend_bf16_avx512(const float *qbuf, int64_t nrows, const int64_t *lim, const uint16_t *Kt,
                             const uint16_t *V, int64_t kv_stride, int hd, float *scratch, float *obuf);
size_t vs2k_attend_scratch(int64_t nrows, int64_t Lk, int hd);
void vs2k_q8_tiles_avx512(const vs2_q8_act *a, int64_t m0, int64_t m1, const vs2_weight *w,
                          int64_t g0, int64_t g1, float *y);

#endif
