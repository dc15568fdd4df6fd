/* engine.c — ties the stages together (docs/architecture.md, "The path of one video"): resolve and open
 * the model once; per call decode the video, render the chat, run the vision tower, compute
 * the M-RoPE positions, prefill the language model, then decode token by token with the
 * sampler, recording the probabilities of the score digits at every step; result.c reads the
 * scores from the answer.
 *
 * The engine is read-only after load: every call owns its KV cache, buffers and sampler, so
 * threads may share one engine. */
#include "engine_internal.h"
#include "llm.h"
#include "sampler.h"
#include "scores.h"
#include "vision.h"
#include "weight_cache.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct vs2_engine {
    char *dir;
    vs2_model_files *mf;
    vs2_tokenizer *tok;
    vs2_vision *vision;
    vs2_llm *llm;
    int threads;
    const vs2_kernels *kernels; /* the kernel set, chosen once at load */
    vs2_wcache *wcache;         /* the prepared weights' file, when mapped (outlives the models) */
    int32_t digit_ids[5];
    vs2_log_fn log;
    void *log_user;
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void elog(const vs2_engine *e, int level, const char *fmt, ...) VS2_PRINTF(3, 4);
static void elog(const vs2_engine *e, int level, const char *fmt, ...) {
    if (!e->log) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    e->log(level, buf, e->log_user);
}

/* ---- engine --------------------------------------------------------------------------- */

vs2_engine_params vs2_engine_default_params(void) {
    vs2_engine_params p;
    memset(&p, 0, sizeof p);
    return p;
}

static int online_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void vs2_engine_free(vs2_engine *e) {
    if (!e) return;
    vs2_llm_free(e->llm);
    vs2_vision_free(e->vision);
    vs2_wcache_close(e->wcache);
    vs2_tokenizer_free(e->tok);
    vs2_model_files_close(e->mf);
    free(e->dir);
    free(e);
}

/* The vision tower and the language model with their weights prepared for the kernel set
 * (quantising an int8 set's copies on the engine's threads). */
static vs2_status load_models(vs2_engine *e, const char *cache_opt, vs2_error *err) {
    vs2_prep prep = {e->kernels, NULL, NULL};
    if (e->threads > 1 && vs2_pool_create(e->threads, &prep.pool) != VS2_OK)
        return vs2__fail(err, VS2_ERR_NOMEM, "cannot start %d threads", e->threads);
    char *dir = e->kernels->format != VS2_WF_STORED ? vs2_wcache_dir_for(cache_opt) : NULL;
    if (dir) {
        vs2_error cerr;
        if (vs2_wcache_open(dir, e->dir, e->mf, e->kernels, &e->wcache, &cerr) != VS2_OK)
            elog(e, 1, "weight cache not used: %s", cerr.message);
        if (e->wcache && vs2_wcache_hit(e->wcache))
            elog(e, 2, "%s weights from %s", e->kernels->name, vs2_wcache_path(e->wcache));
    }
    if (!vs2_wcache_hit(e->wcache) && e->kernels->format != VS2_WF_STORED)
        elog(e, 2, "preparing %s weights%s%s", e->kernels->name, e->wcache ? ", to be kept in " : "",
             e->wcache ? vs2_wcache_path(e->wcache) : "");
    prep.cache = e->wcache;
    vs2_status st = vs2_vision_create_k(e->mf, &prep, &e->vision, err);
    if (st == VS2_OK) st = vs2_llm_create_k(e->mf, &prep, &e->llm, err);
    vs2_error werr;
    if (st == VS2_OK && e->wcache && vs2_wcache_finish(e->wcache, dir, &werr) != VS2_OK)
        elog(e, 1, "%s (the next load quantises again)", werr.message);
    free(dir);
    vs2_pool_free(prep.pool);
    return st;
}

const char *vs2_engine_backend(const vs2_engine *e) { return e && e->kernels ? e->kernels->name : NULL; }
const vs2_llm *vs2__engine_llm(const vs2_engine *e) { return e ? e->llm : NULL; }
const vs2_vision *vs2__engine_vision(const vs2_engine *e) { return e ? e->vision : NULL; }

/* The vision ids of config.json must be the tokenizer's: the chat is tokenized with the
 * tokenizer's <|video_pad|>, while the positions and the embedding merge look for config.json's
 * video_token_id. A mismatch would only surface as "0 videos but 1 grid" at the first score. */
static vs2_status check_vision_ids(const vs2_engine *e, vs2_error *err) {
    const vs2_config *cfg = vs2_model_files_config(e->mf);
    const struct { const char *key, *token; int id; } ids[] = {
        {"video_token_id", "<|video_pad|>", cfg->video_token_id},
        {"vision_start_token_id", "<|vision_start|>", cfg->vision_start_token_id},
        {"vision_end_token_id", "<|vision_end|>", cfg->vision_end_token_id},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        int32_t t = vs2_tokenizer_token_id(e->tok, ids[i].token);
        if (t < 0)
            return vs2__fail(err, VS2_ERR_MODEL, "%s/config.json: %s = %d, but the tokenizer (tokenizer.json) "
                             "has no %s token", e->dir, ids[i].key, ids[i].id, ids[i].token);
        if (t != ids[i].id)
            return vs2__fail(err, VS2_ERR_MODEL,
                             "%s/config.json: %s = %d, but the tokenizer (tokenizer.json) gives %s the id %d: "
                             "the files come from different models",
                             e->dir, ids[i].key, ids[i].id, ids[i].token, t);
    }
    return VS2_OK;
}

