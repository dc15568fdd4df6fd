/* llm.c — the Qwen2.5-VL language model (docs/qwen2.5-vl.md §5), in the readable order of the
 * reference; the linear layers, the attention and SwiGLU go through the kernel set chosen at
 * load (kernels.h). The text below describes the reference set, the exact path.
 *
 * Weights stay as stored (bf16/f16/f32, mmap'd); the reference linear widens tiles as it goes
 * and the embedding rows are widened one at a time, so no whole weight matrix is ever held in
 * fp32 (int8 sets hold their own int8 copies). Only the norm weights (2·layers + 1 vectors of
 * hidden_size) are widened once at load.
 *
 * Everything here is fp32, matching an fp32/eager transformers run: RMSNorm, the M-RoPE
 * cos/sin (NOT rounded to bf16 — that rounding, §8, belongs to a bf16 path), the attention
 * scores (q·k then × 1/√head_dim), the fp32 softmax and P·V.
 *
 * KV cache: fp32 [layer][kv_head][max_tokens][head_dim], once for keys (rotated) and once for
 * values: 2·layers·kv_heads·head_dim·4 bytes per token = 112 KiB for the 7B model, so about
 * 0.45 GB for 4,000 tokens.
 *
 * Peak activation memory of a forward over n tokens: about n·(3·hidden + 2·heads·head_dim +
 * 2·kv_heads·head_dim + head_dim) floats plus the MLP working set of MLP_ROWS rows (the MLP
 * runs in row chunks so the n × intermediate_size buffers never exist), i.e. ~0.3 GB at
 * n = 4,000 for the 7B shapes.
 *
 * Threads (the pool of the call): linear layers split output columns; attention splits (head,
 * query row) pairs (fast sets: (KV head, block of positions)). Each output value is computed
 * by one thread in a fixed order, so the results do not depend on the thread count (bit for
 * bit). */
#include "internal.h"
#include "llm.h"
#include "model_tensors.h"

#include <math.h>
#include <stdlib.h>


/* Rows per MLP chunk: bounds the gate/up buffers to MLP_ROWS × intermediate_size floats. */
#define MLP_ROWS 256
/* Positions must be exact in fp32 (torch converts them to float before multiplying). */
#define MAX_POSITION (INT64_C(1) << 24)

typedef struct layer {
    vs2_weight q, k, v, o, gate, up, down; /* prepared for the kernel set (q/k/v with biases) */
    float *in_norm, *post_norm;            /* widened RMSNorm weights */
} layer;

struct vs2_llm {
    int D, L, Hq, Hkv, hd, I, V;
    int section[3]; /* mrope_section in frequencies: t, h, w */
    double eps;
    int32_t video_id;
    const vs2_kernels *k;
    const vs2_tensor *embed;
    vs2_weight lm_head;
    layer *layers;
    float *final_norm;
    float *inv_freq; /* hd/2 */
};

struct vs2_kv_cache {
    int L, Hkv, hd;
    int64_t max, len;
    /* v: [L][Hkv][max][hd]. k: the same, or with kt (the fast sets' attention) each head's keys
     * transposed in blocks of 32 positions, [L][Hkv][max/32][hd][32] (max a multiple of 32), the
     * layout their attend reads: a new key is written once, never re-laid out per step.
     * Elements are fp32, or bf16 with bf16 (a fast set with attend_bf16): half the memory and
     * the bytes each decode step reads, the precision the checkpoint's own inference keeps. */
    void *k, *v;
    int kt, bf16;
};

static int fast_attention(const vs2_llm *m) { return m->k->attend && m->hd % 16 == 0; }
static int bf16_cache(const vs2_llm *m) { return fast_attention(m) && m->k->attend_bf16; }
static size_t kv_esize(const vs2_kv_cache *kv) { return kv->bf16 ? 2 : sizeof(float); }

/* The first element of head g of layer l in a cache array (k or v). */
static void *kv_head(const vs2_kv_cache *kv, void *base, int l, int g) {
    return (char *)base + (size_t)(((int64_t)l * kv->Hkv + g) * kv->max * kv->hd) * kv_esize(kv);
}

/* Store hd values as the cache's element type, element d at dst[d·stride]. */
static void kv_store(const vs2_kv_cache *kv, void *dst, int64_t stride, const float *src) {
    if (kv->bf16)
        for (int d = 0; d < kv->hd; d++) ((uint16_t *)dst)[d * stride] = vs2k_f32_to_bf16(src[d]);
    else
        for (int d = 0; d < kv->hd; d++) ((float *)dst)[d * stride] = src[d];
}

