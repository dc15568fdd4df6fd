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

vs2_status vs2__resolve_decoding(const vs2_engine *e, const vs2_score_params *p, vs2_result *r,
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


static int valid_stage_name(const char *s) {
    if (!*s || *s == '.') return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

void vs2__dump_cb(void *user, const char *stage, const float *x, int64_t rows, int64_t cols) {
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

vs2_status vs2__dump_open(dumper *d, const vs2_score_params *p, vs2_error *err) {
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
vs2_status vs2__dump_close(dumper *d, vs2_error *err) {
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
