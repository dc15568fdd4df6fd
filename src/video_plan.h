/* video_plan.h — the building blocks of the video plan and pixels (video_plan.c, image_ops.c):
 * qwen-vl-utils' frame count, indices and sizes, and the resizes, exposed to the library's stages,
 * the unit tests and the fuzzers; not part of the public API (hidden in libvs2.so). */
#ifndef VS2_VIDEO_PLAN_H
#define VS2_VIDEO_PLAN_H

#include "vs2.h"

/* qwen-vl-utils smart_nframes with fps; 0 if total_frames is too small (< 2 after clamping). */
int vs2_video_nframes(int64_t total_frames, double video_fps, double fps);
/* The same with params->nframes and params->max_frames applied as qwen-vl-utils applies
 * "nframes" and "max_frames"; 0 if no valid count (< 2 or more than total_frames). */
int vs2_video_nframes_params(int64_t total_frames, double video_fps, const vs2_video_params *params);
/* round_half_even(torch 1.13 float32 linspace(0, total-1, n)), n indices (never past total-1). */
void vs2_video_indices(int64_t total_frames, int n, int64_t *indices);
/* qwen-vl-utils smart_resize(h, w, 28, min, max) in Python's double arithmetic (max_pixels
 * may be fractional: total_pixels / n * 2); VS2_ERR_UNSUPPORTED beyond 200:1. */
vs2_status vs2_smart_resize(int64_t height, int64_t width, double min_pixels, double max_pixels,
                            int *out_height, int *out_width, vs2_error *err);
/* The per-frame pixel cap of fetch_video: min(max(min(VIDEO_MAX, total/n*2), int(min*1.05)),
 * params->max_pixels). */
double vs2_video_max_pixels(const vs2_video_params *params, int n);
/* torchvision resize(uint8, BICUBIC, antialias=True) on one packed RGB24 image. */
vs2_status vs2_resize_torch_bicubic_aa(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw,
                                       int dh, vs2_error *err);
/* PIL Image.resize(BICUBIC) on one packed RGB24 image (qwen-vl-utils image inputs). */
vs2_status vs2_resize_pil_bicubic(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh,
                                  vs2_error *err);
/* Normalise (CLIP mean/std, float32) and patchify n (even) frames of h x w x 3 into
 * rows = n/2 * h/14 * w/14 rows of VS2_PATCH_DIM floats. */
void vs2_video_patchify(const uint8_t *frames, int n, int height, int width, float *out);

#endif
