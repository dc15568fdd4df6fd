/* options.c — the one table of scoring options (name, type, range, default, help) and the one
 * parser of their values, shared by `vs2 score`, `vs2 batch`, `vs2 rank`, the server and the
 * Python package, so that a name, a limit or a message cannot drift between front ends. */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The field an option writes. */
typedef enum opt_field {
    F_MODEL, F_THREADS, F_BACKEND, F_WEIGHT_CACHE,
    F_TEMPLATE,
    F_SAMPLE, F_TEMPERATURE, F_TOP_K, F_TOP_P, F_REPETITION_PENALTY, F_SEED, F_SAMPLES, F_MAX_NEW_TOKENS,
    F_FPS, F_NFRAMES, F_MAX_FRAMES, F_MIN_PIXELS, F_MAX_PIXELS, F_TOTAL_PIXELS, F_MAX_VIDEO_TOKENS
} opt_field;

/* One row: what front ends see (vs2_option) and how a value is checked. Numbers must lie in
 * [lo, hi]; lo_open excludes lo itself (fps > 0). */
typedef struct opt_spec {
    vs2_option o;
    opt_field field;
    double lo, hi;
    int lo_open;
} opt_spec;

#define E VS2_OPT_ENGINE
#define S VS2_OPT_SCORE
#define STR(x) #x
#define XSTR(x) STR(x)

/* The table. Ranges keep the limits the commands have always had. */
static const opt_spec SPECS[] = {
    {{"model", VS2_OPT_STRING, "DIR|owner/name", VS2_DEFAULT_MODEL,
      "model directory or Hugging Face repo id in the local cache", E, "M", "model"}, F_MODEL, 0, 0, 0},
    {{"threads", VS2_OPT_INT, "1..4096", "one per core", "compute threads", E, "N", "model"},
     F_THREADS, 1, 4096, 0},
    {{"backend", VS2_OPT_STRING, "auto|q8|ref", "auto",
      "CPU kernels: auto ($VS2_BACKEND if set, else q8 on AVX-512 VNNI CPUs, else ref),\n"
      "q8 (int8), ref (the exact fp32 reference path)", E, "B", "model"}, F_BACKEND, 0, 0, 0},
    {{"weight-cache", VS2_OPT_STRING, "DIR|off", "~/.cache/vs2",
      "where int8 weights are kept for the next load (docs/perf.md); off = never", E, "DIR|off", "model"},
     F_WEIGHT_CACHE, 0, 0, 0},
    {{"template", VS2_OPT_ENUM, "eval|inf", "eval",
      "T-EVAL (the paper's harness) or T-INF (vs2_inference.py)", S, "eval|inf", "prompt"}, F_TEMPLATE, 0, 0, 0},
    {{"sample", VS2_OPT_FLAG, "true|false", "false",
      "sample: temperature 0.7, top-k/top-p from generation_config (default: greedy)", S, NULL, "decoding"},
     F_SAMPLE, 0, 0, 0},
    {{"temperature", VS2_OPT_DOUBLE, "[0, inf)", "0.7 when sampling",
      "T > 0 implies --sample; 0 means greedy", S, "T", "decoding"}, F_TEMPERATURE, 0, INFINITY, 0},
    {{"top-k", VS2_OPT_INT, "0..1073741824", "generation_config's",
      "sampling filter; 0 = off (applies when sampling)", S, "K", "decoding"}, F_TOP_K, 0, 1 << 30, 0},
    {{"top-p", VS2_OPT_DOUBLE, "(0, 1]", "generation_config's", "sampling filter (applies when sampling)",
      S, "P", "decoding"}, F_TOP_P, 0, 1, 1},
    {{"repetition-penalty", VS2_OPT_DOUBLE, "(0, inf)", "generation_config's",
      "applies to greedy decoding too, as in transformers", S, "R", "decoding"},
     F_REPETITION_PENALTY, 0, INFINITY, 1},
    {{"seed", VS2_OPT_INT, "0..18446744073709551615", "0", "sampling seed (sample i uses seed + i)", S, "S",
      "decoding"}, F_SEED, 0, 0, 0},
    {{"samples", VS2_OPT_INT, "1..10000", "1",
      "N seeded samples (seeds S, S+1, ...; N > 1 implies --sample) and their means", S, "N", "decoding"},
     F_SAMPLES, 1, 10000, 0},
    {{"max-new-tokens", VS2_OPT_INT, "1..1048576", "1024", "longest answer generated", S, "N", "decoding"},
     F_MAX_NEW_TOKENS, 1, 1 << 20, 0},
    {{"fps", VS2_OPT_DOUBLE, "(0, inf)", "2.0", "frame sampling rate", S, "F", "video"}, F_FPS, 0, INFINITY, 1},
    {{"nframes", VS2_OPT_INT, "2..100000", "from --fps", "exactly N frames (rounded to even), instead of --fps",
      S, "N", "video"}, F_NFRAMES, 2, 100000, 0},
    {{"max-frames", VS2_OPT_INT, "2..100000", "min(768, all frames)", "at most N frames", S, "N", "video"},
     F_MAX_FRAMES, 2, 100000, 0},
    {{"min-pixels", VS2_OPT_INT, "1..1099511627776", "100352", "per-frame minimum of pixels", S, "N", "video"},
     F_MIN_PIXELS, 1, 1099511627776.0, 0},
    {{"max-pixels", VS2_OPT_INT, "1..1099511627776", "602112", "per-frame cap of pixels", S, "N", "video"},
     F_MAX_PIXELS, 1, 1099511627776.0, 0},
    {{"total-pixels", VS2_OPT_INT, "1..1099511627776", "90316800", "pixel budget over all frames", S, "N",
      "video"}, F_TOTAL_PIXELS, 1, 1099511627776.0, 0},
    {{"max-video-tokens", VS2_OPT_INT, "0..1099511627776", XSTR(VS2_DEFAULT_MAX_VIDEO_TOKENS),
      "refuse a video that plans more tokens (0 = no limit);\n60 s of 480p at 2 fps plans about 30,600", S,
      "N", "video"}, F_MAX_VIDEO_TOKENS, 0, 1099511627776.0, 0},
};

