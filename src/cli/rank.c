/* rank.c — `vs2 rank`: Best-of-N. Score every candidate video for one prompt and rank them
 * (docs/batch.md "Best-of-N"); also the group scoring `vs2 batch --groups` uses. */
#include "scoring_opts.h"
#include "video_list.h"
#include "eval/eval_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cli_group_result_free(cli_group_result *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n; i++) {
        if (g->r) vs2_result_free(g->r[i]);
        if (g->error) free(g->error[i]);
    }
    free(g->r), free(g->error), free(g->key), free(g->order);
    memset(g, 0, sizeof *g);
}

int cli_rank_candidates(const vs2_engine *eng, const vs2_score_params *sp, const vs2_rank_params *rp,
                        const char *prompt, char *const *videos, size_t n, cli_group_result *out,
                        void (*progress)(void *user, size_t done, size_t n), void *progress_user) {
    memset(out, 0, sizeof *out);
    out->n = n;
    out->r = calloc(n ? n : 1, sizeof *out->r);
    out->error = calloc(n ? n : 1, sizeof *out->error);
    out->key = calloc(n ? n : 1, sizeof *out->key);
    out->order = calloc(n ? n : 1, sizeof *out->order);
    if (!out->r || !out->error || !out->key || !out->order) {
        cli_group_result_free(out);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        out->key[i] = NAN;
        if (cli_stop_signal) {
            out->stopped = 1;
            break;
        }
        vs2_error err;
        if (vs2_score(eng, videos[i], prompt, sp, &out->r[i], &err) != VS2_OK) {
            out->error[i] = strdup(err.message);
            if (!out->error[i]) return -1;
            out->n_failed++;
        } else {
            out->key[i] = vs2_rank_key(out->r[i], rp);
            if (!isnan(out->key[i])) out->n_keyed++;
        }
        if (cli_stop_signal) out->stopped = 1;
        if (progress) progress(progress_user, i + 1, n);
    }
    vs2_rank_order(out->key, n, out->order);
    return 0;
}

static void dims(ev_buf *b, const char *name, const double v[VS2_NDIMS]) {
    ev_buf_printf(b, ",\"%s\":{", name);
    for (int d = 0; d < VS2_NDIMS; d++) {
        ev_buf_printf(b, "%s\"%s\":", d ? "," : "", ev_dim_keys[d]);
        ev_buf_json_num(b, v[d]);
    }
    ev_buf_puts(b, "}");
}

