/* model_tensors.c — the table of Qwen2.5-VL's checkpoint tensors (model_tensors.h). Names and
 * shapes are transformers' Qwen2_5_VLForConditionalGeneration in the hub layout
 * (docs/model-files.md); nested checkpoints are mapped to these names when opened. */
#include "model_tensors.h"

#include <stdio.h>
#include <string.h>

#define M VS2_USE_MATRIX
#define VEC VS2_USE_VECTOR

static const vs2_tensor_spec TABLE[] = {
    /* vision tower */
    {"visual.patch_embed.proj.weight", NULL, VS2_PART_VISION, M, VS2_T_PATCH_EMBED, 5,
     {VS2_D_VH, VS2_D_VCH, VS2_D_VTP, VS2_D_VP, VS2_D_VP}, 0},
    {"norm1.weight", NULL, VS2_PART_VISION_BLOCK, VEC, VS2_T_V_NORM1, 1, {VS2_D_VH}, 0},
    {"norm2.weight", NULL, VS2_PART_VISION_BLOCK, VEC, VS2_T_V_NORM2, 1, {VS2_D_VH}, 0},
    {"attn.qkv.weight", "attn.qkv.bias", VS2_PART_VISION_BLOCK, M, VS2_T_V_QKV, 2, {VS2_D_V3H, VS2_D_VH}, 0},
    {"attn.proj.weight", "attn.proj.bias", VS2_PART_VISION_BLOCK, M, VS2_T_V_PROJ, 2, {VS2_D_VH, VS2_D_VH}, 0},
    {"mlp.gate_proj.weight", "mlp.gate_proj.bias", VS2_PART_VISION_BLOCK, M, VS2_T_V_GATE, 2, {VS2_D_VI, VS2_D_VH}, 0},
    {"mlp.up_proj.weight", "mlp.up_proj.bias", VS2_PART_VISION_BLOCK, M, VS2_T_V_UP, 2, {VS2_D_VI, VS2_D_VH}, 0},
    {"mlp.down_proj.weight", "mlp.down_proj.bias", VS2_PART_VISION_BLOCK, M, VS2_T_V_DOWN, 2, {VS2_D_VH, VS2_D_VI}, 0},
    {"visual.merger.ln_q.weight", NULL, VS2_PART_VISION, VEC, VS2_T_MERGER_NORM, 1, {VS2_D_VH}, 0},
    {"visual.merger.mlp.0.weight", "visual.merger.mlp.0.bias", VS2_PART_VISION, M, VS2_T_MERGER_FC1, 2,
     {VS2_D_VMERGED, VS2_D_VMERGED}, 0},
    {"visual.merger.mlp.2.weight", "visual.merger.mlp.2.bias", VS2_PART_VISION, M, VS2_T_MERGER_FC2, 2,
     {VS2_D_VOUT, VS2_D_VMERGED}, 0},
    /* language model */
    {"model.embed_tokens.weight", NULL, VS2_PART_LLM, VS2_USE_STORED, VS2_T_EMBED, 2, {VS2_D_VOCAB, VS2_D_H}, 0},
    {"input_layernorm.weight", NULL, VS2_PART_LLM_LAYER, VEC, VS2_T_IN_NORM, 1, {VS2_D_H}, 0},
    {"self_attn.q_proj.weight", "self_attn.q_proj.bias", VS2_PART_LLM_LAYER, M, VS2_T_Q, 2, {VS2_D_Q, VS2_D_H}, 0},
    {"self_attn.k_proj.weight", "self_attn.k_proj.bias", VS2_PART_LLM_LAYER, M, VS2_T_K, 2, {VS2_D_KV, VS2_D_H}, 0},
    {"self_attn.v_proj.weight", "self_attn.v_proj.bias", VS2_PART_LLM_LAYER, M, VS2_T_V, 2, {VS2_D_KV, VS2_D_H}, 0},
    {"self_attn.o_proj.weight", NULL, VS2_PART_LLM_LAYER, M, VS2_T_O, 2, {VS2_D_H, VS2_D_Q}, 0},
    {"post_attention_layernorm.weight", NULL, VS2_PART_LLM_LAYER, VEC, VS2_T_POST_NORM, 1, {VS2_D_H}, 0},
    {"mlp.gate_proj.weight", NULL, VS2_PART_LLM_LAYER, M, VS2_T_GATE, 2, {VS2_D_I, VS2_D_H}, 0},
    {"mlp.up_proj.weight", NULL, VS2_PART_LLM_LAYER, M, VS2_T_UP, 2, {VS2_D_I, VS2_D_H}, 0},
    {"mlp.down_proj.weight", NULL, VS2_PART_LLM_LAYER, M, VS2_T_DOWN, 2, {VS2_D_H, VS2_D_I}, 0},
    {"model.norm.weight", NULL, VS2_PART_LLM, VEC, VS2_T_NORM, 1, {VS2_D_H}, 0},
    /* With tied embeddings the head reuses embed_tokens; transformers ignores a stored lm_head. */
    {"lm_head.weight", NULL, VS2_PART_LLM, M, VS2_T_LM_HEAD, 2, {VS2_D_VOCAB, VS2_D_H}, 1},
};

