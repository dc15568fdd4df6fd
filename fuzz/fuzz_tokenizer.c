/* fuzz_tokenizer.c — libFuzzer target for the tokenizer.
 * First input byte even: the rest is text for vs2_tokenize with a tokenizer loaded once (the
 *   tokenizer.json or model directory named by $VS2_FUZZ_TOKENIZER, else a small byte-level
 *   tokenizer built in memory). Checks: every id is in range; decoding succeeds; with the
 *   built-in tokenizer (no normalizer) decode(encode(x)) equals x with invalid UTF-8 replaced;
 *   with any tokenizer an ASCII input without '<' or '[' comes back unchanged.
 * First byte odd: the rest is a tokenizer.json for vs2_tokenizer_load_json (must not crash). */
#include "internal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool printable(int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255); }

/* A byte-level BPE tokenizer.json: the 256 GPT-2 byte characters, a few merges, three added
 * tokens with flags, no normalizer. */
static char *builtin_json(void) {
    size_t cap = 64 * 1024, o = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    o += (size_t)snprintf(s + o, cap - o,
        "{\"version\":\"1.0\",\"added_tokens\":["
        "{\"id\":261,\"content\":\"<|im_end|>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},"
        "{\"id\":262,\"content\":\"<s>\",\"single_word\":false,\"lstrip\":true,\"rstrip\":true,\"normalized\":false,\"special\":true},"
        "{\"id\":263,\"content\":\"[x]\",\"single_word\":true,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":false}],"
        "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true},"
        "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"vocab\":{");
    for (int b = 0, k = 0; b < 256; b++) {
        int cp = printable(b) ? b : 256 + k++;
        o += (size_t)snprintf(s + o, cap - o, "\"\\u%04x\":%d,", cp, b);
    }
    o += (size_t)snprintf(s + o, cap - o,
        "\"\\u0120t\":256,\"he\":257,\"\\u0120the\":258,\"in\":259,\"ing\":260},"
        "\"merges\":[\"\\u0120 t\",\"h e\",\"\\u0120t he\",\"i n\",\"in g\"]}}");
    return s;
}

static vs2_tokenizer *load_once(bool *builtin) {
    static vs2_tokenizer *tok;
    static bool is_builtin;
    if (!tok) {
        vs2_error err;
        const char *path = getenv("VS2_FUZZ_TOKENIZER");
        if (path && *path) {
            if (vs2_tokenizer_load(path, &tok, &err) != VS2_OK) {
                fprintf(stderr, "fuzz_tokenizer: %s\n", err.message);
                abort();
            }
        } else {
            char *j = builtin_json();
            if (!j || vs2_tokenizer_load_json(j, strlen(j), NULL, 0, &tok, &err) != VS2_OK) {
                fprintf(stderr, "fuzz_tokenizer: built-in tokenizer: %s\n", j ? err.message : "out of memory");
                abort();
            }
            free(j);
            is_builtin = true;
        }
    }
    *builtin = is_builtin;
    return tok;
}

/* x with invalid UTF-8 replaced, obtained independently of the library: decode the byte tokens. */
static bool plain_ascii(const uint8_t *d, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (d[i] >= 0x80 || d[i] == '<' || d[i] == '[') return false;
    return true;
}

static void fuzz_encode(const uint8_t *d, size_t n) {
    bool builtin;
    vs2_tokenizer *tok = load_once(&builtin);
    vs2_ids ids = {0};
    vs2_error err;
    if (vs2_tokenize(tok, (const char *)d, n, &ids, &err) != VS2_OK) abort();
    for (size_t i = 0; i < ids.n; i++)
        if (ids.ids[i] < 0 || ids.ids[i] >= vs2_tokenizer_n_vocab(tok)) abort();
    char *text = NULL;
    size_t len = 0;
    if (vs2_detokenize(tok, ids.ids, ids.n, 0, &text, &len, &err) != VS2_OK) abort();
    if (plain_ascii(d, n) && (len != n || (n && memcmp(text, d, n)))) abort();
    if (builtin) { /* lossless up to U+FFFD: re-encoding the decoded text gives the same ids */
        vs2_ids again = {0};
        if (vs2_tokenize(tok, text, len, &again, &err) != VS2_OK) abort();
        if (again.n != ids.n || (ids.n && memcmp(again.ids, ids.ids, ids.n * sizeof(int32_t)))) abort();
        vs2_ids_free(&again);
    }
    free(text);
    vs2_ids_free(&ids);
}

static void fuzz_load(const uint8_t *d, size_t n) {
    vs2_tokenizer *tok = NULL;
    vs2_error err;
    if (vs2_tokenizer_load_json((const char *)d, n, NULL, 0, &tok, &err) == VS2_OK) {
        vs2_ids ids = {0};
        vs2_tokenize(tok, "Hello world <s> 123", 19, &ids, &err);
        vs2_ids_free(&ids);
        vs2_tokenizer_free(tok);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    if (data[0] & 1) fuzz_load(data + 1, size - 1);
    else fuzz_encode(data + 1, size - 1);
    return 0;
}
