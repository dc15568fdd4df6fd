/* test_manifest.c — manifests and native benchmark files (tests/data/eval fixtures), the
 * reference-loader quirks, and errors that name the file, line and cause. */
#include "check.h"
#include "vs2.h"

#include <math.h>

static char *fixture(const char *name) {
    static char buf[4096];
    const char *src = getenv("VS2_SOURCE_DIR");
    snprintf(buf, sizeof buf, "%s/tests/data/eval/%s", src ? src : "..", name);
    return buf;
}

static vs2_manifest load(const char *name, vs2_manifest_format f, unsigned flags) {
    vs2_manifest m;
    vs2_error err;
    vs2_status st = vs2_manifest_load(fixture(name), f, flags, &m, &err);
    CHECK_MSG(st == VS2_OK, "%s", err.message);
    return m;
}

static void test_jsonl(void) {
    vs2_manifest m = load("manifest.jsonl", VS2_MANIFEST_AUTO, 0);
    CHECK_EQ_INT(m.format, VS2_MANIFEST_JSONL);
    CHECK_EQ_INT(m.n_items, 3);
    if (m.n_items == 3) {
        CHECK(!strcmp(m.items[0].id, "v1") && m.items[0].human[2] == 5);
        CHECK(m.items[1].human[0] == 2 && isnan(m.items[1].human[1]));
        CHECK(!strcmp(m.items[2].id, "v3") && isnan(m.items[2].human[0]));
        CHECK_EQ_INT(m.items[2].line, 4); /* blank line 2 skipped, lines counted */
    }
    vs2_manifest_free(&m);
}

static void test_csv(void) {
    vs2_manifest m = load("manifest.csv", VS2_MANIFEST_AUTO, 0);
    CHECK_EQ_INT(m.n_items, 2);
    if (m.n_items == 2) {
        CHECK(!strcmp(m.items[0].prompt, "a \"quoted\" prompt, with comma"));
        CHECK(!strcmp(m.items[1].prompt, "multi\nline"));
        CHECK(isnan(m.items[1].human[1]) && m.items[1].human[2] == 1);
    }
    vs2_manifest_free(&m);
}

