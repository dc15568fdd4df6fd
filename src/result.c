/* result.c — the VideoScore2 layer after generation (docs/videoscore2-reference.md §2.6–§2.8): the output
 * text, the rationale, the reference and robust parses, the soft scores with the rule that a
 * soft score exists only where the reference parse found the hard scores (§2.7 step 3), the
 * means over samples, and the JSON object `vs2 score --json` prints (docs/cli.md). */
#include "engine_internal.h"
#include "scores.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading an answer ---------------------------------------------------------------- */

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static char *trimmed_copy(const char *s, size_t len) {
    while (len && is_space(*s)) s++, len--;
    while (len && is_space(s[len - 1])) len--;
    char *o = malloc(len + 1);
    if (!o) return NULL;
    memcpy(o, s, len);
    o[len] = '\0';
    return o;
}

static const char *find_mem(const char *hay, size_t hlen, const char *needle) {
    size_t nl = strlen(needle);
    if (nl > hlen) return NULL;
    for (size_t i = 0; i + nl <= hlen; i++)
        if (!memcmp(hay + i, needle, nl)) return hay + i;
    return NULL;
}

static const char *find_last_mem(const char *hay, size_t hlen, const char *needle) {
    size_t nl = strlen(needle);
    if (nl > hlen) return NULL;
    for (size_t i = hlen - nl + 1; i-- > 0;)
        if (!memcmp(hay + i, needle, nl)) return hay + i;
    return NULL;
}

char *vs2__rationale(const char *text, size_t len) {
    const char *open = find_mem(text, len, "<think>");
    if (open) {
        const char *b = open + 7;
        size_t rest = len - (size_t)(b - text);
        const char *close = find_mem(b, rest, "</think>");
        return trimmed_copy(b, close ? (size_t)(close - b) : rest);
    }
    const char *list = find_last_mem(text, len, "(1)");
    return trimmed_copy(text, list ? (size_t)(list - text) : len);
}

