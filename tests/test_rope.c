/* test_rope.c — M-RoPE position ids (docs/qwen2.5-vl.md §5.3, transformers 4.53.2 semantics) and the
 * rotary inverse frequencies. Positions are integers: every check here is exact.
 *
 * Also a driver for t_llm_ref.sh: `test_rope --cases FILE` checks the cases written by
 * tools/torch_ref/rope_ref.py (an independent torch implementation of get_rope_index). */
#include "check.h"
#include "internal.h"
#include "llm.h"

#include <stdint.h>

enum { VSTART = 151652, VEND = 151653, IMAGE = 151655, VIDEO = 151656 };

static vs2_config qwen_config(void) {
    vs2_config c;
    memset(&c, 0, sizeof c);
    c.vision_start_token_id = VSTART;
    c.vision_end_token_id = VEND;
    c.image_token_id = IMAGE;
    c.video_token_id = VIDEO;
    c.vision.spatial_merge_size = 2;
    c.vision.tokens_per_second = 2;
    return c;
}

/* ids = text(a) <|vision_start|> pads <|vision_end|> text(b); returns n. */
static int64_t build(int32_t *ids, int a, int64_t pads, int b) {
    int64_t n = 0;
    for (int i = 0; i < a; i++) ids[n++] = 1000 + i;
    ids[n++] = VSTART;
    for (int64_t i = 0; i < pads; i++) ids[n++] = VIDEO;
    ids[n++] = VEND;
    for (int i = 0; i < b; i++) ids[n++] = 2000 + i;
    return n;
}

/* §5.3 worked example: 15 text tokens (the 15th is <|vision_start|>), a grid of t 10, h 40,
 * w 72 (merged 20 × 36 → 7200 tokens), 10 trailing tokens (the first is <|vision_end|>). */
static void test_worked_example(void) {
    vs2_config c = qwen_config();
    const int64_t n = 15 + 7200 + 10;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    int64_t *pos = malloc((size_t)(3 * n) * sizeof *pos);
    CHECK_EQ_INT(build(ids, 14, 7200, 9), n);
    vs2_grid g = {10, 40, 72, 1.0};
    int64_t delta = 0;
    vs2_error err;
    CHECK_EQ_INT(vs2_rope_index(&c, ids, n, &g, 1, pos, &delta, &err), VS2_OK);
    CHECK_EQ_INT(delta, -7164);
    int bad = 0;
    for (int64_t i = 0; i < 15; i++)
        bad += pos[i] != i || pos[n + i] != i || pos[2 * n + i] != i;
    for (int64_t k = 0; k < 7200; k++) {
        int64_t i = 15 + k, t = k / 720, y = (k / 36) % 20, x = k % 36;
        bad += pos[i] != 15 + 2 * t || pos[n + i] != 15 + y || pos[2 * n + i] != 15 + x;
    }
    for (int64_t k = 0; k < 10; k++) {
        int64_t i = 15 + 7200 + k;
        bad += pos[i] != 51 + k || pos[n + i] != 51 + k || pos[2 * n + i] != 51 + k;
    }
    CHECK_EQ_INT(bad, 0);
    /* The spec's ranges: t 15..33, h 15..34, w 15..50, trailing 51..60. */
    CHECK_EQ_INT(pos[15 + 7199], 33);
    CHECK_EQ_INT(pos[n + 15 + 7199], 34);
    CHECK_EQ_INT(pos[2 * n + 15 + 7199], 50);
    CHECK_EQ_INT(pos[n - 1], 60);
    /* Decoding (§5.5): the first generated token, cache index 7225, gets position 61. */
    CHECK_EQ_INT(n + delta, 61);
    free(ids);
    free(pos);
}

