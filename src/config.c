/* config.c — config.json and generation_config.json of a Qwen2.5-VL checkpoint.
 *
 * Two layouts of config.json are accepted:
 *   hub    : text parameters at the top level plus "vision_config" (the Qwen release files);
 *   nested : text parameters in "text_config" (transformers ≥ 4.52 re-saves, v5); a key absent
 *            there is looked up at the top level, where older re-saves duplicate it.
 * Keys that transformers' config classes default are defaulted the same way; the geometry keys
 * (whose class defaults describe other model sizes) are required. JSON null counts as absent.
 * docs/model-files.md lists every key, default and check. */
#include "internal.h"

#include <jansson.h>
#include <limits.h>
#include <string.h>

typedef struct {
    const char *file;
    vs2_error *err;
} jctx;

/* The value of key in the first object of objs that has it non-null; NULL when absent. */
static const json_t *lookup(const json_t *const *objs, int nobj, const char *key) {
    for (int i = 0; i < nobj; i++) {
        const json_t *v = objs[i] ? json_object_get(objs[i], key) : NULL;
        if (v && !json_is_null(v)) return v;
    }
    return NULL;
}

static vs2_status type_error(const jctx *c, const char *key, const char *want) {
    return vs2__fail(c->err, VS2_ERR_FORMAT, "%s: key \"%s\" must be %s", c->file, key, want);
}

static vs2_status missing(const jctx *c, const char *key) {
    return vs2__fail(c->err, VS2_ERR_FORMAT, "%s: required key \"%s\" is missing", c->file, key);
}

/* Upper bounds: every size a config can claim is bounded by what the architecture can mean
 * (with a wide margin over the largest Qwen2.5-VL, 72B), so that every shape product computed
 * from them fits 64-bit arithmetic with room to spare (the largest, hidden × merge² × hidden of
 * the vision merger, is below 2^48). docs/model-files.md lists them. */
#define MAX_WIDTH (1 << 16)      /* hidden sizes (72B: 8192) */
#define MAX_FFN (1 << 20)        /* intermediate sizes (72B: 29568) */
#define MAX_LAYERS 1024          /* layers and vision blocks (72B: 80) */
#define MAX_HEADS 1024           /* attention heads */
#define MAX_HEAD_DIM 1024        /* per-head width (128) */
#define MAX_ID ((1 << 24) - 1)   /* token ids and vocab_size: ids are exact in fp32 below 2^24 */
#define MAX_POSITIONS (1 << 24)  /* positions are exact in fp32 below 2^24 */
#define MAX_PATCH 256            /* patch_size in pixels (14) */
#define MAX_TPATCH 64            /* temporal_patch_size in frames (2) */
#define MAX_MERGE 16             /* spatial_merge_size (2) */
#define MAX_WINDOW 8192          /* window_size in pixels (112) */
#define MAX_CHANS 16             /* in_chans (3) */
#define MAX_TPS 1000             /* tokens_per_second: temporal positions per second (2) */

/* An integer in [lo, hi]. required=0 keeps *out (the default) when absent. */
static vs2_status get_int(const jctx *c, const json_t *v, const char *key, int required, int lo,
                          int hi, int *out) {
    if (!v) return required ? missing(c, key) : VS2_OK;
    if (!json_is_integer(v)) return type_error(c, key, "an integer");
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return vs2__fail(c->err, VS2_ERR_FORMAT, "%s: key \"%s\" = %lld is out of range [%d, %d]",
                         c->file, key, (long long)x, lo, hi);
    *out = (int)x;
    return VS2_OK;
}

static vs2_status get_num(const jctx *c, const json_t *v, const char *key, double *out) {
    if (!v) return VS2_OK;
    if (!json_is_number(v)) return type_error(c, key, "a number");
    *out = json_number_value(v);
    return VS2_OK;
}

/* true/false; 0/1 integers are accepted as Python truthiness would treat them. */
static vs2_status get_bool(const jctx *c, const json_t *v, const char *key, int *out) {
    if (!v) return VS2_OK;
    if (json_is_boolean(v)) *out = json_is_true(v);
    else if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1))
        *out = (int)json_integer_value(v);
    else return type_error(c, key, "true or false");
    return VS2_OK;
}

static vs2_status get_str(const jctx *c, const json_t *v, const char *key, char *out, size_t cap) {
    if (!v) return VS2_OK;
    if (!json_is_string(v)) return type_error(c, key, "a string");
    if (json_string_length(v) >= cap)
        return vs2__fail(c->err, VS2_ERR_FORMAT, "%s: key \"%s\" is longer than %zu bytes", c->file,
                         key, cap - 1);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return VS2_OK;
}

