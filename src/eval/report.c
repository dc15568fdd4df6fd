/* report.c — one self-contained HTML page comparing result files: per-dimension histograms,
 * confusion matrices and the metrics table where human scores exist, and a sortable
 * per-video table with thumbnails. Inline CSS/JS/SVG only; every text from a result file is
 * HTML-escaped (prompts and rationales are untrusted). See docs/report.md. */
#include "eval_internal.h"

#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const dim_title[3] = {"Visual quality", "Text-to-video alignment",
                                         "Physical consistency"};

vs2_report_params vs2_report_default_params(void) {
    vs2_report_params p = {.title = NULL, .bench = NULL, .method = NULL, .make_thumbnails = 0,
                           .thumb_count = 4, .thumb_height = 72};
    return p;
}

/* ---- thumbnails: PNG via libavcodec, base64 data URIs ------------------------------------ */

static void base64(ev_buf *b, const uint8_t *p, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        char q[4] = {tab[v >> 18 & 63], tab[v >> 12 & 63], i + 1 < n ? tab[v >> 6 & 63] : '=',
                     i + 2 < n ? tab[v & 63] : '='};
        ev_buf_put(b, q, 4);
    }
}

/* Encode packed RGB24 as a PNG data URI appended to out; 0 on failure. */
static int png_data_uri(const uint8_t *rgb, int w, int h, ev_buf *out) {
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
    if (!codec) return 0;
    AVCodecContext *ctx = avcodec_alloc_context3(codec);
    AVFrame *fr = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    int ok = 0;
    if (!ctx || !fr || !pkt) goto done;
    ctx->width = w, ctx->height = h, ctx->pix_fmt = AV_PIX_FMT_RGB24;
    ctx->time_base = (AVRational){1, 25};
    if (avcodec_open2(ctx, codec, NULL) < 0) goto done;
    fr->format = AV_PIX_FMT_RGB24, fr->width = w, fr->height = h;
    if (av_frame_get_buffer(fr, 0) < 0) goto done;
    for (int y = 0; y < h; y++) memcpy(fr->data[0] + (size_t)y * fr->linesize[0], rgb + (size_t)y * w * 3, (size_t)w * 3);
    if (avcodec_send_frame(ctx, fr) < 0 || avcodec_send_frame(ctx, NULL) < 0) goto done;
    if (avcodec_receive_packet(ctx, pkt) < 0) goto done;
    ev_buf_puts(out, "data:image/png;base64,");
    base64(out, pkt->data, (size_t)pkt->size);
    ok = !out->oom;
done:
    av_packet_free(&pkt);
    av_frame_free(&fr);
    avcodec_free_context(&ctx);
    return ok;
}

/* Frames of the item's video, sampled as the model sees them, as a strip of data URIs. */
static void make_thumbnails(vs2_result_item *it, const vs2_report_params *p) {
    if (!it->video || it->n_thumbnails || strstr(it->video, "://")) return;
    vs2_video_params vp = vs2_video_default_params();
    vp.keep_frames = 1, vp.no_pixels = 1, vp.threads = 1;
    vs2_video v;
    if (vs2_video_load(it->video, &vp, &v, NULL) != VS2_OK) return;
    int k = p->thumb_count > 0 ? p->thumb_count : 4;
    if (k > v.n_frames) k = v.n_frames;
    int th = p->thumb_height > 8 ? p->thumb_height : 72;
    int tw = (int)((double)v.width * th / v.height + 0.5);
    if (tw < 1) tw = 1;
    uint8_t *small = malloc((size_t)tw * th * 3);
    it->thumbnails = calloc((size_t)k, sizeof *it->thumbnails);
    for (int i = 0; small && it->thumbnails && i < k; i++) {
        int f = k > 1 ? (int)((long)i * (v.n_frames - 1) / (k - 1)) : 0;
        const uint8_t *src = v.frames + (size_t)f * v.width * v.height * 3;
        if (vs2_resize_pil_bicubic(src, v.width, v.height, small, tw, th, NULL) != VS2_OK) break;
        ev_buf uri = {0};
        if (png_data_uri(small, tw, th, &uri)) it->thumbnails[it->n_thumbnails++] = uri.data;
        else ev_buf_free(&uri);
    }
    free(small);
    vs2_video_free(&v);
}