static char *fmt_alloc(const char *fmt, ...) VS2_PRINTF(1, 2);
static char *fmt_alloc(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void vs2__sample_clear(vs2_sample *s) {
    free(s->output);
    free(s->ids);
    free(s->rationale);
    free(s->parse_error);
    free(s->robust_error);
    s->output = s->rationale = s->parse_error = s->robust_error = NULL;
    s->ids = NULL;
    s->n_ids = 0;
}

vs2_status vs2__sample_finish(const vs2_tokenizer *tok, const int32_t *ids, size_t n,
                              const float (*digit_probs)[5], const char *stop_reason,
                              int max_new_tokens, vs2_sample *s, vs2_error *err) {
    vs2_status st = VS2_OK;
    int32_t n_tok = vs2_tokenizer_n_vocab(tok);
    /* Ids the tokenizer has no text for (the padding rows 151665..152063 of the 7B vocabulary)
     * decode to nothing in Hugging Face's fast tokenizer: drop them, and keep a map back to
     * the generated-step index for the soft-score positions. */
    int32_t *kept = malloc((n ? n : 1) * sizeof *kept);
    size_t *orig = malloc((n ? n : 1) * sizeof *orig);
    float(*kprobs)[5] = malloc((n ? n : 1) * sizeof *kprobs);
    size_t k = 0;
    if (!kept || !orig || !kprobs) {
        st = vs2__fail(err, VS2_ERR_NOMEM, "scores: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= n_tok || !vs2_tokenizer_token_text(tok, ids[i])) continue;
        kept[k] = ids[i];
        orig[k] = i;
        memcpy(kprobs[k], digit_probs[i], sizeof kprobs[k]);
        k++;
    }
    size_t olen = 0;
    if ((st = vs2_detokenize(tok, kept, k, 1, &s->output, &olen, err)) != VS2_OK) goto done;
    s->rationale = vs2__rationale(s->output, olen);
    if (!s->rationale) {
        st = vs2__fail(err, VS2_ERR_NOMEM, "scores: out of memory");
        goto done;
    }

    const char *cut = !strcmp(stop_reason, "max_new_tokens") ? "; generation stopped at max_new_tokens before an end token"
                      : !strcmp(stop_reason, "callback")     ? "; generation was stopped by the caller"
                                                             : "";
    long v[VS2_NDIMS];
    s->has_scores = vs2_parse_hard_reference(s->output, olen, v);
    if (s->has_scores) {
        for (int d = 0; d < VS2_NDIMS; d++) s->scores[d] = v[d];
    } else {
        s->parse_error =
            olen == 0 ? fmt_alloc("the output is empty (%zu tokens generated%s)", n, cut)
                      : fmt_alloc("the reference pattern 'visual quality: N ... text-to-video alignment: N ... "
                                  "physical/common-sense consistency: N' does not occur in the output (%zu tokens%s)",
                                  n, cut);
        (void)max_new_tokens;
        if (!s->parse_error) {
            st = vs2__fail(err, VS2_ERR_NOMEM, "scores: out of memory");
            goto done;
        }
    }
    char why[512] = "";
    s->has_robust = vs2_parse_hard_robust(s->output, olen, v, why, sizeof why);
    if (s->has_robust) {
        for (int d = 0; d < VS2_NDIMS; d++) s->robust[d] = v[d];
    } else {
        s->robust_error = fmt_alloc("%s%s", why[0] ? why : "no numbered score list", cut);
        if (!s->robust_error) {
            st = vs2__fail(err, VS2_ERR_NOMEM, "scores: out of memory");
            goto done;
        }
    }

    vs2_soft soft;
    if ((st = vs2_soft_scores(tok, kept, (int64_t)k, (const float(*)[5])kprobs, &soft, err)) != VS2_OK) goto done;
    for (int d = 0; d < VS2_NDIMS; d++) {
        int64_t ix = soft.index[d];
        s->soft_index[d] = ix >= 0 && (size_t)ix < k ? (int64_t)orig[ix] : -1;
        /* §2.7 step 3: no soft value where the hard value is None. */
        int ok = s->has_scores && s->soft_index[d] >= 0;
        s->soft[d] = ok ? soft.normed[d] : NAN;
        s->soft_expected[d] = ok ? soft.expected[d] : NAN;
    }
done:
    free(kept);
    free(orig);
    free(kprobs);
    return st;
}

void vs2__result_means(vs2_result *r) {
    vs2_score_mean *m = &r->mean;
    memset(m, 0, sizeof *m);
    for (int d = 0; d < VS2_NDIMS; d++) {
        double a = 0, b = 0, c = 0, e = 0;
        for (size_t i = 0; i < r->n_samples; i++) {
            const vs2_sample *s = &r->samples[i];
            if (s->has_scores) a += (double)s->scores[d], m->n_scores[d]++;
            if (s->has_robust) b += (double)s->robust[d], m->n_robust[d]++;
            if (!isnan(s->soft[d])) c += s->soft[d], m->n_soft[d]++;
            if (!isnan(s->soft_expected[d])) e += s->soft_expected[d], m->n_soft_expected[d]++;
        }
        m->scores[d] = m->n_scores[d] ? a / m->n_scores[d] : NAN;
        m->robust[d] = m->n_robust[d] ? b / m->n_robust[d] : NAN;
        m->soft[d] = m->n_soft[d] ? c / m->n_soft[d] : NAN;
        m->soft_expected[d] = m->n_soft_expected[d] ? e / m->n_soft_expected[d] : NAN;
    }
}

void vs2_result_free(vs2_result *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n_samples && r->samples; i++) vs2__sample_clear(&r->samples[i]);
    free(r->samples);
    free(r->model);
    free(r->video);
    free(r->prompt);
    free(r);
}

/* ---- JSON ----------------------------------------------------------------------------- */

typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t len) {
    if (b->oom) return;
    if (b->n + len + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->n + len + 1) nc *= 2;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->n, s, len);
    b->n += len;
    b->s[b->n] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...) VS2_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof tmp) {
        sb_put(b, tmp, (size_t)n);
        return;
    }
    char *big = NULL;
    if (n >= 0 && (big = malloc((size_t)n + 1))) {
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        sb_put(b, big, (size_t)n);
        free(big);
    } else {
        b->oom = 1;
    }
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t left) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (left < n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return n;
}

