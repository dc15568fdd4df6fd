/* test_video.c — frame planning, smart_resize, layout and the raw-RGB entry point. */
#include "check.h"
#include "vs2.h"
#include "video_plan.h"

#include <math.h>
#include <stdint.h>

static void test_nframes(void) {
    CHECK_EQ_INT(vs2_video_nframes(300, 30.0, 2.0), 20);
    CHECK_EQ_INT(vs2_video_nframes(299, 29.97, 2.0), 18); /* floor_even(19.95) */
    CHECK_EQ_INT(vs2_video_nframes(30, 30.0, 2.0), 4);    /* clamped up to 4 */
    CHECK_EQ_INT(vs2_video_nframes(3, 30.0, 2.0), 2);     /* capped by the total, even */
    CHECK_EQ_INT(vs2_video_nframes(1, 30.0, 2.0), 0);
    CHECK_EQ_INT(vs2_video_nframes(100000, 1.0, 2.0), 768);
}

/* qwen-vl-utils' nframes / max_frames (hand-computed from smart_nframes' formulas). */
static void test_nframes_params(void) {
    vs2_video_params p = vs2_video_default_params();
    CHECK_EQ_INT(vs2_video_nframes_params(300, 30.0, &p), 20); /* unset: the fps rule */
    p.max_frames = 9;                                          /* floor_even(9) = 8 caps 20 */
    CHECK_EQ_INT(vs2_video_nframes_params(300, 30.0, &p), 8);
    p.max_frames = 100;                                        /* above the fps count: no effect */
    CHECK_EQ_INT(vs2_video_nframes_params(300, 30.0, &p), 20);
    p.max_frames = 0;
    p.nframes = 7;                                             /* round_by_factor(7, 2) = 8 (7/2 = 3.5 -> 4) */
    CHECK_EQ_INT(vs2_video_nframes_params(300, 30.0, &p), 8);
    p.nframes = 5;                                             /* 2.5 -> 2 (half to even) -> 4 */
    CHECK_EQ_INT(vs2_video_nframes_params(300, 30.0, &p), 4);
    p.nframes = 400;                                           /* more than the video has */
    CHECK_EQ_INT(vs2_video_nframes_params(300, 30.0, &p), 0);
}

/* A plan over the token limit is refused before any pixel work, naming the plan. */
static void test_token_limit(void) {
    enum { W = 56, H = 28, N = 5 };
    static uint8_t rgb[N * W * H * 3];
    vs2_video_params p = vs2_video_default_params();
    vs2_video v;
    vs2_error err;
    CHECK_EQ_INT(vs2_video_from_rgb(rgb, N, W, H, 2.0, &p, &v, &err), VS2_OK);
    int64_t tokens = v.video_tokens;
    vs2_video_free(&v);
    p.max_video_tokens = tokens; /* exactly at the limit: accepted */
    CHECK_EQ_INT(vs2_video_from_rgb(rgb, N, W, H, 2.0, &p, &v, &err), VS2_OK);
    vs2_video_free(&v);
    p.max_video_tokens = tokens - 1;
    CHECK_EQ_INT(vs2_video_from_rgb(rgb, N, W, H, 2.0, &p, &v, &err), VS2_ERR_UNSUPPORTED);
    CHECK_STR_CONTAINS(err.message, "video tokens planned");
    CHECK_STR_CONTAINS(err.message, "--max-video-tokens");
    CHECK(v.pixel_values == NULL && v.frames == NULL);
}

static void test_indices(void) {
    int64_t idx[37];
    vs2_video_indices(300, 20, idx);
    CHECK_EQ_INT(idx[0], 0);
    CHECK_EQ_INT(idx[1], 16); /* 15.74 */
    CHECK_EQ_INT(idx[19], 299);
    vs2_video_indices(63, 37, idx); /* 46.5 exactly: torch's FMA arithmetic lands on 46 */
    CHECK_EQ_INT(idx[27], 46);
}

static void test_smart_resize(void) {
    int h = 0, w = 0;
    CHECK_EQ_INT(vs2_smart_resize(720, 1280, 100352, 602112, &h, &w, NULL), VS2_OK);
    CHECK(h == 560 && w == 1008);
    CHECK_EQ_INT(vs2_smart_resize(480, 640, 100352, 602112, &h, &w, NULL), VS2_OK);
    CHECK(h == 476 && w == 644);
    CHECK_EQ_INT(vs2_smart_resize(360, 640, 100352, 602112, &h, &w, NULL), VS2_OK);
    CHECK(h == 364 && w == 644);
    CHECK_EQ_INT(vs2_smart_resize(1, 1, 100352, 602112, &h, &w, NULL), VS2_OK);
    CHECK(h == 336 && w == 336);
    vs2_error err;
    CHECK_EQ_INT(vs2_smart_resize(2, 402, 100352, 602112, &h, &w, &err), VS2_ERR_UNSUPPORTED);
    CHECK_STR_CONTAINS(err.message, "200:1");
    vs2_video_params p = vs2_video_default_params();
    CHECK(vs2_video_max_pixels(&p, 20) == 602112.0);
    CHECK(vs2_video_max_pixels(&p, 768) == 90316800.0 / 768 * 2);
}