/* A token id: an integer ≥ 0, or a list whose first element is taken (config.json eos may be a
 * list; only the first id is kept there — generation_config.json carries the full list). */
static vs2_status get_token(const jctx *c, const json_t *v, const char *key, int *out) {
    if (v && json_is_array(v)) {
        if (json_array_size(v) == 0) return VS2_OK;
        v = json_array_get(v, 0);
    }
    return get_int(c, v, key, 0, 0, MAX_ID, out);
}

static vs2_status get_int_list(const jctx *c, const json_t *v, const char *key, int max, int hi,
                               int *vals, int *n) {
    if (!v) return VS2_OK;
    if (!json_is_array(v)) return type_error(c, key, "a list of integers");
    if (json_array_size(v) > (size_t)max)
        return vs2__fail(c->err, VS2_ERR_FORMAT, "%s: key \"%s\" has %zu entries, more than %d",
                         c->file, key, json_array_size(v), max);
    for (size_t i = 0; i < json_array_size(v); i++) {
        vs2_status s = get_int(c, json_array_get(v, i), key, 1, 0, hi, &vals[i]);
        if (s != VS2_OK) return s;
    }
    *n = (int)json_array_size(v);
    return VS2_OK;
}

/* Run a getter; bail out on the first error. */
#define TRY(expr)                                                                              \
    do {                                                                                       \
        vs2_status s_ = (expr);                                                                \
        if (s_ != VS2_OK) return s_;                                                           \
    } while (0)

/* "in_chans" (hub files) and "in_channels" (the transformers class) name the same value. */
static vs2_status get_alias(const jctx *c, const json_t *vc, const char *a, const char *b, int hi,
                            int *out) {
    const json_t *objs[1] = {vc};
    int va = *out, vb = *out;
    const json_t *ja = lookup(objs, 1, a), *jb = lookup(objs, 1, b);
    TRY(get_int(c, ja, a, 0, 1, hi, &va));
    TRY(get_int(c, jb, b, 0, 1, hi, &vb));
    if (ja && jb && va != vb)
        return vs2__fail(c->err, VS2_ERR_FORMAT, "%s: vision_config \"%s\" = %d but \"%s\" = %d",
                         c->file, a, va, b, vb);
    *out = ja ? va : vb;
    return VS2_OK;
}

static vs2_status parse_vision(const jctx *c, const json_t *vc, vs2_vision_config *v) {
    if (!vc) return missing(c, "vision_config");
    if (!json_is_object(vc)) return type_error(c, "vision_config", "an object");
    const json_t *o[1] = {vc};
    /* Defaults of Qwen2_5_VLVisionConfig, except the required widths. */
    v->in_chans = 3;
    v->patch_size = 14;
    v->temporal_patch_size = 2;
    v->spatial_merge_size = 2;
    v->window_size = 112;
    v->out_hidden_size = 3584;
    v->tokens_per_second = 4;
    v->n_fullatt = 4;
    const int fa[4] = {7, 15, 23, 31};
    memcpy(v->fullatt_block_indexes, fa, sizeof fa);
    strcpy(v->hidden_act, "silu");
    TRY(get_int(c, lookup(o, 1, "depth"), "vision_config.depth", 1, 1, MAX_LAYERS, &v->depth));
    TRY(get_int(c, lookup(o, 1, "hidden_size"), "vision_config.hidden_size", 1, 1, MAX_WIDTH, &v->hidden_size));
    TRY(get_int(c, lookup(o, 1, "num_heads"), "vision_config.num_heads", 1, 1, MAX_HEADS, &v->num_heads));
    TRY(get_int(c, lookup(o, 1, "intermediate_size"), "vision_config.intermediate_size", 1, 1, MAX_FFN,
                &v->intermediate_size));
    TRY(get_int(c, lookup(o, 1, "out_hidden_size"), "vision_config.out_hidden_size", 0, 1, MAX_WIDTH,
                &v->out_hidden_size));
    TRY(get_alias(c, vc, "in_chans", "in_channels", MAX_CHANS, &v->in_chans));
    TRY(get_alias(c, vc, "patch_size", "spatial_patch_size", MAX_PATCH, &v->patch_size));
    TRY(get_int(c, lookup(o, 1, "temporal_patch_size"), "vision_config.temporal_patch_size", 0, 1, MAX_TPATCH,
                &v->temporal_patch_size));
    TRY(get_int(c, lookup(o, 1, "spatial_merge_size"), "vision_config.spatial_merge_size", 0, 1, MAX_MERGE,
                &v->spatial_merge_size));
    TRY(get_int(c, lookup(o, 1, "window_size"), "vision_config.window_size", 0, 1, MAX_WINDOW, &v->window_size));
    TRY(get_int(c, lookup(o, 1, "tokens_per_second"), "vision_config.tokens_per_second", 0, 1, MAX_TPS,
                &v->tokens_per_second));
    TRY(get_int_list(c, lookup(o, 1, "fullatt_block_indexes"), "vision_config.fullatt_block_indexes",
                     VS2_MAX_FULLATT, MAX_LAYERS, v->fullatt_block_indexes, &v->n_fullatt));
    TRY(get_str(c, lookup(o, 1, "hidden_act"), "vision_config.hidden_act", v->hidden_act,
                sizeof v->hidden_act));
    return VS2_OK;
}

