/* request.c — request bodies to srv_request: the JSON shapes of the native API, Flow-Factory's
 * /compute and OpenAI's chat completions (docs/server.md). Pure parsing and validation: no
 * file is opened and no video decoded here, so the whole of it is fuzzed (fuzz/fuzz_server.c).
 * Every error names the field ("items[2].video.fps") and the cause. */
#include "server.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int srv_fail(srv_error *e, int http, const char *fmt, ...) {
    if (!e) return -1;
    e->http = http;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- base64 ---------------------------------------------------------------------------------- */

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

int srv_base64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    while (len > 0 && s[len - 1] == '=') len--;
    if (len % 4 == 1) return -1;
    uint8_t *buf = malloc(len / 4 * 3 + 3);
    if (!buf) return -1;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0) {
            free(buf);
            return -1;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (uint8_t)(acc >> bits);
        }
    }
    *out = buf;
    *out_len = n;
    return 0;
}

/* ---- options: the library's table (vs2_score_params_set), as vs2 score reads them -------------- */

static int get_int(json_t *v, const char *where, const char *name, long long lo, long long hi, long long *out,
                   srv_error *e) {
    if (!json_is_integer(v))
        return srv_fail(e, 400, "%s%s: expected an integer in [%lld, %lld]", where, name, lo, hi);
    long long x = json_integer_value(v);
    if (x < lo || x > hi) return srv_fail(e, 422, "%s%s: expected an integer in [%lld, %lld], got %lld", where, name, lo, hi, x);
    *out = x;
    return 0;
}

/* name with '-' read as '_' ("max-new-tokens" == "max_new_tokens"). */
static int name_is(const char *name, const char *want) {
    for (; *name && *want; name++, want++)
        if (*name != *want && !((*name == '-' || *name == '_') && (*want == '_' || *want == '-'))) return 0;
    return *name == *want;
}

/* One option: the server's own ("answer", OpenAI's "max_tokens"), else a scoring option of the
 * library's table set from its JSON value as text, with the table's ranges and messages. */
static int set_option(srv_request *r, const srv_config *cfg, const char *name, json_t *v, const char *where,
                      srv_error *e) {
    if (name_is(name, "answer")) {
        const char *a = json_string_value(v);
        if (!a) return srv_fail(e, 400, "%sanswer: expected a string (the answer to score by teacher forcing)", where);
        free(r->answer);
        if (!(r->answer = strdup(a))) return srv_fail(e, 500, "out of memory");
        r->sp.answer = r->answer;
        return 0;
    }
    if (name_is(name, "max_tokens") || name_is(name, "max_completion_tokens")) name = "max-new-tokens";
    const vs2_option *o = vs2_option_find(name);
    if (!o || o->scope != VS2_OPT_SCORE || name_is(name, "max_video_tokens"))
        return srv_fail(e, 400, "%s%s: unknown option (see docs/server.md, \"Options\")", where, name);
    char text[64];
    if (json_is_string(v)) snprintf(text, sizeof text, "%s", json_string_value(v));
    else if (json_is_integer(v)) snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) snprintf(text, sizeof text, "%.17g", json_real_value(v));
    else if (json_is_boolean(v)) snprintf(text, sizeof text, "%s", json_is_true(v) ? "true" : "false");
    else return srv_fail(e, 400, "%s%s: expected a %s", where, name, o->type == VS2_OPT_FLAG ? "boolean" : "number or string");
    vs2_error err;
    if (vs2_score_params_set(&r->sp, name, text, &err) != VS2_OK) return srv_fail(e, 422, "%s%s", where, err.message);
    if (r->sp.max_new_tokens > cfg->max_new_tokens)
        return srv_fail(e, 422, "%smax_new_tokens: %d is over this server's limit %d (--max-new-tokens-limit)", where,
                        r->sp.max_new_tokens, cfg->max_new_tokens);
    if (r->sp.samples > 64) return srv_fail(e, 422, "%ssamples: %d is over this server's limit 64", where, r->sp.samples);
    return 0;
}

