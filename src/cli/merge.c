/* merge.c — `vs2 merge`: join the JSONL outputs of `vs2 batch --shard` runs into one file,
 * refusing duplicate ids and reporting gaps against the manifest (docs/batch.md). */
#include "scoring_opts.h"
#include "eval/eval_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const CMD = "vs2 merge";

static void usage(FILE *f) {
    fprintf(f,
            "usage: vs2 merge [--out FILE] [--manifest IN [--format F] [--groups]] SHARD.jsonl...\n\n"
            "Join the outputs of `vs2 batch --shard K/N` runs. Every id must occur once over all\n"
            "inputs: duplicates are refused (nothing is written). With --manifest, ids the manifest\n"
            "has but no input has are reported as gaps, and the output follows the manifest's order\n"
            "(else input order). A torn last line of an input (an unfinished run) is ignored.\n"
            "FILE is written atomically (temporary file, fsync, rename); default stdout.\n\n"
            "  --out FILE  -o FILE    the merged JSONL\n"
            "  --manifest IN          check coverage against this manifest (as vs2 batch reads it)\n"
            "  --format F  --reference-quirks  --groups   how to read the manifest (as vs2 batch)\n\n"
            "Exit status: 0 merged, no gaps; 1 error or duplicate ids (nothing written); 2 bad usage;\n"
            "3 merged, but ids of the manifest are missing (gaps).\n");
}

typedef struct mline {
    char *id, *text;
    size_t len;
    int file, lineno, is_error;
} mline;

typedef struct mctx {
    mline *v;
    size_t n, cap;
    int file;
} mctx;

static int add_line(void *user, const char *id, const char *line, size_t len, int lineno, int is_error) {
    mctx *c = user;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        mline *p = realloc(c->v, cap * sizeof *p);
        if (!p) return 0;
        c->v = p, c->cap = cap;
    }
    mline *l = &c->v[c->n];
    l->id = strdup(id);
    l->text = malloc(len + 1);
    if (!l->id || !l->text) {
        free(l->id), free(l->text);
        return 0;
    }
    memcpy(l->text, line, len);
    l->text[len] = '\n';
    l->len = len + 1;
    l->file = c->file, l->lineno = lineno, l->is_error = is_error;
    c->n++;
    return 1;
}

