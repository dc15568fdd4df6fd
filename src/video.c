/* video.c — decode a video the way torchvision 0.14 read_video (PyAV 10) does, pick the frames
 * qwen-vl-utils picks, resize them as it does, and lay them out as the HF processor does.
 *
 * Reference reader semantics reproduced here (docs/video.md has the reasoning):
 *   - the first video stream of the container; seek to 0 (backward) before decoding;
 *   - every decoded frame keyed by its pts; frames with pts < 0 dropped, equal pts keep the
 *     last frame, the rest sorted by pts: that list is the video, its length total_frames;
 *   - a demux or decode error ends the video where it is (no flush), as PyAV raises and
 *     torchvision swallows the error;
 *   - RGB via swscale, same size, SWS_BILINEAR, default colour matrix (PyAV 10 to_rgb);
 *   - video_fps = the stream's avg_frame_rate.
 * Only the selected frames are converted and kept. A first pass decodes everything once;
 * when the stream's frame count predicted the selection correctly (the normal case) the
 * selected frames were converted in that same pass, otherwise a second pass converts them. */
#include "internal.h"
#include "image_jpeg.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <stdarg.h>

/* ---- FFmpeg's log --------------------------------------------------------------------------- */

static vs2_log_fn ff_log_fn;
static void *ff_log_user;

static void ff_log_callback(void *avcl, int level, const char *fmt, va_list vl) {
    if (!ff_log_fn || level > AV_LOG_INFO) return;
    char line[1024];
    int prefix = 1;
    av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &prefix);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    if (n) ff_log_fn(2, line, ff_log_user);
}

void vs2_set_ffmpeg_log(vs2_log_fn fn, void *user) {
    ff_log_fn = fn;
    ff_log_user = user;
    av_log_set_callback(ff_log_callback);
}

/* ---- small helpers ----------------------------------------------------------------------- */

static const char *av_err(int code, char *buf, size_t n) {
    av_strerror(code, buf, n);
    return buf;
}

