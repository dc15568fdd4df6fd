/* frames.c — `vs2 frames`: show how a video is sampled, resized and patched for the model,
 * and optionally write pixel_values_videos, the decoded/resized frames and PNGs. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: vs2 frames VIDEO|IMAGE|DIR|IMAGE... [options]\n\n"
            "Decode, sample and resize a video exactly as qwen-vl-utils + the Qwen2.5-VL processor do.\n\n"
            "  --fps F              target sampling rate (default 2.0)\n"
            "  --min-pixels N       per-frame minimum (default 100352)\n"
            "  --max-pixels N       per-frame cap (default 602112)\n"
            "  --total-pixels N     budget over all frames (default 90316800)\n"
            "  --resized-height H --resized-width W   fixed size (rounded to multiples of 28)\n"
            "  --processor-fps F    fps handed to the processor; second_per_grid_t = 2/F\n"
            "                       (default 2.0 as VideoScore2; 0 = use sample_fps)\n"
            "  --threads N          decoder and resize threads (default: one per core)\n"
            "  --nframes N          exactly N frames (rounded to even), instead of --fps\n"
            "  --max-frames N       at most N frames (default min(768, all frames))\n"
            "  --max-video-tokens N refuse a plan with more video tokens (default: no limit here)\n"
            "  --json               print the plan as one JSON object\n"
            "  --pixels OUT         write pixel_values_videos: little-endian float32, rows x 1176\n"
            "  --png DIR            write the selected, resized frames as PNG\n"
            "  --frames OUT         write the resized frames: uint8 RGB, n x h x w x 3\n"
            "  --rgb OUT            write the selected frames as decoded: uint8 RGB, n x H x W x 3\n");
}

static int write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "vs2 frames: %s: cannot create: %s\n", path, strerror(errno));
        return 1;
    }
    int bad = fwrite(data, 1, n, f) != n;
    int e = errno;
    if (fclose(f) != 0 && !bad) bad = 1, e = errno;
    if (bad) fprintf(stderr, "vs2 frames: %s: write failed: %s\n", path, strerror(e));
    return bad;
}

/* PNG through FFmpeg's own encoder: no extra dependency. */
static int write_png(const char *path, const uint8_t *rgb, int w, int h) {
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
    AVCodecContext *c = codec ? avcodec_alloc_context3(codec) : NULL;
    AVFrame *fr = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    int rc = 1, encoded = 0;
    if (!c || !fr || !pkt) goto out;
    c->width = w;
    c->height = h;
    c->pix_fmt = AV_PIX_FMT_RGB24;
    c->time_base = (AVRational){1, 25};
    if (avcodec_open2(c, codec, NULL) < 0) goto out;
    fr->width = w;
    fr->height = h;
    fr->format = AV_PIX_FMT_RGB24;
    if (av_frame_get_buffer(fr, 0) < 0) goto out;
    for (int y = 0; y < h; y++) memcpy(fr->data[0] + (ptrdiff_t)y * fr->linesize[0], rgb + (size_t)y * w * 3, (size_t)w * 3);
    if (avcodec_send_frame(c, fr) < 0 || avcodec_send_frame(c, NULL) < 0) goto out;
    if (avcodec_receive_packet(c, pkt) < 0) goto out;
    rc = write_file(path, pkt->data, (size_t)pkt->size); /* names the file and the cause */
    encoded = 1;
out:
    if (!encoded) fprintf(stderr, "vs2 frames: %s: cannot encode PNG (%dx%d)\n", path, w, h);
    av_packet_free(&pkt);
    av_frame_free(&fr);
    avcodec_free_context(&c);
    return rc;
}

/* --png DIR: an existing directory, or created; anything else is named. */
static int png_dir(const char *dir) {
    struct stat sb;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "vs2 frames: --png %s: cannot create directory: %s\n", dir, strerror(errno));
        return 1;
    }
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "vs2 frames: --png %s: exists and is not a directory (--png takes a directory)\n", dir);
        return 1;
    }
    return 0;
}