static int write_out(const char *out, const mline *v, const size_t *order, size_t n) {
    if (!out) {
        for (size_t k = 0; k < n; k++) fwrite(v[order[k]].text, 1, v[order[k]].len, stdout);
        if (fflush(stdout) != 0) {
            fprintf(stderr, "%s: cannot write stdout: %s\n", CMD, strerror(errno));
            return 0;
        }
        return 1;
    }
    size_t pl = strlen(out);
    char *tmp = malloc(pl + 32);
    if (!tmp) return 0;
    snprintf(tmp, pl + 32, "%s.tmp.%ld", out, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    int ok = f != NULL;
    for (size_t k = 0; ok && k < n; k++) ok = fwrite(v[order[k]].text, 1, v[order[k]].len, f) == v[order[k]].len;
    if (f) {
        ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
        ok = (fclose(f) == 0) && ok;
    }
    if (ok && rename(tmp, out) != 0) ok = 0;
    if (!ok) {
        fprintf(stderr, "%s: cannot write %s: %s\n", CMD, out, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return ok;
}

int cmd_merge(int argc, char **argv) {
    const char *out = NULL, *manifest = NULL, *format = NULL;
    int quirks = 0, groups = 0;
    char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    int ni = 0;
    if (!inputs) return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            free(inputs);
            return 0;
        } else if (!strcmp(a, "--reference-quirks")) quirks = 1;
        else if (!strcmp(a, "--groups")) groups = 1;
        else if (!strcmp(a, "--out") || !strcmp(a, "-o") || !strcmp(a, "--manifest") || !strcmp(a, "--format")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: %s needs a value\n", CMD, a);
                free(inputs);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--manifest")) manifest = v;
            else if (!strcmp(a, "--format")) format = v;
            else out = v;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "%s: unknown option '%s' (see vs2 merge --help)\n", CMD, a);
            free(inputs);
            return 2;
        } else {
            inputs[ni++] = argv[i];
        }
    }
    if (ni == 0) {
        fprintf(stderr, "%s: give the shard outputs to merge (see vs2 merge --help)\n", CMD);
        free(inputs);
        return 2;
    }
    if (format && vs2_manifest_format_from_name(format) < 0) {
        fprintf(stderr, "%s: --format: unknown format '%s'\n", CMD, format);
        free(inputs);
        return 2;
    }
    struct stat so;
    if (out && stat(out, &so) == 0) {
        for (int k = 0; k < ni; k++) {
            struct stat si;
            if (stat(inputs[k], &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino) {
                fprintf(stderr, "%s: the output %s is also an input; write the merge to a new file\n", CMD, out);
                free(inputs);
                return 2;
            }
        }
    }

    int rc = 1;
    vs2_error err;
    mctx c = {0};
    ev_strset ids = {0}, mids = {0};
    vs2_manifest m;
    ev_groups G;
    memset(&m, 0, sizeof m);
    memset(&G, 0, sizeof G);
    size_t *order = NULL;
    for (int k = 0; k < ni; k++) {
        int torn = 0;
        c.file = k;
        if (ev_jsonl_scan(inputs[k], &torn, add_line, &c, &err) != VS2_OK) {
            fprintf(stderr, "%s: %s\n", CMD, err.message);
            goto done;
        }
        if (torn) fprintf(stderr, "%s: warning: %s: its last line is torn (an unfinished run); ignored\n", CMD, inputs[k]);
    }
    /* Duplicates: every one is named with its files and lines. */
    size_t n_dup = 0;
    for (size_t i = 0; i < c.n; i++) {
        size_t old;
        int r = ev_strset_put(&ids, c.v[i].id, i, &old);
        if (r < 0) goto oom;
        if (r == 0) {
            if (n_dup < 50)
                fprintf(stderr, "%s: duplicate id '%s': %s:%d and %s:%d\n", CMD, c.v[i].id, inputs[c.v[old].file],
                        c.v[old].lineno, inputs[c.v[i].file], c.v[i].lineno);
            n_dup++;
        }
    }
    if (n_dup) {
        fprintf(stderr, "%s: %zu duplicate ids; nothing written (each id must come from one shard)\n", CMD, n_dup);
        goto done;
    }
    order = malloc((c.n ? c.n : 1) * sizeof *order);
    if (!order) goto oom;
    size_t no = 0, n_gaps = 0, n_extra = 0, n_src = 0;
    if (manifest) {
        if (groups) {
            if (ev_groups_load(manifest, &G, &err) != VS2_OK) {
                fprintf(stderr, "%s: %s\n", CMD, err.message);
                goto done;
            }
            n_src = G.n;
        } else {
            int f = format ? vs2_manifest_format_from_name(format) : VS2_MANIFEST_AUTO;
            if (vs2_manifest_load(manifest, (vs2_manifest_format)f, quirks ? VS2_MANIFEST_REFERENCE_QUIRKS : 0, &m,
                                  &err) != VS2_OK) {
                fprintf(stderr, "%s: %s\n", CMD, err.message);
                goto done;
            }
            n_src = m.n_items;
        }
        for (size_t i = 0; i < n_src; i++) {
            const char *id = groups ? G.g[i].id : m.items[i].id;
            if (ev_strset_put(&mids, id, i, NULL) < 0) goto oom;
            size_t at;
            if (ev_strset_get(&ids, id, &at)) order[no++] = at;
            else {
                if (n_gaps < 50) fprintf(stderr, "%s: gap: id '%s' (%s:%d) has no line\n", CMD, id, manifest,
                                         groups ? G.g[i].line : m.items[i].line);
                n_gaps++;
            }
        }
        for (size_t i = 0; i < c.n; i++) {
            if (ev_strset_get(&mids, c.v[i].id, NULL)) continue;
            if (n_extra < 20)
                fprintf(stderr, "%s: warning: id '%s' (%s:%d) is not in the manifest; kept\n", CMD, c.v[i].id,
                        inputs[c.v[i].file], c.v[i].lineno);
            n_extra++;
            order[no++] = i;
        }
    } else {
        for (size_t i = 0; i < c.n; i++) order[no++] = i;
    }
    if (!write_out(out, c.v, order, no)) goto done;
    size_t n_err = 0;
    for (size_t i = 0; i < c.n; i++) n_err += c.v[i].is_error != 0;
    fprintf(stderr, "%s: %zu lines from %d files%s%s (%zu error lines)", CMD, no, ni, out ? " into " : "",
            out ? out : "", n_err);
    if (manifest) fprintf(stderr, "; manifest %zu ids: %zu gaps, %zu not in it", n_src, n_gaps, n_extra);
    fputc('\n', stderr);
    rc = n_gaps ? 3 : 0;
    goto done;
oom:
    fprintf(stderr, "%s: out of memory\n", CMD);
    rc = 1;
done:
    for (size_t i = 0; i < c.n; i++) free(c.v[i].id), free(c.v[i].text);
    free(c.v);
    free(order);
    ev_strset_free(&ids);
    ev_strset_free(&mids);
    vs2_manifest_free(&m);
    ev_groups_free(&G);
    free(inputs);
    return rc;
}
