/* vision.c — the Qwen2.5-VL vision tower, fp32 reference path (docs/qwen2.5-vl.md §4).
 *
 * Weights stay mmap'd as stored; vs2k_linear widens tiles as it goes. Activations are fp32:
 * the hidden state x, a normed copy, a residual-branch output (N × hidden each), one scratch of
 * N × max(3·hidden, 2·intermediate) shared by qkv and gate/up, and the per-row rotary cos/sin.
 * Attention runs per (segment, head) pair, one query row at a time, so its scratch is the
 * pair's K and V plus one row of scores per thread: O(segment) memory, never N².
 *
 * Determinism: every output element is computed by exactly one work item whose arithmetic
 * order does not depend on the thread count (vs2k_linear splits N into fixed tiles; attention
 * work items are whole (segment, head) pairs), so results are bit-identical for any threads.
 *
 * Order of rows: the processor's patch order (4 consecutive rows = one 2×2 merge unit) is
 * regrouped by the window index right after the patch embedding (the rotary tables are built in
 * that order too); blocks and merger run in window order; the merger output is scattered back
 * with the inverse permutation. */
#include "vision.h"

#include "internal.h"

#include <math.h>
#include <stdlib.h>


#define VISION_EPS 1e-6
#define ROPE_THETA 10000.0
/* Largest accepted input: 2^22 patches (the real model's worst case is ~100k). */
#define MAX_PATCHES ((int64_t)1 << 22)
#define MASKED_MAX_N 8192

typedef struct vision_block {
    const vs2_tensor *qkv_w, *qkv_b, *proj_w, *proj_b;
    const vs2_tensor *gate_w, *gate_b, *up_w, *up_b, *down_w, *down_b;
    float *norm1, *norm2; /* widened, hidden floats each */
    int full;             /* full attention (cu_seqlens) instead of windows */
} vision_block;

struct vs2_vision {
    vs2_vision_config cfg;
    int D, heads, hd, I, out_dim, merge, unit, vm, K;
    const vs2_tensor *patch_w;
    vision_block *blocks;
    float *ln_q;
    const vs2_tensor *m0_w, *m0_b, *m2_w, *m2_b;
    float inv_freq[256]; /* hd/4 rotary frequencies */
    int masked;
};

/* ---- construction ------------------------------------------------------------------------------ */

static vs2_status get_tensor(const vs2_model_files *mf, const char *name, int nd,
                             const int64_t *dims, const vs2_tensor **out, vs2_error *err) {
    const vs2_tensor *t = vs2_model_files_tensor(mf, name);
    if (!t) return vs2__fail(err, VS2_ERR_MODEL, "vision tower: tensor '%s' is missing", name);
    if (t->dtype != VS2_DTYPE_BF16 && t->dtype != VS2_DTYPE_F16 && t->dtype != VS2_DTYPE_F32)
        return vs2__fail(err, VS2_ERR_MODEL, "vision tower: tensor '%s' has dtype %s (need BF16, F16 or F32)",
                         name, vs2_dtype_name(t->dtype));
    int same = t->ndim == nd;
    for (int i = 0; same && i < nd; i++) same = t->shape[i] == dims[i];
    if (!same) {
        char got[128] = "", want[128] = "";
        size_t a = 0, b = 0;
        for (int i = 0; i < t->ndim && a < sizeof got; i++)
            a += (size_t)snprintf(got + a, sizeof got - a, "%s%lld", i ? "," : "", (long long)t->shape[i]);
        for (int i = 0; i < nd && b < sizeof want; i++)
            b += (size_t)snprintf(want + b, sizeof want - b, "%s%lld", i ? "," : "", (long long)dims[i]);
        return vs2__fail(err, VS2_ERR_MODEL, "vision tower: tensor '%s' has shape [%s], config implies [%s]",
                         name, got, want);
    }
    *out = t;
    return VS2_OK;
}

#define GET(name, out, ...)                                                                     \
    do {                                                                                        \
        const int64_t d_[] = {__VA_ARGS__};                                                     \
        st = get_tensor(mf, name, (int)(sizeof d_ / sizeof d_[0]), d_, out, err);               \
        if (st != VS2_OK) goto fail;                                                            \
    } while (0)

