/* rank.c — `vs2 rank`: Best-of-N. Score every candidate video for one prompt and print them
 * ranked (docs/batch.md "Best-of-N"); the scoring and ranking are the library's vs2_rank. */
#include "scoring_opts.h"
#include "video_list.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "a,b,c" -> three weights. */
int cli_parse_weights(const char *cmd, const char *s, double w[VS2_NDIMS]) {
    const char *p = s;
    for (int d = 0; d < VS2_NDIMS; d++) {
        char *end;
        w[d] = strtod(p, &end);
        if (end == p || !isfinite(w[d]) || (d < 2 ? *end != ',' : *end != '\0')) {
            fprintf(stderr, "%s: --weights: expected three numbers a,b,c (visual, alignment, physical), got '%s'\n",
                    cmd, s);
            return 0;
        }
        p = end + 1;
    }
    return 1;
}

static void usage(FILE *f) {
    fputs(
            "usage: vs2 rank (--prompt TEXT | --prompt-file FILE) [options] VIDEO|DIR|'GLOB'...\n\n"
            "Best-of-N: score every candidate video for one prompt and print them ranked, best\n"
            "first. The key is the mean of the three hard scores (the reference rule); equal keys\n"
            "keep the first index; candidates without scores rank last.\n\n"
            "input (checked before the model is loaded)\n"
            "  VIDEO|DIR|'GLOB'...    candidate video files; a directory stands for its video files\n"
            "                         (by extension, name order), a quoted pattern for its matches\n"
            "  -p, --prompt TEXT      the prompt the candidates were generated from (not empty)\n"
            "  --prompt-file FILE     the prompt from a file ('-' = stdin)\n"
            "ranking\n"
            "  --by hard|robust|soft|soft_expected|weighted   scores to rank by (default hard)\n"
            "  --weights A,B,C        key = A*visual + B*alignment + C*physical instead of the mean\n"
            "                         (--by weighted = hard scores with --weights)\n"
            "output\n"
            "  --json                 one JSON object: ranking and every candidate's full result\n\n"
            , f);
    cli_scoring_help(f);
    fputs("\n"
            "Exit status: 0 ranked; 1 error (model); 2 bad usage; 3 a candidate could not be scored\n"
            "or no candidate has scores.\n",
          f);
}

static char *read_text(const char *path) {
    FILE *f = !strcmp(path, "-") ? stdin : fopen(path, "rb");
    if (!f) return NULL;
    size_t n = 0;
    char *s = cli_read_all(f, &n);
    if (f != stdin) fclose(f);
    if (s && n && s[n - 1] == '\n') s[--n] = '\0';
    return s;
}

static void rank_progress(void *user, size_t done, size_t n) {
    (void)user;
    if (isatty(STDERR_FILENO)) {
        fprintf(stderr, "\rvs2 rank: scored %zu/%zu", done, n);
        if (done == n) fputc('\n', stderr);
    }
}

/* The table: rank, index, key, the three values ranked by, the video. */
static void print_table(const vs2_rank_result *g, const vs2_rank_params *rp, char *const *videos) {
    printf("rank  index  %-9s  visual  align  physical  video\n", rp->weighted ? "weighted" : "mean");
    for (size_t k = 0; k < g->n; k++) {
        size_t i = g->order[k];
        double v[VS2_NDIMS];
        vs2_rank_values(g->results[i], rp->by, v);
        printf("%4zu  %5zu  ", k + 1, i);
        if (isnan(g->keys[i])) printf("%-9s", "-");
        else printf("%-9.4f", g->keys[i]);
        for (int d = 0; d < VS2_NDIMS; d++) {
            int w = d == 0 ? 8 : d == 1 ? 7 : 10;
            if (isnan(v[d])) printf("%*s", w, "-");
            else if (rp->by <= VS2_RANK_ROBUST && g->results[i]->n_samples == 1) printf("%*.0f", w, v[d]);
            else printf("%*.3f", w, v[d]);
        }
        printf("  %s%s\n", videos[i], g->errors[i] ? "  (not scored)" : isnan(g->keys[i]) ? "  (no scores)" : "");
    }
    printf("ranked by %s scores%s; equal keys keep the first index; no key ranks last\n", vs2_rank_by_name(rp->by),
           rp->weighted ? ", weighted sum" : ", mean of three");
}