/* ---- scores shown in the page -------------------------------------------------------------- */

/* The integer the model gave for a dimension (vs2: the hard parse; reference: rounded stored
 * score, as the vs2_float accuracy rule does); 0 if none or outside 1..5. */
static int shown_int(const vs2_results *r, const vs2_result_item *it, const char *method, int d) {
    double x = r->is_vs2 && it->has_vs2_scores && !isnan(it->hard[d]) && strncmp(method, "vs2_float", 9)
                   ? it->hard[d]
                   : vs2_result_model_score(it, r->is_vs2, method, d);
    if (isnan(x)) return 0;
    double q = nearbyint(x);
    if (q < 1) q = 1;
    if (q > 5) q = 5;
    return (int)q;
}

static int human_int(const vs2_result_item *it, int d) {
    double x = it->human[d];
    if (isnan(x) || x != floor(x) || x < 1 || x > 5) return 0;
    return (int)x;
}

/* ---- page pieces --------------------------------------------------------------------------- */

static void head(ev_buf *b, const char *title) {
    ev_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                   "img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n<title>");
    ev_buf_html(b, title);
    ev_buf_puts(b,
        "</title>\n<style>\n"
        "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1f2933;background:#f5f7fa}\n"
        "header{background:#243b53;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}\n"
        "header p{margin:4px 0 0;color:#bcccdc}main{padding:20px 28px}\n"
        "section.set{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:16px 20px;margin-bottom:22px}\n"
        "h2{font-size:18px;margin:0 0 10px}h3{font-size:14px;margin:14px 0 6px;color:#486581}\n"
        ".charts{display:flex;flex-wrap:wrap;gap:18px}.chart{background:#fafbfc;border:1px solid #e4e7eb;border-radius:6px;padding:8px}\n"
        "table{border-collapse:collapse}td,th{padding:4px 8px;border-bottom:1px solid #e4e7eb;text-align:right}\n"
        "th{background:#f0f4f8;font-weight:600}td.l,th.l{text-align:left}\n"
        "table.cm td{width:34px;text-align:center;border:1px solid #fff}table.cm th{font-size:12px}\n"
        "#videos th{cursor:pointer;user-select:none;position:sticky;top:0}#videos th:after{content:' \\2195';color:#9fb3c8}\n"
        "#videos td{vertical-align:top}#videos td.prompt{max-width:340px;text-align:left}\n"
        "#videos details{max-width:460px;text-align:left}#videos pre{white-space:pre-wrap;font:12px/1.4 ui-monospace,monospace;max-height:320px;overflow:auto;background:#f8f9fb;padding:6px}\n"
        ".thumbs{white-space:nowrap}.thumbs img{height:48px;width:auto;max-width:none;object-fit:contain;margin-right:2px;border-radius:3px}\n"
        ".err{color:#c62828}.muted{color:#829ab1}.nodata{color:#8d2b0b;background:#fff3e0;padding:6px 10px;border-radius:4px}\n"
        "#filter{font:inherit;padding:4px 8px;width:320px;margin-bottom:8px}td.set{max-width:14em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}\n"
        ".legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;border-radius:2px}\n"
        "</style></head><body>\n");
}

