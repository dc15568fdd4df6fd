/* fuzz_manifest.c — every manifest loader and the result-file reader on arbitrary bytes.
 * The first byte picks the format (and the reference-quirks flag). */
#include "vs2.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    vs2_manifest_format f = (vs2_manifest_format)(data[0] % 8);
    unsigned flags = (data[0] & 0x80) ? VS2_MANIFEST_REFERENCE_QUIRKS : 0;
    vs2_manifest m;
    vs2_error err;
    if (vs2_manifest_parse((const char *)data + 1, size - 1, "fuzz", f, flags, &m, &err) == VS2_OK)
        vs2_manifest_free(&m);
    vs2_results r;
    if (vs2_results_parse((const char *)data + 1, size - 1, "fuzz", &r, &err) == VS2_OK) {
        vs2_metrics mt;
        vs2_metrics_params p = vs2_metrics_default_params();
        vs2_metrics_compute(&r, &p, &mt, &err);
        vs2_results_free(&r);
    }
    return 0;
}