vs2_status vs2_engine_load(const vs2_engine_params *params, vs2_engine **out, vs2_error *err) {
    vs2__ok(err);
    if (!out) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_engine_load: out is NULL");
    *out = NULL;
    vs2_engine_params dp = vs2_engine_default_params();
    const vs2_engine_params *p = params ? params : &dp;
    if (p->threads < 0) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_engine_load: threads %d < 0", p->threads);
    vs2_engine *e = calloc(1, sizeof *e);
    if (!e) return vs2__fail(err, VS2_ERR_NOMEM, "vs2_engine_load: out of memory");
    e->log = p->log;
    e->log_user = p->log_user;
    e->threads = p->threads > 0 ? p->threads : online_cores();
    double t0 = now_ms();

    vs2_hub_params hp = p->hub ? *p->hub : vs2_hub_default_params();
    if (!p->hub && !hp.log) {
        hp.log = p->log;
        hp.log_user = p->log_user;
    }
    const char *model = p->model && *p->model ? p->model : VS2_DEFAULT_MODEL;
    vs2_status st = vs2_hub_resolve(model, &hp, &e->dir, err);
    if (st != VS2_OK) goto fail;
    if (strcmp(model, e->dir)) elog(e, 2, "model %s: %s", model, e->dir); /* a repo id resolved */

    vs2_model_files_params mp = vs2_model_files_default_params();
    mp.check_tensors = 1;
    mp.log = p->log;
    mp.log_user = p->log_user;
    if ((st = vs2_model_files_open(e->dir, &mp, &e->mf, err)) != VS2_OK) goto fail;
    if ((st = vs2_tokenizer_load(e->dir, &e->tok, err)) != VS2_OK) goto fail;
    if ((st = check_vision_ids(e, err)) != VS2_OK) goto fail;
    if ((st = vs2k_select(p->backend, &e->kernels, err)) != VS2_OK) goto fail;
    if ((st = load_models(e, p->weight_cache, err)) != VS2_OK) goto fail;
    vs2_digit_ids(e->tok, e->digit_ids);
    for (int d = 0; d < 5; d++)
        if (e->digit_ids[d] < 0) elog(e, 1, "digit '%d' is not a single token: no soft score can use it", d + 1);
    elog(e, 2, "loaded in %.0f ms (%d threads, backend %s)", now_ms() - t0, e->threads, e->kernels->name);
    *out = e;
    return VS2_OK;
fail:
    vs2_engine_free(e);
    return st;
}

const char *vs2_engine_model_dir(const vs2_engine *e) { return e ? e->dir : NULL; }
const vs2_model_files *vs2_engine_model_files(const vs2_engine *e) { return e ? e->mf : NULL; }
const vs2_tokenizer *vs2_engine_tokenizer(const vs2_engine *e) { return e ? e->tok : NULL; }

/* ---- parameters ----------------------------------------------------------------------- */

vs2_score_params vs2_score_default_params(void) {
    vs2_score_params p;
    memset(&p, 0, sizeof p);
    p.tmpl = VS2_TEMPLATE_EVAL;
    p.video = vs2_video_default_params();
    p.max_new_tokens = 1024;
    p.decoding = VS2_DECODE_GREEDY;
    p.temperature = -1;
    p.top_k = -1;
    p.top_p = -1;
    p.repetition_penalty = -1;
    p.samples = 1;
    p.video.max_video_tokens = VS2_DEFAULT_MAX_VIDEO_TOKENS; /* a long video is refused before any pixel work */
    return p;
}

/* The reference's sampling temperature (docs/videoscore2-reference.md decision b). */
#define VS2_SAMPLE_TEMPERATURE 0.7

