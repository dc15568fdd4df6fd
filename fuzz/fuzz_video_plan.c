/* fuzz_video_plan.c — the video-plan arithmetic on arbitrary numbers (NaN, infinities, huge and
 * negative sizes included): smart_nframes, the linspace indices, smart_resize, the per-frame
 * pixel cap, and a whole plan over tiny raw frames. Checks the invariants the decoder relies on
 * (indices inside the video, sizes positive multiples of 28, bounded), not just the absence of
 * crashes. */
#include "vs2.h"
#include "video_plan.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    const uint8_t *p;
    size_t n;
} reader;

static uint64_t take(reader *r, size_t k) {
    uint64_t v = 0;
    for (size_t i = 0; i < k; i++) v = v << 8 | (r->n ? (r->n--, *r->p++) : 0);
    return v;
}
static double take_double(reader *r) {
    uint64_t b = take(r, 8);
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static void check(int ok) {
    if (!ok) abort();
}

static void plan_frames(reader *r) {
    int64_t total = (int64_t)take(r, 8);
    double vfps = take_double(r), fps = take_double(r);
    int n = vs2_video_nframes(total, vfps, fps);
    check(n == 0 || (n >= 2 && n % 2 == 0 && n <= 768 && n <= total));
    if (n > 0) {
        int64_t idx[768];
        vs2_video_indices(total, n, idx);
        for (int i = 0; i < n; i++) check(idx[i] >= 0 && idx[i] < total && (i == 0 || idx[i] >= idx[i - 1]));
    }
}

static void plan_resize(reader *r) {
    int64_t h = (int64_t)take(r, 8), w = (int64_t)take(r, 8);
    double lo = take_double(r), hi = take_double(r);
    int oh = 0, ow = 0;
    vs2_error err;
    if (vs2_smart_resize(h, w, lo, hi, &oh, &ow, &err) == VS2_OK)
        check(oh >= 28 && ow >= 28 && oh % 28 == 0 && ow % 28 == 0 && oh <= 1 << 20 && ow <= 1 << 20);
    vs2_video_params p = vs2_video_default_params();
    p.total_pixels = (int64_t)take(r, 8);
    p.min_pixels = (int64_t)take(r, 4);
    p.max_pixels = (int64_t)take(r, 4);
    int n = (int)take(r, 2);
    if (n > 0) (void)vs2_video_max_pixels(&p, n);
}

/* A whole plan over up to 6 raw frames of up to 40x40: sampling, resize, patching. */
static void plan_rgb(reader *r) {
    size_t n = 1 + take(r, 1) % 6;
    int w = 1 + (int)(take(r, 1) % 40), h = 1 + (int)(take(r, 1) % 40);
    double fps = take_double(r);
    vs2_video_params p = vs2_video_default_params();
    p.threads = 1; /* a thread pool per execution would dominate the run */
    p.fps = take_double(r);
    /* Small output sizes (≤ 16384 pixels a frame; max_pixels 0 would mean the 602112 default)
     * keep an execution fast; the size arithmetic itself is covered by plan_resize. */
    p.min_pixels = (int64_t)(take(r, 2) % 8192);
    p.max_pixels = 1 + (int64_t)(take(r, 2) % 16384);
    size_t bytes = n * (size_t)w * (size_t)h * 3;
    uint8_t *rgb = malloc(bytes);
    if (!rgb) return;
    for (size_t i = 0; i < bytes; i++) rgb[i] = (uint8_t)(i * 31u + take(r, 1));
    vs2_video v;
    vs2_error err;
    if (vs2_video_from_rgb(rgb, n, w, h, fps, &p, &v, &err) == VS2_OK) {
        check(v.width % 28 == 0 && v.height % 28 == 0 && v.width > 0 && v.height > 0);
        check(v.n_frames >= 2 && v.n_frames % 2 == 0);
        for (int i = 0; i < v.n_frames; i++) check(v.indices[i] >= 0 && v.indices[i] < (int64_t)n);
        vs2_video_free(&v);
    }
    free(rgb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    reader r = {data + 1, size - 1};
    switch (data[0] % 3) {
    case 0: plan_frames(&r); break;
    case 1: plan_resize(&r); break;
    default: plan_rgb(&r); break;
    }
    return 0;
}