/* Write position p's key and value of layer l, head g. */
static void kv_write(const vs2_kv_cache *kv, int l, int g, int64_t p, const float *key, const float *value) {
    const size_t es = kv_esize(kv);
    char *kh = kv_head(kv, kv->k, l, g), *vh = kv_head(kv, kv->v, l, g);
    if (kv->kt) kv_store(kv, kh + (size_t)((p / 32) * 32 * kv->hd + p % 32) * es, 32, key);
    else kv_store(kv, kh + (size_t)(p * kv->hd) * es, 1, key);
    kv_store(kv, vh + (size_t)(p * kv->hd) * es, 1, value);
}

/* ---------------------------------------------------------------------------------------- */
/* Loading                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/* A 1-D weight widened to fp32 (malloc'd). */
static vs2_status widen(const vs2_tensor *t, float **out, vs2_error *err) {
    float *v = malloc((size_t)t->shape[0] * sizeof *v);
    if (!v) return vs2__fail(err, VS2_ERR_NOMEM, "out of memory for '%s'", t->name);
    vs2k_widen(t, 0, t->shape[0], v);
    *out = v;
    return VS2_OK;
}

void vs2_llm_free(vs2_llm *llm) {
    if (!llm) return;
    if (llm->layers)
        for (int l = 0; l < llm->L; l++) {
            layer *y = &llm->layers[l];
            vs2_weight *ws[] = {&y->q, &y->k, &y->v, &y->o, &y->gate, &y->up, &y->down};
            for (size_t i = 0; i < sizeof ws / sizeof *ws; i++) vs2k_weight_free(ws[i]);
            free(y->in_norm);
            free(y->post_norm);
        }
    vs2k_weight_free(&llm->lm_head);
    free(llm->layers);
    free(llm->final_norm);
    free(llm->inv_freq);
    free(llm);
}

vs2_status vs2_llm_create(const vs2_model_files *mf, vs2_llm **out, vs2_error *err) {
    const vs2_prep prep = {&vs2k_ref, NULL, NULL};
    return vs2_llm_create_k(mf, &prep, out, err);
}

/* The field a table entry (model_tensors.c) binds to; y is the entry's layer, if any. */
static vs2_weight *matrix_of(vs2_llm *m, layer *y, vs2_tensor_slot slot) {
    switch (slot) {
    case VS2_T_Q: return &y->q;
    case VS2_T_K: return &y->k;
    case VS2_T_V: return &y->v;
    case VS2_T_O: return &y->o;
    case VS2_T_GATE: return &y->gate;
    case VS2_T_UP: return &y->up;
    case VS2_T_DOWN: return &y->down;
    case VS2_T_LM_HEAD: return &m->lm_head;
    default: return NULL;
    }
}

static float **vector_of(vs2_llm *m, layer *y, vs2_tensor_slot slot) {
    switch (slot) {
    case VS2_T_IN_NORM: return &y->in_norm;
    case VS2_T_POST_NORM: return &y->post_norm;
    case VS2_T_NORM: return &m->final_norm;
    default: return NULL;
    }
}

static vs2_status bind_entry(const vs2_model_files *mf, const vs2_prep *prep, vs2_llm *m, const vs2_tensor_spec *s,
                             int k, vs2_error *err) {
    layer *y = s->part == VS2_PART_LLM_LAYER ? &m->layers[k] : NULL;
    if (vs2_tensor_absent(s, vs2_model_files_config(mf))) /* tied: the head is the embedding */
        return vs2k_weight_prepare(prep, m->embed, NULL, matrix_of(m, y, s->slot), err);
    const vs2_tensor *w, *bias;
    vs2_status st = vs2_tensor_get(mf, s, k, &w, &bias, err);
    if (st != VS2_OK) return st;
    switch (s->use) {
    case VS2_USE_MATRIX: return vs2k_weight_prepare(prep, w, bias, matrix_of(m, y, s->slot), err);
    case VS2_USE_VECTOR: return widen(w, vector_of(m, y, s->slot), err);
    case VS2_USE_STORED: m->embed = w; return VS2_OK; /* the only stored entry */
    }
    return VS2_OK;
}

