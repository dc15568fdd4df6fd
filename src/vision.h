/* vision.h — the Qwen2.5-VL vision tower (docs/qwen2.5-vl.md §4): patch embedding, 2-D rotary
 * embedding, window attention with full attention in the configured blocks, RMSNorm, SwiGLU
 * MLP with biases, the 2×2 patch merger and the final reorder back to raster order. */
#ifndef VS2_VISION_H
#define VS2_VISION_H

#include "kernels.h"

typedef struct vs2_vision vs2_vision;

/* Views of the vision weights of an open model (no copies of weight matrices; small vectors
 * such as norms may be widened). mf must outlive the vision tower. */
vs2_status vs2_vision_create(const vs2_model_files *mf, vs2_vision **out, vs2_error *err);
/* With a kernel set (kernels.h): weights prepared for it (int8 sets quantise every matrix). */
vs2_status vs2_vision_create_k(const vs2_model_files *mf, const vs2_prep *prep, vs2_vision **out,
                               vs2_error *err);
void vs2_vision_free(vs2_vision *v);

/* pixel_values: grid_t·grid_h·grid_w rows of in_chans·temporal_patch·patch² floats, in the
 * processor's patch order (vs2_video.pixel_values). grid_h and grid_w are in patches and even.
 * out: (grid_t·grid_h·grid_w / merge²) rows of out_hidden_size floats, in the order the
 * language model consumes them (t, then merged row, then merged column).
 * Dumps "vision.patch_embed", "vision.block.<i>", "vision.merger" through run->dump.
 *
 * Dump orders follow the Hugging Face modules (what forward hooks on them would record):
 *   "vision.patch_embed"   N × hidden, processor (raster) order, before the window reorder;
 *   "vision.window_index"  N/merge² × 1, the window index as floats (exact below 2^24);
 *   "vision.block.<i>"     N × hidden, WINDOW order (rows regrouped by the window index);
 *   "vision.merger"        N/merge² × out_hidden, window order (before the inverse reorder);
 *   "vision.out"           N/merge² × out_hidden, final raster order (= out). */
vs2_status vs2_vision_forward(const vs2_vision *v, const float *pixel_values, int grid_t,
                              int grid_h, int grid_w, float *out, const vs2_run *run,
                              vs2_error *err);

/* The input check the forward does, plus the row count it cannot see: n_rows pixel rows must
 * equal grid_t·grid_h·grid_w; grid dims >= 1, grid_h/grid_w multiples of the merge size.
 * Callers holding a vs2_video pass video->rows. */
vs2_status vs2_vision_check_grid(const vs2_vision *v, int64_t n_rows, int grid_t, int grid_h,
                                 int grid_w, vs2_error *err);

/* Rows of the forward's output for a grid (0 if the grid is invalid). */
int64_t vs2_vision_out_rows(const vs2_vision *v, int grid_t, int grid_h, int grid_w);

/* ---- internals exposed for tests ------------------------------------------------------------ */

/* The window order of one video (transformers get_window_index, docs/qwen2.5-vl.md §4.3). merge: the
 * spatial merge size; vm: window_size / merge / patch (merged units per window side).
 * window_index receives grid_t·(grid_h/merge)·(grid_w/merge) merged-unit ids; cu receives the
 * cumulative window lengths in patches (×merge²), starting with 0, empty windows dropped
 * (unique_consecutive): at most 1 + grid_t·ceil(H'/vm)·ceil(W'/vm) entries. Returns the number
 * of cu entries written. */
int64_t vs2_vision_window_index(int grid_t, int grid_h, int grid_w, int merge, int vm,
                                int64_t *window_index, int64_t *cu);

/* Test hook: 1 = compute every block's attention as one attention over the whole sequence with
 * an explicit additive N×N mask (0 inside the row's segment, -inf outside), the old
 * transformers formulation; 0 (default) = per-segment loops. Only for small N (≤ 8192). */
void vs2_vision_set_masked_attention(vs2_vision *v, int on);

#endif
