/* llm.c — the Qwen2.5-VL language model, fp32 reference path (docs/qwen2.5-vl.md §5).
 *
 * Weights stay as stored (bf16/f16/f32, mmap'd); vs2k_linear widens tiles as it goes and the
 * embedding rows are widened one at a time, so no whole weight matrix is ever held in fp32.
 * Only the norm weights (2·layers + 1 vectors of hidden_size) are widened once at load.
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
 * Threads: vs2k_linear splits output columns; attention splits (head, query row) pairs. Each
 * output value is computed by one thread in a fixed order, so the results do not depend on
 * the thread count (bit for bit). */
#include "internal.h"
#include "llm.h"

#include <math.h>
#include <stdlib.h>


/* Rows per MLP chunk: bounds the gate/up buffers to MLP_ROWS × intermediate_size floats. */
#define MLP_ROWS 256
/* Positions must be exact in fp32 (torch converts them to float before multiplying). */
#define MAX_POSITION (INT64_C(1) << 24)

typedef struct layer {
    const vs2_tensor *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *gate, *up, *down;
    float *in_norm, *post_norm; /* widened RMSNorm weights */
} layer;

struct vs2_llm {
    int D, L, Hq, Hkv, hd, I, V;
    int section[3]; /* mrope_section in frequencies: t, h, w */
    double eps;
    int32_t video_id;
    const vs2_tensor *embed, *lm_head;
    layer *layers;
    float *final_norm;
    float *inv_freq; /* hd/2 */
};

struct vs2_kv_cache {
    int L, Hkv, hd;
    int64_t max, len;
    float *k, *v; /* [L][Hkv][max][hd] */
};

/* ---------------------------------------------------------------------------------------- */
/* Loading                                                                                   */
/* ---------------------------------------------------------------------------------------- */

static vs2_status get_tensor(const vs2_model_files *mf, const char *name, int ndim, int64_t d0,
                             int64_t d1, const vs2_tensor **out, vs2_error *err) {
    const vs2_tensor *t = vs2_model_files_tensor(mf, name);
    if (!t) return vs2__fail(err, VS2_ERR_MODEL, "tensor '%s' is missing", name);
    if (t->dtype != VS2_DTYPE_F32 && t->dtype != VS2_DTYPE_F16 && t->dtype != VS2_DTYPE_BF16)
        return vs2__fail(err, VS2_ERR_MODEL, "tensor '%s' (%s): dtype %s is not F32, F16 or BF16", name,
                         t->file, vs2_dtype_name(t->dtype));
    if (t->ndim != ndim || t->shape[0] != d0 || (ndim == 2 && t->shape[1] != d1)) {
        if (ndim == 2)
            return vs2__fail(err, VS2_ERR_MODEL, "tensor '%s' (%s): shape is not [%lld, %lld]", name,
                             t->file, (long long)d0, (long long)d1);
        return vs2__fail(err, VS2_ERR_MODEL, "tensor '%s' (%s): shape is not [%lld]", name, t->file,
                         (long long)d0);
    }
    *out = t;
    return VS2_OK;
}

/* A 1-D weight widened to fp32 (malloc'd). */
static vs2_status get_vector(const vs2_model_files *mf, const char *name, int64_t d, float **out,
                             vs2_error *err) {
    const vs2_tensor *t = NULL;
    vs2_status st = get_tensor(mf, name, 1, d, 0, &t, err);
    if (st != VS2_OK) return st;
    float *v = malloc((size_t)d * sizeof *v);
    if (!v) return vs2__fail(err, VS2_ERR_NOMEM, "out of memory for '%s'", name);
    vs2k_widen(t, 0, d, v);
    *out = v;
    return VS2_OK;
}

void vs2_llm_free(vs2_llm *llm) {
    if (!llm) return;
    if (llm->layers)
        for (int l = 0; l < llm->L; l++) {
            free(llm->layers[l].in_norm);
            free(llm->layers[l].post_norm);
        }
    free(llm->layers);
    free(llm->final_norm);
    free(llm->inv_freq);
    free(llm);
}

