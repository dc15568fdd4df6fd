/* batch.c — `vs2 batch`: score a manifest into a crash-safe, resumable JSONL file, optionally
 * one shard of it; with --groups, Best-of-N groups (docs/batch.md). */
#include "scoring_opts.h"
#include "video_list.h"
#include "eval/eval_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const CMD = "vs2 batch";

static void usage(FILE *f) {
    fputs(
            "usage: vs2 batch --manifest IN --out OUT.jsonl [options]\n"
            "       vs2 batch DIR|'GLOB'|VIDEO... (--prompt TEXT | --prompts FILE | sidecar STEM.txt)\n"
            "                 --out OUT.jsonl [options]\n\n"
            "Score every item of a manifest with one loaded model. Each result is one JSON line\n"
            "(the `vs2 score --json` object plus id and human scores), written and synced as it\n"
            "completes. Re-running the same command resumes: ids already in OUT are skipped; a torn\n"
            "last line (kill -9, power loss) is cut away and its item redone.\n\n"
            "input: a manifest, or videos (checked before the model is loaded)\n"
            "  --manifest FILE        JSONL, CSV, or a benchmark's native file (docs/metrics.md)\n"
            "  DIR|'GLOB'|VIDEO...    the video files of a directory (by extension: mp4, mkv, webm, mov,\n"
            "                         avi, gif, ...), of a quoted glob pattern, or listed; id = the file\n"
            "                         name without extension. Each video's prompt comes from:\n"
            "  -p, --prompt TEXT      one prompt for every video, or\n"
            "  --prompts FILE         a CSV (or JSONL) with a prompt column and a video or id column\n"
            "                         (matched on the file name or its stem), or else\n"
            "                         a sidecar text file beside each video: STEM.txt (or FILE.txt)\n"
            "  --format F             jsonl, csv, vs2_bench, videogen_reward_bench, t2vqa_db,\n"
            "                         mj_bench_video, video_phy2_test (default: detected)\n"
            "  --reference-quirks     the reference loaders' off-by-ones (docs/metrics.md)\n"
            "  --video-root DIR       relative video paths are under DIR (default: the manifest's dir)\n"
            "  --groups               the manifest holds Best-of-N groups, one JSON object a line:\n"
            "                         {\"id\":..., \"prompt\":..., \"videos\":[...]}; one ranked line per group\n"
            "  --by KIND --weights A,B,C   ranking of --groups (as vs2 rank)\n"
            "output\n"
            "  -o, --out OUT.jsonl    the results, one JSON line per video (durable; resumable)\n"
            "  --csv FILE.csv         also write a table, one row per video (scores, soft scores,\n"
            "                         errors) from OUT when the run ends; vs2 metrics/report/merge read it\n"
            "work split and resume\n"
            "  --shard K/N            only the ids with FNV-1a-64(id) mod N == K (0 <= K < N)\n"
            "  --retry-errors         redo the items whose line in OUT is an error line\n"
            "  --dry-run              print the ids this run would score, load no model\n"
            "  --progress-every SEC   plain progress lines when stderr is not a terminal (default 30)\n"
            "  --batch-size B         videos scored together, their answers decoded in shared passes\n"
            "                         over the weights (default 8; 1..64); results are the same for\n"
            "                         any B, lines are written when a batch ends\n\n"
            , f);
    cli_scoring_help(f);
    fputs("\n"
            "Exit status: 0 every item has a result with scores; 1 error (manifest, model, output\n"
            "file, lock held); 2 bad usage; 3 finished, but some lines are error lines (unreadable\n"
            "video, no scores in the answer); 128+N stopped by signal N (resume later).\n",
          f);
}

typedef struct work {
    const char *id;
    size_t src;                 /* index into the manifest items or the groups */
} work;

/* ---- progress ---------------------------------------------------------------------------------- */

