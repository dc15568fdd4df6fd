/* fuzz_report.c — the HTML report's input: one or two result files from arbitrary bytes (split
 * at the first NUL), rendered to /dev/null without thumbnails (no video is opened). Checks that
 * rendering any parsable result set succeeds. */
#include "vs2.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *sep = memchr(data, 0, size);
    size_t len[2] = {sep ? (size_t)(sep - data) : size, sep ? size - (size_t)(sep - data) - 1 : 0};
    const char *text[2] = {(const char *)data, sep ? (const char *)sep + 1 : NULL};
    vs2_results r[2];
    vs2_results *rs[2];
    const char *names[2] = {"first <set>", "second & \"set\""};
    size_t n = 0;
    vs2_error err;
    for (int i = 0; i < (sep ? 2 : 1); i++)
        if (vs2_results_parse(text[i], len[i], names[i], &r[n], &err) == VS2_OK) {
            rs[n] = &r[n];
            n++;
        }
    if (n) {
        vs2_report_params p = vs2_report_default_params();
        p.make_thumbnails = 0;
        p.title = n == 2 ? "<script>alert(1)</script>" : NULL;
        if (vs2_report_write(rs, names, n, &p, "/dev/null", &err) != VS2_OK && err.status != VS2_ERR_NOMEM)
            abort(); /* a parsed result set must always render */
    }
    for (size_t i = 0; i < n; i++) vs2_results_free(&r[i]);
    return 0;
}