vs2_status vs2_llm_create(const vs2_model_files *mf, vs2_llm **out, vs2_error *err) {
    if (!mf || !out) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_llm_create: NULL argument");
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
    for (int a = 0; a < 3; a++) m->section[a] = c->mrope_section[a];

    const int64_t D = m->D, qd = (int64_t)m->Hq * m->hd, kvd = (int64_t)m->Hkv * m->hd, I = m->I;
    vs2_status st = VS2_OK;
    m->layers = calloc((size_t)m->L, sizeof *m->layers);
    m->inv_freq = malloc((size_t)(m->hd / 2) * sizeof(float));
    if (!m->layers || !m->inv_freq) {
        st = vs2__fail(err, VS2_ERR_NOMEM, "out of memory");
        goto fail;
    }
    vs2_rope_inv_freq(m->hd, c->rope_theta, m->inv_freq);

    st = get_tensor(mf, "model.embed_tokens.weight", 2, m->V, D, &m->embed, err);
    if (st != VS2_OK) goto fail;
    if (c->tie_word_embeddings) {
        m->lm_head = m->embed; /* tied: transformers ignores any stored lm_head.weight */
    } else {
        if (!vs2_model_files_tensor(mf, "lm_head.weight")) {
            st = vs2__fail(err, VS2_ERR_MODEL,
                           "tensor 'lm_head.weight' is missing and tie_word_embeddings is false");
            goto fail;
        }
        st = get_tensor(mf, "lm_head.weight", 2, m->V, D, &m->lm_head, err);
        if (st != VS2_OK) goto fail;
    }
    st = get_vector(mf, "model.norm.weight", D, &m->final_norm, err);
    if (st != VS2_OK) goto fail;

    for (int l = 0; l < m->L && st == VS2_OK; l++) {
        layer *y = &m->layers[l];
        char name[128];
#define T2(field, suffix, d0, d1)                                                                   \
    if (st == VS2_OK) {                                                                             \
        snprintf(name, sizeof name, "model.layers.%d.%s", l, suffix);                              \
        st = get_tensor(mf, name, (d1) ? 2 : 1, d0, d1, &y->field, err);                           \
    }
        T2(q_w, "self_attn.q_proj.weight", qd, D)
        T2(q_b, "self_attn.q_proj.bias", qd, 0)
        T2(k_w, "self_attn.k_proj.weight", kvd, D)
        T2(k_b, "self_attn.k_proj.bias", kvd, 0)
        T2(v_w, "self_attn.v_proj.weight", kvd, D)
        T2(v_b, "self_attn.v_proj.bias", kvd, 0)
        T2(o_w, "self_attn.o_proj.weight", D, qd)
        T2(gate, "mlp.gate_proj.weight", I, D)
        T2(up, "mlp.up_proj.weight", I, D)
        T2(down, "mlp.down_proj.weight", D, I)
#undef T2
        if (st == VS2_OK) {
            snprintf(name, sizeof name, "model.layers.%d.input_layernorm.weight", l);
            st = get_vector(mf, name, D, &y->in_norm, err);
        }
        if (st == VS2_OK) {
            snprintf(name, sizeof name, "model.layers.%d.post_attention_layernorm.weight", l);
            st = get_vector(mf, name, D, &y->post_norm, err);
        }
    }
    if (st != VS2_OK) goto fail;
    *out = m;
    vs2__ok(err);
    return VS2_OK;
fail:
    vs2_llm_free(m);
    return st;
}

int32_t vs2_llm_vocab(const vs2_llm *llm) { return llm ? llm->V : 0; }

/* ---------------------------------------------------------------------------------------- */
/* KV cache                                                                                  */
/* ---------------------------------------------------------------------------------------- */

