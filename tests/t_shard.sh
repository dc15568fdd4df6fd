#!/usr/bin/env bash
# t_shard.sh — `vs2 batch --shard auto` (and no --shard) against the schedulers' variables, with
# --dry-run (no model): Slurm arrays by MIN/MAX, MIN/MAX/STEP, COUNT, and with --shards/VS2_SHARDS
# (a re-submitted single index), Kubernetes' JOB_COMPLETION_INDEX with --shards/VS2_SHARDS; the
# shard taken is the one --shard K/N takes, the message says which and why; {shard}/{shards} in
# --out name a file the run resumes; every refusal (contradictions, out of range, guesses); the
# files `vs2 slurm` writes (syntax, contents) and its usage errors.
set -u
: "${VS2_BIN:?run through ctest}" "${VS2_TEST_TMP:?run through ctest}"
W="$VS2_TEST_TMP/t_shard"
rm -rf "$W"; mkdir -p "$W"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
for i in $(seq 1 40); do printf '{"id":"item%02d","video":"v.mp4","prompt":"p"}\n' "$i"; done > "$W/m.jsonl"
SL="SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_MIN SLURM_ARRAY_TASK_MAX SLURM_ARRAY_TASK_STEP SLURM_ARRAY_TASK_COUNT JOB_COMPLETION_INDEX VS2_SHARDS"
for v in $SL; do unset "$v"; done
dry() { "$VS2_BIN" batch --manifest "$W/m.jsonl" --dry-run "$@"; }
ids() { dry --shard "$1" 2>/dev/null; }
# same_as K/N ENV... -- ARGS: the run with ENV and ARGS picks shard K/N's ids and says so
same_as() {
    local kn=$1; shift
    local envs=() args=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    local got err
    got=$(env "${envs[@]}" "$VS2_BIN" batch --manifest "$W/m.jsonl" --dry-run "$@" 2>"$W/err") || { fail "${envs[*]} $*: exit $? ($(cat "$W/err"))"; return; }
    [ "$got" = "$(ids "$kn")" ] || fail "${envs[*]} $*: not the ids of shard $kn"
    grep -q "shard $kn: " "$W/err" || fail "${envs[*]} $*: no 'shard $kn:' message: $(cat "$W/err")"
    grep -q "in shard $kn," "$W/err" || fail "${envs[*]} $*: dry run not in shard $kn: $(cat "$W/err")"
}
# refused MESSAGE ENV... -- ARGS: exit 2 with MESSAGE
refused() {
    local msg=$1; shift
    local envs=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    local out rc
    out=$(env "${envs[@]}" "$VS2_BIN" batch --manifest "$W/m.jsonl" --dry-run "$@" 2>&1); rc=$?
    [ $rc -eq 2 ] || fail "${envs[*]} $*: exit $rc, 2 expected ($out)"
    grep -qF -- "$msg" <<<"$out" || fail "${envs[*]} $*: '$out' lacks '$msg'"
}

# the shards of --shard K/N cover the manifest once (the basis of the rest)
all=$(for k in 0 1 2 3; do ids $k/4; done | sort)
[ "$all" = "$(dry 2>/dev/null | sort)" ] || fail "shards 0/4..3/4 do not cover the manifest once"

