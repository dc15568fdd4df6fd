/* scores.c — the three VideoScore2 scores from a generated answer (docs/scores.md §2–§4).
 *
 * The reference parses run on Python `re` semantics, reproduced with PCRE2 in UTF mode and
 * explicit character classes instead of PCRE2's own \s, \d and caseless matching:
 *   \s  -> the 29 code points for which Python's str.isspace() is true (incl. U+001C..U+001F);
 *   \d  -> the 66 runs of ten Unicode decimal digits (Nd, Unicode 14 = Python 3.11's table);
 *   IGNORECASE -> per-letter classes equal to Python's case-insensitive sets ('i' also matches
 *         U+0130/U+0131, 's' also U+017F; the other label letters only their two ASCII cases).
 * int() of a group reads every Nd digit by its decimal value; values beyond LONG_MAX saturate
 * (Python would keep the big integer; a score that large is meaningless either way). */
#include "scores.h"

#include "internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_labels[VS2_NDIMS] = {"visual quality:", "text-to-video alignment:",
                                                 "physical/common-sense consistency:"};

/* First code point of each run of ten decimal digits (Python 3.11 / Unicode 14 `\d`). */
static const uint32_t k_nd_zero[] = {
    0x30,    0x660,   0x6f0,   0x7c0,   0x966,   0x9e6,   0xa66,   0xae6,   0xb66,   0xbe6,
    0xc66,   0xce6,   0xd66,   0xde6,   0xe50,   0xed0,   0xf20,   0x1040,  0x1090,  0x17e0,
    0x1810,  0x1946,  0x19d0,  0x1a80,  0x1a90,  0x1b50,  0x1bb0,  0x1c40,  0x1c50,  0xa620,
    0xa8d0,  0xa900,  0xa9d0,  0xa9f0,  0xaa50,  0xabf0,  0xff10,  0x104a0, 0x10d30, 0x11066,
    0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650, 0x116c0, 0x11730, 0x118e0,
    0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50, 0x1d7ce, 0x1d7d8, 0x1d7e2,
    0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0};
#define N_ND_ZERO (sizeof k_nd_zero / sizeof k_nd_zero[0])

#define PY_WS                                                                                  \
    "[\\t\\n\\x{0b}\\x{0c}\\r\\x{1c}-\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}" \
    "\\x{2029}\\x{202f}\\x{205f}\\x{3000}]"

static int nd_value(uint32_t cp) {
    for (size_t i = 0; i < N_ND_ZERO; i++)
        if (cp >= k_nd_zero[i] && cp < k_nd_zero[i] + 10) return (int)(cp - k_nd_zero[i]);
    return -1;
}

/* Decode one UTF-8 sequence at s[0..n); returns its length (0 if invalid) and the code point. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return len;
}

/* A valid-UTF-8 copy of text (each byte of an invalid sequence becomes U+FFFD), or NULL when
 * text is already valid (or on allocation failure, *oom set). Python matches on a str, so the
 * caller's bytes are first made a str; only code points matter to the parses here. */
static char *utf8_sanitize(const char *text, size_t len, size_t *out_len, int *oom) {
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, bad = 0;
    uint32_t cp;
    while (i < len) {
        size_t k = utf8_next(s + i, len - i, &cp);
        if (!k) bad++, k = 1;
        i += k;
    }
    *oom = 0;
    if (!bad) return NULL;
    char *out = malloc(len + 2 * bad + 1);
    if (!out) {
        *oom = 1;
        return NULL;
    }
    size_t o = 0;
    for (i = 0; i < len;) {
        size_t k = utf8_next(s + i, len - i, &cp);
        if (!k) {
            memcpy(out + o, "\xef\xbf\xbd", 3), o += 3, i++;
        } else {
            memcpy(out + o, s + i, k), o += k, i += k;
        }
    }
    out[o] = 0;
    *out_len = o;
    return out;
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s) {
    size_t k = strlen(s);
    if (b->oom) return;
    if (b->n + k + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 256);
        while (cap < b->n + k + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q, b->cap = cap;
    }
    memcpy(b->p + b->n, s, k + 1);
    b->n += k;
}

/* Python `re.escape(label)` under IGNORECASE, as explicit classes. */
static void sb_label(sbuf *b, const char *label) {
    for (const char *c = label; *c; c++) {
        char tmp[40];
        if (*c == 'i') {
            sb_add(b, "[iI\\x{130}\\x{131}]");
        } else if (*c == 's') {
            sb_add(b, "[sS\\x{17f}]");
        } else if (*c >= 'a' && *c <= 'z') {
            snprintf(tmp, sizeof tmp, "[%c%c]", *c, *c - 'a' + 'A');
            sb_add(b, tmp);
        } else {
            snprintf(tmp, sizeof tmp, "\\x{%x}", (unsigned)(unsigned char)*c);
            sb_add(b, tmp);
        }
    }
}

