/* tokenizer.c — Qwen2 byte-level BPE from tokenizer.json, with the semantics of Hugging Face
 * tokenizers 0.22: added tokens first (leftmost-longest, honouring lstrip/rstrip/single_word/
 * normalized), NFC (utf8proc), the Split pre-tokenizer regex (PCRE2 JIT, \s rewritten to
 * Oniguruma's White_Space class), the GPT-2 byte table, rank-ordered merges, ByteLevel decoding.
 * See docs/tokenizer.md for the comparison against HF and the known Unicode-version caveats. */
#include "internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>
#include <utf8proc.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TOK_MAX_FILE (256u << 20) /* refuse tokenizer files above 256 MiB */
#define NO_TEXT UINT32_MAX

/* White_Space, which Oniguruma's and Rust regex's \s match (PCRE2's \s with UCP lacks U+0085). */
#define WS_CLASS "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}" \
                 "\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

/* The GPT-2 ByteLevel regex, used when the ByteLevel pre-tokenizer has use_regex = true. */
static const char gpt2_regex[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

typedef struct added_token {
    char *content;      /* as matched: raw content, or its NFC form when normalized */
    size_t len;
    int32_t id;
    bool lstrip, rstrip, single_word, normalized, special;
} added_token;

typedef struct merge_slot {
    uint64_t key;       /* (left id << 32) | right id; EMPTY_KEY when free */
    int32_t rank;
    int32_t new_id;
} merge_slot;
#define EMPTY_KEY UINT64_MAX

/* Added tokens that can start with a given byte, longest first (leftmost-longest matching). */
typedef struct added_set {
    added_token **by_byte[256];
    uint16_t n_by_byte[256];
    size_t n;
} added_set;

struct vs2_tokenizer {
    int32_t n_ids;          /* max id + 1 */
    int32_t n_model;        /* BPE vocabulary entries (ids 0..n_model-1) */
    char *text_blob;        /* NUL-terminated token strings */
    uint32_t *text_off;     /* per id; NO_TEXT for a gap */
    uint8_t *dec_blob;      /* ByteLevel-decoded bytes of each token */
    uint32_t *dec_off;      /* per id, n_ids + 1 entries */
    uint8_t *special;       /* per id */
    int32_t *vocab_slots;   /* open addressing: token string -> id (vocab and added) */
    size_t vocab_mask;
    merge_slot *merges;
    size_t merge_mask;
    int32_t byte_id[256];   /* id of the ByteLevel character of each byte, -1 if none */
    uint8_t byte_utf8[256][2]; /* that character in UTF-8 (1 or 2 bytes) */
    uint8_t byte_utf8_len[256];
    added_token *added;
    size_t n_added;
    added_set raw_set, norm_set; /* normalized=false / normalized=true tokens */
    bool nfc, ignore_merges, fuse_unk;
    int32_t unk_id;
    pcre2_code *re;
    int32_t eos_id, pad_id;
};

/* ---------------------------------------------------------------------------------------- */
/* Small helpers                                                                            */
/* ---------------------------------------------------------------------------------------- */

static uint64_t hash_bytes(const void *p, size_t n) {
    const uint8_t *s = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

/* GPT-2 bytes_to_unicode: printable bytes map to themselves, the other 68 to U+0100.. in order. */
static uint32_t byte_to_cp(int b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return (uint32_t)b;
    int k = 0;
    for (int i = 0; i < b; i++)
        if (!((i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174 && i <= 255))) k++;
    return 256u + (uint32_t)k;
}

/* Inverse of byte_to_cp for code points below 324, -1 otherwise. */
static int cp_to_byte(uint32_t cp) {
    if (cp >= 324) return -1;
    if (cp < 256) return byte_to_cp((int)cp) == cp ? (int)cp : -1;
    for (int b = 0; b < 256; b++)
        if (byte_to_cp(b) == cp) return b;
    return -1;
}

static bool is_white_space(int32_t c) {
    return (c >= 9 && c <= 13) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* Rust regex's Unicode \w (Alphabetic, M, Nd, Pc, Join_Control), approximated by category. */
static bool is_word_char(int32_t c) {
    if (c == 0x200C || c == 0x200D || c == '_') return true;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_PC:
        return true;
    default:
        return false;
    }
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid (maximal-subpart rule:
 * *bad_len then holds how many bytes one U+FFFD replaces). */
static size_t utf8_seq(const uint8_t *s, size_t n, size_t *bad_len) {
    uint8_t c = s[0];
    *bad_len = 1;
    if (c < 0x80) return 1;
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    for (size_t k = 1; k <= need; k++) {
        if (k >= n) {
            *bad_len = k;
            return 0;
        }
        uint8_t lo_k = k == 1 ? lo : 0x80, hi_k = k == 1 ? hi : 0xBF;
        if (s[k] < lo_k || s[k] > hi_k) {
            *bad_len = k;
            return 0;
        }
    }
    return need + 1;
}

/* Decode one code point from valid UTF-8; returns its length. */
static size_t utf8_next(const uint8_t *s, size_t n, int32_t *cp) {
    utf8proc_ssize_t k = utf8proc_iterate(s, (utf8proc_ssize_t)n, cp);
    if (k <= 0) {
        *cp = s[0];
        return 1;
    }
    return (size_t)k;
}

/* Code point ending at s[end) in valid UTF-8. */
static int32_t utf8_prev(const uint8_t *s, size_t end, size_t *start) {
    size_t i = end - 1;
    while (i > 0 && (s[i] & 0xC0) == 0x80) i--;
    int32_t cp;
    utf8_next(s + i, end - i, &cp);
    *start = i;
    return cp;
}

/* Replace invalid UTF-8 with U+FFFD. *out is NULL when the input was already valid. */
static vs2_status utf8_lossy(const uint8_t *s, size_t n, char **out, size_t *out_len) {
    *out = NULL;
    size_t i = 0, bad;
    while (i < n) {
        size_t k = utf8_seq(s + i, n - i, &bad);
        if (!k) break;
        i += k;
    }
    if (i == n) return VS2_OK;
    char *buf = malloc(n * 3 + 1); /* each bad byte becomes at most 3 bytes */
    if (!buf) return VS2_ERR_NOMEM;
    memcpy(buf, s, i);
    size_t o = i;
    while (i < n) {
        size_t k = utf8_seq(s + i, n - i, &bad);
        if (k) {
            memcpy(buf + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(buf + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += bad;
        }
    }
    buf[o] = '\0';
    *out = buf;
    *out_len = o;
    return VS2_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Vocabulary and merge hash tables                                                         */
/* ---------------------------------------------------------------------------------------- */

static const char *tok_text(const vs2_tokenizer *t, int32_t id) {
    return t->text_off[id] == NO_TEXT ? NULL : t->text_blob + t->text_off[id];
}

static int32_t vocab_find(const vs2_tokenizer *t, const char *s, size_t n) {
    size_t i = hash_bytes(s, n) & t->vocab_mask;
    for (;;) {
        int32_t id = t->vocab_slots[i];
        if (id < 0) return -1;
        const char *x = tok_text(t, id);
        if (strlen(x) == n && !memcmp(x, s, n)) return id;
        i = (i + 1) & t->vocab_mask;
    }
}

/* Insert id under its text; an existing entry with the same text is replaced. */
static void vocab_insert(vs2_tokenizer *t, int32_t id) {
    const char *s = tok_text(t, id);
    size_t n = strlen(s), i = hash_bytes(s, n) & t->vocab_mask;
    while (t->vocab_slots[i] >= 0) {
        const char *x = tok_text(t, t->vocab_slots[i]);
        if (!strcmp(x, s)) break;
        i = (i + 1) & t->vocab_mask;
    }
    t->vocab_slots[i] = id;
}

static const merge_slot *merge_find(const vs2_tokenizer *t, int32_t a, int32_t b) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t i = hash_u64(key) & t->merge_mask;
    for (;;) {
        const merge_slot *m = &t->merges[i];
        if (m->key == key) return m;
        if (m->key == EMPTY_KEY) return NULL;
        i = (i + 1) & t->merge_mask;
    }
}

/* A later duplicate merge overwrites the earlier one, as HF's HashMap collect does. */
static void merge_insert(vs2_tokenizer *t, int32_t a, int32_t b, int32_t rank, int32_t new_id) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t i = hash_u64(key) & t->merge_mask;
    while (t->merges[i].key != EMPTY_KEY && t->merges[i].key != key) i = (i + 1) & t->merge_mask;
    t->merges[i] = (merge_slot){key, rank, new_id};
}

/* ---------------------------------------------------------------------------------------- */
/* Loading                                                                                  */
/* ---------------------------------------------------------------------------------------- */

typedef struct loader {
    const char *name;   /* file name for messages */
    vs2_error *err;
} loader;

static vs2_status bad(const loader *L, vs2_status st, const char *fmt, ...) VS2_PRINTF(3, 4);
static vs2_status bad(const loader *L, vs2_status st, const char *fmt, ...) {
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return vs2__fail(L->err, st, "%s: %s", L->name, msg);
}

/* Member key of obj with the given jansson type; NULL (and an error) if missing or mistyped. */
static json_t *member(const loader *L, json_t *obj, const char *path, const char *key,
                      json_type type, vs2_status *st) {
    json_t *v = json_object_get(obj, key);
    static const char *const names[] = {"an object", "an array", "a string", "an integer",
                                        "a real", "true", "false", "null"};
    if (!v) {
        *st = bad(L, VS2_ERR_FORMAT, "key '%s%s' is missing", path, key);
        return NULL;
    }
    bool ok = json_typeof(v) == type || (type == JSON_TRUE && json_is_boolean(v));
    if (!ok) {
        *st = bad(L, VS2_ERR_FORMAT, "key '%s%s' must be %s", path, key,
                  type == JSON_TRUE ? "a boolean" : names[type]);
        return NULL;
    }
    return v;
}

/* Optional boolean member: default when missing or null; error when of another type. */
static vs2_status opt_bool(const loader *L, json_t *obj, const char *path, const char *key,
                           bool def, bool *out) {
    json_t *v = json_object_get(obj, key);
    *out = def;
    if (!v || json_is_null(v)) return VS2_OK;
    if (!json_is_boolean(v)) return bad(L, VS2_ERR_FORMAT, "key '%s%s' must be a boolean", path, key);
    *out = json_is_true(v);
    return VS2_OK;
}

static vs2_status req_bool(const loader *L, json_t *obj, const char *path, const char *key, bool *out) {
    json_t *v = json_object_get(obj, key);
    if (!v) return bad(L, VS2_ERR_FORMAT, "key '%s%s' is missing", path, key);
    if (!json_is_boolean(v)) return bad(L, VS2_ERR_FORMAT, "key '%s%s' must be a boolean", path, key);
    *out = json_is_true(v);
    return VS2_OK;
}

/* Optional string member: "" when missing or null. */
static vs2_status opt_string(const loader *L, json_t *obj, const char *path, const char *key,
                             const char **out) {
    json_t *v = json_object_get(obj, key);
    *out = "";
    if (!v || json_is_null(v)) return VS2_OK;
    if (!json_is_string(v)) return bad(L, VS2_ERR_FORMAT, "key '%s%s' must be a string", path, key);
    *out = json_string_value(v);
    return VS2_OK;
}

static vs2_status check_normalizer(const loader *L, json_t *root, bool *nfc) {
    json_t *n = json_object_get(root, "normalizer");
    *nfc = false;
    if (!n || json_is_null(n)) return VS2_OK;
    vs2_status st = VS2_OK;
    json_t *type = member(L, n, "normalizer.", "type", JSON_STRING, &st);
    if (!type) return st;
    if (strcmp(json_string_value(type), "NFC") != 0)
        return bad(L, VS2_ERR_UNSUPPORTED, "normalizer.type '%s' is not supported (only NFC)",
                   json_string_value(type));
    *nfc = true;
    return VS2_OK;
}

static vs2_status check_byte_level(const loader *L, json_t *bl, const char *path, bool *use_regex) {
    bool prefix = false;
    vs2_status st = opt_bool(L, bl, path, "add_prefix_space", true, &prefix);
    if (st == VS2_OK) st = opt_bool(L, bl, path, "use_regex", true, use_regex);
    if (st != VS2_OK) return st;
    if (prefix) return bad(L, VS2_ERR_UNSUPPORTED, "%sadd_prefix_space = true is not supported", path);
    return VS2_OK;
}

static vs2_status split_pattern(const loader *L, json_t *split, const char **pattern) {
    vs2_status st = VS2_OK;
    json_t *pat = member(L, split, "pre_tokenizer.pretokenizers[0].", "pattern", JSON_OBJECT, &st);
    if (!pat) return st;
    json_t *re = member(L, pat, "pre_tokenizer.pretokenizers[0].pattern.", "Regex", JSON_STRING, &st);
    if (!re) return st;
    json_t *beh = member(L, split, "pre_tokenizer.pretokenizers[0].", "behavior", JSON_STRING, &st);
    if (!beh) return st;
    if (strcmp(json_string_value(beh), "Isolated") != 0)
        return bad(L, VS2_ERR_UNSUPPORTED,
                   "pre_tokenizer.pretokenizers[0].behavior '%s' is not supported (only Isolated)",
                   json_string_value(beh));
    bool invert = false;
    st = opt_bool(L, split, "pre_tokenizer.pretokenizers[0].", "invert", false, &invert);
    if (st != VS2_OK) return st;
    if (invert) return bad(L, VS2_ERR_UNSUPPORTED, "pre_tokenizer.pretokenizers[0].invert = true is not supported");
    *pattern = json_string_value(re);
    return VS2_OK;
}

/* Accepts Sequence[Split(Regex, Isolated), ByteLevel(use_regex=false)] (Qwen2) or a lone
 * ByteLevel(use_regex=true) (GPT-2). *pattern receives the split regex. */
static vs2_status check_pre_tokenizer(const loader *L, json_t *root, const char **pattern) {
    vs2_status st = VS2_OK;
    json_t *pt = member(L, root, "", "pre_tokenizer", JSON_OBJECT, &st);
    if (!pt) return st;
    json_t *type = member(L, pt, "pre_tokenizer.", "type", JSON_STRING, &st);
    if (!type) return st;
    bool use_regex = true;
    if (!strcmp(json_string_value(type), "ByteLevel")) {
        if ((st = check_byte_level(L, pt, "pre_tokenizer.", &use_regex)) != VS2_OK) return st;
        if (!use_regex) return bad(L, VS2_ERR_UNSUPPORTED, "pre_tokenizer: ByteLevel without a split regex");
        *pattern = gpt2_regex;
        return VS2_OK;
    }
    if (strcmp(json_string_value(type), "Sequence") != 0)
        return bad(L, VS2_ERR_UNSUPPORTED, "pre_tokenizer.type '%s' is not supported", json_string_value(type));
    json_t *seq = member(L, pt, "pre_tokenizer.", "pretokenizers", JSON_ARRAY, &st);
    if (!seq) return st;
    json_t *t0 = json_array_get(seq, 0), *t1 = json_array_get(seq, 1);
    const char *n0 = json_string_value(json_object_get(t0, "type"));
    const char *n1 = json_string_value(json_object_get(t1, "type"));
    if (json_array_size(seq) != 2 || !n0 || !n1 || strcmp(n0, "Split") || strcmp(n1, "ByteLevel"))
        return bad(L, VS2_ERR_UNSUPPORTED,
                   "pre_tokenizer.pretokenizers must be [Split, ByteLevel] (the Qwen2 layout)");
    if ((st = split_pattern(L, t0, pattern)) != VS2_OK) return st;
    if ((st = check_byte_level(L, t1, "pre_tokenizer.pretokenizers[1].", &use_regex)) != VS2_OK) return st;
    if (use_regex) return bad(L, VS2_ERR_UNSUPPORTED, "pre_tokenizer.pretokenizers[1].use_regex = true after a Split is not supported");
    return VS2_OK;
}

/* Rewrite \s and \S to Oniguruma's White_Space class (see WS_CLASS). */
static char *rewrite_regex(const char *src) {
    size_t n = strlen(src), cap = n * (sizeof WS_CLASS + 4) + 16; /* every \\s may grow */
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t o = 0;
    int in_class = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '\\' && i + 1 < n) {
            char d = src[i + 1];
            i++;
            const char *rep = NULL;
            if (d == 's') rep = in_class ? WS_CLASS : "[" WS_CLASS "]";
            else if (d == 'S' && !in_class) rep = "[^" WS_CLASS "]";
            if (rep) {
                size_t k = strlen(rep);
                memcpy(out + o, rep, k);
                o += k;
            } else {
                out[o++] = '\\';
                out[o++] = d;
            }
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = 1;
            out[o++] = c;
            if (i + 1 < n && src[i + 1] == '^') out[o++] = src[++i];
            if (i + 1 < n && src[i + 1] == ']') out[o++] = src[++i]; /* literal ] first */
            continue;
        }
        if (c == ']' && in_class) in_class = 0;
        out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

static vs2_status compile_regex(const loader *L, vs2_tokenizer *t, const char *pattern) {
    char *rx = rewrite_regex(pattern);
    if (!rx) return bad(L, VS2_ERR_NOMEM, "cannot rewrite the split regex");
    int code;
    PCRE2_SIZE off;
    t->re = pcre2_compile((PCRE2_SPTR)rx, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &code, &off, NULL);
    free(rx);
    if (!t->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return bad(L, VS2_ERR_UNSUPPORTED, "pre_tokenizer split regex does not compile (offset %zu): %s",
                   (size_t)off, (char *)msg);
    }
    pcre2_jit_compile(t->re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter on failure */
    return VS2_OK;
}

typedef struct model_json {
    json_t *vocab, *merges;
    const char *unk;
} model_json;

static vs2_status check_model(const loader *L, json_t *root, vs2_tokenizer *t, model_json *m) {
    vs2_status st = VS2_OK;
    json_t *model = member(L, root, "", "model", JSON_OBJECT, &st);
    if (!model) return st;
    json_t *type = json_object_get(model, "type");
    if (type && (!json_is_string(type) || strcmp(json_string_value(type), "BPE")))
        return bad(L, VS2_ERR_UNSUPPORTED, "model.type must be \"BPE\"");
    json_t *dropout = json_object_get(model, "dropout");
    if (dropout && !json_is_null(dropout))
        return bad(L, VS2_ERR_UNSUPPORTED, "model.dropout is not supported (must be null)");
    const char *pre = "", *suf = "";
    bool byte_fallback = false;
    if ((st = opt_string(L, model, "model.", "continuing_subword_prefix", &pre)) ||
        (st = opt_string(L, model, "model.", "end_of_word_suffix", &suf)) ||
        (st = opt_string(L, model, "model.", "unk_token", &m->unk)) ||
        (st = opt_bool(L, model, "model.", "byte_fallback", false, &byte_fallback)) ||
        (st = opt_bool(L, model, "model.", "fuse_unk", false, &t->fuse_unk)) ||
        (st = opt_bool(L, model, "model.", "ignore_merges", false, &t->ignore_merges)))
        return st;
    if (*pre || *suf) return bad(L, VS2_ERR_UNSUPPORTED, "model.continuing_subword_prefix / end_of_word_suffix are not supported");
    if (byte_fallback) return bad(L, VS2_ERR_UNSUPPORTED, "model.byte_fallback = true is not supported");
    if (!(m->vocab = member(L, model, "model.", "vocab", JSON_OBJECT, &st))) return st;
    if (!(m->merges = member(L, model, "model.", "merges", JSON_ARRAY, &st))) return st;
    return VS2_OK;
}

typedef struct added_json {
    json_t *tok;
    const char *content;
    size_t len;
} added_json;

static vs2_status check_added(const loader *L, json_t *root, added_json **out, size_t *n_out) {
    json_t *arr = json_object_get(root, "added_tokens");
    *out = NULL;
    *n_out = 0;
    if (!arr || json_is_null(arr)) return VS2_OK;
    if (!json_is_array(arr)) return bad(L, VS2_ERR_FORMAT, "key 'added_tokens' must be an array");
    size_t n = json_array_size(arr);
    added_json *a = calloc(n ? n : 1, sizeof *a);
    if (!a) return bad(L, VS2_ERR_NOMEM, "out of memory for %zu added tokens", n);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i), *c = json_object_get(e, "content");
        json_t *id = json_object_get(e, "id");
        if (!json_is_object(e) || !json_is_string(c) || !json_is_integer(id)) {
            free(a);
            return bad(L, VS2_ERR_FORMAT, "added_tokens[%zu] needs a string 'content' and an integer 'id'", i);
        }
        a[i] = (added_json){e, json_string_value(c), json_string_length(c)};
        if (a[i].len == 0 || strlen(a[i].content) != a[i].len) {
            free(a);
            return bad(L, VS2_ERR_FORMAT, "added_tokens[%zu]: content is empty or contains NUL", i);
        }
    }
    *out = a;
    *n_out = n;
    return VS2_OK;
}

/* Copy a token string into the text blob at *pos. */
static void put_text(vs2_tokenizer *t, int32_t id, const char *s, size_t n, size_t *pos) {
    t->text_off[id] = (uint32_t)*pos;
    memcpy(t->text_blob + *pos, s, n);
    t->text_blob[*pos + n] = '\0';
    *pos += n + 1;
}

/* Read vocab into the id/text tables; ids must be 0..n-1 without duplicates. */
static vs2_status load_vocab(const loader *L, vs2_tokenizer *t, json_t *vocab, size_t *pos) {
    const char *key;
    json_t *v;
    json_object_foreach(vocab, key, v) {
        if (!json_is_integer(v))
            return bad(L, VS2_ERR_FORMAT, "model.vocab['%s'] must be an integer id", key);
        json_int_t id = json_integer_value(v);
        if (id < 0 || id >= t->n_model)
            return bad(L, VS2_ERR_TOKENIZER, "model.vocab['%s'] = %lld is out of range [0, %d)", key,
                       (long long)id, t->n_model);
        if (t->text_off[id] != NO_TEXT)
            return bad(L, VS2_ERR_TOKENIZER, "model.vocab: id %lld is used by both '%s' and '%s'",
                       (long long)id, tok_text(t, (int32_t)id), key);
        size_t n = strlen(key);
        if (!n) return bad(L, VS2_ERR_FORMAT, "model.vocab has an empty token (id %lld)", (long long)id);
        put_text(t, (int32_t)id, key, n, pos);
    }
    for (int32_t id = 0; id < t->n_model; id++) vocab_insert(t, id);
    return VS2_OK;
}

/* One merge entry: ["a", "b"] or the legacy "a b". */
static vs2_status merge_parts(const loader *L, json_t *e, size_t i, char *buf, size_t cap,
                              const char **a, const char **b) {
    if (json_is_array(e) && json_array_size(e) == 2 && json_is_string(json_array_get(e, 0)) &&
        json_is_string(json_array_get(e, 1))) {
        *a = json_string_value(json_array_get(e, 0));
        *b = json_string_value(json_array_get(e, 1));
        return VS2_OK;
    }
    const char *s = json_string_value(e);
    const char *sp = s ? strchr(s, ' ') : NULL;
    if (!sp || strlen(s) >= cap || strchr(sp + 1, ' '))
        return bad(L, VS2_ERR_FORMAT, "model.merges[%zu] must be [\"a\", \"b\"] or \"a b\"", i);
    memcpy(buf, s, strlen(s) + 1);
    buf[sp - s] = '\0';
    *a = buf;
    *b = buf + (sp - s) + 1;
    return VS2_OK;
}

static vs2_status load_merges(const loader *L, vs2_tokenizer *t, json_t *merges) {
    size_t n = json_array_size(merges);
    if (n > INT32_MAX / 2) return bad(L, VS2_ERR_FORMAT, "model.merges has too many entries");
    t->merge_mask = pow2_at_least(n * 2 + 1) - 1;
    t->merges = malloc((t->merge_mask + 1) * sizeof *t->merges);
    if (!t->merges) return bad(L, VS2_ERR_NOMEM, "out of memory for %zu merges", n);
    for (size_t i = 0; i <= t->merge_mask; i++) t->merges[i].key = EMPTY_KEY;
    char buf[1024], cat[2048];
    for (size_t i = 0; i < n; i++) {
        const char *a = NULL, *b = NULL;
        vs2_status st = merge_parts(L, json_array_get(merges, i), i, buf, sizeof buf, &a, &b);
        if (st != VS2_OK) return st;
        size_t la = strlen(a), lb = strlen(b);
        int32_t ia = vocab_find(t, a, la), ib = vocab_find(t, b, lb);
        if (ia < 0 || ib < 0 || ia >= t->n_model || ib >= t->n_model)
            return bad(L, VS2_ERR_TOKENIZER, "model.merges[%zu]: '%s' is not in model.vocab",
                       i, ia < 0 || ia >= t->n_model ? a : b);
        if (la + lb >= sizeof cat) return bad(L, VS2_ERR_FORMAT, "model.merges[%zu] is too long", i);
        memcpy(cat, a, la);
        memcpy(cat + la, b, lb);
        int32_t ic = vocab_find(t, cat, la + lb);
        if (ic < 0 || ic >= t->n_model)
            return bad(L, VS2_ERR_TOKENIZER, "model.merges[%zu]: the merged token '%.*s' is not in model.vocab",
                       i, (int)(la + lb), cat);
        merge_insert(t, ia, ib, (int32_t)i, ic);
    }
    return VS2_OK;
}

/* The id HF assigns to an added token: an earlier added token or a vocab entry with the same
 * content keeps its id, otherwise the next free id. */
static int32_t hf_added_id(const vs2_tokenizer *t, const added_json *a, size_t i, int32_t *next_id) {
    for (size_t k = 0; k < i; k++)
        if (a[k].len == a[i].len && !memcmp(a[k].content, a[i].content, a[i].len))
            return t->added[k].id;
    int32_t v = vocab_find(t, a[i].content, a[i].len);
    if (v >= 0 && v < t->n_model) return v;
    return (*next_id)++;
}

static vs2_status nfc_copy(const char *s, size_t n, char **out, size_t *out_len);

static vs2_status load_added(const loader *L, vs2_tokenizer *t, const added_json *a, size_t n,
                             size_t *pos) {
    int32_t next_id = t->n_model;
    for (size_t i = 0; i < n; i++) {
        added_token *x = &t->added[i];
        vs2_status st;
        char p[48];
        snprintf(p, sizeof p, "added_tokens[%zu].", i);
        /* HF requires all five flags (AddedToken has no serde defaults) */
        if ((st = req_bool(L, a[i].tok, p, "lstrip", &x->lstrip)) ||
            (st = req_bool(L, a[i].tok, p, "rstrip", &x->rstrip)) ||
            (st = req_bool(L, a[i].tok, p, "single_word", &x->single_word)) ||
            (st = req_bool(L, a[i].tok, p, "special", &x->special)) ||
            (st = req_bool(L, a[i].tok, p, "normalized", &x->normalized)))
            return st;
        x->id = hf_added_id(t, a, i, &next_id);
        json_int_t want = json_integer_value(json_object_get(a[i].tok, "id"));
        if (want != x->id)
            return bad(L, VS2_ERR_TOKENIZER,
                       "added_tokens[%zu] '%s' has id %lld, but Hugging Face tokenizers would give it id %d",
                       i, a[i].content, (long long)want, x->id);
        if (x->id >= t->n_model && t->text_off[x->id] == NO_TEXT) put_text(t, x->id, a[i].content, a[i].len, pos);
        if (x->special) t->special[x->id] = 1;
        st = x->normalized && t->nfc ? nfc_copy(a[i].content, a[i].len, &x->content, &x->len)
                                     : VS2_OK;
        if (st != VS2_OK) return bad(L, st, "out of memory");
        if (!x->content) {
            x->content = malloc(a[i].len + 1);
            if (!x->content) return bad(L, VS2_ERR_NOMEM, "out of memory");
            memcpy(x->content, a[i].content, a[i].len + 1);
            x->len = a[i].len;
        }
    }
    for (int32_t id = t->n_model; id < t->n_ids; id++)
        if (t->text_off[id] != NO_TEXT) vocab_insert(t, id);
    return VS2_OK;
}

static int cmp_len_desc(const void *pa, const void *pb) {
    const added_token *a = *(added_token *const *)pa, *b = *(added_token *const *)pb;
    return a->len < b->len ? 1 : a->len > b->len ? -1 : 0;
}

/* Bucket the added tokens of one kind by first byte, longest first. */
static vs2_status build_set(vs2_tokenizer *t, added_set *set, bool normalized) {
    for (size_t i = 0; i < t->n_added; i++) {
        added_token *x = &t->added[i];
        if (x->normalized != normalized) continue;
        uint8_t b = (uint8_t)x->content[0];
        added_token **p = realloc(set->by_byte[b], (set->n_by_byte[b] + 1u) * sizeof *p);
        if (!p) return VS2_ERR_NOMEM;
        p[set->n_by_byte[b]++] = x;
        set->by_byte[b] = p;
        set->n++;
    }
    for (int b = 0; b < 256; b++)
        if (set->n_by_byte[b] > 1) qsort(set->by_byte[b], set->n_by_byte[b], sizeof(added_token *), cmp_len_desc);
    return VS2_OK;
}

/* ByteLevel-decoded bytes of every token: the reverse byte table when every character of the
 * token is in it, the token's own UTF-8 otherwise (as HF's ByteLevel decoder does). */
static vs2_status build_decoded(vs2_tokenizer *t, size_t text_bytes) {
    t->dec_blob = malloc(text_bytes + 1);
    t->dec_off = malloc(((size_t)t->n_ids + 1) * sizeof *t->dec_off);
    if (!t->dec_blob || !t->dec_off) return VS2_ERR_NOMEM;
    int16_t rev[324];
    for (uint32_t cp = 0; cp < 324; cp++) rev[cp] = (int16_t)cp_to_byte(cp);
    uint32_t o = 0;
    for (int32_t id = 0; id < t->n_ids; id++) {
        t->dec_off[id] = o;
        const char *s = tok_text(t, id);
        if (!s) continue;
        size_t n = strlen(s), i = 0;
        uint32_t start = o;
        while (i < n) {
            int32_t cp;
            i += utf8_next((const uint8_t *)s + i, n - i, &cp);
            if (cp < 0 || cp >= 324 || rev[cp] < 0) break;
            t->dec_blob[o++] = (uint8_t)rev[cp];
        }
        if (i < n) {
            o = start;
            memcpy(t->dec_blob + o, s, n);
            o += (uint32_t)n;
        }
    }
    t->dec_off[t->n_ids] = o;
    return VS2_OK;
}

static void init_bytes(vs2_tokenizer *t) {
    for (int b = 0; b < 256; b++) {
        uint32_t cp = byte_to_cp(b);
        uint8_t *u = t->byte_utf8[b];
        if (cp < 0x80) {
            u[0] = (uint8_t)cp;
            t->byte_utf8_len[b] = 1;
        } else {
            u[0] = (uint8_t)(0xC0 | (cp >> 6));
            u[1] = (uint8_t)(0x80 | (cp & 0x3F));
            t->byte_utf8_len[b] = 2;
        }
        t->byte_id[b] = vocab_find(t, (const char *)u, t->byte_utf8_len[b]);
        if (t->byte_id[b] >= t->n_model) t->byte_id[b] = -1;
    }
}

/* Special-token ids from tokenizer_config.json (string or {"content": ...}). */
static int32_t config_token(const vs2_tokenizer *t, json_t *cfg, const char *key) {
    json_t *v = json_object_get(cfg, key);
    if (json_is_object(v)) v = json_object_get(v, "content");
    if (!json_is_string(v)) return -1;
    return vocab_find(t, json_string_value(v), json_string_length(v));
}

static vs2_status load_config(const loader *L, vs2_tokenizer *t, const char *cfg, size_t len) {
    t->eos_id = t->pad_id = -1;
    if (!cfg) return VS2_OK;
    json_error_t je;
    json_t *root = json_loadb(cfg, len, 0, &je);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return vs2__fail(L->err, VS2_ERR_FORMAT, "tokenizer_config.json: line %d: %s", je.line,
                         root ? "not a JSON object" : je.text);
    }
    t->eos_id = config_token(t, root, "eos_token");
    t->pad_id = config_token(t, root, "pad_token");
    json_decref(root);
    return VS2_OK;
}

static vs2_status count_ids(const loader *L, vs2_tokenizer *t, const model_json *m, size_t n_added,
                            size_t *text_bytes) {
    size_t nv = json_object_size(m->vocab);
    if (nv == 0 || nv > (size_t)INT32_MAX / 2 || n_added > (size_t)INT32_MAX / 2)
        return bad(L, VS2_ERR_FORMAT, "model.vocab must have between 1 and 2^30 entries");
    t->n_model = (int32_t)nv;
    t->n_ids = (int32_t)(nv + n_added);
    const char *key;
    json_t *v;
    size_t bytes = 0;
    json_object_foreach(m->vocab, key, v) bytes += strlen(key) + 1;
    *text_bytes = bytes;
    return VS2_OK;
}

static vs2_status alloc_tables(const loader *L, vs2_tokenizer *t, size_t text_bytes, size_t added_bytes,
                               size_t n_added) {
    size_t n = (size_t)t->n_ids;
    t->text_blob = malloc(text_bytes + added_bytes + 1);
    t->text_off = malloc(n * sizeof *t->text_off);
    t->special = calloc(n, 1);
    t->vocab_mask = pow2_at_least(n * 2 + 1) - 1;
    t->vocab_slots = malloc((t->vocab_mask + 1) * sizeof *t->vocab_slots);
    t->added = calloc(n_added ? n_added : 1, sizeof *t->added);
    if (!t->text_blob || !t->text_off || !t->special || !t->vocab_slots || !t->added)
        return bad(L, VS2_ERR_NOMEM, "out of memory for %zu tokens", n);
    t->n_added = n_added;
    memset(t->text_off, 0xFF, n * sizeof *t->text_off);
    memset(t->vocab_slots, 0xFF, (t->vocab_mask + 1) * sizeof *t->vocab_slots);
    return VS2_OK;
}

static vs2_status load_parts(const loader *L, vs2_tokenizer *t, json_t *root) {
    vs2_status st;
    model_json m = {0};
    added_json *aj = NULL;
    size_t n_added = 0, text_bytes = 0, added_bytes = 0, pos = 0;
    const char *pattern = NULL;
    if ((st = check_normalizer(L, root, &t->nfc)) || (st = check_pre_tokenizer(L, root, &pattern)) ||
        (st = check_model(L, root, t, &m)) || (st = check_added(L, root, &aj, &n_added)) ||
        (st = count_ids(L, t, &m, n_added, &text_bytes)))
        goto done;
    for (size_t i = 0; i < n_added; i++) added_bytes += aj[i].len + 1;
    if ((st = alloc_tables(L, t, text_bytes, added_bytes, n_added)) ||
        (st = load_vocab(L, t, m.vocab, &pos)) || (st = load_merges(L, t, m.merges)) ||
        (st = load_added(L, t, aj, n_added, &pos)) || (st = compile_regex(L, t, pattern)))
        goto done;
    /* ids after the last added token that HF never assigned: shrink to the real count */
    while (t->n_ids > t->n_model && t->text_off[t->n_ids - 1] == NO_TEXT) t->n_ids--;
    init_bytes(t);
    t->unk_id = *m.unk ? vocab_find(t, m.unk, strlen(m.unk)) : -1;
    if (*m.unk && t->unk_id < 0) st = bad(L, VS2_ERR_TOKENIZER, "model.unk_token '%s' is not in the vocabulary", m.unk);
    else if (build_set(t, &t->raw_set, false) || build_set(t, &t->norm_set, true) ||
             build_decoded(t, pos))
        st = bad(L, VS2_ERR_NOMEM, "out of memory");
done:
    free(aj);
    return st;
}

static vs2_status load_named(const char *name, const char *json, size_t len, const char *cfg,
                             size_t cfg_len, vs2_tokenizer **out, vs2_error *err) {
    loader L = {name, err};
    *out = NULL;
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_ALLOW_NUL, &je);
    if (!root) return bad(&L, VS2_ERR_FORMAT, "line %d column %d: %s", je.line, je.column, je.text);
    vs2_tokenizer *t = calloc(1, sizeof *t);
    vs2_status st = t ? VS2_OK : bad(&L, VS2_ERR_NOMEM, "out of memory");
    if (st == VS2_OK && !json_is_object(root)) st = bad(&L, VS2_ERR_FORMAT, "the top level is not a JSON object");
    if (st == VS2_OK) st = load_parts(&L, t, root);
    json_decref(root);
    if (st == VS2_OK) st = load_config(&L, t, cfg, cfg_len);
    if (st != VS2_OK) {
        vs2_tokenizer_free(t);
        return st;
    }
    vs2__ok(err);
    *out = t;
    return VS2_OK;
}

vs2_status vs2_tokenizer_load_json(const char *json, size_t len, const char *config_json,
                                   size_t config_len, vs2_tokenizer **out, vs2_error *err) {
    if (!out || !json) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_tokenizer_load_json: NULL argument");
    return load_named("tokenizer.json", json, len, config_json, config_len, out, err);
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* dir/name into a malloc'd string. */
static char *join_path(const char *dir, size_t dir_len, const char *name) {
    size_t n = dir_len + 1 + strlen(name) + 1;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%.*s/%s", (int)dir_len, dir, name);
    return p;
}

vs2_status vs2_tokenizer_load(const char *path, vs2_tokenizer **out, vs2_error *err) {
    if (!out || !path) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_tokenizer_load: NULL argument");
    *out = NULL;
    bool dir = is_dir(path);
    const char *slash = strrchr(path, '/');
    size_t dir_len = dir ? strlen(path) : slash ? (size_t)(slash - path) : 1;
    const char *dir_s = dir || slash ? path : ".";
    char *tok_path = dir ? join_path(path, dir_len, "tokenizer.json") : strdup(path);
    char *cfg_path = join_path(dir_s, dir_len, "tokenizer_config.json");
    char *json = NULL, *cfg = NULL;
    size_t len = 0, cfg_len = 0;
    vs2_status st = tok_path && cfg_path ? VS2_OK : vs2__fail(err, VS2_ERR_NOMEM, "out of memory");
    if (st == VS2_OK) st = vs2__read_file(tok_path, TOK_MAX_FILE, &json, &len, err);
    /* tokenizer_config.json beside it is optional: only eos/pad ids come from it */
    if (st == VS2_OK && vs2__read_file(cfg_path, TOK_MAX_FILE, &cfg, &cfg_len, NULL) != VS2_OK) cfg = NULL;
    if (st == VS2_OK) st = load_named(tok_path, json, len, cfg, cfg_len, out, err);
    free(json);
    free(cfg);
    free(tok_path);
    free(cfg_path);
    return st;
}

void vs2_tokenizer_free(vs2_tokenizer *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n_added; i++) free(t->added[i].content);
    for (int b = 0; b < 256; b++) {
        free(t->raw_set.by_byte[b]);
        free(t->norm_set.by_byte[b]);
    }
    free(t->added);
    free(t->text_blob);
    free(t->text_off);
    free(t->dec_blob);
    free(t->dec_off);
    free(t->special);
    free(t->vocab_slots);
    free(t->merges);
    pcre2_code_free(t->re);
    free(t);
}

/* ---------------------------------------------------------------------------------------- */
/* Encoding                                                                                 */
/* ---------------------------------------------------------------------------------------- */

/* Per-call scratch space (the tokenizer itself stays const and shareable). */
typedef struct enc {
    const vs2_tokenizer *t;
    vs2_ids *out;
    pcre2_match_data *md;
    int32_t *sym;           /* symbol ids of the current piece */
    int32_t *prev, *next;
    uint64_t *heap;         /* (rank << 32) | position */
    size_t cap;
    char *bl;               /* ByteLevel string of a piece (ignore_merges) */
} enc;

static vs2_status enc_grow(enc *e, size_t n) {
    if (n <= e->cap) return VS2_OK;
    size_t cap = e->cap ? e->cap : 64;
    while (cap < n) cap *= 2;
    int32_t *s = realloc(e->sym, cap * sizeof *s);
    if (s) e->sym = s;
    int32_t *p = realloc(e->prev, cap * sizeof *p);
    if (p) e->prev = p;
    int32_t *x = realloc(e->next, cap * sizeof *x);
    if (x) e->next = x;
    uint64_t *h = realloc(e->heap, cap * 3 * sizeof *h); /* n-1 pairs + 2 per merge */
    if (h) e->heap = h;
    char *b = realloc(e->bl, cap * 2 + 1);
    if (b) e->bl = b;
    if (!s || !p || !x || !h || !b) return VS2_ERR_NOMEM;
    e->cap = cap;
    return VS2_OK;
}

static void heap_push(uint64_t *h, size_t *n, uint64_t v) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= v) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, size_t *n) {
    uint64_t top = h[0], v = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1] < h[c]) c++;
        if (v <= h[c]) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
    return top;
}

