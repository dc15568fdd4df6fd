/* bench.c — `vs2 bench`: llama-bench-style speed figures (docs/cli.md, docs/perf.md).
 *
 * pp N: one forward over N random token ids (a prefill); tg N: N single-token decode steps after
 * a short prompt; vision T,H,W: the vision tower on a grid of random pixels; video: a whole
 * `vs2 score` call. Each test runs --warmup times untimed, then -r times timed: mean ± sample
 * stddev. --peak measures the machine's own limits in the same run (src/bench_peak.c) so every
 * figure is also a share of them. Output: Markdown (default) or JSON, each naming the CPU model
 * and flags, the threads and the backend. */
#include "cli.h"

#include "bench_peak.h"
#include "engine_internal.h"
#include "llm.h"
#include "vision.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_LIST 16
#define MAX_REPS 256
#define TG_PROMPT 16 /* tokens in the cache before the timed decode steps (llama-bench: 0) */

static void usage(FILE *f) {
    fprintf(f,
            "usage: vs2 bench --model DIR [tests] [options]\n"
            "       vs2 bench --peak [--threads N]\n\n"
            "Speed of the model's phases on this machine, llama-bench style: each test runs once\n"
            "untimed, then REPS times; figures are mean ± stddev over the timed runs.\n\n"
            "tests (with none named and a model: -p 512 -n 64; any named: only those)\n"
            "  -p, --prompt-tokens L  prompt processing: one forward over N random ids, for each N\n"
            "                         in the comma-separated list L (tokens/s)\n"
            "  -n, --gen-tokens L     generation: N single-token decode steps after a %d-token\n"
            "                         prompt, for each N in L (tokens/s)\n"
            "  -d, --depth N          tg decodes after N cached positions (default 16): the first 16\n"
            "                         computed, the rest zeros (attention cost grows with N; a\n"
            "                         5 s 720p video prompt is about 3,960)\n"
            "  --batch L              sequences decoded together in tg (default 1): each step is one\n"
            "                         pass over the weights for all of them; tokens/s counts all\n"
            "  --vision T,H,W         the vision tower on a grid of T×H×W patches (H, W even;\n"
            "                         a 5 s 720p clip is 5,40,72), random pixels (ms, patches/s)\n"
            "  --video CLIP           a whole `vs2 score` of CLIP (load excluded)\n"
            "  --max-new-tokens N     answer length for --video (default 32)\n"
            "  --peak                 this machine's int8/bf16/fp32 compute peaks and memory read\n"
            "                         bandwidth on the same threads; other figures get a share\n"
            "options\n"
            "  --model DIR            model directory (a local checkpoint; random weights are fine)\n"
            "  -r, --reps N           timed repetitions (default 3)\n"
            "  --warmup N             untimed runs before them (default 1)\n"
            "  --threads N            compute threads (default: one per online CPU)\n"
            "  --backend NAME         kernel set: auto (default), q8, ref (as vs2 score --backend)\n"
            "  --weight-cache DIR|off where int8 weights are kept between loads (as vs2 score)\n"
            "  --peak-mem MIB         bandwidth buffer (default 1024; must dwarf the L3 cache)\n"
            "  --peak-seconds S       time each compute peak runs (default 0.2; best of 3 runs)\n"
            "  --seed S               random ids and pixels (default 1)\n"
            "  --md / --json          Markdown table (default) or one JSON object\n"
            "\nExit status: 0 measured, 1 error, 2 bad usage.\n",
            TG_PROMPT);
}

/* ---- options ------------------------------------------------------------------------------- */

typedef struct opts {
    const char *model, *video, *backend, *weight_cache;
    int pp[MAX_LIST], n_pp, tg[MAX_LIST], n_tg, batch[MAX_LIST], n_batch;
    int vision[3], has_vision, max_new_tokens, reps, warmup, threads, peak, json;
    int depth;                  /* cached positions before tg's timed steps */
    long peak_mib;
    double peak_seconds;
    uint64_t seed;
} opts;

static int parse_long(const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "vs2 bench: %s: expected an integer in [%ld, %ld], got '%s'\n", opt, lo, hi, s);
        return 0;
    }
    *out = v;
    return 1;
}

/* "512,4096" -> {512, 4096}; each in [lo, hi]. */
static int parse_list(const char *opt, const char *s, long lo, long hi, int *out, int *n, int max) {
    char buf[256];
    if (strlen(s) >= sizeof buf) {
        fprintf(stderr, "vs2 bench: %s: list too long\n", opt);
        return 0;
    }
    strcpy(buf, s);
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long v;
        if (*n >= max) {
            fprintf(stderr, "vs2 bench: %s: at most %d values\n", opt, max);
            return 0;
        }
        if (!parse_long(opt, tok, lo, hi, &v)) return 0;
        out[(*n)++] = (int)v;
    }
    if (*n == 0) fprintf(stderr, "vs2 bench: %s: empty list\n", opt);
    return *n > 0;
}

static int online_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int is_opt(const char *a, const char *s1, const char *s2) {
    return !strcmp(a, s1) || (s2 && !strcmp(a, s2));
}

/* After parsing: with no test named, a model gets the default pp512 + tg64 and --peak alone runs
 * only the peak; naming any test (-p, -n, --vision, --video) runs just the tests named. */
static int settle_tests(opts *o, int named_p, int named_n) {
    int named = named_p || named_n || o->has_vision || o->video;
    if (!named_p) o->n_pp = named ? 0 : 1;
    if (!named_n) o->n_tg = named ? 0 : 1;
    if (!o->model && (named || !o->peak)) {
        fprintf(stderr, "vs2 bench: --model DIR is required for the pp/tg/vision/video tests\n");
        return 2;
    }
    if (!o->model) o->n_pp = o->n_tg = 0;
    return 0;
}

