/* bench_peak.c — measured compute peaks and memory read bandwidth of this machine (bench_peak.h).
 *
 * Compute: each thread runs one instruction in a tight loop over NACC independent register
 * accumulators, enough to cover the instruction's latency on every port that executes it, so the
 * loop is throughput-bound (≈ cores × instructions/cycle × lanes × 2 × GHz). Each kernel sits in a
 * function compiled for its instruction set (target attribute) and runs only where CPUID says the
 * CPU and OS have it, so the file builds for any x86-64 and never executes an unknown opcode.
 * Memory: a parallel streaming sum over a buffer far larger than the last-level cache. */
#include "bench_peak.h"
#include "internal.h"

#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- CPU identity -------------------------------------------------------------------------- */

static void read_model_name(char *buf, size_t size) {
    snprintf(buf, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10)) continue;
        const char *v = strchr(line, ':');
        if (!v) break;
        v++;
        while (*v == ' ' || *v == '\t') v++;
        size_t n = strcspn(v, "\n");
        snprintf(buf, size, "%.*s", (int)n, v);
        break;
    }
    fclose(f);
}

/* AVX-VNNI (the VEX form): CPUID.(EAX=7,ECX=1):EAX bit 4. Queried directly because older
 * compilers' __builtin_cpu_supports does not know the name; AVX2 support (checked by the caller)
 * already implies the OS saves the YMM state. */
static int has_avx_vnni(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    return (a >> 4) & 1;
}

void vs2_cpu_info_get(vs2_cpu_info *out) {
    memset(out, 0, sizeof *out);
    read_model_name(out->model, sizeof out->model);
    __builtin_cpu_init();
    out->avx2 = __builtin_cpu_supports("avx2") != 0;
    out->fma = __builtin_cpu_supports("fma") != 0;
    out->avx512f = __builtin_cpu_supports("avx512f") != 0;
    out->avx512_vnni = out->avx512f && __builtin_cpu_supports("avx512vnni") != 0;
    out->avx512_bf16 = out->avx512f && __builtin_cpu_supports("avx512bf16") != 0;
    out->avx_vnni = out->avx2 && has_avx_vnni();
}

void vs2_cpu_flags_string(const vs2_cpu_info *cpu, char *buf, size_t size) {
    const struct {
        int on;
        const char *name;
    } flags[] = {{cpu->avx512f, "avx512f"},   {cpu->avx512_vnni, "avx512_vnni"},
                 {cpu->avx512_bf16, "avx512_bf16"}, {cpu->avx2, "avx2"},
                 {cpu->avx_vnni, "avx_vnni"}, {cpu->fma, "fma"}};
    size_t used = 0;
    if (size) buf[0] = '\0';
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (!flags[i].on || used >= size) continue;
        int n = snprintf(buf + used, size - used, "%s%s", used ? " " : "", flags[i].name);
        if (n > 0) used += (size_t)n;
    }
}

/* ---- compute kernels ----------------------------------------------------------------------- */

/* 12 independent accumulators: Zen 4/5 and Intel cores retire 2 of these instructions per cycle
 * with a latency of 4-5 cycles, so at least 10 must be in flight. Each starts from a different
 * value: identical chains would be merged into one by the compiler (GCC does). */
#define NACC 12
#define REP12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
/* An empty asm that claims to change every accumulator: without it compilers see that the chains
 * differ only by their start value and fold them into one (clang does, even for FMA). */
#define OPAQUE12(c)                                                                               \
    __asm__("" : "+" c(c0), "+" c(c1), "+" c(c2), "+" c(c3), "+" c(c4), "+" c(c5), "+" c(c6),     \
            "+" c(c7), "+" c(c8), "+" c(c9), "+" c(c10), "+" c(c11))

typedef int64_t (*kernel_fn)(int64_t iters);

