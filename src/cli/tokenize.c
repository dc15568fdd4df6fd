/* tokenize.c — `vs2 tokenize`: text to ids, ids to text, and the VideoScore2 chat ids. */
#include "cli.h"

#include <jansson.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct opts {
    const char *tokenizer;
    int jsonl, decode, json_out, skip_special, chat, template_inf;
    size_t n_video;
    const char *text; /* TEXT argument: used instead of stdin */
} opts;

static void usage(FILE *f) {
    fprintf(f,
            "usage: vs2 tokenize --tokenizer PATH [options] [TEXT | < input]\n\n"
            "PATH is a model directory (tokenizer.json, optional tokenizer_config.json) or a tokenizer.json.\n"
            "Needs no weights. Reads TEXT (one argument, taken as it is) or else stdin, writes stdout.\n\n"
            "  (default)          UTF-8 text -> ids as one JSON array on one line (no BOS/EOS added;\n"
            "                     special tokens in the text are matched; invalid UTF-8 becomes U+FFFD)\n"
            "  --jsonl            one JSON string per line -> one JSON array of ids per line\n"
            "  --decode           a JSON array of ids -> the text (raw UTF-8, no newline added);\n"
            "                     with --jsonl: one JSON array per line -> one JSON string per line\n"
            "  --json             with --decode: print the text as a JSON string and a newline\n"
            "  --skip-special     with --decode: drop tokens flagged special\n"
            "  --chat-video N     the prompt on stdin (one trailing newline removed) -> the ids of the\n"
            "                     T-EVAL chat with N <|video_pad|> tokens\n"
            "  --template inf     with --chat-video: use T-INF instead of T-EVAL\n");
}

static int parse_size(const char *s, size_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > 100000000ull) return 0;
    *out = (size_t)v;
    return 1;
}

/* Returns -1 on success, else the exit status. */
static int parse_args(int argc, char **argv, opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--tokenizer") && has) {
            o->tokenizer = argv[++i];
        } else if (!strcmp(a, "--jsonl")) {
            o->jsonl = 1;
        } else if (!strcmp(a, "--decode")) {
            o->decode = 1;
        } else if (!strcmp(a, "--json")) {
            o->json_out = 1;
        } else if (!strcmp(a, "--skip-special")) {
            o->skip_special = 1;
        } else if (!strcmp(a, "--chat-video") && has && parse_size(argv[i + 1], &o->n_video)) {
            o->chat = 1;
            i++;
        } else if (!strcmp(a, "--template") && has && (!strcmp(argv[i + 1], "inf") || !strcmp(argv[i + 1], "eval"))) {
            o->template_inf = !strcmp(argv[++i], "inf");
        } else if ((a[0] != '-' || !a[1]) && !o->text) {
            o->text = a; /* the text to tokenize (or the ids / the prompt, as stdin would hold) */
        } else if (a[0] != '-' || !a[1]) {
            fprintf(stderr, "vs2 tokenize: one TEXT argument at a time ('%s'); quote the text\n", a);
            return 2;
        } else {
            fprintf(stderr, "vs2 tokenize: bad or incomplete option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!o->tokenizer || (o->chat && (o->decode || o->jsonl))) {
        fprintf(stderr, "vs2 tokenize: %s\n\n", o->tokenizer ? "--chat-video cannot be combined with --decode or --jsonl"
                                                            : "--tokenizer PATH is required");
        usage(stderr);
        return 2;
    }
    return -1;
}

static void print_ids(FILE *f, const vs2_ids *ids) {
    fputc('[', f);
    for (size_t i = 0; i < ids->n; i++) fprintf(f, i ? ",%d" : "%d", (int)ids->ids[i]);
    fputs("]\n", f);
}

static int encode_text(const vs2_tokenizer *tok, const char *text, size_t len) {
    vs2_ids ids = {0};
    vs2_error err;
    if (vs2_tokenize(tok, text, len, &ids, &err) != VS2_OK) {
        fprintf(stderr, "vs2 tokenize: %s\n", err.message);
        return 1;
    }
    print_ids(stdout, &ids);
    vs2_ids_free(&ids);
    return 0;
}