/* Temporal index for one video of t 5, h 4, w 6 (merged 2 × 3) after 3 text tokens. */
static void temporal(double spg, const int64_t *expect_tidx) {
    vs2_config c = qwen_config();
    int32_t ids[64];
    int64_t pos[3 * 64], delta;
    int64_t n = build(ids, 2, 30, 2);
    vs2_grid g = {5, 4, 6, spg};
    CHECK_EQ_INT(vs2_rope_index(&c, ids, n, &g, 1, pos, &delta, NULL), VS2_OK);
    int64_t mx = 0;
    for (int64_t k = 0; k < 30; k++) {
        CHECK_EQ_INT(pos[3 + k], 3 + expect_tidx[k / 6]);
        CHECK_EQ_INT(pos[n + 3 + k], 3 + (k / 3) % 2);
        CHECK_EQ_INT(pos[2 * n + 3 + k], 3 + k % 3);
        for (int a = 0; a < 3; a++) mx = pos[a * n + 3 + k] > mx ? pos[a * n + 3 + k] : mx;
    }
    CHECK_EQ_INT(pos[3 + 30], mx + 1); /* <|vision_end|> resumes at max + 1 */
    CHECK_EQ_INT(delta, mx + 1 + 3 - n);
}

static void test_spg_truncation(void) {
    /* 4.52+: spg is truncated to an integer before multiplying: 1.1085 and 1.9999 → 2t,
     * 0.5 and 0 → 0, 2.7 → 4t (4.49 semantics would give 1.1085 → 0,2,4,6,8 here too, so the
     * longer grid below separates the two). */
    const int64_t two_t[] = {0, 2, 4, 6, 8}, zero[] = {0, 0, 0, 0, 0}, four_t[] = {0, 4, 8, 12, 16};
    temporal(1.0, two_t);
    temporal(1.1085159, two_t);
    temporal(1.9999, two_t);
    temporal(0.5, zero);
    temporal(0.0, zero);
    temporal(2.7, four_t);

    /* t 9 with spg 1.1085: 4.49 gives 0,2,4,6,8,11,13,15,17; 4.52+ gives 0,2,...,16. */
    vs2_config c = qwen_config();
    int32_t ids[64];
    int64_t pos[3 * 64], delta;
    int64_t n = build(ids, 0, 9, 0);
    vs2_grid g = {9, 2, 2, 1.1085159};
    CHECK_EQ_INT(vs2_rope_index(&c, ids, n, &g, 1, pos, &delta, NULL), VS2_OK);
    for (int t = 0; t < 9; t++) CHECK_EQ_INT(pos[1 + t], 1 + 2 * t);
    CHECK_EQ_INT(pos[n - 1], 1 + 16 + 1); /* <|vision_end|> */
    CHECK_EQ_INT(delta, 18 + 1 - n);
}

static void test_two_videos(void) {
    vs2_config c = qwen_config();
    int32_t ids[128];
    int64_t pos[3 * 128], delta;
    /* "a b" V1(t 2, h 2, w 4 → 1×2 per frame: 4 tokens) "x" V2(t 1, h 6, w 2 → 3×1: 3 tokens) "y z" */
    int64_t n = 0;
    ids[n++] = 10;
    ids[n++] = 11;
    ids[n++] = VSTART;
    for (int i = 0; i < 4; i++) ids[n++] = VIDEO;
    ids[n++] = VEND;
    ids[n++] = 12;
    ids[n++] = VSTART;
    for (int i = 0; i < 3; i++) ids[n++] = VIDEO;
    ids[n++] = VEND;
    ids[n++] = 13;
    ids[n++] = 14;
    vs2_grid g[2] = {{2, 2, 4, 1.0}, {1, 6, 2, 1.0}};
    CHECK_EQ_INT(vs2_rope_index(&c, ids, n, g, 2, pos, &delta, NULL), VS2_OK);
    /* Worked by hand: text 0,1,2; V1 start 3: t {3,3,5,5}, h 3, w {3,4,3,4}; max 5 → 6,7,8
     * (<|vision_end|>, 12, <|vision_start|>); V2 start 9: t 9, h 9,10,11, w 9; max 11 → 12, 13, 14. */
    const int64_t et[] = {0, 1, 2, 3, 3, 5, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14};
    const int64_t eh[] = {0, 1, 2, 3, 3, 3, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14};
    const int64_t ew[] = {0, 1, 2, 3, 4, 3, 4, 6, 7, 8, 9, 9, 9, 12, 13, 14};
    CHECK_EQ_INT(n, 16);
    for (int i = 0; i < 16; i++) {
        CHECK_EQ_INT(pos[i], et[i]);
        CHECK_EQ_INT(pos[n + i], eh[i]);
        CHECK_EQ_INT(pos[2 * n + i], ew[i]);
    }
    CHECK_EQ_INT(delta, 15 - 16);
}