static int resolve_threads(int threads) {
    if (threads > 0) return threads > 64 ? 64 : threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

void vs2_video_free(vs2_video *v) {
    if (!v) return;
    free(v->indices);
    free(v->pixel_values);
    free(v->frames);
    free(v->source_frames);
    memset(v, 0, sizeof *v);
}

/* ---- resize workers: frames are resized in parallel in batches of `threads` ------------- */

typedef struct {
    const uint8_t *src;
    int sw, sh;
    uint8_t *dst;
    int dw, dh;
    int pil;
    vs2_status st;
    vs2_error err;
} resize_job;

static void *resize_worker(void *arg) {
    resize_job *j = arg;
    j->st = j->pil ? vs2_resize_pil_bicubic(j->src, j->sw, j->sh, j->dst, j->dw, j->dh, &j->err)
                   : vs2_resize_torch_bicubic_aa(j->src, j->sw, j->sh, j->dst, j->dw, j->dh, &j->err);
    return NULL;
}

static vs2_status run_resize_jobs(resize_job *jobs, int n, vs2_error *err) {
    pthread_t tid[64];
    int started[64] = {0};
    for (int i = 1; i < n && i < 64; i++) started[i] = !pthread_create(&tid[i], NULL, resize_worker, &jobs[i]);
    resize_worker(&jobs[0]);
    for (int i = 1; i < n && i < 64; i++) {
        if (started[i]) pthread_join(tid[i], NULL);
        else resize_worker(&jobs[i]); /* no thread: do it here */
    }
    for (int i = 0; i < n; i++)
        if (jobs[i].st != VS2_OK) {
            if (err) *err = jobs[i].err;
            return jobs[i].st;
        }
    return VS2_OK;
}

/* ---- the plan and the output ------------------------------------------------------------ */

static vs2_status finish_plan(vs2_video *v, const vs2_video_params *p, double min_px, double max_px,
                              const char *name, vs2_error *err) {
    vs2_status st;
    if (p->resized_height > 0 && p->resized_width > 0)
        st = vs2_smart_resize(p->resized_height, p->resized_width, (double)p->image_min_pixels,
                              (double)p->image_max_pixels, &v->height, &v->width, err);
    else
        st = vs2_smart_resize(v->src_height, v->src_width, min_px, max_px, &v->height, &v->width, err);
    if (st != VS2_OK) {
        char msg[sizeof err->message];
        snprintf(msg, sizeof msg, "%s", err ? err->message : "");
        return vs2__fail(err, st, "%s: %s", name, msg);
    }
    v->grid_t = (v->n_frames + 1) / 2;
    v->grid_h = v->height / 14;
    v->grid_w = v->width / 14;
    v->rows = (int64_t)v->grid_t * v->grid_h * v->grid_w;
    v->video_tokens = v->rows / 4;
    v->second_per_grid_t = 2.0 / (p->processor_fps > 0 ? p->processor_fps : v->sample_fps);
    /* Long clips plan tens of thousands of tokens (60 s of 480p: 30,600): refuse before any
     * pixel work rather than run for hours; the message says which knobs lower the count. */
    if (p->max_video_tokens > 0 && v->video_tokens > p->max_video_tokens)
        return vs2__fail(err, VS2_ERR_UNSUPPORTED,
                         "%s: %lld video tokens planned (%d frames of %dx%d), over the limit of %lld: lower "
                         "--fps, --max-frames or --max-pixels, or raise --max-video-tokens (0 = no limit)",
                         name, (long long)v->video_tokens, v->n_frames, v->width, v->height,
                         (long long)p->max_video_tokens);
    return VS2_OK;
}

static vs2_status alloc_outputs(vs2_video *v, const vs2_video_params *p, const char *name,
                                vs2_error *err) {
    uint64_t fb, all;
    if (!vs2__mul_ok((uint64_t)v->width * (uint64_t)v->height, 3, &fb) ||
        !vs2__mul_ok(fb, (uint64_t)v->n_frames, &all) || all > SIZE_MAX / 4)
        return vs2__fail(err, VS2_ERR_NOMEM, "%s: resized frames too large", name);
    v->frames = malloc(all ? (size_t)all : 1);
    if (!v->frames) return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory for %d frames", name, v->n_frames);
    if (p->keep_source_frames) {
        uint64_t sb;
        if (!vs2__mul_ok((uint64_t)v->src_width * (uint64_t)v->src_height * 3, (uint64_t)v->n_frames, &sb) ||
            sb > SIZE_MAX / 2 || !(v->source_frames = malloc((size_t)sb + 1)))
            return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory for source frames", name);
    }
    return VS2_OK;
}

/* Pad odd counts (the processor repeats the last frame), normalise and patchify. */
static vs2_status finish_pixels(vs2_video *v, const vs2_video_params *p, const char *name,
                                vs2_error *err) {
    if (!p->no_pixels) {
        uint64_t n;
        if (!vs2__mul_ok((uint64_t)v->rows, VS2_PATCH_DIM, &n) || n > SIZE_MAX / sizeof(float))
            return vs2__fail(err, VS2_ERR_NOMEM, "%s: pixel_values too large", name);
        v->pixel_values = malloc((size_t)n * sizeof(float));
        if (!v->pixel_values) return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory for pixel_values", name);
        vs2_video_patchify(v->frames, v->grid_t * 2, v->height, v->width, v->pixel_values);
    }
    if (!p->keep_frames) {
        free(v->frames);
        v->frames = NULL;
    }
    return VS2_OK;
}

static vs2_status select_frames(vs2_video *v, const vs2_video_params *p, const char *name,
                                vs2_error *err) {
    if (!(v->video_fps > 0) || !isfinite(v->video_fps))
        return vs2__fail(err, VS2_ERR_VIDEO, "%s: the video stream has no average frame rate", name);
    /* The reference's float32 linspace of frame positions is exact only below 2^24 frames; past
     * that it can round the last index to total_frames itself (an IndexError in the reference). */
    if (v->total_frames > VS2_MAX_VIDEO_FRAMES)
        return vs2__fail(err, VS2_ERR_UNSUPPORTED, "%s: %lld frames, more than the %d the reference can index",
                         name, (long long)v->total_frames, VS2_MAX_VIDEO_FRAMES);
    int n = vs2_video_nframes_params(v->total_frames, v->video_fps, p);
    if (n < 2 && p->nframes > 0)
        return vs2__fail(err, VS2_ERR_VIDEO, "%s: %d frames asked for (nframes), %lld decodable", name,
                         p->nframes, (long long)v->total_frames);
    if (n < 2)
        return vs2__fail(err, VS2_ERR_VIDEO,
                         "%s: %lld decodable frame(s); the reference needs at least 2 to sample",
                         name, (long long)v->total_frames);
    v->n_frames = n;
    v->indices = malloc((size_t)n * sizeof *v->indices);
    if (!v->indices) return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", name);
    vs2_video_indices(v->total_frames, n, v->indices);
    v->sample_fps = (double)n / (double)v->total_frames * v->video_fps;
    return VS2_OK;
}

/* ---- raw RGB frames --------------------------------------------------------------------- */

vs2_status vs2_video_from_rgb(const uint8_t *rgb, size_t n, int width, int height, double fps,
                              const vs2_video_params *params, vs2_video *out, vs2_error *err) {
    vs2_video_params dp = vs2_video_default_params();
    const vs2_video_params *p = params ? params : &dp;
    vs2__ok(err);
    if (!out) return vs2__fail(err, VS2_ERR_INVALID_ARG, "rgb frames: out is NULL");
    memset(out, 0, sizeof *out);
    if (!rgb || n == 0 || width <= 0 || height <= 0)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "rgb frames: %zu frames of %dx%d", n, width, height);
    /* The rate places the frames in time: it chooses which are sampled and their M-RoPE temporal
     * positions (sample_fps, second_per_grid_t), so frames without one cannot be scored. */
    if (!isfinite(fps) || !(fps > 0))
        return vs2__fail(err, VS2_ERR_INVALID_ARG,
                         "rgb frames: fps %g is not a frame rate; give the finite rate (> 0) the %zu frames were "
                         "captured or generated at", fps, n);
    out->kind = VS2_VIDEO_RGB;
    out->total_frames = (int64_t)n;
    out->video_fps = fps;
    out->src_width = width;
    out->src_height = height;
    vs2_status st = select_frames(out, p, "rgb frames", err);
    if (st == VS2_OK)
        st = finish_plan(out, p, (double)p->min_pixels, vs2_video_max_pixels(p, out->n_frames), "rgb frames", err);
    if (st == VS2_OK) st = alloc_outputs(out, p, "rgb frames", err);
    size_t fsize = (size_t)width * height * 3, osize = (size_t)out->width * out->height * 3;
    for (int i = 0; st == VS2_OK && i < out->n_frames; i++) {
        const uint8_t *src = rgb + (size_t)out->indices[i] * fsize;
        if (out->source_frames) memcpy(out->source_frames + (size_t)i * fsize, src, fsize);
        st = vs2_resize_torch_bicubic_aa(src, width, height, out->frames + (size_t)i * osize, out->width,
                                         out->height, err);
    }
    if (st == VS2_OK) st = finish_pixels(out, p, "rgb frames", err);
    if (st != VS2_OK) vs2_video_free(out);
    return st;
}