static void test_native(void) {
    vs2_manifest m = load("vs2_bench.json", VS2_MANIFEST_AUTO, 0);
    CHECK_EQ_INT(m.format, VS2_MANIFEST_VS2_BENCH);
    CHECK(m.n_items == 2 && m.items[0].human[1] == 4 && isnan(m.items[1].human[2]));
    vs2_manifest_free(&m);

    m = load("vgrb_pairs.csv", VS2_MANIFEST_AUTO, 0);
    CHECK_EQ_INT(m.format, VS2_MANIFEST_VIDEOGEN_RB);
    CHECK_EQ_INT(m.n_items, 4);
    CHECK_EQ_INT(m.n_pairs, 3);
    if (m.n_pairs == 3) {
        CHECK(!strcmp(m.pairs[0].a, "Cog5B_00102") && !strcmp(m.pairs[0].b, "kling1.5_00102"));
        CHECK(m.pairs[0].pref[0] == VS2_PREF_SECOND && m.pairs[0].pref[1] == VS2_PREF_SAME &&
              m.pairs[0].pref[2] == VS2_PREF_SECOND);
    }
    vs2_manifest_free(&m);
    m = load("vgrb_pairs.csv", VS2_MANIFEST_VIDEOGEN_RB, VS2_MANIFEST_REFERENCE_QUIRKS);
    CHECK_EQ_INT(m.n_items, 4); /* row 1's videos come back in row 2; x_1, x_2 in row 3 */
    CHECK_EQ_INT(m.n_pairs, 3); /* the pairwise script reads every row */
    vs2_manifest_free(&m);

    m = load("t2vqa.txt", VS2_MANIFEST_AUTO, 0);
    CHECK_EQ_INT(m.n_items, 4);
    CHECK_EQ_INT(m.n_pairs, 3); /* 0001-0002 same (|diff|>1? no: 15.5), 0001-0003, 0002-0003 */
    if (m.n_items == 4) {
        CHECK(!strcmp(m.items[0].id, "0001") && m.items[0].human_overall == 55.0);
        CHECK(!strcmp(m.items[3].prompt, "a|b prompt with a bar"));
    }
    if (m.n_pairs == 3) {
        CHECK(m.pairs[0].pref[2] == VS2_PREF_SECOND); /* 55 vs 70.5 */
        CHECK(m.pairs[2].pref[2] == VS2_PREF_SAME);   /* 70.5 vs 70: |diff| <= 1 */
    }
    vs2_manifest_free(&m);

    m = load("mj_bench.json", VS2_MANIFEST_AUTO, 0);
    CHECK_EQ_INT(m.format, VS2_MANIFEST_MJ_BENCH);
    CHECK(m.n_items == 2 && m.n_pairs == 1);
    if (m.n_items == 2) CHECK(m.items[1].human[0] == 1 && m.items[1].human[2] == 2 && m.items[1].human_overall == 4);
    if (m.n_pairs == 1) CHECK(m.pairs[0].pref[2] == VS2_PREF_FIRST && m.pairs[0].pref[1] == VS2_PREF_SECOND);
    vs2_manifest_free(&m);

    m = load("videophy2.csv", VS2_MANIFEST_AUTO, 0);
    CHECK_EQ_INT(m.format, VS2_MANIFEST_VIDEOPHY2);
    CHECK(m.n_items == 2 && !strcmp(m.items[0].id, "a1") && isnan(m.items[0].human[0]) && m.items[0].human[1] == 4);
    vs2_manifest_free(&m);
    m = load("videophy2.csv", VS2_MANIFEST_VIDEOPHY2, VS2_MANIFEST_REFERENCE_QUIRKS);
    CHECK(m.n_items == 1 && !strcmp(m.items[0].id, "a2")); /* iloc[1:] drops the first row */
    vs2_manifest_free(&m);
}

static void expect_error(const char *text, vs2_manifest_format f, const char *needle) {
    vs2_manifest m;
    vs2_error err;
    vs2_status st = vs2_manifest_parse(text, strlen(text), "in.x", f, 0, &m, &err);
    CHECK(st != VS2_OK);
    CHECK_STR_CONTAINS(err.message, needle);
    CHECK(m.n_items == 0 && m.items == NULL);
}

static void test_errors(void) {
    expect_error("{\"id\":\"a\"}\n{oops\n", VS2_MANIFEST_JSONL, "in.x:2:");
    expect_error("{\"id\":\"a\",\"human_scores\":{\"visual_quality\":\"x\"}}\n", VS2_MANIFEST_JSONL,
                 "in.x:1: 'visual_quality' is not a number");
    expect_error("id,video,prompt\na,b,\"open\n", VS2_MANIFEST_CSV, "in.x:2: unterminated quoted field");
    expect_error("id,video,prompt,visual_quality\na,b,c,high\n", VS2_MANIFEST_CSV,
                 "in.x:2: column 'visual_quality': 'high' is not a number");
    expect_error("path_A,path_B,VQ\na,b,C\n", VS2_MANIFEST_VIDEOGEN_RB, "in.x:2: column 'VQ'");
    expect_error("prompt,VQ\nx,A\n", VS2_MANIFEST_VIDEOGEN_RB, "header has no 'path_A'");
    expect_error("a.mp4|p|1\nb.mp4 no bars\n", VS2_MANIFEST_T2VQA_DB, "in.x:2: expected 'file|prompt|score'");
    expect_error("[{\"prompt\":\"x\"}]", VS2_MANIFEST_VS2_BENCH, "record 1: no 'video_name'");
}

int main(void) {
    RUN(test_jsonl);
    RUN(test_csv);
    RUN(test_native);
    RUN(test_errors);
    return CHECK_DONE();
}
