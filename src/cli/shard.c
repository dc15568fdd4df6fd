/* shard.c — the shard a `vs2 batch` run scores (docs/scale-out.md).
 *
 * --shard K/N is taken as given. --shard auto, or no --shard when a scheduler's variables are
 * present, reads them:
 *   Slurm job array:  with a shard count (--shards N or VS2_SHARDS): K = SLURM_ARRAY_TASK_ID;
 *                     without one: K = (ID - MIN) / STEP and N = (MAX - MIN) / STEP + 1 from
 *                     SLURM_ARRAY_TASK_MIN/MAX/STEP (or N = SLURM_ARRAY_TASK_COUNT, K = ID).
 *   Kubernetes indexed Job: K = JOB_COMPLETION_INDEX, N from --shards or VS2_SHARDS (Kubernetes
 *                     does not put the Job's completions into the pod's environment).
 * The shard count is best given explicitly: a task re-submitted on its own (sbatch --array=3)
 * sees an array of one task, which would otherwise look like "everything in one shard"; that
 * case is refused rather than guessed.
 * {shard} and {shards} in --out/--csv become K and N, so a re-run of the same index writes
 * (and resumes) the same file. */
#include "shard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHARDS 1000000LL

/* A whole number in 0..MAX; -1 when s is NULL; -2 when s is not one. */
static long long env_num(const char *s, long long max) {
    if (!s) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return end != s && !*end && !errno && v >= 0 && v <= max ? v : -2;
}

static int parse_kn(const char *s, long long *k, long long *n) {
    char *end;
    *k = strtoll(s, &end, 10);
    if (end == s || *end != '/') return 0;
    const char *p = end + 1;
    *n = strtoll(p, &end, 10);
    return end != p && !*end && *n >= 1 && *n <= MAX_SHARDS && *k >= 0 && *k < *n;
}

/* The shard count from --shards or VS2_SHARDS: >0, 0 when neither, -1 on a bad VS2_SHARDS. */
static long long shard_count(const char *cmd, const cli_shard *s, const char **why) {
    if (s->count) {
        *why = "--shards";
        return s->count;
    }
    const char *e = getenv("VS2_SHARDS");
    long long v = env_num(e, MAX_SHARDS);
    if (v == -1) return 0;
    if (v < 1) {
        fprintf(stderr, "%s: VS2_SHARDS: expected a shard count 1..%lld, got '%s'\n", cmd, MAX_SHARDS, e);
        return -1;
    }
    *why = "VS2_SHARDS";
    return v;
}

static int bad_env(const char *cmd, const char *name, const char *v) {
    fprintf(stderr, "%s: %s: expected a whole number >= 0, got '%s'\n", cmd, name, v);
    return 0;
}

