/* eval_util.c — small helpers for the evaluation files: a byte buffer, HTML escaping, score
 * values from JSON, reference-style video names. */
#include "eval_internal.h"

#include <utf8proc.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *const ev_dim_keys[VS2_NDIMS] = {"visual_quality", "text_alignment",
                                            "physical_consistency"};

static int ev_buf_grow(ev_buf *b, size_t extra) {
    if (b->oom) return 0;
    if (b->len + extra + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            b->oom = 1;
            return 0;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return 0;
    }
    b->data = p;
    b->cap = cap;
    return 1;
}

void ev_buf_put(ev_buf *b, const char *s, size_t n) {
    if (!ev_buf_grow(b, n)) return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void ev_buf_puts(ev_buf *b, const char *s) { ev_buf_put(b, s, strlen(s)); }

void ev_buf_printf(ev_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        ev_buf_put(b, small, (size_t)n);
        return;
    }
    if (!ev_buf_grow(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (1..4; s is NUL-terminated), or 0 if it is invalid
 * (utf8proc rejects overlong forms, surrogates and code points past U+10FFFF). */
size_t ev_utf8_len(const char *s) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s, -1, &cp);
    return n > 0 ? (size_t)n : 0;
}

void ev_buf_html(ev_buf *b, const char *s) {
    if (!s) return;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        switch (*p) {
        case '&': ev_buf_puts(b, "&amp;"); p++; continue;
        case '<': ev_buf_puts(b, "&lt;"); p++; continue;
        case '>': ev_buf_puts(b, "&gt;"); p++; continue;
        case '"': ev_buf_puts(b, "&quot;"); p++; continue;
        case '\'': ev_buf_puts(b, "&#39;"); p++; continue;
        default: break;
        }
        size_t n = ev_utf8_len((const char *)p);
        if (!n) {
            ev_buf_puts(b, "\xEF\xBF\xBD");
            p++;
        } else if (*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r') {
            ev_buf_puts(b, "\xEF\xBF\xBD"); /* control characters are not allowed in HTML */
            p++;
        } else {
            ev_buf_put(b, (const char *)p, n);
            p += n;
        }
    }
}

void ev_buf_free(ev_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

char *ev_strndup(const char *s, size_t n, int *oom) {
    if (!s) return NULL;
    char *d = malloc(n + 1);
    if (!d) {
        *oom = 1;
        return NULL;
    }
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *ev_strdup(const char *s, int *oom) { return s ? ev_strndup(s, strlen(s), oom) : NULL; }

int ev_parse_double(const char *s, double *out) {
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) return 0;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || errno == ERANGE || !isfinite(v)) return 0;
    while (*end == ' ' || *end == '\t' || *end == '\r') end++;
    if (*end) return 0;
    *out = v;
    return 1;
}

int ev_json_score(const json_t *v, double *out) {
    *out = NAN;
    if (!v || json_is_null(v)) return 1;
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 1;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!strcmp(s, "None") || !strcmp(s, "null")) return 1; /* stringified None */
        return ev_parse_double(s, out);
    }
    return 0;
}

char *ev_json_text(const json_t *v, int *oom) {
    if (json_is_string(v)) return ev_strndup(json_string_value(v), json_string_length(v), oom);
    if (json_is_integer(v)) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
        return ev_strdup(tmp, oom);
    }
    if (json_is_real(v)) {
        char tmp[40];
        snprintf(tmp, sizeof tmp, "%.17g", json_real_value(v));
        return ev_strdup(tmp, oom);
    }
    return NULL;
}

char *ev_video_name(const char *path, const char *cut, int *oom) {
    if (!path) return NULL;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (cut) {
        const char *c = strstr(base, cut);
        if (c) n = (size_t)(c - base);
    } else {
        const char *dot = strrchr(base, '.');
        if (dot && dot != base) n = (size_t)(dot - base);
    }
    return ev_strndup(base, n, oom);
}

const char *ev_utf8_tail(const char *s, size_t n) {
    const char *p = s + strlen(s);
    size_t count = 0;
    while (p > s && count < n) {
        p--;
        /* a code point starts at every byte that is not a continuation byte */
        if (((unsigned char)*p & 0xC0) != 0x80) count++;
    }
    return p;
}

/* ---- JSONL reading ----------------------------------------------------------------------- */

vs2_status ev_jsonl_foreach(const char *s, size_t len, const char *name,
                            vs2_status (*fn)(void *ctx, json_t *obj, int line), void *ctx,
                            vs2_error *err) {
    int line = 0;
    for (size_t pos = 0; pos < len;) {
        const char *p = s + pos, *nl = memchr(p, '\n', len - pos);
        size_t k = nl ? (size_t)(nl - p) : len - pos, blank = 0;
        pos += k + 1;
        line++;
        while (blank < k && (p[blank] == ' ' || p[blank] == '\t' || p[blank] == '\r')) blank++;
        if (blank == k) continue; /* blank lines are allowed anywhere */
        json_error_t je;
        json_t *o = json_loadb(p, k, 0, &je);
        if (!o)
            return vs2__fail(err, VS2_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", name, line,
                             je.column, je.text);
        vs2_status st = fn(ctx, o, line);
        json_decref(o);
        if (st) return st;
    }
    return VS2_OK;
}