char *cli_group_json(const cli_group_result *g, const char *id, const char *prompt,
                     char *const *videos, const vs2_rank_params *rp, int full) {
    ev_buf b = {0};
    ev_buf_puts(&b, "{");
    if (id) {
        ev_buf_puts(&b, "\"id\":");
        ev_buf_json_str(&b, id);
        ev_buf_puts(&b, ",");
    }
    ev_buf_puts(&b, "\"prompt\":");
    ev_buf_json_str(&b, prompt);
    ev_buf_printf(&b, ",\"by\":\"%s\",\"weights\":", vs2_rank_by_name(rp->by));
    if (rp->weighted) {
        ev_buf_puts(&b, "[");
        for (int d = 0; d < VS2_NDIMS; d++) {
            if (d) ev_buf_puts(&b, ",");
            ev_buf_json_num(&b, rp->weights[d]);
        }
        ev_buf_puts(&b, "]");
    } else {
        ev_buf_puts(&b, "null");
    }
    size_t best = g->order && g->n && !isnan(g->key[g->order[0]]) ? g->order[0] : (size_t)-1;
    if (best != (size_t)-1) {
        ev_buf_printf(&b, ",\"best\":%zu,\"best_video\":", best);
        ev_buf_json_str(&b, videos[best]);
    } else {
        ev_buf_puts(&b, ",\"best\":null,\"best_video\":null");
    }
    ev_buf_puts(&b, ",\"ranking\":[");
    for (size_t k = 0; k < g->n; k++) ev_buf_printf(&b, "%s%zu", k ? "," : "", g->order[k]);
    ev_buf_puts(&b, "],\"candidates\":[");
    for (size_t i = 0; i < g->n; i++) {
        size_t rank = 0;
        for (size_t k = 0; k < g->n; k++)
            if (g->order[k] == i) rank = k + 1;
        ev_buf_printf(&b, "%s{\"index\":%zu,\"video\":", i ? "," : "", i);
        ev_buf_json_str(&b, videos[i]);
        ev_buf_printf(&b, ",\"rank\":%zu,\"key\":", rank);
        ev_buf_json_num(&b, g->key[i]);
        const vs2_result *r = g->r[i];
        if (!r) {
            ev_buf_puts(&b, ",\"error\":");
            ev_buf_json_str(&b, g->error[i] ? g->error[i] : "not scored (interrupted)");
        } else if (full) {
            char *js = vs2_result_to_json(r);
            if (!js) b.oom = 1;
            else {
                ev_buf_puts(&b, ",\"result\":");
                ev_buf_puts(&b, js);
                free(js);
            }
        } else {
            double v[VS2_NDIMS];
            static const char *const names[4] = {"scores", "scores_robust", "soft_scores", "soft_scores_expected"};
            for (int k = 0; k < 4; k++) {
                ev_rank_values(r, (vs2_rank_by)k, v);
                dims(&b, names[k], v);
            }
            const vs2_sample *s = r->n_samples ? &r->samples[0] : NULL;
            ev_buf_puts(&b, ",\"parse_error\":");
            ev_buf_json_str(&b, s ? s->parse_error : NULL);
            size_t gen = 0;
            for (size_t k = 0; k < r->n_samples; k++) gen += r->samples[k].n_ids;
            ev_buf_printf(&b, ",\"generated_tokens\":%zu", gen);
        }
        ev_buf_puts(&b, "}");
    }
    ev_buf_puts(&b, "]");
    if (g->stopped) ev_buf_puts(&b, ",\"error\":\"interrupted\"");
    else if (g->n_failed) {
        ev_buf_printf(&b, ",\"error\":");
        char msg[160];
        snprintf(msg, sizeof msg, "%zu of %zu candidates could not be scored", g->n_failed, g->n);
        ev_buf_json_str(&b, msg);
    } else if (!g->n_keyed) {
        ev_buf_puts(&b, ",\"error\":\"no candidate has scores to rank by\"");
    }
    ev_buf_puts(&b, "}");
    if (b.oom) {
        ev_buf_free(&b);
        return NULL;
    }
    return b.data;
}

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
        cli_group_result g;
        if (cli_rank_candidates(eng, &sc.sp, &rp, prompt, videos, nv, &g, rank_progress, NULL) != 0) {
            fprintf(stderr, "%s: out of memory\n", cmd);
        } else {
            for (size_t i = 0; i < nv; i++)
                if (g.error[i]) fprintf(stderr, "%s: candidate %zu: %s\n", cmd, i, g.error[i]);
            if (json) {
                char *s = cli_group_json(&g, NULL, prompt, videos, &rp, 1);
                if (s) {
                    puts(s);
                    free(s);
                }
            } else {
                printf("rank  index  %-9s  visual  align  physical  video\n",
                       rp.weighted ? "weighted" : "mean");
                for (size_t k = 0; k < nv; k++) {
                    size_t i = g.order[k];
                    double v[VS2_NDIMS];
                    ev_rank_values(g.r[i], rp.by, v);
                    printf("%4zu  %5zu  ", k + 1, i);
                    if (isnan(g.key[i])) printf("%-9s", "-");
                    else printf("%-9.4f", g.key[i]);
                    for (int d = 0; d < VS2_NDIMS; d++) {
                        int w = d == 0 ? 8 : d == 1 ? 7 : 10;
                        if (isnan(v[d])) printf("%*s", w, "-");
                        else if (rp.by <= VS2_RANK_ROBUST && g.r[i]->n_samples == 1) printf("%*.0f", w, v[d]);
                        else printf("%*.3f", w, v[d]);
                    }
                    printf("  %s%s\n", videos[i], g.error[i] ? "  (not scored)" : isnan(g.key[i]) ? "  (no scores)" : "");
                }
                printf("ranked by %s scores%s; equal keys keep the first index; no key ranks last\n",
                       vs2_rank_by_name(rp.by), rp.weighted ? ", weighted sum" : ", mean of three");
            }
            rc = g.n_failed || !g.n_keyed ? 3 : 0;
            cli_group_result_free(&g);
        }
        vs2_engine_free(eng);
    }
    free(prompt_buf);
out:
    if (expanded_list) cli_paths_free(videos, nv);
    else free(videos);
    return rc;
}
