/* engine.c — ties the stages together (DESIGN.md "The path of one video"): resolve and open
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

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
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
    vs2_tokenizer_free(e->tok);
    vs2_model_files_close(e->mf);
    free(e->dir);
    free(e);
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
    elog(e, 2, "model %s: %s", model, e->dir);

    vs2_model_files_params mp = vs2_model_files_default_params();
    mp.check_tensors = 1;
    mp.log = p->log;
    mp.log_user = p->log_user;
    if ((st = vs2_model_files_open(e->dir, &mp, &e->mf, err)) != VS2_OK) goto fail;
    if ((st = vs2_tokenizer_load(e->dir, &e->tok, err)) != VS2_OK) goto fail;
    if ((st = vs2_vision_create(e->mf, &e->vision, err)) != VS2_OK) goto fail;
    if ((st = vs2_llm_create(e->mf, &e->llm, err)) != VS2_OK) goto fail;
    vs2_digit_ids(e->tok, e->digit_ids);
    for (int d = 0; d < 5; d++)
        if (e->digit_ids[d] < 0) elog(e, 1, "digit '%d' is not a single token: no soft score can use it", d + 1);
    elog(e, 2, "loaded in %.0f ms (%d threads)", now_ms() - t0, e->threads);
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
    return p;
}

/* The reference's sampling temperature (videoscore2.md decision b). */
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

/* One sample: from the prefill logits to the stop token. kv holds the prompt (n_prompt).
 * forced (teacher forcing, vs2_score_params.answer): these ids are fed instead of the sampler's
 * choices, which still processes each step's logits as generation would. */
static vs2_status generate_one(const vs2_engine *e, const vs2_score_params *p, vs2_result *r, int si,
                               const vs2_ids *prompt, const vs2_ids *forced, vs2_kv_cache *kv,
                               const float *prefill_logits, float *logits, int64_t rope_delta,
                               const vs2_run *run, vs2_error *err) {
    vs2_sample *s = &r->samples[si];
    int32_t n_vocab = vs2_llm_vocab(e->llm);
    int maxn = forced ? (int)forced->n : r->max_new_tokens;
    vs2_sampling sp = {.do_sample = r->decoding == VS2_DECODE_SAMPLE,
                       .temperature = r->temperature,
                       .top_k = r->top_k,
                       .top_p = r->top_p,
                       .repetition_penalty = r->repetition_penalty,
                       .seed = r->seed + (uint64_t)si};
    s->seed = sp.seed;
    vs2_sampler *smp = NULL;
    float(*probs)[5] = malloc((size_t)maxn * sizeof *probs);
    int32_t *ids = malloc((size_t)maxn * sizeof *ids);
    vs2_status st = (probs && ids) ? vs2_sampler_create(&sp, n_vocab, &smp, err)
                                   : vs2__fail(err, VS2_ERR_NOMEM, "generate: out of memory");
    size_t n = 0;
    int64_t steps = 0;
    const char *reason = forced ? "answer" : "max_new_tokens";
    double t0 = now_ms();
    if (st == VS2_OK) {
        vs2_kv_cache_truncate(kv, (int64_t)prompt->n);
        vs2_sampler_accept(smp, prompt->ids, (int64_t)prompt->n);
        memcpy(logits, prefill_logits, (size_t)n_vocab * sizeof *logits);
    }
    while (st == VS2_OK && (int)n < maxn) {
        int32_t id = vs2_sampler_next(smp, logits);
        if (forced) id = forced->ids[n];
        if (id < 0 || id >= n_vocab) {
            st = vs2__fail(err, VS2_ERR_INTERNAL, "generate: id %d is outside the vocabulary of %d", (int)id, (int)n_vocab);
            break;
        }
        digit_probs_of(logits, n_vocab, e->digit_ids, probs[n]);
        ids[n++] = id;
        vs2_sampler_accept(smp, &id, 1);
        if (p->on_token && p->on_token(p->on_token_user, si, (int)n - 1, id)) {
            reason = "callback";
            break;
        }
        if (is_stop(r, id)) {
            reason = "eos";
            break;
        }
        if ((int)n == maxn) break;
        /* qwen25vl.md §5.5: the token at cache index c gets position c + rope_delta on all axes. */
        int64_t c = vs2_kv_cache_len(kv);
        int64_t pos[3] = {c + rope_delta, c + rope_delta, c + rope_delta};
        st = vs2_llm_forward(e->llm, kv, &id, 1, NULL, 0, pos, logits, 1, run, err);
        steps++;
    }
    s->generate_ms = now_ms() - t0;
    s->tokens_per_second = steps > 0 && s->generate_ms > 0 ? (double)steps / (s->generate_ms / 1e3) : 0;
    vs2_sampler_free(smp);
    if (st == VS2_OK) {
        s->ids = ids;
        s->n_ids = n;
        ids = NULL;
        st = vs2__sample_finish(e->tok, s->ids, s->n_ids, (const float(*)[5])probs, reason, maxn, s, err);
        s->stop_reason = reason; /* static string */
    }
    free(ids);
    free(probs);
    return st;
}

static char *dupstr(const char *s) { return strdup(s ? s : ""); }

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
    vs2_ids ids = {0}, forced = {0};
    char *user = NULL;
    float *vemb = NULL, *logits = NULL, *prefill_logits = NULL;
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

    /* Vision tower. */
    double t0 = now_ms();
    vemb = malloc((size_t)n_video * (size_t)cfg->hidden_size * sizeof *vemb);
    if (!vemb) {
        st = vs2__fail(err, VS2_ERR_NOMEM, "score: out of memory for %lld video embeddings", (long long)n_video);
        goto done;
    }
    st = vs2_vision_forward(e->vision, video->pixel_values, video->grid_t, video->grid_h, video->grid_w, vemb, &run,
                            err);
    if (st != VS2_OK) goto done;
    r->vision_ms = now_ms() - t0;

    /* Positions, KV cache, prefill. */
    t0 = now_ms();
    int64_t n = (int64_t)ids.n, rope_delta = 0;
    vs2_grid grid = {video->grid_t, video->grid_h, video->grid_w, video->second_per_grid_t};
    pos = malloc((size_t)n * 3 * sizeof *pos);
    logits = malloc((size_t)n_vocab * sizeof *logits);
    prefill_logits = malloc((size_t)n_vocab * sizeof *prefill_logits);
    if (!pos || !logits || !prefill_logits) {
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

    for (size_t si = 0; si < r->n_samples && st == VS2_OK; si++) {
        st = generate_one(e, p, r, (int)si, &ids, p->answer ? &forced : NULL, kv, prefill_logits, logits,
                          rope_delta, &run, err);
        r->generate_ms += r->samples[si].generate_ms;
    }

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
    free(prefill_logits);
    free(logits);
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