static void histogram_svg(ev_buf *b, const int model[6], const int human[6], int has_human, const char *title) {
    int mx = 1;
    for (int s = 1; s <= 5; s++) {
        if (model[s] > mx) mx = model[s];
        if (has_human && human[s] > mx) mx = human[s];
    }
    const int W = 260, H = 162, x0 = 30, y0 = 34, ch = 100, bw = has_human ? 18 : 30;
    ev_buf_printf(b, "<div class=\"chart\"><svg class=\"hist\" width=\"%d\" height=\"%d\" role=\"img\" "
                     "viewBox=\"0 0 %d %d\"><title>", W, H, W, H);
    ev_buf_html(b, title);
    ev_buf_puts(b, "</title>");
    ev_buf_printf(b, "<text x=\"%d\" y=\"13\" font-size=\"12\" font-weight=\"600\" fill=\"#334e68\">", x0);
    ev_buf_html(b, title);
    ev_buf_puts(b, "</text>");
    ev_buf_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#9fb3c8\"/>", x0, y0 + ch, W - 8, y0 + ch);
    for (int s = 1; s <= 5; s++) {
        int cx = x0 + 22 + (s - 1) * 44;
        int hm = model[s] * ch / mx;
        ev_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#3e7cb1\"><title>model %d: %d</title></rect>",
                      has_human ? cx - bw : cx - bw / 2, y0 + ch - hm, bw, hm, s, model[s]);
        if (has_human) {
            int hh = human[s] * ch / mx;
            ev_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#f0a202\"><title>human %d: %d</title></rect>",
                          cx, y0 + ch - hh, bw, hh, s, human[s]);
        }
        ev_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" fill=\"#486581\">%d</text>",
                      cx, y0 + ch + 14, s);
        ev_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"9\" text-anchor=\"middle\" fill=\"#627d98\">%d</text>",
                      has_human ? cx - bw / 2 : cx, y0 + ch - hm - 3, model[s]);
    }
    ev_buf_puts(b, "</svg></div>\n");
}

static void confusion(ev_buf *b, int cm[6][6], const char *title) {
    int mx = 1;
    for (int h = 1; h <= 5; h++)
        for (int m = 1; m <= 5; m++)
            if (cm[h][m] > mx) mx = cm[h][m];
    ev_buf_puts(b, "<div class=\"chart\"><table class=\"cm\"><caption class=\"muted\">");
    ev_buf_html(b, title);
    ev_buf_puts(b, " (rows: human, columns: model)</caption><tr><th></th>");
    for (int m = 1; m <= 5; m++) ev_buf_printf(b, "<th>%d</th>", m);
    ev_buf_puts(b, "</tr>");
    for (int h = 1; h <= 5; h++) {
        ev_buf_printf(b, "<tr><th>%d</th>", h);
        for (int m = 1; m <= 5; m++) {
            double a = 0.08 + 0.85 * cm[h][m] / mx;
            ev_buf_printf(b, "<td style=\"background:rgba(62,124,177,%.2f);color:%s\"%s>%d</td>", a,
                          a > 0.5 ? "#fff" : "#102a43", h == m ? " title=\"exact\"" : "", cm[h][m]);
        }
        ev_buf_puts(b, "</tr>");
    }
    ev_buf_puts(b, "</table></div>\n");
}

static void metrics_table(ev_buf *b, const vs2_metrics *m) {
    static const char *const rows[4] = {"v", "t", "p", "avg"};
    static const char *const names[4] = {"visual quality", "text alignment", "physical", "average"};
    static const char *const cols[4] = {"acc", "acc_relaxed", "plcc", "spcc"};
    ev_buf_puts(b, "<table class=\"metrics\"><tr><th class=\"l\">dimension</th><th>accuracy</th>"
                   "<th>relaxed</th><th>PLCC</th><th>SRCC</th></tr>");
    for (int r = 0; r < 4; r++) {
        ev_buf_printf(b, "<tr><td class=\"l\">%s</td>", names[r]);
        for (int c = 0; c < 4; c++) {
            char key[48];
            if (r == 3) snprintf(key, sizeof key, "%s_avg", cols[c]);
            else snprintf(key, sizeof key, "%s_%s", rows[r], cols[c]);
            double v = vs2_metrics_get(m, key);
            if (isnan(v)) ev_buf_puts(b, "<td class=\"muted\">–</td>");
            else ev_buf_printf(b, "<td>%.3f</td>", v);
        }
        ev_buf_puts(b, "</tr>");
    }
    ev_buf_printf(b, "</table><p class=\"muted\">%zu items, %zu dropped (a None score); –: not measured "
                     "for this bench and data. Accuracy on "
                     "rounded scores, PLCC/SRCC on the raw scores (release-script rules; docs/metrics.md).</p>\n",
                  m->n_items, m->n_dropped);
}