/* A JSON string literal; invalid UTF-8 becomes U+FFFD so the object is always valid JSON. */
static void sb_str(sbuf *b, const char *s) {
    if (!s) {
        sb_puts(b, "null");
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    sb_put(b, "\"", 1);
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        if (c == '"') sb_puts(b, "\\\"");
        else if (c == '\\') sb_puts(b, "\\\\");
        else if (c == '\n') sb_puts(b, "\\n");
        else if (c == '\r') sb_puts(b, "\\r");
        else if (c == '\t') sb_puts(b, "\\t");
        else if (c < 0x20 || c == 0x7f) sb_printf(b, "\\u%04x", c);
        else {
            size_t k = utf8_len(p + i, len - i);
            if (k == 0) {
                sb_puts(b, "\xEF\xBF\xBD");
                i++;
            } else {
                sb_put(b, s + i, k);
                i += k;
            }
            continue;
        }
        i++;
    }
    sb_put(b, "\"", 1);
}

/* The shortest decimal that reads back as the same double (Python's repr); null for NaN/inf. */
static void sb_num(sbuf *b, double x) {
    if (!isfinite(x)) {
        sb_puts(b, "null");
        return;
    }
    char tmp[40];
    if (x == floor(x) && fabs(x) < 1e16) {
        /* integral: "30", never the shortest %g form "3e+01" */
        snprintf(tmp, sizeof tmp, "%.0f", x);
        sb_puts(b, tmp);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, x);
        if (strtod(tmp, NULL) == x) break;
    }
    sb_puts(b, tmp);
}

/* Milliseconds to the microsecond. */
static void sb_ms(sbuf *b, double ms) { sb_num(b, round(ms * 1e3) / 1e3); }

static const char *const dim_keys[VS2_NDIMS] = {"visual_quality", "text_alignment", "physical_consistency"};

static void sb_dims_long(sbuf *b, int present, const long v[VS2_NDIMS]) {
    sb_puts(b, "{");
    for (int d = 0; d < VS2_NDIMS; d++) {
        sb_printf(b, "%s\"%s\":", d ? "," : "", dim_keys[d]);
        if (present) sb_printf(b, "%ld", v[d]);
        else sb_puts(b, "null");
    }
    sb_puts(b, "}");
}

static void sb_dims_num(sbuf *b, const double v[VS2_NDIMS]) {
    sb_puts(b, "{");
    for (int d = 0; d < VS2_NDIMS; d++) {
        sb_printf(b, "%s\"%s\":", d ? "," : "", dim_keys[d]);
        sb_num(b, v[d]);
    }
    sb_puts(b, "}");
}

static void sb_dims_int(sbuf *b, const int v[VS2_NDIMS]) {
    sb_puts(b, "{");
    for (int d = 0; d < VS2_NDIMS; d++) sb_printf(b, "%s\"%s\":%d", d ? "," : "", dim_keys[d], v[d]);
    sb_puts(b, "}");
}

static void sb_index(sbuf *b, const int64_t v[VS2_NDIMS]) {
    sb_puts(b, "{");
    for (int d = 0; d < VS2_NDIMS; d++) {
        sb_printf(b, "%s\"%s\":", d ? "," : "", dim_keys[d]);
        if (v[d] >= 0) sb_printf(b, "%lld", (long long)v[d]);
        else sb_puts(b, "null");
    }
    sb_puts(b, "}");
}