static vs2_status widen_vector(const vs2_tensor *t, float **out, vs2_error *err) {
    *out = malloc((size_t)t->shape[0] * sizeof(float));
    if (!*out) return vs2__fail(err, VS2_ERR_NOMEM, "vision tower: out of memory");
    vs2k_widen(t, 0, t->shape[0], *out);
    return VS2_OK;
}

vs2_status vs2_vision_create(const vs2_model_files *mf, vs2_vision **out, vs2_error *err) {
    if (!out) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_vision_create: out is NULL");
    *out = NULL;
    if (!mf) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_vision_create: model is NULL");
    const vs2_vision_config *c = &vs2_model_files_config(mf)->vision;
    if (c->depth < 1 || c->hidden_size < 1 || c->num_heads < 1 || c->intermediate_size < 1 ||
        c->in_chans < 1 || c->patch_size < 1 || c->temporal_patch_size < 1 ||
        c->spatial_merge_size < 1 || c->out_hidden_size < 1)
        return vs2__fail(err, VS2_ERR_MODEL, "vision config: sizes must be positive");
    if (c->hidden_size % c->num_heads != 0)
        return vs2__fail(err, VS2_ERR_MODEL, "vision config: hidden_size %d is not a multiple of num_heads %d",
                         c->hidden_size, c->num_heads);
    int hd = c->hidden_size / c->num_heads;
    if (hd % 4 != 0 || hd / 4 > 256)
        return vs2__fail(err, VS2_ERR_MODEL,
                         "vision config: head_dim %d must be a multiple of 4 (2-D rotary), at most 1024", hd);
    int vm = c->window_size / c->spatial_merge_size / c->patch_size;
    if (vm < 1)
        return vs2__fail(err, VS2_ERR_MODEL, "vision config: window_size %d is smaller than merge·patch = %d",
                         c->window_size, c->spatial_merge_size * c->patch_size);

    vs2_vision *v = calloc(1, sizeof *v);
    if (!v) return vs2__fail(err, VS2_ERR_NOMEM, "vision tower: out of memory");
    vs2_status st = VS2_OK;
    v->cfg = *c;
    v->D = c->hidden_size;
    v->heads = c->num_heads;
    v->hd = hd;
    v->I = c->intermediate_size;
    v->out_dim = c->out_hidden_size;
    v->merge = c->spatial_merge_size;
    v->unit = v->merge * v->merge;
    v->vm = vm;
    v->K = c->in_chans * c->temporal_patch_size * c->patch_size * c->patch_size;
    const int64_t D = v->D, I = v->I, M = (int64_t)v->unit * D;

    GET("visual.patch_embed.proj.weight", &v->patch_w, D, c->in_chans, c->temporal_patch_size,
        c->patch_size, c->patch_size);
    v->blocks = calloc((size_t)c->depth, sizeof *v->blocks);
    if (!v->blocks) {
        st = vs2__fail(err, VS2_ERR_NOMEM, "vision tower: out of memory");
        goto fail;
    }
    for (int i = 0; i < c->depth; i++) {
        vision_block *b = &v->blocks[i];
        char n[96];
        const vs2_tensor *t;
#define BT(suffix, field, ...)                                                                  \
    snprintf(n, sizeof n, "visual.blocks.%d.%s", i, suffix);                                    \
    GET(n, &b->field, __VA_ARGS__)
        BT("attn.qkv.weight", qkv_w, 3 * D, D);
        BT("attn.qkv.bias", qkv_b, 3 * D);
        BT("attn.proj.weight", proj_w, D, D);
        BT("attn.proj.bias", proj_b, D);
        BT("mlp.gate_proj.weight", gate_w, I, D);
        BT("mlp.gate_proj.bias", gate_b, I);
        BT("mlp.up_proj.weight", up_w, I, D);
        BT("mlp.up_proj.bias", up_b, I);
        BT("mlp.down_proj.weight", down_w, D, I);
        BT("mlp.down_proj.bias", down_b, D);
#undef BT
        snprintf(n, sizeof n, "visual.blocks.%d.norm1.weight", i);
        GET(n, &t, D);
        if ((st = widen_vector(t, &b->norm1, err)) != VS2_OK) goto fail;
        snprintf(n, sizeof n, "visual.blocks.%d.norm2.weight", i);
        GET(n, &t, D);
        if ((st = widen_vector(t, &b->norm2, err)) != VS2_OK) goto fail;
        for (int k = 0; k < c->n_fullatt; k++)
            if (c->fullatt_block_indexes[k] == i) b->full = 1;
    }
    {
        const vs2_tensor *t;
        GET("visual.merger.ln_q.weight", &t, D);
        if ((st = widen_vector(t, &v->ln_q, err)) != VS2_OK) goto fail;
    }
    GET("visual.merger.mlp.0.weight", &v->m0_w, M, M);
    GET("visual.merger.mlp.0.bias", &v->m0_b, M);
    GET("visual.merger.mlp.2.weight", &v->m2_w, v->out_dim, M);
    GET("visual.merger.mlp.2.bias", &v->m2_b, v->out_dim);

    /* inv_freq[k] = 1 / theta^(2k/dim), dim = hd/2, as torch computes it in float32: the
     * exponent is a float32 quotient; the power is rounded from double. */
    for (int k = 0; k < hd / 4; k++) {
        float e = (float)(2 * k) / (float)(hd / 2);
        float p = (float)pow(ROPE_THETA, (double)e);
        v->inv_freq[k] = 1.0f / p;
    }
    *out = v;
    return VS2_OK;
fail:
    vs2_vision_free(v);
    return st;
}
#undef GET

