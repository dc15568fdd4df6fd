/* bench_peak.h — this machine's own limits, measured: int8, bf16 and fp32 compute peaks and
 * memory read bandwidth on N threads (`vs2 bench --peak`, docs/perf.md). Other code divides a
 * measured rate by these to print a "share of peak". Internal; not part of include/vs2.h. */
#ifndef VS2_BENCH_PEAK_H
#define VS2_BENCH_PEAK_H

#include "vs2.h"

#include <stddef.h>

/* What the CPU is and the instruction sets that matter for the kernels (runtime CPUID). */
typedef struct vs2_cpu_info {
    char model[128];            /* /proc/cpuinfo "model name", "unknown" if unreadable */
    int avx2, fma, avx512f, avx512_vnni, avx512_bf16, avx_vnni;
} vs2_cpu_info;

void vs2_cpu_info_get(vs2_cpu_info *out);
/* The flags present, space-separated in a fixed order ("avx512f avx512_vnni ..."), into buf. */
void vs2_cpu_flags_string(const vs2_cpu_info *cpu, char *buf, size_t size);

/* One compute peak: giga-operations per second (a multiply-add counts as 2), and which
 * instruction reached it; gops 0 and isa NULL when the CPU lacks every variant.
 * gops is per CPU-second of each thread, summed over the threads: the hardware's figure even
 * when other processes share the cores. gops_wall is over wall-clock time (what this process
 * got), busy the share of the wall time the threads ran (≈ 1 on an idle machine). */
typedef struct vs2_peak_figure {
    double gops, gops_wall, busy;
    const char *isa;            /* e.g. "avx512_vnni vpdpbusd zmm" (static string) */
} vs2_peak_figure;

typedef struct vs2_peak {
    int threads;
    vs2_peak_figure int8;       /* u8·s8 → s32: vpdpbusd (AVX-512 VNNI, AVX-VNNI) or AVX2 madd */
    vs2_peak_figure bf16;       /* bf16 pairs → fp32: vdpbf16ps (AVX-512 BF16) */
    vs2_peak_figure fp32;       /* fp32 FMA, 512- or 256-bit */
    double mem_read_gbs;        /* streaming read of a buffer ≫ L3, 1e9 bytes per second (CPU time) */
    double mem_read_gbs_wall, mem_busy; /* over wall-clock time, and the share the threads ran */
    size_t mem_bytes;           /* the buffer read */
} vs2_peak;

/* Measure every peak on `threads` OpenMP threads. seconds: the time each compute test aims for
 * (best of 3 runs is kept; 0.2 is plenty). mem_bytes: the buffer the bandwidth test streams
 * (≥ 64 MiB; 1 GiB by default in the CLI). Fails only on bad arguments or when the buffer
 * cannot be allocated (the message names its size). */
vs2_status vs2_peak_measure(int threads, double seconds, size_t mem_bytes, vs2_peak *out,
                            vs2_error *err);

/* rate / peak as a fraction, or -1 when the peak was not measured (0). */
double vs2_peak_share(double rate, double peak);

#endif