static vs2_status resolve_decoding(const vs2_engine *e, const vs2_score_params *p, vs2_result *r,
                                   vs2_error *err) {
    const vs2_generation_config *g = vs2_model_files_generation_config(e->mf);
    const vs2_config *cfg = vs2_model_files_config(e->mf);
    if (p->tmpl != VS2_TEMPLATE_EVAL && p->tmpl != VS2_TEMPLATE_INF)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "score: unknown template %d", (int)p->tmpl);
    if (p->decoding != VS2_DECODE_GREEDY && p->decoding != VS2_DECODE_SAMPLE)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "score: unknown decoding mode %d", (int)p->decoding);
    if (p->max_new_tokens < 1)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "score: max_new_tokens %d < 1", p->max_new_tokens);
    if (p->samples < 1) return vs2__fail(err, VS2_ERR_INVALID_ARG, "score: samples %d < 1", p->samples);
    if (p->samples > 1 && p->decoding == VS2_DECODE_GREEDY)
        return vs2__fail(err, VS2_ERR_INVALID_ARG,
                         "score: %d greedy samples would all be identical; use sampling for several samples",
                         p->samples);
    if (p->threads < 0) return vs2__fail(err, VS2_ERR_INVALID_ARG, "score: threads %d < 0", p->threads);
    r->decoding = p->decoding;
    r->seed = p->seed;
    r->temperature = p->temperature >= 0 ? p->temperature : VS2_SAMPLE_TEMPERATURE;
    r->top_k = p->top_k >= 0 ? p->top_k : g->top_k;
    r->top_p = p->top_p >= 0 ? p->top_p : g->top_p;
    r->repetition_penalty = p->repetition_penalty >= 0 ? p->repetition_penalty : g->repetition_penalty;
    if (p->decoding == VS2_DECODE_SAMPLE && !(r->temperature > 0))
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "score: temperature %g must be > 0 when sampling", r->temperature);
    if (!(r->top_p > 0) || r->top_p > 1)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "score: top_p %g is not in (0, 1]", r->top_p);
    if (!(r->repetition_penalty > 0))
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "score: repetition_penalty %g must be > 0", r->repetition_penalty);
    r->max_new_tokens = p->max_new_tokens;
    r->threads = p->threads > 0 ? p->threads : e->threads;
    r->backend = e->kernels->name;
    r->n_stop_ids = 0;
    for (int i = 0; i < g->n_eos && i < VS2_MAX_EOS; i++) r->stop_ids[r->n_stop_ids++] = g->eos_token_ids[i];
    if (r->n_stop_ids == 0 && cfg->eos_token_id >= 0) r->stop_ids[r->n_stop_ids++] = cfg->eos_token_id;
    return VS2_OK;
}

/* ---- stage dumps ---------------------------------------------------------------------- */

typedef struct dump_entry {
    char *stage;
    int64_t rows, cols;
} dump_entry;

typedef struct dumper {
    const vs2_score_params *p;
    dump_entry *e;
    size_t n, cap;
    int failed;
    char failure[512];
} dumper;

static int valid_stage_name(const char *s) {
    if (!*s || *s == '.') return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static void dump_cb(void *user, const char *stage, const float *x, int64_t rows, int64_t cols) {
    dumper *d = user;
    if (d->p->dump) d->p->dump(d->p->dump_user, stage, x, rows, cols);
    if (!d->p->dump_dir || d->failed) return;
    if (!valid_stage_name(stage)) {
        d->failed = 1;
        snprintf(d->failure, sizeof d->failure, "stage name '%s' is not a file name", stage);
        return;
    }
    size_t plen = strlen(d->p->dump_dir) + strlen(stage) + 8;
    char *path = malloc(plen);
    if (!path) {
        d->failed = 1;
        snprintf(d->failure, sizeof d->failure, "out of memory");
        return;
    }
    snprintf(path, plen, "%s/%s.f32", d->p->dump_dir, stage);
    FILE *f = fopen(path, "wb");
    size_t count = (size_t)rows * (size_t)cols;
    int bad = !f;
    if (f) {
        /* The files are little-endian fp32; this machine is little-endian (x86-64). */
        bad |= fwrite(x, sizeof(float), count, f) != count;
        bad |= fclose(f) != 0;
    }
    if (bad) {
        d->failed = 1;
        snprintf(d->failure, sizeof d->failure, "%s: cannot write: %s", path, strerror(errno));
        free(path);
        return;
    }
    free(path);
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->e[i].stage, stage)) { /* rewritten (should not happen): keep the last */
            d->e[i].rows = rows;
            d->e[i].cols = cols;
            return;
        }
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 64;
        dump_entry *ne = realloc(d->e, nc * sizeof *ne);
        if (!ne) {
            d->failed = 1;
            snprintf(d->failure, sizeof d->failure, "out of memory");
            return;
        }
        d->e = ne;
        d->cap = nc;
    }
    d->e[d->n].stage = strdup(stage);
    d->e[d->n].rows = rows;
    d->e[d->n].cols = cols;
    if (d->e[d->n].stage) d->n++;
}

