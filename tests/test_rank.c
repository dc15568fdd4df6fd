/* test_rank.c — the Best-of-N ranking rule (vs2_rank_key, vs2_rank_order) on crafted results:
 * mean of the hard scores, ties to the first index, no parse ranked last, soft / robust /
 * expected / weighted keys, multi-sample means; the shard hash and the JSON helpers. */
#include "check.h"
#include "eval/eval_internal.h"
#include "vs2.h"

#include <math.h>

static vs2_sample S[16];
static vs2_result R[16];

/* A one-sample result with hard scores (or none: v < 0) and soft values. */
static const vs2_result *mk(int i, long v, long t, long p, double sv, double st, double sp) {
    memset(&S[i], 0, sizeof S[i]);
    memset(&R[i], 0, sizeof R[i]);
    vs2_sample *s = &S[i];
    s->has_scores = v >= 0;
    s->scores[0] = v, s->scores[1] = t, s->scores[2] = p;
    s->has_robust = v >= 0;
    s->robust[0] = v, s->robust[1] = t, s->robust[2] = p;
    s->soft[0] = sv, s->soft[1] = st, s->soft[2] = sp;
    for (int d = 0; d < 3; d++) s->soft_expected[d] = s->soft[d] + 0.5;
    R[i].samples = s;
    R[i].n_samples = 1;
    return &R[i];
}

static void order_of(const vs2_rank_params *rp, int n, size_t *order, double *keys) {
    for (int i = 0; i < n; i++) keys[i] = vs2_rank_key(&R[i], rp);
    vs2_rank_order(keys, (size_t)n, order);
}

static void test_hard_mean_and_ties(void) {
    /* means: 11/3, 11/3, 4, no parse, 11/3 (other permutation), 3 */
    mk(0, 4, 4, 3, 4.1, 4.0, 2.9);
    mk(1, 3, 4, 4, 2.9, 4.0, 4.2);
    mk(2, 4, 4, 4, 3.5, 3.5, 3.5);
    mk(3, -1, 0, 0, NAN, NAN, NAN);
    mk(4, 4, 3, 4, 4.0, 3.0, 4.0);
    mk(5, 3, 3, 3, 5.0, 5.0, 5.0);
    size_t order[6];
    double keys[6];
    vs2_rank_params rp = vs2_rank_default_params();
    order_of(&rp, 6, order, keys);
    CHECK(fabs(keys[0] - 11.0 / 3.0) < 1e-15 && keys[0] == keys[1] && keys[1] == keys[4]);
    CHECK(isnan(keys[3]));
    size_t want[6] = {2, 0, 1, 4, 5, 3}; /* ties (0,1,4) keep index order; no parse last */
    for (int k = 0; k < 6; k++) CHECK_EQ_INT(order[k], want[k]);
    /* Ties to the first index, as the reference's argmax: best of {1, 0} (equal) is 0. */
    size_t o2[2];
    double k2[2] = {2.5, 2.5};
    vs2_rank_order(k2, 2, o2);
    CHECK_EQ_INT(o2[0], 0);
    /* soft: 5 (5.0), then 2 (3.5) vs 0 (3.667) vs 1 (3.7) vs 4 (3.667) */
    rp.by = VS2_RANK_SOFT;
    order_of(&rp, 6, order, keys);
    CHECK_EQ_INT(order[0], 5);
    CHECK_EQ_INT(order[1], 1);
    CHECK_EQ_INT(order[5], 3);
    rp.by = VS2_RANK_SOFT_EXPECTED;
    order_of(&rp, 6, order, keys);
    CHECK(fabs(keys[5] - 5.5) < 1e-12);
    rp.by = VS2_RANK_ROBUST;
    order_of(&rp, 6, order, keys);
    CHECK_EQ_INT(order[0], 2);
    CHECK_EQ_INT(order[5], 3);
}