#undef M
#undef VEC

const vs2_tensor_spec *vs2_model_tensors(size_t *n) {
    *n = sizeof TABLE / sizeof TABLE[0];
    return TABLE;
}

void vs2_tensor_spec_name(const vs2_tensor_spec *s, const char *name, int index, char *buf, size_t n) {
    if (s->part == VS2_PART_VISION_BLOCK) snprintf(buf, n, "visual.blocks.%d.%s", index, name);
    else if (s->part == VS2_PART_LLM_LAYER) snprintf(buf, n, "model.layers.%d.%s", index, name);
    else snprintf(buf, n, "%s", name);
}

/* a × b, or -1 (a shape no tensor has) on overflow. config.c bounds every value so that this
 * cannot happen for a parsed config; the check keeps it so. */
static int64_t dim_mul(int64_t a, int64_t b) {
    int64_t r;
    return a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r) ? -1 : r;
}

static int64_t dim_value(vs2_tensor_dim d, const vs2_config *c) {
    const vs2_vision_config *v = &c->vision;
    switch (d) {
    case VS2_D_VH: return v->hidden_size;
    case VS2_D_V3H: return dim_mul(3, v->hidden_size);
    case VS2_D_VI: return v->intermediate_size;
    case VS2_D_VCH: return v->in_chans;
    case VS2_D_VTP: return v->temporal_patch_size;
    case VS2_D_VP: return v->patch_size;
    case VS2_D_VMERGED: return dim_mul(v->hidden_size, dim_mul(v->spatial_merge_size, v->spatial_merge_size));
    case VS2_D_VOUT: return v->out_hidden_size;
    case VS2_D_H: return c->hidden_size;
    case VS2_D_I: return c->intermediate_size;
    case VS2_D_Q: return dim_mul(c->num_attention_heads, c->head_dim);
    case VS2_D_KV: return dim_mul(c->num_key_value_heads, c->head_dim);
    case VS2_D_VOCAB: return c->vocab_size;
    }
    return -1;
}

int vs2_tensor_shape(const vs2_tensor_spec *s, const vs2_config *c, int64_t shape[5]) {
    for (int i = 0; i < s->ndim; i++) shape[i] = dim_value(s->dims[i], c);
    return s->ndim;
}

int vs2_tensor_count(const vs2_tensor_spec *s, const vs2_config *c) {
    if (s->part == VS2_PART_VISION_BLOCK) return c->vision.depth;
    if (s->part == VS2_PART_LLM_LAYER) return c->num_hidden_layers;
    return 1;
}

int vs2_tensor_absent(const vs2_tensor_spec *s, const vs2_config *c) { return s->tied && c->tie_word_embeddings; }

void vs2_shape_str(char *buf, size_t n, int nd, const int64_t *d) {
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < nd && o < n; i++) o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? ", " : "", (long long)d[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
}

static vs2_status get_checked(const vs2_model_files *mf, const char *name, int nd, const int64_t *shape,
                              const vs2_tensor **out, vs2_error *err) {
    const vs2_tensor *t = vs2_model_files_tensor(mf, name);
    if (!t) return vs2__fail(err, VS2_ERR_MODEL, "tensor '%s' is missing", name);
    if (t->dtype != VS2_DTYPE_F32 && t->dtype != VS2_DTYPE_F16 && t->dtype != VS2_DTYPE_BF16)
        return vs2__fail(err, VS2_ERR_MODEL, "tensor '%s' (%s): dtype %s is not F32, F16 or BF16", name, t->file,
                         vs2_dtype_name(t->dtype));
    int same = t->ndim == nd;
    for (int i = 0; same && i < nd; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char got[160], want[160];
        vs2_shape_str(got, sizeof got, t->ndim, t->shape);
        vs2_shape_str(want, sizeof want, nd, shape);
        return vs2__fail(err, VS2_ERR_MODEL, "tensor '%s' (%s): shape %s, but config.json implies %s", name, t->file,
                         got, want);
    }
    *out = t;
    return VS2_OK;
}

vs2_status vs2_tensor_get(const vs2_model_files *mf, const vs2_tensor_spec *s, int index, const vs2_tensor **w,
                          const vs2_tensor **bias, vs2_error *err) {
    const vs2_config *c = vs2_model_files_config(mf);
    int64_t shape[5];
    char name[160];
    vs2_tensor_spec_name(s, s->name, index, name, sizeof name);
    vs2_status st = get_checked(mf, name, vs2_tensor_shape(s, c, shape), shape, w, err);
    if (bias) *bias = NULL;
    if (st == VS2_OK && s->bias && bias) {
        vs2_tensor_spec_name(s, s->bias, index, name, sizeof name);
        st = get_checked(mf, name, 1, shape, bias, err);
    }
    return st;
}
