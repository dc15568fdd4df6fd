/* video_plan.c — how many frames, which ones, and what size: qwen-vl-utils ~0.0.10 semantics
 * (smart_nframes, torch.linspace(...).round(), smart_resize) computed in the same precision as
 * the reference (Python doubles; torch float32 for the linspace). */
#include "internal.h"

#include <math.h>

/* No FMA contraction: gcc -std=c11 already disables it; clang needs the pragma. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define FACTOR 28
#define VIDEO_MAX_PIXELS_CONST 602112.0 /* 768*28*28, qwen-vl-utils VIDEO_MAX_PIXELS */
#define MAX_RATIO 200.0
#define MAX_SIDE (1 << 30)           /* no decodable frame is larger on a side */
#define MAX_PIXEL_ARG 4611686018427387904.0 /* 2^62 */

vs2_video_params vs2_video_default_params(void) {
    vs2_video_params p = {0};
    p.fps = 2.0;
    p.min_pixels = 128 * 28 * 28;
    p.max_pixels = 768 * 28 * 28;
    p.total_pixels = 90316800;
    p.image_min_pixels = 4 * 28 * 28;
    p.image_max_pixels = 16384 * 28 * 28;
    p.processor_fps = 2.0;
    p.threads = 0;
    p.max_source_pixels = (int64_t)8192 * 8192;
    return p;
}

int vs2_video_nframes(int64_t total_frames, double video_fps, double fps) {
    if (total_frames <= 0 || !(video_fps > 0) || !(fps > 0)) return 0;
    const double min_frames = 4.0; /* ceil_by_factor(4, 2) */
    int64_t cap = total_frames < 768 ? total_frames : 768;
    double max_frames = (double)(cap / 2 * 2); /* floor_by_factor(min(768, total), 2) */
    double n = (double)total_frames / video_fps * fps;
    if (n < min_frames) n = min_frames;
    if (n > max_frames) n = max_frames;
    if (n > (double)total_frames) n = (double)total_frames;
    double nf = floor(n / 2.0) * 2.0;
    if (nf < 2.0 || nf > (double)total_frames) return 0;
    return (int)nf;
}

int vs2_video_nframes_params(int64_t total_frames, double video_fps, const vs2_video_params *p) {
    if (!p || (p->nframes <= 0 && p->max_frames <= 0)) return vs2_video_nframes(total_frames, video_fps, p ? p->fps : 2.0);
    if (total_frames <= 0) return 0;
    double n;
    if (p->nframes > 0) {
        n = nearbyint(p->nframes / 2.0) * 2.0; /* round_by_factor(nframes, 2), half to even */
    } else {
        if (!(video_fps > 0) || !(p->fps > 0)) return 0;
        double max_frames = floor(p->max_frames / 2.0) * 2.0; /* floor_by_factor(max_frames, 2) */
        n = (double)total_frames / video_fps * p->fps;
        if (n < 4.0) n = 4.0;
        if (n > max_frames) n = max_frames;
        if (n > (double)total_frames) n = (double)total_frames;
        n = floor(n / 2.0) * 2.0;
    }
    if (n < 2.0 || n > (double)total_frames) return 0;
    return (int)n;
}

/* torch 1.13 CPU linspace for float32: step in float, first half counted up from start and
 * second half down from end; contiguous output is produced 2 x 8 lanes at a time, each lane
 * group as base + j*step from the base of its first element, and the tail element-wise. */
static float linspace_scalar(float start, float end, float step, int64_t i, int64_t n) {
    /* torch's AVX2 kernel (the one Debian's and the pip builds run here) is compiled with
     * FMA and contracts these two expressions; the vector lanes below are not contracted. */
    if (i < n / 2) return fmaf(step, (float)i, start);
    return fmaf(-step, (float)(n - i - 1), end);
}