/* Every language-model entry of the table, in its order (layer entries layer by layer). */
static vs2_status bind_weights(const vs2_model_files *mf, const vs2_prep *prep, vs2_llm *m, vs2_error *err) {
    size_t n;
    const vs2_tensor_spec *T = vs2_model_tensors(&n);
    vs2_status st = VS2_OK;
    for (size_t i = 0; i < n && st == VS2_OK;) {
        size_t j = i + 1;
        while (j < n && T[j].part == T[i].part) j++;
        const int layers = T[i].part == VS2_PART_LLM_LAYER;
        if (layers || T[i].part == VS2_PART_LLM)
            for (int k = 0; k < (layers ? m->L : 1) && st == VS2_OK; k++)
                for (size_t e = i; e < j && st == VS2_OK; e++) st = bind_entry(mf, prep, m, &T[e], k, err);
        i = j;
    }
    return st;
}

vs2_status vs2_llm_create_k(const vs2_model_files *mf, const vs2_prep *prep, vs2_llm **out, vs2_error *err) {
    if (!mf || !out || !prep || !prep->k) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_llm_create: NULL argument");
    *out = NULL;
    const vs2_config *c = vs2_model_files_config(mf);
    if (c->hidden_size <= 0 || c->num_hidden_layers <= 0 || c->num_attention_heads <= 0 ||
        c->num_key_value_heads <= 0 || c->head_dim <= 0 || c->head_dim % 2 || c->intermediate_size <= 0 ||
        c->vocab_size <= 0 || c->num_attention_heads % c->num_key_value_heads ||
        !(c->rope_theta > 0) || !(c->rms_norm_eps >= 0))
        return vs2__fail(err, VS2_ERR_MODEL,
                         "config: unusable language-model shape (hidden %d, layers %d, heads %d/%d, "
                         "head_dim %d, intermediate %d, vocab %d)",
                         c->hidden_size, c->num_hidden_layers, c->num_attention_heads,
                         c->num_key_value_heads, c->head_dim, c->intermediate_size, c->vocab_size);
    if (c->mrope_section[0] < 0 || c->mrope_section[1] < 0 || c->mrope_section[2] < 0 ||
        2 * (c->mrope_section[0] + c->mrope_section[1] + c->mrope_section[2]) != c->head_dim)
        return vs2__fail(err, VS2_ERR_MODEL, "config: mrope_section [%d, %d, %d] does not cover head_dim %d / 2",
                         c->mrope_section[0], c->mrope_section[1], c->mrope_section[2], c->head_dim);

    vs2_llm *m = calloc(1, sizeof *m);
    if (!m) return vs2__fail(err, VS2_ERR_NOMEM, "out of memory");
    m->D = c->hidden_size;
    m->L = c->num_hidden_layers;
    m->Hq = c->num_attention_heads;
    m->Hkv = c->num_key_value_heads;
    m->hd = c->head_dim;
    m->I = c->intermediate_size;
    m->V = c->vocab_size;
    m->eps = c->rms_norm_eps;
    m->video_id = c->video_token_id;
    m->k = prep->k;
    for (int a = 0; a < 3; a++) m->section[a] = c->mrope_section[a];

    vs2_status st = VS2_OK;
    m->layers = calloc((size_t)m->L, sizeof *m->layers);
    m->inv_freq = malloc((size_t)(m->hd / 2) * sizeof(float));
    if (!m->layers || !m->inv_freq) {
        st = vs2__fail(err, VS2_ERR_NOMEM, "out of memory");
        goto fail;
    }
    vs2_rope_inv_freq(m->hd, c->rope_theta, m->inv_freq);

    st = bind_weights(mf, prep, m, err);
    if (st != VS2_OK) goto fail;
    *out = m;
    vs2__ok(err);
    return VS2_OK;
fail:
    vs2_llm_free(m);
    return st;
}

int32_t vs2_llm_vocab(const vs2_llm *llm) { return llm ? llm->V : 0; }