/* rope_scaling (hub, 4.x) or rope_parameters (v5): mrope_section is required, the type must be
 * plain RoPE ("mrope" is rewritten to "default" by transformers). */
static vs2_status parse_rope(const jctx *c, const json_t *const *t, int nt, vs2_config *cfg) {
    const json_t *r = lookup(t, nt, "rope_scaling");
    const char *rkey = "rope_scaling";
    if (!r) {
        r = lookup(t, nt, "rope_parameters");
        rkey = "rope_parameters";
    }
    if (!r) return missing(c, "rope_scaling");
    if (!json_is_object(r)) return type_error(c, rkey, "an object");
    const json_t *o[1] = {r};
    char type[32] = "default";
    const json_t *ty = lookup(o, 1, "rope_type");
    TRY(get_str(c, ty ? ty : lookup(o, 1, "type"), "rope_type", type, sizeof type));
    if (strcmp(type, "default") && strcmp(type, "mrope"))
        return vs2__fail(c->err, VS2_ERR_UNSUPPORTED, "%s: %s type '%s' is not supported (only plain "
                         "M-RoPE)", c->file, rkey, type);
    int n = 0;
    const json_t *ms = lookup(o, 1, "mrope_section");
    if (!ms) return vs2__fail(c->err, VS2_ERR_FORMAT, "%s: %s.mrope_section is missing", c->file, rkey);
    TRY(get_int_list(c, ms, "mrope_section", 3, MAX_HEAD_DIM, cfg->mrope_section, &n));
    if (n != 3)
        return vs2__fail(c->err, VS2_ERR_FORMAT, "%s: %s.mrope_section must have 3 entries, not %d",
                         c->file, rkey, n);
    TRY(get_num(c, lookup(o, 1, "rope_theta"), "rope_theta", &cfg->rope_theta));
    return get_num(c, lookup(t, nt, "rope_theta"), "rope_theta", &cfg->rope_theta);
}

static vs2_status parse_text(const jctx *c, const json_t *const *t, int nt, vs2_config *cfg) {
    TRY(get_int(c, lookup(t, nt, "hidden_size"), "hidden_size", 1, 1, MAX_WIDTH, &cfg->hidden_size));
    TRY(get_int(c, lookup(t, nt, "num_hidden_layers"), "num_hidden_layers", 1, 1, MAX_LAYERS,
                &cfg->num_hidden_layers));
    TRY(get_int(c, lookup(t, nt, "num_attention_heads"), "num_attention_heads", 1, 1, MAX_HEADS,
                &cfg->num_attention_heads));
    TRY(get_int(c, lookup(t, nt, "num_key_value_heads"), "num_key_value_heads", 1, 1, MAX_HEADS,
                &cfg->num_key_value_heads));
    TRY(get_int(c, lookup(t, nt, "intermediate_size"), "intermediate_size", 1, 1, MAX_FFN,
                &cfg->intermediate_size));
    TRY(get_int(c, lookup(t, nt, "vocab_size"), "vocab_size", 0, 1, MAX_ID + 1, &cfg->vocab_size));
    TRY(get_int(c, lookup(t, nt, "max_position_embeddings"), "max_position_embeddings", 0, 1,
                MAX_POSITIONS, &cfg->max_position_embeddings));
    cfg->head_dim = cfg->hidden_size / cfg->num_attention_heads;
    TRY(get_int(c, lookup(t, nt, "head_dim"), "head_dim", 0, 1, MAX_HEAD_DIM, &cfg->head_dim));
    TRY(get_num(c, lookup(t, nt, "rms_norm_eps"), "rms_norm_eps", &cfg->rms_norm_eps));
    TRY(get_bool(c, lookup(t, nt, "tie_word_embeddings"), "tie_word_embeddings",
                 &cfg->tie_word_embeddings));
    TRY(get_str(c, lookup(t, nt, "hidden_act"), "hidden_act", cfg->hidden_act, sizeof cfg->hidden_act));
    const json_t *dt = lookup(t, nt, "torch_dtype");
    TRY(get_str(c, dt ? dt : lookup(t, nt, "dtype"), "torch_dtype", cfg->torch_dtype,
                sizeof cfg->torch_dtype));
    int sliding = 0;
    TRY(get_bool(c, lookup(t, nt, "use_sliding_window"), "use_sliding_window", &sliding));
    if (sliding)
        return vs2__fail(c->err, VS2_ERR_UNSUPPORTED,
                         "%s: use_sliding_window = true is not supported", c->file);
    return parse_rope(c, t, nt, cfg);
}