static void push_pair(const enc *e, uint64_t *heap, size_t *hn, int32_t pos) {
    int32_t nx = e->next[pos];
    if (nx < 0) return;
    const merge_slot *m = merge_find(e->t, e->sym[pos], e->sym[nx]);
    if (m) heap_push(heap, hn, ((uint64_t)(uint32_t)m->rank << 32) | (uint32_t)pos);
}

/* Lowest rank first, leftmost among equal ranks (HF's Word::merge_all). */
static void bpe_merge(enc *e, int32_t n) {
    size_t hn = 0;
    for (int32_t i = 0; i < n; i++) {
        e->prev[i] = i - 1;
        e->next[i] = i + 1 < n ? i + 1 : -1;
    }
    for (int32_t i = 0; i + 1 < n; i++) push_pair(e, e->heap, &hn, i);
    while (hn) {
        uint64_t top = heap_pop(e->heap, &hn);
        int32_t pos = (int32_t)(uint32_t)top, rank = (int32_t)(top >> 32);
        if (e->sym[pos] < 0 || e->next[pos] < 0) continue;
        int32_t nx = e->next[pos];
        const merge_slot *m = merge_find(e->t, e->sym[pos], e->sym[nx]);
        if (!m || m->rank != rank) continue; /* stale entry */
        e->sym[pos] = m->new_id;
        e->sym[nx] = -1;
        e->next[pos] = e->next[nx];
        if (e->next[nx] >= 0) e->prev[e->next[nx]] = pos;
        if (e->prev[pos] >= 0) push_pair(e, e->heap, &hn, e->prev[pos]);
        push_pair(e, e->heap, &hn, pos);
    }
}

