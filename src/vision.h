/* vision.h — the Qwen2.5-VL vision tower (qwen25vl.md §4): patch embedding, 2-D rotary
 * embedding, window attention with full attention in the configured blocks, RMSNorm, SwiGLU
 * MLP with biases, the 2×2 patch merger and the final reorder back to raster order. */
#ifndef VS2_VISION_H
#define VS2_VISION_H

#include "kernels.h"

typedef struct vs2_vision vs2_vision;

/* Views of the vision weights of an open model (no copies of weight matrices; small vectors
 * such as norms may be widened). mf must outlive the vision tower. */
vs2_status vs2_vision_create(const vs2_model_files *mf, vs2_vision **out, vs2_error *err);
void vs2_vision_free(vs2_vision *v);

/* pixel_values: grid_t·grid_h·grid_w rows of in_chans·temporal_patch·patch² floats, in the
 * processor's patch order (vs2_video.pixel_values). grid_h and grid_w are in patches and even.
 * out: (grid_t·grid_h·grid_w / merge²) rows of out_hidden_size floats, in the order the
 * language model consumes them (t, then merged row, then merged column).
 * Dumps "vision.patch_embed", "vision.block.<i>", "vision.merger" through run->dump. */
vs2_status vs2_vision_forward(const vs2_vision *v, const float *pixel_values, int grid_t,
                              int grid_h, int grid_w, float *out, const vs2_run *run,
                              vs2_error *err);

#endif