static int finish_options(srv_request *r, const char *where, srv_error *e) {
    vs2_error err;
    if (vs2_score_params_check(&r->sp, &err) != VS2_OK) return srv_fail(e, 422, "%s%s", where, err.message);
    return 0;
}

static int parse_options(srv_request *r, json_t *opts, const srv_config *cfg, srv_error *e) {
    if (opts && !json_is_null(opts)) {
        if (!json_is_object(opts)) return srv_fail(e, 400, "options: expected an object");
        const char *k;
        json_t *v;
        json_object_foreach(opts, k, v) if (set_option(r, cfg, k, v, "options.", e)) return -1;
    }
    return finish_options(r, "options: ", e);
}

int srv_reward_from_name(const char *name, vs2_rank_params *rp) {
    static const char *const dims[VS2_NDIMS] = {"visual_quality", "text_alignment", "physical_consistency"};
    *rp = vs2_rank_default_params();
    char base[64];
    const char *colon = strchr(name, ':');
    size_t bl = colon ? (size_t)(colon - name) : strlen(name);
    if (bl >= sizeof base) return -1;
    memcpy(base, name, bl);
    base[bl] = 0;
    for (int d = 0; d < VS2_NDIMS; d++) {
        if (strcmp(base, dims[d])) continue;
        int by = colon ? vs2_rank_by_from_name(colon + 1) : VS2_RANK_HARD;
        if (by < 0) return -1;
        rp->by = (vs2_rank_by)by;
        rp->weighted = 1;
        for (int j = 0; j < VS2_NDIMS; j++) rp->weights[j] = j == d;
        return 0;
    }
    if (colon) return -1;
    int by = vs2_rank_by_from_name(name);
    if (by < 0) return -1;
    rp->by = (vs2_rank_by)by;
    return 0;
}

/* ---- media ----------------------------------------------------------------------------------- */

static int set_fps(srv_media *m, json_t *v, const char *where, srv_error *e) {
    if (!v || json_is_null(v))
        return srv_fail(e, 422, "%s.fps is required with frames: without it the temporal positions would be wrong",
                        where);
    if (!json_is_number(v)) return srv_fail(e, 400, "%s.fps: expected a number", where);
    m->fps = json_number_value(v);
    if (!isfinite(m->fps) || !(m->fps > 0) || m->fps > 1000)
        return srv_fail(e, 422, "%s.fps: must be finite and in (0, 1000]", where);
    return 0;
}

/* "data:<mime>;base64,<payload>": the payload and whether the mime is an image. */
static const char *data_url_payload(const char *url, int *is_image) {
    if (strncmp(url, "data:", 5)) return NULL;
    const char *comma = strchr(url, ',');
    if (!comma) return NULL;
    const char *b64 = strstr(url, ";base64");
    if (!b64 || b64 > comma) return NULL;
    if (is_image) *is_image = !strncmp(url + 5, "image/", 6);
    return comma + 1;
}

static int decode_b64_field(const char *s, const char *where, uint8_t **out, size_t *n, srv_error *e) {
    int img = 0;
    const char *p = data_url_payload(s, &img);
    if (!p) p = s;
    if (srv_base64_decode(p, strlen(p), out, n)) return srv_fail(e, 400, "%s: not valid base64", where);
    if (*n == 0) {
        free(*out);
        *out = NULL;
        return srv_fail(e, 422, "%s: empty", where);
    }
    return 0;
}

int srv_media_frames(srv_media *m, json_t *frames, const srv_config *cfg, const char *where, srv_error *e);
int srv_media_frames(srv_media *m, json_t *frames, const srv_config *cfg, const char *where, srv_error *e) {
    size_t n = json_array_size(frames);
    if (!json_is_array(frames) || n == 0) return srv_fail(e, 400, "%s: expected a non-empty list of base64 images", where);
    if (n > cfg->max_frames) return srv_fail(e, 413, "%s: %zu frames, more than the limit %zu (--max-frames)", where, n, cfg->max_frames);
    m->kind = SRV_SRC_IMAGES;
    m->frames = calloc(n, sizeof *m->frames);
    m->frame_sizes = calloc(n, sizeof *m->frame_sizes);
    if (!m->frames || !m->frame_sizes) return srv_fail(e, 500, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(frames, i));
        char w[96];
        snprintf(w, sizeof w, "%s[%zu]", where, i);
        if (!s) return srv_fail(e, 400, "%s: expected a base64 string", w);
        if (decode_b64_field(s, w, &m->frames[i], &m->frame_sizes[i], e)) return -1;
        m->n_frames = i + 1;
    }
    return 0;
}