/* ---- FFmpeg input ----------------------------------------------------------------------- */

typedef struct {
    const char *path;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVStream *st;
    int stream;
    struct SwsContext *sws;
    AVFrame *frame;
    AVPacket *pkt;
    uint8_t *rgb_data[4];
    int rgb_linesize[4];
    int rgb_w, rgb_h;
} input;

static void input_close(input *in) {
    if (in->rgb_data[0]) av_freep(&in->rgb_data[0]);
    sws_freeContext(in->sws);
    av_frame_free(&in->frame);
    av_packet_free(&in->pkt);
    avcodec_free_context(&in->dec);
    avformat_close_input(&in->fmt);
    const char *path = in->path;
    memset(in, 0, sizeof *in);
    in->path = path;
}

static int is_image_format(const AVFormatContext *fmt) {
    const char *n = fmt->iformat->name;
    return !strcmp(n, "image2") || strstr(n, "_pipe") != NULL;
}

/* Videos and images must be regular files: FFmpeg would block forever on a FIFO without a writer
 * and read /dev/urandom or a terminal without end. Checked with stat (which opens nothing);
 * FFmpeg then opens the path itself. */
static vs2_status regular_input(const char *path, vs2_error *err) {
    struct stat sb;
    if (stat(path, &sb) != 0) return vs2__fail(err, VS2_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return vs2__fail(err, VS2_ERR_IO, "%s: is %s, not a video or image file", path,
                         vs2__file_kind(sb.st_mode));
    return VS2_OK;
}

/* A YUV4MPEG2 header declares the frame size before any frame: FFmpeg refuses sizes it cannot
 * allocate with a bare errno ("Device or resource busy"), so read W and H here to name them.
 * Returns 0 when the file is not y4m or the header has no size. */
static int y4m_declared_size(const char *path, int64_t *w, int64_t *h) {
    char head[256];
    int fd = vs2__open_regular(path, NULL);
    if (fd < 0) return 0;
    ssize_t n = read(fd, head, sizeof head - 1);
    close(fd);
    if (n < 10 || memcmp(head, "YUV4MPEG2 ", 10)) return 0;
    head[n] = '\0';
    *w = *h = -1;
    for (char *t = head + 9; *t && *t != '\n'; t++)
        if (t[-1] == ' ' && (*t == 'W' || *t == 'H')) {
            long long v = strtoll(t + 1, NULL, 10);
            *(*t == 'W' ? w : h) = v;
        }
    return *w >= 0 && *h >= 0;
}

static vs2_status input_open(input *in, const char *path, const vs2_video_params *p, vs2_error *err) {
    char eb[128];
    memset(in, 0, sizeof *in);
    in->path = path;
    vs2_status st = regular_input(path, err);
    if (st != VS2_OK) return st;
    int64_t yw, yh, ypx;
    if (y4m_declared_size(path, &yw, &yh) &&
        (yw <= 0 || yh <= 0 || __builtin_mul_overflow(yw, yh, &ypx) || ypx > p->max_source_pixels))
        return vs2__fail(err, VS2_ERR_UNSUPPORTED, "%s: the YUV4MPEG2 header declares a frame size %lldx%lld, "
                         "outside 1 to the limit of %lld pixels", path, (long long)yw, (long long)yh,
                         (long long)p->max_source_pixels);
    int r = avformat_open_input(&in->fmt, path, NULL, NULL);
    if (r < 0)
        return vs2__fail(err, VS2_ERR_VIDEO, "%s: not a readable video or image (%s)", path,
                         av_err(r, eb, sizeof eb));
    if ((r = avformat_find_stream_info(in->fmt, NULL)) < 0) {
        input_close(in);
        return vs2__fail(err, VS2_ERR_VIDEO, "%s: cannot read stream information (%s)", path,
                         av_err(r, eb, sizeof eb));
    }
    in->stream = -1; /* torchvision takes container.streams.video[0]: the first one */
    for (unsigned i = 0; i < in->fmt->nb_streams; i++)
        if (in->fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
            in->stream = (int)i;
            break;
        }
    if (in->stream < 0) {
        input_close(in);
        return vs2__fail(err, VS2_ERR_VIDEO, "%s: no video stream (audio or data only)", path);
    }
    in->st = in->fmt->streams[in->stream];
    const AVCodecParameters *cp = in->st->codecpar;
    if (cp->width <= 0 || cp->height <= 0) {
        input_close(in);
        return vs2__fail(err, VS2_ERR_VIDEO, "%s: frame size unknown or refused by FFmpeg (corrupt or too large)", path);
    }
    if ((int64_t)cp->width * cp->height > p->max_source_pixels) {
        int w = cp->width, h = cp->height;
        input_close(in);
        return vs2__fail(err, VS2_ERR_UNSUPPORTED, "%s: frame size %dx%d exceeds the limit of %lld pixels",
                         path, w, h, (long long)p->max_source_pixels);
    }
    const AVCodec *codec = avcodec_find_decoder(cp->codec_id);
    if (!codec) {
        input_close(in);
        return vs2__fail(err, VS2_ERR_VIDEO, "%s: no decoder for codec '%s'", path, avcodec_get_name(cp->codec_id));
    }
    in->dec = avcodec_alloc_context3(codec);
    in->frame = av_frame_alloc();
    in->pkt = av_packet_alloc();
    if (!in->dec || !in->frame || !in->pkt) {
        input_close(in);
        return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", path);
    }
    if ((r = avcodec_parameters_to_context(in->dec, cp)) < 0) {
        input_close(in);
        return vs2__fail(err, VS2_ERR_VIDEO, "%s: bad codec parameters (%s)", path, av_err(r, eb, sizeof eb));
    }
    /* Frame threading changes no decoded pixel (FFmpeg guarantees bit-exact output). */
    in->dec->thread_count = resolve_threads(p->threads);
    in->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    if ((r = avcodec_open2(in->dec, codec, NULL)) < 0) {
        input_close(in);
        return vs2__fail(err, VS2_ERR_VIDEO, "%s: cannot open the %s decoder (%s)", path, codec->name,
                         av_err(r, eb, sizeof eb));
    }
    return VS2_OK;
}

/* PyAV 10 VideoFrame.to_rgb(): sws_getCachedContext(same size, RGB24, SWS_BILINEAR), no
 * colourspace details, destination from av_image_alloc(align 16). Writes packed RGB. */
static vs2_status frame_to_rgb(input *in, const AVFrame *f, uint8_t *dst, vs2_error *err) {
    if (f->format < 0) return vs2__fail(err, VS2_ERR_VIDEO, "%s: decoded frame has no pixel format", in->path);
    if (f->format == AV_PIX_FMT_RGB24) { /* PyAV returns the frame itself */
        for (int y = 0; y < f->height; y++)
            memcpy(dst + (size_t)y * f->width * 3, f->data[0] + (ptrdiff_t)y * f->linesize[0], (size_t)f->width * 3);
        return VS2_OK;
    }
    in->sws = sws_getCachedContext(in->sws, f->width, f->height, (enum AVPixelFormat)f->format, f->width,
                                   f->height, AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
    if (!in->sws)
        return vs2__fail(err, VS2_ERR_UNSUPPORTED, "%s: cannot convert pixel format %s to RGB", in->path,
                         av_get_pix_fmt_name((enum AVPixelFormat)f->format));
    if (!in->rgb_data[0] || in->rgb_w != f->width || in->rgb_h != f->height) {
        if (in->rgb_data[0]) av_freep(&in->rgb_data[0]);
        if (av_image_alloc(in->rgb_data, in->rgb_linesize, f->width, f->height, AV_PIX_FMT_RGB24, 16) < 0)
            return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory for a %dx%d frame", in->path, f->width, f->height);
        in->rgb_w = f->width;
        in->rgb_h = f->height;
    }
    sws_scale(in->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, in->rgb_data, in->rgb_linesize);
    for (int y = 0; y < f->height; y++)
        memcpy(dst + (size_t)y * f->width * 3, in->rgb_data[0] + (ptrdiff_t)y * in->rgb_linesize[0], (size_t)f->width * 3);
    return VS2_OK;
}

/* Decode every frame of the stream, calling fn(frame, ordinal, user) for each. Mirrors PyAV's
 * demux/decode loop: EOF flushes the decoder; any other error ends the stream there. */
typedef vs2_status (*frame_fn)(input *in, AVFrame *f, int64_t ordinal, void *user, vs2_error *err);

static vs2_status decode_all(input *in, int seek, frame_fn fn, void *user, int *stopped_early, vs2_error *err) {
    int64_t ordinal = 0;
    int eof = 0;
    *stopped_early = 0;
    /* read_video seeks to its start (0) first; failure means no frames at all. (PIL reads
     * images without seeking.) */
    if (seek && av_seek_frame(in->fmt, in->stream, 0, AVSEEK_FLAG_BACKWARD) < 0) {
        *stopped_early = 2; /* told apart: the cause is the missing timestamps, not damage */
        return VS2_OK;
    }
    avcodec_flush_buffers(in->dec);
    while (!eof) {
        int r = av_read_frame(in->fmt, in->pkt);
        if (r == AVERROR_EOF) {
            eof = 1;
            r = avcodec_send_packet(in->dec, NULL);
        } else if (r < 0) {
            *stopped_early = 1;
            return VS2_OK;
        } else if (in->pkt->stream_index != in->stream) {
            av_packet_unref(in->pkt);
            continue;
        } else {
            r = avcodec_send_packet(in->dec, in->pkt);
            av_packet_unref(in->pkt);
        }
        if (r < 0 && r != AVERROR_EOF) {
            *stopped_early = 1;
            return VS2_OK;
        }
        for (;;) {
            r = avcodec_receive_frame(in->dec, in->frame);
            if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) break;
            if (r < 0) {
                *stopped_early = 1;
                return VS2_OK;
            }
            vs2_status st = fn(in, in->frame, ordinal++, user, err);
            av_frame_unref(in->frame);
            if (st != VS2_OK) return st;
        }
    }
    return VS2_OK;
}

/* State shared by both passes. */
typedef struct {
    const vs2_video_params *p;
    vs2_video *v;
    int w, h, fmt;
    int64_t *pts;       /* pass 1: pts of every decoded frame */
    int64_t n_pts, cap_pts;
    int64_t *want;      /* ordinals wanted, ascending, or NULL */
    int *slot;          /* output slot of each want (NULL: slot = position) */
    int n_want;
    int next_want;      /* next slot to fill */
    int threads;
    resize_job *jobs;   /* pending resizes */
    uint8_t **bufs;     /* source RGB buffers, one per job */
    int n_jobs;
    int planned;        /* v->width/height and outputs allocated */
} dec_state;

static vs2_status flush_jobs(dec_state *s, vs2_error *err) {
    vs2_status st = s->n_jobs ? run_resize_jobs(s->jobs, s->n_jobs, err) : VS2_OK;
    s->n_jobs = 0;
    return st;
}

static vs2_status take_frame(dec_state *s, input *in, AVFrame *f, int slot, vs2_error *err) {
    vs2_video *v = s->v;
    size_t ssize = (size_t)s->w * s->h * 3, osize = (size_t)v->width * v->height * 3;
    uint8_t *src = s->bufs[s->n_jobs];
    vs2_status st = frame_to_rgb(in, f, src, err);
    if (st != VS2_OK) return st;
    if (v->source_frames) memcpy(v->source_frames + (size_t)slot * ssize, src, ssize);
    resize_job *j = &s->jobs[s->n_jobs++];
    *j = (resize_job){src, s->w, s->h, v->frames + (size_t)slot * osize, v->width, v->height, 0, VS2_OK, {0}};
    return s->n_jobs == s->threads ? flush_jobs(s, err) : VS2_OK;
}

static vs2_status check_frame(dec_state *s, input *in, const AVFrame *f, vs2_error *err) {
    if (f->pts == AV_NOPTS_VALUE)
        return vs2__fail(err, VS2_ERR_VIDEO, "%s: a decoded frame has no timestamp (the reference reader fails on it)",
                         in->path);
    if (s->w == 0) {
        s->w = f->width;
        s->h = f->height;
        s->fmt = f->format;
        if ((int64_t)s->w * s->h > s->p->max_source_pixels || s->w <= 0 || s->h <= 0)
            return vs2__fail(err, VS2_ERR_UNSUPPORTED, "%s: frame size %dx%d is outside the limit of %lld pixels",
                             in->path, s->w, s->h, (long long)s->p->max_source_pixels);
    } else if (f->width != s->w || f->height != s->h) {
        return vs2__fail(err, VS2_ERR_UNSUPPORTED,
                         "%s: frame size changes from %dx%d to %dx%d (the reference cannot stack them)", in->path,
                         s->w, s->h, f->width, f->height);
    }
    return VS2_OK;
}

static vs2_status alloc_jobs(dec_state *s, const char *path, vs2_error *err) {
    size_t ssize = (size_t)s->w * s->h * 3;
    s->jobs = calloc((size_t)s->threads, sizeof *s->jobs);
    s->bufs = calloc((size_t)s->threads, sizeof *s->bufs);
    if (!s->jobs || !s->bufs) return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < s->threads; i++)
        if (!(s->bufs[i] = malloc(ssize))) return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", path);
    return VS2_OK;
}