static vs2_status dump_open(dumper *d, const vs2_score_params *p, vs2_error *err) {
    memset(d, 0, sizeof *d);
    d->p = p;
    if (!p->dump_dir) return VS2_OK;
    if (mkdir(p->dump_dir, 0777) != 0 && errno != EEXIST)
        return vs2__fail(err, VS2_ERR_IO, "%s: cannot create the dump directory: %s", p->dump_dir, strerror(errno));
    struct stat sb;
    if (stat(p->dump_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return vs2__fail(err, VS2_ERR_IO, "%s: not a directory", p->dump_dir);
    return VS2_OK;
}

/* Write index.json; returns a status for write failures (and earlier dump failures). */
static vs2_status dump_close(dumper *d, vs2_error *err) {
    vs2_status st = VS2_OK;
    if (d->p->dump_dir) {
        if (d->failed) {
            st = vs2__fail(err, VS2_ERR_IO, "stage dump: %s", d->failure);
        } else {
            size_t plen = strlen(d->p->dump_dir) + 16;
            char *path = malloc(plen);
            FILE *f = NULL;
            if (path) {
                snprintf(path, plen, "%s/index.json", d->p->dump_dir);
                f = fopen(path, "w");
            }
            if (!f) {
                st = vs2__fail(err, VS2_ERR_IO, "%s/index.json: cannot create: %s", d->p->dump_dir, strerror(errno));
            } else {
                fprintf(f, "{\"format\":\"little-endian float32, row-major\",\"stages\":[");
                for (size_t i = 0; i < d->n; i++)
                    fprintf(f, "%s\n{\"stage\":\"%s\",\"file\":\"%s.f32\",\"shape\":[%lld,%lld]}", i ? "," : "",
                            d->e[i].stage, d->e[i].stage, (long long)d->e[i].rows, (long long)d->e[i].cols);
                fprintf(f, "\n]}\n");
                if (fclose(f) != 0) st = vs2__fail(err, VS2_ERR_IO, "%s: write failed", path);
            }
            free(path);
        }
    }
    for (size_t i = 0; i < d->n; i++) free(d->e[i].stage);
    free(d->e);
    d->e = NULL;
    d->n = d->cap = 0;
    return st;
}

/* ---- scoring -------------------------------------------------------------------------- */

static int is_stop(const vs2_result *r, int32_t id) {
    for (int i = 0; i < r->n_stop_ids; i++)
        if (r->stop_ids[i] == id) return 1;
    return 0;
}

/* Softmax probabilities of the five digit ids over the full vocabulary of processed logits
 * (-inf entries contribute 0), as log_softmax(scores[step]) of the reference. */
static void digit_probs_of(const float *logits, int32_t n_vocab, const int32_t digit_ids[5], float out[5]) {
    float m = -INFINITY;
    for (int32_t i = 0; i < n_vocab; i++)
        if (logits[i] > m) m = logits[i];
    double sum = 0;
    if (m != -INFINITY)
        for (int32_t i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - (double)m);
    for (int d = 0; d < 5; d++) {
        int32_t id = digit_ids[d];
        out[d] = (id >= 0 && id < n_vocab && sum > 0) ? (float)(exp((double)logits[id] - (double)m) / sum) : 0.0f;
    }
}

/* Progress for params->on_progress: stage names from the forward passes become counts. */
typedef struct progress {
    const vs2_score_params *p;
    int64_t vision_blocks, layers;
    int64_t generated; /* tokens so far over all samples */
} progress;

static void report(const vs2_score_params *p, vs2_phase phase, int64_t done, int64_t total) {
    if (p->on_progress) p->on_progress(p->on_progress_user, phase, done, total);
}

static void on_stage(void *user, const char *stage) {
    const progress *pr = user;
    int i;
    if (sscanf(stage, "vision.block.%d", &i) == 1) report(pr->p, VS2_PHASE_VISION, i + 1, pr->vision_blocks);
    else if (sscanf(stage, "llm.layer.%d", &i) == 1) report(pr->p, VS2_PHASE_PREFILL, i + 1, pr->layers);
}

/* One sample's decoding state. */
typedef struct gen_state {
    vs2_sampler *smp;
    vs2_kv_cache *kv;
    float (*probs)[5];
    int32_t *ids;
    size_t n;
    int64_t steps;
    int maxn;            /* max_new_tokens, or the forced answer's length */
    const vs2_ids *forced; /* teacher forcing (vs2_score_params.answer): fed instead of the
                            * sampler's choices, which still processes each step's logits */
    const char *reason;
    int done;
    double t_end;
} gen_state;

/* The samples of one call decoded together (DECODE_BATCH at a time): each step picks every live
 * sample's next token from its own logits row, then one vs2_llm_decode_batch pass over the
 * weights advances them all. Sample 0 continues on the prefill's cache; the others start from
 * copies of it. Batched decoding computes each row exactly as a lone decode would (llm.h), so
 * the answers do not depend on the batch. */
#define DECODE_BATCH 8

static vs2_status start_sample(const vs2_engine *e, const vs2_result *r, int si, const vs2_ids *prompt,
                               const vs2_ids *forced, vs2_kv_cache *prefill_kv, gen_state *g, vs2_error *err) {
    vs2_sampling sp = {.do_sample = r->decoding == VS2_DECODE_SAMPLE,
                       .temperature = r->temperature,
                       .top_k = r->top_k,
                       .top_p = r->top_p,
                       .repetition_penalty = r->repetition_penalty,
                       .seed = r->seed + (uint64_t)si};
    r->samples[si].seed = sp.seed;
    g->forced = forced;
    g->maxn = forced ? (int)forced->n : r->max_new_tokens;
    g->reason = forced ? "answer" : "max_new_tokens";
    g->probs = malloc((size_t)g->maxn * sizeof *g->probs);
    g->ids = malloc((size_t)g->maxn * sizeof *g->ids);
    if (!g->probs || !g->ids) return vs2__fail(err, VS2_ERR_NOMEM, "generate: out of memory");
    vs2_status st = vs2_sampler_create(&sp, vs2_llm_vocab(e->llm), &g->smp, err);
    if (st != VS2_OK) return st;
    vs2_sampler_accept(g->smp, prompt->ids, (int64_t)prompt->n);
    if (si % DECODE_BATCH == 0) {
        g->kv = prefill_kv; /* the first of each batch reuses the prefill's cache */
        vs2_kv_cache_truncate(prefill_kv, (int64_t)prompt->n);
        return VS2_OK;
    }
    st = vs2_kv_cache_create(e->llm, vs2_kv_cache_capacity(prefill_kv), &g->kv, err);
    if (st == VS2_OK) st = vs2_kv_cache_copy(g->kv, prefill_kv, (int64_t)prompt->n, err);
    return st;
}

/* Take the next token of a live sample from its logits; marks it done when it stops. */
static vs2_status pick_token(const vs2_engine *e, const vs2_score_params *p, const vs2_result *r, int si,
                             gen_state *g, float *logits, vs2_error *err) {
    const int32_t n_vocab = vs2_llm_vocab(e->llm);
    int32_t id = vs2_sampler_next(g->smp, logits);
    if (g->forced) id = g->forced->ids[g->n];
    if (id < 0 || id >= n_vocab)
        return vs2__fail(err, VS2_ERR_INTERNAL, "generate: id %d is outside the vocabulary of %d", (int)id, (int)n_vocab);
    digit_probs_of(logits, n_vocab, e->digit_ids, g->probs[g->n]);
    g->ids[g->n++] = id;
    vs2_sampler_accept(g->smp, &id, 1);
    if (p->on_token && p->on_token(p->on_token_user, si, (int)g->n - 1, id)) {
        g->reason = "callback";
        g->done = 1;
    } else if (is_stop(r, id)) {
        g->reason = "eos";
        g->done = 1;
    } else if ((int)g->n == g->maxn) {
        g->done = 1;
    }
    return VS2_OK;
}

static vs2_status generate_batch(const vs2_engine *e, const vs2_score_params *p, vs2_result *r, int s0, int B,
                                 const vs2_ids *prompt, const vs2_ids *forced, vs2_kv_cache *prefill_kv,
                                 const float *prefill_logits, int64_t rope_delta, const vs2_run *run, progress *pr,
                                 vs2_error *err) {
    const int32_t n_vocab = vs2_llm_vocab(e->llm);
    gen_state g[DECODE_BATCH];
    memset(g, 0, sizeof g);
    float *logits = malloc((size_t)B * (size_t)n_vocab * sizeof *logits);
    vs2_status st = logits ? VS2_OK : vs2__fail(err, VS2_ERR_NOMEM, "generate: out of memory");
    for (int b = 0; b < B && st == VS2_OK; b++) st = start_sample(e, r, s0 + b, prompt, forced, prefill_kv, &g[b], err);
    const double t0 = now_ms();
    for (int b = 0; b < B && st == VS2_OK; b++)
        memcpy(logits + (size_t)b * n_vocab, prefill_logits, (size_t)n_vocab * sizeof *logits);
    while (st == VS2_OK) {
        vs2_kv_cache *kvs[DECODE_BATCH];
        int32_t ids[DECODE_BATCH];
        int which[DECODE_BATCH], live = 0;
        for (int b = 0; b < B && st == VS2_OK; b++) {
            if (g[b].done) continue;
            st = pick_token(e, p, r, s0 + b, &g[b], logits + (size_t)b * n_vocab, err);
            if (st == VS2_OK && pr) report(p, VS2_PHASE_GENERATE, ++pr->generated, (int64_t)r->n_samples * r->max_new_tokens);
            if (g[b].done) g[b].t_end = now_ms();
            else which[live++] = b;
        }
        if (st != VS2_OK || live == 0) break;
        /* docs/qwen2.5-vl.md §5.5: the token at cache index c gets position c + rope_delta on all axes. */
        int64_t pos[3 * DECODE_BATCH];
        for (int k = 0; k < live; k++) {
            gen_state *gs = &g[which[k]];
            kvs[k] = gs->kv;
            ids[k] = gs->ids[gs->n - 1];
            pos[k] = pos[live + k] = pos[2 * live + k] = vs2_kv_cache_len(gs->kv) + rope_delta;
            gs->steps++;
        }
        float *out = logits + (size_t)(B - live) * n_vocab; /* rows of finished samples are free */
        st = vs2_llm_decode_batch(e->llm, kvs, live, ids, pos, out, run, err);
        /* Back to each sample's own row, in ascending order: which[k] ≤ B − live + k, so a row is
         * only ever moved down onto rows already moved or free. */
        for (int k = 0; k < live && st == VS2_OK; k++)
            memmove(logits + (size_t)which[k] * n_vocab, out + (size_t)k * n_vocab, (size_t)n_vocab * sizeof *logits);
    }
    for (int b = 0; b < B; b++) {
        vs2_sample *s = &r->samples[s0 + b];
        s->generate_ms = (g[b].t_end > 0 ? g[b].t_end : now_ms()) - t0;
        s->tokens_per_second = g[b].steps > 0 && s->generate_ms > 0 ? (double)g[b].steps / (s->generate_ms / 1e3) : 0;
        if (st == VS2_OK) {
            s->ids = g[b].ids;
            s->n_ids = g[b].n;
            g[b].ids = NULL;
            st = vs2__sample_finish(e->tok, s->ids, s->n_ids, (const float(*)[5])g[b].probs, g[b].reason,
                                    g[b].maxn, s, err);
            s->stop_reason = g[b].reason; /* static string */
        }
        vs2_sampler_free(g[b].smp);
        if (g[b].kv != prefill_kv) vs2_kv_cache_free(g[b].kv);
        free(g[b].ids);
        free(g[b].probs);
    }
    free(logits);
    return st;
}

static char *dupstr(const char *s) { return strdup(s ? s : ""); }

/* Memory a KV cache may take: half the physical memory, or half the address-space limit
 * (ulimit -v) when that is lower; the weights and activations need the rest. 0 if unknown. */
static double kv_budget_bytes(const char **what) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    double b = pages > 0 && page > 0 ? (double)pages * (double)page / 2 : 0;
    *what = "half of this machine's memory";
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (b == 0 || (double)rl.rlim_cur / 2 < b)) {
        b = (double)rl.rlim_cur / 2;
        *what = "half of the address-space limit, ulimit -v";
    }
    return b;
}