static int has_human(const vs2_results *r) {
    for (size_t i = 0; i < r->n; i++)
        for (int d = 0; d < 3; d++)
            if (!isnan(r->items[i].human[d])) return 1;
    return 0;
}

static size_t n_scored(const vs2_results *r) {
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) k += r->items[i].error == NULL;
    return k;
}

/* What the V/T/P and soft columns of the video table hold for this set. */
static const char *vtp_meaning(const vs2_results *r) {
    return r->is_vs2 ? "V/T/P: the hard scores (reference parse); soft V/T/P: the soft scores of the method"
                     : "V/T/P: the *_score_model values stored in the file (soft scores in the VideoScore2 "
                       "release files); soft V/T/P: none";
}

static void set_section(ev_buf *b, const vs2_results *r, const char *name, size_t idx,
                        const vs2_report_params *p, const char *method) {
    int hh = has_human(r);
    size_t scored = n_scored(r);
    ev_buf_printf(b, "<section class=\"set\" id=\"set%zu\"><h2>", idx);
    ev_buf_html(b, name);
    ev_buf_printf(b, "</h2><p class=\"muted\">%s, %zu items, %zu scored, %zu errors; method <b>",
                  r->is_vs2 ? "vs2 JSONL" : "reference JSON list", r->n, scored, r->n - scored);
    ev_buf_html(b, method);
    ev_buf_puts(b, "</b>. ");
    ev_buf_html(b, vtp_meaning(r));
    ev_buf_puts(b, ".</p>\n");
    if (!scored) {
        ev_buf_puts(b, "<p class=\"nodata\">No scored items: nothing to chart or measure.</p></section>\n");
        return;
    }
    if (hh) {
        vs2_metrics_params mp = vs2_metrics_default_params();
        mp.bench = p->bench ? p->bench : "vs2_bench";
        mp.method = method;
        vs2_metrics m;
        vs2_error err;
        ev_buf_puts(b, "<h3>Metrics against the human scores</h3>");
        if (vs2_metrics_compute(r, &mp, &m, &err) == VS2_OK) metrics_table(b, &m);
        else {
            const char *msg = strncmp(err.message, "metrics: ", 9) ? err.message : err.message + 9;
            ev_buf_puts(b, "<p class=\"nodata\">No metrics: ");
            ev_buf_html(b, msg);
            ev_buf_puts(b, ".</p>");
        }
    } else
        ev_buf_puts(b, "<p class=\"nodata\">No human scores in this set: no metrics or confusion matrices "
                       "(join them with <code>--gt FILE</code>).</p>");
    int hist[3][6] = {{0}}, hum[3][6] = {{0}}, cm[3][6][6];
    memset(cm, 0, sizeof cm);
    for (size_t i = 0; i < r->n; i++) {
        const vs2_result_item *it = &r->items[i];
        if (it->error) continue;
        for (int d = 0; d < 3; d++) {
            int s = shown_int(r, it, method, d), h = human_int(it, d);
            hist[d][s]++, hum[d][h]++;
            if (s && h) cm[d][h][s]++;
        }
    }
    ev_buf_puts(b, "<h3>Score histograms</h3><p class=\"legend muted\"><span style=\"background:#3e7cb1\"></span>model");
    if (hh) ev_buf_puts(b, "<span style=\"background:#f0a202\"></span>human");
    ev_buf_puts(b, "</p><div class=\"charts\">");
    for (int d = 0; d < 3; d++) histogram_svg(b, hist[d], hum[d], hh, dim_title[d]);
    ev_buf_puts(b, "</div>\n");
    if (hh) {
        ev_buf_puts(b, "<h3>Confusion matrices</h3><div class=\"charts\">");
        for (int d = 0; d < 3; d++) confusion(b, cm[d], dim_title[d]);
        ev_buf_puts(b, "</div>\n");
    }
    ev_buf_puts(b, "</section>\n");
}