static const char *kind_name(vs2_video_kind k) {
    return k == VS2_VIDEO_FILE ? "video" : k == VS2_VIDEO_IMAGES ? "images" : "rgb";
}

static void print_json(const vs2_video *v, const char *path) {
    printf("{\"path\":");
    cli_json_string(stdout, path, strlen(path));
    printf(",\"kind\":\"%s\",\"codec\":", kind_name(v->kind));
    cli_json_string(stdout, v->codec, strlen(v->codec));
    printf(",\"pix_fmt\":");
    cli_json_string(stdout, v->pix_fmt, strlen(v->pix_fmt));
    printf(",\"src_width\":%d,\"src_height\":%d,\"rotation\":%.17g,\"total_frames\":%lld,\"video_fps\":%.17g,"
           "\"nframes\":%d,\"indices\":[",
           v->src_width, v->src_height, v->rotation, (long long)v->total_frames, v->video_fps, v->n_frames);
    for (int i = 0; i < v->n_frames; i++) printf("%s%lld", i ? "," : "", (long long)v->indices[i]);
    printf("],\"sample_fps\":%.17g,\"height\":%d,\"width\":%d,\"grid_thw\":[%d,%d,%d],\"rows\":%lld,"
           "\"video_tokens\":%lld,\"second_per_grid_t\":%.17g,\"decode_passes\":%d}\n",
           v->sample_fps, v->height, v->width, v->grid_t, v->grid_h, v->grid_w, (long long)v->rows,
           (long long)v->video_tokens, v->second_per_grid_t, v->decode_passes);
}

static void print_plan(const vs2_video *v, const char *path) {
    printf("input         %s (%s", path, kind_name(v->kind));
    if (v->codec[0]) printf(", %s %s", v->codec, v->pix_fmt);
    printf(")\nsource size   %dx%d\n", v->src_width, v->src_height);
    if (v->rotation != 0)
        printf("rotation      %.0f degrees in the metadata (not applied, as the reference)\n", v->rotation);
    printf("frames        %lld at %.6g fps\n", (long long)v->total_frames, v->video_fps);
    printf("selected      %d frames, sample fps %.6g:", v->n_frames, v->sample_fps);
    for (int i = 0; i < v->n_frames; i++) printf(" %lld", (long long)v->indices[i]);
    printf("\nresized       %dx%d\n", v->width, v->height);
    printf("grid_thw      [%d, %d, %d]  (pixel_values_videos %lld x %d)\n", v->grid_t, v->grid_h, v->grid_w,
           (long long)v->rows, VS2_PATCH_DIM);
    printf("video tokens  %lld\nsecond/grid   %.6g\n", (long long)v->video_tokens, v->second_per_grid_t);
}

static int parse_num(const char *opt, const char *s, double *out) {
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (errno || end == s || *end || d != d) {
        fprintf(stderr, "vs2 frames: %s: not a number: '%s'\n", opt, s);
        return 0;
    }
    *out = d;
    return 1;
}