static void sb_digit_class(sbuf *b) {
    sb_add(b, "[");
    for (size_t i = 0; i < N_ND_ZERO; i++) {
        char tmp[48];
        snprintf(tmp, sizeof tmp, "\\x{%x}-\\x{%x}", (unsigned)k_nd_zero[i],
                 (unsigned)k_nd_zero[i] + 9);
        sb_add(b, tmp);
    }
    sb_add(b, "]");
}

static pcre2_code *compile(const char *pattern, uint32_t flags) {
    int code;
    PCRE2_SIZE off;
    return pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | flags, &code, &off,
                         NULL);
}

/* int() of an Nd digit run (valid UTF-8), saturating at LONG_MAX. */
static long py_int(const char *s, size_t n) {
    long v = 0;
    size_t i = 0;
    uint32_t cp;
    while (i < n) {
        size_t k = utf8_next((const unsigned char *)s + i, n - i, &cp);
        if (!k) break;
        int d = nd_value(cp);
        if (d < 0) break;
        if (v > (LONG_MAX - d) / 10)
            v = LONG_MAX;
        else
            v = v * 10 + d;
        i += k;
    }
    return v;
}

int vs2_parse_hard_reference(const char *text, size_t len, long s[VS2_NDIMS]) {
    if (!text || !s) return 0;
    sbuf b = {0};
    for (int d = 0; d < VS2_NDIMS; d++) {
        if (d) sb_add(&b, ".*?");
        sb_label(&b, k_labels[d]);
        sb_add(&b, PY_WS "*(");
        sb_digit_class(&b);
        sb_add(&b, "+)");
    }
    if (b.oom) {
        free(b.p);
        return 0;
    }
    pcre2_code *re = compile(b.p, PCRE2_DOTALL);
    free(b.p);
    if (!re) return 0;
    int oom;
    size_t clen = len;
    char *clean = utf8_sanitize(text, len, &clen, &oom);
    const char *subj = clean ? clean : text;
    int ok = 0;
    pcre2_match_data *md = oom ? NULL : pcre2_match_data_create_from_pattern(re, NULL);
    if (md && pcre2_match(re, (PCRE2_SPTR)subj, clen, 0, 0, md, NULL) >= 4) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        for (int d = 0; d < VS2_NDIMS; d++)
            s[d] = py_int(subj + ov[2 * (d + 1)], ov[2 * (d + 1) + 1] - ov[2 * (d + 1)]);
        ok = 1;
    }
    /* No match, or PCRE2's match limit hit on a pathological text: no parse. */
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    free(clean);
    return ok;
}

/* ---- robust parse ---------------------------------------------------------------------- */

static int lower_ascii(int c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }

static int at_ci(const char *t, size_t len, size_t pos, const char *w) {
    size_t k = strlen(w);
    if (pos > len || len - pos < k) return 0;
    for (size_t i = 0; i < k; i++)
        if (lower_ascii((unsigned char)t[pos + i]) != w[i]) return 0;
    return 1;
}