/* Refuse a sequence the model cannot take before any forward pass: past max_position_embeddings,
 * or a KV cache past the memory budget. Both numbers are named. */
static vs2_status check_sequence_fits(const vs2_config *cfg, int64_t n_prompt, int64_t n_video,
                                      int64_t max_new, vs2_error *err) {
    const int64_t total = n_prompt + max_new;
    if (total > cfg->max_position_embeddings)
        return vs2__fail(err, VS2_ERR_INVALID_ARG,
                         "the prompt is %lld tokens (%lld of them video) and up to %lld more may be "
                         "generated: %lld tokens, more than the model's max_position_embeddings %d "
                         "(config.json); shorten the prompt or use fewer video frames or pixels",
                         (long long)n_prompt, (long long)n_video, (long long)max_new, (long long)total,
                         cfg->max_position_embeddings);
    const double per_token = 2.0 * cfg->num_hidden_layers * cfg->num_key_value_heads * cfg->head_dim * sizeof(float);
    const char *what;
    const double need = per_token * (double)total, budget = kv_budget_bytes(&what);
    if (budget > 0 && need > budget)
        return vs2__fail(err, VS2_ERR_NOMEM,
                         "the prompt is %lld tokens and up to %lld more may be generated: %lld tokens need "
                         "a KV cache of %.3f GB, more than its budget of %.3f GB (%s), which holds %lld tokens",
                         (long long)n_prompt, (long long)max_new, (long long)total, need / 1e9, budget / 1e9,
                         what, (long long)(budget / per_token));
    return VS2_OK;
}

