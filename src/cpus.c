/* cpus.c — the default thread count from what this process is really allowed to run on.
 *
 * sysconf(_SC_NPROCESSORS_ONLN) counts the machine's cores. A Slurm task, a `taskset`, or a
 * container limited with --cpus / a Kubernetes CPU limit gets fewer: starting one thread per
 * machine core there makes the threads queue for the few cores they have and every barrier of
 * the thread pool waits for the slowest. So the default is the smallest of: the online cores, the
 * CPUs in the affinity mask, SLURM_CPUS_PER_TASK, and the cgroup CPU quota (cgroup v2 cpu.max or
 * v1 cpu.cfs_quota_us / cpu.cfs_period_us, the tightest one on the way up the hierarchy). */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT_S */
#include "cpus.h"

#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* CPUs in the affinity mask; 0 when it cannot be read. Masks of machines with more than 1024
 * CPUs do not fit a plain cpu_set_t, hence the dynamic set. */
static int affinity_cpus(void) {
    for (int ncpu = 1024; ncpu <= 65536; ncpu *= 4) {
        cpu_set_t *set = CPU_ALLOC((size_t)ncpu);
        if (!set) return 0;
        size_t size = CPU_ALLOC_SIZE((size_t)ncpu);
        CPU_ZERO_S(size, set);
        int n = sched_getaffinity(0, size, set) == 0 ? CPU_COUNT_S(size, set) : -1;
        CPU_FREE(set);
        if (n >= 0) return n;
    }
    return 0;
}

/* A positive integer (SLURM_CPUS_PER_TASK); 0 for anything else. */
static int positive_int(const char *s) {
    if (!s || !*s) return 0;
    char *end;
    long v = strtol(s, &end, 10);
    return *end == '\0' && v > 0 && v <= INT_MAX ? (int)v : 0;
}

static int read_text(const char *path, char *buf, size_t n) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t k = fread(buf, 1, n - 1, f);
    fclose(f);
    buf[k] = '\0';
    return 1;
}

/* CPUs of a quota per period, rounded up (1.5 CPUs of time can keep 2 threads busy part-time). */
static int quota_cpus(long long quota, long long period) {
    if (quota <= 0 || period <= 0) return 0;
    long long n = (quota + period - 1) / period;
    return n > INT_MAX ? INT_MAX : (int)n;
}

/* cgroup v2 cpu.max: "max 100000" (no limit) or "QUOTA PERIOD". */
static int v2_limit(const char *dir) {
    char path[PATH_MAX + 16], buf[128];
    snprintf(path, sizeof path, "%s/cpu.max", dir);
    if (!read_text(path, buf, sizeof buf)) return 0;
    long long quota, period;
    if (sscanf(buf, "%lld %lld", &quota, &period) != 2) return 0;
    return quota_cpus(quota, period);
}

/* cgroup v1: cpu.cfs_quota_us (-1 = no limit) over cpu.cfs_period_us. */
static int v1_limit(const char *dir) {
    char path[PATH_MAX + 32], buf[64];
    long long quota, period;
    snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
    if (!read_text(path, buf, sizeof buf) || sscanf(buf, "%lld", &quota) != 1) return 0;
    snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
    if (!read_text(path, buf, sizeof buf) || sscanf(buf, "%lld", &period) != 1) return 0;
    return quota_cpus(quota, period);
}

static int tighter(int a, int b) { return !a ? b : !b ? a : a < b ? a : b; }

/* The tightest limit from the cgroup directory mount+path up to the mount point. Walking up
 * also covers a container whose /proc/self/cgroup names the host's path while its own cgroup is
 * mounted at the mount point. */
static int walk_up(const char *mount, const char *cg_path, int (*limit)(const char *)) {
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s%s", mount, cg_path) >= (int)sizeof dir) return 0;
    size_t root = strlen(mount);
    int best = 0;
    for (;;) {
        best = tighter(best, limit(dir));
        char *slash = strrchr(dir + root, '/');
        if (!slash) break;
        *slash = '\0';
    }
    return best;
}

static int has_controller(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && !strncmp(p, name, n)) return 1;
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

/* One line of /proc/self/cgroup, "ID:CONTROLLERS:PATH": its limit, 0 if none. */
static int cgroup_line_limit(const char *fs_root, char *line) {
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) return 0;
    *c2 = '\0';
    const char *controllers = c1 + 1, *path = c2 + 1;
    if (!strcmp(path, "/")) path = "";
    char mount[PATH_MAX];
    if (!*controllers) { /* the unified (v2) hierarchy */
        snprintf(mount, sizeof mount, "%s/sys/fs/cgroup", fs_root);
        return walk_up(mount, path, v2_limit);
    }
    if (!has_controller(controllers, "cpu")) return 0;
    static const char *const v1_mounts[] = {"cpu,cpuacct", "cpu", "cpuacct,cpu"};
    int best = 0;
    for (size_t i = 0; i < sizeof v1_mounts / sizeof *v1_mounts; i++) {
        snprintf(mount, sizeof mount, "%s/sys/fs/cgroup/%s", fs_root, v1_mounts[i]);
        best = tighter(best, walk_up(mount, path, v1_limit));
    }
    return best;
}

static int cgroup_cpus(const char *fs_root) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/proc/self/cgroup", fs_root);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[PATH_MAX + 256];
    int best = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        best = tighter(best, cgroup_line_limit(fs_root, line));
    }
    fclose(f);
    return best;
}

void vs2__cpu_limits(const char *fs_root, const char *slurm_env, vs2_cpu_limits *out) {
    if (!fs_root) fs_root = "";
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    out->online = online > 0 && online <= INT_MAX ? (int)online : 1;
    out->affinity = *fs_root ? 0 : affinity_cpus(); /* a fake root (tests) has no mask of its own */
    out->slurm = positive_int(slurm_env);
    out->cgroup = cgroup_cpus(fs_root);
    int n = tighter(tighter(out->online, out->affinity), tighter(out->slurm, out->cgroup));
    out->threads = n > 0 ? n : 1;
}

int vs2__default_threads(void) {
    vs2_cpu_limits l;
    vs2__cpu_limits(NULL, getenv("SLURM_CPUS_PER_TASK"), &l);
    return l.threads;
}