static int parse_raw(srv_media *m, json_t *v, const srv_config *cfg, const char *where, srv_error *e) {
    json_t *shape = json_object_get(v, "shape");
    const char *s = json_string_value(json_object_get(v, "raw"));
    if (!s) return srv_fail(e, 400, "%s.raw: expected base64 uint8 RGB frames", where);
    if (json_array_size(shape) != 4 || json_integer_value(json_array_get(shape, 3)) != 3)
        return srv_fail(e, 400, "%s.shape: expected [frames, height, width, 3]", where);
    long long dim[3];
    for (int i = 0; i < 3; i++) {
        json_t *d = json_array_get(shape, (size_t)i);
        if (!json_is_integer(d) || (dim[i] = json_integer_value(d)) < 1 || dim[i] > 1 << 16)
            return srv_fail(e, 400, "%s.shape[%d]: expected an integer in [1, 65536]", where, i);
    }
    if ((size_t)dim[0] > cfg->max_frames) return srv_fail(e, 413, "%s: %lld frames, more than the limit %zu", where, dim[0], cfg->max_frames);
    if (dim[1] * dim[2] > cfg->max_frame_pixels)
        return srv_fail(e, 413, "%s: frames of %lldx%lld are over the limit of %lld pixels", where, dim[2], dim[1],
                        (long long)cfg->max_frame_pixels);
    m->kind = SRV_SRC_RAW;
    if (decode_b64_field(s, where, &m->data, &m->size, e)) return -1;
    if (m->size != (size_t)(dim[0] * dim[1] * dim[2] * 3))
        return srv_fail(e, 422, "%s.raw: %zu bytes, the shape needs %lld", where, m->size, dim[0] * dim[1] * dim[2] * 3);
    m->n_frames = (size_t)dim[0];
    m->height = (int)dim[1];
    m->width = (int)dim[2];
    return 0;
}

static int set_path(srv_media *m, const char *p, const char *where, srv_error *e) {
    if (!strncmp(p, "http://", 7) || !strncmp(p, "https://", 8) || strstr(p, "://") ) {
        if (strncmp(p, "file://", 7))
            return srv_fail(e, 422, "%s: '%.80s' is a URL; vs2 serve never fetches from the network (send a path "
                            "under the media root, or the bytes)", where, p);
        p += 7;
    }
    if (!*p) return srv_fail(e, 400, "%s: empty path", where);
    m->kind = SRV_SRC_PATH;
    m->size_bytes = -1;
    return (m->path = strdup(p)) ? 0 : srv_fail(e, 500, "out of memory");
}