double vs2_llm_kv_bytes_per_token(const vs2_llm *llm) {
    return llm ? 2.0 * llm->L * llm->Hkv * llm->hd * (bf16_cache(llm) ? 2 : sizeof(float)) : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* KV cache                                                                                  */
/* ---------------------------------------------------------------------------------------- */

vs2_status vs2_kv_cache_create(const vs2_llm *llm, int64_t max_tokens, vs2_kv_cache **out,
                               vs2_error *err) {
    if (!llm || !out || max_tokens <= 0)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_kv_cache_create: NULL argument or max_tokens <= 0");
    *out = NULL;
    const int kt = fast_attention(llm), bf16 = bf16_cache(llm);
    if (kt && max_tokens <= INT64_MAX - 31) max_tokens = (max_tokens + 31) / 32 * 32;
    uint64_t per_tok = (uint64_t)llm->L * (uint64_t)llm->Hkv * (uint64_t)llm->hd, total, bytes;
    if (!vs2__mul_ok(per_tok, (uint64_t)max_tokens, &total) || !vs2__mul_ok(total, 2 * sizeof(float), &bytes) ||
        bytes > (uint64_t)SIZE_MAX / 2)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "a KV cache of %lld tokens is too large", (long long)max_tokens);
    vs2_kv_cache *kv = calloc(1, sizeof *kv);
    if (kv) {
        /* calloc: untouched pages are never committed, so an oversized max_tokens costs nothing. */
        kv->k = calloc((size_t)total, bf16 ? 2 : sizeof(float));
        kv->v = calloc((size_t)total, bf16 ? 2 : sizeof(float));
    }
    if (!kv || !kv->k || !kv->v) {
        vs2_kv_cache_free(kv);
        return vs2__fail(err, VS2_ERR_NOMEM, "out of memory for a KV cache of %lld tokens (%.2f GB)",
                         (long long)max_tokens, (double)bytes / 1e9);
    }
    kv->L = llm->L;
    kv->Hkv = llm->Hkv;
    kv->hd = llm->hd;
    kv->max = max_tokens;
    kv->kt = kt;
    kv->bf16 = bf16;
    *out = kv;
    vs2__ok(err);
    return VS2_OK;
}

void vs2_kv_cache_free(vs2_kv_cache *kv) {
    if (!kv) return;
    free(kv->k);
    free(kv->v);
    free(kv);
}

int64_t vs2_kv_cache_len(const vs2_kv_cache *kv) { return kv ? kv->len : 0; }
int64_t vs2_kv_cache_capacity(const vs2_kv_cache *kv) { return kv ? kv->max : 0; }

vs2_status vs2_kv_cache_copy(vs2_kv_cache *dst, const vs2_kv_cache *src, int64_t len, vs2_error *err) {
    if (!dst || !src || dst->L != src->L || dst->Hkv != src->Hkv || dst->hd != src->hd || dst->kt != src->kt ||
        dst->bf16 != src->bf16 || len < 0 ||
        len > src->len || len > dst->max)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_kv_cache_copy: caches of different models or length %lld "
                         "outside the source (%lld) or the destination (%lld)", (long long)len,
                         src ? (long long)src->len : 0LL, dst ? (long long)dst->max : 0LL);
    const size_t row = (size_t)src->hd * kv_esize(src) * (size_t)len;
    /* Transposed keys: whole blocks of 32 (both capacities are multiples of 32). */
    const size_t krow = src->kt ? (size_t)src->hd * kv_esize(src) * (size_t)((len + 31) / 32 * 32) : row;
    for (int l = 0; l < src->L; l++)
        for (int g = 0; g < src->Hkv; g++) {
            memcpy(kv_head(dst, dst->k, l, g), kv_head(src, src->k, l, g), krow);
            memcpy(kv_head(dst, dst->v, l, g), kv_head(src, src->v, l, g), row);
        }
    dst->len = len;
    return VS2_OK;
}

void vs2_kv_cache_truncate(vs2_kv_cache *kv, int64_t len) {
    if (kv && len >= 0 && len < kv->len) kv->len = len;
}

void vs2_kv_cache_set_len(vs2_kv_cache *kv, int64_t len) {
    if (kv && len >= 0 && len <= kv->max) kv->len = len;
}

/* ---------------------------------------------------------------------------------------- */
/* Forward                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/* cos/sin [n][hd/2] for M-RoPE (§5.4): frequency f takes its angle from the t, h or w
 * position by mrope_section (the doubled section list of transformers picks the same axis
 * for dims f and f + hd/2, so one half-width table serves both). Angle = fp32(pos) ·
 * inv_freq[f] rounded to fp32, as torch's fp32 matmul of a K = 1 product; cos/sin of that
 * fp32 angle evaluated in double and rounded once (torch's fp32 cos/sin are within 1 ulp). */
static void rope_tables(const vs2_llm *m, const int64_t *pos, int64_t n, float *cs, float *sn) {
    const int half = m->hd / 2;
    for (int64_t i = 0; i < n; i++)
        for (int f = 0; f < half; f++) {
            int axis = f < m->section[0] ? 0 : f < m->section[0] + m->section[1] ? 1 : 2;
            float ang = (float)pos[axis * n + i] * m->inv_freq[f];
            cs[i * half + f] = (float)cos((double)ang);
            sn[i * half + f] = (float)sin((double)ang);
        }
}