static int is_ws(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static const char *const k_names[VS2_NDIMS] = {"visual quality", "text-to-video alignment",
                                                "physical/common-sense consistency"};

/* If "(k)" + whitespace + name starts at pos, the offset just after the name; else 0. */
static size_t item_head(const char *t, size_t len, size_t pos, int k) {
    const char num[4] = {'(', (char)('0' + k), ')', 0}; /* k is 1..3 */
    if (!at_ci(t, len, pos, num)) return 0;
    size_t p = pos + 3;
    while (p < len && is_ws((unsigned char)t[p])) p++;
    if (!at_ci(t, len, p, k_names[k - 1])) return 0;
    return p + strlen(k_names[k - 1]);
}

static int fail_why(char *why, size_t why_len, const char *fmt, ...) VS2_PRINTF(3, 4);
static int fail_why(char *why, size_t why_len, const char *fmt, ...) {
    if (why && why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return 0;
}

int vs2_parse_hard_robust(const char *text, size_t len, long s[VS2_NDIMS], char *why,
                          size_t why_len) {
    if (why && why_len) why[0] = 0;
    if (!text || !s) return fail_why(why, why_len, "no text");
    /* The last "(1) visual quality" starts the final list. */
    size_t start = SIZE_MAX;
    for (size_t p = 0; p + 3 <= len; p++)
        if (text[p] == '(' && item_head(text, len, p, 1)) start = p;
    if (start == SIZE_MAX) return fail_why(why, why_len, "no numbered list");
    size_t pos = start;
    long v[VS2_NDIMS];
    for (int k = 1; k <= VS2_NDIMS; k++) {
        if (k > 1) { /* the next item: the first "(k) name" after the previous value */
            size_t q = pos, found = 0;
            for (; q + 3 <= len; q++)
                if (text[q] == '(' && item_head(text, len, q, k)) {
                    found = 1;
                    break;
                }
            if (!found)
                return fail_why(why, why_len, "numbered list incomplete: no (%d) %s after (%d)", k,
                                k_names[k - 1], k - 1);
            pos = q;
        }
        size_t p = item_head(text, len, pos, k);
        while (p < len && text[p] != ':' && text[p] != '\n') p++; /* descriptors before ':' */
        if (p >= len || text[p] != ':')
            return fail_why(why, why_len, "no colon after (%d) %s", k, k_names[k - 1]);
        p++;
        while (p < len && (is_ws((unsigned char)text[p]) || text[p] == '*')) p++;
        size_t d0 = p;
        long val = 0;
        while (p < len && text[p] >= '0' && text[p] <= '9') {
            if (val < 1000000) val = val * 10 + (text[p] - '0');
            p++;
        }
        if (p == d0) return fail_why(why, why_len, "no value for (%d) %s", k, k_names[k - 1]);
        if (p + 1 < len && (text[p] == '.' || text[p] == ',') && text[p + 1] >= '0' &&
            text[p + 1] <= '9')
            return fail_why(why, why_len, "non-integer value for (%d) %s", k, k_names[k - 1]);
        if (val < 1 || val > 5)
            return fail_why(why, why_len, "value %.*s out of range 1..5 for (%d) %s",
                            (int)(p - d0 > 12 ? 12 : p - d0), text + d0, k, k_names[k - 1]);
        v[k - 1] = val;
        pos = p;
    }
    for (int d = 0; d < VS2_NDIMS; d++) s[d] = v[d];
    return 1;
}

/* ---- soft scores ----------------------------------------------------------------------- */

void vs2_digit_ids(const vs2_tokenizer *tok, int32_t ids[5]) {
    for (int d = 0; d < 5; d++) {
        ids[d] = -1;
        if (!tok) continue;
        char txt[2] = {(char)('1' + d), 0};
        vs2_ids out = {0};
        if (vs2_tokenize(tok, txt, 1, &out, NULL) == VS2_OK && out.n == 1) ids[d] = out.ids[0];
        vs2_ids_free(&out);
    }
}

void vs2_soft_apply_hard(vs2_soft *soft, int hard_matched) {
    if (!soft || hard_matched) return;
    for (int d = 0; d < VS2_NDIMS; d++) {
        soft->normed[d] = soft->expected[d] = NAN;
        soft->index[d] = -1;
        soft->why[d] = "no reference hard score";
    }
}

/* The last code point of a decoded token, or -1 when empty. */
static int64_t last_cp(const char *s, size_t n) {
    if (!n) return -1;
    size_t i = n - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80) i--;
    uint32_t cp;
    return utf8_next((const unsigned char *)s + i, n - i, &cp) ? (int64_t)cp : 0xfffd;
}

vs2_status vs2_soft_scores(const vs2_tokenizer *tok, const int32_t *gen_ids, int64_t n_gen,
                           const float (*digit_probs)[5], vs2_soft *out, vs2_error *err) {
    if (!out) return vs2__fail(err, VS2_ERR_INVALID_ARG, "soft scores: out is NULL");
    for (int d = 0; d < VS2_NDIMS; d++) {
        out->normed[d] = out->expected[d] = NAN;
        out->index[d] = -1;
        out->why[d] = NULL;
    }
    if (!tok || n_gen < 0 || (n_gen > 0 && !gen_ids))
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "soft scores: bad arguments");
    vs2_status st = VS2_OK;
    char *S = NULL;
    size_t slen = 0;
    int64_t *tails = NULL;
    pcre2_code *re_digit = NULL;
    pcre2_match_data *md = NULL;
    sbuf b = {0};
    st = vs2_detokenize(tok, gen_ids, (size_t)n_gen, 0, &S, &slen, err);
    if (st != VS2_OK) goto done;
    /* The last code point of each token decoded alone: a prefix can decode to text ending in
     * the digit only if its last token ends in that digit, or (the digit split across byte
     * tokens) in U+FFFD. Only those prefixes are decoded in full. */
    tails = malloc((size_t)(n_gen ? n_gen : 1) * sizeof *tails);
    if (!tails) {
        st = vs2__fail(err, VS2_ERR_NOMEM, "soft scores: out of memory");
        goto done;
    }
    for (int64_t i = 0; i < n_gen; i++) {
        char *t1 = NULL;
        size_t l1 = 0;
        st = vs2_detokenize(tok, gen_ids + i, 1, 0, &t1, &l1, err);
        if (st != VS2_OK) goto done;
        tails[i] = last_cp(t1, l1);
        free(t1);
    }
    sb_digit_class(&b);
    if (b.oom || !(re_digit = compile(b.p, 0))) {
        st = vs2__fail(err, b.oom ? VS2_ERR_NOMEM : VS2_ERR_INTERNAL, "soft scores: regex");
        goto done;
    }
    int32_t dig[5];
    vs2_digit_ids(tok, dig);
    for (int d = 0; d < VS2_NDIMS; d++) {
        /* (?:\(\d+\)\s*|\n\s*)? + re.escape(label), IGNORECASE, first match */
        sbuf lb = {0};
        sb_add(&lb, "(?:\\(");
        sb_digit_class(&lb);
        sb_add(&lb, "+\\)" PY_WS "*|\\n" PY_WS "*)?");
        sb_label(&lb, k_labels[d]);
        pcre2_code *re = lb.oom ? NULL : compile(lb.p, 0);
        free(lb.p);
        if (!re) {
            st = vs2__fail(err, VS2_ERR_INTERNAL, "soft scores: label regex");
            goto done;
        }
        pcre2_match_data_free(md);
        md = pcre2_match_data_create(4, NULL);
        if (!md) {
            pcre2_code_free(re);
            st = vs2__fail(err, VS2_ERR_NOMEM, "soft scores: out of memory");
            goto done;
        }
        int rc = pcre2_match(re, (PCRE2_SPTR)S, slen, 0, 0, md, NULL);
        pcre2_code_free(re);
        if (rc < 1) {
            out->why[d] = "label not found";
            continue;
        }
        size_t end = pcre2_get_ovector_pointer(md)[1];
        if (pcre2_match(re_digit, (PCRE2_SPTR)S, slen, end, 0, md, NULL) < 1) {
            out->why[d] = "no digit after the label";
            continue;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t tlen = ov[1];
        uint32_t dcp = 0;
        utf8_next((const unsigned char *)S + ov[0], ov[1] - ov[0], &dcp);
        int64_t idx = -1;
        for (int64_t i = 0; i < n_gen && idx < 0; i++) {
            if (tails[i] != (int64_t)dcp && tails[i] != 0xfffd) continue;
            char *pre = NULL;
            size_t plen = 0;
            st = vs2_detokenize(tok, gen_ids, (size_t)(i + 1), 0, &pre, &plen, err);
            if (st != VS2_OK) goto done;
            if (plen == tlen && memcmp(pre, S, tlen) == 0) idx = i;
            free(pre);
        }
        if (idx < 0) {
            out->why[d] = "no token boundary right after the digit";
            continue;
        }
        out->index[d] = idx;
        if (!digit_probs) {
            out->why[d] = "no probabilities given";
            continue;
        }
        double probs[5];
        int vals[5], n = 0;
        for (int k = 0; k < 5; k++)
            if (dig[k] >= 0) vals[n] = k + 1, probs[n] = (double)digit_probs[idx][k], n++;
        if (!n) {
            out->why[d] = "no single-token digits 1..5";
            continue;
        }
        double total = 0, mx = probs[0];
        int best = vals[0];
        for (int k = 0; k < n; k++) total += probs[k];
        for (int k = 1; k < n; k++)
            if (probs[k] > mx) mx = probs[k], best = vals[k]; /* first maximum */
        out->normed[d] = (double)best * (total > 0 ? mx / total : 0.0);
        if (total > 0) {
            double e = 0;
            for (int k = 0; k < n; k++) e += (double)vals[k] * (probs[k] / total);
            out->expected[d] = e;
        } else {
            out->why[d] = "digit probabilities sum to 0"; /* the reference divides by zero */
        }
    }
done:
    pcre2_match_data_free(md);
    pcre2_code_free(re_digit);
    free(b.p);
    free(tails);
    free(S);
    return st;
}