/* A video: "path", {"path", "size_bytes", "sha256"}, {"data"}, {"frames", "fps"}, {"raw", "shape", "fps"}. */
static int parse_media(srv_media *m, json_t *v, const srv_config *cfg, const char *where, srv_error *e) {
    memset(m, 0, sizeof *m);
    if (json_is_string(v)) {
        int img = 0;
        const char *s = json_string_value(v);
        if (data_url_payload(s, &img)) {
            if (img) return srv_fail(e, 422, "%s: an image data URL is one frame; send frames with an fps", where);
            m->kind = SRV_SRC_FILE;
            return decode_b64_field(s, where, &m->data, &m->size, e);
        }
        return set_path(m, s, where, e);
    }
    if (!json_is_object(v)) return srv_fail(e, 400, "%s: expected a path or an object (path, data, frames or raw)", where);
    json_t *path = json_object_get(v, "path"), *data = json_object_get(v, "data"),
           *frames = json_object_get(v, "frames"), *raw = json_object_get(v, "raw");
    if (!!path + !!data + !!frames + !!raw != 1)
        return srv_fail(e, 400, "%s: expected exactly one of path, data, frames, raw", where);
    char w[96];
    if (path) {
        if (!json_is_string(path)) return srv_fail(e, 400, "%s.path: expected a string", where);
        if (set_path(m, json_string_value(path), where, e)) return -1;
        json_t *sz = json_object_get(v, "size_bytes"), *h = json_object_get(v, "sha256");
        long long ll = 0;
        if (sz && get_int(sz, where, ".size_bytes", 0, INT64_MAX, &ll, e)) return -1;
        if (sz) m->size_bytes = ll;
        if (h) {
            const char *hs = json_string_value(h);
            if (!hs || strlen(hs) != 64 || strspn(hs, "0123456789abcdefABCDEF") != 64)
                return srv_fail(e, 400, "%s.sha256: expected 64 hex digits", where);
            if (!(m->sha256 = strdup(hs))) return srv_fail(e, 500, "out of memory");
        }
        return 0;
    }
    if (data) {
        snprintf(w, sizeof w, "%s.data", where);
        if (!json_is_string(data)) return srv_fail(e, 400, "%s: expected base64 (mp4, webm, ... bytes)", w);
        m->kind = SRV_SRC_FILE;
        return decode_b64_field(json_string_value(data), w, &m->data, &m->size, e);
    }
    if (set_fps(m, json_object_get(v, "fps"), where, e)) return -1;
    if (raw) return parse_raw(m, v, cfg, where, e);
    snprintf(w, sizeof w, "%s.frames", where);
    return srv_media_frames(m, frames, cfg, w, e);
}

/* ---- request shapes -------------------------------------------------------------------------- */

static int check_keys(json_t *o, const char *const *allowed, const char *where, srv_error *e) {
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int ok = 0;
        for (int i = 0; allowed[i] && !ok; i++) ok = !strcmp(k, allowed[i]);
        if (!ok) return srv_fail(e, 400, "%s%s: unknown field", where, k);
    }
    (void)v;
    return 0;
}

static int set_prompt(srv_item *it, json_t *p, const char *where, srv_error *e) {
    const char *s = json_string_value(p);
    if (!s) return srv_fail(e, 400, "%s: expected a string (the text-to-video prompt)", where);
    if (!*s) return srv_fail(e, 422, "%s: empty prompt", where);
    return (it->prompt = strdup(s)) ? 0 : srv_fail(e, 500, "out of memory");
}

static int alloc_items(srv_request *r, size_t n, const srv_config *cfg, const char *where, srv_error *e) {
    if (n == 0) return srv_fail(e, 400, "%s: expected a non-empty list", where);
    if (n > cfg->max_items) return srv_fail(e, 413, "%s: %zu videos, more than the limit %zu (--max-items)", where, n, cfg->max_items);
    if (!(r->items = calloc(n, sizeof *r->items))) return srv_fail(e, 500, "out of memory");
    r->n = n;
    return 0;
}

static int item_name(srv_item *it, size_t i) {
    char b[64];
    if (it->media.kind == SRV_SRC_PATH) it->name = strdup(it->media.path);
    else snprintf(b, sizeof b, "upload #%zu", i), it->name = strdup(b);
    return it->name ? 0 : -1;
}

static int parse_score(srv_request *r, json_t *root, const srv_config *cfg, srv_error *e) {
    static const char *const keys[] = {"video", "prompt", "options", "id", NULL};
    if (check_keys(root, keys, "", e) || alloc_items(r, 1, cfg, "video", e)) return -1;
    if (set_prompt(&r->items[0], json_object_get(root, "prompt"), "prompt", e)) return -1;
    json_t *v = json_object_get(root, "video");
    if (!v) return srv_fail(e, 400, "video: missing");
    if (parse_media(&r->items[0].media, v, cfg, "video", e)) return -1;
    return parse_options(r, json_object_get(root, "options"), cfg, e);
}

