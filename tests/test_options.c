/* test_options.c — the one table of scoring options (vs2_options) and its setters: every entry
 * is complete and settable, names are accepted in CLI and Python spelling, values are checked
 * against the table's ranges with messages naming the option, decoding options choose the mode,
 * and vs2_score_params_check refuses the contradictions. */
#include "check.h"
#include "vs2.h"

static vs2_error err;

static void test_table_complete(void) {
    size_t n = 0;
    const vs2_option *t = vs2_options(&n);
    CHECK(t != NULL && n >= 20);
    for (size_t i = 0; i < n; i++) {
        const vs2_option *o = &t[i];
        CHECK_MSG(o->name && *o->name && o->range && o->default_value && o->help && o->group, "entry %zu", i);
        CHECK_MSG(o->scope == VS2_OPT_ENGINE || o->scope == VS2_OPT_SCORE, "%s: scope %d", o->name, o->scope);
        CHECK_MSG((o->metavar == NULL) == (o->type == VS2_OPT_FLAG), "%s: metavar", o->name);
        for (size_t j = 0; j < i; j++) CHECK_MSG(strcmp(t[j].name, o->name), "%s twice", o->name);
        CHECK(vs2_option_find(o->name) == o);
    }
    CHECK(vs2_options(NULL) == t);
}

/* The same option through both spellings and through the "--" form. */
static void test_names(void) {
    vs2_score_params p = vs2_score_default_params();
    CHECK_EQ_INT(vs2_score_params_set(&p, "max_new_tokens", "7", &err), VS2_OK);
    CHECK_EQ_INT(p.max_new_tokens, 7);
    CHECK_EQ_INT(vs2_score_params_set(&p, "--max-new-tokens", "9", &err), VS2_OK);
    CHECK_EQ_INT(p.max_new_tokens, 9);
    CHECK_EQ_INT(vs2_score_params_set(&p, "max-new_tokenz", "9", &err), VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "unknown scoring option 'max-new_tokenz'");
    /* an engine option given to the score setter is named as such */
    CHECK_EQ_INT(vs2_score_params_set(&p, "threads", "2", &err), VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "--threads is an engine option");
    vs2_engine_params ep = vs2_engine_default_params();
    CHECK_EQ_INT(vs2_engine_params_set(&ep, "top_p", "0.5", &err), VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "--top-p is a scoring option");
    CHECK_EQ_INT(vs2_engine_params_set(&ep, "weight_cache", "off", &err), VS2_OK);
    CHECK(ep.weight_cache && !strcmp(ep.weight_cache, "off"));
    CHECK_EQ_INT(vs2_engine_params_set(&ep, "threads", "3", &err), VS2_OK);
    CHECK_EQ_INT(ep.threads, 3);
    CHECK_EQ_INT(vs2_engine_params_set(&ep, "model", "", &err), VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "--model: the value is empty");
    CHECK_EQ_INT(vs2_engine_params_set(&ep, "model", NULL, &err), VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "--model needs a value");
    CHECK_EQ_INT(vs2_score_params_set(NULL, "seed", "1", &err), VS2_ERR_INVALID_ARG);
}