/* Parse a JSON array of integer ids. */
static int parse_id_array(const char *s, size_t len, vs2_ids *ids, const char *where) {
    json_error_t je;
    json_t *arr = json_loadb(s, len, JSON_DECODE_ANY, &je);
    if (!json_is_array(arr)) {
        fprintf(stderr, "vs2 tokenize: %s: expected a JSON array of ids%s%s\n", where, arr ? "" : ": ",
                arr ? "" : je.text);
        json_decref(arr);
        return 0;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *v = json_array_get(arr, i);
        json_int_t x = json_integer_value(v);
        if (!json_is_integer(v) || x < INT32_MIN || x > INT32_MAX) {
            fprintf(stderr, "vs2 tokenize: %s: element %zu is not a 32-bit integer id\n", where, i);
            json_decref(arr);
            return 0;
        }
        if (vs2_ids_push(ids, (int32_t)x) != VS2_OK) {
            fprintf(stderr, "vs2 tokenize: out of memory\n");
            json_decref(arr);
            return 0;
        }
    }
    json_decref(arr);
    return 1;
}

static int decode_ids(const vs2_tokenizer *tok, const opts *o, const char *s, size_t len, const char *where) {
    vs2_ids ids = {0};
    if (!parse_id_array(s, len, &ids, where)) {
        vs2_ids_free(&ids);
        return 1;
    }
    char *text = NULL;
    size_t n = 0;
    vs2_error err;
    vs2_status st = vs2_detokenize(tok, ids.ids, ids.n, o->skip_special, &text, &n, &err);
    vs2_ids_free(&ids);
    if (st != VS2_OK) {
        fprintf(stderr, "vs2 tokenize: %s: %s\n", where, err.message);
        return 1;
    }
    if (o->json_out || o->jsonl) {
        cli_json_string(stdout, text, n);
        fputc('\n', stdout);
    } else {
        fwrite(text, 1, n, stdout);
    }
    free(text);
    return 0;
}

/* One JSON string per line. */
static int jsonl_line(const vs2_tokenizer *tok, const opts *o, const char *line, size_t len, size_t lineno) {
    char where[64];
    snprintf(where, sizeof where, "stdin line %zu", lineno);
    if (o->decode) return decode_ids(tok, o, line, len, where);
    json_error_t je;
    json_t *v = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!json_is_string(v)) {
        fprintf(stderr, "vs2 tokenize: %s: expected a JSON string%s%s\n", where, v ? "" : ": ", v ? "" : je.text);
        json_decref(v);
        return 1;
    }
    int rc = encode_text(tok, json_string_value(v), json_string_length(v));
    json_decref(v);
    return rc;
}

static int run_jsonl(const vs2_tokenizer *tok, const opts *o, char *in, size_t len) {
    size_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        char *nl = memchr(in + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - in) : len;
        lineno++;
        if (jsonl_line(tok, o, in + pos, end - pos, lineno)) return 1;
        pos = end + 1;
    }
    return 0;
}

static int run_chat(const vs2_tokenizer *tok, const opts *o, char *in, size_t len) {
    if (len && in[len - 1] == '\n') in[--len] = '\0';
    if (len && in[len - 1] == '\r') in[--len] = '\0';
    if (strlen(in) != len) {
        fprintf(stderr, "vs2 tokenize: the prompt contains a NUL byte\n");
        return 1;
    }
    char *user = vs2_prompt_render(o->template_inf ? VS2_TEMPLATE_INF : VS2_TEMPLATE_EVAL, in);
    vs2_ids ids = {0};
    vs2_error err;
    vs2_status st = user ? vs2_chat_video_ids(tok, user, o->n_video, &ids, &err) : VS2_ERR_NOMEM;
    free(user);
    if (st != VS2_OK) {
        fprintf(stderr, "vs2 tokenize: %s\n", user ? err.message : "out of memory");
        return 1;
    }
    print_ids(stdout, &ids);
    vs2_ids_free(&ids);
    return 0;
}

int cmd_tokenize(int argc, char **argv) {
    opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;
    vs2_tokenizer *tok = NULL;
    vs2_error err;
    if (vs2_tokenizer_load(o.tokenizer, &tok, &err) != VS2_OK) {
        fprintf(stderr, "vs2 tokenize: %s\n", err.message);
        return 1;
    }
    size_t len = 0;
    char *in = o.text ? strdup(o.text) : cli_read_all(stdin, &len);
    if (o.text && in) len = strlen(in);
    if (!in) {
        fprintf(stderr, "vs2 tokenize: cannot read stdin\n");
        vs2_tokenizer_free(tok);
        return 1;
    }
    if (o.chat) rc = run_chat(tok, &o, in, len);
    else if (o.jsonl) rc = run_jsonl(tok, &o, in, len);
    else if (o.decode) rc = decode_ids(tok, &o, in, len, "stdin");
    else rc = encode_text(tok, in, len);
    free(in);
    vs2_tokenizer_free(tok);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "vs2 tokenize: cannot write stdout\n");
        rc = 1;
    }
    return rc;
}