__attribute__((target("avx512f,avx512vnni"))) static int64_t k_int8_avx512vnni(int64_t iters) {
    const __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(1);
#define DECL(i) __m512i c##i = _mm512_set1_epi32(i);
#define STEP(i) c##i = _mm512_dpbusd_epi32(c##i, a, b);
#define SUM(i) s = _mm512_add_epi32(s, c##i);
    REP12(DECL)
    for (int64_t it = 0; it < iters; it++) {
        OPAQUE12("v");
        REP12(STEP)
    }
    __m512i s = _mm512_setzero_si512();
    REP12(SUM)
#undef DECL
#undef STEP
#undef SUM
    return _mm512_reduce_add_epi32(s);
}

__attribute__((target("avx2,avxvnni"))) static int64_t k_int8_avxvnni(int64_t iters) {
    const __m256i a = _mm256_set1_epi8(1), b = _mm256_set1_epi8(1);
#define DECL(i) __m256i c##i = _mm256_set1_epi32(i);
#define STEP(i) c##i = _mm256_dpbusd_avx_epi32(c##i, a, b);
#define SUM(i) s = _mm256_add_epi32(s, c##i);
    REP12(DECL)
    for (int64_t it = 0; it < iters; it++) {
        OPAQUE12("x");
        REP12(STEP)
    }
    __m256i s = _mm256_setzero_si256();
    REP12(SUM)
#undef DECL
#undef STEP
#undef SUM
    int32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, s);
    return (int64_t)lanes[0] + lanes[7];
}

/* AVX2 has no int8 dot instruction: vpmaddubsw (u8·s8 pairs → s16) + vpmaddwd (→ s32) +
 * vpaddd is how int8 GEMMs do it; 32 multiply-adds per three instructions. Each of the 6 chains
 * has its own input, which the empty asm marks as changed every iteration so that the compiler
 * can neither hoist the products out of the loop nor share them between chains (6 inputs, 6
 * accumulators, b, one and two temporaries fill the 16 YMM registers). */
__attribute__((target("avx2"))) static int64_t k_int8_avx2(int64_t iters) {
    const __m256i b = _mm256_set1_epi8(1), one = _mm256_set1_epi16(1);
#define REP6(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define DECL(i) __m256i c##i = _mm256_setzero_si256(), x##i = _mm256_set1_epi8((char)(i + 1));
#define STEP(i) c##i = _mm256_add_epi32(c##i, _mm256_madd_epi16(_mm256_maddubs_epi16(x##i, b), one));
#define SUM(i) s = _mm256_add_epi32(s, c##i);
    REP6(DECL)
    for (int64_t it = 0; it < iters; it++) {
        __asm__("" : "+x"(x0), "+x"(x1), "+x"(x2), "+x"(x3), "+x"(x4), "+x"(x5));
        REP6(STEP)
    }
    __m256i s = _mm256_setzero_si256();
    REP6(SUM)
#undef DECL
#undef STEP
#undef SUM
    int32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, s);
    return (int64_t)lanes[0] + lanes[7];
}

/* bf16 inputs 1e-4 (bf16 0x38d2): products 1e-8 keep every accumulator a normal fp32 number, so
 * no denormal slow path distorts the figure. */
