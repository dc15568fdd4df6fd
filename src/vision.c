/* vision.c — the Qwen2.5-VL vision tower (docs/qwen2.5-vl.md §4), in the reference's order; linear
 * layers, attention and SwiGLU go through the kernel set chosen at load (kernels.h). The text
 * below describes the reference set, the exact path.
 *
 * Weights stay mmap'd as stored; the reference linear widens tiles as it goes. Activations are fp32:
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
#include "model_tensors.h"

#include <math.h>
#include <stdlib.h>


#define VISION_EPS 1e-6
#define ROPE_THETA 10000.0
/* Largest accepted input: 2^22 patches (the real model's worst case is ~100k). */
#define MAX_PATCHES ((int64_t)1 << 22)
#define MASKED_MAX_N 8192

typedef struct vision_block {
    vs2_weight qkv, proj, gate, up, down; /* prepared for the kernel set, with their biases */
    float *norm1, *norm2; /* widened, hidden floats each */
    int full;             /* full attention (cu_seqlens) instead of windows */
} vision_block;

struct vs2_vision {
    vs2_vision_config cfg;
    int D, heads, hd, I, out_dim, merge, unit, vm, K;
    const vs2_kernels *k;
    vs2_weight patch;
    vision_block *blocks;
    float *ln_q;
    vs2_weight m0, m2;
    float inv_freq[256]; /* hd/4 rotary frequencies */
    int masked;
};

/* ---- construction ------------------------------------------------------------------------------ */

static vs2_status widen_vector(const vs2_tensor *t, float **out, vs2_error *err) {
    *out = malloc((size_t)t->shape[0] * sizeof(float));
    if (!*out) return vs2__fail(err, VS2_ERR_NOMEM, "vision tower: out of memory");
    vs2k_widen(t, 0, t->shape[0], *out);
    return VS2_OK;
}

/* The field a table entry (model_tensors.c) binds to; b is the entry's block, if any. */
static vs2_weight *matrix_of(vs2_vision *v, vision_block *b, vs2_tensor_slot slot) {
    switch (slot) {
    case VS2_T_PATCH_EMBED: return &v->patch;
    case VS2_T_V_QKV: return &b->qkv;
    case VS2_T_V_PROJ: return &b->proj;
    case VS2_T_V_GATE: return &b->gate;
    case VS2_T_V_UP: return &b->up;
    case VS2_T_V_DOWN: return &b->down;
    case VS2_T_MERGER_FC1: return &v->m0;
    case VS2_T_MERGER_FC2: return &v->m2;
    default: return NULL;
    }
}

static float **vector_of(vs2_vision *v, vision_block *b, vs2_tensor_slot slot) {
    switch (slot) {
    case VS2_T_V_NORM1: return &b->norm1;
    case VS2_T_V_NORM2: return &b->norm2;
    case VS2_T_MERGER_NORM: return &v->ln_q;
    default: return NULL;
    }
}

/* Every vision entry of the table, in its order (block entries block by block): matrices
 * prepared for the kernel set with their biases, norm weights widened. */
static vs2_status bind_weights(const vs2_model_files *mf, const vs2_prep *prep, vs2_vision *v, vs2_error *err) {
    size_t n;
    const vs2_tensor_spec *T = vs2_model_tensors(&n);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && T[j].part == T[i].part) j++;
        const int blocks = T[i].part == VS2_PART_VISION_BLOCK;
        if (blocks || T[i].part == VS2_PART_VISION)
            for (int k = 0; k < (blocks ? v->cfg.depth : 1); k++)
                for (size_t e = i; e < j; e++) {
                    vision_block *b = blocks ? &v->blocks[k] : NULL;
                    const vs2_tensor *w, *bias;
                    vs2_status st = vs2_tensor_get(mf, &T[e], k, &w, &bias, err);
                    if (st == VS2_OK && T[e].use == VS2_USE_MATRIX)
                        st = vs2k_weight_prepare(prep, w, bias, matrix_of(v, b, T[e].slot), err);
                    else if (st == VS2_OK)
                        st = widen_vector(w, vector_of(v, b, T[e].slot), err);
                    if (st != VS2_OK) return st;
                }
        i = j;
    }
    return VS2_OK;
}

vs2_status vs2_vision_create(const vs2_model_files *mf, vs2_vision **out, vs2_error *err) {
    const vs2_prep prep = {&vs2k_ref, NULL, NULL};
    return vs2_vision_create_k(mf, &prep, out, err);
}