/* Pass 1: record pts; convert the frames a predicted selection wants. */
static vs2_status pass1_frame(input *in, AVFrame *f, int64_t ordinal, void *user, vs2_error *err) {
    dec_state *s = user;
    vs2_status st = check_frame(s, in, f, err);
    if (st != VS2_OK) return st;
    if (s->n_pts == s->cap_pts) {
        int64_t nc = s->cap_pts ? s->cap_pts * 2 : 1024;
        int64_t *np = realloc(s->pts, (size_t)nc * sizeof *np);
        if (!np) return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", in->path);
        s->pts = np;
        s->cap_pts = nc;
    }
    s->pts[s->n_pts++] = f->pts;
    if (s->want && !s->planned) {
        vs2_video *v = s->v;
        v->src_width = s->w;
        v->src_height = s->h;
        if ((st = finish_plan(v, s->p, (double)s->p->min_pixels, vs2_video_max_pixels(s->p, v->n_frames), in->path,
                              err)) != VS2_OK ||
            (st = alloc_outputs(v, s->p, in->path, err)) != VS2_OK || (st = alloc_jobs(s, in->path, err)) != VS2_OK)
            return st;
        s->planned = 1;
    }
    while (s->want && s->next_want < s->n_want && s->want[s->next_want] == ordinal) {
        if ((st = take_frame(s, in, f, s->next_want, err)) != VS2_OK) return st;
        s->next_want++;
    }
    return VS2_OK;
}