/* One row per set: counts, mean model scores, and the averaged metrics where they exist. */
static void summary_table(ev_buf *b, vs2_results *const *rs, const char *const *names, size_t n,
                          const vs2_report_params *p, const char *method) {
    ev_buf_puts(b, "<section class=\"set\"><h2>Summary</h2><table class=\"summary\"><tr><th class=\"l\">set</th>"
                   "<th>items</th><th>scored</th><th>errors</th><th>mean V</th><th>mean T</th><th>mean P</th>"
                   "<th>accuracy (avg)</th><th>PLCC (avg)</th><th>SRCC (avg)</th></tr>\n");
    for (size_t i = 0; i < n; i++) {
        const vs2_results *r = rs[i];
        size_t scored = n_scored(r);
        ev_buf_printf(b, "<tr><td class=\"l\"><a href=\"#set%zu\">", i);
        ev_buf_html(b, names[i]);
        ev_buf_printf(b, "</a></td><td>%zu</td><td>%zu</td><td>%zu</td>", r->n, scored, r->n - scored);
        for (int d = 0; d < 3; d++) {
            double s = 0;
            size_t k = 0;
            for (size_t j = 0; j < r->n; j++) {
                double x = r->items[j].error ? NAN : vs2_result_model_score(&r->items[j], r->is_vs2, method, d);
                if (!isnan(x)) s += x, k++;
            }
            if (k) ev_buf_printf(b, "<td>%.3f</td>", s / (double)k);
            else ev_buf_puts(b, "<td class=\"muted\">no scored items</td>");
        }
        vs2_metrics m;
        vs2_metrics_params mp = vs2_metrics_default_params();
        mp.bench = p->bench ? p->bench : "vs2_bench";
        mp.method = method;
        int ok = scored && has_human(r) && vs2_metrics_compute(r, &mp, &m, NULL) == VS2_OK;
        static const char *const keys[3] = {"acc_avg", "plcc_avg", "spcc_avg"};
        for (int c = 0; c < 3; c++) {
            double v = ok ? vs2_metrics_get(&m, keys[c]) : NAN;
            if (!isnan(v)) ev_buf_printf(b, "<td>%.3f</td>", v);
            else ev_buf_puts(b, "<td class=\"muted\">–</td>");
        }
        ev_buf_puts(b, "</tr>\n");
    }
    ev_buf_puts(b, "</table><p class=\"muted\">Means over the scored items of the method's scores; metrics where "
                   "human scores exist (–: none).</p></section>\n");
}

static void num_cell(ev_buf *b, double v, int digits) {
    if (isnan(v)) ev_buf_puts(b, "<td data-v=\"-1e9\" class=\"muted\">–</td>");
    else ev_buf_printf(b, "<td data-v=\"%.6f\">%.*f</td>", v, digits, v);
}

/* The rationale: vs2's field, else the reference output's <think> block, else the output. */
static void rationale_text(ev_buf *b, const vs2_result_item *it) {
    if (it->rationale) {
        ev_buf_html(b, it->rationale);
        return;
    }
    if (!it->output) return;
    const char *s = strstr(it->output, "<think>"), *e = s ? strstr(s, "</think>") : NULL;
    if (s && e) {
        char *t = malloc((size_t)(e - s));
        if (!t) return;
        memcpy(t, s + 7, (size_t)(e - s - 7));
        t[e - s - 7] = '\0';
        ev_buf_html(b, t);
        free(t);
    } else ev_buf_html(b, it->output);
}

/* The set's label in the video table: long file names are cut (the full name is the tooltip). */
static void short_label(ev_buf *b, const char *name) {
    size_t n = strlen(name), cut = 24;
    ev_buf_puts(b, "<td class=\"l set\" title=\"");
    ev_buf_html(b, name);
    ev_buf_puts(b, "\">");
    if (n <= cut + 1) {
        ev_buf_html(b, name);
    } else {
        while (cut > 0 && ((unsigned char)name[cut] & 0xC0) == 0x80) cut--; /* whole UTF-8 sequences */
        char *t = malloc(cut + 1);
        if (t) {
            memcpy(t, name, cut);
            t[cut] = '\0';
            ev_buf_html(b, t);
            ev_buf_puts(b, "\xE2\x80\xA6");
            free(t);
        }
    }
    ev_buf_puts(b, "</td>");
}

