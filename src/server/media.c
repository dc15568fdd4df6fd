/* media.c — a request's video to a prepared vs2_video: a file under the media root (confined:
 * realpath inside the root, so neither ".." nor a symlink leads out; regular files only), an
 * uploaded container (written to a private temporary file for FFmpeg, removed at once), encoded
 * frames (PNG/JPEG, decoded in memory by FFmpeg's image decoders) or raw RGB frames. */
#define _GNU_SOURCE /* realpath, strncasecmp, POLLRDHUP */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int srv_media_resolve(const char *path, const char *root_real, char **real, srv_error *e) {
    *real = NULL;
    if (!root_real) return srv_fail(e, 422, "video path '%.200s': path inputs are off (start vs2 serve with --media-root DIR)", path);
    size_t rl = strlen(root_real), pl = strlen(path);
    char *joined = malloc(rl + pl + 2);
    if (!joined) return srv_fail(e, 500, "out of memory");
    if (path[0] == '/') memcpy(joined, path, pl + 1);
    else snprintf(joined, rl + pl + 2, "%s/%s", root_real, path);
    char *r = realpath(joined, NULL);
    free(joined);
    /* The same answer for "missing" and "outside": a client learns nothing about other files. */
    if (!r || strncmp(r, root_real, rl) || (r[rl] != '/' && r[rl] != 0))
        return free(r), srv_fail(e, 404, "video path '%.200s': no such file under the media root", path);
    struct stat st;
    if (stat(r, &st) || !S_ISREG(st.st_mode))
        return free(r), srv_fail(e, 422, "video path '%.200s': not a regular file", path);
    *real = r;
    return 0;
}

static int check_identity(const char *real, const srv_media *m, srv_error *e) {
    struct stat st;
    if (m->size_bytes >= 0 && (stat(real, &st) || st.st_size != m->size_bytes))
        return srv_fail(e, 422, "video path '%.200s': size_bytes %lld does not match the file (%lld bytes)", m->path,
                        (long long)m->size_bytes, (long long)st.st_size);
    if (!m->sha256) return 0;
    FILE *f = fopen(real, "rb");
    if (!f) return srv_fail(e, 422, "video path '%.200s': %s", m->path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char buf[65536], md[32];
    unsigned mdlen = 0;
    size_t n;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0) ok = EVP_DigestUpdate(ctx, buf, n);
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    fclose(f);
    if (!ok) return srv_fail(e, 500, "video path '%.200s': sha256 failed", m->path);
    char hex[65];
    for (unsigned i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    if (strcasecmp(hex, m->sha256)) return srv_fail(e, 422, "video path '%.200s': sha256 is %s, not the one sent", m->path, hex);
    return 0;
}

/* The status of a library failure: bad input (the video) is 422; too large a video is 413. */
static int video_status(const vs2_error *err) {
    if (err->status == VS2_ERR_NOMEM) return 503;
    if (err->status == VS2_ERR_INTERNAL) return 500;
    if (strstr(err->message, "video tokens")) return 413;
    return 422;
}

/* vs2's messages name the file it opened (a temporary or resolved path): the cause after it. */
static const char *cause_after(const char *msg, const char *path) {
    const char *at = strstr(msg, path);
    const char *c = at ? at + strlen(path) : msg;
    while (*c == ':' || *c == ' ') c++;
    return c;
}

static int load_upload(const srv_media *m, const vs2_video_params *vp, vs2_video *out, srv_error *e) {
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/vs2-serve-upload-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) return srv_fail(e, 500, "upload: cannot create a temporary file in %s: %s", dir ? dir : "/tmp", strerror(errno));
    size_t done = 0;
    while (done < m->size) {
        ssize_t w = write(fd, m->data + done, m->size - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += (size_t)w;
    }
    close(fd);
    if (done < m->size) {
        unlink(path);
        return srv_fail(e, 500, "upload: writing the temporary file failed: %s", strerror(errno));
    }
    vs2_error err;
    vs2_status st = vs2_video_load(path, vp, out, &err);
    unlink(path);
    if (st != VS2_OK) {
        return srv_fail(e, video_status(&err), "uploaded video: %s", cause_after(err.message, path));
    }
    return 0;
}

/* One PNG or JPEG to RGB24 with FFmpeg's image decoders, in memory. */
static int decode_image(const uint8_t *data, size_t size, int64_t max_pixels, uint8_t **rgb, int *w, int *h,
                        const char *what, srv_error *e) {
    enum AVCodecID id = AV_CODEC_ID_NONE;
    if (size >= 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8)) id = AV_CODEC_ID_PNG;
    else if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) id = AV_CODEC_ID_MJPEG;
    else return srv_fail(e, 422, "%s: not a PNG or JPEG image", what);
    const AVCodec *codec = avcodec_find_decoder(id);
    AVCodecContext *ctx = codec ? avcodec_alloc_context3(codec) : NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *fr = av_frame_alloc();
    uint8_t *buf = av_malloc(size + AV_INPUT_BUFFER_PADDING_SIZE);
    int rc = -1;
    if (!ctx || !pkt || !fr || !buf) {
        srv_fail(e, 500, "%s: out of memory", what);
        goto done;
    }
    memcpy(buf, data, size);
    memset(buf + size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
    ctx->thread_count = 1;
    if (avcodec_open2(ctx, codec, NULL) < 0) {
        srv_fail(e, 500, "%s: cannot open FFmpeg's %s decoder", what, codec->name);
        goto done;
    }
    pkt->data = buf;
    pkt->size = (int)size;
    if (size > INT32_MAX || avcodec_send_packet(ctx, pkt) < 0 || (avcodec_send_packet(ctx, NULL), 0) ||
        avcodec_receive_frame(ctx, fr) < 0) {
        srv_fail(e, 422, "%s: the %s image cannot be decoded", what, id == AV_CODEC_ID_PNG ? "PNG" : "JPEG");
        goto done;
    }
    if (fr->width <= 0 || fr->height <= 0 || (int64_t)fr->width * fr->height > max_pixels) {
        srv_fail(e, 413, "%s: %dx%d is over the limit of %lld pixels a frame", what, fr->width, fr->height, (long long)max_pixels);
        goto done;
    }
    struct SwsContext *sws = sws_getContext(fr->width, fr->height, fr->format, fr->width, fr->height, AV_PIX_FMT_RGB24,
                                            SWS_POINT, NULL, NULL, NULL);
    uint8_t *out = malloc((size_t)fr->width * fr->height * 3);
    if (!sws || !out) {
        sws_freeContext(sws);
        free(out);
        srv_fail(e, 422, "%s: pixel format %s cannot be converted to RGB", what, av_get_pix_fmt_name(fr->format));
        goto done;
    }
    uint8_t *dst[4] = {out};
    int stride[4] = {fr->width * 3};
    sws_scale(sws, (const uint8_t *const *)fr->data, fr->linesize, 0, fr->height, dst, stride);
    sws_freeContext(sws);
    *rgb = out;
    *w = fr->width;
    *h = fr->height;
    rc = 0;
done:
    av_free(buf);
    av_frame_free(&fr);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    return rc;
}