static vs2_status pass2_frame(input *in, AVFrame *f, int64_t ordinal, void *user, vs2_error *err) {
    dec_state *s = user;
    vs2_status st = VS2_OK;
    while (s->next_want < s->n_want && s->want[s->next_want] == ordinal) {
        if ((st = take_frame(s, in, f, s->slot ? s->slot[s->next_want] : s->next_want, err)) != VS2_OK) return st;
        s->next_want++;
    }
    return st;
}

typedef struct {
    int64_t pts, ordinal;
} pts_ord;

static int cmp_pts_ord(const void *a, const void *b) {
    const pts_ord *x = a, *y = b;
    if (x->pts != y->pts) return x->pts < y->pts ? -1 : 1;
    return x->ordinal < y->ordinal ? -1 : x->ordinal > y->ordinal;
}

/* The reference's frame list: pts >= 0, unique (last frame wins), sorted. Returns the
 * ordinal of each list entry in *ord (malloc'd) and its length. */
static vs2_status reference_frames(const dec_state *s, const char *path, int64_t **ord, int64_t *n,
                                   vs2_error *err) {
    pts_ord *a = malloc((size_t)(s->n_pts ? s->n_pts : 1) * sizeof *a);
    *ord = malloc((size_t)(s->n_pts ? s->n_pts : 1) * sizeof **ord);
    if (!a || !*ord) {
        free(a);
        return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", path);
    }
    int64_t m = 0;
    for (int64_t i = 0; i < s->n_pts; i++)
        if (s->pts[i] >= 0) a[m++] = (pts_ord){s->pts[i], i};
    qsort(a, (size_t)m, sizeof *a, cmp_pts_ord);
    int64_t k = 0;
    for (int64_t i = 0; i < m; i++) {
        if (i + 1 < m && a[i + 1].pts == a[i].pts) continue; /* a later frame has this pts */
        (*ord)[k++] = a[i].ordinal;
    }
    free(a);
    *n = k;
    return VS2_OK;
}

