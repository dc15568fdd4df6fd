/* model_tensors.h — the one table of Qwen2.5-VL's checkpoint tensors (docs/model-files.md): each
 * entry's name, the shape config.json implies, and how the model binds it. model_files.c checks a
 * checkpoint against it; vision.c and llm.c bind their weights from it, preparing each matrix for
 * the kernel set (the int8 sets quantise exactly these), widening each vector to fp32 and using
 * the embedding as stored. Adding a tensor means adding one line here and one field to bind it. */
#ifndef VS2_MODEL_TENSORS_H
#define VS2_MODEL_TENSORS_H

#include "internal.h"

typedef enum vs2_tensor_part {
    VS2_PART_VISION,            /* once in the vision tower */
    VS2_PART_VISION_BLOCK,      /* in each of its depth blocks: "visual.blocks.<i>." */
    VS2_PART_LLM,               /* once in the language model */
    VS2_PART_LLM_LAYER          /* in each of its layers: "model.layers.<i>." */
} vs2_tensor_part;

typedef enum vs2_tensor_use {
    VS2_USE_MATRIX,             /* a linear layer's weight (with its bias, if any): vs2_weight */
    VS2_USE_VECTOR,             /* a norm weight: widened to fp32 */
    VS2_USE_STORED              /* read as stored (the embedding rows) */
} vs2_tensor_use;

/* Where an entry binds (the field of vs2_vision / vision_block / vs2_llm / layer). */
typedef enum vs2_tensor_slot {
    VS2_T_PATCH_EMBED, VS2_T_V_NORM1, VS2_T_V_QKV, VS2_T_V_PROJ, VS2_T_V_NORM2, VS2_T_V_GATE,
    VS2_T_V_UP, VS2_T_V_DOWN, VS2_T_MERGER_NORM, VS2_T_MERGER_FC1, VS2_T_MERGER_FC2,
    VS2_T_EMBED, VS2_T_IN_NORM, VS2_T_Q, VS2_T_K, VS2_T_V, VS2_T_O, VS2_T_POST_NORM, VS2_T_GATE,
    VS2_T_UP, VS2_T_DOWN, VS2_T_NORM, VS2_T_LM_HEAD,
    VS2_T_NSLOTS
} vs2_tensor_slot;

/* Sizes a shape is written in, resolved from the config (vs2_tensor_shape). */
typedef enum vs2_tensor_dim {
    VS2_D_VH, VS2_D_V3H, VS2_D_VI, VS2_D_VCH, VS2_D_VTP, VS2_D_VP, VS2_D_VMERGED, VS2_D_VOUT,
    VS2_D_H, VS2_D_I, VS2_D_Q, VS2_D_KV, VS2_D_VOCAB
} vs2_tensor_dim;

typedef struct vs2_tensor_spec {
    const char *name;           /* canonical (hub) name; in a block or layer, the part after the index */
    const char *bias;           /* a matrix's bias (shape [dims[0]]), or NULL */
    vs2_tensor_part part;
    vs2_tensor_use use;
    vs2_tensor_slot slot;
    int ndim;
    vs2_tensor_dim dims[5];
    int tied;                   /* lm_head: absent (and ignored) when tie_word_embeddings */
} vs2_tensor_spec;

/* The table, in checkpoint order (vision, then the language model). */
const vs2_tensor_spec *vs2_model_tensors(size_t *n);

/* The entry's full name for block or layer index (ignored outside blocks and layers). */
void vs2_tensor_spec_name(const vs2_tensor_spec *s, const char *name, int index, char *buf, size_t n);

/* The shape config.json implies (returns ndim; -1 for a dimension that overflows, a shape no
 * tensor has, so every check reports it). The bias: its one dimension is shape[0]. */
int vs2_tensor_shape(const vs2_tensor_spec *s, const vs2_config *c, int64_t shape[5]);

/* How many times an entry occurs (vision depth, layer count, 1). */
int vs2_tensor_count(const vs2_tensor_spec *s, const vs2_config *c);

/* 1 when this checkpoint has no tensor of the entry by design (lm_head with tied embeddings). */
int vs2_tensor_absent(const vs2_tensor_spec *s, const vs2_config *c);

/* The checked tensor (weights, and with bias != NULL its bias) of entry s at index: present, of a
 * dtype the kernels read (BF16, F16, F32) and of the shape the config implies. Errors name the
 * tensor, its file, and the difference. */
vs2_status vs2_tensor_get(const vs2_model_files *mf, const vs2_tensor_spec *s, int index, const vs2_tensor **w,
                          const vs2_tensor **bias, vs2_error *err);

/* "[3584, 18944]" */
void vs2_shape_str(char *buf, size_t n, int nd, const int64_t *d);

#endif