/* The per-sample keys (no braces). */
static void sb_sample(sbuf *b, const vs2_sample *s, int with_text) {
    sb_puts(b, "\"scores\":");
    sb_dims_long(b, s->has_scores, s->scores);
    sb_puts(b, ",\"scores_robust\":");
    sb_dims_long(b, s->has_robust, s->robust);
    sb_puts(b, ",\"soft_scores\":");
    sb_dims_num(b, s->soft);
    sb_puts(b, ",\"soft_scores_expected\":");
    sb_dims_num(b, s->soft_expected);
    sb_puts(b, ",\"soft_token_index\":");
    sb_index(b, s->soft_index);
    sb_puts(b, ",\"parse_error\":");
    sb_str(b, s->parse_error);
    sb_puts(b, ",\"robust_parse_error\":");
    sb_str(b, s->robust_error);
    if (with_text) {
        sb_puts(b, ",\"rationale\":");
        sb_str(b, s->rationale);
        sb_puts(b, ",\"output\":");
        sb_str(b, s->output);
    }
    sb_puts(b, ",\"output_ids\":[");
    for (size_t i = 0; i < s->n_ids; i++) sb_printf(b, "%s%d", i ? "," : "", (int)s->ids[i]);
    sb_puts(b, "],\"stop_reason\":");
    sb_str(b, s->stop_reason);
    sb_printf(b, ",\"generated_tokens\":%zu", s->n_ids);
}

