/* endpoints.c — parsed requests run on the engine, and the answers: the native API (the result
 * object of `vs2 score --json`), Flow-Factory's {"rewards": [...]}, OpenAI's chat.completion,
 * and the bodies of /info and /v1/models.
 *
 * Scoring is by groups: a worker hands over one or more requests with the same decoding options
 * (http.c gathers requests that wait together); their videos are decoded one by one, then all
 * their answers are decoded together by one vs2_score_batch call (up to 8 answers per pass over
 * the weights), and each request is answered from its own items' results. */
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
    int on, k;
    lp_step *steps;
    size_t n, cap;
    int oom;
} lp_collect;

static void lp_add(lp_collect *c, const float *logits, int32_t n_vocab, int32_t id) {
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

/* ---- scoring a group ------------------------------------------------------------------------------ */

/* One item of the group: where its answer goes. */
typedef struct unit {
    srv_request *req;
    size_t item;                /* index in req->items */
    volatile int *cancel;       /* its request's */
    vs2_video video;
    int loaded;
    vs2_result *r;
    srv_error e;
    lp_collect lc;
} unit;

typedef struct group {
    unit *u;                    /* the items being decoded, in the vs2_score_batch order */
    size_t *map;                /* batch index -> unit index */
    size_t n_batch;
    int samples;
} group;

static int on_token_cancel(void *user, int sample, int step, int32_t id) {
    (void)step, (void)id;
    const group *g = user;
    size_t b = (size_t)sample / (size_t)(g->samples > 0 ? g->samples : 1);
    return b < g->n_batch && *g->u[g->map[b]].cancel != 0;
}

static void on_logits(void *user, int sample, int step, const float *logits, int32_t n_vocab, int32_t id) {
    (void)step;
    const group *g = user;
    int samples = g->samples > 0 ? g->samples : 1;
    size_t b = (size_t)sample / (size_t)samples;
    if (sample % samples || b >= g->n_batch) return; /* sample 0 of each item: OpenAI's one choice */
    unit *u = &g->u[g->map[b]];
    if (u->lc.on && !u->lc.oom) lp_add(&u->lc, logits, n_vocab, id);
}

static const char cancelled_msg[] = "cancelled: the request timed out or the client went away";

/* The status of a scoring failure of one item. */
static int score_status(const vs2_error *err) {
    if (err->status == VS2_ERR_NOMEM) return 503;
    if (err->status == VS2_ERR_INTERNAL) return 500;
    if (strstr(err->message, "video tokens") || strstr(err->message, "context") || strstr(err->message, "budget")) return 413;
    return 422;
}

int srv_params_compatible(const vs2_score_params *a, const vs2_score_params *b) {
    if (memcmp(&a->video, &b->video, sizeof a->video)) return 0;
    if ((a->answer == NULL) != (b->answer == NULL) || (a->answer && strcmp(a->answer, b->answer))) return 0;
    return a->tmpl == b->tmpl && a->max_new_tokens == b->max_new_tokens && a->decoding == b->decoding &&
           a->temperature == b->temperature && a->top_k == b->top_k && a->top_p == b->top_p &&
           a->repetition_penalty == b->repetition_penalty && a->seed == b->seed && a->samples == b->samples &&
           a->threads == b->threads;
}

/* Decode every item's video, then score them all in one vs2_score_batch call. */
static void score_group(const vs2_engine *eng, const srv_config *cfg, unit *u, size_t n, const vs2_score_params *sp0) {
    vs2_score_params sp = *sp0;
    sp.video.max_video_tokens = cfg->max_video_tokens;
    group g = {u, calloc(n ? n : 1, sizeof *g.map), 0, sp.samples};
    vs2_score_item *items = calloc(n ? n : 1, sizeof *items);
    vs2_result **res = calloc(n ? n : 1, sizeof *res);
    vs2_error *errs = calloc(n ? n : 1, sizeof *errs);
    if (!g.map || !items || !res || !errs) {
        for (size_t i = 0; i < n; i++) srv_fail(&u[i].e, 503, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const srv_item *it = &u[i].req->items[u[i].item];
        if (*u[i].cancel) {
            srv_fail(&u[i].e, 504, "%s", cancelled_msg);
            continue;
        }
        if (srv_media_load(&it->media, cfg, &sp.video, &u[i].video, &u[i].e)) continue;
        u[i].loaded = 1;
        items[g.n_batch] = (vs2_score_item){NULL, &u[i].video, it->prompt};
        g.map[g.n_batch++] = i;
    }
    if (g.n_batch) {
        sp.on_token = on_token_cancel;
        sp.on_token_user = &g;
        vs2_error err;
        vs2__set_logits_hook(on_logits, &g);
        vs2_status st = vs2_score_batch(eng, items, g.n_batch, &sp, res, errs, &err);
        srv_metrics_batch_call();
        vs2__set_logits_hook(NULL, NULL);
        for (size_t b = 0; b < g.n_batch; b++) {
            unit *x = &u[g.map[b]];
            if (st != VS2_OK) srv_fail(&x->e, score_status(&err), "%s", err.message);
            else if (!res[b]) srv_fail(&x->e, score_status(&errs[b]), "%s: %s", x->req->items[x->item].name, errs[b].message);
            else x->r = res[b];
        }
    }
done:
    for (size_t i = 0; i < n; i++) {
        if (u[i].loaded) vs2_video_free(&u[i].video);
        vs2_result *r = u[i].r;
        if (!r) continue;
        if (*u[i].cancel) { /* stopped by the callback: not an answer */
            vs2_result_free(r);
            u[i].r = NULL;
            srv_fail(&u[i].e, 504, "%s", cancelled_msg);
            continue;
        }
        char *name = strdup(u[i].req->items[u[i].item].name); /* as the client named the video */
        if (name) free(r->video), r->video = name;
        long tokens = 0;
        for (size_t s = 0; s < r->n_samples; s++) tokens += (long)r->samples[s].n_ids;
        srv_metrics_videos(1, tokens, r->generate_ms / 1000);
    }
    free(g.map), free(items), free(res), free(errs);
}

/* ---- answers -------------------------------------------------------------------------------------- */

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

static int answer_error(const srv_request *req, const srv_error *e, char **body) {
    *body = srv_error_json(e, req->ep);
    return e->http;
}

static int answer_score(srv_request *req, unit *u, char **body) {
    if (!u->r) return answer_error(req, &u->e, body);
    *body = vs2_result_to_json(u->r);
    return 200;
}

static int answer_batch(srv_request *req, unit *u, char **body) {
    json_t *list = json_array();
    for (size_t i = 0; i < req->n; i++) {
        json_t *o = u[i].r ? result_object(u[i].r) : error_object(&u[i].e);
        if (o && !u[i].r) json_object_set_new(o, "video", json_string(req->items[i].name));
        json_array_append_new(list, o ? o : json_null());
    }
    *body = dump(json_pack("{s:o}", "results", list));
    return 200;
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

static const unit *cancelled_unit(srv_request *req, const unit *u) {
    for (size_t i = 0; i < req->n; i++)
        if (u[i].e.http == 504) return &u[i];
    return NULL;
}

static int answer_rank(srv_request *req, unit *u, char **body) {
    srv_error e = {503, "out of memory"};
    const unit *c = cancelled_unit(req, u);
    if (c) return answer_error(req, &c->e, body);
    double *keys = calloc(req->n, sizeof *keys);
    size_t *order = calloc(req->n, sizeof *order);
    if (!keys || !order) {
        free(keys), free(order);
        return answer_error(req, &e, body);
    }
    for (size_t i = 0; i < req->n; i++) keys[i] = u[i].r ? vs2_rank_key(u[i].r, &req->rp) : NAN;
    vs2_rank_order(keys, req->n, order);
    json_t *ranking = json_array();
    size_t n_keyed = 0;
    for (size_t k = 0; k < req->n; k++) {
        size_t i = order[k];
        json_t *o = json_pack("{s:I, s:s}", "index", (json_int_t)i, "video", req->items[i].name);
        json_object_set_new(o, "key", isnan(keys[i]) ? json_null() : json_real(keys[i]));
        n_keyed += !isnan(keys[i]);
        if (u[i].r) json_object_set_new(o, req->full ? "result" : "scores", req->full ? result_object(u[i].r) : score_summary(u[i].r));
        else json_object_set_new(o, "error", json_string(u[i].e.msg));
        json_array_append_new(ranking, o);
    }
    json_t *root = json_pack("{s:s, s:s, s:o}", "prompt", req->items[0].prompt, "by", vs2_rank_by_name(req->rp.by),
                             "ranking", ranking);
    json_object_set_new(root, "best", n_keyed ? json_integer((json_int_t)order[0]) : json_null());
    free(keys), free(order);
    *body = dump(root);
    return 200;
}

/* Flow-Factory reads "rewards" (a float per video, in order) or "error". A video that cannot be
 * scored fails the request (the trainer needs every reward); a video whose answer holds no
 * scores gets --missing-reward when set, else fails it too: vs2 never invents a score. */
static int answer_compute(const srv_config *cfg, srv_request *req, unit *u, char **body) {
    srv_error e = {0, ""};
    json_t *rewards = json_array(), *missing = json_array(), *details = json_array();
    for (size_t i = 0; !e.http && i < req->n; i++) {
        double key = u[i].r ? vs2_rank_key(u[i].r, &req->rp) : NAN;
        if (!u[i].r) {
            e.http = u[i].e.http;
            snprintf(e.msg, sizeof e.msg, "video[%zu]: %s", i, u[i].e.msg);
        } else if (isnan(key) && !cfg->has_missing_reward) {
            const vs2_sample *s0 = u[i].r->n_samples ? &u[i].r->samples[0] : NULL;
            srv_fail(&e, 422, "video[%zu]: the answer holds no %s scores (%s); start vs2 serve with --missing-reward X "
                     "to give such videos a fixed reward", i, vs2_rank_by_name(req->rp.by),
                     s0 && s0->parse_error ? s0->parse_error : "no key");
        } else {
            if (isnan(key)) json_array_append_new(missing, json_integer((json_int_t)i));
            json_array_append_new(rewards, json_real(isnan(key) ? cfg->missing_reward : key));
            json_array_append_new(details, score_summary(u[i].r));
        }
    }
    if (e.http) {
        json_decref(rewards), json_decref(missing), json_decref(details);
        return answer_error(req, &e, body);
    }
    *body = dump(json_pack("{s:o, s:o, s:o, s:s}", "rewards", rewards, "missing", missing, "scores", details, "reward",
                           vs2_rank_by_name(req->rp.by)));
    return 200;
}

static atomic_long chat_counter;

static int answer_chat(const vs2_engine *eng, const srv_config *cfg, srv_request *req, unit *u, char **body) {
    if (!u->r) return answer_error(req, &u->e, body);
    if (u->lc.oom) {
        srv_error e = {503, "out of memory collecting logprobs"};
        return answer_error(req, &e, body);
    }
    const vs2_result *r = u->r;
    const vs2_sample *s = &r->samples[0];
    char id[64];
    snprintf(id, sizeof id, "chatcmpl-vs2-%ld-%ld", (long)time(NULL), (long)atomic_fetch_add(&chat_counter, 1));
    const char *finish = !strcmp(s->stop_reason, "eos") ? "stop" : "length";
    json_t *choice = json_pack("{s:i, s:{s:s, s:s}, s:s}", "index", 0, "message", "role", "assistant", "content",
                               s->output ? s->output : "", "finish_reason", finish);
    json_object_set_new(choice, "logprobs", req->logprobs ? logprobs_json(&u->lc, vs2_engine_tokenizer(eng)) : json_null());
    json_t *usage = json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)r->prompt_tokens, "completion_tokens",
                              (json_int_t)s->n_ids, "total_tokens", (json_int_t)(r->prompt_tokens + (int64_t)s->n_ids));
    json_t *root = json_pack("{s:s, s:s, s:I, s:s, s:[o], s:o}", "id", id, "object", "chat.completion", "created",
                             (json_int_t)time(NULL), "model", req->model ? req->model : cfg->model_name, "choices",
                             choice, "usage", usage);
    json_object_set_new(root, "vs2", result_object(r)); /* the scores, read by vs2 */
    *body = dump(root);
    return 200;
}

static int answer(const vs2_engine *eng, const srv_config *cfg, srv_request *req, unit *u, char **body) {
    switch (req->ep) {
    case SRV_EP_SCORE: return answer_score(req, u, body);
    case SRV_EP_BATCH: return answer_batch(req, u, body);
    case SRV_EP_RANK: return answer_rank(req, u, body);
    case SRV_EP_COMPUTE: return answer_compute(cfg, req, u, body);
    case SRV_EP_CHAT: return answer_chat(eng, cfg, req, u, body);
    default: return 404;
    }
}

void srv_execute_group(const vs2_engine *eng, const srv_config *cfg, srv_task *tasks, size_t n) {
    size_t total = 0;
    for (size_t t = 0; t < n; t++) total += tasks[t].req->n;
    unit *u = calloc(total ? total : 1, sizeof *u);
    if (!u) {
        for (size_t t = 0; t < n; t++) {
            srv_error e = {503, "out of memory"};
            tasks[t].status = answer_error(tasks[t].req, &e, &tasks[t].body);
        }
        return;
    }
    size_t k = 0;
    for (size_t t = 0; t < n; t++)
        for (size_t i = 0; i < tasks[t].req->n; i++, k++) {
            u[k].req = tasks[t].req;
            u[k].item = i;
            u[k].cancel = tasks[t].cancel;
            u[k].lc.on = tasks[t].req->logprobs;
            u[k].lc.k = tasks[t].req->top_logprobs;
        }
    /* In rounds of --batch-size videos: a round's decoded videos are held until its answers are done. */
    size_t round = cfg->batch_size > 0 ? (size_t)cfg->batch_size : 1;
    for (size_t off = 0; off < total; off += round)
        score_group(eng, cfg, u + off, total - off < round ? total - off : round, &tasks[0].req->sp);
    k = 0;
    for (size_t t = 0; t < n; t++) {
        tasks[t].body = NULL;
        tasks[t].status = answer(eng, cfg, tasks[t].req, &u[k], &tasks[t].body);
        if (!tasks[t].body) tasks[t].status = 503; /* out of memory building the answer */
        k += tasks[t].req->n;
    }
    for (size_t i = 0; i < total; i++) {
        vs2_result_free(u[i].r);
        free(u[i].lc.steps);
    }
    free(u);
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
        const char *dir = vs2_engine_model_dir(eng), *snap = strstr(dir, "/snapshots/");
        json_object_set_new(root, "model_dir", json_string(dir));
        /* A model from the Hugging Face cache: its snapshot directory is named by the commit. */
        if (snap) json_object_set_new(root, "revision", json_stringn(snap + 11, strcspn(snap + 11, "/")));
        json_object_set_new(root, "backend", json_string(vs2_engine_backend(eng)));
        json_object_set_new(root, "weight_files", weight_files(eng));
    }
    return dump(root);
}

char *srv_models_json(const srv_config *cfg) {
    return dump(json_pack("{s:s, s:[{s:s, s:s, s:i, s:s}]}", "object", "list", "data", "id", cfg->model_name, "object",
                          "model", "created", 0, "owned_by", "vs2"));
}