/* Returns 0 to run, 1 for --help (exit 0), 2 for bad usage. */
static int parse_opts(int argc, char **argv, opts *o) {
    memset(o, 0, sizeof *o);
    o->pp[0] = 512, o->tg[0] = 64, o->batch[0] = 1, o->n_batch = 1;
    o->max_new_tokens = 32, o->reps = 3, o->warmup = 1, o->threads = online_cpus(), o->peak_mib = 1024;
    o->peak_seconds = 0.2, o->seed = 1, o->depth = TG_PROMPT;
    int named_p = 0, named_n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x = 0;
        int ok = 1, n3 = 0;
        if (is_opt(a, "-h", "--help")) return usage(stdout), 1;
        if (is_opt(a, "--peak", NULL) || is_opt(a, "--json", NULL) || is_opt(a, "--md", NULL)) {
            if (!strcmp(a, "--peak")) o->peak = 1;
            else o->json = !strcmp(a, "--json");
            continue;
        }
        if (!v) {
            fprintf(stderr, "vs2 bench: %s needs a value (or is unknown; see --help)\n", a);
            return 2;
        }
        if (is_opt(a, "--model", NULL)) o->model = v;
        else if (is_opt(a, "--video", NULL)) o->video = v;
        else if (is_opt(a, "--backend", NULL)) o->backend = v;
        else if (is_opt(a, "--weight-cache", NULL)) o->weight_cache = v;
        else if (is_opt(a, "-p", "--prompt-tokens"))
            ok = parse_list(a, v, 1, 1 << 20, o->pp, &o->n_pp, MAX_LIST), named_p = 1;
        else if (is_opt(a, "-n", "--gen-tokens"))
            ok = parse_list(a, v, 1, 1 << 20, o->tg, &o->n_tg, MAX_LIST), named_n = 1;
        else if (is_opt(a, "--batch", NULL)) ok = parse_list(a, v, 1, 1024, o->batch, &o->n_batch, MAX_LIST);
        else if (is_opt(a, "-d", "--depth")) ok = parse_long(a, v, 1, 1 << 20, &x), o->depth = (int)x;
        else if (is_opt(a, "--vision", NULL)) {
            ok = parse_list(a, v, 1, 4096, o->vision, &n3, 3);
            if (ok && n3 != 3) ok = 0, fprintf(stderr, "vs2 bench: --vision wants T,H,W (three numbers)\n");
            o->has_vision = 1;
        } else if (is_opt(a, "--max-new-tokens", NULL)) ok = parse_long(a, v, 1, 1 << 20, &x), o->max_new_tokens = (int)x;
        else if (is_opt(a, "-r", "--reps")) ok = parse_long(a, v, 1, MAX_REPS, &x), o->reps = (int)x;
        else if (is_opt(a, "--warmup", NULL)) ok = parse_long(a, v, 0, 1000, &x), o->warmup = (int)x;
        else if (is_opt(a, "--threads", NULL)) ok = parse_long(a, v, 1, 4096, &x), o->threads = (int)x;
        else if (is_opt(a, "--peak-mem", NULL)) ok = parse_long(a, v, 64, 1 << 20, &o->peak_mib);
        else if (is_opt(a, "--peak-seconds", NULL)) {
            char *end;
            o->peak_seconds = strtod(v, &end);
            ok = *v && !*end && o->peak_seconds > 0 && o->peak_seconds <= 60;
            if (!ok) fprintf(stderr, "vs2 bench: --peak-seconds: expected a number in (0, 60], got '%s'\n", v);
        }
        else if (is_opt(a, "--seed", NULL)) ok = parse_long(a, v, 0, 1L << 62, &x), o->seed = (uint64_t)x;
        else {
            fprintf(stderr, "vs2 bench: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        if (!ok) return 2;
        i++;
    }
    return settle_tests(o, named_p, named_n);
}

/* ---- the backend: the one place it reaches the library ------------------------------------- */

/* The engine is loaded once with --backend, --threads and --weight-cache, and pp, tg and the
 * vision tower time its own stages: what `vs2 score` runs. */
static vs2_status load_engine(const opts *o, vs2_engine **out, vs2_error *err) {
    vs2_engine_params ep = vs2_engine_default_params();
    ep.model = o->model;
    ep.threads = o->threads;
    ep.backend = o->backend;
    ep.weight_cache = o->weight_cache;
    return vs2_engine_load(&ep, out, err);
}

/* ---- statistics and random inputs ---------------------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct stat {
    double mean, sd;
} stat;

/* Mean and sample standard deviation (0 for a single value). */
static stat stats(const double *x, int n) {
    stat s = {0, 0};
    for (int i = 0; i < n; i++) s.mean += x[i];
    s.mean /= n;
    for (int i = 0; i < n && n > 1; i++) s.sd += (x[i] - s.mean) * (x[i] - s.mean);
    if (n > 1) s.sd = sqrt(s.sd / (n - 1));
    return s;
}

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Ordinary text ids: below the first special token (151643) and the vocabulary size, so no
 * video/image pad token appears and the forward needs no embeddings for them. */
static void random_ids(int32_t *ids, int64_t n, int vocab, uint64_t *rng) {
    uint64_t range = (uint64_t)(vocab < 151643 ? vocab : 151643);
    for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)(rng_next(rng) % range);
}

/* Plain-text M-RoPE positions: the three rows (t, h, w) all past .. past+n-1. */
static void text_positions(int64_t *pos, int64_t past, int64_t n) {
    for (int a = 0; a < 3; a++)
        for (int64_t i = 0; i < n; i++) pos[a * n + i] = past + i;
}

/* ---- results ------------------------------------------------------------------------------- */

typedef enum kind { K_PP, K_TG, K_VISION, K_VIDEO } kind;