int cmd_frames(int argc, char **argv) {
    vs2_video_params p = vs2_video_default_params();
    int vk;
    const char *pixels = NULL, *png = NULL, *frames = NULL, *rgb = NULL;
    int json = 0;
    char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    size_t n_inputs = 0;
    if (!inputs) return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        double d;
        int has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            free(inputs);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (a[0] == '-' && a[1] == '-' && !has && !strchr(a, '=')) {
            fprintf(stderr, "vs2 frames: %s needs a value\n", a);
            free(inputs);
            return 2;
        } else if (!strcmp(a, "--pixels")) pixels = argv[++i];
        else if (!strcmp(a, "--png")) png = argv[++i];
        else if (!strcmp(a, "--frames")) frames = argv[++i];
        else if (!strcmp(a, "--rgb")) rgb = argv[++i];
        else if (!strcmp(a, "--fps") || !strcmp(a, "--min-pixels") || !strcmp(a, "--max-pixels") ||
                 !strcmp(a, "--total-pixels") || !strcmp(a, "--resized-height") || !strcmp(a, "--resized-width") ||
                 !strcmp(a, "--processor-fps") || !strcmp(a, "--threads")) {
            if (!parse_num(a, argv[++i], &d)) {
                free(inputs);
                return 2;
            }
            int bad = d < 0 || d > 1e12;
            if (!strcmp(a, "--fps")) bad |= !(d > 0), p.fps = d;
            else if (!strcmp(a, "--min-pixels")) p.min_pixels = (int64_t)d;
            else if (!strcmp(a, "--max-pixels")) p.max_pixels = (int64_t)d;
            else if (!strcmp(a, "--total-pixels")) bad |= !(d > 0), p.total_pixels = (int64_t)d;
            else if (!strcmp(a, "--resized-height")) bad |= d > 1e6, p.resized_height = (int)d;
            else if (!strcmp(a, "--resized-width")) bad |= d > 1e6, p.resized_width = (int)d;
            else if (!strcmp(a, "--processor-fps")) p.processor_fps = d;
            else bad |= d > 64, p.threads = (int)d;
            if (bad) {
                fprintf(stderr, "vs2 frames: %s: value out of range\n", a);
                free(inputs);
                return 2;
            }
        } else if ((vk = cli_video_opt("vs2 frames", argc, argv, &i, &p)) != 0) {
            if (vk < 0) {
                free(inputs);
                return 2;
            }
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "vs2 frames: unknown option '%s'\n", a);
            usage(stderr);
            free(inputs);
            return 2;
        } else inputs[n_inputs++] = argv[i];
    }
    if (n_inputs == 0) {
        usage(stderr);
        free(inputs);
        return 2;
    }
    /* The PNG directory first: a mistake there should not cost a decode. */
    if (png && png_dir(png) != 0) {
        free(inputs);
        return 1;
    }
    /* FFmpeg logs to stderr by default; vs2's own messages already name file and cause. */
    if (!getenv("VS2_FFMPEG_LOG")) av_log_set_level(AV_LOG_QUIET);
    p.keep_frames = png || frames;
    p.keep_source_frames = rgb != NULL;
    p.no_pixels = pixels == NULL;
    vs2_video v;
    vs2_error err;
    vs2_status st = n_inputs == 1 ? vs2_video_load(inputs[0], &p, &v, &err)
                                  : vs2_video_from_images((const char *const *)inputs, n_inputs, &p, &v, &err);
    if (st != VS2_OK) {
        fprintf(stderr, "vs2 frames: %s\n", err.message);
        free(inputs);
        return 1;
    }
    json ? print_json(&v, inputs[0]) : print_plan(&v, inputs[0]);
    int rc = 0;
    size_t fsz = (size_t)v.width * v.height * 3;
    if (pixels) rc |= write_file(pixels, v.pixel_values, (size_t)v.rows * VS2_PATCH_DIM * sizeof(float));
    if (frames) rc |= write_file(frames, v.frames, fsz * (size_t)v.n_frames);
    if (rgb) {
        if (v.source_frames)
            rc |= write_file(rgb, v.source_frames, (size_t)v.src_width * v.src_height * 3 * (size_t)v.n_frames);
        else {
            fprintf(stderr, "vs2 frames: --rgb: the inputs differ in size\n");
            rc = 1;
        }
    }
    if (png) {
        for (int i = 0; !rc && i < v.n_frames; i++) {
            char name[4096];
            snprintf(name, sizeof name, "%s/frame_%03d_src%06lld.png", png, i, (long long)v.indices[i]);
            rc |= write_png(name, v.frames + (size_t)i * fsz, v.width, v.height);
        }
    }
    vs2_video_free(&v);
    free(inputs);
    return rc;
}