/* Score, rank and print; the exit status. */
static int print_ranking(const vs2_engine *eng, const vs2_score_params *sp, vs2_rank_params *rp,
                         const char *prompt, char *const *videos, size_t nv, int json) {
    const char *cmd = "vs2 rank";
    vs2_rank_result *g = NULL;
    vs2_error err;
    rp->on_candidate = rank_progress;
    if (vs2_rank(eng, prompt, (const char *const *)videos, nv, sp, rp, &g, &err) != VS2_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return 1;
    }
    for (size_t i = 0; i < nv; i++)
        if (g->errors[i]) fprintf(stderr, "%s: candidate %zu: %s\n", cmd, i, g->errors[i]);
    int rc = g->n_failed || !g->n_keyed ? 3 : 0;
    if (json) {
        char *s = vs2_rank_result_to_json(g, prompt, (const char *const *)videos, rp, 1);
        if (s) puts(s);
        else fprintf(stderr, "%s: out of memory\n", cmd), rc = 1;
        free(s);
    } else {
        print_table(g, rp, videos);
    }
    vs2_rank_result_free(g);
    return rc;
}

int cmd_rank(int argc, char **argv) {
    const char *cmd = "vs2 rank";
    cli_scoring sc;
    cli_scoring_init(&sc, cmd);
    vs2_rank_params rp = vs2_rank_default_params();
    const char *prompt = NULL, *prompt_file = NULL;
    int json = 0, by_weighted = 0, have_weights = 0, expanded_list = 0;
    char **videos = calloc((size_t)argc + 1, sizeof *videos);
    size_t nv = 0;
    if (!videos) return 1;
    int rc = 2;
    for (int i = 1; i < argc; i++) {
        char buf[64];
        const char *iv;
        const char *a = cli_arg_name(argv[i], buf, sizeof buf, &iv);
        int r = cli_scoring_opt(&sc, argc, argv, &i);
        if (r < 0) goto out;
        if (r > 0) continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            rc = 0;
            goto out;
        } else if (!strcmp(a, "--json") || !strcmp(a, "--no-json")) {
            if (!cli_arg_flag(cmd, a, iv)) goto out;
            json = !strcmp(a, "--json");
        } else if (!strcmp(a, "--")) {
            while (++i < argc) videos[nv++] = argv[i];
        } else if (a[0] == '-' && a[1]) {
            if (!strcmp(a, "--prompt") || !strcmp(a, "--prompt-file") || !strcmp(a, "--by") ||
                !strcmp(a, "--weights")) {
                const char *v = cli_arg_value(cmd, argc, argv, &i, a, iv);
                if (!v) goto out;
                if (!strcmp(a, "--prompt")) prompt = v;
                else if (!strcmp(a, "--prompt-file")) prompt_file = v;
                else if (!strcmp(a, "--weights")) {
                    if (!cli_parse_weights(cmd, v, rp.weights)) goto out;
                    have_weights = rp.weighted = 1;
                } else if (!strcmp(v, "weighted")) {
                    by_weighted = 1;
                    rp.by = VS2_RANK_HARD;
                } else {
                    int by = vs2_rank_by_from_name(v);
                    if (by < 0) {
                        fprintf(stderr, "%s: --by: expected hard, robust, soft, soft_expected or weighted, got '%s'\n",
                                cmd, v);
                        goto out;
                    }
                    rp.by = (vs2_rank_by)by;
                }
            } else {
                fprintf(stderr, "%s: unknown option '%s' (see vs2 rank --help)\n", cmd, a);
                goto out;
            }
        } else {
            videos[nv++] = argv[i];
        }
    }
    if (by_weighted && !have_weights) {
        fprintf(stderr, "%s: --by weighted needs --weights A,B,C\n", cmd);
        goto out;
    }
    if (!prompt == !prompt_file) {
        fprintf(stderr, "%s: give the text prompt with exactly one of --prompt TEXT or --prompt-file FILE\n", cmd);
        goto out;
    }
    if (nv == 0) {
        fprintf(stderr, "%s: give at least one candidate VIDEO (see vs2 rank --help)\n", cmd);
        goto out;
    }
    if (!cli_scoring_finish(&sc)) goto out;
    char **expanded = NULL;
    size_t ne = 0;
    if (!cli_expand_videos(cmd, videos, nv, &expanded, &ne)) goto out;
    free(videos);
    videos = expanded, nv = ne, expanded_list = 1;
    char *prompt_buf = NULL;
    if (prompt_file) {
        prompt_buf = read_text(prompt_file);
        if (!prompt_buf) {
            fprintf(stderr, "%s: %s: cannot read the prompt file\n", cmd, prompt_file);
            rc = 1;
            goto out;
        }
        prompt = prompt_buf;
    }
    rc = 1;
    int inputs_ok = cli_check_prompt(cmd, prompt);
    for (size_t i = 0; inputs_ok && i < nv; i++) inputs_ok = cli_check_video(cmd, videos[i]);
    vs2_engine *eng = inputs_ok ? cli_scoring_load(&sc) : NULL;
    if (eng) {
        rc = print_ranking(eng, &sc.sp, &rp, prompt, videos, nv, json);
        vs2_engine_free(eng);
    }
    free(prompt_buf);
out:
    if (expanded_list) cli_paths_free(videos, nv);
    else free(videos);
    return rc;
}