typedef struct result {
    kind k;
    char name[64];
    int n, batch, grid[3];
    stat time_s, rate;       /* seconds per run; tokens/s (pp, tg) or patches/s (vision) */
    double flops;            /* per run (pp, vision), 0 if unknown */
    double bytes;            /* weight bytes read per decode step (tg) */
    /* video */
    int64_t prompt_tokens, video_tokens, generated;
    stat phase_ms[4];        /* video decode, vision, prefill, generate */
} result;

typedef struct bench {
    opts o;
    const char *backend;
    vs2_engine *eng;
    vs2_pool *pool; /* one set of workers for every timed run */
    vs2_cpu_info cpu;
    vs2_peak peak;
    int has_peak;
    result res[4 * MAX_LIST + 2];
    int n_res;
} bench;

/* ---- model arithmetic (for GFLOP/s and shares) ------------------------------------------- */

/* Multiply-adds of one decoder token through the linear layers (q, k, v, o, gate, up, down). */
static double llm_linear_macs(const vs2_config *c) {
    double D = c->hidden_size, q = (double)c->num_attention_heads * c->head_dim,
           kv = (double)c->num_key_value_heads * c->head_dim, I = c->intermediate_size;
    return c->num_hidden_layers * (D * q + 2 * D * kv + q * D + 3 * D * I);
}

/* FLOPs of n tokens after `past` cached ones, with logits for the last n_logits: linear layers,
 * causal attention (QKᵀ and AV over every earlier position) and the lm_head rows. */
static double llm_flops(const vs2_config *c, int64_t past, int64_t n, int64_t n_logits) {
    double keys = (double)n * past + (double)n * (n + 1) / 2; /* sum over tokens of positions seen */
    double attn = 2.0 * c->num_hidden_layers * (double)c->num_attention_heads * c->head_dim * keys;
    return 2.0 * ((double)n * llm_linear_macs(c) + attn + (double)n_logits * c->hidden_size * c->vocab_size);
}

/* Bytes a decode step reads from the weights as the kernel set holds them (bf16 as stored, or the
 * int8 copies): every decoder layer, the final norm and the lm_head (the embedding row is negligible). */
static double llm_step_bytes(const vs2_model_files *mf, const char *backend) {
    const vs2_config *c = vs2_model_files_config(mf);
    const int q8 = !strncmp(backend, "q8", 2); /* int8 copies: 1 byte + an fp16 scale per 32 */
    double b = 0;
    for (size_t i = 0; i < vs2_model_files_n_tensors(mf); i++) {
        const vs2_tensor *t = vs2_model_files_tensor_at(mf, i);
        if (!strncmp(t->name, "model.layers.", 13) || !strcmp(t->name, "model.norm.weight") ||
            !strcmp(t->name, "lm_head.weight") ||
            (c->tie_word_embeddings && !strcmp(t->name, "model.embed_tokens.weight")))
            b += q8 && t->ndim == 2 ? (double)t->shape[0] * (double)t->shape[1] * (1.0 + 2.0 / VS2_Q8_BLOCK)
                                   : (double)t->nbytes;
    }
    return b;
}

/* FLOPs of the vision tower on a grid: patch embedding, per block qkv/proj/SwiGLU MLP and
 * attention within its segments (windows, or whole frames in the full-attention blocks), and
 * the merger MLP. Window segment lengths come from the tower's own window index. */
static double vision_flops(const vs2_vision_config *vc, int t, int h, int w) {
    int m = vc->spatial_merge_size, vm = vc->window_size / m / vc->patch_size;
    int64_t units = (int64_t)t * (h / m) * (w / m), N = units * m * m;
    int64_t *wi = malloc((size_t)units * sizeof *wi), *cu = malloc((size_t)(units + 1) * sizeof *cu);
    double win_sq = 0, C = vc->hidden_size;
    if (!wi || !cu) {
        free(wi), free(cu);
        return 0;
    }
    int64_t ncu = vs2_vision_window_index(t, h, w, m, vm, wi, cu);
    for (int64_t i = 1; i < ncu; i++) win_sq += (double)(cu[i] - cu[i - 1]) * (double)(cu[i] - cu[i - 1]);
    free(wi), free(cu);
    double full_sq = (double)t * (double)h * w * (double)h * w;
    double P = (double)vc->in_chans * vc->temporal_patch_size * vc->patch_size * vc->patch_size;
    double macs = N * P * C;
    for (int b = 0; b < vc->depth; b++) {
        int full = 0;
        for (int k = 0; k < vc->n_fullatt; k++) full |= vc->fullatt_block_indexes[k] == b;
        macs += N * (3 * C * C + C * C + 3 * C * vc->intermediate_size) + 2 * C * (full ? full_sq : win_sq);
    }
    double M = C * m * m;
    macs += (double)N / (m * m) * (M * M + M * vc->out_hidden_size);
    return 2 * macs;
}

/* ---- measurements -------------------------------------------------------------------------- */

static void progress(const bench *b, const char *test, int run) {
    if (!isatty(STDERR_FILENO)) return;
    int w = b->o.warmup, warm = run < w;
    fprintf(stderr, "\r\033[Kvs2 bench: %s %s %d/%d", test, warm ? "warm-up" : "run", warm ? run + 1 : run - w + 1,
            warm ? w : b->o.reps);
    if (run + 1 == w + b->o.reps) fputs("\r\033[K", stderr);
}

/* One run of a test: does its own untimed setup and stores the timed seconds. */
typedef int (*run_fn)(void *ctx, double *seconds, vs2_error *err);