#undef E
#undef S

enum { N_OPTS = sizeof SPECS / sizeof *SPECS };

static vs2_option PUBLIC[N_OPTS];
static pthread_once_t public_once = PTHREAD_ONCE_INIT;

static void fill_public(void) {
    for (size_t i = 0; i < N_OPTS; i++) PUBLIC[i] = SPECS[i].o;
}

const vs2_option *vs2_options(size_t *n) {
    pthread_once(&public_once, fill_public);
    if (n) *n = N_OPTS;
    return PUBLIC;
}

/* "--max-new-tokens", "max-new-tokens" and "max_new_tokens" name the same option. */
static const opt_spec *find_spec(const char *name) {
    if (!name) return NULL;
    if (name[0] == '-' && name[1] == '-') name += 2;
    for (size_t i = 0; i < N_OPTS; i++) {
        const char *a = SPECS[i].o.name, *b = name;
        while (*a && (*a == *b || (*a == '-' && *b == '_'))) a++, b++;
        if (!*a && !*b) return &SPECS[i];
    }
    return NULL;
}

const vs2_option *vs2_option_find(const char *name) {
    const opt_spec *s = find_spec(name);
    return s ? &vs2_options(NULL)[s - SPECS] : NULL;
}

/* ---- values ----------------------------------------------------------------------------- */

static vs2_status bad_value(const opt_spec *s, const char *value, const char *what, vs2_error *err) {
    return vs2__fail(err, VS2_ERR_INVALID_ARG, "--%s: expected %s, got '%s'", s->o.name, what, value);
}

static vs2_status out_of_range(const opt_spec *s, const char *value, vs2_error *err) {
    return vs2__fail(err, VS2_ERR_INVALID_ARG, "--%s: %s is out of range %s", s->o.name, value, s->o.range);
}

static int in_range(const opt_spec *s, double x) {
    return (s->lo_open ? x > s->lo : x >= s->lo) && x <= s->hi;
}

static vs2_status parse_int(const opt_spec *s, const char *v, long long *out, vs2_error *err) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end) return bad_value(s, v, "an integer", err);
    if (errno == ERANGE || !in_range(s, (double)x)) return out_of_range(s, v, err);
    *out = x;
    return VS2_OK;
}

