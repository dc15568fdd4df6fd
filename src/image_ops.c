/* image_ops.c — the pixel arithmetic of the reference, bit for bit:
 *   - torchvision resize(uint8 tensor, BICUBIC, antialias=True) as torch 1.13's CPU kernel
 *     computes it (float32, separable, width pass first, clamp + round-half-even);
 *   - PIL Image.resize(BICUBIC) (double coefficients, 22-bit fixed point, uint8 between passes),
 *     which qwen-vl-utils applies to image inputs;
 *   - the HF processor's fused rescale/normalise and the pixel_values_videos patch layout.
 * Every float expression below is written in the order and precision of the reference;
 * contraction into FMA would change last bits, so it is forbidden. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* No FMA contraction: gcc -std=c11 already disables it; clang needs the pragma. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* ---- torch _upsample_bicubic2d_aa (a = -0.5) ------------------------------------------- */

typedef struct {
    int64_t *xmin;  /* first input index per output index */
    int64_t *xsize; /* number of taps per output index */
    float *w;       /* out x ksize weights */
    int64_t ksize;
} aa_axis;

/* torch's filter (PIL's form, '#define a -0.5' so the first branch runs in double) as its
 * AVX2 build compiles it: the polynomials are contracted into FMAs. */
static float torch_cubic(float x) {
    const double a = -0.5;
    if (x < 0.0f) x = -x;
    if (x < 1.0f) {
        double xd = x;
        return (float)fma(fma(a + 2.0, xd, -(a + 3.0)) * xd, xd, 1.0);
    }
    if (x < 2.0f) return (float)((double)fmaf(fmaf(x - 5.0f, x, 8.0f), x, -4.0f) * a);
    return 0.0f;
}

/* One output of a pass: out = p0*w0 + p1*w1 + ... in torch's order. Its compiled loop is
 * unrolled by 4 without FMA (gcc avoids FMA chains there) and the remainder iterations use
 * FMA; measured against torch 1.13, bit for bit. */
static inline float torch_dot(const float *p, size_t stride, const float *w, int64_t n) {
    float acc = p[0] * w[0];
    int64_t k = ((n - 1) / 4) * 4, j = 1;
    for (; j <= k; j++) acc = acc + p[(size_t)j * stride] * w[j];
    for (; j < n; j++) acc = fmaf(p[(size_t)j * stride], w[j], acc);
    return acc;
}

static void aa_axis_free(aa_axis *ax) {
    free(ax->xmin);
    free(ax->xsize);
    free(ax->w);
}

/* Mirrors the mixed float/double promotions of torch's C++ (int64 - float is float, a
 * double literal promotes, the result is stored back into float). */
static vs2_status aa_axis_init(aa_axis *ax, int64_t in, int64_t out, vs2_error *err) {
    memset(ax, 0, sizeof *ax);
    float scale = (float)in / (float)out;
    float support = scale >= 1.0f ? (float)(2.0 * (double)scale) : 2.0f;
    float invscale = scale >= 1.0f ? (float)(1.0 / (double)scale) : 1.0f;
    ax->ksize = (int64_t)ceil((double)support) * 2 + 1;
    uint64_t nw;
    if (!vs2__mul_ok((uint64_t)out, (uint64_t)ax->ksize, &nw) || nw > SIZE_MAX / sizeof(float))
        return vs2__fail(err, VS2_ERR_NOMEM, "resize %lld -> %lld: weight table too large",
                         (long long)in, (long long)out);
    ax->xmin = malloc((size_t)out * sizeof *ax->xmin);
    ax->xsize = malloc((size_t)out * sizeof *ax->xsize);
    ax->w = calloc((size_t)nw, sizeof *ax->w);
    if (!ax->xmin || !ax->xsize || !ax->w) {
        aa_axis_free(ax);
        return vs2__fail(err, VS2_ERR_NOMEM, "resize: out of memory for weights");
    }
    for (int64_t i = 0; i < out; i++) {
        float center = (float)((double)scale * ((double)i + 0.5));
        int64_t xmin = (int64_t)((double)(center - support) + 0.5);
        if (xmin < 0) xmin = 0;
        int64_t xmax = (int64_t)((double)(center + support) + 0.5);
        if (xmax > in) xmax = in;
        int64_t xsize = xmax - xmin;
        if (xsize > ax->ksize) xsize = ax->ksize; /* cannot happen; keeps writes in bounds */
        float *w = ax->w + i * ax->ksize, total = 0.0f;
        for (int64_t j = 0; j < xsize; j++) {
            float d = (float)(j + xmin) - center;
            w[j] = torch_cubic((float)(((double)d + 0.5) * (double)invscale));
            total += w[j];
        }
        if (total != 0.0f)
            for (int64_t j = 0; j < xsize; j++) w[j] /= total;
        ax->xmin[i] = xmin;
        ax->xsize[i] = xsize;
    }
    return VS2_OK;
}