static void test_text_only(void) {
    vs2_config c = qwen_config();
    int32_t ids[5] = {1, 2, 3, VEND, 5};
    int64_t pos[15], delta = 99;
    CHECK_EQ_INT(vs2_rope_index(&c, ids, 5, NULL, 0, pos, &delta, NULL), VS2_OK);
    for (int i = 0; i < 5; i++) CHECK(pos[i] == i && pos[5 + i] == i && pos[10 + i] == i);
    CHECK_EQ_INT(delta, 0);
}

static void test_errors(void) {
    vs2_config c = qwen_config();
    int32_t ids[64];
    int64_t pos[3 * 64], delta;
    vs2_error err;
    int64_t n = build(ids, 2, 6, 2);
    vs2_grid g = {1, 4, 6, 1.0}; /* 6 tokens: fits */
    CHECK_EQ_INT(vs2_rope_index(&c, ids, n, &g, 1, pos, &delta, &err), VS2_OK);
    vs2_grid g8 = {2, 4, 4, 1.0}; /* 8 tokens: 6 pads do not match */
    CHECK_EQ_INT(vs2_rope_index(&c, ids, n, &g8, 1, pos, &delta, &err), VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "<|video_pad|>");
    /* pads but no grid */
    CHECK_EQ_INT(vs2_rope_index(&c, ids, n, NULL, 0, pos, &delta, &err), VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "1 videos");
    /* two grids, one video */
    vs2_grid g2[2] = {{1, 2, 2, 1.0}, {1, 2, 4, 1.0}};
    CHECK_EQ_INT(vs2_rope_index(&c, ids, n, g2, 2, pos, &delta, &err), VS2_ERR_INVALID_ARG);
    /* odd spatial size, non-positive t, negative / NaN spg */
    vs2_grid godd = {1, 3, 8, 1.0}, gt0 = {0, 4, 6, 1.0}, gneg = {1, 4, 6, -1.0}, gnan = {1, 4, 6, NAN};
    CHECK_EQ_INT(vs2_rope_index(&c, ids, n, &godd, 1, pos, &delta, &err), VS2_ERR_INVALID_ARG);
    CHECK_EQ_INT(vs2_rope_index(&c, ids, n, &gt0, 1, pos, &delta, &err), VS2_ERR_INVALID_ARG);
    CHECK_EQ_INT(vs2_rope_index(&c, ids, n, &gneg, 1, pos, &delta, &err), VS2_ERR_INVALID_ARG);
    CHECK_EQ_INT(vs2_rope_index(&c, ids, n, &gnan, 1, pos, &delta, &err), VS2_ERR_INVALID_ARG);
    /* right total, but the pads are split in two runs of one video */
    ids[5] = 77;
    ids[n++] = VIDEO;
    CHECK_EQ_INT(vs2_rope_index(&c, ids, n, &g, 1, pos, &delta, &err), VS2_ERR_INVALID_ARG);
    /* an image item is not supported */
    int32_t img[4] = {1, VSTART, IMAGE, VEND};
    CHECK_EQ_INT(vs2_rope_index(&c, img, 4, NULL, 0, pos, &delta, &err), VS2_ERR_UNSUPPORTED);
    /* Temporal positions past 2^24: refused here, naming tokens_per_second and the seconds per
     * grid step (not later as a bare "position … outside [0, 2^24)" in the llm). */
    ids[5] = VIDEO;
    n--;
    c.vision.tokens_per_second = 1000;
    vs2_grid far = {2, 2, 2, 1e5}; /* step 1e8 */
    int32_t two[16];
    int64_t m = build(two, 1, 2, 1);
    CHECK_EQ_INT(vs2_rope_index(&c, two, m, &far, 1, pos, &delta, &err), VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "tokens_per_second 1000");
    CHECK_STR_CONTAINS(err.message, "past the 2^24 positions");
    c.vision.tokens_per_second = 2147483647; /* a hand-filled config: overflow-checked */
    vs2_grid huge = {2, 2, 2, 1e9};
    CHECK_EQ_INT(vs2_rope_index(&c, two, m, &huge, 1, pos, &delta, &err), VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "tokens_per_second 2147483647");
    c = qwen_config();
    /* empty / NULL */
    CHECK_EQ_INT(vs2_rope_index(&c, ids, 0, NULL, 0, pos, &delta, &err), VS2_ERR_INVALID_ARG);
    CHECK_EQ_INT(vs2_rope_index(&c, NULL, 3, NULL, 0, pos, &delta, &err), VS2_ERR_INVALID_ARG);
}

