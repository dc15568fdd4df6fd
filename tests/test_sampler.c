/* test_sampler.c — src/sampler.c: hand-checked processor cases, seeded sampling (repeatable,
 * seed-dependent, right frequencies), argument checks. With `--process DIR` it instead runs
 * the cases written by tools/scores_ref/processors_ref.py and writes the processed logits for
 * the torch comparison (tests/t_scores_processors.sh). */
#include "check.h"
#include "sampler.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>

static vs2_sampling greedy_params(double pen) {
    vs2_sampling p = {0, 1.0, 0, 1.0, pen, 0};
    return p;
}

static void test_penalty_greedy(void) {
    /* 2/1.05 = 1.9048 still beats 1.9; 2/1.1 = 1.818 does not; -2 * 1.1 = -2.2 */
    float l[3] = {2.0f, -2.0f, 1.9f};
    vs2_sampling p = greedy_params(1.05);
    vs2_sampler *s = NULL;
    CHECK(vs2_sampler_create(&p, 3, &s, NULL) == VS2_OK);
    int32_t hist[5] = {0, 1, 0, 0, 1}; /* repeated ids are penalised once */
    vs2_sampler_accept(s, hist, 5);
    CHECK_EQ_INT(vs2_sampler_next(s, l), 0);
    CHECK(l[0] == 2.0f / 1.05f && l[1] == -2.0f * 1.05f && l[2] == 1.9f);
    vs2_sampler_free(s);
    float m[3] = {2.0f, -2.0f, 1.9f};
    p.repetition_penalty = 1.1;
    CHECK(vs2_sampler_create(&p, 3, &s, NULL) == VS2_OK);
    vs2_sampler_accept(s, hist, 5);
    CHECK_EQ_INT(vs2_sampler_next(s, m), 2);
    vs2_sampler_free(s);
}

static void test_greedy_ignores_warpers_and_ties(void) {
    /* do_sample = 0: temperature/top-k/top-p are not applied (transformers adds warpers only
     * when sampling); ties go to the lowest index as torch.argmax. */
    float l[4] = {1.0f, 3.0f, 3.0f, -1.0f};
    vs2_sampling p = {0, 0.5, 1, 0.1, 1.0, 0};
    vs2_sampler *s = NULL;
    CHECK(vs2_sampler_create(&p, 4, &s, NULL) == VS2_OK);
    CHECK_EQ_INT(vs2_sampler_next(s, l), 1);
    CHECK(l[0] == 1.0f && l[3] == -1.0f);
    vs2_sampler_free(s);
}

static void test_top_k_ties_and_top_p(void) {
    float l[6] = {1.0f, 2.0f, 2.0f, 0.5f, 2.0f, 3.0f};
    vs2_sampling p = {1, 1.0, 2, 1.0, 1.0, 7};
    vs2_sampler *s = NULL;
    CHECK(vs2_sampler_create(&p, 6, &s, NULL) == VS2_OK);
    int32_t id = vs2_sampler_next(s, l);
    /* k = 2: the 2nd largest is 2.0, every 2.0 is kept */
    CHECK(isinf(l[0]) && isinf(l[3]) && l[1] == 2.0f && l[2] == 2.0f && l[4] == 2.0f);
    CHECK(id == 1 || id == 2 || id == 4 || id == 5);
    vs2_sampler_free(s);
    /* uniform over 4, top_p 0.5: cumsum 0.25, 0.5 <= 0.5 removed -> ids 0 and 1 (stable order) */
    float u[4] = {0, 0, 0, 0};
    vs2_sampling q = {1, 1.0, 0, 0.5, 1.0, 7};
    CHECK(vs2_sampler_create(&q, 4, &s, NULL) == VS2_OK);
    vs2_sampler_next(s, u);
    CHECK(isinf(u[0]) && isinf(u[1]) && u[2] == 0 && u[3] == 0);
    vs2_sampler_free(s);
}

static void test_bad_params(void) {
    vs2_sampler *s = NULL;
    vs2_error e;
    vs2_sampling p = {1, 0.0, 0, 1.0, 1.0, 0};
    CHECK(vs2_sampler_create(&p, 10, &s, &e) == VS2_ERR_INVALID_ARG && !s);
    p.temperature = 0.7, p.top_p = 1.5;
    CHECK(vs2_sampler_create(&p, 10, &s, &e) == VS2_ERR_INVALID_ARG);
    p.top_p = 1.0, p.top_k = -1;
    CHECK(vs2_sampler_create(&p, 10, &s, &e) == VS2_ERR_INVALID_ARG);
    p.top_k = 0, p.repetition_penalty = 0;
    CHECK(vs2_sampler_create(&p, 10, &s, &e) == VS2_ERR_INVALID_ARG);
    p.repetition_penalty = 1.0;
    CHECK(vs2_sampler_create(&p, 0, &s, &e) == VS2_ERR_INVALID_ARG);
    /* greedy with temperature 0 is fine: the warpers are not used */
    vs2_sampling g = {0, 0.0, 0, 1.0, 1.0, 0};
    CHECK(vs2_sampler_create(&g, 10, &s, &e) == VS2_OK);
    vs2_sampler_free(s);
}

