/* metrics.c — `vs2 metrics RESULTS --bench NAME`: the release scripts' metrics on a result
 * file (vs2 JSONL or the reference's JSON list); see docs/metrics.md. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: vs2 metrics RESULTS [--bench NAME] [--method NAME] [--gt FILE]\n"
            "                   [--gt-format FMT] [--reference-quirks] [--raw] [--json|--csv|--md]\n\n"
            "Accuracy, relaxed accuracy, PLCC and SRCC per dimension and overall, and pairwise\n"
            "accuracy with and without ties, as the VideoScore2 release scripts define them.\n\n"
            "  --bench NAME      vs2_bench (default), videogen_reward_bench, t2vqa_db,\n"
            "                    mj_bench_video, video_phy2_test\n"
            "  --method NAME     vs2_float (default: normed soft scores), vs2 (hard ints),\n"
            "                    vs2_robust, vs2_float_weighted, or a baseline: vs1, video_reward,\n"
            "                    vision_reward, unified_reward, image_reward, q_insight, q_align,\n"
            "                    deqa, dover, aigve_macs, video_phy2_auto_eval, lift\n"
            "  --gt FILE         human scores or preference pairs (a manifest or a benchmark's\n"
            "                    native file), joined on the video id\n"
            "  --gt-format FMT   the --gt file's format (default: detected)\n"
            "  --reference-quirks  load --gt as the reference loaders do (drop the first CSV row,\n"
            "                    first 2000 T2VQA-DB lines)\n"
            "  --raw             figures before ROUND_DIGIT=3 rounding\n"
            "  --json, --csv, --md  output format (default: a table)\n");
}

/* The shortest decimal that reads back as v (Python's repr); null for NaN. */
static void print_num(FILE *f, double v, const char *nan_text) {
    if (isnan(v)) {
        fputs(nan_text, f);
        return;
    }
    char buf[64];
    if (fabs(v) >= 1e-4 && fabs(v) < 1e15) { /* plain decimals, as Python prints them */
        for (int d = 1; d <= 17; d++) {
            snprintf(buf, sizeof buf, "%.*f", d, v);
            if (strtod(buf, NULL) == v) break;
        }
    } else snprintf(buf, sizeof buf, "%.17g", v);
    fputs(buf, f);
}

typedef enum { OUT_TABLE, OUT_JSON, OUT_CSV, OUT_MD } out_kind;

static const char *const dim_names[4] = {"visual quality", "text alignment", "physical", "average"};

/* One cell; returns 1 if it holds no number ("-" or "undefined"). */
static int cellv(FILE *f, const vs2_metrics *m, const char *key, int md) {
    double v = vs2_metrics_get(m, key);
    int present = 0;
    for (size_t i = 0; i < m->n; i++) present |= !strcmp(m->m[i].key, key);
    char buf[40] = "-"; /* "-": the bench or method does not define this figure */
    if (present && isnan(v)) snprintf(buf, sizeof buf, "undefined"); /* e.g. a constant input */
    else if (present) snprintf(buf, sizeof buf, "%.3f", v);
    fprintf(f, md ? " %s |" : " %10s", buf);
    return !present || isnan(v);
}

static int has_prefix(const vs2_metrics *m, const char *sub) {
    for (size_t i = 0; i < m->n; i++)
        if (strstr(m->m[i].key, sub)) return 1;
    return 0;
}

static void print_table(FILE *f, const vs2_metrics *m, int md, int raw) {
    static const char *const rows[5] = {"v", "t", "p", "avg", "overall"};
    static const char *const cols[4] = {"acc", "acc_relaxed", "plcc", "spcc"};
    int blanks = 0;
    if (has_prefix(m, "acc") || has_prefix(m, "plcc")) {
        fprintf(f, md ? "| dimension | accuracy | relaxed | PLCC | SRCC |\n|---|---|---|---|---|\n"
                      : "%-16s %10s %10s %10s %10s\n",
                "dimension", "accuracy", "relaxed", "PLCC", "SRCC");
        int overall = has_prefix(m, "overall_acc") || has_prefix(m, "overall_plcc");
        for (int r = 0; r < 4 + overall; r++) {
            fprintf(f, md ? "| %s |" : "%-16s", r < 4 ? dim_names[r] : "overall");
            for (int c = 0; c < 4; c++) {
                char key[48];
                if (r == 3) snprintf(key, sizeof key, "%s_avg", cols[c]);
                else if (r == 4 && c == 1) snprintf(key, sizeof key, "-");
                else snprintf(key, sizeof key, "%s_%s", rows[r], cols[c]);
                blanks |= cellv(f, m, key, md) && !(r == 4 && c == 1);
            }
            fputc('\n', f);
        }
    }
    if (has_prefix(m, "pairwise")) {
        fprintf(f, md ? "\n| pairwise | with ties | pairs | without ties | pairs |\n|---|---|---|---|---|\n"
                      : "\n%-16s %10s %10s %12s %10s\n",
                "pairwise", "with ties", "pairs", "without ties", "pairs");
        static const char *const pw[3] = {"vq", "ta", "overall"};
        for (int k = 0; k < 3; k++) {
            char key[48];
            snprintf(key, sizeof key, "%s_pairs_with_ties", pw[k]);
            if (isnan(vs2_metrics_get(m, key))) continue;
            fprintf(f, md ? "| %s |" : "%-16s", pw[k]);
            snprintf(key, sizeof key, "%s_pairwise_acc_with_ties", pw[k]);
            blanks |= cellv(f, m, key, md);
            snprintf(key, sizeof key, "%s_pairs_with_ties", pw[k]);
            fprintf(f, md ? " %.0f |" : " %10.0f", vs2_metrics_get(m, key));
            snprintf(key, sizeof key, "%s_pairwise_acc_without_ties", pw[k]);
            blanks |= cellv(f, m, key, md);
            snprintf(key, sizeof key, "%s_pairs_without_ties", pw[k]);
            fprintf(f, md ? " %.0f |" : " %12.0f", vs2_metrics_get(m, key));
            fputc('\n', f);
        }
    }
    if (raw) fprintf(f, "(--raw: the table shows 3 decimals; --json gives every digit)\n");
    if (blanks)
        fprintf(f, "(-: not measured for this bench, method and data; undefined: fewer than 2 scored pairs or "
                   "a constant input)\n");
}

