/* image_jpeg.c — decode a JPEG file exactly as Pillow 9.4 does for qwen-vl-utils' fetch_image:
 * Image.open(path).convert("RGB"), with the same libjpeg-turbo that Debian's Pillow links.
 *
 * Pillow's settings, reproduced (JpegImagePlugin.py + libImaging/JpegDecode.c):
 *   - libjpeg's defaults: JDCT_ISLOW, fancy upsampling on, the coded colour space as libjpeg
 *     guesses it from JFIF/Adobe markers (jpeg_color_space left alone);
 *   - the mode is chosen by the component count only: 1 -> "L" (out_color_space GRAYSCALE,
 *     convert("RGB") copies the grey into R, G and B), 3 -> "RGB" (out_color_space RGB),
 *     4 -> "CMYK" read as "CMYK;I" (out_color_space CMYK, every byte inverted: Pillow always
 *     assumes Adobe's inverted polarity), then Pillow's cmyk2rgb; other counts are refused;
 *   - no EXIF orientation and no ICC transform (Image.open applies neither);
 *   - libjpeg warnings are silent and not fatal (corrupt entropy data decodes as libjpeg
 *     decodes it), except running out of data before the last scanline: Pillow's suspending
 *     reader then raises "image file is truncated". Running out after the last scanline (a
 *     missing EOI) is accepted, as Pillow ignores jpeg_finish_decompress's suspension.
 * libjpeg errors longjmp back here; libjpeg never prints and never calls exit(). */
#include "image_jpeg.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jerror.h>
#include <jpeglib.h>

