/* endpoints.c — a parsed request run on the engine, and the answers: the native API (the result
 * object of `vs2 score --json`), Flow-Factory's {"rewards": [...]}, OpenAI's chat.completion,
 * and the bodies of /info and /v1/models. */
#include "server.h"

#include "engine_internal.h" /* vs2__set_logits_hook: the logprobs of generated tokens */

#include <jansson.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *const endpoint_names[SRV_EP_N] = {"/v1/score", "/v1/score/batch", "/v1/rank", "/compute",
                                                     "/v1/chat/completions"};

static int on_token_cancel(void *user, int sample, int step, int32_t id) {
    (void)sample, (void)step, (void)id;
    const volatile int *cancel = user;
    return *cancel != 0;
}

/* Score one item: decode its media, run the model. Returns 0 or -1 with e set. */
static int score_item(const srv_run *run, const srv_request *req, const srv_item *it, vs2_result **out, srv_error *e) {
    *out = NULL;
    vs2_score_params sp = req->sp;
    sp.on_token = on_token_cancel;
    sp.on_token_user = (void *)run->cancel;
    sp.video.max_video_tokens = run->cfg->max_video_tokens;
    vs2_video v;
    if (srv_media_load(&it->media, run->cfg, &sp.video, &v, e)) return -1;
    if (*run->cancel) {
        vs2_video_free(&v);
        return srv_fail(e, 504, "cancelled: the request timed out or the client went away");
    }
    vs2_error err;
    vs2_status st = vs2_score_video(run->eng, &v, it->prompt, &sp, out, &err);
    vs2_video_free(&v);
    if (st != VS2_OK) {
        int http = err.status == VS2_ERR_NOMEM ? 503 : err.status == VS2_ERR_INTERNAL ? 500 : 422;
        if (strstr(err.message, "video tokens") || strstr(err.message, "context")) http = 413;
        return srv_fail(e, http, "%s: %s", it->name, err.message);
    }
    if ((*out)->n_samples && !strcmp((*out)->samples[0].stop_reason, "callback") && *run->cancel) {
        vs2_result_free(*out);
        *out = NULL;
        return srv_fail(e, 504, "cancelled: the request timed out or the client went away");
    }
    char *name = strdup(it->name); /* the result names the video as the client sent it */
    if (name) free((*out)->video), (*out)->video = name;
    long tokens = 0;
    double gen = (*out)->generate_ms / 1000;
    for (size_t s = 0; s < (*out)->n_samples; s++) tokens += (long)(*out)->samples[s].n_ids;
    srv_metrics_videos(1, tokens, gen);
    return 0;
}

static json_t *result_object(const vs2_result *r) {
    char *s = vs2_result_to_json(r);
    json_t *o = s ? json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
    free(s);
    return o;
}

static json_t *error_object(const srv_error *e) {
    return json_pack("{s:s, s:i}", "error", e->msg, "status", e->http);
}

static char *dump(json_t *o) {
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(o);
    return s;
}

char *srv_error_json(const srv_error *e, srv_endpoint ep) {
    /* OpenAI clients read error.message; everyone else reads "error" as a string. */
    if (ep == SRV_EP_CHAT)
        return dump(json_pack("{s:{s:s, s:s, s:i}}", "error", "message", e->msg, "type",
                              e->http >= 500 ? "server_error" : "invalid_request_error", "code", e->http));
    return dump(error_object(e));
}

static int run_score(const srv_run *run, srv_request *req, char **body) {
    vs2_result *r;
    srv_error e;
    if (score_item(run, req, &req->items[0], &r, &e)) {
        *body = srv_error_json(&e, req->ep);
        return e.http;
    }
    *body = vs2_result_to_json(r);
    vs2_result_free(r);
    return 200;
}

static int run_batch(const srv_run *run, srv_request *req, char **body) {
    json_t *list = json_array();
    for (size_t i = 0; i < req->n; i++) {
        vs2_result *r;
        srv_error e;
        json_t *o = score_item(run, req, &req->items[i], &r, &e) ? error_object(&e) : result_object(r);
        if (o && json_object_get(o, "error")) json_object_set_new(o, "video", json_string(req->items[i].name));
        vs2_result_free(r);
        json_array_append_new(list, o ? o : json_null());
    }
    *body = dump(json_pack("{s:o}", "results", list));
    return 200;
}

/* Score every item and its key (vs2_rank_key); results[i] NULL where it failed (errs[i]). */
static int score_all(const srv_run *run, srv_request *req, vs2_result **res, srv_error *errs, double *keys) {
    for (size_t i = 0; i < req->n; i++) {
        res[i] = NULL;
        keys[i] = NAN;
        if (score_item(run, req, &req->items[i], &res[i], &errs[i]) == 0) keys[i] = vs2_rank_key(res[i], &req->rp);
        if (*run->cancel) return -1;
    }
    return 0;
}