/* Initial symbols of a piece; bytes whose character is not in the vocabulary become unk (fused
 * if fuse_unk) or are dropped when there is no unk token, as HF's BPE does. */
static int32_t bpe_symbols(enc *e, const uint8_t *p, size_t n) {
    const vs2_tokenizer *t = e->t;
    int32_t k = 0;
    bool last_unk = false;
    for (size_t i = 0; i < n; i++) {
        int32_t id = t->byte_id[p[i]];
        if (id < 0) {
            if (t->unk_id < 0) continue;
            if (last_unk && t->fuse_unk) continue;
            id = t->unk_id;
            last_unk = true;
        } else {
            last_unk = false;
        }
        e->sym[k++] = id;
    }
    return k;
}

static vs2_status bpe_piece(enc *e, const uint8_t *p, size_t n) {
    const vs2_tokenizer *t = e->t;
    if (n == 1 && t->byte_id[p[0]] >= 0) return vs2__ids_push(e->out, t->byte_id[p[0]]);
    vs2_status st = enc_grow(e, n);
    if (st != VS2_OK) return st;
    if (t->ignore_merges) {
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            memcpy(e->bl + o, t->byte_utf8[p[i]], t->byte_utf8_len[p[i]]);
            o += t->byte_utf8_len[p[i]];
        }
        int32_t id = vocab_find(t, e->bl, o);
        if (id >= 0) return vs2__ids_push(e->out, id);
    }
    int32_t k = bpe_symbols(e, p, n);
    if (k > 1) bpe_merge(e, k);
    if ((st = vs2__ids_reserve(e->out, (size_t)k)) != VS2_OK) return st;
    for (int32_t i = 0; i >= 0 && i < k; i = k > 1 ? e->next[i] : -1) e->out->ids[e->out->n++] = e->sym[i];
    return VS2_OK;
}

