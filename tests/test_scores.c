/* test_scores.c — src/scores.c: hand cases for the reference and robust hard parses and the
 * soft scores (with the real Qwen2.5-VL tokenizer from the tokref fixture). Two dump modes feed
 * the Python references in tools/scores_ref/ (tests/t_scores_parse.sh, t_scores_soft.sh):
 *   --parse FILE...        one JSON line per stored item: reference and robust parse
 *   --soft TOKJSON CASES   one JSON line per case: ids, soft indices and values */
#include "check.h"
#include "scores.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>

#define S(lit) lit, sizeof(lit) - 1

static void test_reference(void) {
    long s[3] = {0, 0, 0};
    CHECK(vs2_parse_hard_reference(S("(1) visual quality: 4\n(2) text-to-video alignment: 3\n"
                                     "(3) physical/common-sense consistency: 2\n"), s));
    CHECK(s[0] == 4 && s[1] == 3 && s[2] == 2);
    /* the first match over the whole text: v and t from the CoT, p from the list (§2.6) */
    CHECK(vs2_parse_hard_reference(S("Dim-1 Visual Quality: 3 ... Text-to-Video Alignment:2 ok\n"
                                     "(1) visual quality: 5\n(2) text-to-video alignment: 4\n"
                                     "(3) physical/common-sense consistency: 1"), s));
    CHECK(s[0] == 3 && s[1] == 2 && s[2] == 1);
    /* \d+ is not clamped; Unicode digits count (Python's \d and int()); \x1c is \s in Python */
    CHECK(vs2_parse_hard_reference(S("visual quality: 10 text-to-video alignment:\x1c\xd9\xa3 "
                                     "physical/common-sense consistency: \xef\xbc\x97"), s));
    CHECK(s[0] == 10 && s[1] == 3 && s[2] == 7);
    /* Python's IGNORECASE: dotted capital I and long s match 'i' and 's' */
    CHECK(vs2_parse_hard_reference(S("v\xc4\xb0sual quality: 1 text-to-video alignment: 2 "
                                     "phy\xc5\xbfical/common-sense consistency: 3"), s));
    CHECK(s[0] == 1 && s[1] == 2 && s[2] == 3);
    /* invalid UTF-8 in between does not stop `.*?` (Python sees U+FFFD) */
    CHECK(vs2_parse_hard_reference(S("visual quality: 1 \xff\xfe text-to-video alignment: 2 \xc3"
                                     " physical/common-sense consistency: 3"), s));
    CHECK(s[2] == 3);
    /* 30 digits saturate (Python keeps the big int) */
    CHECK(vs2_parse_hard_reference(S("visual quality: 123456789012345678901234567890 "
                                     "text-to-video alignment: 2 physical/common-sense "
                                     "consistency: 3"), s));
    CHECK(s[0] == LONG_MAX);
    /* echoed descriptors defeat the reference (FastVideo's report), no list: no parse */
    CHECK(!vs2_parse_hard_reference(S("(1) visual quality – clarity, smoothness, artifacts: 3\n"
                                      "(2) text-to-video alignment: 4\n(3) physical/common-sense "
                                      "consistency: 2"), s));
    CHECK(!vs2_parse_hard_reference(S(""), s));
}

static void test_robust(void) {
    long s[3] = {0, 0, 0};
    char why[128];
    CHECK(vs2_parse_hard_robust(S("Dim-1 Visual Quality: 3\n(1) visual quality: 2 (2) text-to-video "
                                  "alignment: 1\n(3) physical/common-sense consistency: 5"),
                                s, why, sizeof why));
    CHECK(s[0] == 2 && s[1] == 1 && s[2] == 5);
    CHECK(vs2_parse_hard_robust(S("(1) visual quality – clarity, smoothness, artifacts: 3\n"
                                  "(2) Text-to-Video Alignment (prompt match): 4\n"
                                  "(3) physical/common-sense consistency: **2**"),
                                s, why, sizeof why));
    CHECK(s[0] == 3 && s[1] == 4 && s[2] == 2);
    /* the last list wins */
    CHECK(vs2_parse_hard_robust(S("(1) visual quality: 1\n(2) text-to-video alignment: 1\n(3) "
                                  "physical/common-sense consistency: 1\nRevised:\n(1) visual "
                                  "quality: 4\n(2) text-to-video alignment: 4\n(3) "
                                  "physical/common-sense consistency: 3"),
                                s, why, sizeof why));
    CHECK(s[0] == 4 && s[2] == 3);
    CHECK(!vs2_parse_hard_robust(S("visual quality: 4, text-to-video alignment: 4"), s, why, sizeof why));
    CHECK_STR_CONTAINS(why, "no numbered list");
    CHECK(!vs2_parse_hard_robust(S("(1) visual quality: 7\n(2) text-to-video alignment: 4\n(3) "
                                   "physical/common-sense consistency: 3"),
                                 s, why, sizeof why));
    CHECK_STR_CONTAINS(why, "value 7 out of range");
    CHECK(!vs2_parse_hard_robust(S("(1) visual quality: 3.5\n(2) text-to-video alignment: 4\n"),
                                 s, why, sizeof why));
    CHECK_STR_CONTAINS(why, "non-integer");
    CHECK(!vs2_parse_hard_robust(S("(1) visual quality: 3\n(2) text-to-video alignment: 4\n"), s, why,
                                 sizeof why));
    CHECK_STR_CONTAINS(why, "no (3) physical/common-sense consistency");
    CHECK(!vs2_parse_hard_robust(S("(1) visual quality\n 3"), s, why, sizeof why));
    CHECK_STR_CONTAINS(why, "no colon");
}