/* --warmup untimed runs, then --reps timed ones into times[]. */
static int time_runs(const bench *b, const char *name, run_fn fn, void *ctx, double *times, vs2_error *err) {
    for (int i = 0; i < b->o.warmup + b->o.reps; i++) {
        double t;
        progress(b, name, i);
        if (!fn(ctx, &t, err)) return 0;
        if (i >= b->o.warmup) times[i - b->o.warmup] = t;
    }
    return 1;
}

/* Mean ± stddev of the times and of units / time (llama-bench reports the rate's own mean and
 * stddev over the runs, not units / mean time). */
/* Weight bytes streamed per second by a tg test: one pass over the weights per decode step,
 * whatever the batch (the rate counts the tokens of all sequences). */
static double weight_gbs(const result *r) { return r->bytes * r->rate.mean / (r->batch > 0 ? r->batch : 1) / 1e9; }

static void finish(result *r, const double *times, int reps, double units) {
    double rates[MAX_REPS];
    r->time_s = stats(times, reps);
    for (int i = 0; i < reps; i++) rates[i] = units / times[i];
    r->rate = stats(rates, reps);
}

static result *new_result(bench *b, kind k, int n) {
    result *r = &b->res[b->n_res];
    memset(r, 0, sizeof *r);
    r->k = k, r->n = n, r->batch = 1;
    return r;
}

typedef struct llm_ctx {
    const vs2_llm *llm;
    const vs2_config *cfg;
    vs2_kv_cache *kv;
    int32_t *ids;
    int64_t *pos;
    float *logits;
    int n, prompt;              /* timed tokens; prompt tokens computed before them */
    int depth;                  /* tg: cached positions before the timed steps (≥ prompt) */
    uint64_t rng;
    vs2_run run;
} llm_ctx;

/* pp N: the cache emptied, one forward over N random ids with the last position's logits (what a
 * prefill does before the first token). */
static int run_pp(void *ctx, double *seconds, vs2_error *err) {
    llm_ctx *c = ctx;
    vs2_kv_cache_truncate(c->kv, 0);
    random_ids(c->ids, c->n, c->cfg->vocab_size, &c->rng);
    text_positions(c->pos, 0, c->n);
    double t0 = now_s();
    vs2_status st = vs2_llm_forward(c->llm, c->kv, c->ids, c->n, NULL, 0, c->pos, c->logits, 1, &c->run, err);
    *seconds = now_s() - t0;
    return st == VS2_OK;
}

/* tg N: a TG_PROMPT-token prompt (untimed), then N single-token steps, each with its logits. */
static int run_tg(void *ctx, double *seconds, vs2_error *err) {
    llm_ctx *c = ctx;
    vs2_kv_cache_truncate(c->kv, 0);
    random_ids(c->ids, c->prompt + c->n, c->cfg->vocab_size, &c->rng);
    text_positions(c->pos, 0, c->prompt);
    if (vs2_llm_forward(c->llm, c->kv, c->ids, c->prompt, NULL, 0, c->pos, c->logits, 1, &c->run, err) != VS2_OK)
        return 0;
    vs2_kv_cache_set_len(c->kv, c->depth);
    double t0 = now_s();
    for (int i = 0; i < c->n; i++) {
        int64_t p = c->depth + i, pos[3] = {p, p, p};
        if (vs2_llm_forward(c->llm, c->kv, c->ids + c->prompt + i, 1, NULL, 0, pos, c->logits, 1, &c->run, err) !=
            VS2_OK)
            return 0;
    }
    *seconds = now_s() - t0;
    return 1;
}

/* One pp or tg test: buffers and a cache sized for it, the runs, the figures. */
static int bench_llm(bench *b, const vs2_llm *llm, const vs2_model_files *mf, kind k, int n, vs2_error *err) {
    llm_ctx c = {.llm = llm, .cfg = vs2_model_files_config(mf), .n = n, .prompt = k == K_TG ? TG_PROMPT : 0,
                 .rng = b->o.seed, .run = {.threads = b->o.threads, .pool = b->pool}};
    if (b->o.depth < c.prompt) c.prompt = b->o.depth;
    c.depth = k == K_TG ? b->o.depth : 0;
    int64_t total = c.prompt + n, cached = (c.depth > c.prompt ? c.depth : c.prompt) + n;
    c.ids = malloc((size_t)total * sizeof *c.ids);
    c.pos = malloc((size_t)total * 3 * sizeof *c.pos);
    c.logits = malloc((size_t)vs2_llm_vocab(llm) * sizeof *c.logits);
    double *times = calloc((size_t)b->o.reps, sizeof *times);
    result *r = new_result(b, k, n);
    snprintf(r->name, sizeof r->name, "%s%d", k == K_PP ? "pp" : "tg", n);
    if (k == K_TG && c.depth != TG_PROMPT) snprintf(r->name, sizeof r->name, "tg%d @ d%d", n, c.depth);
    int ok = c.ids && c.pos && c.logits && times;
    if (!ok) snprintf(err->message, sizeof err->message, "%s: out of memory", r->name);
    if (ok) ok = vs2_kv_cache_create(llm, cached, &c.kv, err) == VS2_OK;
    if (ok) ok = time_runs(b, r->name, k == K_PP ? run_pp : run_tg, &c, times, err);
    if (ok) {
        finish(r, times, b->o.reps, n);
        if (k == K_PP) r->flops = llm_flops(c.cfg, 0, n, 1);
        else r->bytes = llm_step_bytes(mf, b->backend);
        b->n_res++;
    }
    vs2_kv_cache_free(c.kv);
    free(c.ids), free(c.pos), free(c.logits), free(times);
    return ok;
}

/* tg N at batch B: B sequences, each with a TG_PROMPT-token prompt (untimed), then N steps of
 * vs2_llm_decode_batch (one pass over the weights per step for all B); logits for every row. */
typedef struct batch_ctx {
    llm_ctx c;
    int B;
    vs2_kv_cache *kv[VS2_MAX_DECODE_BATCH];
} batch_ctx;