/* Pre-tokenize a normalized segment with the split regex (Isolated) and BPE each piece. */
static vs2_status encode_pieces(enc *e, const char *s, size_t n) {
    size_t pos = 0;
    while (pos < n) {
        int rc = pcre2_match(e->t->re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, e->md, NULL);
        size_t ms = n, me = n;
        if (rc >= 0) {
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md);
            ms = ov[0];
            me = ov[1];
        } else if (rc != PCRE2_ERROR_NOMATCH) {
            return VS2_ERR_INTERNAL;
        }
        vs2_status st = VS2_OK;
        if (ms > pos) st = bpe_piece(e, (const uint8_t *)s + pos, ms - pos); /* unmatched gap */
        if (st == VS2_OK && me > ms) st = bpe_piece(e, (const uint8_t *)s + ms, me - ms);
        if (st != VS2_OK) return st;
        if (me == ms) { /* empty match: step one character */
            if (me >= n) break;
            size_t step = 1;
            while (me + step < n && ((uint8_t)s[me + step] & 0xC0) == 0x80) step++;
            st = bpe_piece(e, (const uint8_t *)s + me, step);
            if (st != VS2_OK) return st;
            me += step;
        }
        pos = me;
    }
    return VS2_OK;
}

static vs2_status nfc_copy(const char *s, size_t n, char **out, size_t *out_len) {
    utf8proc_uint8_t *r = NULL;
    utf8proc_ssize_t k = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &r,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (k < 0) {
        free(r);
        *out = NULL;
        return k == UTF8PROC_ERROR_NOMEM ? VS2_ERR_NOMEM : VS2_ERR_INTERNAL;
    }
    *out = (char *)r;
    *out_len = (size_t)k;
    return VS2_OK;
}