/* Stage dumps of the LLM's inputs: the prompt ids (1 × n), the M-RoPE positions (3 × n) and
 * the rope delta, all exact as floats (ids and positions are below 2^24). */
static vs2_status dump_llm_inputs(const vs2_run *run, const vs2_ids *ids, const int64_t *pos, int64_t rope_delta,
                                  vs2_error *err) {
    if (!run->dump) return VS2_OK;
    int64_t n = (int64_t)ids->n;
    float *f = malloc((size_t)n * 3 * sizeof *f);
    if (!f) return vs2__fail(err, VS2_ERR_NOMEM, "score: out of memory for the position dump");
    for (int64_t i = 0; i < n; i++) f[i] = (float)ids->ids[i];
    run->dump(run->dump_user, "input_ids", f, 1, n);
    for (int64_t i = 0; i < 3 * n; i++) f[i] = (float)pos[i];
    run->dump(run->dump_user, "positions", f, 3, n);
    float d = (float)rope_delta;
    run->dump(run->dump_user, "rope_delta", &d, 1, 1);
    free(f);
    return VS2_OK;
}

/* The prefill: the logits of the last prompt position into last_logits, dumped as "logits";
 * with dump_all_logits every position's logits are computed and dumped (n × vocab). */
static vs2_status prefill(const vs2_engine *e, const vs2_score_params *p, vs2_kv_cache *kv, const vs2_ids *ids,
                          const float *vemb, int64_t n_video, const int64_t *pos, float *last_logits,
                          const vs2_run *run, vs2_error *err) {
    int32_t n_vocab = vs2_llm_vocab(e->llm);
    int64_t n = (int64_t)ids->n;
    if (!run->dump || !p->dump_all_logits) {
        vs2_status st = vs2_llm_forward(e->llm, kv, ids->ids, n, vemb, n_video, pos, last_logits, 1, run, err);
        if (st == VS2_OK && run->dump) run->dump(run->dump_user, "logits", last_logits, 1, n_vocab);
        return st;
    }
    float *all = malloc((size_t)n * (size_t)n_vocab * sizeof *all);
    if (!all) return vs2__fail(err, VS2_ERR_NOMEM, "score: out of memory for %lld rows of logits", (long long)n);
    vs2_status st = vs2_llm_forward(e->llm, kv, ids->ids, n, vemb, n_video, pos, all, n, run, err);
    if (st == VS2_OK) {
        run->dump(run->dump_user, "logits", all, n, n_vocab);
        memcpy(last_logits, all + (size_t)(n - 1) * (size_t)n_vocab, (size_t)n_vocab * sizeof *last_logits);
    }
    free(all);
    return st;
}