static json_t *score_summary(const vs2_result *r) {
    static const char *const dims[VS2_NDIMS] = {"visual_quality", "text_alignment", "physical_consistency"};
    json_t *o = json_object();
    for (int d = 0; d < VS2_NDIMS; d++) {
        double v = r->mean.scores[d];
        json_object_set_new(o, dims[d], isnan(v) ? json_null() : json_real(v));
    }
    return o;
}

static int run_rank(const srv_run *run, srv_request *req, char **body) {
    vs2_result **res = calloc(req->n, sizeof *res);
    srv_error *errs = calloc(req->n, sizeof *errs);
    double *keys = calloc(req->n, sizeof *keys);
    size_t *order = calloc(req->n, sizeof *order);
    int status = 200;
    if (!res || !errs || !keys || !order) {
        srv_error e = {503, "out of memory"};
        *body = srv_error_json(&e, req->ep);
        status = 503;
    } else if (score_all(run, req, res, errs, keys)) {
        srv_error e = {504, "cancelled: the request timed out or the client went away"};
        *body = srv_error_json(&e, req->ep);
        status = 504;
    } else {
        vs2_rank_order(keys, req->n, order);
        json_t *ranking = json_array();
        size_t n_keyed = 0;
        for (size_t k = 0; k < req->n; k++) {
            size_t i = order[k];
            json_t *o = json_pack("{s:I, s:s}", "index", (json_int_t)i, "video", req->items[i].name);
            json_object_set_new(o, "key", isnan(keys[i]) ? json_null() : json_real(keys[i]));
            n_keyed += !isnan(keys[i]);
            if (res[i]) json_object_set_new(o, req->full ? "result" : "scores", req->full ? result_object(res[i]) : score_summary(res[i]));
            else json_object_set_new(o, "error", json_string(errs[i].msg));
            json_array_append_new(ranking, o);
        }
        json_t *root = json_pack("{s:s, s:s, s:o}", "prompt", req->items[0].prompt, "by", vs2_rank_by_name(req->rp.by),
                                 "ranking", ranking);
        json_object_set_new(root, "best", n_keyed ? json_integer((json_int_t)order[0]) : json_null());
        *body = dump(root);
    }
    for (size_t i = 0; res && i < req->n; i++) vs2_result_free(res[i]);
    free(res), free(errs), free(keys), free(order);
    return status;
}

/* Flow-Factory reads "rewards" (a float per video, in order) or "error". A video that cannot be
 * scored fails the request (the trainer needs every reward); a video whose answer holds no
 * scores gets --missing-reward when set, else fails it too: vs2 never invents a score. */
static int run_compute(const srv_run *run, srv_request *req, char **body) {
    vs2_result **res = calloc(req->n, sizeof *res);
    srv_error *errs = calloc(req->n, sizeof *errs);
    double *keys = calloc(req->n, sizeof *keys);
    srv_error e = {0, ""};
    if (!res || !errs || !keys) e = (srv_error){503, "out of memory"};
    else if (score_all(run, req, res, errs, keys)) e = (srv_error){504, "cancelled: the request timed out or the client went away"};
    json_t *rewards = json_array(), *missing = json_array(), *details = json_array();
    for (size_t i = 0; !e.http && i < req->n; i++) {
        if (!res[i]) {
            e = errs[i];
            snprintf(e.msg, sizeof e.msg, "video[%zu]: %s", i, errs[i].msg);
        } else if (isnan(keys[i]) && !run->cfg->has_missing_reward) {
            const char *why = res[i]->n_samples && res[i]->samples[0].parse_error ? res[i]->samples[0].parse_error : "no key";
            srv_fail(&e, 422, "video[%zu]: the answer holds no %s scores (%s); start vs2 serve with --missing-reward X "
                     "to give such videos a fixed reward", i, vs2_rank_by_name(req->rp.by), why);
        } else {
            if (isnan(keys[i])) json_array_append_new(missing, json_integer((json_int_t)i));
            json_array_append_new(rewards, json_real(isnan(keys[i]) ? run->cfg->missing_reward : keys[i]));
            json_array_append_new(details, score_summary(res[i]));
        }
    }
    int status = e.http ? e.http : 200;
    if (e.http) {
        *body = srv_error_json(&e, req->ep);
        json_decref(rewards), json_decref(missing), json_decref(details);
    } else {
        *body = dump(json_pack("{s:o, s:o, s:o, s:s}", "rewards", rewards, "missing", missing, "scores", details,
                               "reward", vs2_rank_by_name(req->rp.by)));
    }
    for (size_t i = 0; res && i < req->n; i++) vs2_result_free(res[i]);
    free(res), free(errs), free(keys);
    return status;
}