static int parse_batch(srv_request *r, json_t *root, const srv_config *cfg, srv_error *e) {
    static const char *const keys[] = {"items", "options", "id", NULL};
    static const char *const ikeys[] = {"video", "prompt", "id", NULL};
    if (check_keys(root, keys, "", e)) return -1;
    json_t *items = json_object_get(root, "items");
    if (!json_is_array(items)) return srv_fail(e, 400, "items: expected a list of {video, prompt}");
    if (alloc_items(r, json_array_size(items), cfg, "items", e)) return -1;
    for (size_t i = 0; i < r->n; i++) {
        json_t *it = json_array_get(items, i);
        char w[64];
        snprintf(w, sizeof w, "items[%zu].", i);
        if (!json_is_object(it)) return srv_fail(e, 400, "items[%zu]: expected an object", i);
        if (check_keys(it, ikeys, w, e)) return -1;
        snprintf(w, sizeof w, "items[%zu].prompt", i);
        if (set_prompt(&r->items[i], json_object_get(it, "prompt"), w, e)) return -1;
        snprintf(w, sizeof w, "items[%zu].video", i);
        json_t *v = json_object_get(it, "video");
        if (!v) return srv_fail(e, 400, "%s: missing", w);
        if (parse_media(&r->items[i].media, v, cfg, w, e)) return -1;
    }
    return parse_options(r, json_object_get(root, "options"), cfg, e);
}

static int parse_rank_key(srv_request *r, json_t *root, srv_error *e) {
    json_t *by = json_object_get(root, "by"), *w = json_object_get(root, "weights");
    if (by) {
        const char *s = json_string_value(by);
        if (!s || srv_reward_from_name(s, &r->rp))
            return srv_fail(e, 422, "by: expected hard, robust, soft, soft_expected or a dimension name");
    }
    if (w) {
        if (json_array_size(w) != VS2_NDIMS) return srv_fail(e, 400, "weights: expected 3 numbers (v, t, p)");
        for (size_t d = 0; d < VS2_NDIMS; d++) {
            json_t *x = json_array_get(w, d);
            if (!json_is_number(x) || !isfinite(json_number_value(x)))
                return srv_fail(e, 400, "weights[%zu]: expected a finite number", d);
            r->rp.weights[d] = json_number_value(x);
        }
        r->rp.weighted = 1;
    }
    return 0;
}

static int parse_rank(srv_request *r, json_t *root, const srv_config *cfg, srv_error *e) {
    static const char *const keys[] = {"prompt", "videos", "options", "by", "weights", "full", "id", NULL};
    if (check_keys(root, keys, "", e)) return -1;
    json_t *videos = json_object_get(root, "videos"), *full = json_object_get(root, "full");
    if (!json_is_array(videos)) return srv_fail(e, 400, "videos: expected a list of candidate videos");
    if (alloc_items(r, json_array_size(videos), cfg, "videos", e)) return -1;
    for (size_t i = 0; i < r->n; i++) {
        char w[64];
        snprintf(w, sizeof w, "videos[%zu]", i);
        if (set_prompt(&r->items[i], json_object_get(root, "prompt"), "prompt", e)) return -1;
        if (parse_media(&r->items[i].media, json_array_get(videos, i), cfg, w, e)) return -1;
    }
    if (full && !json_is_boolean(full)) return srv_fail(e, 400, "full: expected true or false");
    r->full = json_is_true(full);
    if (parse_rank_key(r, root, e)) return -1;
    return parse_options(r, json_object_get(root, "options"), cfg, e);
}

/* Flow-Factory: {"prompt": [...], "video": [[b64 PNG, ...], ...] | null, "image": [...] | null,
 * "condition_images", "condition_videos", "kwargs": {...} | null}. kwargs carries the trainer's
 * own arguments: only fps, reward and options are read; the rest is ignored. */
