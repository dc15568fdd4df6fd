/* scoring_opts.c — model and decoding options shared by `vs2 batch` and `vs2 rank`. */
#include "scoring_opts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cli_scoring_help[] =
    "model (as vs2 score)\n"
    "  -m, --model M          model directory or Hugging Face repo id (default " VS2_DEFAULT_MODEL ")\n"
    "  --revision REV         hub revision (default main)\n"
    "  --offline              never touch the network (as HF_HUB_OFFLINE=1)\n"
    "  --threads N            compute threads (default: one per core)\n"
    "  -v, --verbose          log loading steps and FFmpeg's messages to stderr\n"
    "  --backend B            CPU kernels: auto (default), q8 (int8), ref (exact fp32 path)\n"
    "  --weight-cache DIR|off where int8 weights are kept for the next load (default ~/.cache/vs2)\n"
    "scoring (as vs2 score; default: T-EVAL, greedy, 1024 new tokens, 2 fps)\n"
    "  --template eval|inf    T-EVAL (the paper's harness) or T-INF (vs2_inference.py)\n"
    "  --sample               sample: temperature 0.7, top-k/top-p from generation_config\n"
    "  --temperature T        T > 0 implies --sample; 0 means greedy\n"
    "  --top-k K  --top-p P   sampling filters (default: generation_config's)\n"
    "  --repetition-penalty R (default: generation_config's)\n"
    "  --seed S               sampling seed (default 0)\n"
    "  --samples N            N seeded samples and their means (implies --sample)\n"
    "  --max-new-tokens N     (default 1024)\n"
    "video\n"
    "  --fps F                sampling rate (default 2.0)\n"
    "  --min-pixels N  --max-pixels N  --total-pixels N   per-frame and total pixel budgets\n";

int cli_parse_ll(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "%s: %s: expected an integer in [%lld, %lld], got '%s'\n", cmd, opt, lo, hi, s);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_double(const char *cmd, const char *opt, const char *s, double *out) {
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (errno || end == s || *end || d != d) {
        fprintf(stderr, "%s: %s: not a number: '%s'\n", cmd, opt, s);
        return 0;
    }
    *out = d;
    return 1;
}

void cli_scoring_init(cli_scoring *s, const char *cmd) {
    memset(s, 0, sizeof *s);
    s->cmd = cmd;
    s->ep = vs2_engine_default_params();
    s->hp = vs2_hub_default_params();
    s->sp = vs2_score_default_params();
    s->sp.video.max_video_tokens = CLI_MAX_VIDEO_TOKENS;
    s->samples = 1;
}

static int positive(cli_scoring *s, const char *opt, const char *v, double *out) {
    if (!cli_parse_double(s->cmd, opt, v, out)) return 0;
    if (!(*out > 0)) {
        fprintf(stderr, "%s: %s must be > 0\n", s->cmd, opt);
        return 0;
    }
    return 1;
}

