/* test_status.c — status strings, error formatting and id arrays. */
#include "check.h"
#include "internal.h"

static void test_strerror_distinct(void) {
    /* Every code has its own text, so a message never hides which failure happened. */
    for (int a = VS2_OK; a <= VS2_ERR_INTERNAL; a++)
        for (int b = a + 1; b <= VS2_ERR_INTERNAL; b++)
            CHECK(strcmp(vs2_strerror((vs2_status)a), vs2_strerror((vs2_status)b)) != 0);
    CHECK(strcmp(vs2_strerror((vs2_status)999), "unknown status") == 0);
}

static void test_fail_formats(void) {
    vs2_error e;
    vs2_status s = vs2__fail(&e, VS2_ERR_FORMAT, "%s: bad byte at %d", "x.bin", 7);
    CHECK_EQ_INT(s, VS2_ERR_FORMAT);
    CHECK_EQ_INT(e.status, VS2_ERR_FORMAT);
    CHECK(strcmp(e.message, "x.bin: bad byte at 7") == 0);
    CHECK_EQ_INT(vs2__fail(NULL, VS2_ERR_IO, "ignored"), VS2_ERR_IO);
}

static void test_ids_grow(void) {
    vs2_ids ids = {0};
    for (int i = 0; i < 1000; i++) CHECK_EQ_INT(vs2__ids_push(&ids, i * 3), VS2_OK);
    CHECK_EQ_INT(ids.n, 1000);
    int ok = 1;
    for (int i = 0; i < 1000; i++) ok &= ids.ids[i] == i * 3;
    CHECK(ok);
    vs2_ids_free(&ids);
    CHECK(ids.ids == NULL && ids.n == 0);
}

static void test_read_file_missing(void) {
    char *d;
    size_t n;
    vs2_error e;
    CHECK_EQ_INT(vs2__read_file("/nonexistent/vs2/file.json", 0, &d, &n, &e), VS2_ERR_IO);
    CHECK_STR_CONTAINS(e.message, "/nonexistent/vs2/file.json");
    CHECK(d == NULL);
}

int main(void) {
    RUN(test_strerror_distinct);
    RUN(test_fail_formats);
    RUN(test_ids_grow);
    RUN(test_read_file_missing);
    return CHECK_DONE();
}