static vs2_tokenizer *load_tok(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/test-tmp/tokref/tokenizer.json", check_env("VS2_BUILD_DIR"));
    vs2_tokenizer *tok = NULL;
    vs2_error e;
    if (vs2_tokenizer_load(path, &tok, &e) != VS2_OK) fprintf(stderr, "%s\n", e.message);
    return tok;
}

static void test_soft(void) {
    vs2_tokenizer *tok = load_tok();
    CHECK(tok != NULL);
    if (!tok) return;
    int32_t dig[5];
    vs2_digit_ids(tok, dig);
    CHECK(dig[0] == 16 && dig[4] == 20); /* "1".."5" of Qwen2 */
    const char *text = "\n<think>Visual Quality: 5 looks fine</think>\n(1) visual quality: 3\n"
                       "(2) text-to-video alignment: 4\n<|im_end|>";
    vs2_ids ids = {0};
    CHECK(vs2_tokenize(tok, text, strlen(text), &ids, NULL) == VS2_OK);
    float(*pr)[5] = calloc(ids.n, sizeof *pr);
    /* one step with tied maxima: p = (0.25, 0.25, 0.1, 0.25, 0.15) -> s* = 1 (first argmax) */
    vs2_soft so;
    CHECK(vs2_soft_scores(tok, ids.ids, (int64_t)ids.n, NULL, &so, NULL) == VS2_OK);
    /* v: the CoT digit "5" (the first label match), t: the list digit, p: no label */
    CHECK(so.index[0] >= 0 && so.index[1] > so.index[0] && so.index[2] == -1);
    if (so.index[0] >= 0) {
        char *t = NULL;
        size_t tl = 0;
        vs2_detokenize(tok, ids.ids, (size_t)so.index[0] + 1, 0, &t, &tl, NULL);
        CHECK(tl > 0 && t[tl - 1] == '5' && !strstr(t, "(1)"));
        free(t);
        const float row[5] = {0.25f, 0.25f, 0.1f, 0.25f, 0.15f};
        memcpy(pr[so.index[0]], row, sizeof row);
    }
    CHECK(vs2_soft_scores(tok, ids.ids, (int64_t)ids.n, (const float(*)[5])pr, &so, NULL) == VS2_OK);
    /* 1 * 0.25 / Σp; Σp is 1 up to the float rounding of 0.1f and 0.15f (~1e-8) */
    CHECK(fabs(so.normed[0] - 0.25) < 1e-7);
    CHECK(fabs(so.expected[0] - (0.25 + 0.5 + 0.3 + 1.0 + 0.75)) < 1e-6);
    CHECK(isnan(so.normed[2]) && so.why[2] && strstr(so.why[2], "label"));
    CHECK(isnan(so.normed[1]) == 0 && so.normed[1] == 0.0); /* all-zero probabilities */
    CHECK(isnan(so.expected[1]));
    vs2_soft_apply_hard(&so, 0);
    CHECK(so.index[0] == -1 && isnan(so.normed[0]));
    /* a digit split over byte tokens: ARABIC-INDIC DIGIT THREE = D9 A3 as tokens "Ù" and "£" */
    vs2_ids b = {0};
    CHECK(vs2_tokenize(tok, S("visual quality: "), &b, NULL) == VS2_OK);
    int32_t t1 = vs2_tokenizer_token_id(tok, "\xc3\x99"), t2 = vs2_tokenizer_token_id(tok, "\xc2\xa3");
    CHECK(t1 >= 0 && t2 >= 0);
    size_t n0 = b.n;
    int32_t extra[2] = {t1, t2};
    for (int k = 0; k < 2; k++) {
        b.ids = realloc(b.ids, (b.n + 1) * sizeof *b.ids);
        b.ids[b.n++] = extra[k];
    }
    CHECK(vs2_soft_scores(tok, b.ids, (int64_t)b.n, NULL, &so, NULL) == VS2_OK);
    CHECK_EQ_INT(so.index[0], (int64_t)n0 + 1);
    vs2_ids_free(&b);
    free(pr);
    vs2_ids_free(&ids);
    vs2_tokenizer_free(tok);
}