char *vs2_result_to_json(const vs2_result *r) {
    if (!r) return NULL;
    sbuf b = {0};
    const vs2_sample *s0 = r->n_samples ? &r->samples[0] : NULL;
    int multi = r->n_samples > 1;
    sb_puts(&b, "{\"model\":");
    sb_str(&b, r->model);
    sb_puts(&b, ",\"video\":");
    sb_str(&b, r->video);
    sb_puts(&b, ",\"prompt\":");
    sb_str(&b, r->prompt);
    sb_printf(&b, ",\"template\":\"%s\",", r->tmpl == VS2_TEMPLATE_INF ? "inf" : "eval");
    if (!multi && s0) {
        sb_sample(&b, s0, 1);
    } else {
        /* Several samples: the top-level scores are the means over the samples that have a value. */
        sb_puts(&b, "\"scores\":");
        sb_dims_num(&b, r->mean.scores);
        sb_puts(&b, ",\"scores_robust\":");
        sb_dims_num(&b, r->mean.robust);
        sb_puts(&b, ",\"soft_scores\":");
        sb_dims_num(&b, r->mean.soft);
        sb_puts(&b, ",\"soft_scores_expected\":");
        sb_dims_num(&b, r->mean.soft_expected);
        sb_puts(&b, ",\"rationale\":");
        sb_str(&b, s0 ? s0->rationale : NULL);
        sb_puts(&b, ",\"output\":");
        sb_str(&b, s0 ? s0->output : NULL);
        size_t total = 0;
        for (size_t i = 0; i < r->n_samples; i++) total += r->samples[i].n_ids;
        sb_printf(&b, ",\"generated_tokens\":%zu", total);
    }
    sb_printf(&b, ",\"frames\":%d,\"grid_thw\":[%d,%d,%d],\"video_tokens\":%lld,\"prompt_tokens\":%lld", r->frames,
              r->grid_t, r->grid_h, r->grid_w, (long long)r->video_tokens, (long long)r->prompt_tokens);
    sb_printf(&b, ",\"total_frames\":%lld,\"video_fps\":", (long long)r->total_frames);
    sb_num(&b, r->video_fps);
    sb_puts(&b, ",\"sample_fps\":");
    sb_num(&b, r->sample_fps);
    sb_puts(&b, ",\"second_per_grid_t\":");
    sb_num(&b, r->second_per_grid_t);
    sb_printf(&b, ",\"source_size\":[%d,%d],\"resized_size\":[%d,%d]", r->src_width, r->src_height, r->width,
              r->height);
    sb_printf(&b, ",\"decoding\":{\"mode\":\"%s\",\"seed\":%llu,\"temperature\":",
              r->decoding == VS2_DECODE_SAMPLE ? "sample" : "greedy", (unsigned long long)r->seed);
    if (r->decoding == VS2_DECODE_SAMPLE) sb_num(&b, r->temperature);
    else sb_puts(&b, "null");
    sb_printf(&b, ",\"top_k\":");
    if (r->decoding == VS2_DECODE_SAMPLE) sb_printf(&b, "%d", r->top_k);
    else sb_puts(&b, "null");
    sb_puts(&b, ",\"top_p\":");
    if (r->decoding == VS2_DECODE_SAMPLE) sb_num(&b, r->top_p);
    else sb_puts(&b, "null");
    sb_puts(&b, ",\"repetition_penalty\":");
    sb_num(&b, r->repetition_penalty);
    sb_printf(&b, ",\"max_new_tokens\":%d,\"stop_ids\":[", r->max_new_tokens);
    for (int i = 0; i < r->n_stop_ids; i++) sb_printf(&b, "%s%d", i ? "," : "", (int)r->stop_ids[i]);
    sb_printf(&b, "]},\"threads\":%d,\"backend\":", r->threads);
    sb_str(&b, r->backend ? r->backend : "");
    sb_printf(&b, ",\"timings_ms\":{\"video\":");
    sb_ms(&b, r->video_ms);
    sb_puts(&b, ",\"vision\":");
    sb_ms(&b, r->vision_ms);
    sb_puts(&b, ",\"prefill\":");
    sb_ms(&b, r->prefill_ms);
    sb_puts(&b, ",\"generate\":");
    sb_ms(&b, r->generate_ms);
    sb_puts(&b, ",\"total\":");
    sb_ms(&b, r->total_ms);
    double steps = 0;
    for (size_t i = 0; i < r->n_samples; i++)
        steps += r->samples[i].tokens_per_second * r->samples[i].generate_ms / 1e3;
    double tps = r->generate_ms > 0 ? steps / (r->generate_ms / 1e3) : 0;
    sb_puts(&b, "},\"tokens_per_second\":");
    sb_num(&b, tps);
    sb_puts(&b, ",\"ms_per_token\":");
    sb_num(&b, tps > 0 ? 1e3 / tps : NAN);
    if (multi) {
        sb_puts(&b, ",\"mean\":{\"scores\":");
        sb_dims_num(&b, r->mean.scores);
        sb_puts(&b, ",\"scores_robust\":");
        sb_dims_num(&b, r->mean.robust);
        sb_puts(&b, ",\"soft_scores\":");
        sb_dims_num(&b, r->mean.soft);
        sb_puts(&b, ",\"soft_scores_expected\":");
        sb_dims_num(&b, r->mean.soft_expected);
        sb_puts(&b, ",\"counts\":{\"scores\":");
        sb_dims_int(&b, r->mean.n_scores);
        sb_puts(&b, ",\"scores_robust\":");
        sb_dims_int(&b, r->mean.n_robust);
        sb_puts(&b, ",\"soft_scores\":");
        sb_dims_int(&b, r->mean.n_soft);
        sb_puts(&b, ",\"soft_scores_expected\":");
        sb_dims_int(&b, r->mean.n_soft_expected);
        sb_printf(&b, "}},\"n_samples\":%zu,\"samples\":[", r->n_samples);
        for (size_t i = 0; i < r->n_samples; i++) {
            const vs2_sample *s = &r->samples[i];
            sb_printf(&b, "%s{\"seed\":%llu,", i ? "," : "", (unsigned long long)s->seed);
            sb_sample(&b, s, 1);
            sb_puts(&b, ",\"generate_ms\":");
            sb_ms(&b, s->generate_ms);
            sb_puts(&b, ",\"tokens_per_second\":");
            sb_num(&b, s->tokens_per_second);
            sb_puts(&b, "}");
        }
        sb_puts(&b, "]");
    }
    sb_puts(&b, "}");
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