/* Ranges at and just past their ends, for every kind of number the table has. */
static void test_ranges(void) {
    static const struct {
        const char *name, *value;
        int ok;
        const char *msg;
    } cases[] = {
        {"top-p", "1", 1, NULL},
        {"top-p", "1.5", 0, "--top-p: 1.5 is out of range (0, 1]"},
        {"top-p", "0", 0, "--top-p: 0 is out of range (0, 1]"},
        {"top-p", "abc", 0, "--top-p: expected a number, got 'abc'"},
        {"top-p", "nan", 0, "expected a number"},
        {"top-p", "0.5x", 0, "expected a number"},
        {"fps", "1e-9", 1, NULL},
        {"fps", "-1", 0, "--fps: -1 is out of range (0, inf)"},
        {"temperature", "0", 1, NULL},
        {"temperature", "-0.1", 0, "out of range [0, inf)"},
        {"repetition-penalty", "0", 0, "out of range (0, inf)"},
        {"samples", "10000", 1, NULL},
        {"samples", "10001", 0, "--samples: 10001 is out of range 1..10000"},
        {"samples", "1.5", 0, "--samples: expected an integer, got '1.5'"},
        {"max-new-tokens", "1048576", 1, NULL},
        {"max-new-tokens", "0", 0, "out of range 1..1048576"},
        {"max-new-tokens", "99999999999999999999", 0, "out of range"},
        {"top-k", "0", 1, NULL},
        {"nframes", "1", 0, "--nframes: 1 is out of range 2..100000"},
        {"max-video-tokens", "0", 1, NULL},
        {"min-pixels", "0", 0, "out of range 1..1099511627776"},
        {"seed", "18446744073709551615", 1, NULL},
        {"seed", "18446744073709551616", 0, "--seed: 18446744073709551616 is out of range"},
        {"seed", "-1", 0, "--seed: expected a non-negative integer, got '-1'"},
        {"template", "inf", 1, NULL},
        {"template", "foo", 0, "--template: expected eval or inf, got 'foo'"},
        {"sample", "false", 1, NULL},
        {"sample", "maybe", 0, "--sample: expected true or false, got 'maybe'"},
        {"fps", "", 0, "--fps: the value is empty"},
        {"fps", NULL, 0, "--fps needs a value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        vs2_score_params p = vs2_score_default_params();
        vs2_status st = vs2_score_params_set(&p, cases[i].name, cases[i].value, &err);
        CHECK_MSG((st == VS2_OK) == cases[i].ok, "%s %s: status %d (%s)", cases[i].name,
                  cases[i].value ? cases[i].value : "(null)", (int)st, err.message);
        if (!cases[i].ok) CHECK_STR_CONTAINS(err.message, cases[i].msg);
    }
}

/* Values land in their fields. */
static void test_fields(void) {
    vs2_score_params p = vs2_score_default_params();
    CHECK_EQ_INT(p.video.max_video_tokens, VS2_DEFAULT_MAX_VIDEO_TOKENS);
    const char *const kv[][2] = {{"template", "inf"}, {"top-k", "5"}, {"top-p", "0.25"},
                                 {"repetition-penalty", "1.5"}, {"seed", "12345678901234"},
                                 {"max-new-tokens", "33"}, {"fps", "4"}, {"nframes", "6"}, {"max-frames", "8"},
                                 {"min-pixels", "100"}, {"max-pixels", "200"}, {"total-pixels", "300"},
                                 {"max-video-tokens", "0"}};
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
        CHECK_MSG(vs2_score_params_set(&p, kv[i][0], kv[i][1], &err) == VS2_OK, "%s: %s", kv[i][0], err.message);
    CHECK_EQ_INT(p.tmpl, VS2_TEMPLATE_INF);
    CHECK_EQ_INT(p.top_k, 5);
    CHECK(p.top_p == 0.25 && p.repetition_penalty == 1.5 && p.video.fps == 4);
    CHECK(p.seed == 12345678901234ull);
    CHECK_EQ_INT(p.max_new_tokens, 33);
    CHECK_EQ_INT(p.video.nframes, 6);
    CHECK_EQ_INT(p.video.max_frames, 8);
    CHECK_EQ_INT(p.video.min_pixels, 100);
    CHECK_EQ_INT(p.video.max_pixels, 200);
    CHECK_EQ_INT(p.video.total_pixels, 300);
    CHECK_EQ_INT(p.video.max_video_tokens, 0);
    CHECK_EQ_INT(p.decoding, VS2_DECODE_GREEDY); /* none of these choose sampling */
    CHECK_EQ_INT(vs2_score_params_check(&p, &err), VS2_OK);
}

/* The decoding mode and the contradictions the check refuses, in either order of options. */
static void test_decoding(void) {
    static const struct {
        const char *opts[3][2];
        vs2_decoding mode;
        int ok;
    } cases[] = {
        {{{"sample", NULL}}, VS2_DECODE_SAMPLE, 1},
        {{{"sample", "true"}, {"sample", "false"}}, VS2_DECODE_GREEDY, 1},
        {{{"temperature", "0.9"}}, VS2_DECODE_SAMPLE, 1},
        {{{"temperature", "0"}}, VS2_DECODE_GREEDY, 1},
        {{{"samples", "3"}}, VS2_DECODE_SAMPLE, 1},
        {{{"samples", "1"}}, VS2_DECODE_GREEDY, 1},
        {{{"temperature", "0"}, {"sample", NULL}}, VS2_DECODE_SAMPLE, 0},
        {{{"sample", NULL}, {"temperature", "0"}}, VS2_DECODE_GREEDY, 1}, /* the later option wins */
        {{{"temperature", "0"}, {"samples", "2"}}, VS2_DECODE_SAMPLE, 0},
        {{{"samples", "2"}, {"temperature", "0"}}, VS2_DECODE_GREEDY, 0},
        {{{"temperature", "0"}, {"temperature", "0.5"}}, VS2_DECODE_SAMPLE, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        vs2_score_params p = vs2_score_default_params();
        for (int k = 0; k < 3 && cases[i].opts[k][0]; k++)
            CHECK(vs2_score_params_set(&p, cases[i].opts[k][0], cases[i].opts[k][1], &err) == VS2_OK);
        CHECK_MSG(p.decoding == cases[i].mode, "case %zu: mode %d", i, (int)p.decoding);
        vs2_status st = vs2_score_params_check(&p, &err);
        CHECK_MSG((st == VS2_OK) == cases[i].ok, "case %zu: check %d", i, (int)st);
        if (!cases[i].ok) CHECK_STR_CONTAINS(err.message, "--temperature 0 is greedy decoding");
    }
    /* a caller setting fields directly: several greedy samples */
    vs2_score_params p = vs2_score_default_params();
    p.samples = 4;
    CHECK_EQ_INT(vs2_score_params_check(&p, &err), VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "--samples 4 needs sampling");
    p.decoding = VS2_DECODE_SAMPLE;
    p.max_new_tokens = 0;
    CHECK_EQ_INT(vs2_score_params_check(&p, &err), VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "--max-new-tokens");
}

int main(void) {
    RUN(test_table_complete);
    RUN(test_names);
    RUN(test_ranges);
    RUN(test_fields);
    RUN(test_decoding);
    return CHECK_DONE();
}