static bool all_ascii(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((uint8_t)s[i] >= 0x80) return false;
    return true;
}

typedef vs2_status (*segment_fn)(enc *e, const char *s, size_t n);

/* Longest added token of set starting at s[i], or NULL. */
static const added_token *match_at(const added_set *set, const char *s, size_t n, size_t i) {
    uint8_t b = (uint8_t)s[i];
    for (uint16_t k = 0; k < set->n_by_byte[b]; k++) {
        const added_token *x = set->by_byte[b][k];
        if (x->len <= n - i && !memcmp(s + i, x->content, x->len)) return x;
    }
    return NULL;
}

static bool single_word_ok(const char *s, size_t n, size_t start, size_t stop) {
    size_t dummy;
    if (start > 0 && is_word_char(utf8_prev((const uint8_t *)s, start, &dummy))) return false;
    int32_t cp;
    if (stop < n) {
        utf8_next((const uint8_t *)s + stop, n - stop, &cp);
        if (is_word_char(cp)) return false;
    }
    return true;
}

/* Split s on the tokens of set (leftmost-longest, as HF's AddedVocabulary::find_matches),
 * emitting token ids and handing the text between them to rest(). */
static vs2_status split_added(enc *e, const added_set *set, const char *s, size_t n, segment_fn rest) {
    size_t done = 0, i = 0;
    vs2_status st = VS2_OK;
    while (set->n && i < n && st == VS2_OK) {
        const added_token *x = match_at(set, s, n, i);
        if (!x) {
            i++;
            continue;
        }
        size_t start = i, stop = i + x->len, p;
        i = stop; /* the match iterator resumes after the match, even a discarded one */
        if (x->single_word && !single_word_ok(s, n, start, stop)) continue;
        if (x->lstrip)
            while (start > done && is_white_space(utf8_prev((const uint8_t *)s, start, &p))) start = p;
        if (x->rstrip) {
            int32_t cp;
            size_t k;
            while (stop < n && (k = utf8_next((const uint8_t *)s + stop, n - stop, &cp)) && is_white_space(cp))
                stop += k;
        }
        if (start > done) st = rest(e, s + done, start - done);
        if (st == VS2_OK) st = vs2__ids_push(e->out, x->id);
        done = stop; /* as HF's start_offset = stop */
    }
    if (st == VS2_OK && done < n) st = rest(e, s + done, n - done);
    return st;
}