typedef struct progress {
    int tty;
    double every, t0, last;
    size_t total, before, done, errors;
} progress;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fmt_eta(char *buf, size_t n, double s) {
    if (!(s >= 0) || s > 1e8) {
        snprintf(buf, n, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static void progress_show(progress *p, int final) {
    double t = now_s();
    if (!p->tty && !final && t - p->last < p->every) return;
    p->last = t;
    size_t done = p->before + p->done;
    double el = t - p->t0, rate = el > 0 ? (double)p->done / el : 0;
    double eta = rate > 0 ? (double)(p->total - done) / rate : -1;
    char e[32];
    fmt_eta(e, sizeof e, eta);
    double pct = p->total ? 100.0 * (double)done / (double)p->total : 100.0;
    if (p->tty) {
        char bar[31];
        int fill = (int)(pct * 30 / 100 + 1e-9);
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r[%s] %zu/%zu %5.1f%%  %.2f items/s  ETA %s  errors %zu ", bar, done, p->total, pct,
                rate, e, p->errors);
        if (final) fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s: %zu/%zu (%.1f%%), %.2f items/s, ETA %s, %zu errors\n", CMD, done, p->total, pct, rate, e,
                p->errors);
    }
    fflush(stderr);
}

/* ---- lines --------------------------------------------------------------------------------------- */

static void put_human(ev_buf *b, const vs2_manifest *m, const vs2_manifest_item *it) {
    int any = 0;
    for (int d = 0; d < VS2_NDIMS; d++) any |= !isnan(it->human[d]);
    if (any) {
        ev_buf_puts(b, ",\"human_scores\":{");
        for (int d = 0; d < VS2_NDIMS; d++) {
            ev_buf_printf(b, "%s\"%s\":", d ? "," : "", ev_dim_keys[d]);
            ev_buf_json_num(b, it->human[d]);
        }
        ev_buf_puts(b, "}");
    }
    if (!isnan(it->human_overall)) {
        ev_buf_printf(b, ",\"%s\":", m->format == VS2_MANIFEST_T2VQA_DB ? "quality_score" : "total_score");
        ev_buf_json_num(b, it->human_overall);
    }
}

static char *error_line(const char *id, const char *video, const char *prompt, const char *kind,
                        const char *msg, const vs2_manifest *m, const vs2_manifest_item *it) {
    ev_buf b = {0};
    ev_buf_puts(&b, "{\"id\":");
    ev_buf_json_str(&b, id);
    ev_buf_puts(&b, ",\"video\":");
    ev_buf_json_str(&b, video);
    ev_buf_puts(&b, ",\"prompt\":");
    ev_buf_json_str(&b, prompt);
    ev_buf_puts(&b, ",\"error\":");
    ev_buf_json_str(&b, msg);
    ev_buf_printf(&b, ",\"error_kind\":\"%s\"", kind);
    if (m && it) put_human(&b, m, it);
    ev_buf_puts(&b, "}");
    if (b.oom) {
        ev_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* The result object with "id" first and the manifest's human scores (and, when no sample has
 * the reference parse, "error"/"error_kind": "no_parse") added. */
static char *result_line(const char *id, const vs2_result *r, const vs2_manifest *m,
                         const vs2_manifest_item *it, int *no_parse) {
    char *js = vs2_result_to_json(r);
    if (!js) return NULL;
    size_t n = strlen(js);
    if (n < 2 || js[0] != '{' || js[n - 1] != '}') {
        free(js);
        return NULL;
    }
    ev_buf b = {0};
    ev_buf_puts(&b, "{\"id\":");
    ev_buf_json_str(&b, id);
    if (n > 2) ev_buf_puts(&b, ",");
    ev_buf_put(&b, js + 1, n - 2);
    free(js);
    put_human(&b, m, it);
    int parsed = 0;
    for (size_t k = 0; k < r->n_samples; k++) parsed |= r->samples[k].has_scores;
    *no_parse = !parsed;
    if (!parsed) {
        const char *why = r->n_samples && r->samples[0].parse_error ? r->samples[0].parse_error : "no scores";
        char *msg = malloc(strlen(why) + 16);
        if (msg) {
            sprintf(msg, "no scores: %s", why);
            ev_buf_puts(&b, ",\"error\":");
            ev_buf_json_str(&b, msg);
            ev_buf_puts(&b, ",\"error_kind\":\"no_parse\"");
            free(msg);
        } else {
            b.oom = 1;
        }
    }
    ev_buf_puts(&b, "}");
    if (b.oom) {
        ev_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* 1 if line reads back as a JSON object (what resume will need). */
static int line_reads_back(const char *line) {
    json_error_t je;
    json_t *o = json_loads(line, 0, &je);
    int ok = o && json_is_object(o) && json_is_string(json_object_get(o, "id"));
    json_decref(o);
    return ok;
}

/* ---- paths ---------------------------------------------------------------------------------------- */

static char *resolve(const char *video, const char *root) {
    if (!video) return NULL;
    if (video[0] == '/' || strstr(video, "://") || !root || !*root || !strcmp(root, ".")) return strdup(video);
    size_t a = strlen(root), b = strlen(video);
    char *s = malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, root, a);
    size_t k = a;
    if (root[a - 1] != '/') s[k++] = '/';
    memcpy(s + k, video, b + 1);
    return s;
}

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    char *d = malloc((size_t)(slash - path) + 1);
    if (!d) return NULL;
    memcpy(d, path, (size_t)(slash - path));
    d[slash - path] = '\0';
    return d;
}

/* "{"id":ID," + the rest of a JSON object: the id first, as on every line of OUT. */
static char *with_id(const char *id, char *js) {
    if (!js) return NULL;
    ev_buf b = {0};
    ev_buf_puts(&b, "{\"id\":");
    ev_buf_json_str(&b, id);
    if (js[0] == '{' && js[1] != '}') ev_buf_puts(&b, ",");
    ev_buf_puts(&b, js + 1);
    free(js);
    if (b.oom) {
        ev_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* One Best-of-N group scored and ranked by the library: *line is its JSON line, NULL when a
 * signal stopped it (not a result). 0 = out of memory. */
static int group_line(const vs2_engine *eng, const vs2_score_params *sp, const vs2_rank_params *rp,
                      const ev_group *g, const char *root, char **line, int *is_err) {
    *line = NULL;
    char **vids = calloc(g->n_videos ? g->n_videos : 1, sizeof *vids);
    int ok = vids != NULL;
    for (size_t v = 0; ok && v < g->n_videos; v++) ok = (vids[v] = resolve(g->videos[v], root)) != NULL;
    vs2_rank_result *gr = NULL;
    vs2_error err;
    if (ok && vs2_rank(eng, g->prompt, (const char *const *)vids, g->n_videos, sp, rp, &gr, &err) != VS2_OK) ok = 0;
    if (ok && !gr->stopped) {
        *line = with_id(g->id, vs2_rank_result_to_json(gr, g->prompt, (const char *const *)vids, rp, 0));
        *is_err = gr->n_failed || !gr->n_keyed;
        ok = *line != NULL;
    }
    vs2_rank_result_free(gr);
    for (size_t v = 0; vids && v < g->n_videos; v++) free(vids[v]);
    free(vids);
    return ok;
}

static int parse_shard(const char *s, long long *k, long long *n) {
    char *end;
    *k = strtoll(s, &end, 10);
    if (end == s || *end != '/') return 0;
    const char *p = end + 1;
    *n = strtoll(p, &end, 10);
    return end != p && !*end && *n >= 1 && *n <= 1000000 && *k >= 0 && *k < *n;
}

/* Score the manifest items W[0..nb) together (their answers share decoding passes) into lines[],
 * in order; an item a signal stopped mid-answer gets no line (it is redone on resume).
 * Returns 0, or -1 when out of memory. */
static int score_lines(const vs2_engine *eng, const vs2_score_params *sp, const vs2_manifest *m, const work *W,
                       size_t nb, const char *root, char **lines, int *is_err) {
    char **videos = calloc(nb, sizeof *videos);
    vs2_score_item *items = calloc(nb, sizeof *items);
    size_t *which = calloc(nb, sizeof *which), ni = 0;
    vs2_result **res = calloc(nb, sizeof *res);
    vs2_error *errs = calloc(nb, sizeof *errs), err;
    int rc = -1;
    if (!videos || !items || !which || !res || !errs) goto done;
    for (size_t b = 0; b < nb; b++) {
        const vs2_manifest_item *it = &m->items[W[b].src];
        videos[b] = resolve(it->video, root);
        if (it->video && !videos[b]) goto done;
        if (!videos[b] || !it->prompt) {
            lines[b] = error_line(it->id, videos[b], it->prompt, "input",
                                  !videos[b] ? "the manifest row has no video" : "the manifest row has no prompt", m, it);
            is_err[b] = 1;
            if (!lines[b]) goto done;
            continue;
        }
        items[ni] = (vs2_score_item){videos[b], NULL, it->prompt};
        which[ni++] = b;
    }
    if (ni && vs2_score_batch(eng, items, ni, sp, res, errs, &err) != VS2_OK) {
        for (size_t i = 0; i < ni; i++) errs[i] = err; /* the call failed as a whole */
    }
    for (size_t i = 0; i < ni; i++) {
        const size_t b = which[i];
        const vs2_manifest_item *it = &m->items[W[b].src];
        const vs2_result *r = res[i];
        int stop_cb = r && r->n_samples && r->samples[0].stop_reason && !strcmp(r->samples[0].stop_reason, "callback");
        if ((!r && cli_stop_signal) || stop_cb) continue; /* stopped mid-answer: not a result */
        if (!r) {
            lines[b] = error_line(it->id, videos[b], it->prompt, "score", errs[i].message, m, it);
            is_err[b] = 1;
        } else {
            lines[b] = result_line(it->id, r, m, it, &is_err[b]);
            if (lines[b] && !line_reads_back(lines[b])) {
                free(lines[b]);
                lines[b] = error_line(it->id, videos[b], it->prompt, "output",
                                      "the result could not be written as valid JSON", m, it);
                is_err[b] = 1;
            }
        }
        if (!lines[b]) goto done;
    }
    rc = 0;
done:
    for (size_t i = 0; res && i < nb; i++) vs2_result_free(res[i]);
    for (size_t b = 0; videos && b < nb; b++) free(videos[b]);
    free(videos);
    free(items);
    free(which);
    free(res);
    free(errs);
    return rc;
}

/* ---- the command ------------------------------------------------------------------------------------ */

typedef struct opts {
    const char *manifest, *out, *format, *video_root;
    const char *prompt, *prompts, *csv; /* videos given directly: one prompt, a prompts file; --csv */
    char **sources;                     /* DIR|GLOB|VIDEO arguments */
    size_t n_sources;
    int quirks, groups, retry_errors, dry_run;
    long long shard_k, shard_n;
    long long batch_size;               /* videos whose answers decode together */
    double every;
    vs2_rank_params rp;
} opts;

static int run(const opts *o, cli_scoring *sc);
static int batch_args(int argc, char **argv, cli_scoring *scp, opts *op, int *by_weighted_p);

int cmd_batch(int argc, char **argv) {
    cli_scoring sc;
    cli_scoring_init(&sc, CMD);
    opts o;
    memset(&o, 0, sizeof o);
    o.shard_n = 1;
    o.batch_size = 8;
    o.every = 30;
    o.rp = vs2_rank_default_params();
    int by_weighted = 0;
    char **sources = calloc((size_t)argc, sizeof *sources);
    if (!sources) return 1;
    o.sources = sources;
    int rc = batch_args(argc, argv, &sc, &o, &by_weighted);
    if (rc < 0) rc = run(&o, &sc);
    free(sources);
    return rc;
}

/* Parse the arguments into sc and o: -1 to run, else the exit status. */
static int batch_args(int argc, char **argv, cli_scoring *scp, opts *op, int *by_weighted_p) {
    cli_scoring sc = *scp;
    opts o = *op;
    int by_weighted = *by_weighted_p;
    for (int i = 1; i < argc; i++) {
        char buf[64];
        const char *iv;
        const char *a = cli_arg_name(argv[i], buf, sizeof buf, &iv);
        int r = cli_scoring_opt(&sc, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--reference-quirks") || !strcmp(a, "--groups") || !strcmp(a, "--retry-errors") ||
                   !strcmp(a, "--dry-run")) {
            if (!cli_arg_flag(CMD, a, iv)) return 2;
            if (!strcmp(a, "--reference-quirks")) o.quirks = 1;
            else if (!strcmp(a, "--groups")) o.groups = 1;
            else if (!strcmp(a, "--retry-errors")) o.retry_errors = 1;
            else o.dry_run = 1;
        } else if (!strcmp(a, "--manifest") || !strcmp(a, "--out") || !strcmp(a, "-o") || !strcmp(a, "--format") ||
                   !strcmp(a, "--video-root") || !strcmp(a, "--shard") || !strcmp(a, "--progress-every") ||
                   !strcmp(a, "--batch-size") || !strcmp(a, "--by") || !strcmp(a, "--weights") || !strcmp(a, "--prompt") ||
                   !strcmp(a, "--prompts") || !strcmp(a, "--csv")) {
            const char *v = cli_arg_value(CMD, argc, argv, &i, a, iv);
            if (!v) return 2;
            if (!strcmp(a, "--manifest")) o.manifest = v;
            else if (!strcmp(a, "--prompt")) o.prompt = v;
            else if (!strcmp(a, "--prompts")) o.prompts = v;
            else if (!strcmp(a, "--csv")) o.csv = v;
            else if (!strcmp(a, "--out") || !strcmp(a, "-o")) o.out = v;
            else if (!strcmp(a, "--format")) o.format = v;
            else if (!strcmp(a, "--video-root")) o.video_root = v;
            else if (!strcmp(a, "--shard")) {
                if (!parse_shard(v, &o.shard_k, &o.shard_n)) {
                    fprintf(stderr, "%s: --shard: expected K/N with 0 <= K < N (e.g. 0/4), got '%s'\n", CMD, v);
                    return 2;
                }
            } else if (!strcmp(a, "--batch-size")) {
                double bsz;
                if (!cli_parse_double(CMD, a, v, &bsz)) return 2;
                if (!(bsz >= 1 && bsz <= 64 && bsz == (double)(long long)bsz)) {
                    fprintf(stderr, "%s: --batch-size: expected an integer in [1, 64], got '%s'\n", CMD, v);
                    return 2;
                }
                o.batch_size = (long long)bsz;
            } else if (!strcmp(a, "--progress-every")) {
                if (!cli_parse_double(CMD, a, v, &o.every) || !(o.every >= 0)) return 2;
            } else if (!strcmp(a, "--weights")) {
                if (!cli_parse_weights(CMD, v, o.rp.weights)) return 2;
                o.rp.weighted = 1;
            } else if (!strcmp(v, "weighted")) {
                by_weighted = 1;
            } else {
                int by = vs2_rank_by_from_name(v);
                if (by < 0) {
                    fprintf(stderr, "%s: --by: expected hard, robust, soft, soft_expected or weighted, got '%s'\n", CMD, v);
                    return 2;
                }
                o.rp.by = (vs2_rank_by)by;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "%s: unknown option '%s' (see vs2 batch --help)\n", CMD, a);
            return 2;
        } else {
            o.sources[o.n_sources++] = argv[i];
        }
    }
    if (!o.manifest == !o.n_sources) {
        fprintf(stderr, "%s: give either --manifest IN or videos (DIR, 'GLOB' or files), not %s (see vs2 batch --help)\n",
                CMD, o.manifest ? "both" : "neither");
        return 2;
    }
    if (!o.out && !o.dry_run) {
        fprintf(stderr, "%s: --out OUT.jsonl is required (see vs2 batch --help)\n", CMD);
        return 2;
    }
    if (o.manifest && (o.prompt || o.prompts)) {
        fprintf(stderr, "%s: --prompt/--prompts go with videos; a manifest carries its own prompts\n", CMD);
        return 2;
    }
    if (o.prompt && o.prompts) {
        fprintf(stderr, "%s: give --prompt TEXT or --prompts FILE, not both\n", CMD);
        return 2;
    }
    if (o.prompt && !cli_check_prompt(CMD, o.prompt)) return 2;
    if (o.n_sources && o.groups) {
        fprintf(stderr, "%s: --groups reads a manifest of groups (--manifest)\n", CMD);
        return 2;
    }
    if (by_weighted && !o.rp.weighted) {
        fprintf(stderr, "%s: --by weighted needs --weights A,B,C\n", CMD);
        return 2;
    }
    if (o.groups && (o.format || o.quirks)) {
        fprintf(stderr, "%s: --groups reads its own JSONL format; --format/--reference-quirks do not apply\n", CMD);
        return 2;
    }
    if (o.format && vs2_manifest_format_from_name(o.format) < 0) {
        fprintf(stderr, "%s: --format: unknown format '%s'\n", CMD, o.format);
        return 2;
    }
    if (!cli_scoring_finish(&sc)) return 2;
    *scp = sc, *op = o, *by_weighted_p = by_weighted;
    return -1;
}

/* Cheap checks before the model is resolved, loaded or downloaded: when no video to do can be
 * opened (a typo in a path, the wrong directory) nothing would be scored, so stop here; when
 * some cannot, say so (they become error lines). */
static int precheck_videos(const vs2_manifest *m, const work *W, size_t todo, const char *root) {
    size_t bad = 0;
    for (size_t k = 0; k < todo; k++) {
        const vs2_manifest_item *it = &m->items[W[k].src];
        char *video = it->video ? resolve(it->video, root) : NULL;
        int ok = video && strstr(video, "://") ? 1 : video && access(video, R_OK) == 0;
        if (!ok && bad++ < 3) fprintf(stderr, "%s: %s: %s\n", CMD, video ? video : it->id, video ? strerror(errno) : "no video");
        free(video);
    }
    if (bad == todo) {
        fprintf(stderr, "%s: none of the %zu videos to do can be read; no model loaded%s\n", CMD, todo,
                todo > 1 ? " (wrong --video-root?)" : "");
        return 0;
    }
    if (bad) fprintf(stderr, "%s: warning: %zu of %zu videos to do cannot be read; they will be error lines\n", CMD, bad, todo);
    return 1;
}

typedef struct done_ctx {
    ev_strset *set;
    size_t n_errors;  /* error lines seen in OUT */
    int retry_errors; /* --retry-errors: an error line does not count as done, as in the real run */
} done_ctx;

static int dry_done(void *user, const char *id, const char *line, size_t len, int lineno, int is_error) {
    (void)line, (void)len, (void)lineno;
    done_ctx *c = user;
    c->n_errors += is_error != 0;
    if (is_error && c->retry_errors) return 1;
    char *s = strdup(id);
    if (!s) return 0;
    size_t old;
    int r = ev_strset_put(c->set, s, 0, &old);
    if (r != 1) free(s);
    return r >= 0;
}

static int run(const opts *o, cli_scoring *sc) {
    vs2_error err;
    vs2_manifest m;
    ev_groups G;
    memset(&m, 0, sizeof m);
    memset(&G, 0, sizeof G);
    size_t n_src;
    if (o->groups) {
        if (ev_groups_load(o->manifest, &G, &err) != VS2_OK) {
            fprintf(stderr, "%s: %s\n", CMD, err.message);
            return 1;
        }
        n_src = G.n;
    } else if (o->n_sources) {
        if (!cli_video_manifest(CMD, o->sources, o->n_sources, o->prompt, o->prompts, &m)) return 1;
        n_src = m.n_items;
    } else {
        int f = o->format ? vs2_manifest_format_from_name(o->format) : VS2_MANIFEST_AUTO;
        if (vs2_manifest_load(o->manifest, (vs2_manifest_format)f, o->quirks ? VS2_MANIFEST_REFERENCE_QUIRKS : 0, &m,
                              &err) != VS2_OK) {
            fprintf(stderr, "%s: %s\n", CMD, err.message);
            return 1;
        }
        n_src = m.n_items;
    }
    int rc = 1;
    work *W = calloc(n_src ? n_src : 1, sizeof *W);
    ev_strset ids = {0}, done = {0};
    ev_journal J;
    memset(&J, 0, sizeof J);
    J.fd = J.lock_fd = -1;
    /* videos given directly are paths as the user typed them: relative to the working directory */
    char *root = o->video_root ? strdup(o->video_root) : o->n_sources ? strdup(".") : dir_of(o->manifest);
    vs2_engine *eng = NULL;
    char **lines = NULL; /* one scoring round's lines (--batch-size) */
    int *is_errs = NULL;
    if (!W || !root) goto oom;
    /* Ids: unique, valid UTF-8 (they are written as JSON and matched on resume). */
    size_t nw = 0;
    for (size_t i = 0; i < n_src; i++) {
        const char *id = o->groups ? G.g[i].id : m.items[i].id;
        int line = o->groups ? G.g[i].line : m.items[i].line;
        if (!ev_utf8_valid(id)) {
            if (o->manifest) fprintf(stderr, "%s: %s:%d: the id is not valid UTF-8\n", CMD, o->manifest, line);
            else fprintf(stderr, "%s: %s: the file name is not valid UTF-8\n", CMD, m.items[i].video);
            goto fail;
        }
        size_t old;
        int r = ev_strset_put(&ids, id, i, &old);
        if (r < 0) goto oom;
        if (r == 0) {
            int l0 = o->groups ? G.g[old].line : m.items[old].line;
            if (o->manifest)
                fprintf(stderr, "%s: %s:%d: duplicate id '%s' (first at line %d); ids must be unique\n", CMD,
                        o->manifest, line, id, l0);
            else
                fprintf(stderr, "%s: %s and %s have the same id '%s' (the file name without extension)\n", CMD,
                        m.items[old].video, m.items[i].video, id);
            goto fail;
        }
        if (o->shard_n > 1 && ev_fnv1a64(id) % (uint64_t)o->shard_n != (uint64_t)o->shard_k) continue;
        W[nw].id = id;
        W[nw].src = i;
        nw++;
    }

    if (o->dry_run) {
        done_ctx dc = {.set = &done, .retry_errors = o->retry_errors};
        int torn = 0;
        if (o->out && access(o->out, F_OK) == 0 &&
            ev_jsonl_scan(o->out, &torn, dry_done, &dc, &err) != VS2_OK) {
            fprintf(stderr, "%s: %s\n", CMD, err.message);
            goto fail;
        }
        size_t todo = 0;
        for (size_t k = 0; k < nw; k++) {
            if (ev_strset_get(&done, W[k].id, NULL)) continue;
            printf("%s\n", W[k].id);
            todo++;
        }
        fprintf(stderr, "%s: dry run: %zu of %zu items in shard %lld/%lld, %zu to do", CMD, nw, n_src,
                o->shard_k, o->shard_n, todo);
        if (dc.n_errors)
            fprintf(stderr, o->retry_errors ? " (%zu error lines in OUT are retried)"
                                            : " (%zu error lines in OUT are kept; --retry-errors redoes them)",
                    dc.n_errors);
        if (torn) fprintf(stderr, " (OUT ends in a torn line: its item is redone)");
        fputc('\n', stderr);
        rc = 0;
        goto fail;
    }

    if (ev_journal_open(o->out, o->retry_errors, &J, &err) != VS2_OK) {
        fprintf(stderr, "%s: %s\n", CMD, err.message);
        goto fail;
    }
    if (J.torn_bytes)
        fprintf(stderr, "%s: %s: cut a torn last line (%lld bytes); its item is redone\n", CMD, o->out, J.torn_bytes);
    if (J.n_dropped_errors)
        fprintf(stderr, "%s: %s: removed %zu error lines to retry them\n", CMD, o->out, J.n_dropped_errors);
    for (size_t k = 0; k < J.n_lines; k++) {
        size_t old;
        int r = ev_strset_put(&done, J.lines[k].id, (size_t)J.lines[k].is_error, &old);
        if (r < 0) goto oom;
        if (r == 0)
            fprintf(stderr, "%s: warning: %s:%d: id '%s' appears again (vs2 merge would refuse it)\n", CMD, o->out,
                    J.lines[k].line, J.lines[k].id);
    }
    progress P = {.tty = isatty(STDERR_FILENO), .every = o->every, .total = nw};
    size_t prior_errors = 0, todo = 0;
    for (size_t k = 0; k < nw; k++) {
        size_t is_err;
        if (ev_strset_get(&done, W[k].id, &is_err)) {
            P.before++;
            prior_errors += is_err;
        } else {
            W[todo++] = W[k];
        }
    }
    if (P.before)
        fprintf(stderr, "%s: %s: %zu of %zu items already done (%zu error lines), %zu to do\n", CMD, o->out, P.before,
                nw, prior_errors, todo);
    size_t new_errors = 0, new_ok = 0;
    int stopped = 0;
    if (todo && !o->groups && !precheck_videos(&m, W, todo, root)) goto fail;
    if (todo) {
        eng = cli_scoring_load(sc);
        if (!eng) goto fail;
        cli_catch_signals();
        sc->sp.on_token = cli_stop_on_token;
        P.t0 = P.last = now_s();
        if (P.tty) progress_show(&P, 0);
        const size_t bs = o->groups ? 1 : (size_t)o->batch_size;
        lines = calloc(bs, sizeof *lines);
        is_errs = calloc(bs, sizeof *is_errs);
        if (!lines || !is_errs) goto oom;
        for (size_t k = 0, nb; k < todo && !cli_stop_signal; k += nb) {
            nb = todo - k < bs ? todo - k : bs;
            memset(is_errs, 0, bs * sizeof *is_errs);
            if (o->groups) {
                int ok = group_line(eng, &sc->sp, &o->rp, &G.g[W[k].src], root, &lines[0], &is_errs[0]);
                if (!ok) goto oom;
                if (!lines[0]) break; /* interrupted */
            } else if (score_lines(eng, &sc->sp, &m, W + k, nb, root, lines, is_errs) != 0) {
                goto oom;
            }
            /* The batch's lines in manifest order; an interrupted item has none (redone on resume). */
            for (size_t b = 0; b < nb; b++) {
                if (!lines[b]) continue;
                vs2_status st = ev_journal_append(&J, lines[b], strlen(lines[b]), &err);
                free(lines[b]);
                lines[b] = NULL;
                if (st) {
                    if (P.tty) fputc('\n', stderr);
                    fprintf(stderr, "%s: %s\n", CMD, err.message);
                    goto fail;
                }
                P.done++;
                if (is_errs[b]) P.errors++, new_errors++;
                else new_ok++;
                progress_show(&P, 0);
            }
        }
        stopped = cli_stop_signal != 0;
        progress_show(&P, 1);
    }
    size_t total_errors = prior_errors + new_errors;
    fprintf(stderr, "%s: %s: %zu scored now (%zu errors), %zu done before; %zu of %zu items have lines, %zu error lines%s\n",
            CMD, o->out, new_ok + new_errors, new_errors, P.before, P.before + P.done, nw, total_errors,
            stopped ? "; stopped by a signal (re-run to resume)" : "");
    rc = stopped ? 128 + (int)cli_stop_signal : total_errors ? 3 : 0;
    if (o->csv && !cli_write_csv_table(CMD, o->out, o->csv)) rc = 1;
    goto fail;
oom:
    fprintf(stderr, "%s: out of memory\n", CMD);
    rc = 1;
fail:
    for (size_t b = 0; lines && b < (o->groups ? 1 : (size_t)o->batch_size); b++) free(lines[b]);
    free(lines);
    free(is_errs);
    vs2_engine_free(eng);
    ev_journal_close(&J);
    for (size_t i = 0; i < done.cap; i++)
        if (o->dry_run && done.keys && done.keys[i]) free((char *)done.keys[i]);
    ev_strset_free(&done);
    ev_strset_free(&ids);
    free(root);
    free(W);
    if (o->groups) ev_groups_free(&G);
    else vs2_manifest_free(&m);
    return rc;
}