/* K/N from a Slurm job array's variables (SLURM_ARRAY_TASK_ID is set). */
static int from_slurm(const char *cmd, cli_shard *s) {
    const char *id_s = getenv("SLURM_ARRAY_TASK_ID"), *min_s = getenv("SLURM_ARRAY_TASK_MIN"),
               *max_s = getenv("SLURM_ARRAY_TASK_MAX"), *step_s = getenv("SLURM_ARRAY_TASK_STEP"),
               *count_s = getenv("SLURM_ARRAY_TASK_COUNT");
    long long id = env_num(id_s, 1LL << 40), mn = env_num(min_s, 1LL << 40), mx = env_num(max_s, 1LL << 40),
              step = env_num(step_s, 1LL << 40), count = env_num(count_s, 1LL << 40);
    if (id < 0) return bad_env(cmd, "SLURM_ARRAY_TASK_ID", id_s);
    if (mn == -2) return bad_env(cmd, "SLURM_ARRAY_TASK_MIN", min_s);
    if (mx == -2) return bad_env(cmd, "SLURM_ARRAY_TASK_MAX", max_s);
    if (step == -2 || step == 0) return bad_env(cmd, "SLURM_ARRAY_TASK_STEP", step_s);
    if (count == -2) return bad_env(cmd, "SLURM_ARRAY_TASK_COUNT", count_s);
    const char *why = NULL;
    long long n = shard_count(cmd, s, &why);
    if (n < 0) return 0;
    if (n > 0) {
        if (id >= n) {
            fprintf(stderr, "%s: SLURM_ARRAY_TASK_ID=%lld is not a shard of %lld (%s): the array's indices must be 0..%lld\n",
                    cmd, id, n, why, n - 1);
            return 0;
        }
        s->k = id, s->n = n;
        fprintf(stderr, "%s: shard %lld/%lld: SLURM_ARRAY_TASK_ID=%lld, %lld shards from %s\n", cmd, s->k, s->n, id, n, why);
        return 1;
    }
    if (mn >= 0 && mx >= 0) {
        if (step < 0) step = 1;
        if (mx < mn || id < mn || id > mx || (id - mn) % step) {
            fprintf(stderr, "%s: SLURM_ARRAY_TASK_ID=%lld is not on the array's range %lld-%lld:%lld\n", cmd, id, mn, mx, step);
            return 0;
        }
        n = (mx - mn) / step + 1;
        if (count >= 0 && count != n) {
            fprintf(stderr, "%s: the Slurm array is not one range (%lld tasks, but %lld-%lld:%lld spans %lld): "
                    "give the shard count (--shards N or VS2_SHARDS) and indices 0..N-1\n", cmd, count, mn, mx, step, n);
            return 0;
        }
        if (n == 1 && id != 0) {
            fprintf(stderr, "%s: SLURM_ARRAY_TASK_ID=%lld is the only task of its array, as when one index is "
                    "submitted again: give the shard count (--shards N or VS2_SHARDS)\n", cmd, id);
            return 0;
        }
        if (n > MAX_SHARDS) {
            fprintf(stderr, "%s: the Slurm array has %lld tasks; at most %lld shards\n", cmd, n, MAX_SHARDS);
            return 0;
        }
        s->k = (id - mn) / step, s->n = n;
        fprintf(stderr, "%s: shard %lld/%lld: SLURM_ARRAY_TASK_ID=%lld of the array %lld-%lld", cmd, s->k, s->n, id, mn, mx);
        if (step > 1) fprintf(stderr, ":%lld", step);
        fputc('\n', stderr);
        return 1;
    }
    if (count >= 1) {
        if (id >= count || count > MAX_SHARDS) {
            fprintf(stderr, "%s: SLURM_ARRAY_TASK_ID=%lld is not a shard of SLURM_ARRAY_TASK_COUNT=%lld: "
                    "give the shard count (--shards N or VS2_SHARDS)\n", cmd, id, count);
            return 0;
        }
        s->k = id, s->n = count;
        fprintf(stderr, "%s: shard %lld/%lld: SLURM_ARRAY_TASK_ID=%lld of SLURM_ARRAY_TASK_COUNT=%lld\n", cmd, s->k,
                s->n, id, count);
        return 1;
    }
    fprintf(stderr, "%s: SLURM_ARRAY_TASK_ID=%lld is set but not the array's size (SLURM_ARRAY_TASK_MIN/MAX or "
            "_COUNT): give the shard count (--shards N or VS2_SHARDS)\n", cmd, id);
    return 0;
}