void vs2_vision_free(vs2_vision *v) {
    if (!v) return;
    if (v->blocks)
        for (int i = 0; i < v->cfg.depth; i++) {
            free(v->blocks[i].norm1);
            free(v->blocks[i].norm2);
        }
    free(v->blocks);
    free(v->ln_q);
    free(v);
}

void vs2_vision_set_masked_attention(vs2_vision *v, int on) {
    if (v) v->masked = on != 0;
}

/* ---- window index ------------------------------------------------------------------------------ */

int64_t vs2_vision_window_index(int grid_t, int grid_h, int grid_w, int merge, int vm,
                                int64_t *window_index, int64_t *cu) {
    const int64_t Hm = grid_h / merge, Wm = grid_w / merge, unit = (int64_t)merge * merge;
    /* transformers pads H', W' up with vm - H' % vm (a whole empty window row/column when
     * already divisible); windows made only of padding contribute a repeated cumulative length
     * that unique_consecutive drops. Enumerating only the ceil(H'/vm) × ceil(W'/vm) windows that
     * hold a real unit gives the same lists: every such window is non-empty. */
    const int64_t nwh = (Hm + vm - 1) / vm, nww = (Wm + vm - 1) / vm;
    int64_t n = 0, nc = 0;
    cu[nc++] = 0;
    for (int64_t t = 0; t < grid_t; t++)
        for (int64_t wr = 0; wr < nwh; wr++)
            for (int64_t wc = 0; wc < nww; wc++) {
                int64_t count = 0;
                for (int64_t r = wr * vm; r < (wr + 1) * vm && r < Hm; r++)
                    for (int64_t col = wc * vm; col < (wc + 1) * vm && col < Wm; col++) {
                        window_index[n++] = (t * Hm + r) * Wm + col;
                        count++;
                    }
                cu[nc] = cu[nc - 1] + count * unit;
                nc++;
            }
    return nc;
}

/* ---- forward ----------------------------------------------------------------------------------- */

vs2_status vs2_vision_check_grid(const vs2_vision *v, int64_t n_rows, int grid_t, int grid_h,
                                 int grid_w, vs2_error *err) {
    if (!v) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vision: no vision tower");
    if (grid_t < 1 || grid_h < 1 || grid_w < 1)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "vision: grid (t=%d, h=%d, w=%d) must be positive",
                         grid_t, grid_h, grid_w);
    if (grid_h % v->merge || grid_w % v->merge)
        return vs2__fail(err, VS2_ERR_INVALID_ARG,
                         "vision: grid h=%d, w=%d must be multiples of the merge size %d", grid_h,
                         grid_w, v->merge);
    int64_t n = (int64_t)grid_t * grid_h; /* each factor < 2^31: checked step by step */
    if (n > MAX_PATCHES || (n *= grid_w) > MAX_PATCHES)
        return vs2__fail(err, VS2_ERR_UNSUPPORTED,
                         "vision: grid (t=%d, h=%d, w=%d) has more than %lld patches", grid_t,
                         grid_h, grid_w, (long long)MAX_PATCHES);
    if (n_rows >= 0 && n_rows != n)
        return vs2__fail(err, VS2_ERR_INVALID_ARG,
                         "vision: %lld pixel rows, but grid (t=%d, h=%d, w=%d) needs %lld",
                         (long long)n_rows, grid_t, grid_h, grid_w, (long long)n);
    return VS2_OK;
}

