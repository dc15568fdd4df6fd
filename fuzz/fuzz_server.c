/* fuzz_server.c — arbitrary bodies through `vs2 serve`'s request parsing (src/server/request.c)
 * for every endpoint: the first byte picks the endpoint, the rest is the body. No crash, no leak,
 * no out-of-bounds access; a refusal always carries an HTTP status and a message, and an accepted
 * request has at least one item, each with a prompt and a video. Also the template recogniser
 * and base64 on the same bytes. */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 1 << 16) return 0;
    srv_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.model_name = "fuzz";
    cfg.max_items = 8;
    cfg.max_frames = 16;
    cfg.max_frame_pixels = 1 << 20;
    cfg.max_new_tokens = 64;
    cfg.compute_fps = (data[0] & 0x80) ? 8 : 0;
    cfg.defaults = vs2_score_default_params();
    srv_endpoint ep = (srv_endpoint)(data[0] % SRV_EP_N);
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    srv_request *r = NULL;
    srv_error e = {0, ""};
    if (srv_parse_request(ep, body, len, &cfg, &r, &e) == 0) {
        if (!r || r->n == 0) abort();
        for (size_t i = 0; i < r->n; i++)
            if (!r->items[i].prompt || !r->items[i].name) abort();
        srv_request_free(r);
    } else if (r || e.http < 400 || !e.msg[0]) {
        abort();
    }
    char *text = malloc(len + 1);
    if (!text) return 0;
    memcpy(text, body, len);
    text[len] = 0;
    vs2_template t;
    free(srv_prompt_from_template(text, &t));
    uint8_t *out;
    size_t n;
    if (srv_base64_decode(text, strlen(text), &out, &n) == 0) free(out);
    vs2_rank_params rp;
    (void)srv_reward_from_name(text, &rp);
    free(text);
    return 0;
}