/* K/N from a Kubernetes indexed Job (JOB_COMPLETION_INDEX is set). */
static int from_k8s(const char *cmd, cli_shard *s) {
    const char *v = getenv("JOB_COMPLETION_INDEX");
    long long k = env_num(v, MAX_SHARDS);
    if (k < 0) return bad_env(cmd, "JOB_COMPLETION_INDEX", v);
    const char *why = NULL;
    long long n = shard_count(cmd, s, &why);
    if (n < 0) return 0;
    if (n == 0) {
        fprintf(stderr, "%s: JOB_COMPLETION_INDEX=%lld is set, but not the number of shards: give --shards N or "
                "VS2_SHARDS=N (the Job's completions), or --shard 0/1 to score everything\n", cmd, k);
        return 0;
    }
    if (k >= n) {
        fprintf(stderr, "%s: JOB_COMPLETION_INDEX=%lld is not a shard of %lld (%s)\n", cmd, k, n, why);
        return 0;
    }
    s->k = k, s->n = n;
    fprintf(stderr, "%s: shard %lld/%lld: JOB_COMPLETION_INDEX=%lld, %lld shards from %s\n", cmd, k, n, k, n, why);
    return 1;
}

/* tmpl with {shard} -> k and {shards} -> n; NULL when out of memory. */
static char *expand(const char *tmpl, long long k, long long n) {
    size_t cap = strlen(tmpl) + 1, len = 0;
    for (const char *p = tmpl; (p = strchr(p, '{')); p++) cap += 24;
    char *o = malloc(cap);
    if (!o) return NULL;
    for (const char *p = tmpl; *p;) {
        if (!strncmp(p, "{shard}", 7)) len += (size_t)snprintf(o + len, cap - len, "%lld", k), p += 7;
        else if (!strncmp(p, "{shards}", 8)) len += (size_t)snprintf(o + len, cap - len, "%lld", n), p += 8;
        else o[len++] = *p++;
    }
    o[len] = '\0';
    return o;
}

/* The expansions stay alive until exit: the options hold plain pointers. */
static int expand_path(const char *cmd, const char **path, const cli_shard *s, int slot) {
    static char *kept[2];
    if (!*path || !strstr(*path, "{shard")) return 1;
    free(kept[slot]);
    kept[slot] = expand(*path, s->k, s->n);
    if (!kept[slot]) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        return 0;
    }
    *path = kept[slot];
    return 1;
}

int cli_shard_select(const char *cmd, cli_shard *s, const char **out, const char **csv) {
    s->k = 0, s->n = 1, s->from_env = 0, s->count = 0;
    if (s->count_spec && (s->count = env_num(s->count_spec, MAX_SHARDS)) < 1) {
        fprintf(stderr, "%s: --shards: expected a shard count 1..%lld, got '%s'\n", cmd, MAX_SHARDS, s->count_spec);
        return 0;
    }
    int is_auto = s->spec && !strcmp(s->spec, "auto");
    if (s->spec && !is_auto) {
        if (!parse_kn(s->spec, &s->k, &s->n)) {
            fprintf(stderr, "%s: --shard: expected K/N with 0 <= K < N (e.g. 0/4) or auto, got '%s'\n", cmd, s->spec);
            return 0;
        }
        if (s->count && s->count != s->n) {
            fprintf(stderr, "%s: --shards %lld contradicts --shard %s\n", cmd, s->count, s->spec);
            return 0;
        }
    } else if (getenv("SLURM_ARRAY_TASK_ID")) {
        if (!from_slurm(cmd, s)) return 0;
        s->from_env = 1;
    } else if (getenv("JOB_COMPLETION_INDEX")) {
        if (!from_k8s(cmd, s)) return 0;
        s->from_env = 1;
    } else if (is_auto) {
        fprintf(stderr, "%s: --shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX "
                "(a Kubernetes indexed Job) is set\n", cmd);
        return 0;
    } else if (s->count) {
        fprintf(stderr, "%s: --shards N goes with --shard auto inside a Slurm array or Kubernetes indexed Job "
                "(else give --shard K/N)\n", cmd);
        return 0;
    }
    if (s->from_env && !s->spec)
        fprintf(stderr, "%s: (no --shard given: the scheduler's variables chose; --shard 0/1 scores everything)\n", cmd);
    return expand_path(cmd, out, s, 0) && expand_path(cmd, csv, s, 1);
}