int64_t vs2_vision_out_rows(const vs2_vision *v, int grid_t, int grid_h, int grid_w) {
    if (vs2_vision_check_grid(v, -1, grid_t, grid_h, grid_w, NULL) != VS2_OK) return 0;
    return (int64_t)grid_t * grid_h * grid_w / v->unit;
}

/* cos/sin of the 2-D rotary angles for every row, in window order: row i is patch
 * (widx[i / unit]·unit + i % unit) of the processor order. hd/2 values each (the second half
 * of emb = [θ, θ] repeats the first). */
static void rotary_tables(const vs2_vision *v, const int64_t *widx, int64_t N, int grid_h,
                          int grid_w, float *cosb, float *sinb) {
    const int m = v->merge, unit = v->unit, q = v->hd / 4, half = v->hd / 2;
    const int64_t per_t = (int64_t)grid_h * grid_w, bw_n = grid_w / m;
    for (int64_t i = 0; i < N; i++) {
        int64_t r = widx[i / unit] * unit + i % unit; /* processor row */
        int64_t s = r % per_t, b = s / unit, u = s % unit;
        int64_t hpos = (b / bw_n) * m + u / m, wpos = (b % bw_n) * m + u % m;
        float *c = cosb + i * half, *sn = sinb + i * half;
        for (int k = 0; k < q; k++) {
            float th = (float)hpos * v->inv_freq[k], tw = (float)wpos * v->inv_freq[k];
            c[k] = cosf(th);
            sn[k] = sinf(th);
            c[q + k] = cosf(tw);
            sn[q + k] = sinf(tw);
        }
    }
}

/* x·cos + rotate_half(x)·sin on each head of the q and k parts of qkv rows (fp32). */
static void apply_rotary(const vs2_vision *v, float *qkv, int64_t N, const float *cosb,
                         const float *sinb) {
    const int hd = v->hd, half = hd / 2, D = v->D;
    for (int64_t i = 0; i < N; i++) {
        const float *c = cosb + i * half, *s = sinb + i * half;
        for (int part = 0; part < 2; part++)
            for (int h = 0; h < v->heads; h++) {
                float *x = qkv + i * 3 * D + (int64_t)part * D + (int64_t)h * hd;
                for (int j = 0; j < half; j++) {
                    float a = x[j], b = x[j + half];
                    x[j] = a * c[j] - b * s[j];
                    x[j + half] = b * c[j] + a * s[j];
                }
            }
    }
}

/* Key counts are padded to a multiple of this in the transposed K (the padding scores are
 * computed and ignored). */
#define VEC 16

/* Attention of one head over keys [k0, k0 + L) for query rows [q0, q1):
 * out_i = softmax(q_i·Kᵀ·scale + mask_i)·V. K is gathered transposed (hd × Lp, Lp = L rounded
 * up to VEC, zero padded) and V contiguous (L × hd) once per call, so both inner loops run over
 * contiguous memory (vs2k_axpy): score j accumulates over d in order, output d over j in order.
 * The arithmetic of a query row thus depends only on its keys, not on threads or grouping.
 * mask: NULL, or additive rows with stride mask_stride (row of query i at (i - q0)·stride).
 * scratch: attend_scratch(hd, L) floats. */
static int64_t attend_scratch(int hd, int64_t L) {
    const int64_t Lp = (L + VEC - 1) / VEC * VEC;
    return (int64_t)hd * Lp + L * hd + Lp;
}

