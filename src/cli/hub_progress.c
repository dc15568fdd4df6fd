/* hub_progress.c — what a person sees while a model downloads, for `vs2 download` and for
 * `vs2 score`/`batch`/`rank` when the model is not cached yet: the hub's announcement (what,
 * where, how much), a redrawn bar with rate and ETA on a terminal, a plain line every 10 s and
 * per finished file otherwise. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

void cli_hub_view_init(cli_hub_view *v, const char *cmd) {
    memset(v, 0, sizeof *v);
    v->cmd = cmd;
    v->tty = isatty(STDERR_FILENO);
}

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

void cli_hub_clear(cli_hub_view *v) {
    if (v->bar_drawn) fputs("\r\033[K", stderr);
    v->bar_drawn = 0;
}

/* Warnings, and the hub's info messages (what is downloaded, where, how much; resuming;
 * waiting for another process): they appear only when a download happens. Errors (level 0)
 * come back as the call's error, which the command prints. */
void cli_hub_log(int level, const char *message, void *user) {
    cli_hub_view *v = user;
    if (level < 1 || level > 2 || (v->quiet && level > 1)) return;
    cli_hub_clear(v);
    fprintf(stderr, "%s: %s%s\n", v->cmd, level == 1 ? "warning: " : "", message);
}

static int term_width(void) {
    struct winsize ws;
    return ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40 ? ws.ws_col : 80;
}

/* "[=====>    ] 1.2 GB/16.6 GB 45.3 MB/s ETA 5m40s  [3/9] model-00001-of-00004.safetensors" */
static void draw_bar(cli_hub_view *v, const vs2_hub_progress *p, double rate) {
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

static void plain_line(const cli_hub_view *v, const vs2_hub_progress *p, double rate) {
    char done[16], total[16], speed[16], eta[16], fdone[16];
    fmt_bytes((double)p->done, done, sizeof done);
    fmt_bytes((double)p->total, total, sizeof total);
    fmt_bytes(rate, speed, sizeof speed);
    fmt_bytes((double)p->file_done, fdone, sizeof fdone);
    fmt_eta(rate > 0 ? (double)(p->total - p->done) / rate : -1, eta, sizeof eta);
    fprintf(stderr, "%s: [%d/%d] %s %s %s; %s of %s, %s/s, ETA %s\n", v->cmd, p->file_index, p->n_files,
            p->file, p->finished ? "done," : "at", fdone, done, total, speed, eta);
}

void cli_hub_progress(void *user, const vs2_hub_progress *p) {
    cli_hub_view *v = user;
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
        if (p->finished && p->file_index == p->n_files) cli_hub_clear(v);
    } else if (p->finished || t - v->last_line >= 10) {
        plain_line(v, p, rate);
        v->last_line = t;
    }
}