vs2_status vs2_vision_create_k(const vs2_model_files *mf, const vs2_prep *prep, vs2_vision **out,
                               vs2_error *err) {
    if (!out || !prep || !prep->k) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_vision_create: out is NULL");
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
    v->k = prep->k;
    v->D = c->hidden_size;
    v->heads = c->num_heads;
    v->hd = hd;
    v->I = c->intermediate_size;
    v->out_dim = c->out_hidden_size;
    v->merge = c->spatial_merge_size;
    v->unit = v->merge * v->merge;
    v->vm = vm;
    v->K = c->in_chans * c->temporal_patch_size * c->patch_size * c->patch_size;

    v->blocks = calloc((size_t)c->depth, sizeof *v->blocks);
    if (!v->blocks) {
        st = vs2__fail(err, VS2_ERR_NOMEM, "vision tower: out of memory");
        goto fail;
    }
    for (int i = 0; i < c->depth; i++)
        for (int f = 0; f < c->n_fullatt; f++)
            if (c->fullatt_block_indexes[f] == i) v->blocks[i].full = 1;
    if ((st = bind_weights(mf, prep, v, err)) != VS2_OK) goto fail;

    /* inv_freq[k] = 1 / theta^(2k/dim), dim = hd/2, as torch computes it in float32: the
     * exponent is a float32 quotient; the power is rounded from double. */
    for (int f = 0; f < hd / 4; f++) {
        float e = (float)(2 * f) / (float)(hd / 2);
        float p = (float)pow(ROPE_THETA, (double)e);
        v->inv_freq[f] = 1.0f / p;
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
            vision_block *b = &v->blocks[i];
            vs2_weight *ws[] = {&b->qkv, &b->proj, &b->gate, &b->up, &b->down};
            for (size_t k = 0; k < sizeof ws / sizeof *ws; k++) vs2k_weight_free(ws[k]);
            free(b->norm1);
            free(b->norm2);
        }
    vs2k_weight_free(&v->patch);
    vs2k_weight_free(&v->m0);
    vs2k_weight_free(&v->m2);
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
typedef struct attn_job {
    const vs2_vision *v;
    const float *qkv, *mask;
    const int64_t *cu;
    int64_t per, N, qb;
    float *scratch, *out;
} attn_job;

static void segment_task(void *ctx, int64_t it, int thread) {
    const attn_job *j = ctx;
    float *sp = j->scratch + (size_t)thread * (size_t)j->per;
    const int64_t s = it / j->v->heads, L = j->cu[s + 1] - j->cu[s];
    attend(j->v, j->qkv, (int)(it % j->v->heads), j->cu[s], L, j->cu[s], j->cu[s + 1], NULL, 0, sp, j->out);
}

/* The fast sets' attention: one task is one (segment, head, block of FAST_QB queries); the
 * kernel reads each key and value row once per block. */
#define FAST_QB 32

typedef struct fast_job {
    const vs2_vision *v;
    const float *qkv;
    const int64_t *seg_of_task, *cu; /* first task of each segment; segment bounds */
    int64_t nseg, per;
    float *scratch, *out;
    float *kt;                        /* each (segment, head)'s keys, transposed */
    const int64_t *kt_off;            /* where segment s's heads start in kt */
} fast_job;

static void transpose_task(void *ctx, int64_t t, int thread) {
    (void)thread;
    const fast_job *j = ctx;
    const int64_t s = t / j->v->heads, h = t % j->v->heads, L = j->cu[s + 1] - j->cu[s], D = j->v->D;
    const float *K = j->qkv + j->cu[s] * 3 * D + D + h * j->v->hd;
    vs2k_transpose_keys(K, 3 * D, L, j->v->hd, j->kt + j->kt_off[s] + h * vs2k_keys_t_floats(L, j->v->hd));
}

static void fast_task(void *ctx, int64_t t, int thread) {
    const fast_job *j = ctx;
    const vs2_vision *v = j->v;
    int64_t s = 0;
    while (s + 1 < j->nseg && j->seg_of_task[s + 1] <= t) s++;
    const int64_t L = j->cu[s + 1] - j->cu[s], nqb = (L + FAST_QB - 1) / FAST_QB, local = t - j->seg_of_task[s];
    const int h = (int)(local / nqb), hd = v->hd;
    const int64_t q0 = j->cu[s] + (local % nqb) * FAST_QB, nq = j->cu[s + 1] - q0 < FAST_QB ? j->cu[s + 1] - q0 : FAST_QB;
    const int64_t D = v->D, stride = 3 * D;
    const float scale = 1.0f / sqrtf((float)hd);
    float *qbuf = j->scratch + (size_t)thread * (size_t)j->per, *obuf = qbuf + FAST_QB * hd;
    int64_t *lim = (int64_t *)(obuf + FAST_QB * hd);
    float *sc = (float *)(lim + FAST_QB);
    for (int64_t i = 0; i < nq; i++) {
        const float *src = j->qkv + (q0 + i) * stride + (int64_t)h * hd;
        for (int d = 0; d < hd; d++) qbuf[i * hd + d] = src[d] * scale;
        lim[i] = L;
    }
    const float *Kt = j->kt + j->kt_off[s] + h * vs2k_keys_t_floats(L, hd);
    const float *V = j->qkv + j->cu[s] * stride + 2 * D + (int64_t)h * hd;
    v->k->attend(qbuf, nq, lim, Kt, V, stride, hd, sc, obuf);
    for (int64_t i = 0; i < nq; i++)
        memcpy(j->out + (q0 + i) * D + (int64_t)h * hd, obuf + i * hd, (size_t)hd * sizeof(float));
}

static vs2_status fast_attention(const vs2_vision *v, const float *qkv, const int64_t *cu,
                                 int64_t nseg, float *attn_out, vs2_pool *pool, int64_t maxL) {
    fast_job j = {v, qkv, NULL, cu, nseg, 0, NULL, attn_out, NULL, NULL};
    int64_t *first = malloc((size_t)(nseg + 1) * sizeof *first), *kt_off = malloc((size_t)(nseg + 1) * sizeof *kt_off);
    /* floats per thread: q and out blocks, the limits (as int64), the kernel's scratch */
    j.per = (int64_t)(2 * FAST_QB * v->hd + 2 * FAST_QB) +
            (int64_t)(vs2k_attend_scratch(FAST_QB, maxL, v->hd) / sizeof(float));
    j.scratch = malloc((size_t)vs2_pool_threads(pool) * (size_t)j.per * sizeof(float));
    if (kt_off) {
        kt_off[0] = 0;
        for (int64_t s = 0; s < nseg; s++) kt_off[s + 1] = kt_off[s] + v->heads * vs2k_keys_t_floats(cu[s + 1] - cu[s], v->hd);
        j.kt = malloc((size_t)kt_off[nseg] * sizeof(float));
    }
    vs2_status st = first && j.scratch && kt_off && j.kt ? VS2_OK : VS2_ERR_NOMEM;
    if (st == VS2_OK) {
        first[0] = 0;
        for (int64_t s = 0; s < nseg; s++)
            first[s + 1] = first[s] + v->heads * ((cu[s + 1] - cu[s] + FAST_QB - 1) / FAST_QB);
        j.seg_of_task = first;
        j.kt_off = kt_off;
        vs2_pool_for(pool, nseg * v->heads, transpose_task, &j);
        vs2_pool_for(pool, first[nseg], fast_task, &j);
    }
    free(first);
    free(kt_off);
    free(j.kt);
    free(j.scratch);
    return st;
}

static vs2_status attention(const vs2_vision *v, const float *qkv, const int64_t *cu,
                            int64_t nseg, float *attn_out, vs2_pool *pool) {
    int64_t maxL = 1;
    for (int64_t s = 0; s < nseg; s++) maxL = cu[s + 1] - cu[s] > maxL ? cu[s + 1] - cu[s] : maxL;
    if (v->k->attend && v->hd % 16 == 0) return fast_attention(v, qkv, cu, nseg, attn_out, pool, maxL);
    attn_job j = {v, qkv, NULL, cu, attend_scratch(v->hd, maxL), 0, 0, NULL, attn_out};
    j.scratch = malloc((size_t)vs2_pool_threads(pool) * (size_t)j.per * sizeof(float));
    if (!j.scratch) return VS2_ERR_NOMEM;
    vs2_pool_for(pool, nseg * v->heads, segment_task, &j);
    free(j.scratch);
    return VS2_OK;
}

/* The test formulation: one attention over all N rows with an explicit N×N additive mask
 * (0 within the query's segment, -inf elsewhere). Work items: (head, block of 64 queries). */
static void masked_task(void *ctx, int64_t it, int thread) {
    const attn_job *j = ctx;
    float *sp = j->scratch + (size_t)thread * (size_t)j->per;
    const int64_t b = it / j->v->heads, q0 = b * j->qb, q1 = q0 + j->qb < j->N ? q0 + j->qb : j->N;
    attend(j->v, j->qkv, (int)(it % j->v->heads), 0, j->N, q0, q1, j->mask + q0 * j->N, j->N, sp, j->out);
}

static vs2_status attention_masked(const vs2_vision *v, const float *qkv, int64_t N,
                                   const int64_t *cu, int64_t nseg, float *attn_out, vs2_pool *pool) {
    const int threads = vs2_pool_threads(pool);
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
    attn_job j = {v, qkv, mask, cu, per, N, qb, scratch, attn_out};
    vs2_pool_for(pool, nqb * v->heads, masked_task, &j);
    free(mask);
    free(seg);
    free(scratch);
    return VS2_OK;
}

static void dump_block(const vs2_run *run, int i, const float *x, int64_t N, int64_t D) {
    if (!run || (!run->dump && !run->stage)) return;
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
    vs2_pool *pool = run ? run->pool : NULL, *own_pool = NULL;
    if (!pool && threads > 1) {
        if (vs2_pool_create(threads, &own_pool) != VS2_OK)
            return vs2__fail(err, VS2_ERR_NOMEM, "vision: cannot start %d threads", threads);
        pool = own_pool;
    }
    const int pthreads = vs2_pool_threads(pool);
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
    void *lin_scratch = NULL;
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
    /* One scratch for every linear (kernels never allocate): the widest input is the merger's
     * (Nu rows of merge²·hidden) or the MLP's (N rows of intermediate). */
    size_t lin_bytes = vs2k_linear_scratch(v->k, N, v->K > D ? v->K : D, pthreads), b2, b3;
    b2 = vs2k_linear_scratch(v->k, N, I, pthreads);
    b3 = vs2k_linear_scratch(v->k, Nu, unit * D, pthreads);
    lin_bytes = lin_bytes > b2 ? lin_bytes : b2;
    lin_scratch = malloc(lin_bytes > b3 ? lin_bytes : b3);
    if (!lin_scratch || !x || !nrm || !tmp || !big || !cosb || !sinb || !merged || !widx || !cu_win || !cu_full) {
        st = vs2__fail(err, VS2_ERR_NOMEM, "vision: out of memory for %lld patches", (long long)N);
        goto done;
    }

#define LINEAR(in, rows, w, y) v->k->linear(in, rows, &(w), y, lin_scratch, pool)

    /* Patch embedding: Conv3d with stride = kernel ≡ rows · W_pᵀ over [c][tp][py][px]. */
    LINEAR(pixel_values, N, v->patch, tmp);
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
        vs2k_rmsnorm_par(pool, x, N, D, b->norm1, VISION_EPS, nrm);
        LINEAR(nrm, N, b->qkv, big);
        apply_rotary(v, big, N, cosb, sinb);
        vs2_status a = v->masked ? attention_masked(v, big, N, cu, nseg, nrm, pool)
                                 : attention(v, big, cu, nseg, nrm, pool);
        if (a != VS2_OK) {
            st = a == VS2_ERR_UNSUPPORTED
                     ? vs2__fail(err, a, "vision: masked attention is limited to %d patches", MASKED_MAX_N)
                     : vs2__fail(err, a, "vision: out of memory in attention");
            goto done;
        }
        LINEAR(nrm, N, b->proj, tmp);
        vs2k_add_par(pool, x, tmp, N * D);
        /* x = x + down(silu(gate(norm2(x))) · up(norm2(x))) */
        vs2k_rmsnorm_par(pool, x, N, D, b->norm2, VISION_EPS, nrm);
        float *gate = big, *up = big + N * I;
        LINEAR(nrm, N, b->gate, gate);
        LINEAR(nrm, N, b->up, up);
        vs2k_silu_mul_par(pool, v->k, gate, up, N * I);
        LINEAR(gate, N, b->down, tmp);
        vs2k_add_par(pool, x, tmp, N * D);
        dump_block(run, i, x, N, D);
    }

    /* Merger: ln_q per row, merge² consecutive rows as one, Linear, GELU (erf), Linear. */
    vs2k_rmsnorm_par(pool, x, N, D, v->ln_q, VISION_EPS, nrm);
    LINEAR(nrm, Nu, v->m0, big);
    vs2k_gelu_par(pool, big, Nu * unit * D);
    LINEAR(big, Nu, v->m2, merged);
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
    free(lin_scratch);
    vs2_pool_free(own_pool);
    return st;
}