same_as 2/4 SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_MAX=3 SLURM_ARRAY_TASK_COUNT=4 -- --shard auto
same_as 2/4 SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_MAX=3 SLURM_ARRAY_TASK_COUNT=4 --
grep -q "no --shard given" "$W/err" || fail "no --shard: the message does not say the variables chose"
same_as 1/4 SLURM_ARRAY_TASK_ID=6 SLURM_ARRAY_TASK_MIN=5 SLURM_ARRAY_TASK_MAX=8 -- --shard auto
same_as 2/5 SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=9 SLURM_ARRAY_TASK_STEP=2 SLURM_ARRAY_TASK_COUNT=5 -- --shard auto
same_as 3/5 SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_COUNT=5 -- --shard auto
# one index submitted again (sbatch --array=3): an array of one task; the count makes it safe
same_as 3/4 SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_MIN=3 SLURM_ARRAY_TASK_MAX=3 SLURM_ARRAY_TASK_COUNT=1 -- --shard auto --shards 4
same_as 3/4 SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_MIN=3 SLURM_ARRAY_TASK_MAX=3 SLURM_ARRAY_TASK_COUNT=1 VS2_SHARDS=4 -- --shard auto
refused "only task of its array" SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_MIN=3 SLURM_ARRAY_TASK_MAX=3 SLURM_ARRAY_TASK_COUNT=1 -- --shard auto
refused "not one range" SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=9 SLURM_ARRAY_TASK_COUNT=3 -- --shard auto
refused "is not a shard of 4" SLURM_ARRAY_TASK_ID=4 -- --shard auto --shards 4
refused "not the array's size" SLURM_ARRAY_TASK_ID=1 -- --shard auto
refused "SLURM_ARRAY_TASK_ID: expected" SLURM_ARRAY_TASK_ID=x -- --shard auto
# Kubernetes
same_as 1/3 JOB_COMPLETION_INDEX=1 -- --shard auto --shards 3
same_as 2/3 JOB_COMPLETION_INDEX=2 VS2_SHARDS=3 --
grep -q "from VS2_SHARDS" "$W/err" || fail "VS2_SHARDS: the message does not name it: $(cat "$W/err")"
refused "not the number of shards" JOB_COMPLETION_INDEX=1 -- --shard auto
refused "is not a shard of 3" JOB_COMPLETION_INDEX=3 VS2_SHARDS=3 --
refused "VS2_SHARDS: expected" JOB_COMPLETION_INDEX=0 VS2_SHARDS=zero --
# given K/N wins over the variables; --shard 0/1 scores everything
got=$(env JOB_COMPLETION_INDEX=2 VS2_SHARDS=3 "$VS2_BIN" batch --manifest "$W/m.jsonl" --dry-run --shard 1/2 2>/dev/null)
[ "$got" = "$(ids 1/2)" ] || fail "--shard 1/2 under JOB_COMPLETION_INDEX: not shard 1/2"
got=$(env JOB_COMPLETION_INDEX=2 VS2_SHARDS=3 "$VS2_BIN" batch --manifest "$W/m.jsonl" --dry-run --shard 0/1 2>/dev/null | wc -l)
[ "$got" -eq 40 ] || fail "--shard 0/1 under JOB_COMPLETION_INDEX: $got ids"
# neither variable
refused "neither SLURM_ARRAY_TASK_ID" -- --shard auto
refused "goes with --shard auto" -- --shards 3
refused "contradicts" -- --shard 1/4 --shards 3
refused "--shards: expected" JOB_COMPLETION_INDEX=0 -- --shards 0
refused "--shards: expected" JOB_COMPLETION_INDEX=0 -- --shards 2x
refused "expected K/N" -- --shard 4/4
# {shard}/{shards} in --out: the file of this shard, which the dry run reads as done
first=$(ids 1/3 | head -n 1)
printf '{"id":"%s","error":"x","error_kind":"score"}\n' "$first" > "$W/out-1-of-3.jsonl"
n=$(env JOB_COMPLETION_INDEX=1 VS2_SHARDS=3 "$VS2_BIN" batch --manifest "$W/m.jsonl" --dry-run --out "$W/out-{shard}-of-{shards}.jsonl" 2>/dev/null | wc -l)
[ "$n" -eq $(($(ids 1/3 | wc -l) - 1)) ] || fail "{shard} in --out: $n ids to do (the file was not read)"

# vs2 slurm's files without a cluster (t_slurm.sh runs them on one): shell syntax, the array and the
# shard count, the shared cache offline, the options after --; usage errors.
"$VS2_BIN" slurm --manifest "$W/m.jsonl" --shards 4 --out-dir "$W/job" --hf-home /shared/hf --cpus-per-task 3 \
    --partition cpu --time 2:00:00 -- --max-new-tokens 64 > /dev/null 2>&1 || fail "vs2 slurm: exit $?"
for f in vs2-shards.sbatch vs2-final.sbatch submit.sh; do
    [ -x "$W/job/$f" ] || fail "$f not written or not executable"
    sh -n "$W/job/$f" || fail "$f: shell syntax"
done
[ -d "$W/job/logs" ] || fail "vs2 slurm: no logs directory"
S=$(cat "$W/job/vs2-shards.sbatch")
for want in "#SBATCH --array=0-3" "#SBATCH --cpus-per-task=3" "#SBATCH --partition=cpu" "#SBATCH --time=2:00:00" \
            "#SBATCH --requeue" "--shard auto --shards 4" "shard-{shard}-of-{shards}.jsonl" "export HF_HUB_OFFLINE=1" \
            "export HF_HOME='/shared/hf'" "'--max-new-tokens' '64'" "--manifest '$W/m.jsonl'"; do
    grep -qF -- "$want" <<<"$S" || fail "vs2-shards.sbatch lacks '$want'"
done
grep -qF "merge --manifest '$W/m.jsonl'" "$W/job/vs2-final.sbatch" || fail "vs2-final.sbatch: no merge"
grep -qF -- "--dependency=afterok:" "$W/job/submit.sh" || fail "submit.sh: no afterok dependency"
out=$("$VS2_BIN" slurm --manifest "$W/nope.jsonl" --shards 2 --out-dir "$W/job2" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "nope.jsonl" <<<"$out" || fail "vs2 slurm, missing manifest: exit $rc ($out)"
out=$("$VS2_BIN" slurm --manifest "$W/m.jsonl" --shards 2 --out-dir "$W/job2" -- --out x 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "the job sets it" <<<"$out" || fail "vs2 slurm -- --out: exit $rc ($out)"
out=$("$VS2_BIN" slurm --manifest "$W/m.jsonl" --out-dir "$W/job2" 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "required" <<<"$out" || fail "vs2 slurm without --shards: exit $rc ($out)"
out=$("$VS2_BIN" slurm --manifest "$W/m.jsonl" --shards 2 --out-dir "$W/job2" --image x 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "unknown option" <<<"$out" || fail "vs2 slurm --image: exit $rc ($out)"

[ $fails -eq 0 ] && echo "t_shard: all checks passed" || echo "t_shard: $fails failures" >&2
[ $fails -eq 0 ]