/* ---- logprobs (OpenAI): per generated token of sample 0, its log-probability and the top ones --- */

#define MAX_TOP 20
typedef struct lp_step {
    int32_t id;
    float lp;
    int n_top;
    int32_t top_id[MAX_TOP];
    float top_lp[MAX_TOP];
} lp_step;

typedef struct lp_collect {
    int k;
    lp_step *steps;
    size_t n, cap;
    int oom;
} lp_collect;

static void on_logits(void *user, int sample, int step, const float *logits, int32_t n_vocab, int32_t id) {
    lp_collect *c = user;
    if (sample != 0 || c->oom || step < 0) return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        lp_step *s = realloc(c->steps, cap * sizeof *s);
        if (!s) {
            c->oom = 1;
            return;
        }
        c->steps = s, c->cap = cap;
    }
    float m = -INFINITY;
    for (int32_t i = 0; i < n_vocab; i++) m = logits[i] > m ? logits[i] : m;
    double sum = 0;
    for (int32_t i = 0; m > -INFINITY && i < n_vocab; i++) sum += exp((double)logits[i] - m);
    double lse = m + log(sum);
    lp_step *st = &c->steps[c->n++];
    st->id = id;
    st->lp = (float)(logits[id] - lse);
    st->n_top = 0;
    for (int32_t i = 0; c->k > 0 && i < n_vocab; i++) { /* insertion into the k best, largest first */
        if (logits[i] == -INFINITY || (st->n_top == c->k && logits[i] - lse <= st->top_lp[st->n_top - 1])) continue;
        int j = st->n_top < c->k ? st->n_top++ : c->k - 1;
        while (j > 0 && st->top_lp[j - 1] < logits[i] - lse) {
            st->top_lp[j] = st->top_lp[j - 1], st->top_id[j] = st->top_id[j - 1];
            j--;
        }
        st->top_lp[j] = (float)(logits[i] - lse), st->top_id[j] = i;
    }
}

/* OpenAI's token entry: the text, the log-probability (-9999 for a masked token, as OpenAI
 * writes impossible ones) and the UTF-8 bytes. */
static json_t *token_entry(const vs2_tokenizer *tok, int32_t id, float lp) {
    char *text = NULL;
    size_t len = 0;
    vs2_error err;
    if (vs2_detokenize(tok, &id, 1, 0, &text, &len, &err) != VS2_OK) text = NULL, len = 0;
    json_t *bytes = json_array();
    for (size_t i = 0; i < len; i++) json_array_append_new(bytes, json_integer((unsigned char)text[i]));
    json_t *o = json_pack("{s:s%, s:f, s:o}", "token", text ? text : "", len, "logprob", isfinite(lp) ? (double)lp : -9999.0,
                          "bytes", bytes);
    free(text);
    return o;
}

static json_t *logprobs_json(const lp_collect *c, const vs2_tokenizer *tok) {
    json_t *content = json_array();
    for (size_t i = 0; i < c->n; i++) {
        const lp_step *st = &c->steps[i];
        json_t *e = token_entry(tok, st->id, st->lp), *top = json_array();
        for (int k = 0; k < st->n_top; k++) json_array_append_new(top, token_entry(tok, st->top_id[k], st->top_lp[k]));
        json_object_set_new(e, "top_logprobs", top);
        json_array_append_new(content, e);
    }
    return json_pack("{s:o}", "content", content);
}

static atomic_long chat_counter;

