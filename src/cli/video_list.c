/* video_list.c — "a folder in, a table out": the videos of a directory or a glob pattern, each
 * with its prompt from one --prompt, a CSV of prompts, or a sidecar text file (docs/batch.md). */
#include "video_list.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const char *const video_exts[] = {".mp4", ".mkv", ".webm", ".mov", ".avi", ".gif", ".m4v", ".mpg",
                                         ".mpeg", ".flv", ".wmv", ".ts", ".ogv", NULL};

static int has_video_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    for (int i = 0; video_exts[i]; i++)
        if (!strcasecmp(dot, video_exts[i])) return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_pattern(const char *s) { return strpbrk(s, "*?[") != NULL; }

static int push(char ***v, size_t *n, size_t *cap, const char *s) {
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        char **p = realloc(*v, c * sizeof *p);
        if (!p) return 0;
        *v = p, *cap = c;
    }
    char *d = strdup(s);
    if (!d) return 0;
    (*v)[(*n)++] = d;
    return 1;
}

void cli_paths_free(char **v, size_t n) {
    for (size_t i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

/* The video files of one directory (not recursive), sorted by name. */
static int list_dir(const char *cmd, const char *dir, char ***v, size_t *n, size_t *cap) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: %s: %s\n", cmd, dir, strerror(errno));
        return 0;
    }
    size_t first = *n;
    struct dirent *e;
    int ok = 1;
    while (ok && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !has_video_ext(e->d_name)) continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(len);
        if (!p) ok = 0;
        else {
            snprintf(p, len, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", e->d_name);
            struct stat st;
            if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) ok = push(v, n, cap, p);
            free(p);
        }
    }
    closedir(d);
    if (ok) qsort(*v + first, *n - first, sizeof **v, cmp_str);
    return ok;
}

int cli_expand_videos(const char *cmd, char *const *args, size_t n_args, char ***out, size_t *n_out) {
    char **v = NULL;
    size_t n = 0, cap = 0;
    int ok = 1;
    for (size_t a = 0; ok && a < n_args; a++) {
        const char *s = args[a];
        struct stat st;
        size_t before = n;
        if (stat(s, &st) == 0 && S_ISDIR(st.st_mode)) {
            ok = list_dir(cmd, s, &v, &n, &cap);
            if (ok && n == before) {
                fprintf(stderr, "%s: %s: no video files (%s, ...) in the directory\n", cmd, s, video_exts[0]);
                ok = 0;
            }
        } else if (is_pattern(s) && stat(s, &st) != 0) {
            glob_t g;
            int r = glob(s, 0, NULL, &g);
            if (r == GLOB_NOMATCH) {
                fprintf(stderr, "%s: %s: no file matches the pattern\n", cmd, s);
                ok = 0;
            } else if (r != 0) {
                fprintf(stderr, "%s: %s: the pattern cannot be expanded\n", cmd, s);
                ok = 0;
            }
            for (size_t i = 0; ok && r == 0 && i < g.gl_pathc; i++) ok = push(&v, &n, &cap, g.gl_pathv[i]);
            if (r == 0) globfree(&g);
        } else {
            ok = push(&v, &n, &cap, s); /* a file (checked later, before the model loads) */
        }
    }
    if (!ok) {
        cli_paths_free(v, n);
        return 0;
    }
    *out = v, *n_out = n;
    return 1;
}

/* "dir/clip.v2.mp4" -> "clip.v2" (malloc'd). */
static char *stem_of(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    char *s = malloc(len + 1);
    if (s) memcpy(s, base, len), s[len] = '\0';
    return s;
}

static const char *base_of(const char *path) {
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* The text of a sidecar file (STEM.txt or FILE.txt beside the video), one trailing newline
 * dropped; NULL if there is none. */
static char *sidecar(const char *video) {
    size_t len = strlen(video);
    char *p = malloc(len + 5);
    if (!p) return NULL;
    const char *dot = strrchr(video, '.'), *slash = strrchr(video, '/');
    FILE *f = NULL;
    if (dot && (!slash || dot > slash)) {
        memcpy(p, video, (size_t)(dot - video));
        strcpy(p + (dot - video), ".txt");
        f = fopen(p, "rb");
    }
    if (!f) {
        snprintf(p, len + 5, "%s.txt", video);
        f = fopen(p, "rb");
    }
    free(p);
    if (!f) return NULL;
    size_t n = 0;
    char *s = cli_read_all(f, &n);
    fclose(f);
    if (s && n && s[n - 1] == '\n') s[--n] = '\0';
    if (s && n && s[n - 1] == '\r') s[--n] = '\0';
    return s;
}

/* The prompt of a video in a prompts manifest: matched on the id (= the video's stem), the file
 * name of its video column, or that file name's stem. */
static const char *csv_prompt(const vs2_manifest *pm, const char *video) {
    char *stem = stem_of(video);
    const char *found = NULL;
    for (size_t i = 0; stem && !found && i < pm->n_items; i++) {
        const vs2_manifest_item *it = &pm->items[i];
        if (!it->prompt) continue;
        if ((it->id && (!strcmp(it->id, stem) || !strcmp(it->id, base_of(video)))) ||
            (it->video && !strcmp(base_of(it->video), base_of(video))))
            found = it->prompt;
        else if (it->video) {
            char *s2 = stem_of(it->video);
            if (s2 && !strcmp(s2, stem)) found = it->prompt;
            free(s2);
        }
    }
    free(stem);
    return found;
}

int cli_video_manifest(const char *cmd, char *const *args, size_t n_args, const char *prompt,
                       const char *prompts_file, vs2_manifest *out) {
    memset(out, 0, sizeof *out);
    char **paths = NULL;
    size_t n = 0;
    if (!cli_expand_videos(cmd, args, n_args, &paths, &n)) return 0;
    vs2_manifest pm = {0};
    vs2_error err;
    if (prompts_file && vs2_manifest_load(prompts_file, VS2_MANIFEST_AUTO, 0, &pm, &err) != VS2_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        cli_paths_free(paths, n);
        return 0;
    }
    out->format = VS2_MANIFEST_JSONL;
    out->items = calloc(n ? n : 1, sizeof *out->items);
    int ok = out->items != NULL;
    size_t missing = 0;
    for (size_t i = 0; ok && i < n; i++) {
        vs2_manifest_item *it = &out->items[out->n_items++];
        for (int d = 0; d < VS2_NDIMS; d++) it->human[d] = NAN;
        it->human_overall = NAN;
        it->line = (int)i + 1;
        it->id = stem_of(paths[i]);
        it->video = strdup(paths[i]);
        if (prompt) it->prompt = strdup(prompt);
        else if (prompts_file) {
            const char *p = csv_prompt(&pm, paths[i]);
            it->prompt = p ? strdup(p) : NULL;
        } else it->prompt = sidecar(paths[i]);
        ok = it->id && it->video;
        if (ok && !it->prompt) {
            if (missing++ < 5)
                fprintf(stderr, "%s: %s: no prompt (%s)\n", cmd, paths[i],
                        prompts_file ? "no row of the prompts file names it" : "no sidecar STEM.txt beside it");
        }
    }
    if (!out->items) fprintf(stderr, "%s: out of memory\n", cmd);
    if (ok && missing) {
        fprintf(stderr, "%s: %zu of %zu videos have no prompt: give --prompt TEXT for all, --prompts FILE.csv "
                        "(columns video or id, and prompt), or a text file STEM.txt beside each video\n",
                cmd, missing, n);
        ok = 0;
    }
    vs2_manifest_free(&pm);
    cli_paths_free(paths, n);
    if (!ok) vs2_manifest_free(out);
    return ok;
}
