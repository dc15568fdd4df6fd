/* fuzz_safetensors.c — libFuzzer target: arbitrary bytes as a safetensors file image.
 * vs2_safetensors_parse must reject or accept without crashing or reading out of bounds; every
 * tensor it accepts must lie inside the input and be aligned. */
#include "vs2.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *base;
    size_t size;
} region;

static void visit(const vs2_tensor *t, void *user) {
    const region *r = user;
    const uint8_t *p = t->data;
    size_t es = vs2_dtype_size(t->dtype);
    if (es == 0 || p < r->base || t->offset > r->size || t->nbytes > r->size - t->offset ||
        p != r->base + t->offset || (t->nbytes && t->offset % es))
        abort();
    /* Touch the first and last byte so ASan sees any bad range. */
    volatile uint8_t sink = 0;
    if (t->nbytes) sink ^= p[0] ^ p[t->nbytes - 1];
    (void)sink;
    if (!t->name || !t->stored_name || strlen(t->name) > r->size) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* Copy into an exact-size heap block so reads past the end are caught by ASan. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    region r = {buf, size};
    vs2_error err;
    vs2_status s = vs2_safetensors_parse(buf, size, "fuzz.safetensors", visit, &r, &err);
    if (s != VS2_OK && (err.status != s || !strstr(err.message, "fuzz.safetensors"))) abort();
    free(buf);
    return 0;
}
