/* serve.c — `vs2 serve`: VideoScore2 as an HTTP reward server (src/server/, docs/server.md).
 * Listens first (so /live answers and /ready says "loading"), loads the model in a thread, then
 * serves until SIGTERM or SIGINT: it stops accepting, finishes what is queued and running, exits. */
#include "scoring_opts.h"
#include "server/server.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char serve_help[] =
    "usage: vs2 serve [--model M] [--host 127.0.0.1] [--port 8080] [options]\n\n"
    "Serve VideoScore2 over HTTP: the native API (/v1/score, /v1/score/batch, /v1/rank),\n"
    "Flow-Factory's remote reward (/compute), OpenAI chat completions (/v1/chat/completions,\n"
    "/v1/models) and operations (/health, /live, /ready, /info, /metrics). See docs/server.md.\n\n"
    "server\n"
    "  --host H               address to bind (default 127.0.0.1: this machine only)\n"
    "  --port P               TCP port (default 8080; 0 = any free port, printed)\n"
    "  --port-file F          write the port there once listening\n"
    "  --media-root DIR       videos may be named by path under DIR (default: no path inputs)\n"
    "  --api-key KEY          require Authorization: Bearer KEY (default $VS2_API_KEY, else none)\n"
    "  --workers N            videos scored at once, sharing one model (default 1)\n"
    "  --max-queue Q          requests waiting for a worker; more get 503 + Retry-After (default 16)\n"
    "  --batch-size N         videos a worker decodes together, from requests that wait together\n"
    "                         with the same decoding options (default 8; 1 = one at a time)\n"
    "  --max-connections N    open connections (default 256)\n"
    "  --max-body BYTES       request body limit (default 268435456 = 256 MiB)\n"
    "  --request-timeout S    answer 504 and stop the work after S seconds (default 600)\n"
    "  --max-items N          videos in one request (default 64)\n"
    "  --max-frames N         frames in one frames input (default 1024)\n"
    "  --max-frame-pixels N   pixels of one uploaded frame (default 16777216)\n"
    "  --max-new-tokens-limit N  the largest max_new_tokens a request may ask (default 4096)\n"
    "  --model-name NAME      the id /v1/models answers (default: --model as given)\n"
    "Flow-Factory /compute\n"
    "  --compute-fps F        frame rate of the frames it sends (or kwargs.fps; required)\n"
    "  --compute-reward R     hard (default: mean of the three scores), robust, soft,\n"
    "                         soft_expected, or one dimension: visual_quality, text_alignment,\n"
    "                         physical_consistency (optionally :soft etc.)\n"
    "  --missing-reward X     reward of a video whose answer holds no scores (default: error)\n";

typedef struct loader {
    cli_scoring *sc;
    vs2_engine *eng;
    volatile int done; /* 1 loaded, -1 failed */
} loader;

static void *load_main(void *arg) {
    loader *l = arg;
    l->eng = cli_scoring_load(l->sc);
    l->done = l->eng ? 1 : -1;
    return NULL;
}

static int serve_opt(srv_config *c, int argc, char **argv, int *i, const char **port_file) {
    static const char *const valued[] = {"--host", "--port", "--port-file", "--media-root", "--api-key", "--workers",
                                         "--max-queue", "--batch-size", "--max-connections", "--max-body", "--request-timeout",
                                         "--max-items", "--max-frames", "--max-frame-pixels", "--max-new-tokens-limit",
                                         "--model-name", "--compute-fps", "--compute-reward", "--missing-reward", NULL};
    const char *a = argv[*i];
    int known = 0;
    for (int k = 0; valued[k]; k++) known |= !strcmp(a, valued[k]);
    if (!known) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "vs2 serve: %s needs a value\n", a);
        return -1;
    }
    const char *v = argv[++*i];
    long long ll;
    double d;
    const char *cmd = "vs2 serve";
    if (!strcmp(a, "--host")) c->host = v;
    else if (!strcmp(a, "--port-file")) *port_file = v;
    else if (!strcmp(a, "--media-root")) c->media_root = v;
    else if (!strcmp(a, "--api-key")) c->api_key = v;
    else if (!strcmp(a, "--model-name")) c->model_name = v;
    else if (!strcmp(a, "--compute-reward")) {
        vs2_rank_params rp;
        if (srv_reward_from_name(v, &rp)) {
            fprintf(stderr, "vs2 serve: --compute-reward: expected hard, robust, soft, soft_expected or a dimension, got '%s'\n", v);
            return -1;
        }
        c->compute_reward = v;
    } else if (!strcmp(a, "--compute-fps") || !strcmp(a, "--request-timeout") || !strcmp(a, "--missing-reward")) {
        if (!cli_parse_double(cmd, a, v, &d)) return -1;
        if (!isfinite(d) || (strcmp(a, "--missing-reward") && !(d > 0))) {
            fprintf(stderr, "vs2 serve: %s must be finite%s\n", a, strcmp(a, "--missing-reward") ? " and > 0" : "");
            return -1;
        }
        if (!strcmp(a, "--compute-fps")) c->compute_fps = d;
        else if (!strcmp(a, "--request-timeout")) c->request_timeout = d;
        else c->missing_reward = d, c->has_missing_reward = 1;
    } else {
        long long lo = !strcmp(a, "--port") || !strcmp(a, "--max-queue") ? 0 : 1;
        long long hi = !strcmp(a, "--port") ? 65535 : !strcmp(a, "--workers") ? 256 : (long long)1 << 40;
        char *end;
        errno = 0;
        ll = strtoll(v, &end, 10);
        if (errno || end == v || *end || ll < lo || ll > hi) {
            fprintf(stderr, "%s: %s: expected an integer in [%lld, %lld], got '%s'\n", cmd, a, lo, hi, v);
            return -1;
        }
        if (!strcmp(a, "--port")) c->port = (int)ll;
        else if (!strcmp(a, "--workers")) c->workers = (int)ll;
        else if (!strcmp(a, "--batch-size")) c->batch_size = (int)(ll > 256 ? 256 : ll);
        else if (!strcmp(a, "--max-queue")) c->max_queue = (int)(ll > 1 << 20 ? 1 << 20 : ll);
        else if (!strcmp(a, "--max-connections")) c->max_connections = (int)(ll > 1 << 16 ? 1 << 16 : ll);
        else if (!strcmp(a, "--max-body")) c->max_body = (size_t)ll;
        else if (!strcmp(a, "--max-items")) c->max_items = (size_t)ll;
        else if (!strcmp(a, "--max-frames")) c->max_frames = (size_t)ll;
        else if (!strcmp(a, "--max-frame-pixels")) c->max_frame_pixels = ll;
        else c->max_new_tokens = (int)(ll > 1 << 20 ? 1 << 20 : ll);
    }
    return 1;
}

