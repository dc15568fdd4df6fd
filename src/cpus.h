/* cpus.h — how many threads this process may use: the online cores, cut to the CPU affinity mask,
 * the Slurm allocation (SLURM_CPUS_PER_TASK) and a cgroup CPU quota (a container's --cpus). */
#ifndef VS2_CPUS_H
#define VS2_CPUS_H

typedef struct vs2_cpu_limits {
    int online;   /* sysconf(_SC_NPROCESSORS_ONLN) */
    int affinity; /* CPUs in sched_getaffinity's mask; 0 = unknown */
    int slurm;    /* SLURM_CPUS_PER_TASK; 0 = not set */
    int cgroup;   /* ceil(quota / period) of the tightest cgroup CPU limit above us; 0 = none */
    int threads;  /* the smallest of the known ones, at least 1 */
} vs2_cpu_limits;

/* The limits of this process. fs_root is "" (or NULL) for the real /proc and /sys; tests pass a
 * directory holding a fake proc/self/cgroup and sys/fs/cgroup tree. slurm_env is the value of
 * SLURM_CPUS_PER_TASK (NULL = unset). */
void vs2__cpu_limits(const char *fs_root, const char *slurm_env, vs2_cpu_limits *out);

/* The default thread count: vs2__cpu_limits of this process, its threads. */
int vs2__default_threads(void);

#endif