void vs2_video_indices(int64_t total_frames, int n, int64_t *indices) {
    if (n <= 0) return;
    const float start = 0.0f, end = (float)(total_frames - 1);
    if (n == 1) {
        indices[0] = 0;
        return;
    }
    const float step = (end - start) / (float)(n - 1);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int64_t g = i; g < i + 16; g += 8) {
            float base = linspace_scalar(start, end, step, g, n);
            for (int j = 0; j < 8; j++)
                indices[g + j] = (int64_t)nearbyintf(j == 0 ? base : base + (float)j * step);
        }
    for (; i < n; i++) indices[i] = (int64_t)nearbyintf(linspace_scalar(start, end, step, i, n));
    /* Past 2^24 frames float32 rounding can reach total_frames (callers refuse such videos, see
     * VS2_MAX_VIDEO_FRAMES); clamped so that an index is never outside the video. Found by
     * fuzz_video_plan. */
    for (i = 0; i < n; i++)
        if (indices[i] > total_frames - 1) indices[i] = total_frames - 1;
}

static int64_t round_f(double v) { return (int64_t)nearbyint(v / FACTOR) * FACTOR; }
static int64_t floor_f(double v) { return (int64_t)floor(v / FACTOR) * FACTOR; }
static int64_t ceil_f(double v) { return (int64_t)ceil(v / FACTOR) * FACTOR; }

vs2_status vs2_smart_resize(int64_t height, int64_t width, double min_pixels, double max_pixels,
                            int *out_height, int *out_width, vs2_error *err) {
    if (height <= 0 || width <= 0)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "size %lldx%lld is empty", (long long)width,
                         (long long)height);
    /* Bounded inputs keep every intermediate below 2^62, so the casts to int64 are defined
     * (NaN or a huge pixel count would make them undefined; found by fuzz_video_plan). */
    if (height > MAX_SIDE || width > MAX_SIDE)
        return vs2__fail(err, VS2_ERR_UNSUPPORTED, "size %lldx%lld is larger than %d on a side",
                         (long long)width, (long long)height, MAX_SIDE);
    if (!(min_pixels >= 0 && min_pixels <= MAX_PIXEL_ARG) || !(max_pixels > 0 && max_pixels <= MAX_PIXEL_ARG))
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "pixel bounds min %g, max %g are not in [0, 2^62] and (0, 2^62]",
                         min_pixels, max_pixels);
    double hi = (double)(height > width ? height : width), lo = (double)(height < width ? height : width);
    if (hi / lo > MAX_RATIO)
        return vs2__fail(err, VS2_ERR_UNSUPPORTED,
                         "aspect ratio %lldx%lld is %.4g:1, above the reference limit of 200:1",
                         (long long)width, (long long)height, hi / lo);
    double h = (double)height, w = (double)width;
    int64_t hb = round_f(h), wb = round_f(w);
    if (hb < FACTOR) hb = FACTOR;
    if (wb < FACTOR) wb = FACTOR;
    if ((double)hb * (double)wb > max_pixels) {
        double beta = sqrt(h * w / max_pixels);
        hb = floor_f(h / beta);
        wb = floor_f(w / beta);
        if (hb < FACTOR) hb = FACTOR;
        if (wb < FACTOR) wb = FACTOR;
    } else if ((double)hb * (double)wb < min_pixels) {
        double beta = sqrt(min_pixels / (h * w));
        hb = ceil_f(h * beta);
        wb = ceil_f(w * beta);
    }
    if (hb > 1 << 20 || wb > 1 << 20)
        return vs2__fail(err, VS2_ERR_UNSUPPORTED, "resized size %lldx%lld is too large",
                         (long long)wb, (long long)hb);
    *out_height = (int)hb;
    *out_width = (int)wb;
    return VS2_OK;
}

double vs2_video_max_pixels(const vs2_video_params *p, int n) {
    double m = (double)p->total_pixels / n * 2.0;
    if (m > VIDEO_MAX_PIXELS_CONST) m = VIDEO_MAX_PIXELS_CONST;
    double floor_min = (double)(int64_t)((double)p->min_pixels * 1.05);
    if (m < floor_min) m = floor_min;
    if (p->max_pixels > 0 && (double)p->max_pixels < m) m = (double)p->max_pixels;
    return m;
}
