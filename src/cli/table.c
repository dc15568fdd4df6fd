/* table.c — the per-video CSV table of a result file (`vs2 batch --csv`): one row per video with
 * the three scores, the robust parse, both soft scores, the human scores and the error. The
 * library reads it back (vs2_results_load), so `vs2 metrics` and `vs2 report` take it as well. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const dim_cols[VS2_NDIMS] = {"visual_quality", "text_alignment", "physical_consistency"};

static void csv_text(FILE *f, const char *s) {
    if (!s) return;
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Numbers as people read them: integers without decimals, others with the shortest digits
 * that read back exactly (up to 17). */
static void csv_num(FILE *f, double v) {
    if (isnan(v)) return;
    if (v == floor(v) && fabs(v) < 1e15) {
        fprintf(f, "%.0f", v);
        return;
    }
    char buf[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, v);
        if (strtod(buf, NULL) == v) break;
    }
    fputs(buf, f);
}

static void write_rows(FILE *f, const vs2_results *r) {
    static const char *const groups[] = {"", "robust_", "soft_", "soft_expected_", "human_"};
    fputs("id,video,prompt", f);
    for (size_t g = 0; g < sizeof groups / sizeof *groups; g++)
        for (int d = 0; d < VS2_NDIMS; d++) fprintf(f, ",%s%s", groups[g], dim_cols[d]);
    fputs(",error\n", f);
    for (size_t i = 0; i < r->n; i++) {
        const vs2_result_item *it = &r->items[i];
        const double *vals[] = {it->hard, it->robust, it->soft, it->soft_expected, it->human};
        csv_text(f, it->id);
        fputc(',', f);
        csv_text(f, it->video);
        fputc(',', f);
        csv_text(f, it->prompt);
        for (size_t g = 0; g < sizeof vals / sizeof *vals; g++)
            for (int d = 0; d < VS2_NDIMS; d++) {
                fputc(',', f);
                csv_num(f, vals[g][d]);
            }
        fputc(',', f);
        csv_text(f, it->error);
        fputc('\n', f);
    }
}

int cli_write_csv_table(const char *cmd, const char *results, const char *csv) {
    vs2_results r;
    vs2_error err;
    if (vs2_results_load(results, &r, &err) != VS2_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return 0;
    }
    size_t len = strlen(csv) + 8;
    char *tmp = malloc(len);
    FILE *f = NULL;
    if (tmp) {
        snprintf(tmp, len, "%s.tmp", csv);
        f = fopen(tmp, "wb");
    }
    int ok = f != NULL;
    if (ok) {
        write_rows(f, &r);
        ok = !ferror(f);
        ok &= fclose(f) == 0;
        ok = ok && rename(tmp, csv) == 0; /* a reader never sees half a table */
    }
    if (!ok) {
        fprintf(stderr, "%s: %s: cannot write the table: %s\n", cmd, csv, strerror(errno));
        if (tmp) remove(tmp);
    } else
        fprintf(stderr, "%s: wrote %s (%zu rows)\n", cmd, csv, r.n);
    free(tmp);
    vs2_results_free(&r);
    return ok;
}