/* Token ids: vision ids live at the top level in both layouts (text_config may hold nulls). */
static vs2_status parse_tokens(const jctx *c, const json_t *root, const json_t *text,
                               vs2_config *cfg) {
    const json_t *top_first[2] = {root, text}, *text_first[2] = {text ? text : root, root};
    struct { const char *key; int *out; const json_t *const *order; } keys[] = {
        {"bos_token_id", &cfg->bos_token_id, text_first},
        {"eos_token_id", &cfg->eos_token_id, text_first},
        {"vision_start_token_id", &cfg->vision_start_token_id, top_first},
        {"vision_end_token_id", &cfg->vision_end_token_id, top_first},
        {"vision_token_id", &cfg->vision_token_id, top_first},
        {"image_token_id", &cfg->image_token_id, top_first},
        {"video_token_id", &cfg->video_token_id, top_first},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        TRY(get_token(c, lookup(keys[i].order, text ? 2 : 1, keys[i].key), keys[i].key, keys[i].out));
    return VS2_OK;
}

static void config_defaults(vs2_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->vocab_size = 152064;
    cfg->max_position_embeddings = 128000; /* Qwen2_5_VLTextConfig default and the hub value */
    cfg->rms_norm_eps = 1e-5; /* Qwen2_5_VLTextConfig default; the hub file says 1e-6 */
    cfg->rope_theta = 1000000.0;
    strcpy(cfg->hidden_act, "silu");
    cfg->bos_token_id = cfg->eos_token_id = cfg->vision_token_id = -1;
    /* Qwen2_5_VLConfig class defaults. */
    cfg->vision_start_token_id = 151652;
    cfg->vision_end_token_id = 151653;
    cfg->image_token_id = 151655;
    cfg->video_token_id = 151656;
}

static vs2_status parse_root(const jctx *c, const json_t *root, vs2_config *cfg) {
    if (!json_is_object(root)) return vs2__fail(c->err, VS2_ERR_FORMAT, "%s: not a JSON object", c->file);
    const json_t *mt = json_object_get(root, "model_type");
    if (!mt || json_is_null(mt)) return missing(c, "model_type");
    TRY(get_str(c, mt, "model_type", cfg->model_type, sizeof cfg->model_type));
    if (strcmp(cfg->model_type, "qwen2_5_vl"))
        return vs2__fail(c->err, VS2_ERR_UNSUPPORTED, "%s: model_type '%s' is not supported "
                         "(expected 'qwen2_5_vl')", c->file, cfg->model_type);
    const json_t *text = json_object_get(root, "text_config");
    if (text && json_is_null(text)) text = NULL;
    if (text && !json_is_object(text)) return type_error(c, "text_config", "an object");
    strcpy(cfg->layout, text ? "nested" : "hub");
    const json_t *t[2] = {text ? text : root, root};
    TRY(parse_text(c, t, text ? 2 : 1, cfg));
    TRY(parse_tokens(c, root, text, cfg));
    return parse_vision(c, json_object_get(root, "vision_config"), &cfg->vision);
}

/* ---- consistency ---------------------------------------------------------------------------- */

typedef struct {
    const char *file;
    void (*problem)(void *, const vs2_error *);
    void *user;
    vs2_status first;
} checker;

static void bad(checker *k, const char *fmt, ...) VS2_PRINTF(2, 3);
static void bad(checker *k, const char *fmt, ...) {
    vs2_error e;
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vs2__fail(&e, VS2_ERR_MODEL, "%s: %s", k->file, msg);
    if (k->first == VS2_OK) k->first = VS2_ERR_MODEL;
    if (k->problem) k->problem(k->user, &e);
}

static void check_text(checker *k, const vs2_config *c) {
    if (c->hidden_size % c->num_attention_heads)
        bad(k, "hidden_size %d is not divisible by num_attention_heads %d", c->hidden_size,
            c->num_attention_heads);
    if ((int64_t)c->head_dim * c->num_attention_heads != c->hidden_size)
        bad(k, "head_dim %d × num_attention_heads %d != hidden_size %d (Qwen2.5-VL requires it)",
            c->head_dim, c->num_attention_heads, c->hidden_size);
    if (c->num_attention_heads % c->num_key_value_heads)
        bad(k, "num_attention_heads %d is not divisible by num_key_value_heads %d",
            c->num_attention_heads, c->num_key_value_heads);
    int64_t ms = (int64_t)c->mrope_section[0] + c->mrope_section[1] + c->mrope_section[2];
    if (c->head_dim % 2 || ms != c->head_dim / 2)
        bad(k, "mrope_section [%d, %d, %d] sums to %lld, but head_dim/2 = %d", c->mrope_section[0],
            c->mrope_section[1], c->mrope_section[2], (long long)ms, c->head_dim / 2);
    if (!(c->rms_norm_eps > 0) || !(c->rope_theta > 0))
        bad(k, "rms_norm_eps (%g) and rope_theta (%g) must be positive", c->rms_norm_eps,
            c->rope_theta);
    if (strcmp(c->hidden_act, "silu")) bad(k, "hidden_act '%s' is not supported (silu)", c->hidden_act);
}

static void check_vision(checker *k, const vs2_config *c) {
    const vs2_vision_config *v = &c->vision;
    if (v->hidden_size % v->num_heads || (v->hidden_size / v->num_heads) % 4)
        bad(k, "vision_config: hidden_size %d / num_heads %d must be a whole head_dim divisible by 4 "
            "(2-D rotary)", v->hidden_size, v->num_heads);
    int64_t unit = (int64_t)v->patch_size * v->spatial_merge_size;
    if (v->window_size % unit)
        bad(k, "vision_config: window_size %d is not a multiple of patch_size × spatial_merge_size "
            "= %lld", v->window_size, (long long)unit);
    if (v->out_hidden_size != c->hidden_size)
        bad(k, "vision_config: out_hidden_size %d != hidden_size %d of the language model",
            v->out_hidden_size, c->hidden_size);
    for (int i = 0; i < v->n_fullatt; i++) {
        int b = v->fullatt_block_indexes[i];
        if (b >= v->depth) bad(k, "vision_config: fullatt_block_indexes[%d] = %d is not below depth %d", i, b, v->depth);
        if (i && b <= v->fullatt_block_indexes[i - 1])
            bad(k, "vision_config: fullatt_block_indexes must be strictly increasing (entry %d)", i);
    }
    if (strcmp(v->hidden_act, "silu"))
        bad(k, "vision_config: hidden_act '%s' is not supported (silu)", v->hidden_act);
}

static void check_token(checker *k, const vs2_config *c, const char *key, int id) {
    if (id >= c->vocab_size) bad(k, "%s %d is not below vocab_size %d", key, id, c->vocab_size);
}

vs2_status vs2__config_check(const vs2_config *c, const char *file,
                             void (*problem)(void *user, const vs2_error *e), void *user) {
    checker k = {file ? file : "config.json", problem, user, VS2_OK};
    check_text(&k, c);
    check_vision(&k, c);
    check_token(&k, c, "bos_token_id", c->bos_token_id);
    check_token(&k, c, "eos_token_id", c->eos_token_id);
    check_token(&k, c, "vision_start_token_id", c->vision_start_token_id);
    check_token(&k, c, "vision_end_token_id", c->vision_end_token_id);
    check_token(&k, c, "vision_token_id", c->vision_token_id);
    check_token(&k, c, "image_token_id", c->image_token_id);
    check_token(&k, c, "video_token_id", c->video_token_id);
    return k.first;
}

/* Keep the first consistency problem as the error of vs2_config_parse. */
static void keep_first(void *user, const vs2_error *e) {
    vs2_error *err = user;
    if (err && err->status == VS2_OK) *err = *e;
}

static vs2_status load_json(const char *json, size_t len, const char *file, json_t **root,
                            vs2_error *err) {
    json_error_t jerr;
    *root = NULL;
    if (!json && len) return vs2__fail(err, VS2_ERR_INVALID_ARG, "%s: no text", file);
    *root = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!*root)
        return vs2__fail(err, VS2_ERR_FORMAT, "%s: invalid JSON at line %d, column %d: %s", file,
                         jerr.line, jerr.column, jerr.text);
    return VS2_OK;
}