static void print_json(FILE *f, const vs2_metrics *m, const char *bench, const char *method,
                       const char *path) {
    fputs("{\"results\":", f);
    cli_json_string(f, path, strlen(path));
    fputs(",\"bench\":", f);
    cli_json_string(f, bench, strlen(bench));
    fputs(",\"method\":", f);
    cli_json_string(f, method, strlen(method));
    fprintf(f, ",\"n_items\":%zu,\"n_dropped\":%zu,\"metrics\":{", m->n_items, m->n_dropped);
    for (size_t i = 0; i < m->n; i++) {
        fprintf(f, "%s\"%s\":", i ? "," : "", m->m[i].key);
        print_num(f, m->m[i].value, "null");
    }
    fputs("}}\n", f);
}

static void print_csv(FILE *f, const vs2_metrics *m) {
    fputs("key,value\n", f);
    for (size_t i = 0; i < m->n; i++) {
        fprintf(f, "%s,", m->m[i].key);
        print_num(f, m->m[i].value, "");
        fputc('\n', f);
    }
}

typedef struct opts {
    const char *results, *bench, *method, *gt, *gt_format;
    int quirks, raw;
    out_kind out;
} opts;

static int parse_args(int argc, char **argv, opts *o) {
    *o = (opts){.bench = "vs2_bench", .method = "vs2_float", .out = OUT_TABLE};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--bench") && more) o->bench = argv[++i];
        else if (!strcmp(a, "--method") && more) o->method = argv[++i];
        else if (!strcmp(a, "--gt") && more) o->gt = argv[++i];
        else if (!strcmp(a, "--gt-format") && more) o->gt_format = argv[++i];
        else if (!strcmp(a, "--reference-quirks")) o->quirks = 1;
        else if (!strcmp(a, "--raw")) o->raw = 1;
        else if (!strcmp(a, "--json")) o->out = OUT_JSON;
        else if (!strcmp(a, "--csv")) o->out = OUT_CSV;
        else if (!strcmp(a, "--md")) o->out = OUT_MD;
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "vs2 metrics: unknown or incomplete option '%s'\n", a);
            return 0;
        } else if (!o->results) o->results = a;
        else {
            fprintf(stderr, "vs2 metrics: one RESULTS file at a time ('%s')\n", a);
            return 0;
        }
    }
    if (!o->results) {
        usage(stderr);
        return 0;
    }
    return 1;
}

int cmd_metrics(int argc, char **argv) {
    opts o;
    if (!parse_args(argc, argv, &o)) return 2;
    int gf = VS2_MANIFEST_AUTO;
    if (o.gt_format && (gf = vs2_manifest_format_from_name(o.gt_format)) < 0) {
        fprintf(stderr, "vs2 metrics: unknown --gt-format '%s'\n", o.gt_format);
        return 2;
    }
    vs2_error err;
    vs2_results res;
    if (vs2_results_load(o.results, &res, &err) != VS2_OK) {
        fprintf(stderr, "vs2 metrics: %s\n", err.message);
        return 1;
    }
    vs2_manifest gt = {0};
    if (o.gt) {
        if (vs2_manifest_load(o.gt, (vs2_manifest_format)gf, o.quirks ? VS2_MANIFEST_REFERENCE_QUIRKS : 0,
                              &gt, &err) != VS2_OK) {
            fprintf(stderr, "vs2 metrics: %s\n", err.message);
            vs2_results_free(&res);
            return 1;
        }
        size_t joined = vs2_results_join(&res, &gt);
        fprintf(stderr, "vs2 metrics: %s: %zu videos, %zu pairs; %zu of %zu results joined\n", o.gt,
                gt.n_items, gt.n_pairs, joined, res.n);
    }
    vs2_metrics_params mp = vs2_metrics_default_params();
    mp.bench = o.bench;
    mp.method = o.method;
    mp.pairs = o.gt ? &gt : NULL;
    mp.round_digits = o.raw ? -1 : 3;
    vs2_metrics m;
    int rc = 0;
    if (vs2_metrics_compute(&res, &mp, &m, &err) != VS2_OK) {
        fprintf(stderr, "vs2 metrics: %s\n", err.message);
        rc = 1;
    } else if (o.out == OUT_JSON) print_json(stdout, &m, o.bench, o.method, o.results);
    else if (o.out == OUT_CSV) print_csv(stdout, &m);
    else {
        printf(o.out == OUT_MD ? "**%s** — bench `%s`, method `%s`: %zu items, %zu dropped (a None score)"
                                 ", %zu error lines\n\n"
                               : "%s\nbench %s, method %s: %zu items, %zu dropped (a None score), %zu error lines\n\n",
               o.results, o.bench, o.method, m.n_items, m.n_dropped, res.n_errors);
        print_table(stdout, &m, o.out == OUT_MD, o.raw);
    }
    vs2_manifest_free(&gt);
    vs2_results_free(&res);
    return rc;
}