/* The answer to score by teacher forcing (vs2_score_params.answer), tokenized. */
static vs2_status answer_ids(const vs2_engine *e, const char *answer, vs2_ids *out, vs2_error *err) {
    vs2_status st = vs2_tokenize(e->tok, answer, strlen(answer), out, err);
    if (st == VS2_OK && out->n == 0) st = vs2__fail(err, VS2_ERR_INVALID_ARG, "score: the answer to score is empty");
    if (st == VS2_OK && out->n > INT_MAX / 2)
        st = vs2__fail(err, VS2_ERR_INVALID_ARG, "score: the answer has too many tokens (%zu)", out->n);
    return st;
}

static vs2_status score_video(const vs2_engine *e, const vs2_video *video, const char *video_name,
                              const char *prompt, const vs2_score_params *p, double video_ms, double t_start,
                              vs2_result **out, vs2_error *err) {
    const vs2_config *cfg = vs2_model_files_config(e->mf);
    vs2_result *r = calloc(1, sizeof *r);
    if (!r) return vs2__fail(err, VS2_ERR_NOMEM, "score: out of memory");
    vs2_status st = resolve_decoding(e, p, r, err);
    if (st != VS2_OK) {
        vs2_result_free(r);
        return st;
    }
    r->model = dupstr(e->dir);
    r->video = dupstr(video_name);
    r->prompt = dupstr(prompt);
    r->tmpl = p->tmpl;
    r->frames = video->n_frames;
    r->total_frames = video->total_frames;
    r->video_fps = video->video_fps;
    r->sample_fps = video->sample_fps;
    r->second_per_grid_t = video->second_per_grid_t;
    r->src_width = video->src_width;
    r->src_height = video->src_height;
    r->width = video->width;
    r->height = video->height;
    r->grid_t = video->grid_t;
    r->grid_h = video->grid_h;
    r->grid_w = video->grid_w;
    r->video_tokens = video->video_tokens;
    r->video_ms = video_ms;
    r->n_samples = (size_t)p->samples;
    r->samples = calloc(r->n_samples, sizeof *r->samples);
    if (!r->model || !r->video || !r->prompt || !r->samples) {
        vs2_result_free(r);
        return vs2__fail(err, VS2_ERR_NOMEM, "score: out of memory");
    }
    for (size_t i = 0; i < r->n_samples; i++)
        for (int d = 0; d < VS2_NDIMS; d++) {
            r->samples[i].soft[d] = r->samples[i].soft_expected[d] = NAN;
            r->samples[i].soft_index[d] = -1;
        }

    int merge = cfg->vision.spatial_merge_size > 0 ? cfg->vision.spatial_merge_size : 2;
    int64_t n_video = video->video_tokens;
    if (!video->pixel_values || video->rows != (int64_t)video->grid_t * video->grid_h * video->grid_w ||
        video->grid_t < 1 || video->grid_h % merge || video->grid_w % merge ||
        n_video != video->rows / ((int64_t)merge * merge) || n_video < 1) {
        vs2_result_free(r);
        return vs2__fail(err, VS2_ERR_INVALID_ARG,
                         "score: the video has no usable pixel values (grid %dx%dx%d, %lld rows, %lld tokens)",
                         video->grid_t, video->grid_h, video->grid_w, (long long)video->rows, (long long)n_video);
    }

    dumper dump;
    vs2_run run = {.threads = r->threads};
    if (r->threads > 1 && vs2_pool_create(r->threads, &run.pool) != VS2_OK) {
        vs2_result_free(r);
        return vs2__fail(err, VS2_ERR_NOMEM, "score: cannot start %d threads", r->threads);
    }
    vs2_ids ids = {0}, forced = {0};
    char *user = NULL;
    float *vemb = NULL, *prefill_logits = NULL;
    int64_t *pos = NULL;
    vs2_kv_cache *kv = NULL;
    int dump_opened = 0;
    int32_t n_vocab = vs2_llm_vocab(e->llm);

    if ((st = dump_open(&dump, p, err)) != VS2_OK) goto done;
    dump_opened = 1;
    if (p->dump || p->dump_dir) {
        run.dump = dump_cb;
        run.dump_user = &dump;
    }
    if (p->answer) {
        if (r->n_samples != 1) {
            st = vs2__fail(err, VS2_ERR_INVALID_ARG, "score: an answer to score is one sample, not %zu", r->n_samples);
            goto done;
        }
        if ((st = answer_ids(e, p->answer, &forced, err)) != VS2_OK) goto done;
    }
    if (run.dump) run.dump(run.dump_user, "pixel_values", video->pixel_values, video->rows, VS2_PATCH_DIM);

    /* The prompt. */
    user = vs2_prompt_render(p->tmpl, prompt);
    if (!user) {
        st = vs2__fail(err, VS2_ERR_NOMEM, "score: out of memory");
        goto done;
    }
    if ((st = vs2_chat_video_ids(e->tok, user, (size_t)n_video, &ids, err)) != VS2_OK) goto done;
    r->prompt_tokens = (int64_t)ids.n;
    if ((st = check_sequence_fits(cfg, (int64_t)ids.n, n_video, r->max_new_tokens, err)) != VS2_OK) goto done;

    progress prog = {p, cfg->vision.depth, cfg->num_hidden_layers, 0};
    if (p->on_progress) {
        run.stage = on_stage;
        run.stage_user = &prog;
    }

    /* Vision tower. */
    double t0 = now_ms();
    vemb = malloc((size_t)n_video * (size_t)cfg->hidden_size * sizeof *vemb);
    if (!vemb) {
        st = vs2__fail(err, VS2_ERR_NOMEM, "score: out of memory for %lld video embeddings", (long long)n_video);
        goto done;
    }
    report(p, VS2_PHASE_VISION, 0, cfg->vision.depth);
    st = vs2_vision_forward(e->vision, video->pixel_values, video->grid_t, video->grid_h, video->grid_w, vemb, &run,
                            err);
    if (st != VS2_OK) goto done;
    r->vision_ms = now_ms() - t0;

    /* Positions, KV cache, prefill. */
    report(p, VS2_PHASE_PREFILL, 0, cfg->num_hidden_layers);
    t0 = now_ms();
    int64_t n = (int64_t)ids.n, rope_delta = 0;
    vs2_grid grid = {video->grid_t, video->grid_h, video->grid_w, video->second_per_grid_t};
    pos = malloc((size_t)n * 3 * sizeof *pos);
    prefill_logits = malloc((size_t)n_vocab * sizeof *prefill_logits);
    if (!pos || !prefill_logits) {
        st = vs2__fail(err, VS2_ERR_NOMEM, "score: out of memory");
        goto done;
    }
    if ((st = vs2_rope_index(cfg, ids.ids, n, &grid, 1, pos, &rope_delta, err)) != VS2_OK) goto done;
    if ((st = dump_llm_inputs(&run, &ids, pos, rope_delta, err)) != VS2_OK) goto done;
    int64_t n_new = p->answer ? (int64_t)forced.n : r->max_new_tokens;
    if ((st = vs2_kv_cache_create(e->llm, n + n_new, &kv, err)) != VS2_OK) goto done;
    st = prefill(e, p, kv, &ids, vemb, n_video, pos, prefill_logits, &run, err);
    if (st != VS2_OK) goto done;
    r->prefill_ms = now_ms() - t0;
    free(vemb);
    vemb = NULL;
    free(pos);
    pos = NULL;
    /* Only the prefill is dumped: the decode steps would repeat every stage per token. */
    run.dump = NULL;
    run.dump_user = NULL;
    run.stage = NULL;

    report(p, VS2_PHASE_GENERATE, 0, (int64_t)r->n_samples * r->max_new_tokens);
    t0 = now_ms();
    for (size_t s0 = 0; s0 < r->n_samples && st == VS2_OK; s0 += DECODE_BATCH) {
        const int B = r->n_samples - s0 < DECODE_BATCH ? (int)(r->n_samples - s0) : DECODE_BATCH;
        st = generate_batch(e, p, r, (int)s0, B, &ids, p->answer ? &forced : NULL, kv, prefill_logits,
                            rope_delta, &run, p->on_progress ? &prog : NULL, err);
    }
    r->generate_ms = now_ms() - t0;

done:
    if (dump_opened) {
        vs2_error derr;
        vs2_status ds = dump_close(&dump, &derr);
        if (st == VS2_OK && ds != VS2_OK) {
            st = ds;
            if (err) *err = derr;
        }
    }
    vs2_kv_cache_free(kv);
    vs2_pool_free(run.pool);
    free(prefill_logits);
    free(pos);
    free(vemb);
    free(user);
    vs2_ids_free(&ids);
    vs2_ids_free(&forced);
    if (st != VS2_OK) {
        vs2_result_free(r);
        return st;
    }
    vs2__result_means(r);
    r->total_ms = now_ms() - t_start;
    *out = r;
    vs2__ok(err);
    return VS2_OK;
}