static vs2_status parse_double(const opt_spec *s, const char *v, double *out, vs2_error *err) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || isnan(x)) return bad_value(s, v, "a number", err);
    if (errno == ERANGE || !in_range(s, x)) return out_of_range(s, v, err);
    *out = x;
    return VS2_OK;
}

/* A seed is any uint64: strtoull would silently wrap "-1". */
static vs2_status parse_u64(const opt_spec *s, const char *v, uint64_t *out, vs2_error *err) {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v || *end || strchr(v, '-')) return bad_value(s, v, "a non-negative integer", err);
    if (errno == ERANGE) return out_of_range(s, v, err);
    *out = x;
    return VS2_OK;
}

/* A flag alone (NULL or "") is on; true/false spelled as people and JSON do. */
static vs2_status parse_flag(const opt_spec *s, const char *v, int *out, vs2_error *err) {
    static const char *const on[] = {"1", "true", "yes", "on"}, *const off[] = {"0", "false", "no", "off"};
    if (!v || !*v) return *out = 1, VS2_OK;
    for (int i = 0; i < 4; i++) {
        if (!strcmp(v, on[i])) return *out = 1, VS2_OK;
        if (!strcmp(v, off[i])) return *out = 0, VS2_OK;
    }
    return bad_value(s, v, "true or false", err);
}

static vs2_status need_value(const opt_spec *s, const char *v, vs2_error *err) {
    if (s->o.type == VS2_OPT_FLAG) return VS2_OK;
    if (!v) return vs2__fail(err, VS2_ERR_INVALID_ARG, "--%s needs a value (%s)", s->o.name, s->o.range);
    if (!*v) return vs2__fail(err, VS2_ERR_INVALID_ARG, "--%s: the value is empty", s->o.name);
    return VS2_OK;
}

static vs2_status unknown(const char *name, const char *kind, vs2_error *err) {
    const opt_spec *s = find_spec(name);
    if (s)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "--%s is %s option, not %s one", s->o.name,
                         s->o.scope == VS2_OPT_ENGINE ? "an engine" : "a scoring", kind);
    return vs2__fail(err, VS2_ERR_INVALID_ARG, "unknown %s option '%s'", kind, name ? name : "(null)");
}

/* ---- setters ---------------------------------------------------------------------------- */

vs2_status vs2_engine_params_set(vs2_engine_params *p, const char *name, const char *value, vs2_error *err) {
    const opt_spec *s = find_spec(name);
    if (!p) return vs2__fail(err, VS2_ERR_INVALID_ARG, "engine params: NULL");
    if (!s || s->o.scope != VS2_OPT_ENGINE) return unknown(name, "engine", err);
    vs2_status st = need_value(s, value, err);
    long long ll = 0;
    if (st == VS2_OK && s->o.type == VS2_OPT_INT) st = parse_int(s, value, &ll, err);
    if (st != VS2_OK) return st;
    switch (s->field) {
    case F_MODEL: p->model = value; break;
    case F_THREADS: p->threads = (int)ll; break;
    case F_BACKEND: p->backend = value; break;
    case F_WEIGHT_CACHE: p->weight_cache = value; break;
    default: return vs2__fail(err, VS2_ERR_INTERNAL, "--%s: no engine field", s->o.name);
    }
    vs2__ok(err);
    return VS2_OK;
}

/* Decoding options also choose the mode: a temperature above 0, --sample and several samples
 * mean sampling; temperature 0 means greedy (as llama.cpp and transformers users expect) and is
 * kept as 0 so that vs2_score_params_check can refuse it beside --sample/--samples. */
static vs2_status set_decoding(vs2_score_params *p, opt_field f, double d, long long ll) {
    switch (f) {
    case F_SAMPLE: p->decoding = ll ? VS2_DECODE_SAMPLE : VS2_DECODE_GREEDY; break;
    case F_TEMPERATURE:
        p->temperature = d;
        p->decoding = d > 0 ? VS2_DECODE_SAMPLE : VS2_DECODE_GREEDY;
        break;
    case F_SAMPLES:
        p->samples = (int)ll;
        if (ll > 1) p->decoding = VS2_DECODE_SAMPLE; /* greedy samples would all be one answer */
        break;
    case F_TOP_K: p->top_k = (int)ll; break;
    case F_TOP_P: p->top_p = d; break;
    case F_REPETITION_PENALTY: p->repetition_penalty = d; break;
    case F_MAX_NEW_TOKENS: p->max_new_tokens = (int)ll; break;
    default: return VS2_ERR_INTERNAL;
    }
    return VS2_OK;
}