static int run_tg_batch(void *ctx, double *seconds, vs2_error *err) {
    batch_ctx *bc = ctx;
    llm_ctx *c = &bc->c;
    for (int s = 0; s < bc->B; s++) {
        vs2_kv_cache_truncate(bc->kv[s], 0);
        random_ids(c->ids, c->prompt, c->cfg->vocab_size, &c->rng);
        text_positions(c->pos, 0, c->prompt);
        if (vs2_llm_forward(c->llm, bc->kv[s], c->ids, c->prompt, NULL, 0, c->pos, c->logits, 1, &c->run, err) !=
            VS2_OK)
            return 0;
        vs2_kv_cache_set_len(bc->kv[s], c->depth);
    }
    double t0 = now_s();
    for (int i = 0; i < c->n; i++) {
        int32_t ids[VS2_MAX_DECODE_BATCH];
        int64_t pos[3 * VS2_MAX_DECODE_BATCH];
        random_ids(ids, bc->B, c->cfg->vocab_size, &c->rng);
        for (int s = 0; s < bc->B; s++) pos[s] = pos[bc->B + s] = pos[2 * bc->B + s] = c->depth + i;
        if (vs2_llm_decode_batch(c->llm, bc->kv, bc->B, ids, pos, c->logits, &c->run, err) != VS2_OK) return 0;
    }
    *seconds = now_s() - t0;
    return 1;
}

static int bench_tg_batch(bench *b, const vs2_llm *llm, const vs2_model_files *mf, int n, int B, vs2_error *err) {
    batch_ctx bc = {.c = {.llm = llm, .cfg = vs2_model_files_config(mf), .n = n,
                          .prompt = b->o.depth < TG_PROMPT ? b->o.depth : TG_PROMPT, .depth = b->o.depth,
                          .rng = b->o.seed, .run = {.threads = b->o.threads, .pool = b->pool}},
                    .B = B};
    llm_ctx *c = &bc.c;
    c->ids = malloc((size_t)TG_PROMPT * sizeof *c->ids);
    c->pos = malloc((size_t)TG_PROMPT * 3 * sizeof *c->pos);
    c->logits = malloc((size_t)B * (size_t)vs2_llm_vocab(llm) * sizeof *c->logits);
    double *times = calloc((size_t)b->o.reps, sizeof *times);
    result *r = new_result(b, K_TG, n);
    r->batch = B;
    snprintf(r->name, sizeof r->name, "tg%d", n);
    if (c->depth != TG_PROMPT) snprintf(r->name, sizeof r->name, "tg%d @ d%d", n, c->depth);
    int ok = c->ids && c->pos && c->logits && times;
    if (!ok) snprintf(err->message, sizeof err->message, "%s: out of memory", r->name);
    for (int s = 0; ok && s < B; s++) ok = vs2_kv_cache_create(llm, (int64_t)b->o.depth + n, &bc.kv[s], err) == VS2_OK;
    if (ok) ok = time_runs(b, r->name, run_tg_batch, &bc, times, err);
    if (ok) {
        finish(r, times, b->o.reps, (double)n * B);
        r->bytes = llm_step_bytes(mf, b->backend);
        b->n_res++;
    }
    for (int s = 0; s < B; s++) vs2_kv_cache_free(bc.kv[s]);
    free(c->ids), free(c->pos), free(c->logits), free(times);
    return ok;
}

/* tg at every --batch size. */
static int bench_tg(bench *b, const vs2_llm *llm, const vs2_model_files *mf, int n, vs2_error *err) {
    for (int i = 0; i < b->o.n_batch; i++) {
        if (b->o.batch[i] > VS2_MAX_DECODE_BATCH) {
            snprintf(err->message, sizeof err->message, "--batch %d: at most %d sequences decode together",
                     b->o.batch[i], VS2_MAX_DECODE_BATCH);
            return 0;
        }
        if (!(b->o.batch[i] == 1 ? bench_llm(b, llm, mf, K_TG, n, err)
                                 : bench_tg_batch(b, llm, mf, n, b->o.batch[i], err)))
            return 0;
    }
    return 1;
}

typedef struct vision_ctx {
    const vs2_vision *v;
    float *pixels, *out;
    int t, h, w;
    vs2_run run;
} vision_ctx;

static int run_vision(void *ctx, double *seconds, vs2_error *err) {
    vision_ctx *c = ctx;
    double t0 = now_s();
    vs2_status st = vs2_vision_forward(c->v, c->pixels, c->t, c->h, c->w, c->out, &c->run, err);
    *seconds = now_s() - t0;
    return st == VS2_OK;
}

/* The vision tower on the --vision grid, random pixels in [-2, 2) (normalised pixel values lie
 * in about [-1.8, 2.2]). */
static int bench_vision(bench *b, const vs2_vision *v, const vs2_config *cfg, vs2_error *err) {
    const vs2_vision_config *vc = &cfg->vision;
    vision_ctx c = {.v = v, .t = b->o.vision[0], .h = b->o.vision[1], .w = b->o.vision[2],
                    .run = {.threads = b->o.threads, .pool = b->pool}};
    int64_t rows = (int64_t)c.t * c.h * c.w;
    int64_t cols = (int64_t)vc->in_chans * vc->temporal_patch_size * vc->patch_size * vc->patch_size;
    if (vs2_vision_check_grid(v, rows, c.t, c.h, c.w, err) != VS2_OK) return 0;
    c.pixels = malloc((size_t)(rows * cols) * sizeof *c.pixels);
    c.out = malloc((size_t)(vs2_vision_out_rows(v, c.t, c.h, c.w) * vc->out_hidden_size) * sizeof *c.out);
    double *times = calloc((size_t)b->o.reps, sizeof *times);
    result *r = new_result(b, K_VISION, (int)rows);
    snprintf(r->name, sizeof r->name, "vision %dx%dx%d", c.t, c.h, c.w);
    memcpy(r->grid, b->o.vision, sizeof r->grid);
    int ok = c.pixels && c.out && times;
    if (!ok) snprintf(err->message, sizeof err->message, "%s: out of memory", r->name);
    uint64_t rng = b->o.seed;
    for (int64_t i = 0; ok && i < rows * cols; i++) c.pixels[i] = (float)((rng_next(&rng) >> 40) * 0x1p-22 - 2.0);
    if (ok) ok = time_runs(b, r->name, run_vision, &c, times, err);
    if (ok) {
        finish(r, times, b->o.reps, (double)rows);
        r->flops = vision_flops(vc, c.t, c.h, c.w);
        b->n_res++;
    }
    free(c.pixels), free(c.out), free(times);
    return ok;
}

