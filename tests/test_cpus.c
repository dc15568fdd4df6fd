/* test_cpus.c — the default thread count's limits (src/cpus.c) on fake /proc and /sys trees:
 * cgroup v2 cpu.max and v1 cfs quota (the tightest one up the hierarchy, rounded up), "no limit"
 * spellings, SLURM_CPUS_PER_TASK parsing, and the minimum over all of them. The real process's
 * affinity mask is checked end to end by t_cpus.sh (taskset). */
#include "check.h"
#include "cpus.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[512];

static void put(const char *rel, const char *text) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p; p++) /* mkdir -p of the parents */
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST) perror(path);
            *p = '/';
        }
    FILE *f = fopen(path, "w");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void fresh_root(const char *name) {
    const char *tmp = getenv("VS2_TEST_TMP");
    snprintf(root, sizeof root, "%s/test_cpus/%s", tmp ? tmp : "/tmp", name);
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", root, root);
    CHECK(system(cmd) == 0);
}

static int expect_min(int online, int a, int b) {
    int n = online;
    if (a && a < n) n = a;
    if (b && b < n) n = b;
    return n;
}

static void test_v2(void) {
    fresh_root("v2");
    put("proc/self/cgroup", "0::/kubepods/pod1/ctr\n");
    put("sys/fs/cgroup/kubepods/pod1/ctr/cpu.max", "max 100000\n");
    put("sys/fs/cgroup/kubepods/pod1/cpu.max", "250000 100000\n"); /* 2.5 CPUs -> 3 threads */
    put("sys/fs/cgroup/kubepods/cpu.max", "800000 100000\n");
    vs2_cpu_limits l;
    vs2__cpu_limits(root, NULL, &l);
    CHECK_EQ_INT(l.cgroup, 3);
    CHECK_EQ_INT(l.slurm, 0);
    CHECK_EQ_INT(l.affinity, 0);
    CHECK_EQ_INT(l.threads, expect_min(l.online, 3, 0));
    /* a tighter limit at the top wins; exactly 1 CPU is 1 */
    put("sys/fs/cgroup/kubepods/cpu.max", "100000 100000\n");
    vs2__cpu_limits(root, NULL, &l);
    CHECK_EQ_INT(l.cgroup, 1);
    CHECK_EQ_INT(l.threads, 1);
    /* a container's own cgroup mounted at the root while /proc names the host's path */
    fresh_root("v2ns");
    put("proc/self/cgroup", "0::/system.slice/docker-abc.scope\n");
    put("sys/fs/cgroup/cpu.max", "50000 100000\n"); /* half a CPU -> 1 thread */
    vs2__cpu_limits(root, NULL, &l);
    CHECK_EQ_INT(l.cgroup, 1);
    /* no limit anywhere */
    put("sys/fs/cgroup/cpu.max", "max 100000\n");
    vs2__cpu_limits(root, NULL, &l);
    CHECK_EQ_INT(l.cgroup, 0);
    CHECK_EQ_INT(l.threads, l.online);
}

static void test_v1(void) {
    fresh_root("v1");
    put("proc/self/cgroup", "4:memory:/x\n3:cpu,cpuacct:/docker/abc\n0::/\n");
    put("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "150000\n");
    put("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
    vs2_cpu_limits l;
    vs2__cpu_limits(root, NULL, &l);
    CHECK_EQ_INT(l.cgroup, 2);
    put("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");
    vs2__cpu_limits(root, NULL, &l);
    CHECK_EQ_INT(l.cgroup, 0);
    /* separate cpu and cpuacct mounts (this machine's layout) */
    fresh_root("v1split");
    put("proc/self/cgroup", "2:cpuacct:/\n1:cpu:/\n");
    put("sys/fs/cgroup/cpu/cpu.cfs_quota_us", "400000\n");
    put("sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n");
    vs2__cpu_limits(root, NULL, &l);
    CHECK_EQ_INT(l.cgroup, 4);
    /* garbage files are no limit, not a crash */
    put("sys/fs/cgroup/cpu/cpu.cfs_quota_us", "lots\n");
    vs2__cpu_limits(root, NULL, &l);
    CHECK_EQ_INT(l.cgroup, 0);
}

static void test_slurm(void) {
    fresh_root("none"); /* no proc/self/cgroup at all */
    vs2_cpu_limits l;
    vs2__cpu_limits(root, "1", &l);
    CHECK_EQ_INT(l.slurm, 1);
    CHECK_EQ_INT(l.cgroup, 0);
    CHECK_EQ_INT(l.threads, 1);
    vs2__cpu_limits(root, "100000", &l);
    CHECK_EQ_INT(l.slurm, 100000);
    CHECK_EQ_INT(l.threads, l.online); /* more than the machine has: the machine's cores */
    const char *bad[] = {"", "0", "-2", "2x", "abc", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        vs2__cpu_limits(root, bad[i], &l);
        CHECK_MSG(l.slurm == 0, "SLURM_CPUS_PER_TASK='%s' read as %d", bad[i], l.slurm);
    }
}

static void test_this_process(void) {
    vs2_cpu_limits l;
    vs2__cpu_limits(NULL, NULL, &l);
    CHECK(l.online >= 1);
    CHECK(l.affinity >= 1 && l.affinity <= l.online);
    CHECK(l.threads >= 1 && l.threads <= l.affinity);
    CHECK(vs2__default_threads() >= 1);
}

int main(void) {
    RUN(test_v2);
    RUN(test_v1);
    RUN(test_slurm);
    RUN(test_this_process);
    return CHECK_DONE();
}
