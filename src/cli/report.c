/* report.c — `vs2 report RESULTS... --html OUT.html`: one self-contained page comparing
 * result files (see docs/report.md). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: vs2 report RESULTS... --html OUT.html [--name LABEL]... [--gt FILE]\n"
            "                  [--bench NAME] [--method NAME] [--title TEXT] [--frames [N]]\n\n"
            "One self-contained HTML page (no network resources): per-dimension histograms,\n"
            "confusion matrices and metrics where human scores exist, and a sortable per-video\n"
            "table with prompt, scores, soft scores, rationale and frame thumbnails.\n\n"
            "  --html OUT     the page to write (required)\n"
            "  --name LABEL   label of the next RESULTS file (default: the file name); it must come\n"
            "                 before the file it labels\n"
            "  --gt FILE      human scores to join on the video id (a manifest)\n"
            "  --title TEXT   the page title (default: vs2 report)\n"
            "  --bench/--method  as for `vs2 metrics` (default vs2_bench, vs2_float)\n"
            "  --frames [N]   decode each local video for an N-frame thumbnail strip (default 4)\n");
}

int cmd_report(int argc, char **argv) {
    const char *html = NULL, *gt_path = NULL;
    const char **files = calloc((size_t)argc, sizeof *files), **names = calloc((size_t)argc, sizeof *names);
    vs2_results **rs = calloc((size_t)argc, sizeof *rs);
    vs2_report_params p = vs2_report_default_params();
    size_t n = 0;
    int rc = 0;
    if (!files || !names || !rs) {
        fprintf(stderr, "vs2 report: out of memory\n");
        rc = 1;
        goto done;
    }
    const char *pending_name = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            goto done;
        } else if (!strcmp(a, "--html") && more) html = argv[++i];
        else if (!strcmp(a, "--name") && more) pending_name = argv[++i];
        else if (!strcmp(a, "--gt") && more) gt_path = argv[++i];
        else if (!strcmp(a, "--bench") && more) p.bench = argv[++i];
        else if (!strcmp(a, "--method") && more) p.method = argv[++i];
        else if (!strcmp(a, "--title") && more) p.title = argv[++i];
        else if (!strcmp(a, "--frames")) {
            p.make_thumbnails = 1;
            if (more && argv[i + 1][0] >= '1' && argv[i + 1][0] <= '9') p.thumb_count = atoi(argv[++i]);
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "vs2 report: unknown or incomplete option '%s'\n", a);
            rc = 2;
            goto done;
        } else {
            const char *slash = strrchr(a, '/');
            names[n] = pending_name ? pending_name : slash ? slash + 1 : a;
            files[n++] = a;
            pending_name = NULL;
        }
    }
    if (pending_name) { /* a label after the last file would silently label nothing */
        fprintf(stderr, "vs2 report: --name '%s' labels nothing: put it before the RESULTS file it names\n",
                pending_name);
        rc = 2;
        goto done;
    }
    if (!html || !n) {
        fprintf(stderr, "vs2 report: %s\n", !n && !html ? "no RESULTS file and no --html OUT.html given"
                                           : !n          ? "no RESULTS file given"
                                                         : "no --html OUT.html given (where to write the page)");
        usage(stderr);
        rc = 2;
        goto done;
    }
    vs2_error err;
    vs2_manifest gt = {0};
    if (gt_path && vs2_manifest_load(gt_path, VS2_MANIFEST_AUTO, 0, &gt, &err) != VS2_OK) {
        fprintf(stderr, "vs2 report: %s\n", err.message);
        rc = 1;
        goto done;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        rs[i] = calloc(1, sizeof **rs);
        if (!rs[i] || vs2_results_load(files[i], rs[i], &err) != VS2_OK) {
            fprintf(stderr, "vs2 report: %s\n", rs[i] ? err.message : "out of memory");
            rc = 1;
        } else if (gt_path) vs2_results_join(rs[i], &gt);
    }
    vs2_manifest_free(&gt);
    if (!rc && vs2_report_write(rs, names, n, &p, html, &err) != VS2_OK) {
        fprintf(stderr, "vs2 report: %s\n", err.message);
        rc = 1;
    }
    if (!rc) fprintf(stderr, "vs2 report: wrote %s (%zu result file%s)\n", html, n, n == 1 ? "" : "s");
done:
    for (size_t i = 0; rs && i < n; i++) {
        if (rs[i]) vs2_results_free(rs[i]);
        free(rs[i]);
    }
    free(rs), free(files), free(names);
    return rc;
}