/* Sum over the dimensions of |model - human| on the 1..5 integers the charts use; NAN when no
 * dimension has both. */
static double disagreement(const vs2_results *r, const vs2_result_item *it, const char *method) {
    double s = 0;
    int k = 0;
    for (int d = 0; d < 3 && !it->error; d++) {
        int m = shown_int(r, it, method, d), h = human_int(it, d);
        if (m && h) s += abs(m - h), k++;
    }
    return k ? s : NAN;
}

static void video_rows(ev_buf *b, const vs2_results *r, const char *name, const char *method) {
    for (size_t i = 0; i < r->n; i++) {
        const vs2_result_item *it = &r->items[i];
        ev_buf_puts(b, "<tr>");
        short_label(b, name);
        ev_buf_puts(b, "<td class=\"l\">");
        ev_buf_html(b, it->id ? it->id : "?");
        ev_buf_puts(b, "</td><td class=\"prompt\">");
        ev_buf_html(b, it->prompt);
        ev_buf_puts(b, "</td><td class=\"thumbs l\">");
        for (size_t k = 0; k < it->n_thumbnails; k++) {
            ev_buf_puts(b, "<img alt=\"frame\" src=\"");
            ev_buf_html(b, it->thumbnails[k]); /* data: URIs only (checked when read) */
            ev_buf_puts(b, "\">");
        }
        ev_buf_puts(b, "</td>");
        for (int d = 0; d < 3; d++) {
            double shown = r->is_vs2 && it->has_vs2_scores ? it->hard[d] : it->model[d];
            num_cell(b, shown, r->is_vs2 ? 0 : 3);
        }
        for (int d = 0; d < 3; d++) num_cell(b, r->is_vs2 ? vs2_result_model_score(it, 1, method, d) : NAN, 3);
        for (int d = 0; d < 3; d++) num_cell(b, it->human[d], 0);
        num_cell(b, disagreement(r, it, method), 0);
        ev_buf_puts(b, "<td class=\"l\">");
        if (it->error) {
            ev_buf_puts(b, "<span class=\"err\">");
            ev_buf_html(b, it->error);
            ev_buf_puts(b, "</span>");
        } else {
            ev_buf_puts(b, "<details><summary>rationale</summary><pre>");
            rationale_text(b, it);
            ev_buf_puts(b, "</pre></details>");
        }
        ev_buf_puts(b, "</td></tr>\n");
    }
}

static const char script[] =
    "<script>\n(function(){\n"
    "var t=document.getElementById('videos');\n"
    "var hs=t.tHead.rows[0].cells;\n"
    "function key(td,num){if(num){var v=parseFloat(td.getAttribute('data-v'));return isNaN(v)?-1e9:v;}return td.textContent.toLowerCase();}\n"
    "for(var i=0;i<hs.length;i++)(function(i){hs[i].addEventListener('click',function(){\n"
    " var num=hs[i].getAttribute('data-num')==='1';var dir=hs[i].getAttribute('data-dir')==='asc'?-1:1;\n"
    " for(var k=0;k<hs.length;k++)hs[k].removeAttribute('data-dir');hs[i].setAttribute('data-dir',dir>0?'asc':'desc');\n"
    " var b=t.tBodies[0];var rows=Array.prototype.slice.call(b.rows);\n"
    " rows.sort(function(x,y){var a=key(x.cells[i],num),c=key(y.cells[i],num);return a<c?-dir:a>c?dir:0;});\n"
    " rows.forEach(function(r){b.appendChild(r);});});})(i);\n"
    "var f=document.getElementById('filter');\n"
    "f.addEventListener('input',function(){var q=f.value.toLowerCase();var rows=t.tBodies[0].rows;\n"
    " for(var k=0;k<rows.length;k++)rows[k].style.display=!q||rows[k].textContent.toLowerCase().indexOf(q)>=0?'':'none';});\n"
    "var mark=document.getElementById('vs2-selfcheck');\n"
    "mark.textContent='selfcheck ok: '+t.tBodies[0].rows.length+' rows, '+document.querySelectorAll('svg.hist').length+' histograms';\n"
    "mark.setAttribute('data-ok','1');\n"
    "})();\n</script>\n";