static int parse_compute(srv_request *r, json_t *root, const srv_config *cfg, srv_error *e) {
    json_t *prompt = json_object_get(root, "prompt"), *video = json_object_get(root, "video"),
           *image = json_object_get(root, "image"), *kw = json_object_get(root, "kwargs");
    if (!json_is_array(prompt)) return srv_fail(e, 400, "prompt: expected a list of prompts");
    if (image && !json_is_null(image) && (!video || json_is_null(video)))
        return srv_fail(e, 422, "image: VideoScore2 scores videos; send \"video\" (lists of frames)");
    if (!json_is_array(video)) return srv_fail(e, 400, "video: expected a list of videos (each a list of base64 frames)");
    if (json_array_size(video) != json_array_size(prompt))
        return srv_fail(e, 400, "video: %zu videos for %zu prompts", json_array_size(video), json_array_size(prompt));
    if (kw && !json_is_null(kw) && !json_is_object(kw)) return srv_fail(e, 400, "kwargs: expected an object or null");
    double fps = cfg->compute_fps;
    json_t *kfps = json_object_get(kw, "fps");
    if (kfps) {
        if (!json_is_number(kfps) || !isfinite(json_number_value(kfps)) || !(json_number_value(kfps) > 0))
            return srv_fail(e, 422, "kwargs.fps: expected a finite number > 0");
        fps = json_number_value(kfps);
    }
    const char *reward = cfg->compute_reward ? cfg->compute_reward : "hard";
    json_t *kr = json_object_get(kw, "reward");
    if (kr && !(reward = json_string_value(kr))) return srv_fail(e, 400, "kwargs.reward: expected a string");
    if (srv_reward_from_name(reward, &r->rp))
        return srv_fail(e, 422, "reward '%s': expected hard, robust, soft, soft_expected or a dimension name", reward);
    if (alloc_items(r, json_array_size(video), cfg, "video", e)) return -1;
    for (size_t i = 0; i < r->n; i++) {
        char w[64];
        snprintf(w, sizeof w, "prompt[%zu]", i);
        if (set_prompt(&r->items[i], json_array_get(prompt, i), w, e)) return -1;
        snprintf(w, sizeof w, "video[%zu]", i);
        if (!(fps > 0))
            return srv_fail(e, 422, "%s: frames need their frame rate: start vs2 serve with --compute-fps F or send "
                            "kwargs.fps (without it the temporal positions would be wrong)", w);
        r->items[i].media.fps = fps;
        if (srv_media_frames(&r->items[i].media, json_array_get(video, i), cfg, w, e)) return -1;
    }
    json_t *opts = json_object_get(kw, "options");
    return parse_options(r, opts, cfg, e);
}

/* ---- OpenAI chat completions ------------------------------------------------------------------- */

/* The templates' text around $t2v_prompt. */
char *srv_prompt_from_template(const char *text, vs2_template *tmpl) {
    static const char mark[] = "\x01vs2-mark\x01";
    for (int t = VS2_TEMPLATE_EVAL; t <= VS2_TEMPLATE_INF; t++) {
        char *full = vs2_prompt_render((vs2_template)t, mark);
        if (!full) return NULL;
        char *at = strstr(full, mark);
        size_t pre = at ? (size_t)(at - full) : 0, post = at ? strlen(at + sizeof mark - 1) : 0, n = strlen(text);
        char *out = NULL;
        if (at && n >= pre + post && !strncmp(text, full, pre) && !strcmp(text + n - post, at + sizeof mark - 1)) {
            if ((out = malloc(n - pre - post + 1))) {
                memcpy(out, text + pre, n - pre - post);
                out[n - pre - post] = 0;
                *tmpl = (vs2_template)t;
            }
        }
        free(full);
        if (out) return out;
    }
    return NULL;
}

static int chat_text(srv_item *it, srv_request *r, const char *text, srv_error *e) {
    vs2_template t;
    char *p = srv_prompt_from_template(text, &t);
    if (p) r->sp.tmpl = t;
    else p = strdup(text); /* a bare T2V prompt: the default template around it */
    if (!p) return srv_fail(e, 500, "out of memory");
    if (!*p) {
        free(p);
        return srv_fail(e, 422, "messages: the prompt inside the template is empty");
    }
    it->prompt = p;
    return 0;
}

