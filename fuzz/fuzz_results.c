/* fuzz_results.c — the result-file reader (vs2 JSONL and the reference's JSON list) on arbitrary
 * bytes, then what every reader of a result set does next: join a manifest, compute metrics,
 * look up every item's score under each method. */
#include "vs2.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input is "results\x00manifest" (the manifest part optional, read as JSONL). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *sep = memchr(data, 0, size);
    size_t rlen = sep ? (size_t)(sep - data) : size;
    vs2_results r;
    vs2_error err;
    if (vs2_results_parse((const char *)data, rlen, "fuzz", &r, &err) != VS2_OK) return 0;
    if (sep) {
        vs2_manifest m;
        if (vs2_manifest_parse((const char *)sep + 1, size - rlen - 1, "fuzz-manifest", VS2_MANIFEST_JSONL, 0, &m,
                               &err) == VS2_OK) {
            vs2_results_join(&r, &m);
            vs2_manifest_free(&m);
        }
    }
    static const char *const methods[] = {"vs2", "vs2_robust", "vs2_float", "vs2_float_weighted", "video_reward",
                                          "vision_reward"};
    static const char *const benches[] = {"vs2_bench", "videogen_reward_bench", "t2vqa_db", "mj_bench_video",
                                          "video_phy2_test"};
    for (size_t i = 0; i < r.n; i++)
        for (int d = 0; d < VS2_NDIMS; d++)
            (void)vs2_result_model_score(&r.items[i], r.is_vs2, methods[(i + (size_t)d) % 6], d);
    /* One (bench, method) pair per input keeps an execution cheap; the first byte picks it. */
    vs2_metrics_params p = vs2_metrics_default_params();
    p.method = methods[(size ? data[0] : 0) % 6];
    p.bench = benches[(size ? data[0] / 6 : 0) % 5];
    vs2_metrics mt;
    vs2_metrics_compute(&r, &p, &mt, &err);
    vs2_results_free(&r);
    return 0;
}