static inline uint8_t torch_to_u8(float v) {
    if (v < 0.0f) v = 0.0f;
    if (v > 255.0f) v = 255.0f;
    return (uint8_t)nearbyintf(v);
}

vs2_status vs2_resize_torch_bicubic_aa(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw,
                                       int dh, vs2_error *err) {
    if (!src || !dst || sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "resize: bad sizes %dx%d -> %dx%d", sw, sh, dw, dh);
    size_t ipix = (size_t)sw * (size_t)sh * 3, tpix = (size_t)dw * (size_t)sh * 3;
    float *tmp = malloc((dw != sw ? tpix : ipix) * sizeof *tmp);
    float *line = malloc((size_t)sw * 3 * sizeof *line);
    if (!tmp || !line) {
        free(tmp);
        free(line);
        return vs2__fail(err, VS2_ERR_NOMEM, "resize: out of memory (%dx%d)", dw, sh);
    }
    vs2_status st = VS2_OK;
    aa_axis ax;
    /* Width pass (skipped, i.e. exact, when the width does not change). */
    if (dw != sw) {
        if ((st = aa_axis_init(&ax, sw, dw, err)) != VS2_OK) goto out;
        for (int y = 0; y < sh; y++) {
            const uint8_t *row = src + (size_t)y * sw * 3;
            for (int i = 0; i < sw * 3; i++) line[i] = (float)row[i];
            const float *in = line;
            float *o = tmp + (size_t)y * dw * 3;
            for (int x = 0; x < dw; x++) {
                const float *w = ax.w + x * ax.ksize;
                const float *p = in + ax.xmin[x] * 3;
                for (int c = 0; c < 3; c++) o[x * 3 + c] = torch_dot(p + c, 3, w, ax.xsize[x]);
            }
        }
        aa_axis_free(&ax);
    } else {
        for (size_t i = 0; i < ipix; i++) tmp[i] = (float)src[i];
    }
    /* Height pass, then clamp and round half to even as torchvision does for uint8. */
    if (dh != sh) {
        if ((st = aa_axis_init(&ax, sh, dh, err)) != VS2_OK) goto out;
        size_t rowlen = (size_t)dw * 3;
        for (int y = 0; y < dh; y++) {
            const float *w = ax.w + y * ax.ksize;
            const float *base = tmp + (size_t)ax.xmin[y] * rowlen;
            uint8_t *o = dst + (size_t)y * rowlen;
            for (size_t k = 0; k < rowlen; k++) o[k] = torch_to_u8(torch_dot(base + k, rowlen, w, ax.xsize[y]));
        }
        aa_axis_free(&ax);
    } else {
        size_t n = (size_t)dw * (size_t)dh * 3;
        for (size_t i = 0; i < n; i++) dst[i] = torch_to_u8(tmp[i]);
    }
out:
    free(tmp);
    free(line);
    return st;
}

/* ---- PIL ImagingResample, BICUBIC, 8 bits per channel ----------------------------------- */

#define PIL_PRECISION_BITS (32 - 8 - 2)

static double pil_cubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

typedef struct {
    int *bounds; /* xmin, xsize per output index */
    int *k;      /* fixed-point weights, out x ksize */
    int ksize;
} pil_axis;

static vs2_status pil_axis_init(pil_axis *ax, int in, int out, vs2_error *err) {
    double scale = (double)in / out, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * filterscale;
    ax->ksize = (int)ceil(support) * 2 + 1;
    ax->bounds = malloc((size_t)out * 2 * sizeof *ax->bounds);
    ax->k = calloc((size_t)out * (size_t)ax->ksize, sizeof *ax->k);
    double *kk = malloc((size_t)ax->ksize * sizeof *kk);
    if (!ax->bounds || !ax->k || !kk) {
        free(ax->bounds);
        free(ax->k);
        free(kk);
        return vs2__fail(err, VS2_ERR_NOMEM, "resize: out of memory for weights");
    }
    for (int xx = 0; xx < out; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in) xmax = in;
        xmax -= xmin;
        if (xmax > ax->ksize) xmax = ax->ksize;
        for (int x = 0; x < xmax; x++) {
            kk[x] = pil_cubic((x + xmin - center + 0.5) * ss);
            ww += kk[x];
        }
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0.0 ? kk[x] / ww : kk[x];
            double f = v * (1 << PIL_PRECISION_BITS);
            ax->k[xx * ax->ksize + x] = v < 0 ? (int)(-0.5 + f) : (int)(0.5 + f);
        }
        ax->bounds[xx * 2] = xmin;
        ax->bounds[xx * 2 + 1] = xmax;
    }
    free(kk);
    return VS2_OK;
}