vs2_status vs2_score_video(const vs2_engine *engine, const vs2_video *video, const char *prompt,
                           const vs2_score_params *params, vs2_result **out, vs2_error *err) {
    vs2__ok(err);
    if (!out) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_score_video: out is NULL");
    *out = NULL;
    if (!engine || !video || !prompt)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_score_video: NULL engine, video or prompt");
    vs2_score_params dp = vs2_score_default_params();
    return score_video(engine, video, "", prompt, params ? params : &dp, 0, now_ms(), out, err);
}

vs2_status vs2_score(const vs2_engine *engine, const char *video_path, const char *prompt,
                     const vs2_score_params *params, vs2_result **out, vs2_error *err) {
    vs2__ok(err);
    if (!out) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_score: out is NULL");
    *out = NULL;
    if (!engine || !video_path || !prompt)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_score: NULL engine, video path or prompt");
    vs2_score_params dp = vs2_score_default_params();
    const vs2_score_params *p = params ? params : &dp;
    double t0 = now_ms();
    vs2_video_params vp = p->video;
    vp.no_pixels = 0;
    if (vp.threads == 0) vp.threads = p->threads > 0 ? p->threads : engine->threads;
    vs2_video v;
    vs2_status st = vs2_video_load(video_path, &vp, &v, err);
    if (st != VS2_OK) return st;
    double video_ms = now_ms() - t0;
    st = score_video(engine, &v, video_path, prompt, p, video_ms, t0, out, err);
    vs2_video_free(&v);
    return st;
}