static int64_t predicted_total(const input *in) {
    const AVStream *st = in->st;
    if (st->nb_frames > 0) return st->nb_frames;
    double fps = av_q2d(st->avg_frame_rate), dur = -1;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0) dur = (double)st->duration * av_q2d(st->time_base);
    else if (in->fmt->duration > 0) dur = (double)in->fmt->duration / AV_TIME_BASE;
    if (!(fps > 0) || !(dur > 0) || dur * fps > 1e9) return 0;
    return (int64_t)llround(dur * fps);
}

static void video_meta(vs2_video *v, const input *in) {
    snprintf(v->codec, sizeof v->codec, "%s", in->dec->codec->name);
    const char *pf = av_get_pix_fmt_name(in->dec->pix_fmt);
    snprintf(v->pix_fmt, sizeof v->pix_fmt, "%s", pf ? pf : "?");
    const uint8_t *dm = av_stream_get_side_data(in->st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    v->rotation = dm ? av_display_rotation_get((const int32_t *)dm) : 0.0;
    if (v->rotation != v->rotation) v->rotation = 0.0;
}

static void state_free(dec_state *s) {
    if (s->bufs)
        for (int i = 0; i < s->threads; i++) free(s->bufs[i]);
    free(s->bufs);
    free(s->jobs);
    free(s->pts);
    free(s->want);
    free(s->slot);
    memset(s, 0, sizeof *s);
}

static vs2_status load_video(input *in, const vs2_video_params *p, vs2_video *v, vs2_error *err) {
    const char *path = in->path;
    dec_state s = {0};
    s.p = p;
    s.v = v;
    s.threads = resolve_threads(p->threads);
    v->kind = VS2_VIDEO_FILE;
    v->video_fps = av_q2d(in->st->avg_frame_rate);
    if (in->st->avg_frame_rate.den == 0) v->video_fps = 0;
    video_meta(v, in);
    int stopped = 0;
    vs2_status st = VS2_OK;
    /* Predict the selection from the container's frame count. */
    int64_t pred = predicted_total(in);
    int pred_n = pred > 0 && pred <= VS2_MAX_VIDEO_FRAMES && v->video_fps > 0
                     ? vs2_video_nframes_params(pred, v->video_fps, p) : 0;
    if (pred_n >= 2) {
        s.want = malloc((size_t)pred_n * sizeof *s.want);
        if (!s.want) return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", path);
        vs2_video_indices(pred, pred_n, s.want);
        s.n_want = pred_n;
        v->n_frames = pred_n;
    }
    if ((st = decode_all(in, 1, pass1_frame, &s, &stopped, err)) != VS2_OK) goto out;
    if ((st = flush_jobs(&s, err)) != VS2_OK) goto out;
    int64_t *ord = NULL, total = 0;
    if ((st = reference_frames(&s, path, &ord, &total, err)) != VS2_OK) goto out;
    v->total_frames = total;
    if (total == 0) {
        free(ord);
        if (stopped == 2)
            st = vs2__fail(err, VS2_ERR_VIDEO,
                           "%s: the stream cannot be sought to its start, as it has no timestamps (a raw "
                           "stream such as H.264 without a container?), and the reference reader then "
                           "gets no frames: put it in a container, e.g. ffmpeg -i IN -c copy OUT.mp4", path);
        else if (s.n_pts > 0) /* frames decoded, but the reference keeps only pts >= 0 */
            st = vs2__fail(err, VS2_ERR_VIDEO, "%s: %lld frame(s) decoded but none at a timestamp >= 0 (the "
                           "reference keeps only those)", path, (long long)s.n_pts);
        else
            st = vs2__fail(err, VS2_ERR_VIDEO, "%s: no decodable video frame%s", path,
                           stopped ? " (the stream is corrupt or truncated)" : "");
        goto out;
    }
    /* The prediction held if the reference list is exactly the decode order 0..total-1. */
    int held = s.want && total == pred && s.next_want == s.n_want;
    for (int64_t i = 0; held && i < total; i++) held = ord[i] == i;
    int saved_n = v->n_frames;
    v->n_frames = 0;
    if ((st = select_frames(v, p, path, err)) != VS2_OK) {
        free(ord);
        goto out;
    }
    held = held && v->n_frames == saved_n;
    for (int i = 0; held && i < v->n_frames; i++) held = v->indices[i] == s.want[i];
    v->decode_passes = held ? 1 : 2;
    if (!held) {
        /* Second pass: decode again and convert the frames the true list selects, in
         * decode order (slots remember where each goes). */
        free(v->frames);
        free(v->source_frames);
        v->frames = v->source_frames = NULL;
        free(s.want);
        s.want = malloc((size_t)v->n_frames * sizeof *s.want);
        s.slot = malloc((size_t)v->n_frames * sizeof *s.slot);
        pts_ord *order = malloc((size_t)v->n_frames * sizeof *order);
        if (!s.want || !s.slot || !order) {
            free(order);
            free(ord);
            st = vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", path);
            goto out;
        }
        for (int i = 0; i < v->n_frames; i++) order[i] = (pts_ord){ord[v->indices[i]], i};
        qsort(order, (size_t)v->n_frames, sizeof *order, cmp_pts_ord); /* by ordinal, then slot */
        for (int i = 0; i < v->n_frames; i++) {
            s.want[i] = order[i].pts;
            s.slot[i] = (int)order[i].ordinal;
        }
        free(order);
        s.n_want = v->n_frames;
        s.next_want = 0;
        v->src_width = s.w;
        v->src_height = s.h;
        if ((st = finish_plan(v, p, (double)p->min_pixels, vs2_video_max_pixels(p, v->n_frames), path, err)) !=
                VS2_OK ||
            (st = alloc_outputs(v, p, path, err)) != VS2_OK || (!s.jobs && (st = alloc_jobs(&s, path, err)) != VS2_OK)) {
            free(ord);
            goto out;
        }
        if ((st = decode_all(in, 1, pass2_frame, &s, &stopped, err)) == VS2_OK) st = flush_jobs(&s, err);
        if (st == VS2_OK && s.next_want != s.n_want)
            st = vs2__fail(err, VS2_ERR_VIDEO, "%s: the second decoding pass returned fewer frames than the first",
                           path);
        if (st != VS2_OK) {
            free(ord);
            goto out;
        }
    }
    free(ord);
    st = finish_pixels(v, p, path, err);
out:
    state_free(&s);
    return st;
}

/* ---- images (qwen-vl-utils fetch_image: PIL decode, to_rgb, PIL bicubic resize) ---------- */
/* JPEG files (FF D8 FF) are decoded by image_jpeg.c with libjpeg-turbo as PIL decodes them;
 * every other format by FFmpeg here. */

/* PIL to_rgb(): RGBA is pasted on white with its alpha as mask (PIL's DIV255 rounding);
 * every other mode is converted to RGB, dropping alpha. Formats PIL would read exactly the
 * same way are copied bit for bit; others (YUV) go through swscale. */
static vs2_status image_to_rgb(input *in, const AVFrame *f, uint8_t *dst, vs2_error *err) {
    int w = f->width, h = f->height;
    for (int y = 0; y < h; y++) {
        const uint8_t *s = f->data[0] + (ptrdiff_t)y * f->linesize[0];
        uint8_t *d = dst + (size_t)y * w * 3;
        for (int x = 0; x < w; x++, d += 3) {
            switch (f->format) {
            case AV_PIX_FMT_RGB24: memcpy(d, s + x * 3, 3); break;
            case AV_PIX_FMT_RGBA:
            case AV_PIX_FMT_RGBA64BE: {
                int bpc = f->format == AV_PIX_FMT_RGBA ? 1 : 2;
                const uint8_t *q = s + x * 4 * bpc;
                unsigned a = q[3 * bpc];
                for (int c = 0; c < 3; c++) {
                    unsigned t = 255u * (255u - a) + (unsigned)q[c * bpc] * a + 128u;
                    d[c] = (uint8_t)(((t >> 8) + t) >> 8);
                }
                break;
            }
            case AV_PIX_FMT_RGB48BE: d[0] = s[x * 6], d[1] = s[x * 6 + 2], d[2] = s[x * 6 + 4]; break;
            case AV_PIX_FMT_GRAY8: d[0] = d[1] = d[2] = s[x]; break;
            case AV_PIX_FMT_YA8: d[0] = d[1] = d[2] = s[x * 2]; break;
            case AV_PIX_FMT_PAL8: {
                uint32_t c = ((const uint32_t *)f->data[1])[s[x]];
                d[0] = (uint8_t)(c >> 16), d[1] = (uint8_t)(c >> 8), d[2] = (uint8_t)c;
                break;
            }
            default: return frame_to_rgb(in, f, dst, err);
            }
        }
    }
    return VS2_OK;
}

static vs2_status first_frame_fn(input *in, AVFrame *f, int64_t ordinal, void *user, vs2_error *err) {
    (void)ordinal;
    AVFrame *keep = user;
    if (keep->width == 0 && av_frame_ref(keep, f) < 0)
        return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", in->path);
    return VS2_OK;
}

/* Decode one image file to packed RGB (malloc'd). */
static vs2_status image_load_rgb(input *in, const vs2_video_params *p, uint8_t **rgb, int *w, int *h,
                                 vs2_error *err) {
    AVFrame *keep = av_frame_alloc();
    if (!keep) return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", in->path);
    int stopped = 0;
    vs2_status st = decode_all(in, 0, first_frame_fn, keep, &stopped, err);
    if (st == VS2_OK && keep->width <= 0)
        st = vs2__fail(err, VS2_ERR_VIDEO, "%s: the image cannot be decoded", in->path);
    if (st == VS2_OK && (int64_t)keep->width * keep->height > p->max_source_pixels)
        st = vs2__fail(err, VS2_ERR_UNSUPPORTED, "%s: image size %dx%d exceeds the limit of %lld pixels", in->path,
                       keep->width, keep->height, (long long)p->max_source_pixels);
    if (st == VS2_OK) {
        *w = keep->width;
        *h = keep->height;
        *rgb = malloc((size_t)*w * *h * 3);
        if (!*rgb) st = vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", in->path);
        else if ((st = image_to_rgb(in, keep, *rgb, err)) != VS2_OK) {
            free(*rgb);
            *rgb = NULL;
        }
    }
    av_frame_free(&keep);
    return st;
}

static vs2_status load_images(const char *const *paths, size_t n, const vs2_video_params *p, vs2_video *v,
                              vs2_error *err) {
    if (n == 0) return vs2__fail(err, VS2_ERR_INVALID_ARG, "no images given");
    if (n > 100000) return vs2__fail(err, VS2_ERR_UNSUPPORTED, "%zu images: too many", n);
    v->kind = VS2_VIDEO_IMAGES;
    v->total_frames = (int64_t)n;
    v->n_frames = (int)(n + (n & 1)); /* padded to even with the last image */
    v->video_fps = p->fps;
    v->sample_fps = p->fps;
    v->indices = malloc((size_t)v->n_frames * sizeof *v->indices);
    if (!v->indices) return vs2__fail(err, VS2_ERR_NOMEM, "out of memory");
    for (int i = 0; i < v->n_frames; i++) v->indices[i] = i < (int)n ? i : (int64_t)n - 1;
    vs2_status st = VS2_OK;
    size_t osize = 0;
    for (size_t i = 0; i < n && st == VS2_OK; i++) {
        input in;
        memset(&in, 0, sizeof in);
        uint8_t *rgb = NULL;
        int w = 0, h = 0;
        char jdesc[32];
        if ((st = regular_input(paths[i], err)) != VS2_OK) break;
        int jpeg = vs2__is_jpeg_file(paths[i]);
        if (jpeg)
            st = vs2__jpeg_load_rgb(paths[i], p->max_source_pixels, &rgb, &w, &h, jdesc, sizeof jdesc, err);
        else if ((st = input_open(&in, paths[i], p, err)) != VS2_OK)
            break;
        else
            st = image_load_rgb(&in, p, &rgb, &w, &h, err);
        if (i == 0 && st == VS2_OK) {
            if (jpeg) {
                snprintf(v->codec, sizeof v->codec, "libjpeg");
                snprintf(v->pix_fmt, sizeof v->pix_fmt, "%s", jdesc);
            } else
                video_meta(v, &in);
            v->src_width = w;
            v->src_height = h;
            if ((st = finish_plan(v, p, (double)p->image_min_pixels, (double)p->image_max_pixels, paths[i], err)) ==
                    VS2_OK &&
                (st = alloc_outputs(v, p, paths[i], err)) == VS2_OK)
                osize = (size_t)v->width * v->height * 3;
        } else if (st == VS2_OK && !(p->resized_height > 0 && p->resized_width > 0)) {
            int rh, rw;
            st = vs2_smart_resize(h, w, (double)p->image_min_pixels, (double)p->image_max_pixels, &rh, &rw, err);
            if (st == VS2_OK && (rh != v->height || rw != v->width))
                st = vs2__fail(err, VS2_ERR_UNSUPPORTED, "%s: resizes to %dx%d but the first image to %dx%d", paths[i],
                               rw, rh, v->width, v->height);
        }
        if (st == VS2_OK && v->source_frames && (w != v->src_width || h != v->src_height)) {
            free(v->source_frames); /* sizes differ: source frames cannot be stacked */
            v->source_frames = NULL;
        }
        if (st == VS2_OK && v->source_frames) memcpy(v->source_frames + i * (size_t)w * h * 3, rgb, (size_t)w * h * 3);
        if (st == VS2_OK) st = vs2_resize_pil_bicubic(rgb, w, h, v->frames + i * osize, v->width, v->height, err);
        free(rgb);
        input_close(&in);
    }
    if (st == VS2_OK && v->n_frames > (int)n) {
        memcpy(v->frames + n * osize, v->frames + (n - 1) * osize, osize);
        if (v->source_frames) {
            size_t ss = (size_t)v->src_width * v->src_height * 3;
            memcpy(v->source_frames + n * ss, v->source_frames + (n - 1) * ss, ss);
        }
    }
    if (st == VS2_OK) st = finish_pixels(v, p, paths[0], err);
    return st;
}

/* ---- public entry points ---------------------------------------------------------------- */

vs2_status vs2_video_load(const char *path, const vs2_video_params *params, vs2_video *out, vs2_error *err) {
    vs2_video_params dp = vs2_video_default_params();
    const vs2_video_params *p = params ? params : &dp;
    vs2__ok(err);
    if (!out) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_video_load: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_video_load: path is NULL");
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return vs2_video_from_dir(path, p, out, err);
    vs2_status rs = regular_input(path, err);
    if (rs != VS2_OK) return rs;
    if (vs2__is_jpeg_file(path)) { /* libjpeg, not FFmpeg (see load_images) */
        vs2_status st = load_images(&path, 1, p, out, err);
        if (st != VS2_OK) vs2_video_free(out);
        return st;
    }
    input in;
    vs2_status st = input_open(&in, path, p, err);
    if (st != VS2_OK) return st;
    int image = is_image_format(in.fmt);
    if (image) {
        input_close(&in);
        st = load_images(&path, 1, p, out, err);
    } else {
        st = load_video(&in, p, out, err);
        input_close(&in);
    }
    if (st != VS2_OK) vs2_video_free(out);
    return st;
}

vs2_status vs2_video_from_images(const char *const *paths, size_t n, const vs2_video_params *params,
                                 vs2_video *out, vs2_error *err) {
    vs2_video_params dp = vs2_video_default_params();
    vs2__ok(err);
    if (!out) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_video_from_images: out is NULL");
    memset(out, 0, sizeof *out);
    if (!paths) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_video_from_images: paths is NULL");
    vs2_status st = load_images(paths, n, params ? params : &dp, out, err);
    if (st != VS2_OK) vs2_video_free(out);
    return st;
}

static int is_image_name(const char *name) {
    static const char *ext[] = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"};
    const char *dot = strrchr(name, '.');
    if (!dot || name[0] == '.') return 0;
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        const char *a = dot, *b = ext[i];
        while (*a && *b && (*a | 0x20) == *b) a++, b++;
        if (!*a && !*b) return 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

vs2_status vs2_video_from_dir(const char *dir, const vs2_video_params *params, vs2_video *out, vs2_error *err) {
    vs2__ok(err);
    if (!out) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_video_from_dir: out is NULL");
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return vs2__fail(err, VS2_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    vs2_status st = VS2_OK;
    struct dirent *e;
    while (st == VS2_OK && (e = readdir(d)) != NULL) {
        if (!is_image_name(e->d_name)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                st = vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", dir);
                break;
            }
            names = nn;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if (!(names[n] = malloc(len))) {
            st = vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", dir);
            break;
        }
        snprintf(names[n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (st == VS2_OK && n == 0) st = vs2__fail(err, VS2_ERR_VIDEO, "%s: no image files in the directory", dir);
    if (st == VS2_OK) {
        qsort(names, n, sizeof *names, cmp_str);
        st = vs2_video_from_images((const char *const *)names, n, params, out, err);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return st;
}