vs2_status vs2_config_parse(const char *json, size_t len, const char *name, vs2_config *out,
                            vs2_error *err) {
    const char *file = name ? name : "config.json";
    vs2_config cfg;
    config_defaults(&cfg);
    json_t *root;
    vs2_status ls = load_json(json, len, file, &root, err);
    if (ls != VS2_OK) return ls;
    jctx c = {file, err};
    vs2_status s = parse_root(&c, root, &cfg);
    json_decref(root);
    if (s != VS2_OK) return s;
    /* The struct is filled even when inconsistent, so callers (inspect) can show it. */
    if (out) *out = cfg;
    vs2_error first;
    vs2__ok(&first);
    s = vs2__config_check(&cfg, file, keep_first, &first);
    if (s != VS2_OK) return vs2__fail(err, s, "%s", first.message);
    vs2__ok(err);
    return VS2_OK;
}

/* ---- generation_config.json ----------------------------------------------------------------- */

static vs2_status parse_eos_list(const jctx *c, const json_t *v, vs2_generation_config *g) {
    if (!v) return VS2_OK;
    if (json_is_integer(v)) {
        g->n_eos = 1;
        return get_int(c, v, "eos_token_id", 1, 0, MAX_ID, &g->eos_token_ids[0]);
    }
    return get_int_list(c, v, "eos_token_id", VS2_MAX_EOS, MAX_ID, g->eos_token_ids, &g->n_eos);
}

