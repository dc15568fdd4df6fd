/* test_status.c — status strings, error formatting and id arrays. */
#include "check.h"
#include "internal.h"

#include <sys/stat.h>
#include <unistd.h>

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

/* Special files: every reader refuses them by kind at once. A FIFO without a writer would block
 * a plain open() forever (the test would hang, and ctest's timeout would fail it). */
static void test_special_files(void) {
    char dir[] = "/tmp/vs2-status-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char fifo[64];
    snprintf(fifo, sizeof fifo, "%s/fifo.json", dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    const char *paths[] = {fifo, "/dev/null", "/dev/urandom", dir};
    const char *kinds[] = {"a FIFO", "a character device", "a character device", "a directory"};
    for (int i = 0; i < 4; i++) {
        vs2_error e;
        char *data = NULL;
        size_t len = 0;
        CHECK_EQ_INT(vs2__read_file(paths[i], 1 << 20, &data, &len, &e), VS2_ERR_IO);
        CHECK(data == NULL);
        CHECK_MSG(strstr(e.message, paths[i]) && strstr(e.message, kinds[i]), "%s", e.message);
        CHECK_EQ_INT(vs2__open_regular(paths[i], &e), -1);
        vs2_results r;
        CHECK_EQ_INT(vs2_results_load(paths[i], &r, &e), VS2_ERR_IO);
        vs2_manifest m;
        CHECK(vs2_manifest_load(paths[i], VS2_MANIFEST_JSONL, 0, &m, &e) != VS2_OK);
        CHECK_MSG(strstr(e.message, kinds[i]), "%s", e.message);
    }
    /* A regular file still reads, in full. */
    char reg[64];
    snprintf(reg, sizeof reg, "%s/ok.txt", dir);
    FILE *f = fopen(reg, "w");
    CHECK(f && fputs("hello", f) >= 0 && fclose(f) == 0);
    char *data = NULL;
    size_t len = 0;
    vs2_error e;
    CHECK_EQ_INT(vs2__read_file(reg, 100, &data, &len, &e), VS2_OK);
    CHECK(len == 5 && data && !strcmp(data, "hello"));
    free(data);
    CHECK_EQ_INT(vs2__read_file(reg, 4, &data, &len, &e), VS2_ERR_FORMAT); /* the cap */
    remove(reg);
    remove(fifo);
    rmdir(dir);
}

int main(void) {
    RUN(test_strerror_distinct);
    RUN(test_fail_formats);
    RUN(test_ids_grow);
    RUN(test_read_file_missing);
    RUN(test_special_files);
    return CHECK_DONE();
}