vs2_status vs2_kv_cache_create(const vs2_llm *llm, int64_t max_tokens, vs2_kv_cache **out,
                               vs2_error *err) {
    if (!llm || !out || max_tokens <= 0)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_kv_cache_create: NULL argument or max_tokens <= 0");
    *out = NULL;
    uint64_t per_tok = (uint64_t)llm->L * (uint64_t)llm->Hkv * (uint64_t)llm->hd, total, bytes;
    if (!vs2__mul_ok(per_tok, (uint64_t)max_tokens, &total) || !vs2__mul_ok(total, 2 * sizeof(float), &bytes) ||
        bytes > (uint64_t)SIZE_MAX / 2)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "a KV cache of %lld tokens is too large", (long long)max_tokens);
    vs2_kv_cache *kv = calloc(1, sizeof *kv);
    if (kv) {
        /* calloc: untouched pages are never committed, so an oversized max_tokens costs nothing. */
        kv->k = calloc((size_t)total, sizeof(float));
        kv->v = calloc((size_t)total, sizeof(float));
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

void vs2_kv_cache_truncate(vs2_kv_cache *kv, int64_t len) {
    if (kv && len >= 0 && len < kv->len) kv->len = len;
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
 * kv head h / (Hq / Hkv). out: [n][Hq·hd]. scores: threads × (L0 + n) floats. */
static void attention(const vs2_llm *m, const vs2_kv_cache *kv, int l, const float *q, int64_t L0,
                      int64_t n, float *out, float *scores, int threads) {
    const int Hq = m->Hq, hd = m->hd, group = m->Hq / m->Hkv;
    const int64_t total = L0 + n, qstride = (int64_t)Hq * hd;
    /* torch multiplies the fp32 scores by the Python float head_dim**-0.5, i.e. by its fp32
     * rounding. */
    const float scale = (float)(1.0 / sqrt((double)hd));
    const int64_t work = (int64_t)Hq * n;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(dynamic, 4)
#endif
    for (int64_t w = 0; w < work; w++) {
        float *sc = scores + (size_t)vs2k_thread_index() * (size_t)total;
        const int h = (int)(w / n);
        const int64_t i = w % n, lim = L0 + i + 1;
        const int g = h / group;
        const float *qi = q + i * qstride + (int64_t)h * hd;
        const float *K = kv->k + (((int64_t)l * kv->Hkv + g) * kv->max) * hd;
        const float *Vv = kv->v + (((int64_t)l * kv->Hkv + g) * kv->max) * hd;
        for (int64_t j = 0; j < lim; j++) sc[j] = dot(qi, K + j * hd, hd) * scale;
        vs2k_softmax(sc, lim);
        float *o = out + i * qstride + (int64_t)h * hd;
        for (int d = 0; d < hd; d++) o[d] = 0.0f;
        for (int64_t j = 0; j < lim; j++) {
            const float p = sc[j], *vj = Vv + j * hd;
            for (int d = 0; d < hd; d++) o[d] += p * vj[d];
        }
    }
    (void)threads;
}

vs2_status vs2_llm_forward(const vs2_llm *llm, vs2_kv_cache *kv, const int32_t *ids, int64_t n,
                           const float *video_embeds, int64_t n_video, const int64_t *pos,
                           float *logits, int64_t n_logits, const vs2_run *run, vs2_error *err) {
    if (!llm || !kv || !ids || !pos)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_llm_forward: NULL argument");
    if (n <= 0) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_llm_forward: no tokens (n = %lld)", (long long)n);
    if (kv->L != llm->L || kv->Hkv != llm->Hkv || kv->hd != llm->hd)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_llm_forward: the KV cache belongs to another model");
    const int64_t L0 = kv->len;
    if (n > kv->max - L0)
        return vs2__fail(err, VS2_ERR_INVALID_ARG,
                         "KV cache overflow: %lld cached + %lld new tokens exceed its capacity of %lld",
                         (long long)L0, (long long)n, (long long)kv->max);
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
    for (int64_t i = 0; i < 3 * n; i++)
        if (pos[i] < 0 || pos[i] >= MAX_POSITION)
            return vs2__fail(err, VS2_ERR_INVALID_ARG, "position %lld of axis %lld is %lld, outside [0, 2^24)",
                             (long long)(i % n), (long long)(i / n), (long long)pos[i]);

    const int threads = run && run->threads > 0 ? run->threads : 1;
    const int64_t D = llm->D, hd = llm->hd, qd = (int64_t)llm->Hq * hd, kvd = (int64_t)llm->Hkv * hd,
                  I = llm->I, half = hd / 2, total = L0 + n;
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
    float *scores = malloc((size_t)threads * (size_t)total * sizeof(float));
    if (!h || !x || !q || !att || !kb || !vb || !cs || !sn || !gate || !up || !down || !scores) {
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

#define LIN(xx, rows, K, w, b, y)                                                                   \
    do {                                                                                           \
        if (vs2k_linear(xx, rows, K, w, b, y, run) != VS2_OK) {                                    \
            st = vs2__fail(err, VS2_ERR_NOMEM, "out of memory in a linear layer");                 \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

    for (int l = 0; l < llm->L; l++) {
        const layer *y = &llm->layers[l];
        /* Attention block. */
        vs2k_rmsnorm(h, n, D, y->in_norm, llm->eps, x);
        LIN(x, n, D, y->q_w, y->q_b, q);
        LIN(x, n, D, y->k_w, y->k_b, kb);
        LIN(x, n, D, y->v_w, y->v_b, vb);
        rope_apply(q, n, llm->Hq, (int)hd, cs, sn);
        rope_apply(kb, n, llm->Hkv, (int)hd, cs, sn);
        for (int g = 0; g < llm->Hkv; g++) {
            float *K = kv->k + (((int64_t)l * kv->Hkv + g) * kv->max + L0) * hd;
            float *V = kv->v + (((int64_t)l * kv->Hkv + g) * kv->max + L0) * hd;
            for (int64_t i = 0; i < n; i++) {
                memcpy(K + i * hd, kb + i * kvd + g * hd, (size_t)hd * sizeof(float));
                memcpy(V + i * hd, vb + i * kvd + g * hd, (size_t)hd * sizeof(float));
            }
        }
        attention(llm, kv, l, q, L0, n, att, scores, threads);
        LIN(att, n, qd, y->o_w, NULL, x);
        vs2k_add(h, x, n * D);
        /* MLP block, in row chunks: h += down(silu(gate(x)) · up(x)). */
        vs2k_rmsnorm(h, n, D, y->post_norm, llm->eps, x);
        for (int64_t r0 = 0; r0 < n; r0 += MLP_ROWS) {
            const int64_t rows = n - r0 < MLP_ROWS ? n - r0 : MLP_ROWS;
            LIN(x + r0 * D, rows, D, y->gate, NULL, gate);
            LIN(x + r0 * D, rows, D, y->up, NULL, up);
            vs2k_silu_mul(gate, up, rows * I);
            LIN(gate, rows, I, y->down, NULL, down);
            vs2k_add(h + r0 * D, down, rows * D);
        }
        if (run && run->dump) {
            char stage[32];
            snprintf(stage, sizeof stage, "llm.layer.%d", l);
            vs2k_dump(run, stage, h, n, D);
        }
    }

    vs2k_rmsnorm(h, n, D, llm->final_norm, llm->eps, x);
    vs2k_dump(run, "llm.norm", x, n, D);
    if (n_logits > 0) LIN(x + (n - n_logits) * D, n_logits, D, llm->lm_head, NULL, logits);
#undef LIN
    kv->len = L0 + n;
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
    return st;
}