static void test_weighted(void) {
    mk(0, 5, 1, 1, NAN, NAN, NAN); /* visual only */
    mk(1, 1, 5, 1, NAN, NAN, NAN);
    mk(2, 1, 1, 5, NAN, NAN, NAN);
    vs2_rank_params rp = vs2_rank_default_params();
    rp.weighted = 1;
    rp.weights[0] = 0, rp.weights[1] = 1, rp.weights[2] = 0.5;
    size_t order[3];
    double keys[3];
    order_of(&rp, 3, order, keys);
    CHECK_EQ_INT(order[0], 1);
    CHECK_EQ_INT(order[1], 2);
    CHECK_EQ_INT(order[2], 0);
    CHECK(keys[1] == 5.5);
    /* A zero weight ignores a missing dimension; a needed missing one means no key. */
    mk(0, 2, 3, 4, 4.0, NAN, NAN);
    rp.by = VS2_RANK_SOFT;
    rp.weights[0] = 1, rp.weights[1] = 0, rp.weights[2] = 0;
    CHECK(vs2_rank_key(&R[0], &rp) == 4.0);
    rp.weights[1] = 1;
    CHECK(isnan(vs2_rank_key(&R[0], &rp)));
    /* Unweighted soft with a NAN: no key. */
    CHECK(isnan(vs2_rank_key(&R[0], NULL)) == 0); /* hard 2,3,4 -> 3 */
    CHECK(vs2_rank_key(&R[0], NULL) == 3.0);
}

static void test_samples_means(void) {
    vs2_sample ss[2];
    memset(ss, 0, sizeof ss);
    vs2_result r;
    memset(&r, 0, sizeof r);
    r.samples = ss;
    r.n_samples = 2;
    for (int d = 0; d < 3; d++) {
        r.mean.scores[d] = 3.5;
        r.mean.soft[d] = NAN;
        r.mean.robust[d] = 4;
        r.mean.soft_expected[d] = 2;
    }
    CHECK(vs2_rank_key(&r, NULL) == 3.5);
    vs2_rank_params rp = vs2_rank_default_params();
    rp.by = VS2_RANK_SOFT;
    CHECK(isnan(vs2_rank_key(&r, &rp)));
    rp.by = VS2_RANK_ROBUST;
    CHECK(vs2_rank_key(&r, &rp) == 4);
    CHECK(isnan(vs2_rank_key(NULL, NULL)));
    /* All keys missing: index order. */
    double k[3] = {NAN, NAN, NAN};
    size_t o[3];
    vs2_rank_order(k, 3, o);
    CHECK(o[0] == 0 && o[1] == 1 && o[2] == 2);
}

static void test_names(void) {
    CHECK_EQ_INT(vs2_rank_by_from_name("hard"), VS2_RANK_HARD);
    CHECK_EQ_INT(vs2_rank_by_from_name("soft_expected"), VS2_RANK_SOFT_EXPECTED);
    CHECK_EQ_INT(vs2_rank_by_from_name("weighted"), -1);
    CHECK(!strcmp(vs2_rank_by_name(VS2_RANK_ROBUST), "robust"));
}

static void test_helpers(void) {
    /* FNV-1a 64 test vectors (the shard hash). */
    CHECK(ev_fnv1a64("") == 0xcbf29ce484222325ull);
    CHECK(ev_fnv1a64("a") == 0xaf63dc4c8601ec8cull);
    CHECK(ev_fnv1a64("foobar") == 0x85944171f73967e8ull);
    ev_buf b = {0};
    ev_buf_json_str(&b, "a\"b\\c\n\x01\xff");
    CHECK(b.data && !strcmp(b.data, "\"a\\\"b\\\\c\\n\\u0001\xEF\xBF\xBD\""));
    ev_buf_free(&b);
    ev_buf_json_num(&b, 0.1);
    ev_buf_puts(&b, " ");
    ev_buf_json_num(&b, NAN);
    ev_buf_puts(&b, " ");
    ev_buf_json_num(&b, 4);
    CHECK(b.data && !strcmp(b.data, "0.1 null 4"));
    ev_buf_free(&b);
    ev_strset s = {0};
    char keys[300][8];
    for (int i = 0; i < 300; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        CHECK_EQ_INT(ev_strset_put(&s, keys[i], (size_t)i, NULL), 1);
    }
    size_t v = 0;
    CHECK_EQ_INT(ev_strset_put(&s, "k7", 99, &v), 0);
    CHECK_EQ_INT(v, 7);
    CHECK(ev_strset_get(&s, "k299", &v) && v == 299);
    CHECK(!ev_strset_get(&s, "k300", NULL));
    ev_strset_free(&s);
}