/* inv_freq for head_dim 128, theta 1e6: torch 1.13's table on x86-64 (SLEEF pow). vs2's pow is
 * correctly rounded, so it must equal (float)pow(double) exactly and be within 1 ulp of torch;
 * only entry 37 differs (rope.c). t_llm_ref re-checks against the installed torch. */
static int ulp_diff(uint32_t a, uint32_t b) { return a > b ? (int)(a - b) : (int)(b - a); }

static void test_inv_freq(void) {
    static const uint32_t bits[64] = {
        0x3f800000u, 0x3f4e4badu, 0x3f263de0u, 0x3f05f6efu, 0x3ed7e89bu, 0x3eadfcffu,
        0x3e8c3504u, 0x3e61f835u, 0x3e361887u, 0x3e12bd91u, 0x3dec7fd6u, 0x3dbe94c6u,
        0x3d99940du, 0x3d778513u, 0x3d47763fu, 0x3d20bc1du, 0x3d0186e3u, 0x3cd0c1a8u,
        0x3ca8398bu, 0x3c879008u, 0x3c5a7bf2u, 0x3c301052u, 0x3c0de12du, 0x3be4aa46u,
        0x3bb8449cu, 0x3b947daeu, 0x3b6f520eu, 0x3b40dac5u, 0x3b1b690du, 0x3afa78f0u,
        0x3ac9d75cu, 0x3aa2a6f7u, 0x3a83126fu, 0x3a533f28u, 0x3a2a3b44u, 0x3a092e02u,
        0x39dd1725u, 0x39b229fbu, 0x398f9272u, 0x39676492u, 0x393a7753u, 0x39164324u,
        0x38f22ce2u, 0x38c327b5u, 0x389d43a4u, 0x387d75d4u, 0x384c3fbeu, 0x382497abu,
        0x3804a2b2u, 0x37d5c441u, 0x37ac431du, 0x378ad0edu, 0x375fba4fu, 0x37344a0eu,
        0x371148e3u, 0x36ea2732u, 0x36bcb0c1u, 0x36980e02u, 0x36751070u, 0x36457babu,
        0x361f23e4u, 0x36003decu, 0x35ceaf79u, 0x35a68e4cu,
    };
    float inv[64];
    vs2_rope_inv_freq(128, 1e6, inv);
    int far = 0, differ = 0, not_cr = 0;
    for (int f = 0; f < 64; f++) {
        uint32_t u;
        memcpy(&u, &inv[f], 4);
        far += ulp_diff(u, bits[f]) > 1;
        differ += u != bits[f];
        float p = (float)pow(1e6, (double)((float)(2 * f) / 128.0f));
        not_cr += inv[f] != 1.0f / p;
    }
    CHECK_EQ_INT(far, 0);
    CHECK_EQ_INT(differ, 1);
    CHECK_EQ_INT(not_cr, 0);
    CHECK(inv[0] == 1.0f);
}

