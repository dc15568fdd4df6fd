/* scoring_opts.c — the model and scoring options of `vs2 score`, `vs2 batch` and `vs2 rank`: the
 * library's option table (src/options.c) plus the command's hub and logging flags. */
#include "scoring_opts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One option's help: "  --name META" in a 25-column field, then its help lines and the
 * default, on a line of its own where it would pass column 100. */
static void help_line(FILE *f, const char *flag, const char *meta, const char *help, const char *def) {
    char left[96];
    snprintf(left, sizeof left, "  %s%s%s", flag, meta ? " " : "", meta ? meta : "");
    if (strlen(left) < 25) fprintf(f, "%-25s", left);
    else fprintf(f, "%s\n%25s", left, "");
    size_t col = 25;
    for (const char *p = help;;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        fwrite(p, 1, len, f);
        col = 25 + len;
        if (!nl) break;
        fprintf(f, "\n%25s", "");
        p = nl + 1;
    }
    if (def && col + strlen(def) + 11 > 100) fprintf(f, "\n%25s(default %s)", "", def);
    else if (def) fprintf(f, " (default %s)", def);
    fputc('\n', f);
}

/* The command's own hub and logging options, shown in the model section. */
static void model_extras(FILE *f) {
    help_line(f, "--revision", "REV", "hub revision (branch, tag or commit)", "main");
    help_line(f, "--offline", NULL, "never touch the network (as HF_HUB_OFFLINE=1)", NULL);
    help_line(f, "-v, --verbose", NULL, "log loading steps and FFmpeg's messages to stderr", NULL);
}

void cli_scoring_help(FILE *f) {
    static const char *const groups[] = {"model", "prompt", "decoding", "video"};
    size_t n;
    const vs2_option *opts = vs2_options(&n);
    for (size_t g = 0; g < sizeof groups / sizeof *groups; g++) {
        fprintf(f, "%s\n", groups[g]);
        for (size_t i = 0; i < n; i++) {
            const vs2_option *o = &opts[i];
            if (strcmp(o->group, groups[g])) continue;
            char flag[64];
            snprintf(flag, sizeof flag, "%s--%s", !strcmp(o->name, "model") ? "-m, " : "", o->name);
            help_line(f, flag, o->metavar, o->help, o->type == VS2_OPT_FLAG ? NULL : o->default_value);
        }
        if (!strcmp(groups[g], "model")) model_extras(f);
    }
    fputs("  (every option also takes the form --name=value)\n", f);
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
}

int cli_scoring_opt(cli_scoring *s, int argc, char **argv, int *i) {
    char buf[64];
    const char *iv;
    const char *a = cli_arg_name(argv[*i], buf, sizeof buf, &iv);
    if (!strcmp(a, "--offline") || !strcmp(a, "--verbose") || !strcmp(a, "-v")) {
        if (!cli_arg_flag(s->cmd, a, iv)) return -1;
        if (!strcmp(a, "--offline")) s->hp.offline = 1;
        else s->verbose = 1;
        return 1;
    }
    if (!strcmp(a, "--revision")) {
        s->hp.revision = cli_arg_value(s->cmd, argc, argv, i, a, iv);
        return s->hp.revision ? 1 : -1;
    }
    const vs2_option *o = a[0] == '-' && a[1] == '-' ? vs2_option_find(a) : NULL;
    if (!o) return 0;
    const char *v = iv;
    if (o->type != VS2_OPT_FLAG && !v && !(v = cli_arg_value(s->cmd, argc, argv, i, a, iv))) return -1;
    vs2_error err;
    vs2_status st = o->scope == VS2_OPT_ENGINE ? vs2_engine_params_set(&s->ep, o->name, v, &err)
                                               : vs2_score_params_set(&s->sp, o->name, v, &err);
    if (st != VS2_OK) {
        fprintf(stderr, "%s: %s\n", s->cmd, err.message);
        return -1;
    }
    return 1;
}

int cli_scoring_finish(cli_scoring *s) {
    vs2_error err;
    if (vs2_score_params_check(&s->sp, &err) != VS2_OK) {
        fprintf(stderr, "%s: %s\n", s->cmd, err.message);
        return 0;
    }
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