typedef struct video_ctx {
    const vs2_engine *eng;
    const char *video;
    vs2_score_params sp;
    result *r;
    double phases[4][MAX_REPS]; /* per timed run: video decode, vision, prefill, generate (ms) */
    int run, warmup;
} video_ctx;

#define VIDEO_PROMPT "A golden retriever puppy runs across a sunny meadow, chasing a red ball, slow motion"

static int run_video(void *ctx, double *seconds, vs2_error *err) {
    video_ctx *c = ctx;
    vs2_result *res = NULL;
    double t0 = now_s();
    if (vs2_score(c->eng, c->video, VIDEO_PROMPT, &c->sp, &res, err) != VS2_OK) return 0;
    *seconds = now_s() - t0;
    c->r->prompt_tokens = res->prompt_tokens, c->r->video_tokens = res->video_tokens;
    c->r->generated = res->n_samples ? (int64_t)res->samples[0].n_ids : 0;
    c->r->grid[0] = res->grid_t, c->r->grid[1] = res->grid_h, c->r->grid[2] = res->grid_w;
    int slot = c->run++ - c->warmup;
    if (slot >= 0) {
        c->phases[0][slot] = res->video_ms, c->phases[1][slot] = res->vision_ms;
        c->phases[2][slot] = res->prefill_ms, c->phases[3][slot] = res->generate_ms;
    }
    vs2_result_free(res);
    return 1;
}

/* A whole `vs2 score` (video decode, vision tower, prefill, --max-new-tokens of greedy decoding);
 * the engine load is not timed. */
static int bench_video(bench *b, vs2_error *err) {
    if (!b->eng && load_engine(&b->o, &b->eng, err) != VS2_OK) return 0;
    vs2_engine *eng = b->eng;
    video_ctx *c = calloc(1, sizeof *c);
    double *times = calloc((size_t)b->o.reps, sizeof *times);
    result *r = new_result(b, K_VIDEO, b->o.max_new_tokens);
    snprintf(r->name, sizeof r->name, "video");
    int ok = c && times;
    if (!ok) snprintf(err->message, sizeof err->message, "video: out of memory");
    if (ok) {
        *c = (video_ctx){.eng = eng, .video = b->o.video, .sp = vs2_score_default_params(), .r = r,
                          .warmup = b->o.warmup};
        c->sp.max_new_tokens = b->o.max_new_tokens;
        c->sp.video.max_video_tokens = 0; /* a benchmark times what it is given, however long */
        c->sp.threads = b->o.threads;
        ok = time_runs(b, "video", run_video, c, times, err);
    }
    if (ok) {
        finish(r, times, b->o.reps, 1);
        for (int p = 0; p < 4; p++) r->phase_ms[p] = stats(c->phases[p], b->o.reps);
        b->n_res++;
    }
    free(c), free(times);
    return ok;
}

/* ---- output -------------------------------------------------------------------------------- */

static void utc_now(char *buf, size_t size) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "12.34 ± 0.10 s" or, below a second, in ms. */
static void fmt_time(char *buf, size_t size, stat s) {
    if (s.mean < 1) snprintf(buf, size, "%.1f ± %.1f ms", s.mean * 1e3, s.sd * 1e3);
    else snprintf(buf, size, "%.2f ± %.2f s", s.mean, s.sd);
}

/* The shares of one rate: compute (GFLOP/s against each measured peak) or bandwidth (tg). */
static void fmt_share(const bench *b, const result *r, char *buf, size_t size) {
    buf[0] = '\0';
    if (!b->has_peak) return;
    if (r->k == K_TG && r->bytes > 0) {
        double gbs = weight_gbs(r);
        snprintf(buf, size, "%.0f%% of memory bandwidth", 100 * vs2_peak_share(gbs, b->peak.mem_read_gbs));
    } else if (r->flops > 0) {
        double g = r->flops / r->time_s.mean / 1e9;
        const vs2_peak_figure *f[3] = {&b->peak.fp32, &b->peak.bf16, &b->peak.int8};
        const char *nm[3] = {"fp32", "bf16", "int8"};
        size_t used = 0;
        for (int i = 0; i < 3 && used < size; i++) {
            if (f[i]->gops <= 0) continue;
            int w = snprintf(buf + used, size - used, "%s%.0f%% %s", used ? ", " : "",
                             100 * vs2_peak_share(g, f[i]->gops), nm[i]);
            if (w > 0) used += (size_t)w;
        }
    }
}