static vs2_status parse_generation(const jctx *c, const json_t *root, vs2_generation_config *g) {
    if (!json_is_object(root)) return vs2__fail(c->err, VS2_ERR_FORMAT, "%s: not a JSON object", c->file);
    const json_t *o[1] = {root};
    TRY(get_bool(c, lookup(o, 1, "do_sample"), "do_sample", &g->do_sample));
    TRY(get_num(c, lookup(o, 1, "temperature"), "temperature", &g->temperature));
    TRY(get_int(c, lookup(o, 1, "top_k"), "top_k", 0, 0, MAX_ID + 1, &g->top_k));
    TRY(get_num(c, lookup(o, 1, "top_p"), "top_p", &g->top_p));
    TRY(get_num(c, lookup(o, 1, "repetition_penalty"), "repetition_penalty", &g->repetition_penalty));
    TRY(get_int(c, lookup(o, 1, "max_new_tokens"), "max_new_tokens", 0, 0, MAX_POSITIONS, &g->max_new_tokens));
    TRY(get_token(c, lookup(o, 1, "bos_token_id"), "bos_token_id", &g->bos_token_id));
    TRY(get_token(c, lookup(o, 1, "pad_token_id"), "pad_token_id", &g->pad_token_id));
    TRY(parse_eos_list(c, lookup(o, 1, "eos_token_id"), g));
    if (g->temperature < 0 || g->top_p < 0 || g->top_p > 1 || !(g->repetition_penalty > 0))
        return vs2__fail(c->err, VS2_ERR_FORMAT,
                         "%s: temperature %g, top_p %g or repetition_penalty %g is out of range",
                         c->file, g->temperature, g->top_p, g->repetition_penalty);
    return VS2_OK;
}

vs2_status vs2_generation_config_parse(const char *json, size_t len, const char *name,
                                       vs2_generation_config *out, vs2_error *err) {
    const char *file = name ? name : "generation_config.json";
    /* transformers' GenerationConfig defaults. */
    vs2_generation_config g = {.present = 1, .do_sample = 0, .temperature = 1.0, .top_k = 50,
                               .top_p = 1.0, .repetition_penalty = 1.0, .max_new_tokens = -1,
                               .bos_token_id = -1, .pad_token_id = -1, .n_eos = 0};
    json_t *root;
    vs2_status ls = load_json(json, len, file, &root, err);
    if (ls != VS2_OK) return ls;
    jctx c = {file, err};
    vs2_status s = parse_generation(&c, root, &g);
    json_decref(root);
    if (s != VS2_OK) return s;
    if (out) *out = g;
    vs2__ok(err);
    return VS2_OK;
}
