/* download.c — `vs2 download [MODEL]`: put a model into the Hugging Face cache (or find it
 * there) and print its snapshot directory. Messages and progress go to stderr: a redrawn bar
 * on a terminal, a plain line every 10 s and per finished file otherwise. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int tty, quiet, bar_drawn;
    double t0, last_line;
    int64_t done0;
    int started;
} view;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fmt_bytes(double n, char *buf, size_t len) {
    static const char *const UNIT[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (n >= 1000 && u < 4) n /= 1000, u++;
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", n, UNIT[u]);
}

static void fmt_eta(double s, char *buf, size_t len) {
    if (s < 0 || s > 1e7) snprintf(buf, len, "--");
    else if (s >= 3600) snprintf(buf, len, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)s % 60);
}

static void clear_bar(view *v) {
    if (v->bar_drawn) fputs("\r\033[K", stderr);
    v->bar_drawn = 0;
}

static void on_log(int level, const char *message, void *user) {
    view *v = user;
    if (level > 2 || (v->quiet && level > 1)) return;
    clear_bar(v);
    fprintf(stderr, "vs2 download: %s%s\n", level == 1 ? "warning: " : "", message);
}

static int term_width(void) {
    struct winsize ws;
    return ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40 ? ws.ws_col : 80;
}

/* "[=====>    ] 1.2 GB/16.6 GB 45.3 MB/s ETA 5m40s  [3/9] model-00001-of-00004.safetensors" */
static void draw_bar(view *v, const vs2_hub_progress *p, double rate) {
    char done[16], total[16], speed[16], eta[16], bar[32];
    fmt_bytes((double)p->done, done, sizeof done);
    fmt_bytes((double)p->total, total, sizeof total);
    fmt_bytes(rate, speed, sizeof speed);
    fmt_eta(rate > 0 ? (double)(p->total - p->done) / rate : -1, eta, sizeof eta);
    int width = 20, fill = p->total > 0 ? (int)((double)p->done / (double)p->total * width) : 0;
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
    bar[width] = '\0';
    char line[512];
    /* the numbers first: a narrow terminal cuts the file name, not the rate or the ETA */
    int n = snprintf(line, sizeof line, "[%s] %s/%s %s/s ETA %s  [%d/%d] %s", bar, done, total, speed, eta,
                     p->file_index, p->n_files, p->file);
    int w = term_width() - 1;
    if (n > w) n = w;
    fprintf(stderr, "\r%.*s\033[K", n, line);
    v->bar_drawn = 1;
}

static void plain_line(const vs2_hub_progress *p, double rate) {
    char done[16], total[16], speed[16], eta[16], fdone[16];
    fmt_bytes((double)p->done, done, sizeof done);
    fmt_bytes((double)p->total, total, sizeof total);
    fmt_bytes(rate, speed, sizeof speed);
    fmt_bytes((double)p->file_done, fdone, sizeof fdone);
    fmt_eta(rate > 0 ? (double)(p->total - p->done) / rate : -1, eta, sizeof eta);
    fprintf(stderr, "vs2 download: [%d/%d] %s %s %s; %s of %s, %s/s, ETA %s\n", p->file_index, p->n_files,
            p->file, p->finished ? "done," : "at", fdone, done, total, speed, eta);
}

static void on_progress(void *user, const vs2_hub_progress *p) {
    view *v = user;
    if (v->quiet) return;
    double t = now_s();
    if (!v->started) {
        v->started = 1;
        v->t0 = v->last_line = t;
        v->done0 = p->done; /* a resumed file does not count as speed */
    }
    double rate = t - v->t0 > 0.2 ? (double)(p->done - v->done0) / (t - v->t0) : 0;
    if (v->tty) {
        draw_bar(v, p, rate);
        if (p->finished && p->file_index == p->n_files) clear_bar(v);
    } else if (p->finished || t - v->last_line >= 10) {
        plain_line(p, rate);
        v->last_line = t;
    }
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: vs2 download [MODEL] [--revision REV] [--offline] [--cache-dir DIR] [--quiet]\n\n"
            "Put MODEL (a Hugging Face repo id, default %s) into the Hugging Face cache, or\n"
            "find it there, and print its snapshot directory. Only the files vs2 needs are fetched\n"
            "(config, tokenizer, safetensors index and shards); an interrupted download resumes, and\n"
            "every file is checked against the hub's size and sha256 before it is used.\n\n"
            "  --revision REV    branch, tag or commit (default main)\n"
            "  --offline         never touch the network; report what is missing (also HF_HUB_OFFLINE=1)\n"
            "  --cache-dir DIR   the hub cache (default $HF_HUB_CACHE, $HF_HOME/hub or\n"
            "                    ~/.cache/huggingface/hub)\n"
            "  --quiet           no progress, only warnings and errors\n\n"
            "Environment: HF_TOKEN (gated or private repos; else the token file `hf auth login` writes),\n"
            "HF_ENDPOINT (a mirror), HF_HUB_DOWNLOAD_TIMEOUT (seconds without data before a retry).\n"
            "Exit status: 0 the snapshot is complete, 1 it could not be made complete, 2 bad usage.\n",
            VS2_DEFAULT_MODEL);
}

int cmd_download(int argc, char **argv) {
    vs2_hub_params hp = vs2_hub_default_params();
    view v = {.tty = isatty(STDERR_FILENO)};
    const char *model = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--offline")) {
            hp.offline = 1;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            v.quiet = 1;
        } else if ((!strcmp(a, "--revision") || !strcmp(a, "--cache-dir")) && i + 1 < argc) {
            *(!strcmp(a, "--revision") ? &hp.revision : &hp.cache_dir) = argv[++i];
        } else if (a[0] != '-' && !model) {
            model = a;
        } else {
            fprintf(stderr, "vs2 download: unexpected argument '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    hp.check_hub = 1; /* an explicit download asks the hub whether the revision moved */
    hp.log = on_log;
    hp.log_user = &v;
    hp.progress = on_progress;
    hp.progress_user = &v;
    char *path = NULL;
    vs2_error err;
    vs2_status s = vs2_hub_resolve(model, &hp, &path, &err);
    clear_bar(&v);
    if (s != VS2_OK) {
        fprintf(stderr, "vs2 download: %s\n", err.message);
        return s == VS2_ERR_INVALID_ARG ? 2 : 1;
    }
    printf("%s\n", path);
    free(path);
    return 0;
}