__attribute__((target("avx512f,avx512bf16"))) static int64_t k_bf16_avx512(int64_t iters) {
    const __m512bh a = (__m512bh)_mm512_set1_epi16(0x38d2), b = a;
#define DECL(i) __m512 c##i = _mm512_set1_ps((float)(i));
#define STEP(i) c##i = _mm512_dpbf16_ps(c##i, a, b);
#define SUM(i) s = _mm512_add_ps(s, c##i);
    REP12(DECL)
    for (int64_t it = 0; it < iters; it++) {
        OPAQUE12("v");
        REP12(STEP)
    }
    __m512 s = _mm512_setzero_ps();
    REP12(SUM)
#undef DECL
#undef STEP
#undef SUM
    return (int64_t)_mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f"))) static int64_t k_fp32_avx512(int64_t iters) {
    const __m512 a = _mm512_set1_ps(1e-4f), b = a;
#define DECL(i) __m512 c##i = _mm512_set1_ps((float)(i));
#define STEP(i) c##i = _mm512_fmadd_ps(a, b, c##i);
#define SUM(i) s = _mm512_add_ps(s, c##i);
    REP12(DECL)
    for (int64_t it = 0; it < iters; it++) {
        OPAQUE12("v");
        REP12(STEP)
    }
    __m512 s = _mm512_setzero_ps();
    REP12(SUM)
#undef DECL
#undef STEP
#undef SUM
    return (int64_t)_mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static int64_t k_fp32_fma256(int64_t iters) {
    const __m256 a = _mm256_set1_ps(1e-4f), b = a;
#define DECL(i) __m256 c##i = _mm256_set1_ps((float)(i));
#define STEP(i) c##i = _mm256_fmadd_ps(a, b, c##i);
#define SUM(i) s = _mm256_add_ps(s, c##i);
    REP12(DECL)
    for (int64_t it = 0; it < iters; it++) {
        OPAQUE12("x");
        REP12(STEP)
    }
    __m256 s = _mm256_setzero_ps();
    REP12(SUM)
#undef DECL
#undef STEP
#undef SUM
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    return (int64_t)(lanes[0] + lanes[7]);
}

/* Keeps the kernels' results alive so the compiler cannot drop the loops. */
static volatile int64_t g_sink;

static double thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One timed parallel run. units: work per thread (operations or bytes). Each thread divides its
 * units by its own CPU time and the rates are summed: that is the hardware's rate even when other
 * processes share the cores (the wall-clock rate is what this process got; both are kept). */
typedef struct timing {
    double wall_s, rate_cpu, rate_wall, busy;
} timing;

static timing run_parallel(kernel_fn k, int64_t iters, double units, int threads) {
    int64_t total = 0;
    double rate = 0, cpu = 0, t0 = now_s();
#pragma omp parallel num_threads(threads) reduction(+ : total, rate, cpu)
    {
        double c0 = thread_cpu_s();
        total += k(iters);
        double c = thread_cpu_s() - c0;
        cpu += c;
        rate += c > 0 ? units / c : 0;
    }
    timing t = {.wall_s = now_s() - t0};
    g_sink = total;
    t.rate_cpu = rate;
    t.rate_wall = units * threads / t.wall_s;
    t.busy = cpu / (t.wall_s * threads);
    return t;
}

/* Grow the iteration count until one run takes ≥ 1/8 of the target, scale it to the target,
 * and keep the best of 3 runs (a peak: interference only ever slows a run down). */
static vs2_peak_figure measure_gops(kernel_fn k, double ops_per_iter, int threads, double seconds,
                                    const char *isa) {
    int64_t iters = 1024;
    timing t = run_parallel(k, iters, 0, threads);
    while (t.wall_s < seconds / 8 && iters < ((int64_t)1 << 40)) {
        iters *= 4;
        t = run_parallel(k, iters, 0, threads);
    }
    if (t.wall_s > 0) iters = (int64_t)((double)iters * seconds / t.wall_s) + 1;
    vs2_peak_figure f = {.isa = isa};
    for (int r = 0; r < 3; r++) {
        t = run_parallel(k, iters, ops_per_iter * (double)iters / 1e9, threads);
        if (t.rate_cpu > f.gops) f.gops = t.rate_cpu;
        if (t.rate_wall > f.gops_wall) f.gops_wall = t.rate_wall, f.busy = t.busy;
    }
    return f;
}

/* ---- memory bandwidth ---------------------------------------------------------------------- */

/* One streaming pass: each thread sums its contiguous slice with 8 independent accumulators
 * (8 loads per iteration, far above what DRAM delivers, so the loads are the limit). Rates in
 * GB/s as in run_parallel: per-thread bytes over CPU time, summed, and over wall time. */
static timing mem_pass(const uint64_t *p, size_t n, int threads) {
    uint64_t total = 0;
    double rate = 0, cpu = 0, t0 = now_s();
#pragma omp parallel num_threads(threads) reduction(+ : total, rate, cpu)
    {
        double c0 = thread_cpu_s(), words = 0;
#pragma omp for schedule(static)
        for (size_t blk = 0; blk < n / 8; blk++) {
            const uint64_t *q = p + blk * 8;
            total += q[0] + q[1] + q[2] + q[3] + q[4] + q[5] + q[6] + q[7];
            words += 8;
        }
        double c = thread_cpu_s() - c0;
        cpu += c;
        rate += c > 0 ? words * sizeof *p / c / 1e9 : 0;
    }
    timing t = {.wall_s = now_s() - t0};
    g_sink = (int64_t)total;
    t.rate_cpu = rate;
    t.rate_wall = (double)(n * sizeof *p) / t.wall_s / 1e9;
    t.busy = cpu / (t.wall_s * threads);
    return t;
}

static vs2_status measure_mem(int threads, size_t bytes, vs2_peak *out, vs2_error *err) {
    size_t n = bytes / sizeof(uint64_t) / 8 * 8;
    uint64_t *p = aligned_alloc(64, n * sizeof *p);
    if (!p)
        return vs2__fail(err, VS2_ERR_NOMEM, "bench peak: cannot allocate the %.0f MiB bandwidth buffer",
                         (double)bytes / 1048576.0);
    /* First touch from the threads that will read it (NUMA placement, and no page faults in the
     * timed passes). */
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++) p[i] = i;
    for (int r = 0; r < 3; r++) {
        timing t = mem_pass(p, n, threads);
        if (t.rate_cpu > out->mem_read_gbs) out->mem_read_gbs = t.rate_cpu;
        if (t.rate_wall > out->mem_read_gbs_wall) out->mem_read_gbs_wall = t.rate_wall, out->mem_busy = t.busy;
    }
    free(p);
    return VS2_OK;
}