static int chat_part(srv_item *it, srv_request *r, json_t *part, size_t i, char **text, json_t *frames,
                     const srv_config *cfg, srv_error *e) {
    const char *type = json_string_value(json_object_get(part, "type"));
    if (!type) return srv_fail(e, 400, "messages: content[%zu].type: expected a string", i);
    if (!strcmp(type, "text")) {
        const char *t = json_string_value(json_object_get(part, "text"));
        if (!t) return srv_fail(e, 400, "messages: content[%zu].text: expected a string", i);
        if (*text) return srv_fail(e, 422, "messages: more than one text part; send the prompt as one text");
        return (*text = strdup(t)) ? 0 : srv_fail(e, 500, "out of memory");
    }
    if (!strcmp(type, "image_url")) {
        const char *u = json_string_value(json_object_get(json_object_get(part, "image_url"), "url"));
        if (!u) u = json_string_value(json_object_get(part, "image_url"));
        if (!u) return srv_fail(e, 400, "messages: content[%zu].image_url.url: expected a string", i);
        if (!data_url_payload(u, NULL))
            return srv_fail(e, 422, "messages: content[%zu]: image_url frames must be data URLs (vs2 serve never "
                            "fetches from the network)", i);
        return json_array_append_new(frames, json_string(u)) ? srv_fail(e, 500, "out of memory") : 0;
    }
    if (!strcmp(type, "video_url") || !strcmp(type, "video")) {
        if (it->media.kind || it->media.path || it->media.data || json_array_size(frames))
            return srv_fail(e, 422, "messages: more than one video");
        json_t *vu = json_object_get(part, type);
        const char *u = json_is_string(vu) ? json_string_value(vu) : json_string_value(json_object_get(vu, "url"));
        if (!u) return srv_fail(e, 400, "messages: content[%zu].%s.url: expected a string", i, type);
        char w[64];
        snprintf(w, sizeof w, "messages: content[%zu].%s", i, type);
        json_t *s = json_string(u);
        int rc = s ? parse_media(&it->media, s, cfg, w, e) : srv_fail(e, 500, "out of memory");
        json_decref(s);
        return rc;
    }
    (void)r;
    return srv_fail(e, 422, "messages: content[%zu].type '%s' is not supported (text, image_url, video_url)", i, type);
}

static double chat_fps(json_t *root) {
    json_t *f = json_object_get(root, "fps");
    if (!f) f = json_object_get(json_object_get(root, "mm_processor_kwargs"), "fps");
    return f ? (json_is_number(f) ? json_number_value(f) : -1) : 0;
}