int vs2__is_jpeg_file(const char *path) {
    int fd = vs2__open_regular(path, NULL); /* never blocks on a FIFO */
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        if (fd >= 0) close(fd);
        return 0;
    }
    unsigned char b[3];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    return n == 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF;
}

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    int rows_done;                 /* every scanline has been read */
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void on_error(j_common_ptr cinfo) {
    jpeg_err *e = (jpeg_err *)cinfo->err;
    e->pub.format_message(cinfo, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings (level < 0) and trace messages are dropped, as Pillow drops them, except the
 * end of the data before the last scanline, which Pillow reports as a truncated file. */
static void on_message(j_common_ptr cinfo, int level) {
    jpeg_err *e = (jpeg_err *)cinfo->err;
    if (level < 0) {
        e->pub.num_warnings++;
        if (e->pub.msg_code == JWRN_JPEG_EOF && !e->rows_done) {
            e->pub.format_message(cinfo, e->msg);
            longjmp(e->jb, 2);
        }
    }
}

static void on_output(j_common_ptr cinfo) { (void)cinfo; }

/* Everything the decoder touches lives here, outside the frame that calls setjmp, so no
 * local is left indeterminate by a longjmp. */
typedef struct {
    const char *path;
    int64_t max_pixels;
    FILE *f;
    struct jpeg_decompress_struct cinfo;
    jpeg_err jerr;
    int created;
    uint8_t *rgb;
    uint8_t *row;                  /* one scanline of grey or CMYK */
    int w, h;
    char *desc;
    size_t desc_size;
} jpeg_job;

static void describe(const struct jpeg_decompress_struct *ci, char *desc, size_t n) {
    if (!desc || !n) return;
    const char *cs = "?";
    switch (ci->jpeg_color_space) {
    case JCS_GRAYSCALE: cs = "gray"; break;
    case JCS_RGB: cs = "rgb"; break;
    case JCS_YCbCr: cs = "ycbcr"; break;
    case JCS_CMYK: cs = "cmyk"; break;
    case JCS_YCCK: cs = "ycck"; break;
    default: break;
    }
    const char *sub = "";
    if (ci->jpeg_color_space == JCS_YCbCr && ci->num_components == 3 && ci->comp_info[1].h_samp_factor > 0 &&
        ci->comp_info[1].v_samp_factor > 0 && ci->comp_info[1].h_samp_factor == ci->comp_info[2].h_samp_factor &&
        ci->comp_info[1].v_samp_factor == ci->comp_info[2].v_samp_factor &&
        ci->comp_info[0].h_samp_factor % ci->comp_info[1].h_samp_factor == 0 &&
        ci->comp_info[0].v_samp_factor % ci->comp_info[1].v_samp_factor == 0) {
        int hs = ci->comp_info[0].h_samp_factor / ci->comp_info[1].h_samp_factor;
        int vs = ci->comp_info[0].v_samp_factor / ci->comp_info[1].v_samp_factor;
        sub = hs == 1 && vs == 1   ? " 4:4:4"
              : hs == 2 && vs == 1 ? " 4:2:2"
              : hs == 2 && vs == 2 ? " 4:2:0"
              : hs == 1 && vs == 2 ? " 4:4:0"
              : hs == 4 && vs == 1 ? " 4:1:1"
                                   : "";
    }
    snprintf(desc, n, "%s%s%s", cs, sub, ci->progressive_mode ? " progressive" : "");
}

/* 0 = decoded; 1 = libjpeg error; 2 = truncated; 3 = refused here (j->jerr.msg says why,
 * the status in *st). */
static int decode(jpeg_job *j, vs2_status *st) {
    struct jpeg_decompress_struct *ci = &j->cinfo;
    int r = setjmp(j->jerr.jb);
    if (r) return r;
    ci->err = jpeg_std_error(&j->jerr.pub);
    j->jerr.pub.error_exit = on_error;
    j->jerr.pub.emit_message = on_message;
    j->jerr.pub.output_message = on_output;
    jpeg_create_decompress(ci);
    j->created = 1;
    jpeg_stdio_src(ci, j->f);
    int ok;
    do ok = jpeg_read_header(ci, FALSE); /* as Pillow: skip tables-only datastreams */
    while (ok == JPEG_HEADER_TABLES_ONLY);
    if (ok != JPEG_HEADER_OK) {
        snprintf(j->jerr.msg, sizeof j->jerr.msg, "no image in the JPEG datastream");
        *st = VS2_ERR_VIDEO;
        return 3;
    }
    int nc = ci->num_components;
    if (nc != 1 && nc != 3 && nc != 4) {
        snprintf(j->jerr.msg, sizeof j->jerr.msg, "cannot handle %d-component JPEG images (as Pillow)", nc);
        *st = VS2_ERR_UNSUPPORTED;
        return 3;
    }
    j->w = (int)ci->image_width;
    j->h = (int)ci->image_height;
    if ((int64_t)j->w * j->h > j->max_pixels) {
        snprintf(j->jerr.msg, sizeof j->jerr.msg, "image size %dx%d exceeds the limit of %lld pixels", j->w, j->h,
                 (long long)j->max_pixels);
        *st = VS2_ERR_UNSUPPORTED;
        return 3;
    }
    describe(ci, j->desc, j->desc_size);
    ci->out_color_space = nc == 1 ? JCS_GRAYSCALE : nc == 3 ? JCS_RGB : JCS_CMYK;
    /* dct_method JDCT_ISLOW, do_fancy_upsampling TRUE, scale 1/1: libjpeg's defaults, kept. */
    jpeg_start_decompress(ci);
    if ((int)ci->output_width != j->w || (int)ci->output_height != j->h || ci->output_components != nc) {
        snprintf(j->jerr.msg, sizeof j->jerr.msg, "unexpected decoder output layout");
        *st = VS2_ERR_INTERNAL;
        return 3;
    }
    size_t w = (size_t)j->w;
    j->rgb = malloc(w * (size_t)j->h * 3);
    if (nc != 3) j->row = malloc(w * (size_t)nc);
    if (!j->rgb || (nc != 3 && !j->row)) {
        snprintf(j->jerr.msg, sizeof j->jerr.msg, "out of memory");
        *st = VS2_ERR_NOMEM;
        return 3;
    }
    while (ci->output_scanline < ci->output_height) {
        uint8_t *d = j->rgb + (size_t)ci->output_scanline * w * 3;
        JSAMPROW rp = nc == 3 ? d : j->row;
        if (jpeg_read_scanlines(ci, &rp, 1) != 1) {
            snprintf(j->jerr.msg, sizeof j->jerr.msg, "the decoder returned no scanline");
            *st = VS2_ERR_VIDEO;
            return 3;
        }
        const uint8_t *s = j->row;
        if (nc == 1) {
            for (size_t x = 0; x < w; x++, d += 3) d[0] = d[1] = d[2] = s[x];
        } else if (nc == 4) {
            /* "CMYK;I" (inverted on unpack), then Pillow's cmyk2rgb:
             * out = nk - nk*v/255 (rounded as MULDIV255), nk = 255 - k. */
            for (size_t x = 0; x < w; x++, d += 3, s += 4) {
                unsigned nk = s[3]; /* 255 - (255 - s[3]) */
                for (int c = 0; c < 3; c++) {
                    unsigned t = (255u - s[c]) * nk + 128u;
                    d[c] = (uint8_t)(nk - (((t >> 8) + t) >> 8));
                }
            }
        }
    }
    j->jerr.rows_done = 1;
    jpeg_finish_decompress(ci); /* errors here still fail, as in Pillow; a missing EOI does not */
    return 0;
}

vs2_status vs2__jpeg_load_rgb(const char *path, int64_t max_pixels, uint8_t **rgb, int *w, int *h,
                              char *desc, size_t desc_size, vs2_error *err) {
    *rgb = NULL;
    *w = *h = 0;
    if (desc && desc_size) desc[0] = '\0';
    jpeg_job *j = calloc(1, sizeof *j);
    if (!j) return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", path);
    j->path = path;
    j->max_pixels = max_pixels;
    j->desc = desc;
    j->desc_size = desc_size;
    int fd = vs2__open_regular(path, err);
    j->f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!j->f) {
        vs2_status st = fd >= 0 ? vs2__fail(err, VS2_ERR_IO, "%s: cannot open: %s", path, strerror(errno))
                                : (err ? err->status : VS2_ERR_IO);
        if (fd >= 0) close(fd);
        free(j);
        return st;
    }
    vs2_status st = VS2_OK;
    int r = decode(j, &st);
    if (j->created) jpeg_destroy_decompress(&j->cinfo);
    fclose(j->f);
    free(j->row);
    if (r == 0) {
        *rgb = j->rgb;
        *w = j->w;
        *h = j->h;
    } else {
        free(j->rgb);
        if (r == 1) st = vs2__fail(err, VS2_ERR_VIDEO, "%s: not a decodable JPEG (libjpeg: %s)", path, j->jerr.msg);
        else if (r == 2)
            st = vs2__fail(err, VS2_ERR_VIDEO, "%s: the JPEG is truncated (libjpeg: %s)", path, j->jerr.msg);
        else st = vs2__fail(err, st, "%s: %s", path, j->jerr.msg);
    }
    free(j);
    return st;
}