static void attend(const vs2_vision *v, const float *qkv, int h, int64_t k0, int64_t L,
                   int64_t q0, int64_t q1, const float *mask, int64_t mask_stride,
                   float *scratch, float *attn_out) {
    const int hd = v->hd;
    const int64_t D = v->D, stride = 3 * D, hoff = (int64_t)h * hd;
    const int64_t Lp = (L + VEC - 1) / VEC * VEC;
    const float scale = 1.0f / sqrtf((float)hd);
    float *restrict kt = scratch, *restrict vt = scratch + (int64_t)hd * Lp,
                    *restrict sc = vt + L * hd;
    for (int64_t j = 0; j < L; j++) {
        const float *kr = qkv + (k0 + j) * stride + D + hoff, *vr = kr + D;
        for (int d = 0; d < hd; d++) kt[d * Lp + j] = kr[d];
        memcpy(vt + j * hd, vr, (size_t)hd * sizeof(float));
    }
    for (int d = 0; d < hd; d++)
        for (int64_t j = L; j < Lp; j++) kt[d * Lp + j] = 0.0f;
    for (int64_t i = q0; i < q1; i++) {
        const float *q = qkv + i * stride + hoff;
        for (int64_t j = 0; j < Lp; j++) sc[j] = 0.0f;
        for (int d = 0; d < hd; d++) vs2k_axpy(sc, q[d], kt + d * Lp, Lp);
        for (int64_t j = 0; j < L; j++) sc[j] *= scale;
        if (mask) {
            const float *mr = mask + (i - q0) * mask_stride;
            for (int64_t j = 0; j < L; j++) sc[j] += mr[j];
        }
        vs2k_softmax(sc, L);
        float *restrict o = attn_out + i * D + hoff;
        for (int d = 0; d < hd; d++) o[d] = 0.0f;
        for (int64_t j = 0; j < L; j++) vs2k_axpy(o, sc[j], vt + j * hd, hd);
    }
}

/* attn_out[N × D] = per-segment multi-head attention over qkv[N × 3D] (rotary applied).
 * Segments are [cu[s], cu[s+1]); one work item is one (segment, head) pair. */
static vs2_status attention(const vs2_vision *v, const float *qkv, const int64_t *cu,
                            int64_t nseg, float *attn_out, int threads) {
    int64_t maxL = 1;
    for (int64_t s = 0; s < nseg; s++) maxL = cu[s + 1] - cu[s] > maxL ? cu[s + 1] - cu[s] : maxL;
    const int64_t items = nseg * v->heads, per = attend_scratch(v->hd, maxL);
    if (threads > items) threads = (int)(items > 0 ? items : 1);
    float *scratch = malloc((size_t)threads * (size_t)per * sizeof(float));
    if (!scratch) return VS2_ERR_NOMEM;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
#endif
    for (int64_t it = 0; it < items; it++) {
        float *sp = scratch + (size_t)vs2k_thread_index() * (size_t)per;
        const int64_t s = it / v->heads, L = cu[s + 1] - cu[s];
        attend(v, qkv, (int)(it % v->heads), cu[s], L, cu[s], cu[s + 1], NULL, 0, sp, attn_out);
    }
    free(scratch);
    return VS2_OK;
}

/* The test formulation: one attention over all N rows with an explicit N×N additive mask
 * (0 within the query's segment, -inf elsewhere). Work items: (head, block of 64 queries). */
static vs2_status attention_masked(const vs2_vision *v, const float *qkv, int64_t N,
                                   const int64_t *cu, int64_t nseg, float *attn_out, int threads) {
    if (N > MASKED_MAX_N) return VS2_ERR_UNSUPPORTED;
    const int64_t per = attend_scratch(v->hd, N), qb = 64, nqb = (N + qb - 1) / qb;
    float *mask = malloc((size_t)N * (size_t)N * sizeof(float));
    int64_t *seg = malloc((size_t)N * sizeof *seg);
    float *scratch = malloc((size_t)threads * (size_t)per * sizeof(float));
    if (!mask || !seg || !scratch) {
        free(mask);
        free(seg);
        free(scratch);
        return VS2_ERR_NOMEM;
    }
    for (int64_t s = 0; s < nseg; s++)
        for (int64_t i = cu[s]; i < cu[s + 1]; i++) seg[i] = s;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++) mask[i * N + j] = seg[i] == seg[j] ? 0.0f : -INFINITY;
    const int64_t items = nqb * v->heads;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