/* rotate_half form: x'[f] = x[f]·c − x[f+half]·s, x'[f+half] = x[f+half]·c + x[f]·s. */
static void rope_apply(float *x, int64_t n, int heads, int hd, const float *cs, const float *sn) {
    const int half = hd / 2;
    for (int64_t i = 0; i < n; i++)
        for (int h = 0; h < heads; h++) {
            float *v = x + (i * heads + h) * hd;
            const float *c = cs + i * half, *s = sn + i * half;
            for (int f = 0; f < half; f++) {
                float a = v[f], b = v[f + half];
                v[f] = a * c[f] - b * s[f];
                v[f + half] = b * c[f] + a * s[f];
            }
        }
}

/* Dot product with 8 independent partial sums (vectorisable without reassociation). */
static float dot(const float *a, const float *b, int n) {
    float acc[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[i + j] * b[i + j];
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Causal grouped-query attention of the n new rows over the cache (which already holds
 * them): query row i sits at absolute index L0 + i and sees keys 0..L0+i. q head h uses
 * kv head h / (Hq / Hkv). out: [n][Hq·hd]. scores: threads × (L0 + n) floats. One task is
 * one (head, query row) pair. */
typedef struct attn_job {
    const vs2_llm *m;
    const vs2_kv_cache *kv;
    int l;
    const float *q;
    int64_t L0, n;
    float *out, *scores;
} attn_job;

static void attention_task(void *ctx, int64_t w, int thread) {
    const attn_job *a = ctx;
    const vs2_llm *m = a->m;
    const int hd = m->hd, group = m->Hq / m->Hkv;
    const int64_t total = a->L0 + a->n, qstride = (int64_t)m->Hq * hd;
    /* torch multiplies the fp32 scores by the Python float head_dim**-0.5, i.e. by its fp32
     * rounding. */
    const float scale = (float)(1.0 / sqrt((double)hd));
    float *sc = a->scores + (size_t)thread * (size_t)total;
    const int h = (int)(w / a->n);
    const int64_t i = w % a->n, lim = a->L0 + i + 1;
    const int g = h / group;
    const float *qi = a->q + i * qstride + (int64_t)h * hd;
    const float *K = kv_head(a->kv, a->kv->k, a->l, g), *Vv = kv_head(a->kv, a->kv->v, a->l, g); /* fp32 rows */
    for (int64_t j = 0; j < lim; j++) sc[j] = dot(qi, K + j * hd, hd) * scale;
    vs2k_softmax(sc, lim);
    float *o = a->out + i * qstride + (int64_t)h * hd;
    for (int d = 0; d < hd; d++) o[d] = 0.0f;
    for (int64_t j = 0; j < lim; j++) {
        const float p = sc[j], *vj = Vv + j * hd;
        for (int d = 0; d < hd; d++) o[d] += p * vj[d];
    }
}

/* The fast sets' attention: one task is one KV head with its group of query heads over a
 * block of ATT_QB positions, so each key and value row is read once for group·ATT_QB query
 * rows (7·8 = 56 at the 7B shapes). */
#define ATT_QB 8

static size_t fast_attn_scratch(const vs2_llm *m, int64_t total) {
    const int64_t rows = (int64_t)(m->Hq / m->Hkv) * ATT_QB;
    return 2 * (size_t)(rows * m->hd) * sizeof(float) + (size_t)rows * sizeof(int64_t) +
           vs2k_attend_scratch(rows, total, m->hd);
}

static void fast_attention_task(void *ctx, int64_t t, int thread) {
    const attn_job *a = ctx;
    const vs2_llm *m = a->m;
    const int hd = m->hd, group = m->Hq / m->Hkv;
    const int64_t nqb = (a->n + ATT_QB - 1) / ATT_QB, g = t / nqb, i0 = (t % nqb) * ATT_QB;
    const int64_t nq = a->n - i0 < ATT_QB ? a->n - i0 : ATT_QB, rows = group * nq;
    const int64_t qstride = (int64_t)m->Hq * hd;
    const float scale = (float)(1.0 / sqrt((double)hd));
    char *base = (char *)a->scores + (size_t)thread * fast_attn_scratch(m, a->L0 + a->n);
    float *qbuf = (float *)base, *obuf = qbuf + group * ATT_QB * hd;
    int64_t *lim = (int64_t *)(obuf + group * ATT_QB * hd);
    float *scratch = (float *)(lim + group * ATT_QB);
    for (int hh = 0; hh < group; hh++)
        for (int64_t i = 0; i < nq; i++) {
            const float *src = a->q + (i0 + i) * qstride + (g * group + hh) * hd;
            float *dst = qbuf + (hh * nq + i) * hd;
            for (int d = 0; d < hd; d++) dst[d] = src[d] * scale;
            lim[hh * nq + i] = a->L0 + i0 + i + 1;
        }
    const void *Kt = kv_head(a->kv, a->kv->k, a->l, (int)g), *V = kv_head(a->kv, a->kv->v, a->l, (int)g);
    if (a->kv->bf16) m->k->attend_bf16(qbuf, rows, lim, Kt, V, hd, hd, scratch, obuf);
    else m->k->attend(qbuf, rows, lim, Kt, V, hd, hd, scratch, obuf);
    for (int hh = 0; hh < group; hh++)
        for (int64_t i = 0; i < nq; i++)
            memcpy(a->out + (i0 + i) * qstride + (g * group + hh) * hd, obuf + (hh * nq + i) * hd,
                   (size_t)hd * sizeof(float));
}

/* scores: per thread (L0 + n) floats for the reference loops, fast_attn_scratch bytes for a
 * fast set's attend. */
static size_t attention_scratch(const vs2_llm *m, int64_t total) {
    return fast_attention(m) ? fast_attn_scratch(m, total) : (size_t)total * sizeof(float);
}

static void attention(const vs2_llm *m, const vs2_kv_cache *kv, int l, const float *q, int64_t L0,
                      int64_t n, float *out, float *scores, vs2_pool *pool) {
    attn_job a = {m, kv, l, q, L0, n, out, scores};
    if (fast_attention(m)) {
        vs2_pool_for(pool, (int64_t)m->Hkv * ((n + ATT_QB - 1) / ATT_QB), fast_attention_task, &a);
    } else
        vs2_pool_for(pool, (int64_t)m->Hq * n, attention_task, &a);
}

/* One sequence's rows in a pass: rows [r0, r0 + n) of the pass go to kv after its L0 cached
 * positions. A prefill is one segment of n rows; batched decoding is B segments of 1 row. */
typedef struct segment {
    vs2_kv_cache *kv;
    int64_t L0, r0, n;
} segment;

static vs2_status forward_segments(const vs2_llm *llm, const segment *segs, int nseg, const int32_t *ids,
                                   int64_t n, const float *video_embeds, const int64_t *pos, float *logits,
                                   int64_t n_logits, const vs2_run *run, vs2_error *err);

static vs2_status check_cache(const vs2_llm *llm, const vs2_kv_cache *kv, int64_t n, vs2_error *err) {
    if (kv->L != llm->L || kv->Hkv != llm->Hkv || kv->hd != llm->hd || kv->kt != fast_attention(llm) ||
        kv->bf16 != bf16_cache(llm))
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_llm_forward: the KV cache belongs to another model "
                         "(or to another kernel set's layout)");
    if (n > kv->max - kv->len)
        return vs2__fail(err, VS2_ERR_INVALID_ARG,
                         "KV cache overflow: %lld cached + %lld new tokens exceed its capacity of %lld",
                         (long long)kv->len, (long long)n, (long long)kv->max);
    return VS2_OK;
}

static vs2_status check_positions(const int64_t *pos, int64_t n, vs2_error *err) {
    for (int64_t i = 0; i < 3 * n; i++)
        if (pos[i] < 0 || pos[i] >= MAX_POSITION)
            return vs2__fail(err, VS2_ERR_INVALID_ARG, "position %lld of axis %lld is %lld, outside [0, 2^24)",
                             (long long)(i % n), (long long)(i / n), (long long)pos[i]);
    return VS2_OK;
}

vs2_status vs2_llm_forward(const vs2_llm *llm, vs2_kv_cache *kv, const int32_t *ids, int64_t n,
                           const float *video_embeds, int64_t n_video, const int64_t *pos,
                           float *logits, int64_t n_logits, const vs2_run *run, vs2_error *err) {
    if (!llm || !kv || !ids || !pos)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_llm_forward: NULL argument");
    if (n <= 0) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_llm_forward: no tokens (n = %lld)", (long long)n);
    vs2_status st = check_cache(llm, kv, n, err);
    if (st != VS2_OK) return st;
    if (logits && (n_logits < 0 || n_logits > n))
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "n_logits %lld is not in [0, %lld]", (long long)n_logits,
                         (long long)n);
    if (!logits) n_logits = 0;
    int64_t pads = 0;
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= llm->V)
            return vs2__fail(err, VS2_ERR_INVALID_ARG, "token %lld: id %d is outside the vocabulary [0, %d)",
                             (long long)i, ids[i], llm->V);
        if (ids[i] == llm->video_id) pads++;
    }
    if (n_video < 0 || pads != n_video || (n_video > 0 && !video_embeds))
        return vs2__fail(err, VS2_ERR_INVALID_ARG,
                         "%lld <|video_pad|> tokens in the ids but %lld video embedding rows%s", (long long)pads,
                         (long long)n_video, n_video > 0 && !video_embeds ? " (and video_embeds is NULL)" : "");
    if ((st = check_positions(pos, n, err)) != VS2_OK) return st;
    segment seg = {kv, kv->len, 0, n};
    return forward_segments(llm, &seg, 1, ids, n, video_embeds, pos, logits, n_logits, run, err);
}

