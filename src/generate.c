/* generate.c — one scoring call (docs/architecture.md, "The path of one video"). Per video:
 * render the chat, run the vision tower, compute the M-RoPE positions and prefill the language
 * model. Then the answers of every sample of every video of the call are decoded together,
 * several sequences per pass over the weights (decode streams the weights, so a pass costs
 * about the same for 1 or 8 rows), recording the probabilities of the score digits at every
 * step; result.c reads the scores from the answers.
 *
 * Every call owns its KV caches, buffers, samplers and threads: calls may share one engine. */
#include "engine_internal.h"
#include "llm.h"
#include "pool.h"
#include "sampler.h"
#include "scores.h"
#include "vision.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char *dupstr(const char *s) { return strdup(s ? s : ""); }

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
 * or KV caches past the memory budget (copies: the caches its samples hold at once while they
 * decode together). Both numbers are named. */
static vs2_status check_sequence_fits(const vs2_engine *e, int64_t n_prompt, int64_t n_video,
                                      int64_t max_new, int copies, vs2_error *err) {
    const vs2_config *cfg = vs2_model_files_config(e->mf);
    const int64_t total = n_prompt + max_new;
    if (total > cfg->max_position_embeddings)
        return vs2__fail(err, VS2_ERR_INVALID_ARG,
                         "the prompt is %lld tokens (%lld of them video) and up to %lld more may be "
                         "generated: %lld tokens, more than the model's max_position_embeddings %d "
                         "(config.json); shorten the prompt or use fewer video frames or pixels",
                         (long long)n_prompt, (long long)n_video, (long long)max_new, (long long)total,
                         cfg->max_position_embeddings);
    const double per_token = vs2_llm_kv_bytes_per_token(e->llm);
    const char *what;
    const double need = per_token * (double)total * copies, budget = kv_budget_bytes(&what);
    char times[64] = "";
    if (copies > 1) snprintf(times, sizeof times, " (%d samples decoding together hold %d copies)", copies, copies);
    if (budget > 0 && need > budget)
        return vs2__fail(err, VS2_ERR_NOMEM,
                         "the prompt is %lld tokens and up to %lld more may be generated: %lld tokens need "
                         "a KV cache of %.3f GB%s, more than its budget of %.3f GB (%s), which holds %lld tokens",
                         (long long)n_prompt, (long long)max_new, (long long)total, need / 1e9, times,
                         budget / 1e9, what, (long long)(budget / per_token));
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
static vs2_status prefill_logits(const vs2_engine *e, const vs2_score_params *p, vs2_kv_cache *kv, const vs2_ids *ids,
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


/* ---- one video: result, prompt, vision tower, prefill ---------------------------------------- */

/* Answers decoded together in one pass over the weights (at most; vs2_llm_decode_batch takes 64). */
#define DECODE_BATCH 8

/* One video of a call, from its prompt to its result. */
typedef struct job {
    const vs2_score_params *p;
    int index;                  /* the item's index in the call (on_token's sample numbering) */
    vs2_result *r;
    vs2_ids ids, forced;        /* the prompt; the teacher-forced answer (vs2_score_params.answer) */
    vs2_kv_cache *kv;           /* the prefill's cache; sample 0 continues on it */
    float *logits;              /* next-token logits after the prefill */
    int64_t rope_delta;
    double t_start, gen_ms;
    vs2_status st;              /* VS2_OK until the item fails */
    vs2_error err;
} job;

/* The tokens a job may add after its prompt, and the KV caches its samples hold at once. */
static int64_t job_new_tokens(const job *j) { return j->p->answer ? (int64_t)j->forced.n : j->p->max_new_tokens; }
static int job_copies(const job *j) { return j->p->samples < DECODE_BATCH ? j->p->samples : DECODE_BATCH; }

static int job_failed(job *j, vs2_status st) {
    if (st != VS2_OK && j->st == VS2_OK) j->st = st;
    return j->st != VS2_OK;
}

/* The result's description of the video, the decoding settings, the prompt ids; refuses a
 * video without usable pixels and a sequence that cannot fit. */
static vs2_status job_begin(const vs2_engine *e, job *j, const vs2_video *video, const char *video_name,
                            const char *prompt) {
    const vs2_score_params *p = j->p;
    const vs2_config *cfg = vs2_model_files_config(e->mf);
    vs2_error *err = &j->err;
    vs2_result *r = j->r = calloc(1, sizeof *r);
    if (!r) return vs2__fail(err, VS2_ERR_NOMEM, "score: out of memory");
    vs2_status st = vs2__resolve_decoding(e, p, r, err);
    if (st != VS2_OK) return st;
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
    r->n_samples = (size_t)p->samples;
    r->samples = calloc(r->n_samples, sizeof *r->samples);
    if (!r->model || !r->video || !r->prompt || !r->samples) return vs2__fail(err, VS2_ERR_NOMEM, "score: out of memory");
    for (size_t i = 0; i < r->n_samples; i++)
        for (int d = 0; d < VS2_NDIMS; d++) {
            r->samples[i].soft[d] = r->samples[i].soft_expected[d] = NAN;
            r->samples[i].soft_index[d] = -1;
        }

    int merge = cfg->vision.spatial_merge_size > 0 ? cfg->vision.spatial_merge_size : 2;
    int64_t n_video = video->video_tokens;
    if (!video->pixel_values || video->rows != (int64_t)video->grid_t * video->grid_h * video->grid_w ||
        video->grid_t < 1 || video->grid_h % merge || video->grid_w % merge ||
        n_video != video->rows / ((int64_t)merge * merge) || n_video < 1)
        return vs2__fail(err, VS2_ERR_INVALID_ARG,
                         "score: the video has no usable pixel values (grid %dx%dx%d, %lld rows, %lld tokens)",
                         video->grid_t, video->grid_h, video->grid_w, (long long)video->rows, (long long)n_video);
    if (p->answer) {
        if (r->n_samples != 1)
            return vs2__fail(err, VS2_ERR_INVALID_ARG, "score: an answer to score is one sample, not %zu", r->n_samples);
        if ((st = answer_ids(e, p->answer, &j->forced, err)) != VS2_OK) return st;
    }
    char *user = vs2_prompt_render(p->tmpl, prompt);
    if (!user) return vs2__fail(err, VS2_ERR_NOMEM, "score: out of memory");
    st = vs2_chat_video_ids(e->tok, user, (size_t)n_video, &j->ids, err);
    free(user);
    if (st != VS2_OK) return st;
    r->prompt_tokens = (int64_t)j->ids.n;
    return check_sequence_fits(e, (int64_t)j->ids.n, n_video, job_new_tokens(j), job_copies(j), err);
}

/* The vision tower, the positions and the prefill (with the stage dumps when asked). */
static vs2_status job_prefill(const vs2_engine *e, job *j, const vs2_video *video, const vs2_run *call_run) {
    const vs2_score_params *p = j->p;
    const vs2_config *cfg = vs2_model_files_config(e->mf);
    vs2_error *err = &j->err;
    vs2_result *r = j->r;
    const int64_t n_video = video->video_tokens, n = (int64_t)j->ids.n;
    const int32_t n_vocab = vs2_llm_vocab(e->llm);
    vs2_run run = *call_run;
    dumper dump;
    vs2_status st = vs2__dump_open(&dump, p, err);
    if (st != VS2_OK) return st;
    if (p->dump || p->dump_dir) {
        run.dump = vs2__dump_cb;
        run.dump_user = &dump;
    }
    progress prog = {p, cfg->vision.depth, cfg->num_hidden_layers, 0};
    if (p->on_progress) {
        run.stage = on_stage;
        run.stage_user = &prog;
    }
    if (run.dump) run.dump(run.dump_user, "pixel_values", video->pixel_values, video->rows, VS2_PATCH_DIM);

    double t0 = now_ms();
    float *vemb = malloc((size_t)n_video * (size_t)cfg->hidden_size * sizeof *vemb);
    int64_t *pos = malloc((size_t)n * 3 * sizeof *pos);
    j->logits = malloc((size_t)n_vocab * sizeof *j->logits);
    if (!vemb || !pos || !j->logits) {
        st = vs2__fail(err, VS2_ERR_NOMEM, "score: out of memory for %lld video embeddings", (long long)n_video);
        goto done;
    }
    report(p, VS2_PHASE_VISION, 0, cfg->vision.depth);
    st = vs2_vision_forward(e->vision, video->pixel_values, video->grid_t, video->grid_h, video->grid_w, vemb, &run,
                            err);
    if (st != VS2_OK) goto done;
    r->vision_ms = now_ms() - t0;

    report(p, VS2_PHASE_PREFILL, 0, cfg->num_hidden_layers);
    t0 = now_ms();
    vs2_grid grid = {video->grid_t, video->grid_h, video->grid_w, video->second_per_grid_t};
    if ((st = vs2_rope_index(cfg, j->ids.ids, n, &grid, 1, pos, &j->rope_delta, err)) != VS2_OK) goto done;
    if ((st = dump_llm_inputs(&run, &j->ids, pos, j->rope_delta, err)) != VS2_OK) goto done;
    if ((st = vs2_kv_cache_create(e->llm, n + job_new_tokens(j), &j->kv, err)) != VS2_OK) goto done;
    st = prefill_logits(e, p, j->kv, &j->ids, vemb, n_video, pos, j->logits, &run, err);
    r->prefill_ms = now_ms() - t0;
done:
    free(vemb);
    free(pos);
    vs2_error derr;
    vs2_status ds = vs2__dump_close(&dump, &derr);
    if (st == VS2_OK && ds != VS2_OK) {
        st = ds;
        *err = derr;
    }
    return st;
}

/* The caches a job's answers need after the prefill. */
static void job_release_cache(job *j) {
    vs2_kv_cache_free(j->kv);
    j->kv = NULL;
    free(j->logits);
    j->logits = NULL;
}

static void job_free(job *j) {
    job_release_cache(j);
    vs2_result_free(j->r);
    vs2_ids_free(&j->ids);
    vs2_ids_free(&j->forced);
}

/* ---- decoding: the answers of several samples and videos together ----------------------------- */

/* One answer being decoded. */
typedef struct seq {
    job *j;
    int si;              /* the sample index within its job */
    vs2_sampler *smp;
    vs2_kv_cache *kv;
    float (*probs)[5];
    int32_t *ids;
    size_t n;
    int64_t steps;
    int32_t choice;      /* this step's sampler choice (seq_choose) */
    int maxn;            /* max_new_tokens, or the forced answer's length */
    const vs2_ids *forced; /* teacher forcing: fed instead of the sampler's choices, which still
                            * processes each step's logits */
    const char *reason;
    int done;
    double t_end;
} seq;

/* The first answer of a job in a group continues on the prefill's cache (cut back to the
 * prompt); the others start from copies of it. */
static vs2_status seq_start(const vs2_engine *e, seq *g, int first_of_job, vs2_error *err) {
    const vs2_result *r = g->j->r;
    vs2_sampling sp = {.do_sample = r->decoding == VS2_DECODE_SAMPLE,
                       .temperature = r->temperature,
                       .top_k = r->top_k,
                       .top_p = r->top_p,
                       .repetition_penalty = r->repetition_penalty,
                       .seed = r->seed + (uint64_t)g->si};
    r->samples[g->si].seed = sp.seed;
    const vs2_ids *prompt = &g->j->ids;
    g->forced = g->j->p->answer ? &g->j->forced : NULL;
    g->maxn = g->forced ? (int)g->forced->n : r->max_new_tokens;
    g->reason = g->forced ? "answer" : "max_new_tokens";
    g->probs = malloc((size_t)g->maxn * sizeof *g->probs);
    g->ids = malloc((size_t)g->maxn * sizeof *g->ids);
    if (!g->probs || !g->ids) return vs2__fail(err, VS2_ERR_NOMEM, "generate: out of memory");
    vs2_status st = vs2_sampler_create(&sp, vs2_llm_vocab(e->llm), &g->smp, err);
    if (st != VS2_OK) return st;
    vs2_sampler_accept(g->smp, prompt->ids, (int64_t)prompt->n);
    if (first_of_job) {
        g->kv = g->j->kv;
        vs2_kv_cache_truncate(g->kv, (int64_t)prompt->n);
        return VS2_OK;
    }
    st = vs2_kv_cache_create(e->llm, vs2_kv_cache_capacity(g->j->kv), &g->kv, err);
    if (st == VS2_OK) st = vs2_kv_cache_copy(g->kv, g->j->kv, (int64_t)prompt->n, err);
    return st;
}

/* The sampler's choice from an answer's logits (processed in place) and the score digits'
 * probabilities under them: work on the answer's own state only, so the live answers of a step
 * run this in parallel (pick_task). */
static void seq_choose(const vs2_engine *e, seq *g, float *logits) {
    const int32_t n_vocab = vs2_llm_vocab(e->llm);
    g->choice = vs2_sampler_next(g->smp, logits);
    digit_probs_of(logits, n_vocab, e->digit_ids, g->probs[g->n]);
}

typedef struct pick_job {
    const vs2_engine *e;
    seq *g;
    float *logits;
    const int *which;
    int32_t n_vocab;
} pick_job;

static void pick_task(void *ctx, int64_t k, int thread) {
    (void)thread;
    const pick_job *pj = ctx;
    const int b = pj->which[k];
    seq_choose(pj->e, &pj->g[b], pj->logits + (size_t)b * pj->n_vocab);
}

/* Take the chosen token of a live answer (the forced one when teacher forcing), tell the
 * callback, and mark the answer done when it stops. */
static vs2_status seq_take(const vs2_engine *e, seq *g, vs2_error *err) {
    const vs2_score_params *p = g->j->p;
    const int32_t n_vocab = vs2_llm_vocab(e->llm);
    int32_t id = g->forced ? g->forced->ids[g->n] : g->choice;
    if (id < 0 || id >= n_vocab)
        return vs2__fail(err, VS2_ERR_INTERNAL, "generate: id %d is outside the vocabulary of %d", (int)id, (int)n_vocab);
    g->ids[g->n++] = id;
    vs2_sampler_accept(g->smp, &id, 1);
    const int sample = g->j->index * p->samples + g->si;
    if (p->on_token && p->on_token(p->on_token_user, sample, (int)g->n - 1, id)) {
        g->reason = "callback";
        g->done = 1;
    } else if (is_stop(g->j->r, id)) {
        g->reason = "eos";
        g->done = 1;
    } else if ((int)g->n == g->maxn) {
        g->done = 1;
    }
    return VS2_OK;
}

/* Hand a finished answer to its sample: the text, the parses and the soft scores. */
static vs2_status seq_finish(const vs2_engine *e, seq *g, double t0, vs2_error *err) {
    vs2_sample *s = &g->j->r->samples[g->si];
    s->generate_ms = (g->t_end > 0 ? g->t_end : now_ms()) - t0;
    s->tokens_per_second = g->steps > 0 && s->generate_ms > 0 ? (double)g->steps / (s->generate_ms / 1e3) : 0;
    s->ids = g->ids;
    s->n_ids = g->n;
    g->ids = NULL;
    s->stop_reason = g->reason; /* static string */
    return vs2__sample_finish(e->tok, s->ids, s->n_ids, (const float(*)[5])g->probs, g->reason, g->maxn, s, err);
}

/* Up to DECODE_BATCH answers decoded together: each step picks every live answer's next token
 * from its own logits row, then one vs2_llm_decode_batch pass over the weights advances them all.
 * Batched decoding computes each row exactly as a lone decode would (llm.h), so an answer does
 * not depend on what it was batched with. */
static vs2_status decode_group(const vs2_engine *e, seq *g, int B, const vs2_run *run, progress *pr,
                               int64_t total, vs2_error *err) {
    const int32_t n_vocab = vs2_llm_vocab(e->llm);
    float *logits = malloc((size_t)B * (size_t)n_vocab * sizeof *logits);
    vs2_status st = logits ? VS2_OK : vs2__fail(err, VS2_ERR_NOMEM, "generate: out of memory");
    for (int b = 0; b < B && st == VS2_OK; b++) {
        st = seq_start(e, &g[b], b == 0 || g[b - 1].j != g[b].j, err);
        if (st == VS2_OK) memcpy(logits + (size_t)b * n_vocab, g[b].j->logits, (size_t)n_vocab * sizeof *logits);
    }
    const double t0 = now_ms();
    while (st == VS2_OK) {
        vs2_kv_cache *kvs[DECODE_BATCH];
        int32_t ids[DECODE_BATCH];
        int which[DECODE_BATCH], live = 0, alive[DECODE_BATCH], n_alive = 0;
        for (int b = 0; b < B; b++)
            if (!g[b].done) alive[n_alive++] = b;
        pick_job pj = {e, g, logits, alive, n_vocab};
        vs2_pool_for(run->pool, n_alive, pick_task, &pj);
        for (int b = 0; b < B && st == VS2_OK; b++) {
            if (g[b].done) continue;
            st = seq_take(e, &g[b], err);
            if (st == VS2_OK && pr) report(pr->p, VS2_PHASE_GENERATE, ++pr->generated, total);
            if (g[b].done) g[b].t_end = now_ms();
            else which[live++] = b;
        }
        if (st != VS2_OK || live == 0) break;
        /* docs/qwen2.5-vl.md §5.5: the token at cache index c gets position c + rope_delta on all axes. */
        int64_t pos[3 * DECODE_BATCH];
        for (int k = 0; k < live; k++) {
            seq *gs = &g[which[k]];
            kvs[k] = gs->kv;
            ids[k] = gs->ids[gs->n - 1];
            pos[k] = pos[live + k] = pos[2 * live + k] = vs2_kv_cache_len(gs->kv) + gs->j->rope_delta;
            gs->steps++;
        }
        float *out = logits + (size_t)(B - live) * n_vocab; /* rows of finished answers are free */
        st = vs2_llm_decode_batch(e->llm, kvs, live, ids, pos, out, run, err);
        /* Back to each answer's own row, in ascending order: which[k] ≤ B − live + k, so a row is
         * only ever moved down onto rows already moved or free. */
        for (int k = 0; k < live && st == VS2_OK; k++)
            memmove(logits + (size_t)which[k] * n_vocab, out + (size_t)k * n_vocab, (size_t)n_vocab * sizeof *logits);
    }
    const double t1 = now_ms();
    for (int b = 0; b < B; b++) {
        if (st == VS2_OK) st = seq_finish(e, &g[b], t0, err);
        /* A job's time decoding: every group it took part in, once. */
        if (b == 0 || g[b - 1].j != g[b].j) g[b].j->gen_ms += t1 - t0;
        vs2_sampler_free(g[b].smp);
        if (g[b].kv != g[b].j->kv) vs2_kv_cache_free(g[b].kv);
        free(g[b].ids);
        free(g[b].probs);
    }
    free(logits);
    return st;
}

/* Decode every answer of jobs[0..n) (those still healthy), DECODE_BATCH at a time in item and
 * sample order; then release their caches. A failure fails every job of the chunk. */
static void decode_chunk(const vs2_engine *e, job *jobs, size_t n, const vs2_run *run, progress *pr, int64_t total) {
    seq g[DECODE_BATCH];
    int B = 0;
    vs2_status st = VS2_OK;
    vs2_error err;
    vs2__ok(&err);
    if (pr) report(pr->p, VS2_PHASE_GENERATE, pr->generated, total);
    for (size_t i = 0; i <= n && st == VS2_OK; i++) {
        int ns = i < n && jobs[i].st == VS2_OK ? jobs[i].p->samples : 0;
        for (int s = 0; s <= ns && st == VS2_OK; s++) {
            if (B == DECODE_BATCH || (B > 0 && i == n)) {
                st = decode_group(e, g, B, run, pr, total, &err);
                B = 0;
            }
            if (s < ns) {
                memset(&g[B], 0, sizeof g[B]);
                g[B].j = &jobs[i];
                g[B++].si = s;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (st != VS2_OK && jobs[i].st == VS2_OK) {
            jobs[i].st = st;
            jobs[i].err = err;
        }
        job_release_cache(&jobs[i]);
    }
}

/* ---- calls -------------------------------------------------------------------------------------- */

/* The KV bytes a job holds while its answers decode (its prefill cache and the copies its
 * samples take), for the grouping of a call's videos. */
static double job_kv_bytes(const vs2_engine *e, const job *j) {
    return vs2_llm_kv_bytes_per_token(e->llm) * (double)((int64_t)j->ids.n + job_new_tokens(j)) * job_copies(j);
}

static vs2_status score_items(const vs2_engine *e, const vs2_score_item *items, size_t n, const vs2_score_params *p,
                              vs2_result **results, vs2_error *errors, vs2_error *err) {
    const int threads = p->threads > 0 ? p->threads : e->threads;
    vs2_run run = {.threads = threads};
    if (threads > 1 && vs2_pool_create(threads, &run.pool) != VS2_OK)
        return vs2__fail(err, VS2_ERR_NOMEM, "score: cannot start %d threads", threads);
    job *jobs = calloc(n, sizeof *jobs);
    if (!jobs) {
        vs2_pool_free(run.pool);
        return vs2__fail(err, VS2_ERR_NOMEM, "score: out of memory");
    }
    const vs2_config *cfg = vs2_model_files_config(e->mf);
    const char *what;
    const double budget = kv_budget_bytes(&what);
    progress pr = {p, cfg->vision.depth, cfg->num_hidden_layers, 0};
    const int64_t total = (int64_t)n * p->samples * (p->max_new_tokens > 0 ? p->max_new_tokens : 0);
    size_t c0 = 0; /* the chunk: jobs prefilled and waiting to decode together */
    int seqs = 0;
    double kv = 0;
    for (size_t i = 0; i < n; i++) {
        job *j = &jobs[i];
        j->p = p;
        j->index = (int)i;
        j->t_start = now_ms();
        vs2_video own;
        memset(&own, 0, sizeof own);
        const vs2_video *video = items[i].video;
        double video_ms = 0;
        if (!video) {
            vs2_video_params vp = p->video;
            vp.no_pixels = 0;
            if (vp.threads == 0) vp.threads = threads;
            if (job_failed(j, vs2_video_load(items[i].video_path, &vp, &own, &j->err))) continue;
            video = &own;
            video_ms = now_ms() - j->t_start;
        }
        if (!job_failed(j, job_begin(e, j, video, items[i].video ? "" : items[i].video_path, items[i].prompt))) {
            j->r->video_ms = video_ms;
            /* Decode what waits first when this video's answers would not fit beside it. */
            if (seqs > 0 && (seqs + p->samples > DECODE_BATCH || (budget > 0 && kv + job_kv_bytes(e, j) > budget))) {
                decode_chunk(e, jobs + c0, i - c0, &run, p->on_progress ? &pr : NULL, total);
                c0 = i;
                seqs = 0;
                kv = 0;
            }
            if (!job_failed(j, job_prefill(e, j, video, &run))) {
                seqs += p->samples;
                kv += job_kv_bytes(e, j);
            }
        }
        if (!items[i].video) vs2_video_free(&own);
    }
    decode_chunk(e, jobs + c0, n - c0, &run, p->on_progress ? &pr : NULL, total);
    for (size_t i = 0; i < n; i++) {
        job *j = &jobs[i];
        results[i] = NULL;
        if (j->st == VS2_OK) {
            j->r->generate_ms = j->gen_ms;
            vs2__result_means(j->r);
            j->r->total_ms = now_ms() - j->t_start;
            results[i] = j->r;
            j->r = NULL;
            vs2__ok(&errors[i]);
        } else {
            errors[i] = j->err;
            errors[i].status = j->st;
        }
        job_free(j);
    }
    free(jobs);
    vs2_pool_free(run.pool);
    return VS2_OK;
}

static vs2_status score_one(const vs2_engine *e, const vs2_score_item *item, const vs2_score_params *p,
                            vs2_result **out, vs2_error *err) {
    vs2_error item_err;
    vs2_status st = score_items(e, item, 1, p, out, &item_err, err);
    if (st != VS2_OK) return st;
    if (!*out) {
        if (err) *err = item_err;
        return item_err.status;
    }
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
    vs2_score_item item = {NULL, video, prompt};
    return score_one(engine, &item, params ? params : &dp, out, err);
}

vs2_status vs2_score(const vs2_engine *engine, const char *video_path, const char *prompt,
                     const vs2_score_params *params, vs2_result **out, vs2_error *err) {
    vs2__ok(err);
    if (!out) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_score: out is NULL");
    *out = NULL;
    if (!engine || !video_path || !prompt)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_score: NULL engine, video path or prompt");
    vs2_score_params dp = vs2_score_default_params();
    vs2_score_item item = {video_path, NULL, prompt};
    return score_one(engine, &item, params ? params : &dp, out, err);
}

vs2_status vs2_score_batch(const vs2_engine *engine, const vs2_score_item *items, size_t n,
                           const vs2_score_params *params, vs2_result **results, vs2_error *errors, vs2_error *err) {
    vs2__ok(err);
    if (!engine || (n && (!items || !results || !errors)))
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_score_batch: NULL engine, items, results or errors");
    vs2_score_params dp = vs2_score_default_params();
    const vs2_score_params *p = params ? params : &dp;
    if (n > 1 && (p->dump || p->dump_dir))
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_score_batch: stage dumps are for one video at a time, not %zu", n);
    if (n > INT_MAX / 64) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_score_batch: %zu items are too many", n);
    for (size_t i = 0; i < n; i++) {
        results[i] = NULL;
        if (!items[i].prompt || (!items[i].video && !items[i].video_path))
            return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_score_batch: item %zu has no %s", i,
                             items[i].prompt ? "video" : "prompt");
    }
    return n ? score_items(engine, items, n, p, results, errors, err) : VS2_OK;
}