#endif
    for (int64_t it = 0; it < items; it++) {
        float *sp = scratch + (size_t)vs2k_thread_index() * (size_t)per;
        const int64_t b = it / v->heads, q0 = b * qb, q1 = q0 + qb < N ? q0 + qb : N;
        attend(v, qkv, (int)(it % v->heads), 0, N, q0, q1, mask + q0 * N, N, sp, attn_out);
    }
    free(mask);
    free(seg);
    free(scratch);
    return VS2_OK;
}

static void dump_block(const vs2_run *run, int i, const float *x, int64_t N, int64_t D) {
    if (!run || !run->dump) return;
    char name[48];
    snprintf(name, sizeof name, "vision.block.%d", i);
    vs2k_dump(run, name, x, N, D);
}

vs2_status vs2_vision_forward(const vs2_vision *v, const float *pixel_values, int grid_t,
                              int grid_h, int grid_w, float *out, const vs2_run *run,
                              vs2_error *err) {
    vs2_status st = vs2_vision_check_grid(v, -1, grid_t, grid_h, grid_w, err);
    if (st != VS2_OK) return st;
    if (!pixel_values || !out)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "vision: pixel_values or out is NULL");
    const int threads = run && run->threads > 0 ? run->threads : 1;
    const int64_t D = v->D, I = v->I, unit = v->unit, hd = v->hd;
    const int64_t N = (int64_t)grid_t * grid_h * grid_w, Nu = N / unit;
    const int64_t Hm = grid_h / v->merge, Wm = grid_w / v->merge;
    const int64_t max_cu = 1 + grid_t * ((Hm + v->vm - 1) / v->vm) * ((Wm + v->vm - 1) / v->vm);
    const int64_t wide = 3 * D > 2 * I ? 3 * D : 2 * I;

    /* N ≤ 2^22 and the widths come from tensors that exist, so these products fit in int64;
     * size_t overflow is still checked for 32-bit hosts. */
    float *x = NULL, *nrm = NULL, *tmp = NULL, *big = NULL, *cosb = NULL, *sinb = NULL,
          *merged = NULL;
    int64_t *widx = NULL, *cu_win = NULL, *cu_full = NULL;
    uint64_t bytes_nd, bytes_big, bytes_rope, bytes_merged;
    if (!vs2__mul_ok((uint64_t)N * sizeof(float), (uint64_t)D, &bytes_nd) ||
        !vs2__mul_ok((uint64_t)N * sizeof(float), (uint64_t)wide, &bytes_big) ||
        !vs2__mul_ok((uint64_t)N * sizeof(float), (uint64_t)(hd / 2), &bytes_rope) ||
        !vs2__mul_ok((uint64_t)Nu * sizeof(float), (uint64_t)v->out_dim, &bytes_merged) ||
        bytes_big > SIZE_MAX)
        return vs2__fail(err, VS2_ERR_NOMEM, "vision: activations for %lld patches do not fit in memory",
                         (long long)N);
    x = malloc(bytes_nd);
    nrm = malloc(bytes_nd);
    tmp = malloc(bytes_nd);
    big = malloc(bytes_big);
    cosb = malloc(bytes_rope);
    sinb = malloc(bytes_rope);
    merged = malloc(bytes_merged);
    widx = malloc((size_t)Nu * sizeof *widx);
    cu_win = malloc((size_t)max_cu * sizeof *cu_win);
    cu_full = malloc((size_t)(grid_t + 1) * sizeof *cu_full);
    if (!x || !nrm || !tmp || !big || !cosb || !sinb || !merged || !widx || !cu_win || !cu_full) {
        st = vs2__fail(err, VS2_ERR_NOMEM, "vision: out of memory for %lld patches", (long long)N);
        goto done;
    }