vs2_status vs2_llm_decode_batch(const vs2_llm *llm, vs2_kv_cache *const *kvs, int B, const int32_t *ids,
                                const int64_t *pos, float *logits, const vs2_run *run, vs2_error *err) {
    if (!llm || !kvs || !ids || !pos || !logits || B < 1 || B > VS2_MAX_DECODE_BATCH)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_llm_decode_batch: NULL argument or batch %d outside [1, %d]",
                         B, VS2_MAX_DECODE_BATCH);
    segment segs[VS2_MAX_DECODE_BATCH];
    vs2_status st;
    for (int b = 0; b < B; b++) {
        if (!kvs[b]) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_llm_decode_batch: cache %d is NULL", b);
        for (int c = 0; c < b; c++)
            if (kvs[c] == kvs[b])
                return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_llm_decode_batch: caches %d and %d are the same", c, b);
        if ((st = check_cache(llm, kvs[b], 1, err)) != VS2_OK) return st;
        if (ids[b] < 0 || ids[b] >= llm->V || ids[b] == llm->video_id)
            return vs2__fail(err, VS2_ERR_INVALID_ARG, "sequence %d: id %d is not a text token of [0, %d)", b, ids[b],
                             llm->V);
        segs[b] = (segment){kvs[b], kvs[b]->len, b, 1};
    }
    if ((st = check_positions(pos, B, err)) != VS2_OK) return st;
    return forward_segments(llm, segs, B, ids, B, NULL, pos, logits, B, run, err);
}