/* vs2_rank_result_to_json on a crafted ranking: best, ranking, ranks, names, summaries, errors. */
static void test_rank_json(void) {
    mk(0, 3, 3, 3, 3.0, 3.0, 3.0);
    mk(1, 5, 4, 3, 4.0, 4.0, 4.0);
    mk(2, -1, 0, 0, NAN, NAN, NAN);
    vs2_result *res[4] = {&R[0], &R[1], &R[2], NULL};
    char *errors[4] = {NULL, NULL, NULL, "v3.mp4: cannot open"};
    double keys[4];
    size_t order[4];
    vs2_rank_params rp = vs2_rank_default_params();
    for (int i = 0; i < 3; i++) keys[i] = vs2_rank_key(res[i], &rp);
    keys[3] = NAN;
    vs2_rank_order(keys, 4, order);
    vs2_rank_result g = {.n = 4, .results = res, .errors = errors, .keys = keys, .order = order, .n_failed = 1,
                         .n_keyed = 2};
    const char *names[4] = {"v0.mp4", "v1.mp4", "v2.mp4", "v3.mp4"};
    char *js = vs2_rank_result_to_json(&g, "a cat", names, &rp, 0);
    json_error_t je;
    json_t *o = js ? json_loads(js, 0, &je) : NULL;
    CHECK_MSG(o != NULL, "%s", js ? js : "(null)");
    if (o) {
        CHECK_EQ_INT(json_integer_value(json_object_get(o, "best")), 1);
        CHECK(!strcmp(json_string_value(json_object_get(o, "best_video")), "v1.mp4"));
        CHECK(!strcmp(json_string_value(json_object_get(o, "prompt")), "a cat"));
        CHECK(!strcmp(json_string_value(json_object_get(o, "by")), "hard"));
        CHECK(json_is_null(json_object_get(o, "weights")));
        json_t *rk = json_object_get(o, "ranking");
        for (size_t k = 0; k < 4; k++) CHECK_EQ_INT(json_integer_value(json_array_get(rk, k)), (long long)order[k]);
        json_t *c = json_object_get(o, "candidates");
        CHECK_EQ_INT(json_array_size(c), 4);
        CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(c, 1), "rank")), 1);
        CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(c, 3), "rank")), 4);
        CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(json_array_get(c, 1), "scores"),
                                                        "visual_quality")), 5);
        CHECK(json_is_null(json_object_get(json_array_get(c, 2), "key")));
        CHECK(!strcmp(json_string_value(json_object_get(json_array_get(c, 3), "error")), "v3.mp4: cannot open"));
        CHECK(!strcmp(json_string_value(json_object_get(o, "error")), "1 of 4 candidates could not be scored"));
        json_decref(o);
    }
    free(js);
    /* nothing keyed, no names: best is null, videos are the results' paths (none here) */
    g.n = 3, g.n_failed = 0, g.n_keyed = 0;
    mk(0, -1, 0, 0, NAN, NAN, NAN), mk(1, -1, 0, 0, NAN, NAN, NAN);
    for (int i = 0; i < 3; i++) keys[i] = NAN;
    vs2_rank_order(keys, 3, order);
    js = vs2_rank_result_to_json(&g, "p", NULL, NULL, 0);
    CHECK_STR_CONTAINS(js, "\"best\":null,\"best_video\":null,\"ranking\":[0,1,2]");
    CHECK_STR_CONTAINS(js, "\"video\":null");
    CHECK_STR_CONTAINS(js, "\"error\":\"no candidate has scores to rank by\"");
    free(js);
    g.stopped = 1;
    js = vs2_rank_result_to_json(&g, "p", NULL, NULL, 0);
    CHECK_STR_CONTAINS(js, "\"error\":\"interrupted\"");
    free(js);
    /* bad arguments are refused, never crash */
    vs2_rank_result *out = (vs2_rank_result *)&g;
    vs2_error err;
    const char *paths[1] = {"x.mp4"};
    CHECK_EQ_INT(vs2_rank(NULL, "p", paths, 1, NULL, NULL, &out, &err), VS2_ERR_INVALID_ARG);
    CHECK(out == NULL);
    CHECK(vs2_rank_result_to_json(NULL, "p", NULL, NULL, 0) == NULL);
    vs2_rank_result_free(NULL);
}

int main(void) {
    RUN(test_hard_mean_and_ties);
    RUN(test_weighted);
    RUN(test_samples_means);
    RUN(test_names);
    RUN(test_helpers);
    RUN(test_rank_json);
    return CHECK_DONE();
}