/* ---- the whole measurement ----------------------------------------------------------------- */

vs2_status vs2_peak_measure(int threads, double seconds, size_t mem_bytes, vs2_peak *out,
                            vs2_error *err) {
    if (!out) return vs2__fail(err, VS2_ERR_INVALID_ARG, "bench peak: no output");
    memset(out, 0, sizeof *out);
    if (threads < 1 || threads > 4096)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "bench peak: threads %d not in [1, 4096]", threads);
    if (!(seconds > 0 && seconds <= 60))
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "bench peak: %g s per test not in (0, 60]", seconds);
    if (mem_bytes < ((size_t)64 << 20))
        return vs2__fail(err, VS2_ERR_INVALID_ARG,
                         "bench peak: bandwidth buffer of %zu bytes is below 64 MiB (it must not fit in cache)",
                         mem_bytes);
    vs2_cpu_info cpu;
    vs2_cpu_info_get(&cpu);
    out->threads = threads;
    out->mem_bytes = mem_bytes;
    /* ops per loop iteration = accumulators × multiply-adds per instruction × 2. */
    if (cpu.avx512_vnni)
        out->int8 = measure_gops(k_int8_avx512vnni, NACC * 64 * 2, threads, seconds, "avx512_vnni vpdpbusd zmm");
    else if (cpu.avx_vnni)
        out->int8 = measure_gops(k_int8_avxvnni, NACC * 32 * 2, threads, seconds, "avx_vnni vpdpbusd ymm");
    else if (cpu.avx2)
        out->int8 = measure_gops(k_int8_avx2, 6 * 32 * 2, threads, seconds, "avx2 vpmaddubsw+vpmaddwd ymm");
    if (cpu.avx512_bf16)
        out->bf16 = measure_gops(k_bf16_avx512, NACC * 32 * 2, threads, seconds, "avx512_bf16 vdpbf16ps zmm");
    if (cpu.avx512f)
        out->fp32 = measure_gops(k_fp32_avx512, NACC * 16 * 2, threads, seconds, "avx512f vfmadd zmm");
    else if (cpu.avx2 && cpu.fma)
        out->fp32 = measure_gops(k_fp32_fma256, NACC * 8 * 2, threads, seconds, "fma vfmadd ymm");
    return measure_mem(threads, mem_bytes, out, err);
}

double vs2_peak_share(double rate, double peak) {
    return peak > 0 ? rate / peak : -1.0;
}