#define LINEAR(in, rows, k, w, b, y)                                                            \
    do {                                                                                        \
        if (vs2k_linear(in, rows, k, w, b, y, run) != VS2_OK) {                                 \
            st = vs2__fail(err, VS2_ERR_NOMEM, "vision: out of memory in a linear layer");      \
            goto done;                                                                          \
        }                                                                                       \
    } while (0)

    /* Patch embedding: Conv3d with stride = kernel ≡ rows · W_pᵀ over [c][tp][py][px]. */
    LINEAR(pixel_values, N, v->K, v->patch_w, NULL, tmp);
    vs2k_dump(run, "vision.patch_embed", tmp, N, D);

    /* Window index, segments, and the regrouping of rows (in units of merge² rows). */
    const int64_t n_cu = vs2_vision_window_index(grid_t, grid_h, grid_w, v->merge, v->vm, widx, cu_win);
    for (int64_t t = 0; t <= grid_t; t++) cu_full[t] = t * (int64_t)grid_h * grid_w;
    if (run && run->dump) {
        for (int64_t k = 0; k < Nu; k++) merged[k] = (float)widx[k]; /* merged is free here */
        vs2k_dump(run, "vision.window_index", merged, Nu, 1);
    }
    for (int64_t k = 0; k < Nu; k++)
        memcpy(x + k * unit * D, tmp + widx[k] * unit * D, (size_t)(unit * D) * sizeof(float));
    rotary_tables(v, widx, N, grid_h, grid_w, cosb, sinb);

    for (int i = 0; i < v->cfg.depth; i++) {
        const vision_block *b = &v->blocks[i];
        const int64_t *cu = b->full ? cu_full : cu_win;
        const int64_t nseg = b->full ? grid_t : n_cu - 1;
        /* x = x + proj(attn(norm1(x))) */
        vs2k_rmsnorm(x, N, D, b->norm1, VISION_EPS, nrm);
        LINEAR(nrm, N, D, b->qkv_w, b->qkv_b, big);
        apply_rotary(v, big, N, cosb, sinb);
        vs2_status a = v->masked ? attention_masked(v, big, N, cu, nseg, nrm, threads)
                                 : attention(v, big, cu, nseg, nrm, threads);
        if (a != VS2_OK) {
            st = a == VS2_ERR_UNSUPPORTED
                     ? vs2__fail(err, a, "vision: masked attention is limited to %d patches", MASKED_MAX_N)
                     : vs2__fail(err, a, "vision: out of memory in attention");
            goto done;
        }
        LINEAR(nrm, N, D, b->proj_w, b->proj_b, tmp);
        vs2k_add(x, tmp, N * D);
        /* x = x + down(silu(gate(norm2(x))) · up(norm2(x))) */
        vs2k_rmsnorm(x, N, D, b->norm2, VISION_EPS, nrm);
        float *gate = big, *up = big + N * I;
        LINEAR(nrm, N, D, b->gate_w, b->gate_b, gate);
        LINEAR(nrm, N, D, b->up_w, b->up_b, up);
        vs2k_silu_mul(gate, up, N * I);
        LINEAR(gate, N, I, b->down_w, b->down_b, tmp);
        vs2k_add(x, tmp, N * D);
        dump_block(run, i, x, N, D);
    }

    /* Merger: ln_q per row, merge² consecutive rows as one, Linear, GELU (erf), Linear. */
    vs2k_rmsnorm(x, N, D, v->ln_q, VISION_EPS, nrm);
    LINEAR(nrm, Nu, unit * D, v->m0_w, v->m0_b, big);
    vs2k_gelu(big, Nu * unit * D);
    LINEAR(big, Nu, unit * D, v->m2_w, v->m2_b, merged);
    vs2k_dump(run, "vision.merger", merged, Nu, v->out_dim);
    /* Inverse window permutation: out[widx[k]] = merged[k]. */
    for (int64_t k = 0; k < Nu; k++)
        memcpy(out + widx[k] * v->out_dim, merged + k * v->out_dim, (size_t)v->out_dim * sizeof(float));
    vs2k_dump(run, "vision.out", out, Nu, v->out_dim);
#undef LINEAR
    st = VS2_OK;
done:
    free(x);
    free(nrm);
    free(tmp);
    free(big);
    free(cosb);
    free(sinb);
    free(merged);
    free(widx);
    free(cu_win);
    free(cu_full);
    return st;
}
