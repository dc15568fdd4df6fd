#!/usr/bin/env bash
# t_cpus.sh — the default thread count follows the allocation, end to end: `vs2 score` (the result's
# "threads") under taskset -c 0 (the affinity mask) and with SLURM_CPUS_PER_TASK=1 starts 1 thread
# on a machine with more cores; unlimited, it starts as many as the affinity mask holds (nproc
# without OMP_NUM_THREADS); --threads still wins. The cgroup quota is covered by test_cpus on
# fake trees. Exits 77 without ffmpeg or taskset, or on a one-core machine (nothing to tell apart).
set -u
: "${VS2_BIN:?run through ctest}" "${VS2_TEST_TMP:?run through ctest}"
command -v ffmpeg >/dev/null || { echo "SKIPPED: ffmpeg not found"; exit 77; }
command -v taskset >/dev/null || { echo "SKIPPED: taskset not found (util-linux)"; exit 77; }
CORES=$(env -u OMP_NUM_THREADS nproc)
[ "$CORES" -ge 2 ] || { echo "SKIPPED: one CPU: the limits cannot be told apart"; exit 77; }
W="$VS2_TEST_TMP/t_cpus"
rm -rf "$W"; mkdir -p "$W"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=56x56:rate=4 -t 1 -pix_fmt yuv420p "$W/a.mp4" || { fail ffmpeg; exit 1; }
threads() { # ENV... -- ARGS: the "threads" of the result
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    env -u SLURM_CPUS_PER_TASK "${envs[@]}" "$@" "$VS2_BIN" score --model "$VS2_TEST_TMP/ckpt/engine" --max-new-tokens 2 \
        --video "$W/a.mp4" --prompt "a prompt" 2>/dev/null | grep -o '"threads":[0-9]*' | cut -d: -f2
}
t=$(threads --); [ "$t" = "$CORES" ] || fail "unlimited: $t threads, $CORES cores in the affinity mask"
t=$(threads -- taskset -c 0); [ "$t" = 1 ] || fail "taskset -c 0: $t threads"
t=$(threads SLURM_CPUS_PER_TASK=1 --); [ "$t" = 1 ] || fail "SLURM_CPUS_PER_TASK=1: $t threads"
t=$(threads SLURM_CPUS_PER_TASK=999 --); [ "$t" = "$CORES" ] || fail "SLURM_CPUS_PER_TASK=999: $t threads"
t2=$(env SLURM_CPUS_PER_TASK=1 "$VS2_BIN" score --model "$VS2_TEST_TMP/ckpt/engine" \
    --max-new-tokens 2 --threads 2 --video "$W/a.mp4" --prompt "a prompt" 2>/dev/null | grep -o '"threads":[0-9]*' | cut -d: -f2)
[ "$t2" = 2 ] || fail "--threads 2 under SLURM_CPUS_PER_TASK=1: $t2 threads"
[ $fails -eq 0 ] && echo "t_cpus: all checks passed" || echo "t_cpus: $fails failures" >&2
[ $fails -eq 0 ]