int cli_scoring_opt(cli_scoring *s, int argc, char **argv, int *i) {
    const char *a = cli_alias(argv[*i]);
    int vk = cli_video_opt(s->cmd, argc, argv, i, &s->sp.video);
    if (vk) return vk;
    if (!strcmp(a, "--sample")) return s->sample = 1;
    if (!strcmp(a, "--offline")) return s->hp.offline = 1;
    if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) return s->verbose = 1;
    static const char *const valued[] = {"--model", "--revision", "--template", "--temperature", "--top-k",
                                         "--top-p", "--repetition-penalty", "--seed", "--samples",
                                         "--max-new-tokens", "--threads", "--fps", "--min-pixels",
                                         "--max-pixels", "--total-pixels", "--backend", "--weight-cache", NULL};
    int known = 0;
    for (int k = 0; valued[k]; k++) known |= !strcmp(a, valued[k]);
    if (!known) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value\n", s->cmd, a);
        return -1;
    }
    const char *v = argv[++*i];
    long long ll;
    double d;
    if (!strcmp(a, "--model")) s->ep.model = v;
    else if (!strcmp(a, "--backend")) s->ep.backend = v;
    else if (!strcmp(a, "--weight-cache")) s->ep.weight_cache = v;
    else if (!strcmp(a, "--revision")) s->hp.revision = v;
    else if (!strcmp(a, "--template")) {
        if (!strcmp(v, "eval")) s->sp.tmpl = VS2_TEMPLATE_EVAL;
        else if (!strcmp(v, "inf")) s->sp.tmpl = VS2_TEMPLATE_INF;
        else {
            fprintf(stderr, "%s: --template: expected eval or inf, got '%s'\n", s->cmd, v);
            return -1;
        }
    } else if (!strcmp(a, "--temperature")) {
        if (!cli_parse_double(s->cmd, a, v, &d)) return -1;
        if (!(d >= 0)) {
            fprintf(stderr, "%s: --temperature must be >= 0 (0 = greedy)\n", s->cmd);
            return -1;
        }
        if (d == 0) s->greedy = 1; /* as llama.cpp and transformers users expect */
        else s->sp.temperature = d, s->sample = 1;
    } else if (!strcmp(a, "--top-p")) {
        if (!cli_parse_double(s->cmd, a, v, &d)) return -1;
        if (!(d > 0 && d <= 1)) {
            fprintf(stderr, "%s: --top-p must be in (0, 1]\n", s->cmd);
            return -1;
        }
        s->sp.top_p = d;
    } else if (!strcmp(a, "--repetition-penalty")) {
        if (!positive(s, a, v, &d)) return -1;
        s->sp.repetition_penalty = d;
    } else if (!strcmp(a, "--fps")) {
        if (!positive(s, a, v, &d)) return -1;
        s->sp.video.fps = d;
    } else if (!strcmp(a, "--top-k")) {
        if (!cli_parse_ll(s->cmd, a, v, 0, 1 << 30, &ll)) return -1;
        s->sp.top_k = (int)ll;
    } else if (!strcmp(a, "--seed")) {
        char *end;
        errno = 0;
        unsigned long long u = strtoull(v, &end, 10);
        if (errno || end == v || *end || v[0] == '-') {
            fprintf(stderr, "%s: --seed: expected a non-negative integer, got '%s'\n", s->cmd, v);
            return -1;
        }
        s->sp.seed = u;
    } else if (!strcmp(a, "--samples")) {
        if (!cli_parse_ll(s->cmd, a, v, 1, 10000, &s->samples)) return -1;
    } else if (!strcmp(a, "--max-new-tokens")) {
        if (!cli_parse_ll(s->cmd, a, v, 1, 1 << 20, &ll)) return -1;
        s->sp.max_new_tokens = (int)ll;
    } else if (!strcmp(a, "--threads")) {
        if (!cli_parse_ll(s->cmd, a, v, 1, 4096, &ll)) return -1;
        s->ep.threads = (int)ll;
    } else {
        if (!cli_parse_ll(s->cmd, a, v, 1, (long long)1 << 40, &ll)) return -1;
        if (!strcmp(a, "--min-pixels")) s->sp.video.min_pixels = ll;
        else if (!strcmp(a, "--max-pixels")) s->sp.video.max_pixels = ll;
        else s->sp.video.total_pixels = ll;
    }
    return 1;
}

int cli_scoring_finish(cli_scoring *s) {
    if (s->greedy && (s->sample || s->samples > 1)) {
        fprintf(stderr, "%s: --temperature 0 is greedy decoding; it cannot go with --sample/--samples\n", s->cmd);
        return 0;
    }
    if (s->samples > 1) s->sample = 1; /* greedy samples would all be one answer */
    s->sp.samples = (int)s->samples;
    s->sp.decoding = s->sample ? VS2_DECODE_SAMPLE : VS2_DECODE_GREEDY;
    return 1;
}

static void log_stderr(int level, const char *message, void *user) {
    const cli_scoring *s = user;
    if (cli_log_shown(level, s->verbose)) fprintf(stderr, "%s: %s\n", s->cmd, message);
}

vs2_engine *cli_scoring_load(cli_scoring *s) {
    cli_hub_view_init(&s->hub_view, s->cmd); /* a download is announced with rate and ETA */
    s->hp.log = cli_hub_log;
    s->hp.log_user = &s->hub_view;
    s->hp.progress = cli_hub_progress;
    s->hp.progress_user = &s->hub_view;
    s->ep.hub = &s->hp;
    s->ep.log = log_stderr;
    s->ep.log_user = s;
    vs2_error err;
    vs2_engine *eng = NULL;
    if (vs2_engine_load(&s->ep, &eng, &err) != VS2_OK) {
        fprintf(stderr, "%s: %s\n", s->cmd, err.message);
        return NULL;
    }
    s->sp.video.threads = s->ep.threads;
    return eng;
}

volatile sig_atomic_t cli_stop_signal = 0;

static void on_signal(int sig) { cli_stop_signal = sig; }

void cli_catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_stop_on_token(void *user, int sample, int step, int32_t id) {
    (void)user, (void)sample, (void)step, (void)id;
    return cli_stop_signal != 0;
}