/* The pass itself: n rows (the segments' rows in order) through every layer; each segment's
 * keys and values go to its own cache and its rows attend over that cache only. */
static vs2_status forward_segments(const vs2_llm *llm, const segment *segs, int nseg, const int32_t *ids,
                                   int64_t n, const float *video_embeds, const int64_t *pos, float *logits,
                                   int64_t n_logits, const vs2_run *run, vs2_error *err) {
    int64_t total = 0; /* the longest cache after the pass: the attention scratch's width */
    for (int s = 0; s < nseg; s++) total = segs[s].L0 + segs[s].n > total ? segs[s].L0 + segs[s].n : total;
    const int threads = run && run->threads > 0 ? run->threads : 1;
    vs2_pool *pool = run ? run->pool : NULL, *own_pool = NULL;
    if (!pool && threads > 1) {
        if (vs2_pool_create(threads, &own_pool) != VS2_OK)
            return vs2__fail(err, VS2_ERR_NOMEM, "cannot start %d threads", threads);
        pool = own_pool;
    }
    const int pthreads = vs2_pool_threads(pool);
    const int64_t D = llm->D, hd = llm->hd, qd = (int64_t)llm->Hq * hd, kvd = (int64_t)llm->Hkv * hd,
                  I = llm->I, half = hd / 2;
    const int64_t mrows = n < MLP_ROWS ? n : MLP_ROWS;
    vs2_status st = VS2_OK;
    float *h = malloc((size_t)(n * D) * sizeof(float));
    float *x = malloc((size_t)(n * D) * sizeof(float));
    float *q = malloc((size_t)(n * qd) * sizeof(float));
    float *att = malloc((size_t)(n * qd) * sizeof(float));
    float *kb = malloc((size_t)(n * kvd) * sizeof(float));
    float *vb = malloc((size_t)(n * kvd) * sizeof(float));
    float *cs = malloc((size_t)(n * half) * sizeof(float));
    float *sn = malloc((size_t)(n * half) * sizeof(float));
    float *gate = malloc((size_t)(mrows * I) * sizeof(float));
    float *up = malloc((size_t)(mrows * I) * sizeof(float));
    float *down = malloc((size_t)(mrows * D) * sizeof(float));
    float *scores = malloc((size_t)pthreads * attention_scratch(llm, total));
    /* One scratch for every linear of the pass (kernels never allocate). */
    size_t lin_bytes = vs2k_linear_scratch(llm->k, n, D > qd ? D : qd, pthreads), mlp_bytes;
    mlp_bytes = vs2k_linear_scratch(llm->k, mrows, I, pthreads);
    void *lin_scratch = malloc(lin_bytes > mlp_bytes ? lin_bytes : mlp_bytes);
    if (!h || !x || !q || !att || !kb || !vb || !cs || !sn || !gate || !up || !down || !scores || !lin_scratch) {
        st = vs2__fail(err, VS2_ERR_NOMEM, "out of memory for a forward pass over %lld tokens", (long long)n);
        goto done;
    }

    /* Embeddings, with the video rows placed in order at the <|video_pad|> positions (§5.1). */
    for (int64_t i = 0, v = 0; i < n; i++) {
        if (ids[i] == llm->video_id)
            memcpy(h + i * D, video_embeds + (v++) * D, (size_t)D * sizeof(float));
        else
            vs2k_widen(llm->embed, (int64_t)ids[i] * D, D, h + i * D);
    }
    vs2k_dump(run, "llm.embed", h, n, D);
    rope_tables(llm, pos, n, cs, sn);

#define LIN(xx, rows, w, y) llm->k->linear(xx, rows, &(w), y, lin_scratch, pool)

    for (int l = 0; l < llm->L; l++) {
        const layer *y = &llm->layers[l];
        /* Attention block. */
        vs2k_rmsnorm_par(pool, h, n, D, y->in_norm, llm->eps, x);
        LIN(x, n, y->q, q);
        LIN(x, n, y->k, kb);
        LIN(x, n, y->v, vb);
        rope_apply(q, n, llm->Hq, (int)hd, cs, sn);
        rope_apply(kb, n, llm->Hkv, (int)hd, cs, sn);
        for (int s = 0; s < nseg; s++) {
            const segment *sg = &segs[s];
            for (int g = 0; g < llm->Hkv; g++)
                for (int64_t i = 0; i < sg->n; i++)
                    kv_write(sg->kv, l, g, sg->L0 + i, kb + (sg->r0 + i) * kvd + g * hd,
                             vb + (sg->r0 + i) * kvd + g * hd);
            attention(llm, sg->kv, l, q + sg->r0 * qd, sg->L0, sg->n, att + sg->r0 * qd, scores, pool);
        }
        LIN(att, n, y->o, x);
        vs2k_add_par(pool, h, x, n * D);
        /* MLP block, in row chunks: h += down(silu(gate(x)) · up(x)). */
        vs2k_rmsnorm_par(pool, h, n, D, y->post_norm, llm->eps, x);
        for (int64_t r0 = 0; r0 < n; r0 += MLP_ROWS) {
            const int64_t rows = n - r0 < MLP_ROWS ? n - r0 : MLP_ROWS;
            LIN(x + r0 * D, rows, y->gate, gate);
            LIN(x + r0 * D, rows, y->up, up);
            vs2k_silu_mul_par(pool, llm->k, gate, up, rows * I);
            LIN(gate, rows, y->down, down);
            vs2k_add_par(pool, h + r0 * D, down, rows * D);
        }
        if (run && (run->dump || run->stage)) {
            char stage[32];
            snprintf(stage, sizeof stage, "llm.layer.%d", l);
            vs2k_dump(run, stage, h, n, D);
        }
    }

    vs2k_rmsnorm_par(pool, h, n, D, llm->final_norm, llm->eps, x);
    vs2k_dump(run, "llm.norm", x, n, D);
    if (n_logits > 0) LIN(x + (n - n_logits) * D, n_logits, llm->lm_head, logits);
#undef LIN
    for (int s = 0; s < nseg; s++) segs[s].kv->len = segs[s].L0 + segs[s].n;
    vs2__ok(err);

done:
    free(h);
    free(x);
    free(q);
    free(att);
    free(kb);
    free(vb);
    free(cs);
    free(sn);
    free(gate);
    free(up);
    free(down);
    free(scores);
    free(lin_scratch);
    vs2_pool_free(own_pool);
    return st;
}
