/* fuzz_config.c — libFuzzer target: arbitrary bytes as config.json and generation_config.json.
 * Both parsers must fail cleanly (status + message naming the file) or fill a sane struct. */
#include "vs2.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    vs2_config c;
    vs2_error err;
    vs2_status s = vs2_config_parse(buf, size, "config.json", &c, &err);
    if (s != VS2_OK && (err.status != s || !strstr(err.message, "config.json"))) abort();
    if (s == VS2_OK) {
        /* Accepted configs are consistent: the derived sizes are usable without checks. */
        if (c.hidden_size <= 0 || c.head_dim * c.num_attention_heads != c.hidden_size ||
            c.num_attention_heads % c.num_key_value_heads ||
            c.mrope_section[0] + c.mrope_section[1] + c.mrope_section[2] != c.head_dim / 2 ||
            c.vision.n_fullatt < 0 || c.vision.n_fullatt > VS2_MAX_FULLATT ||
            memchr(c.model_type, 0, sizeof c.model_type) == NULL)
            abort();
    }
    vs2_generation_config g;
    s = vs2_generation_config_parse(buf, size, "generation_config.json", &g, &err);
    if (s != VS2_OK && (err.status != s || !strstr(err.message, "generation_config.json"))) abort();
    if (s == VS2_OK && (g.n_eos < 0 || g.n_eos > VS2_MAX_EOS)) abort();
    free(buf);
    return 0;
}