static vs2_status after_norm_split(enc *e, const char *s, size_t n) { return encode_pieces(e, s, n); }

/* A segment between raw added tokens: NFC, then normalized added tokens, then pieces. */
static vs2_status normalize_segment(enc *e, const char *s, size_t n) {
    char *norm = NULL;
    size_t nl = n;
    if (e->t->nfc && !all_ascii(s, n)) {
        vs2_status st = nfc_copy(s, n, &norm, &nl);
        if (st != VS2_OK) return st;
    }
    vs2_status st = split_added(e, &e->t->norm_set, norm ? norm : s, nl, after_norm_split);
    free(norm);
    return st;
}

vs2_status vs2_tokenize(const vs2_tokenizer *tok, const char *text, size_t len, vs2_ids *out,
                        vs2_error *err) {
    if (!tok || !out || (!text && len)) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_tokenize: NULL argument");
    char *clean = NULL;
    size_t clean_len = len;
    vs2_status st = len ? utf8_lossy((const uint8_t *)text, len, &clean, &clean_len) : VS2_OK;
    enc e = {.t = tok, .out = out};
    if (st == VS2_OK) {
        e.md = pcre2_match_data_create_from_pattern(tok->re, NULL);
        if (!e.md) st = VS2_ERR_NOMEM;
    }
    if (st == VS2_OK && len) st = split_added(&e, &tok->raw_set, clean ? clean : text, clean_len, normalize_segment);
    pcre2_match_data_free(e.md);
    free(e.sym);
    free(e.prev);
    free(e.next);
    free(e.heap);
    free(e.bl);
    free(clean);
    if (st != VS2_OK)
        return vs2__fail(err, st, "tokenize: %s (input of %zu bytes)", vs2_strerror(st), len);
    vs2__ok(err);
    return VS2_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Decoding and accessors                                                                   */
/* ---------------------------------------------------------------------------------------- */

vs2_status vs2_detokenize(const vs2_tokenizer *tok, const int32_t *ids, size_t n, int skip_special,
                          char **text_out, size_t *len_out, vs2_error *err) {
    if (!tok || !text_out || (!ids && n)) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_detokenize: NULL argument");
    *text_out = NULL;
    if (len_out) *len_out = 0;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= tok->n_ids || tok->text_off[id] == NO_TEXT)
            return vs2__fail(err, VS2_ERR_TOKENIZER, "detokenize: id %d (position %zu) is not in the vocabulary of %d ids",
                             (int)id, i, (int)tok->n_ids);
        total += tok->dec_off[id + 1] - tok->dec_off[id];
    }
    uint8_t *raw = malloc(total + 1);
    if (!raw) return vs2__fail(err, VS2_ERR_NOMEM, "detokenize: out of memory (%zu bytes)", total);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (skip_special && tok->special[id]) continue;
        size_t k = tok->dec_off[id + 1] - tok->dec_off[id];
        memcpy(raw + o, tok->dec_blob + tok->dec_off[id], k);
        o += k;
    }
    char *fixed = NULL;
    size_t fixed_len = o;
    if (utf8_lossy(raw, o, &fixed, &fixed_len) != VS2_OK) {
        free(raw);
        return vs2__fail(err, VS2_ERR_NOMEM, "detokenize: out of memory");
    }
    if (fixed) {
        free(raw);
        raw = (uint8_t *)fixed;
    }
    raw[fixed_len] = '\0';
    *text_out = (char *)raw;
    if (len_out) *len_out = fixed_len;
    vs2__ok(err);
    return VS2_OK;
}

int32_t vs2_tokenizer_n_vocab(const vs2_tokenizer *tok) { return tok ? tok->n_ids : 0; }

int32_t vs2_tokenizer_token_id(const vs2_tokenizer *tok, const char *token) {
    if (!tok || !token) return -1;
    return vocab_find(tok, token, strlen(token));
}

const char *vs2_tokenizer_token_text(const vs2_tokenizer *tok, int32_t id) {
    if (!tok || id < 0 || id >= tok->n_ids) return NULL;
    return tok_text(tok, id);
}

int vs2_tokenizer_is_special(const vs2_tokenizer *tok, int32_t id) {
    return tok && id >= 0 && id < tok->n_ids && tok->special[id];
}

int32_t vs2_tokenizer_eos_id(const vs2_tokenizer *tok) { return tok ? tok->eos_id : -1; }
int32_t vs2_tokenizer_pad_id(const vs2_tokenizer *tok) { return tok ? tok->pad_id : -1; }