/* --cases FILE: compare with rope_ref.py. Lines: "inv dim theta hex...", then per case
 * "case n n_videos", "grid t h w spg" × n_videos, "ids ...", "pos ..." × 3, "delta d". */
static int run_cases(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        return 2;
    }
    vs2_config c = qwen_config();
    char word[16];
    int cases = 0, invs = 0, fails = 0;
    while (fscanf(f, "%15s", word) == 1) {
        if (!strcmp(word, "inv")) {
            int dim;
            double theta;
            if (fscanf(f, "%d %lf", &dim, &theta) != 2 || dim <= 0 || dim > 1024) break;
            float *inv = malloc((size_t)dim / 2 * sizeof *inv);
            vs2_rope_inv_freq(dim, theta, inv);
            int differ = 0;
            for (int i = 0; i < dim / 2; i++) {
                unsigned u, got;
                if (fscanf(f, "%x", &u) != 1) u = 0;
                memcpy(&got, &inv[i], 4);
                differ += got != u;
                if (ulp_diff(got, u) > 1) {
                    fprintf(stderr, "inv_freq(dim %d, theta %g)[%d]: vs2 %08x, torch %08x\n", dim, theta, i,
                            got, u);
                    fails++;
                }
            }
            printf("inv_freq(dim %d, theta %g): %d of %d entries 1 ulp from torch\n", dim, theta, differ, dim / 2);
            free(inv);
            invs++;
            continue;
        }
        if (strcmp(word, "case")) {
            fprintf(stderr, "%s: unexpected '%s'\n", path, word);
            fails++;
            break;
        }
        long long n;
        int nv;
        if (fscanf(f, "%lld %d", &n, &nv) != 2 || n <= 0 || nv < 0 || nv > 64) break;
        vs2_grid g[64];
        int32_t *ids = malloc((size_t)n * sizeof *ids);
        int64_t *exp = malloc((size_t)(3 * n) * sizeof *exp), *pos = malloc((size_t)(3 * n) * sizeof *pos);
        long long d, ed;
        int ok = 1;
        for (int v = 0; v < nv; v++)
            ok &= fscanf(f, " grid %d %d %d %lf", &g[v].t, &g[v].h, &g[v].w, &g[v].second_per_grid_t) == 4;
        ok &= fscanf(f, " ids") == 0;
        for (long long i = 0; i < n; i++) ok &= fscanf(f, "%d", &ids[i]) == 1;
        for (int a = 0; a < 3; a++) {
            ok &= fscanf(f, " pos") == 0;
            for (long long i = 0; i < n; i++) {
                ok &= fscanf(f, "%lld", &d) == 1;
                exp[a * n + i] = d;
            }
        }
        ok &= fscanf(f, " delta %lld", &ed) == 1;
        vs2_error err;
        int64_t delta = 0;
        if (!ok) {
            fprintf(stderr, "case %d: parse error\n", cases);
            fails++;
        } else if (vs2_rope_index(&c, ids, n, g, nv, pos, &delta, &err) != VS2_OK) {
            fprintf(stderr, "case %d: %s\n", cases, err.message);
            fails++;
        } else if (delta != ed || memcmp(pos, exp, (size_t)(3 * n) * sizeof *pos)) {
            fprintf(stderr, "case %d: positions or rope_delta (%lld vs %lld) differ\n", cases, (long long)delta, ed);
            fails++;
        }
        free(ids);
        free(exp);
        free(pos);
        cases++;
        if (!ok) break;
    }
    fclose(f);
    printf("rope cases: %d compared, %d inv_freq tables, %d failures\n", cases, invs, fails);
    return fails || cases == 0 || invs == 0 ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--cases")) return run_cases(argv[2]);
    RUN(test_worked_example);
    RUN(test_spg_truncation);
    RUN(test_two_videos);
    RUN(test_text_only);
    RUN(test_errors);
    RUN(test_inv_freq);
    return CHECK_DONE();
}