static int load_images(const srv_media *m, const srv_config *cfg, const vs2_video_params *vp, vs2_video *out,
                       srv_error *e) {
    uint8_t *all = NULL;
    int w0 = 0, h0 = 0;
    for (size_t i = 0; i < m->n_frames; i++) {
        char what[64];
        snprintf(what, sizeof what, "frame %zu", i);
        uint8_t *rgb = NULL;
        int w = 0, h = 0;
        if (decode_image(m->frames[i], m->frame_sizes[i], cfg->max_frame_pixels, &rgb, &w, &h, what, e)) {
            free(all);
            return -1;
        }
        if (i == 0) {
            w0 = w, h0 = h;
            all = malloc((size_t)w * h * 3 * m->n_frames);
        } else if (w != w0 || h != h0) {
            free(rgb), free(all);
            return srv_fail(e, 422, "%s: %dx%d, but frame 0 is %dx%d (a video's frames share one size)", what, w, h, w0, h0);
        }
        if (!all) {
            free(rgb);
            return srv_fail(e, 503, "frames: out of memory");
        }
        memcpy(all + (size_t)w * h * 3 * i, rgb, (size_t)w * h * 3);
        free(rgb);
    }
    vs2_error err;
    vs2_status st = vs2_video_from_rgb(all, m->n_frames, w0, h0, m->fps, vp, out, &err);
    free(all);
    return st == VS2_OK ? 0 : srv_fail(e, video_status(&err), "frames: %s", err.message);
}

int srv_media_load(const srv_media *m, const srv_config *cfg, const vs2_video_params *vp, vs2_video *out,
                   srv_error *e) {
    memset(out, 0, sizeof *out);
    vs2_error err;
    switch (m->kind) {
    case SRV_SRC_PATH: {
        char *real = NULL;
        if (srv_media_resolve(m->path, cfg->media_root_real, &real, e) || check_identity(real, m, e)) {
            free(real);
            return -1;
        }
        vs2_status st = vs2_video_load(real, vp, out, &err);
        int rc = st == VS2_OK ? 0 : srv_fail(e, video_status(&err), "video '%.200s': %s", m->path, cause_after(err.message, real));
        free(real);
        return rc;
    }
    case SRV_SRC_FILE: return load_upload(m, vp, out, e);
    case SRV_SRC_IMAGES: return load_images(m, cfg, vp, out, e);
    case SRV_SRC_RAW: {
        vs2_status st = vs2_video_from_rgb(m->data, m->n_frames, m->width, m->height, m->fps, vp, out, &err);
        return st == VS2_OK ? 0 : srv_fail(e, video_status(&err), "raw frames: %s", err.message);
    }
    }
    return srv_fail(e, 500, "unknown media kind");
}