#define NV 64
static void run_seq(uint64_t seed, int32_t *out, int n) {
    vs2_sampling p = {1, 0.7, 50, 0.95, 1.05, seed};
    vs2_sampler *s = NULL;
    CHECK(vs2_sampler_create(&p, NV, &s, NULL) == VS2_OK);
    if (!s) return;
    uint64_t x = 12345;
    for (int i = 0; i < n; i++) {
        float l[NV];
        for (int j = 0; j < NV; j++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            l[j] = (float)((x >> 40) % 1000) / 250.0f; /* same logits for every seed */
        }
        out[i] = vs2_sampler_next(s, l);
        CHECK(out[i] >= 0 && out[i] < NV && isfinite(l[out[i]]));
        vs2_sampler_accept(s, &out[i], 1);
    }
    vs2_sampler_free(s);
}

static void test_seeded_sequences(void) {
    int32_t a[300], b[300], c[300];
    run_seq(42, a, 300);
    run_seq(42, b, 300);
    run_seq(43, c, 300);
    CHECK(memcmp(a, b, sizeof a) == 0);
    int differ = 0;
    for (int i = 0; i < 300; i++) differ += a[i] != c[i];
    CHECK_MSG(differ > 30, "seeds 42 and 43 differ in only %d of 300 draws", differ);
}

static void test_frequencies(void) {
    /* logits log(p) with p = 0.1 0.2 0.3 0.4 (and one -inf that must never be drawn). Each
     * count of N = 200000 draws is binomial; the bound is 5 standard deviations,
     * 5*sqrt(p(1-p)/N) <= 0.0055, so a correct sampler fails it with probability < 1e-5. */
    const double pr[4] = {0.1, 0.2, 0.3, 0.4};
    vs2_sampling p = {1, 1.0, 0, 1.0, 1.0, 2024};
    vs2_sampler *s = NULL;
    CHECK(vs2_sampler_create(&p, 5, &s, NULL) == VS2_OK);
    if (!s) return;
    long cnt[5] = {0};
    const int N = 200000;
    for (int i = 0; i < N; i++) {
        float l[5] = {(float)log(0.1), (float)log(0.2), (float)log(0.3), (float)log(0.4), -INFINITY};
        cnt[vs2_sampler_next(s, l)]++;
    }
    CHECK_EQ_INT(cnt[4], 0);
    for (int k = 0; k < 4; k++) {
        double f = (double)cnt[k] / N, bound = 5 * sqrt(pr[k] * (1 - pr[k]) / N);
        CHECK_MSG(fabs(f - pr[k]) <= bound, "id %d: frequency %.5f, expected %.2f +- %.5f", k, f,
                  pr[k], bound);
    }
    vs2_sampler_free(s);
}

/* --process DIR: cases.json + logits.bin -> out_c.bin (processed logits), choice_c.json */
static int process_dir(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/cases.json", dir);
    json_error_t je;
    json_t *cases = json_load_file(path, 0, &je);
    if (!json_is_array(cases)) {
        fprintf(stderr, "%s: %s\n", path, je.text);
        return 1;
    }
    snprintf(path, sizeof path, "%s/logits.bin", dir);
    FILE *f = fopen(path, "rb");
    if (!f) return perror(path), 1;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *all = malloc((size_t)sz);
    if (!all || fread(all, 1, (size_t)sz, f) != (size_t)sz) return fprintf(stderr, "read\n"), 1;
    fclose(f);
    json_t *choices = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        vs2_sampling p;
        p.do_sample = (int)json_integer_value(json_object_get(c, "do_sample"));
        p.temperature = json_number_value(json_object_get(c, "temperature"));
        p.top_k = (int)json_integer_value(json_object_get(c, "top_k"));
        p.top_p = json_number_value(json_object_get(c, "top_p"));
        p.repetition_penalty = json_number_value(json_object_get(c, "repetition_penalty"));
        p.seed = 1000 + i;
        int32_t nv = (int32_t)json_integer_value(json_object_get(c, "n_vocab"));
        long off = (long)json_integer_value(json_object_get(c, "offset"));
        vs2_sampler *s = NULL;
        vs2_error e;
        if (vs2_sampler_create(&p, nv, &s, &e) != VS2_OK) return fprintf(stderr, "%s\n", e.message), 1;
        json_t *h = json_object_get(c, "history");
        for (size_t k = 0; k < json_array_size(h); k++) {
            int32_t id = (int32_t)json_integer_value(json_array_get(h, k));
            vs2_sampler_accept(s, &id, 1);
        }
        json_array_append_new(choices, json_integer(vs2_sampler_next(s, all + off)));
        vs2_sampler_free(s);
    }
    snprintf(path, sizeof path, "%s/out_c.bin", dir);
    f = fopen(path, "wb");
    if (!f || fwrite(all, 1, (size_t)sz, f) != (size_t)sz) return perror(path), 1;
    fclose(f);
    snprintf(path, sizeof path, "%s/choice_c.json", dir);
    json_dump_file(choices, path, 0);
    json_decref(choices);
    json_decref(cases);
    free(all);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--process") == 0) return process_dir(argv[2]);
    RUN(test_penalty_greedy);
    RUN(test_greedy_ignores_warpers_and_ties);
    RUN(test_top_k_ties_and_top_p);
    RUN(test_bad_params);
    RUN(test_seeded_sequences);
    RUN(test_frequencies);
    return CHECK_DONE();
}