static void test_from_rgb(void) {
    enum { W = 56, H = 28, N = 5 };
    static uint8_t rgb[N * W * H * 3];
    for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)(i * 7);
    vs2_video_params p = vs2_video_default_params();
    p.keep_frames = 1;
    vs2_video v;
    vs2_error err;
    CHECK_EQ_INT(vs2_video_from_rgb(rgb, N, W, H, 2.0, &p, &v, &err), VS2_OK);
    CHECK_EQ_INT(v.n_frames, 4);
    CHECK_EQ_INT(v.total_frames, 5);
    CHECK(v.height % 28 == 0 && v.width % 28 == 0 && v.height * v.width >= 100352);
    CHECK_EQ_INT(v.grid_t, 2);
    CHECK_EQ_INT(v.rows, (int64_t)2 * (v.height / 14) * (v.width / 14));
    CHECK_EQ_INT(v.video_tokens, v.rows / 4);
    CHECK(v.second_per_grid_t == 1.0);
    /* element 0 = frame 0, channel R, pixel (0,0), normalised with CLIP mean/std (float32) */
    float want = ((float)v.frames[0] - 0.48145466f * 255.0f) / (0.26862954f * 255.0f);
    CHECK(v.pixel_values[0] == want);
    /* column 196 = channel R of the second frame of the temporal pair */
    size_t fsz = (size_t)v.width * v.height * 3;
    want = ((float)v.frames[fsz] - 0.48145466f * 255.0f) / (0.26862954f * 255.0f);
    CHECK(v.pixel_values[196] == want);
    vs2_video_free(&v);
    CHECK_EQ_INT(vs2_video_from_rgb(rgb, 1, W, H, 2.0, &p, &v, &err), VS2_ERR_VIDEO);
    CHECK_EQ_INT(vs2_video_from_rgb(NULL, 1, W, H, 2.0, &p, &v, &err), VS2_ERR_INVALID_ARG);
}

/* Frames given with their rate: the rate is required (finite, > 0), it chooses the frames as
 * for a decoded file of that rate (qwen-vl-utils' smart_nframes + linspace at params.fps), and
 * the temporal positions follow: second_per_grid_t = 2 / processor_fps (VideoScore2 passes the
 * requested 2.0), or 2 / sample_fps with processor_fps = 0, where sample_fps = n / total · fps. */
static void test_from_rgb_fps(void) {
    enum { W = 28, H = 28, N = 48 };
    static uint8_t rgb[N * W * H * 3];
    vs2_video_params p = vs2_video_default_params();
    p.no_pixels = 1;
    vs2_video v;
    vs2_error err;
    const double bad[] = {0.0, -24.0, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_EQ_INT(vs2_video_from_rgb(rgb, N, W, H, bad[i], &p, &v, &err), VS2_ERR_INVALID_ARG);
        CHECK_STR_CONTAINS(err.message, "is not a frame rate");
        CHECK_STR_CONTAINS(err.message, "48 frames");
    }
    const double rates[] = {24.0, 8.0, 2.0, 29.97};
    for (size_t i = 0; i < sizeof rates / sizeof *rates; i++) {
        p.processor_fps = 2.0;
        CHECK_EQ_INT(vs2_video_from_rgb(rgb, N, W, H, rates[i], &p, &v, &err), VS2_OK);
        int want = vs2_video_nframes(N, rates[i], 2.0); /* 48 frames at 24 fps: 2 s, 4 frames */
        CHECK_EQ_INT(v.n_frames, want);
        int64_t idx[N];
        vs2_video_indices(N, want, idx);
        for (int k = 0; k < want; k++) CHECK_EQ_INT(v.indices[k], idx[k]);
        CHECK(v.video_fps == rates[i]);
        CHECK(fabs(v.sample_fps - (double)want / N * rates[i]) < 1e-12);
        CHECK(v.second_per_grid_t == 1.0);
        vs2_video_free(&v);
        p.processor_fps = 0; /* positions from the sampled rate itself */
        CHECK_EQ_INT(vs2_video_from_rgb(rgb, N, W, H, rates[i], &p, &v, &err), VS2_OK);
        CHECK(fabs(v.second_per_grid_t - 2.0 / ((double)want / N * rates[i])) < 1e-12);
        vs2_video_free(&v);
    }
    CHECK_EQ_INT(vs2_video_nframes(N, 24.0, 2.0), 4);
    CHECK_EQ_INT(vs2_video_nframes(N, 8.0, 2.0), 12);
}

static void test_resize_identity(void) {
    static uint8_t a[28 * 56 * 3], b[28 * 56 * 3];
    for (size_t i = 0; i < sizeof a; i++) a[i] = (uint8_t)(i * 13);
    CHECK_EQ_INT(vs2_resize_torch_bicubic_aa(a, 56, 28, b, 56, 28, NULL), VS2_OK);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK_EQ_INT(vs2_resize_pil_bicubic(a, 56, 28, b, 56, 28, NULL), VS2_OK);
    CHECK(memcmp(a, b, sizeof a) == 0);
}

int main(void) {
    RUN(test_nframes);
    RUN(test_nframes_params);
    RUN(test_token_limit);
    RUN(test_indices);
    RUN(test_smart_resize);
    RUN(test_from_rgb);
    RUN(test_from_rgb_fps);
    RUN(test_resize_identity);
    return CHECK_DONE();
}