static vs2_status set_video(vs2_video_params *v, opt_field f, double d, long long ll) {
    switch (f) {
    case F_FPS: v->fps = d; break;
    case F_NFRAMES: v->nframes = (int)ll; break;
    case F_MAX_FRAMES: v->max_frames = (int)ll; break;
    case F_MIN_PIXELS: v->min_pixels = ll; break;
    case F_MAX_PIXELS: v->max_pixels = ll; break;
    case F_TOTAL_PIXELS: v->total_pixels = ll; break;
    case F_MAX_VIDEO_TOKENS: v->max_video_tokens = ll; break;
    default: return VS2_ERR_INTERNAL;
    }
    return VS2_OK;
}

static vs2_status parse_score_value(const opt_spec *s, vs2_score_params *p, const char *v, double *d,
                                    long long *ll, vs2_error *err) {
    int flag = 0;
    vs2_status st;
    switch (s->o.type) {
    case VS2_OPT_INT:
        if (s->field != F_SEED) return parse_int(s, v, ll, err);
        return parse_u64(s, v, &p->seed, err);
    case VS2_OPT_DOUBLE: return parse_double(s, v, d, err);
    case VS2_OPT_FLAG:
        st = parse_flag(s, v, &flag, err);
        *ll = flag;
        return st;
    case VS2_OPT_ENUM:
        if (!strcmp(v, "eval")) p->tmpl = VS2_TEMPLATE_EVAL;
        else if (!strcmp(v, "inf")) p->tmpl = VS2_TEMPLATE_INF;
        else return bad_value(s, v, "eval or inf", err);
        return VS2_OK;
    case VS2_OPT_STRING: break;
    }
    return vs2__fail(err, VS2_ERR_INTERNAL, "--%s: no scoring field", s->o.name);
}

vs2_status vs2_score_params_set(vs2_score_params *p, const char *name, const char *value, vs2_error *err) {
    const opt_spec *s = find_spec(name);
    if (!p) return vs2__fail(err, VS2_ERR_INVALID_ARG, "score params: NULL");
    if (!s || s->o.scope != VS2_OPT_SCORE) return unknown(name, "scoring", err);
    double d = 0;
    long long ll = 0;
    vs2_status st = need_value(s, value, err);
    if (st == VS2_OK) st = parse_score_value(s, p, value, &d, &ll, err);
    if (st != VS2_OK) return st;
    if (s->field == F_TEMPLATE || s->field == F_SEED) st = VS2_OK; /* written by the parse */
    else if (s->field >= F_FPS) st = set_video(&p->video, s->field, d, ll);
    else st = set_decoding(p, s->field, d, ll);
    if (st != VS2_OK) return vs2__fail(err, st, "--%s: no scoring field", s->o.name);
    vs2__ok(err);
    return VS2_OK;
}

vs2_status vs2_score_params_check(const vs2_score_params *p, vs2_error *err) {
    if (!p) return vs2__fail(err, VS2_ERR_INVALID_ARG, "score params: NULL");
    if (p->temperature == 0 && (p->decoding == VS2_DECODE_SAMPLE || p->samples > 1))
        return vs2__fail(err, VS2_ERR_INVALID_ARG,
                         "--temperature 0 is greedy decoding; it cannot go with --sample/--samples");
    if (p->samples > 1 && p->decoding != VS2_DECODE_SAMPLE)
        return vs2__fail(err, VS2_ERR_INVALID_ARG,
                         "--samples %d needs sampling: %d greedy samples would all be one answer", p->samples,
                         p->samples);
    if (p->samples < 1 || p->samples > 10000)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "--samples: %d is out of range 1..10000", p->samples);
    if (p->max_new_tokens < 1)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "--max-new-tokens: %d is out of range 1..1048576",
                         p->max_new_tokens);
    vs2__ok(err);
    return VS2_OK;
}