static int run_chat(const srv_run *run, srv_request *req, char **body) {
    vs2_result *r;
    srv_error e;
    lp_collect lc = {req->top_logprobs, NULL, 0, 0, 0};
    if (req->logprobs) vs2__set_logits_hook(on_logits, &lc);
    int failed = score_item(run, req, &req->items[0], &r, &e);
    vs2__set_logits_hook(NULL, NULL);
    if (failed || lc.oom) {
        if (!failed) vs2_result_free(r), srv_fail(&e, 503, "out of memory collecting logprobs");
        free(lc.steps);
        *body = srv_error_json(&e, req->ep);
        return e.http;
    }
    const vs2_sample *s = &r->samples[0];
    char id[64];
    snprintf(id, sizeof id, "chatcmpl-vs2-%ld-%ld", (long)time(NULL), (long)atomic_fetch_add(&chat_counter, 1));
    const char *finish = !strcmp(s->stop_reason, "eos") ? "stop" : "length";
    json_t *choice = json_pack("{s:i, s:{s:s, s:s}, s:s}", "index", 0, "message", "role", "assistant", "content",
                               s->output ? s->output : "", "finish_reason", finish);
    json_object_set_new(choice, "logprobs", req->logprobs ? logprobs_json(&lc, vs2_engine_tokenizer(run->eng)) : json_null());
    free(lc.steps);
    json_t *usage = json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)r->prompt_tokens, "completion_tokens",
                              (json_int_t)s->n_ids, "total_tokens", (json_int_t)(r->prompt_tokens + (int64_t)s->n_ids));
    json_t *root = json_pack("{s:s, s:s, s:I, s:s, s:[o], s:o}", "id", id, "object", "chat.completion", "created",
                             (json_int_t)time(NULL), "model", req->model ? req->model : run->cfg->model_name, "choices",
                             choice, "usage", usage);
    json_object_set_new(root, "vs2", result_object(r)); /* the scores, read by vs2 */
    vs2_result_free(r);
    *body = dump(root);
    return *body ? 200 : 503;
}

int srv_execute(const srv_run *run, srv_request *req, char **body) {
    *body = NULL;
    int status;
    switch (req->ep) {
    case SRV_EP_SCORE: status = run_score(run, req, body); break;
    case SRV_EP_BATCH: status = run_batch(run, req, body); break;
    case SRV_EP_RANK: status = run_rank(run, req, body); break;
    case SRV_EP_COMPUTE: status = run_compute(run, req, body); break;
    case SRV_EP_CHAT: status = run_chat(run, req, body); break;
    default: status = 404;
    }
    if (!*body) status = 503; /* out of memory building the answer */
    (void)endpoint_names;
    return status;
}

/* ---- GET bodies --------------------------------------------------------------------------------- */

static json_t *weight_files(const vs2_engine *eng) {
    const vs2_model_files *mf = vs2_engine_model_files(eng);
    const char *dir = vs2_engine_model_dir(eng);
    json_t *files = json_array();
    char seen[64][256];
    size_t n_seen = 0;
    for (size_t i = 0; mf && i < vs2_model_files_n_tensors(mf); i++) {
        const char *f = vs2_model_files_tensor_at(mf, i)->file;
        int dup = 0;
        for (size_t k = 0; k < n_seen && !dup; k++) dup = !strcmp(seen[k], f);
        if (dup || n_seen == 64) continue;
        snprintf(seen[n_seen++], sizeof seen[0], "%s", f);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, f);
        struct stat st;
        json_t *o = json_pack("{s:s}", "name", f);
        json_object_set_new(o, "size_bytes", stat(path, &st) ? json_null() : json_integer((json_int_t)st.st_size));
        json_array_append_new(files, o);
    }
    return files;
}

char *srv_info_json(const vs2_engine *eng, const srv_config *cfg) {
    const vs2_score_params *d = &cfg->defaults;
    json_t *dec = json_pack("{s:s, s:s, s:i, s:f, s:i}", "template", d->tmpl == VS2_TEMPLATE_INF ? "inf" : "eval", "mode",
                            d->decoding == VS2_DECODE_SAMPLE ? "sample" : "greedy", "max_new_tokens", d->max_new_tokens,
                            "fps", d->video.fps, "samples", d->samples);
    json_t *lim = json_pack("{s:I, s:I, s:I, s:I, s:I, s:f}", "max_body_bytes", (json_int_t)cfg->max_body, "max_items",
                            (json_int_t)cfg->max_items, "max_frames", (json_int_t)cfg->max_frames, "max_video_tokens",
                            (json_int_t)cfg->max_video_tokens, "max_new_tokens", (json_int_t)cfg->max_new_tokens,
                            "request_timeout_s", cfg->request_timeout);
    json_t *root = json_pack("{s:s, s:s, s:o, s:o, s:i, s:i}", "vs2_version", vs2_version(), "model", cfg->model_name,
                             "decoding", dec, "limits", lim, "workers", cfg->workers, "max_queue", cfg->max_queue);
    if (eng) {
        json_object_set_new(root, "model_dir", json_string(vs2_engine_model_dir(eng)));
        json_object_set_new(root, "backend", json_string(vs2_engine_backend(eng)));
        json_object_set_new(root, "weight_files", weight_files(eng));
    }
    return dump(root);
}

char *srv_models_json(const srv_config *cfg) {
    return dump(json_pack("{s:s, s:[{s:s, s:s, s:i, s:s}]}", "object", "list", "data", "id", cfg->model_name, "object",
                          "model", "created", 0, "owned_by", "vs2"));
}