static void print_header_md(const bench *b, const vs2_config *cfg) {
    char flags[128], date[32];
    vs2_cpu_flags_string(&b->cpu, flags, sizeof flags);
    utc_now(date, sizeof date);
    printf("CPU: %s (%s), %d online CPUs\n", b->cpu.model, flags[0] ? flags : "no AVX2", online_cpus());
    printf("threads: %d, backend: %s, %d timed runs after %d warm-up, vs2 %s, %s\n", b->o.threads, b->backend,
           b->o.reps, b->o.warmup, vs2_version(), date);
    if (cfg)
        printf("model: %s (%d layers, hidden %d, vocab %d; vision depth %d, hidden %d)\n", b->o.model,
               cfg->num_hidden_layers, cfg->hidden_size, cfg->vocab_size, cfg->vision.depth, cfg->vision.hidden_size);
}

static void print_peak_md(const bench *b) {
    const vs2_peak *p = &b->peak;
    const struct {
        const char *name, *unit;
        const vs2_peak_figure *f;
    } rows[3] = {{"int8", "GOP/s", &p->int8}, {"bf16", "GFLOP/s", &p->bf16}, {"fp32", "GFLOP/s", &p->fp32}};
    printf("\n| peak (%d threads) | per CPU-second | per wall second (share of it the threads ran) | how |\n"
           "|---|---:|---:|---|\n",
           p->threads);
    for (int i = 0; i < 3; i++) {
        const vs2_peak_figure *f = rows[i].f;
        if (f->isa)
            printf("| %s | %.1f %s | %.1f (%.0f%%) | %s |\n", rows[i].name, f->gops, rows[i].unit, f->gops_wall,
                   100 * f->busy, f->isa);
        else printf("| %s | — | — | not measured: the CPU lacks the instruction |\n", rows[i].name);
    }
    printf("| memory read | %.1f GB/s | %.1f (%.0f%%) | streaming sum over %zu MiB |\n", p->mem_read_gbs,
           p->mem_read_gbs_wall, 100 * p->mem_busy, p->mem_bytes >> 20);
}

static void print_results_md(const bench *b) {
    if (!b->n_res) return;
    printf("\n| test | batch | time | rate | throughput | share of peak |\n|---|---:|---:|---:|---:|---|\n");
    for (int i = 0; i < b->n_res; i++) {
        const result *r = &b->res[i];
        char tm[64], rate[64] = "", thr[64] = "", share[128];
        fmt_time(tm, sizeof tm, r->time_s);
        fmt_share(b, r, share, sizeof share);
        if (r->k == K_PP || r->k == K_TG) snprintf(rate, sizeof rate, "%.2f ± %.2f tok/s", r->rate.mean, r->rate.sd);
        if (r->k == K_VISION) snprintf(rate, sizeof rate, "%.1f ± %.1f patches/s", r->rate.mean, r->rate.sd);
        if (r->flops > 0) snprintf(thr, sizeof thr, "%.1f GFLOP/s", r->flops / r->time_s.mean / 1e9);
        if (r->bytes > 0) snprintf(thr, sizeof thr, "%.1f GB/s", weight_gbs(r));
        if (r->k == K_VIDEO)
            snprintf(share, sizeof share, "%" PRId64 " prompt tokens (%" PRId64 " video), %" PRId64
                     " generated; video %.2f s, vision %.2f s, prefill %.2f s, generate %.2f s",
                     r->prompt_tokens, r->video_tokens, r->generated, r->phase_ms[0].mean / 1e3,
                     r->phase_ms[1].mean / 1e3, r->phase_ms[2].mean / 1e3, r->phase_ms[3].mean / 1e3);
        char batch[16] = "";
        if (r->k == K_PP || r->k == K_TG) snprintf(batch, sizeof batch, "%d", r->batch);
        printf("| %s | %s | %s | %s | %s | %s |\n", r->name, batch, tm, rate, thr, share);
    }
}

static void json_stat(const char *key, stat s, const char *sep) {
    printf("\"%s\": %.6g, \"%s_stddev\": %.6g%s", key, s.mean, key, s.sd, sep);
}

static void print_result_json(const bench *b, const result *r) {
    static const char *kinds[] = {"pp", "tg", "vision", "video"};
    printf("{\"test\": ");
    cli_json_string(stdout, r->name, strlen(r->name));
    printf(", \"kind\": \"%s\", \"batch\": %d, \"reps\": %d, ", kinds[r->k], r->batch, b->o.reps);
    json_stat("time_s", r->time_s, ", ");
    if (r->k == K_PP || r->k == K_TG) printf("\"n_tokens\": %d, ", r->n), json_stat("tokens_per_s", r->rate, ", ");
    if (r->k == K_TG) printf("\"n_prompt\": %d, \"weight_bytes_per_token\": %.0f, \"gb_per_s\": %.6g, ", b->o.depth,
                             r->bytes, weight_gbs(r));
    if (r->k == K_VISION) {
        printf("\"grid_thw\": [%d, %d, %d], \"patches\": %d, ", r->grid[0], r->grid[1], r->grid[2], r->n);
        json_stat("patches_per_s", r->rate, ", ");
    }
    if (r->flops > 0) printf("\"flops\": %.6g, \"gflop_per_s\": %.6g, ", r->flops, r->flops / r->time_s.mean / 1e9);
    if (r->k == K_VIDEO) {
        printf("\"video\": ");
        cli_json_string(stdout, b->o.video, strlen(b->o.video));
        printf(", \"grid_thw\": [%d, %d, %d], \"max_new_tokens\": %d, \"prompt_tokens\": %" PRId64
               ", \"video_tokens\": %" PRId64 ", \"generated_tokens\": %" PRId64 ", ",
               r->grid[0], r->grid[1], r->grid[2], r->n, r->prompt_tokens, r->video_tokens, r->generated);
        json_stat("video_ms", r->phase_ms[0], ", ");
        json_stat("vision_ms", r->phase_ms[1], ", ");
        json_stat("prefill_ms", r->phase_ms[2], ", ");
        json_stat("generate_ms", r->phase_ms[3], ", ");
    }
    printf("\"share_of_peak\": {");
    if (b->has_peak && r->k == K_TG && r->bytes > 0)
        printf("\"memory\": %.4g", vs2_peak_share(weight_gbs(r), b->peak.mem_read_gbs));
    else if (b->has_peak && r->flops > 0) {
        double g = r->flops / r->time_s.mean / 1e9;
        printf("\"int8\": %.4g, \"bf16\": %.4g, \"fp32\": %.4g", vs2_peak_share(g, b->peak.int8.gops),
               vs2_peak_share(g, b->peak.bf16.gops), vs2_peak_share(g, b->peak.fp32.gops));
    }
    printf("}}");
}