static int parse_chat(srv_request *r, json_t *root, const srv_config *cfg, srv_error *e) {
    json_t *msgs = json_object_get(root, "messages");
    if (!json_is_array(msgs) || !json_array_size(msgs)) return srv_fail(e, 400, "messages: expected a non-empty list");
    json_t *stream = json_object_get(root, "stream");
    if (json_is_true(stream)) return srv_fail(e, 422, "stream: streaming is not supported; send stream: false");
    json_t *n = json_object_get(root, "n");
    if (n && !json_is_null(n) && !(json_is_integer(n) && json_integer_value(n) == 1))
        return srv_fail(e, 422, "n: only 1 is supported (use options.samples on /v1/score for several samples)");
    json_t *user = NULL;
    for (size_t i = json_array_size(msgs); i-- > 0 && !user;) {
        json_t *m = json_array_get(msgs, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && !strcmp(role, "user")) user = m;
        else if (!role || (strcmp(role, "system") && strcmp(role, "developer")))
            return srv_fail(e, 422, "messages[%zu]: only system and user turns are scored", i);
    }
    if (!user) return srv_fail(e, 400, "messages: no user message");
    json_t *content = json_object_get(user, "content");
    if (!json_is_array(content)) return srv_fail(e, 422, "messages: the user content must hold the video and the prompt as parts");
    if (alloc_items(r, 1, cfg, "messages", e)) return -1;
    srv_item *it = &r->items[0];
    char *text = NULL;
    json_t *frames = json_array();
    int rc = frames ? 0 : srv_fail(e, 500, "out of memory");
    for (size_t i = 0; !rc && i < json_array_size(content); i++)
        rc = chat_part(it, r, json_array_get(content, i), i, &text, frames, cfg, e);
    if (!rc && !text) rc = srv_fail(e, 400, "messages: no text part (the VideoScore2 prompt)");
    if (!rc && json_array_size(frames)) {
        if (it->media.kind || it->media.path || it->media.data) rc = srv_fail(e, 422, "messages: both a video and frames");
        double fps = chat_fps(root);
        if (!rc && !(fps > 0 && isfinite(fps) && fps <= 1000))
            rc = srv_fail(e, 422, "fps: image_url frames need their frame rate (\"fps\" or mm_processor_kwargs.fps, "
                          "finite, > 0); without it the temporal positions would be wrong");
        it->media.fps = fps;
        if (!rc) rc = srv_media_frames(&it->media, frames, cfg, "messages: image_url frames", e);
    } else if (!rc && !it->media.path && !it->media.data) {
        rc = srv_fail(e, 400, "messages: no video (a video_url part or image_url frames)");
    }
    json_decref(frames);
    if (!rc) rc = chat_text(it, r, text, e);
    free(text);
    if (rc) return -1;
    /* OpenAI decoding fields map onto the options. */
    static const char *const mapped[] = {"temperature", "top_p", "seed", "max_tokens", "max_completion_tokens",
                                         "top_k", "repetition_penalty", NULL};
    for (int k = 0; mapped[k]; k++) {
        json_t *v = json_object_get(root, mapped[k]);
        if (v && !json_is_null(v) && set_option(r, cfg, mapped[k], v, "", e)) return -1;
    }
    json_t *lp = json_object_get(root, "logprobs"), *tl = json_object_get(root, "top_logprobs");
    r->logprobs = json_is_true(lp);
    if (tl && !json_is_null(tl)) {
        long long x = 0;
        if (get_int(tl, "", "top_logprobs", 0, 20, &x, e)) return -1;
        r->top_logprobs = (int)x;
    }
    const char *model = json_string_value(json_object_get(root, "model"));
    if (model && !(r->model = strdup(model))) return srv_fail(e, 500, "out of memory");
    return finish_options(r, "", e);
}

int srv_parse_request(srv_endpoint ep, const char *body, size_t len, const srv_config *cfg, srv_request **out,
                      srv_error *e) {
    *out = NULL;
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) return srv_fail(e, 400, "request body: not JSON: %s (line %d, column %d)", je.text, je.line, je.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return srv_fail(e, 400, "request body: expected a JSON object");
    }
    srv_request *r = calloc(1, sizeof *r);
    if (!r) {
        json_decref(root);
        return srv_fail(e, 500, "out of memory");
    }
    r->ep = ep;
    r->sp = cfg->defaults;
    r->sp.answer = NULL;
    r->rp = vs2_rank_default_params();
    int rc;
    switch (ep) {
    case SRV_EP_SCORE: rc = parse_score(r, root, cfg, e); break;
    case SRV_EP_BATCH: rc = parse_batch(r, root, cfg, e); break;
    case SRV_EP_RANK: rc = parse_rank(r, root, cfg, e); break;
    case SRV_EP_COMPUTE: rc = parse_compute(r, root, cfg, e); break;
    case SRV_EP_CHAT: rc = parse_chat(r, root, cfg, e); break;
    default: rc = srv_fail(e, 404, "no such endpoint");
    }
    for (size_t i = 0; rc == 0 && i < r->n; i++)
        if (item_name(&r->items[i], i)) rc = srv_fail(e, 500, "out of memory");
    json_decref(root);
    if (rc) {
        srv_request_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

static void media_free(srv_media *m) {
    free(m->path);
    free(m->sha256);
    free(m->data);
    for (size_t i = 0; m->frames && i < m->n_frames; i++) free(m->frames[i]);
    free(m->frames);
    free(m->frame_sizes);
}

void srv_request_free(srv_request *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->items[i].prompt);
        free(r->items[i].name);
        media_free(&r->items[i].media);
    }
    free(r->items);
    free(r->answer);
    free(r->model);
    free(r);
}