static void put_scores(json_t *o, const char *key, int ok, const long *s) {
    if (!ok) {
        json_object_set_new(o, key, json_null());
        return;
    }
    json_t *a = json_array();
    for (int d = 0; d < 3; d++) json_array_append_new(a, json_integer(s[d]));
    json_object_set_new(o, key, a);
}

static int dump_parse(int argc, char **argv) {
    for (int f = 2; f < argc; f++) {
        json_error_t je;
        json_t *root = json_load_file(argv[f], 0, &je);
        if (!json_is_array(root)) return fprintf(stderr, "%s: %s\n", argv[f], je.text), 1;
        size_t i;
        json_t *it;
        json_array_foreach(root, i, it) {
            json_t *out = json_object_get(it, "output");
            const char *txt = json_string_value(out);
            size_t len = json_string_length(out);
            long s[3], r[3];
            char why[200] = "";
            json_t *o = json_object();
            const char *base = strrchr(argv[f], '/');
            json_object_set_new(o, "file", json_string(base ? base + 1 : argv[f]));
            json_object_set_new(o, "i", json_integer((json_int_t)i));
            put_scores(o, "hard", txt && vs2_parse_hard_reference(txt, len, s), s);
            int rok = txt && vs2_parse_hard_robust(txt, len, r, why, sizeof why);
            put_scores(o, "robust", rok, r);
            json_object_set_new(o, "why", json_string(rok ? "" : why));
            char *line = json_dumps(o, JSON_COMPACT);
            puts(line);
            free(line);
            json_decref(o);
        }
        json_decref(root);
    }
    return 0;
}

/* The fake distribution of the test: p_s at step k = ((7k + 13s) mod 17) / 64, exact in float
 * and double, with ties and zeros. tools/scores_ref/soft_ref.py uses the same formula. */
static float fake_p(int64_t k, int s) { return (float)((7 * k + 13 * s) % 17) / 64.0f; }

static int dump_soft(const char *tokjson, const char *cases_path) {
    vs2_tokenizer *tok = NULL;
    vs2_error e;
    if (vs2_tokenizer_load(tokjson, &tok, &e) != VS2_OK) return fprintf(stderr, "%s\n", e.message), 1;
    json_error_t je;
    json_t *cases = json_load_file(cases_path, 0, &je);
    if (!json_is_array(cases)) return fprintf(stderr, "%s: %s\n", cases_path, je.text), 1;
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        vs2_ids ids = {0};
        json_t *txt = json_object_get(c, "text");
        if (txt) {
            if (vs2_tokenize(tok, json_string_value(txt), json_string_length(txt), &ids, &e) != VS2_OK)
                return fprintf(stderr, "%s\n", e.message), 1;
        }
        {
            json_t *a = json_object_get(c, "append_ids");
            for (size_t k = 0; k < json_array_size(a); k++) {
                ids.ids = realloc(ids.ids, (ids.n + 1) * sizeof *ids.ids);
                ids.ids[ids.n++] = (int32_t)json_integer_value(json_array_get(a, k));
            }
        }
        float(*pr)[5] = malloc((ids.n ? ids.n : 1) * sizeof *pr);
        for (size_t k = 0; k < ids.n; k++)
            for (int s = 0; s < 5; s++) pr[k][s] = fake_p((int64_t)k, s + 1);
        vs2_soft so;
        if (vs2_soft_scores(tok, ids.ids, (int64_t)ids.n, (const float(*)[5])pr, &so, &e) != VS2_OK)
            return fprintf(stderr, "%s\n", e.message), 1;
        json_t *o = json_object(), *ja = json_array(), *ix = json_array(), *nm = json_array(),
               *ex = json_array();
        json_object_set(o, "name", json_object_get(c, "name"));
        for (size_t k = 0; k < ids.n; k++) json_array_append_new(ja, json_integer(ids.ids[k]));
        for (int d = 0; d < 3; d++) {
            json_array_append_new(ix, json_integer(so.index[d]));
            json_array_append_new(nm, isnan(so.normed[d]) ? json_null() : json_real(so.normed[d]));
            json_array_append_new(ex, isnan(so.expected[d]) ? json_null() : json_real(so.expected[d]));
        }
        json_object_set_new(o, "ids", ja);
        json_object_set_new(o, "index", ix);
        json_object_set_new(o, "normed", nm);
        json_object_set_new(o, "expected", ex);
        char *line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
        puts(line);
        free(line);
        json_decref(o);
        free(pr);
        vs2_ids_free(&ids);
    }
    json_decref(cases);
    vs2_tokenizer_free(tok);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "--parse") == 0) return dump_parse(argc, argv);
    if (argc == 4 && strcmp(argv[1], "--soft") == 0) return dump_soft(argv[2], argv[3]);
    RUN(test_reference);
    RUN(test_robust);
    RUN(test_soft);
    return CHECK_DONE();
}