static void json_peak_figure(const char *key, const vs2_peak_figure *f) {
    printf("\"%s\": {\"gops\": %.6g, \"gops_wall\": %.6g, \"busy\": %.4g, \"instruction\": ", key, f->gops,
           f->gops_wall, f->busy);
    if (f->isa) cli_json_string(stdout, f->isa, strlen(f->isa));
    else printf("null");
    printf("}, ");
}

static void print_json(const bench *b) {
    char flags[128], date[32];
    vs2_cpu_flags_string(&b->cpu, flags, sizeof flags);
    utc_now(date, sizeof date);
    printf("{\"vs2_version\": \"%s\", \"date\": \"%s\", \"cpu\": {\"model\": ", vs2_version(), date);
    cli_json_string(stdout, b->cpu.model, strlen(b->cpu.model));
    printf(", \"flags\": [");
    for (char *save = NULL, *f = strtok_r(flags, " ", &save); f; f = strtok_r(NULL, " ", &save))
        printf("%s\"%s\"", f == flags ? "" : ", ", f);
    printf("], \"online_cpus\": %d}, \"threads\": %d, \"backend\": \"%s\", \"reps\": %d, \"warmup\": %d, \"model\": ",
           online_cpus(), b->o.threads, b->backend, b->o.reps, b->o.warmup);
    if (b->o.model) cli_json_string(stdout, b->o.model, strlen(b->o.model));
    else printf("null");
    printf(", \"peak\": ");
    if (b->has_peak) {
        printf("{\"threads\": %d, ", b->peak.threads);
        json_peak_figure("int8", &b->peak.int8);
        json_peak_figure("bf16", &b->peak.bf16);
        json_peak_figure("fp32", &b->peak.fp32);
        printf("\"mem_read_gb_per_s\": %.6g, \"mem_read_gb_per_s_wall\": %.6g, \"mem_busy\": %.4g, \"mem_bytes\": %zu}",
               b->peak.mem_read_gbs, b->peak.mem_read_gbs_wall, b->peak.mem_busy, b->peak.mem_bytes);
    } else {
        printf("null");
    }
    printf(", \"results\": [");
    for (int i = 0; i < b->n_res; i++) {
        if (i) printf(", ");
        print_result_json(b, &b->res[i]);
    }
    printf("]}\n");
}

/* ---- the command --------------------------------------------------------------------------- */

/* pp, tg and vision on the engine's stages (random ids and pixels: no video needed). */
static int bench_model(bench *b, const vs2_config **cfg_out, vs2_error *err) {
    if (load_engine(&b->o, &b->eng, err) != VS2_OK) return 0;
    const vs2_model_files *mf = vs2_engine_model_files(b->eng);
    *cfg_out = vs2_model_files_config(mf);
    int ok = 1;
    for (int i = 0; ok && i < b->o.n_pp; i++) ok = bench_llm(b, vs2__engine_llm(b->eng), mf, K_PP, b->o.pp[i], err);
    for (int i = 0; ok && i < b->o.n_tg; i++) ok = bench_tg(b, vs2__engine_llm(b->eng), mf, b->o.tg[i], err);
    if (ok && b->o.has_vision) ok = bench_vision(b, vs2__engine_vision(b->eng), *cfg_out, err);
    return ok;
}

int cmd_bench(int argc, char **argv) {
    bench *b = calloc(1, sizeof *b);
    if (!b) return fprintf(stderr, "vs2 bench: out of memory\n"), 1;
    int rc = parse_opts(argc, argv, &b->o);
    if (rc) return free(b), rc == 1 ? 0 : 2;
    const vs2_kernels *k = NULL;
    vs2_error kerr;
    if (vs2k_select(b->o.backend, &k, &kerr) != VS2_OK) {
        fprintf(stderr, "vs2 bench: %s\n", kerr.message);
        return free(b), 2;
    }
    b->backend = k->name;
    if (b->o.threads > 1 && vs2_pool_create(b->o.threads, &b->pool) != VS2_OK) {
        fprintf(stderr, "vs2 bench: cannot start %d threads\n", b->o.threads);
        return free(b), 1;
    }
    vs2_cpu_info_get(&b->cpu);
    vs2_error err = {0};
    const vs2_config *cfg = NULL;
    int ok = 1;
    if (b->o.peak) {
        ok = vs2_peak_measure(b->o.threads, b->o.peak_seconds, (size_t)b->o.peak_mib << 20, &b->peak, &err) == VS2_OK;
        b->has_peak = ok;
    }
    if (ok && b->o.model && (b->o.n_pp || b->o.n_tg || b->o.has_vision)) ok = bench_model(b, &cfg, &err);
    if (ok && b->o.video) ok = bench_video(b, &err);
    if (!ok) fprintf(stderr, "vs2 bench: %s\n", err.message);
    if (ok && b->o.json) print_json(b);
    if (ok && !b->o.json) {
        print_header_md(b, cfg);
        if (b->has_peak) print_peak_md(b);
        print_results_md(b);
    }
    vs2_engine_free(b->eng);
    vs2_pool_free(b->pool);
    free(b);
    return ok ? 0 : 1;
}