static void video_table(ev_buf *b, vs2_results *const *rs, const char *const *names, size_t n,
                        const char *method) {
    ev_buf_puts(b, "<section class=\"set\"><h2>Videos</h2><p class=\"muted\">Click a column to sort; type to "
                   "filter. V/T/P: the model's scores (vs2: hard parse; reference files: the stored score; each set "
                   "above says which). Soft: vs2's soft scores for the method. Human: ground truth where present. "
                   "|Δ|: the sum over the dimensions of |model − human| on the 1–5 scale of the charts.</p>\n"
                   "<input id=\"filter\" type=\"search\" placeholder=\"filter: id, prompt, set, rationale…\" "
                   "aria-label=\"filter the videos\">\n"
                   "<table id=\"videos\"><thead><tr><th class=\"l\">set</th><th class=\"l\">id</th>"
                   "<th class=\"l\">prompt</th><th class=\"l\">frames</th>"
                   "<th data-num=\"1\">V</th><th data-num=\"1\">T</th><th data-num=\"1\">P</th>"
                   "<th data-num=\"1\">soft V</th><th data-num=\"1\">soft T</th><th data-num=\"1\">soft P</th>"
                   "<th data-num=\"1\">human V</th><th data-num=\"1\">human T</th><th data-num=\"1\">human P</th>"
                   "<th data-num=\"1\" title=\"model-human disagreement\">|Δ|</th>"
                   "<th class=\"l\">rationale</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < n; i++) video_rows(b, rs[i], names[i], method);
    ev_buf_puts(b, "</tbody></table></section>\n");
}

vs2_status vs2_report_write(vs2_results *const *results, const char *const *names, size_t n,
                            const vs2_report_params *params, const char *out_path, vs2_error *err) {
    if (!results || !names || !out_path || !n)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_report_write: nothing to report");
    vs2_report_params p = params ? *params : vs2_report_default_params();
    const char *method = p.method ? p.method : "vs2_float";
    const char *title = p.title ? p.title : "vs2 report";
    if (p.make_thumbnails)
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < results[i]->n; k++)
                make_thumbnails(&results[i]->items[k], &p);
    ev_buf b = {0};
    head(&b, title);
    ev_buf_puts(&b, "<header><h1>");
    ev_buf_html(&b, title);
    ev_buf_printf(&b, "</h1><p>VideoScore2 results: %zu set%s, generated by vs2 %s</p></header><main>\n", n,
                  n == 1 ? "" : "s", vs2_version());
    summary_table(&b, results, names, n, &p, method);
    for (size_t i = 0; i < n; i++) set_section(&b, results[i], names[i], i, &p, method);
    video_table(&b, results, names, n, method);
    /* hidden from readers; the test reads it from the DOM */
    ev_buf_puts(&b, "<p id=\"vs2-selfcheck\" hidden>script did not run</p></main>\n");
    ev_buf_puts(&b, script);
    ev_buf_puts(&b, "</body></html>\n");
    if (b.oom) {
        ev_buf_free(&b);
        return vs2__fail(err, VS2_ERR_NOMEM, "report: out of memory");
    }
    FILE *f = fopen(out_path, "wb");
    vs2_status st = VS2_OK;
    if (!f) st = vs2__fail(err, VS2_ERR_IO, "%s: cannot open for writing", out_path);
    else {
        size_t w = fwrite(b.data, 1, b.len, f);
        if (fclose(f) != 0 || w != b.len) st = vs2__fail(err, VS2_ERR_IO, "%s: write failed", out_path);
    }
    ev_buf_free(&b);
    if (!st) vs2__ok(err);
    return st;
}