static inline uint8_t pil_clip8(int64_t v) {
    if (v >= ((int64_t)1 << PIL_PRECISION_BITS << 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PIL_PRECISION_BITS);
}

vs2_status vs2_resize_pil_bicubic(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh,
                                  vs2_error *err) {
    if (!src || !dst || sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "resize: bad sizes %dx%d -> %dx%d", sw, sh, dw, dh);
    if (sw == dw && sh == dh) { /* PIL returns a copy */
        memcpy(dst, src, (size_t)sw * sh * 3);
        return VS2_OK;
    }
    pil_axis h = {0}, v = {0};
    vs2_status st = pil_axis_init(&h, sw, dw, err);
    if (st == VS2_OK) st = pil_axis_init(&v, sh, dh, err);
    uint8_t *tmp = NULL;
    if (st != VS2_OK) goto out;
    /* Horizontal pass only over the source rows the vertical pass reads (as PIL does). */
    int yfirst = 0, ylast = sh;
    if (dh != sh) {
        yfirst = v.bounds[0];
        ylast = v.bounds[dh * 2 - 2] + v.bounds[dh * 2 - 1];
    }
    const uint8_t *mid = src;
    int mid_w = sw;
    if (dw != sw) {
        tmp = malloc((size_t)dw * (size_t)(ylast - yfirst) * 3 + 1);
        if (!tmp) {
            st = vs2__fail(err, VS2_ERR_NOMEM, "resize: out of memory (%dx%d)", dw, sh);
            goto out;
        }
        for (int y = yfirst; y < ylast; y++) {
            const uint8_t *row = src + (size_t)y * sw * 3;
            uint8_t *o = tmp + (size_t)(y - yfirst) * dw * 3;
            for (int x = 0; x < dw; x++) {
                const int *k = h.k + x * h.ksize;
                int xmin = h.bounds[x * 2], xs = h.bounds[x * 2 + 1];
                for (int c = 0; c < 3; c++) {
                    int64_t ss = 1 << (PIL_PRECISION_BITS - 1);
                    for (int j = 0; j < xs; j++) ss += (int64_t)row[(xmin + j) * 3 + c] * k[j];
                    o[x * 3 + c] = pil_clip8(ss);
                }
            }
        }
        mid = tmp;
        mid_w = dw;
    } else {
        mid = src + (size_t)yfirst * sw * 3;
    }
    if (dh != sh) {
        size_t rowlen = (size_t)mid_w * 3;
        for (int y = 0; y < dh; y++) {
            const int *k = v.k + y * v.ksize;
            int ymin = v.bounds[y * 2] - yfirst, ys = v.bounds[y * 2 + 1];
            for (size_t i = 0; i < rowlen; i++) {
                int64_t ss = 1 << (PIL_PRECISION_BITS - 1);
                for (int j = 0; j < ys; j++) ss += (int64_t)mid[(size_t)(ymin + j) * rowlen + i] * k[j];
                dst[(size_t)y * rowlen + i] = pil_clip8(ss);
            }
        }
    } else {
        memcpy(dst, mid, (size_t)dw * dh * 3);
    }
out:
    free(tmp);
    free(h.bounds);
    free(h.k);
    free(v.bounds);
    free(v.k);
    return st;
}

/* ---- HF Qwen2-VL video processor: normalise + patchify ---------------------------------- */

/* 4.53.2 fuses rescale into normalise: (x - mean*255) / (std*255), all float32, with mean and
 * std first rounded to float32 tensors and then multiplied by 1/rescale_factor = 255. */
static void norm_lut(float lut[3][256]) {
    static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
    static const float stdv[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    for (int c = 0; c < 3; c++) {
        float m = mean[c] * 255.0f, s = stdv[c] * 255.0f;
        for (int v = 0; v < 256; v++) lut[c][v] = ((float)v - m) / s;
    }
}

void vs2_video_patchify(const uint8_t *frames, int n, int height, int width, float *out) {
    float lut[3][256];
    norm_lut(lut);
    const int gt = n / 2, gh = height / 14, gw = width / 14;
    const size_t fsize = (size_t)height * width * 3;
    float *o = out;
    for (int t = 0; t < gt; t++)
        for (int bh = 0; bh < gh / 2; bh++)
            for (int bw = 0; bw < gw / 2; bw++)
                for (int mh = 0; mh < 2; mh++)
                    for (int mw = 0; mw < 2; mw++) {
                        int y0 = (2 * bh + mh) * 14, x0 = (2 * bw + mw) * 14;
                        for (int c = 0; c < 3; c++)
                            for (int tp = 0; tp < 2; tp++) {
                                const uint8_t *f = frames + (size_t)(2 * t + tp) * fsize;
                                for (int py = 0; py < 14; py++) {
                                    const uint8_t *p = f + ((size_t)(y0 + py) * width + x0) * 3 + c;
                                    for (int px = 0; px < 14; px++) *o++ = lut[c][p[px * 3]];
                                }
                            }
                    }
}