static void config_defaults(srv_config *c) {
    memset(c, 0, sizeof *c);
    c->host = "127.0.0.1";
    c->port = 8080;
    c->api_key = getenv("VS2_API_KEY") && *getenv("VS2_API_KEY") ? getenv("VS2_API_KEY") : NULL;
    c->workers = 1;
    c->max_queue = 16;
    c->batch_size = 8;
    c->max_connections = 256;
    c->max_body = (size_t)256 << 20;
    c->request_timeout = 600;
    c->max_items = 64;
    c->max_frames = 1024;
    c->max_frame_pixels = (int64_t)4096 * 4096;
    c->max_new_tokens = 4096;
}

static int wait_for_signal(loader *l, srv_server *srv, srv_config *cfg, const sigset_t *set) {
    int loaded = 0;
    for (;;) {
        struct timespec ts = {0, 200000000};
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig > 0) {
            fprintf(stderr, "vs2 serve: %s: finishing the requests in hand, then exiting\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
            return loaded ? 0 : 1;
        }
        if (!loaded && l->done == -1) return -1;
        if (!loaded && l->done == 1) {
            srv_error e;
            if (srv_set_engine(srv, l->eng, &e)) {
                fprintf(stderr, "vs2 serve: %s\n", e.msg);
                return -1;
            }
            fprintf(stderr, "vs2 serve: ready: %s (%s) on http://%s:%d\n", vs2_engine_model_dir(l->eng),
                    vs2_engine_backend(l->eng), cfg->host, cfg->port);
            loaded = 1;
        }
    }
}

int cmd_serve(int argc, char **argv) {
    cli_scoring sc;
    cli_scoring_init(&sc, "vs2 serve");
    srv_config cfg;
    config_defaults(&cfg);
    const char *port_file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("%s\n", serve_help);
            cli_scoring_help(stdout);
            return 0;
        }
        int k = serve_opt(&cfg, argc, argv, &i, &port_file);
        if (k == 0) k = cli_scoring_opt(&sc, argc, argv, &i);
        if (k < 0) return 2;
        if (k == 0) {
            fprintf(stderr, "vs2 serve: unknown option '%s' (vs2 serve --help)\n", argv[i]);
            return 2;
        }
    }
    if (!cli_scoring_finish(&sc)) return 2;
    cfg.model = sc.ep.model ? sc.ep.model : VS2_DEFAULT_MODEL;
    if (!cfg.model_name) cfg.model_name = cfg.model;
    if (sc.sp.max_new_tokens > cfg.max_new_tokens) cfg.max_new_tokens = sc.sp.max_new_tokens;
    cfg.max_video_tokens = sc.sp.video.max_video_tokens;
    sc.sp.video.threads = sc.ep.threads; /* as cli_scoring_load sets it, before the defaults are copied */
    cfg.ep = sc.ep;
    cfg.defaults = sc.sp;

    /* Every thread started from here inherits the mask: only sigtimedwait below sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    srv_server *srv = NULL;
    srv_error e;
    if (srv_start(&cfg, &srv, &e)) {
        fprintf(stderr, "vs2 serve: %s\n", e.msg);
        return e.http == 2 ? 2 : 1;
    }
    fprintf(stderr, "vs2 serve: listening on http://%s:%d (loading %s)%s\n", cfg.host, cfg.port, cfg.model,
            cfg.api_key ? "; bearer key required" : "");
    if (port_file) {
        FILE *f = fopen(port_file, "w");
        if (!f || fprintf(f, "%d\n", cfg.port) < 0 || fclose(f)) {
            fprintf(stderr, "vs2 serve: --port-file %s: %s\n", port_file, strerror(errno));
            srv_drain_and_stop(srv);
            return 1;
        }
    }
    loader l = {&sc, NULL, 0};
    pthread_t lt;
    if (pthread_create(&lt, NULL, load_main, &l)) {
        fprintf(stderr, "vs2 serve: cannot start the loader thread\n");
        srv_drain_and_stop(srv);
        return 1;
    }
    int rc = wait_for_signal(&l, srv, &cfg, &set);
    pthread_join(lt, NULL); /* a load in progress finishes first */
    srv_drain_and_stop(srv);
    vs2_engine_free(l.eng);
    if (rc < 0) return 1;
    fprintf(stderr, "vs2 serve: stopped\n");
    return 0;
}
