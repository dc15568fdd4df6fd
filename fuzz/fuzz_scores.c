/* fuzz_scores.c — arbitrary text through both hard-score parses (src/scores.c): no crash, no
 * out-of-bounds access, robust values in 1..5 and a reason whenever it fails. */
#include "scores.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16) return 0;
    char *t = malloc(size ? size : 1); /* exact size, no NUL: parses must respect len */
    if (!t) return 0;
    if (size) memcpy(t, data, size);
    long s[VS2_NDIMS];
    (void)vs2_parse_hard_reference(t, size, s);
    char why[96];
    if (vs2_parse_hard_robust(t, size, s, why, sizeof why)) {
        for (int d = 0; d < VS2_NDIMS; d++)
            if (s[d] < 1 || s[d] > 5) abort();
    } else if (!why[0]) {
        abort();
    }
    free(t);
    return 0;
}
