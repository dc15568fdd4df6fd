#!/usr/bin/env bash
# t_slurm.sh — the job files of `vs2 slurm` on a real one-node Slurm cluster (Debian's slurm-wlm
# and munge, started here on 127.0.0.1 with configs, state and sockets in a directory of our own,
# all daemons stopped at the end, also on failure): the array job over a manifest of generated
# clips with the tiny random-weight checkpoint, one array task cancelled half-way (scancel) and
# requeued, the final job (submit.sh final, as docs/scale-out.md says for this case) merging the
# shards; the merged file has every id once and equals a single-machine `vs2 batch` of the same
# manifest apart from timings (greedy decoding is deterministic, and the threads: the tasks get
# SLURM_CPUS_PER_TASK=1 and must follow it); the requeued task resumed its shard; vs2 metrics and
# vs2 report ran on the merged file.
# Exits 77 (skipped), saying why, without ffmpeg, without slurm-wlm/munge, when not root, or when
# the cluster does not come up.
set -u
: "${VS2_BIN:?run through ctest}" "${VS2_TEST_TMP:?run through ctest}"
PY=${PYTHON3:-python3}
CK="$VS2_TEST_TMP/ckpt/engine"
W="$VS2_TEST_TMP/t_slurm"
skip() { echo "SKIPPED: $*"; exit 77; }
command -v ffmpeg >/dev/null || skip "ffmpeg not found (tools/install-deps.sh)"
for b in munged slurmctld slurmd sbatch squeue scontrol scancel sinfo; do
    command -v $b >/dev/null || skip "$b not found: install slurm-wlm and munge (tools/install-deps.sh)"
done
[ "$(id -u)" -eq 0 ] || skip "slurmd must run as root to start jobs, and this test runs as uid $(id -u)"
rm -rf "$W"; mkdir -p "$W/videos"
# Sockets have a 108-byte path limit: the cluster lives in a short directory of its own.
C=$(mktemp -d /tmp/vs2-slurm.XXXXXX) || skip "cannot create a directory under /tmp"
export SLURM_CONF="$C/slurm.conf"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

stop_cluster() {
    squeue -h -o %i 2>/dev/null | xargs -r scancel 2>/dev/null
    for p in slurmd slurmctld munged; do
        [ -s "$C/$p.pid" ] && kill "$(cat "$C/$p.pid")" 2>/dev/null
    done
    for p in slurmd slurmctld munged; do
        for _ in $(seq 50); do
            [ -s "$C/$p.pid" ] && kill -0 "$(cat "$C/$p.pid")" 2>/dev/null || break
            sleep 0.1
        done
        [ -s "$C/$p.pid" ] && kill -KILL "$(cat "$C/$p.pid")" 2>/dev/null
    done
    cp -r "$C/log" "$W/cluster-logs" 2>/dev/null
    rm -rf "$C"
}
trap stop_cluster EXIT

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ---- the cluster ---------------------------------------------------------------------------------
mkdir -p "$C/state" "$C/spool" "$C/log"
head -c 1024 /dev/urandom > "$C/munge.key" && chmod 400 "$C/munge.key"
munged --key-file="$C/munge.key" --socket="$C/munge.sock" --pid-file="$C/munged.pid" \
    --log-file="$C/log/munged.log" --seed-file="$C/munge.seed" --force --num-threads=2 \
    || skip "munged does not start: $(tail -n 3 "$C/log/munged.log" 2>/dev/null)"
H=$(hostname -s)
CPUS=$(nproc); [ "$CPUS" -gt 2 ] && CPUS=2
cat > "$SLURM_CONF" <<EOF
ClusterName=vs2test
SlurmctldHost=$H(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$C/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$C/state
SlurmdSpoolDir=$C/spool
SlurmctldPidFile=$C/slurmctld.pid
SlurmdPidFile=$C/slurmd.pid
SlurmctldLogFile=$C/log/slurmctld.log
SlurmdLogFile=$C/log/slurmd.log
# no cgroups: process tracking by the process tree, no task binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
NodeName=$H NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=500 State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -i -f "$SLURM_CONF" || skip "slurmctld does not start: $(tail -n 5 "$C/log/slurmctld.log" 2>/dev/null)"
slurmd -f "$SLURM_CONF" || skip "slurmd does not start: $(tail -n 5 "$C/log/slurmd.log" 2>/dev/null)"
up=0
for _ in $(seq 60); do
    [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && { up=1; break; }
    sleep 0.5
done
[ $up -eq 1 ] || skip "the node did not become idle in 30 s (sinfo: $(sinfo -h 2>&1 | head -n 2)); slurmd log: $(tail -n 5 "$C/log/slurmd.log" 2>/dev/null | tr '\n' ' ')"
echo "cluster up: node $H, $CPUS CPUs, configs in $C"

# ---- the data: 18 clips' items (two videos), human scores ------------------------------------------
ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=56x56:rate=4 -t 1 -pix_fmt yuv420p "$W/videos/a.mp4" || { fail ffmpeg; exit 1; }
ffmpeg -loglevel error -y -f lavfi -i mandelbrot=size=56x56:rate=4 -t 1 -pix_fmt yuv420p "$W/videos/b.mp4" || { fail ffmpeg; exit 1; }
N=18 SHARDS=3
for i in $(seq 1 $N); do
    printf '{"id":"clip%02d","video":"videos/%s.mp4","prompt":"prompt number %d","human_scores":{"visual_quality":%d,"text_alignment":%d,"physical_consistency":%d}}\n' \
        "$i" "$([ $((i % 2)) -eq 0 ] && echo a || echo b)" "$i" $((i % 5 + 1)) $(((i + 2) % 5 + 1)) $(((i + 4) % 5 + 1))
done > "$W/m.jsonl"
# ~0.25 s an item on one idle core (128 tokens over the 152k vocabulary): a task of 6 items runs
# long enough to be caught half-way (polled every 0.1 s). Lines are written when a batch of videos
# ends: batches of 2, so that a shard's file grows in steps.
OPTS=(--model "$CK" --max-new-tokens 128 --batch-size 2)

# ---- the job files, submitted ------------------------------------------------------------------------
"$VS2_BIN" slurm --manifest "$W/m.jsonl" --shards $SHARDS --out-dir "$W/run" --cpus-per-task 1 --name vs2t \
    -- "${OPTS[@]}" > /dev/null || { fail "vs2 slurm: exit $?"; exit 1; }
sub=$("$W/run/submit.sh") || { fail "submit.sh: exit $? ($sub)"; exit 1; }
echo "$sub"
J=$(sed -n 's/^array job \([0-9]*\) .*/\1/p' <<<"$sub")
F=$(sed -n 's/.*final job \([0-9]*\);.*/\1/p' <<<"$sub")
[ -n "$J" ] && [ -n "$F" ] || { fail "submit.sh output: $sub"; exit 1; }
state() { squeue -h -j "$1" -o %T 2>/dev/null; }
lines() { [ -f "$1" ] && wc -l < "$1" || echo 0; }

# ---- task 1 cancelled half-way, then requeued ------------------------------------------------------------
K=1
S1="$W/run/shard-$K-of-$SHARDS.jsonl"
want1=$("$VS2_BIN" batch --manifest "$W/m.jsonl" --shard $K/$SHARDS --dry-run 2>/dev/null | wc -l)
[ "$want1" -ge 4 ] || fail "shard $K has only $want1 items: too few to stop it half-way"
# (the waits are long only for a machine under load: unloaded, the whole test takes well under 3 min)
for _ in $(seq 3000); do
    [ "$(lines "$S1")" -ge 1 ] && break
    sleep 0.1
done
at_kill=$(lines "$S1")
scancel "${J}_$K"
for _ in $(seq 100); do
    st=$(state "${J}_$K"); [ "$st" = RUNNING ] || [ "$st" = COMPLETING ] || break
    sleep 0.1
done
after_kill=$(lines "$S1")
echo "task $K cancelled with $at_kill of $want1 lines written ($after_kill after it stopped)"
[ "$at_kill" -ge 1 ] && [ "$after_kill" -lt "$want1" ] || fail "task $K was not stopped half-way ($after_kill of $want1 lines)"
requeued=0
for _ in $(seq 50); do
    scontrol requeue "${J}_$K" 2>/dev/null && { requeued=1; break; }
    sleep 0.2
done
[ $requeued -eq 1 ] || fail "scontrol requeue ${J}_$K: $(scontrol requeue "${J}_$K" 2>&1)"
# Slurm never satisfies afterok on an array once one of its tasks was cancelled (even requeued): the
# first final job stays pending for ever; docs/scale-out.md: cancel it, submit.sh final JOBID. The
# requeued task is held (BeginTime) meanwhile, so the new final job must wait for it.
for _ in $(seq 25); do
    r=$(squeue -h -j "$F" -o %r 2>/dev/null); [ "$r" = DependencyNeverSatisfied ] && break
    sleep 0.2
done
echo "first final job $F: ${r:-gone}"
scancel "$F"
fin=$("$W/run/submit.sh" final "$J") || fail "submit.sh final $J: exit $? ($fin)"
echo "$fin"
grep -q "afterok:.*${J}_$K" <<<"$fin" || fail "submit.sh final: the new final job does not wait for the requeued task ($fin)"
# A requeued job waits (BeginTime) before it may start again; let it start now.
for _ in $(seq 20); do
    scontrol update jobid="${J}_$K" StartTime=now 2>/dev/null && break
    sleep 0.3
done

# ---- meanwhile: the single-machine run of the same manifest ---------------------------------------------
"$VS2_BIN" batch --manifest "$W/m.jsonl" --out "$W/single.jsonl" --threads 1 --progress-every 0 "${OPTS[@]}" \
    > /dev/null 2> "$W/single.err"
rc=$?
[ $rc -eq 3 ] || fail "single-machine batch: exit $rc (3 expected: random weights write no scores): $(tail -n 3 "$W/single.err")"

# ---- wait for the cluster ------------------------------------------------------------------------------------
done_ok=0
for _ in $(seq 2000); do
    [ -z "$(squeue -h 2>/dev/null)" ] && { done_ok=1; break; }
    sleep 0.2
done
[ $done_ok -eq 1 ] || fail "jobs still queued after 400 s: $(squeue 2>&1)"
ls "$W/run/logs" >/dev/null 2>&1 || fail "no logs directory"
L1="$W/run/logs/shard-$K.log"
grep -q "restart 1" "$L1" || fail "task $K did not run a second time: $(cat "$L1")"
grep -q "shard $K/$SHARDS: SLURM_ARRAY_TASK_ID=$K, $SHARDS shards from --shards" "$L1" || fail "task $K's shard choice: $(cat "$L1")"
grep -qE "[1-9][0-9]* of $want1 items already done" "$L1" || fail "task $K did not resume its shard's file: $(cat "$L1")"
for k in $(seq 0 $((SHARDS - 1))); do
    [ "$($PY -c 'import json,sys; print(len({json.loads(l)["id"] for l in open(sys.argv[1])}))' "$W/run/shard-$k-of-$SHARDS.jsonl" 2>/dev/null)" = \
      "$(lines "$W/run/shard-$k-of-$SHARDS.jsonl")" ] || fail "shard $k: repeated ids or unreadable lines"
done
FL="$W/run/logs/final.log"
grep -q "^merged: " "$FL" || fail "the final job did not finish: $(cat "$FL" 2>&1)"

# ---- the merged file against the single-machine run -------------------------------------------------------
$PY - "$W/run/merged.jsonl" "$W/m.jsonl" "$W/single.jsonl" <<'EOF' || fail "merged output"
import json, sys
merged, manifest, single = sys.argv[1:4]
want = [json.loads(l)["id"] for l in open(manifest)]
lines = [json.loads(l) for l in open(merged)]
ids = [o["id"] for o in lines]
assert sorted(ids) == sorted(want) and len(ids) == len(set(ids)), "ids are not every manifest id exactly once"
assert ids == want, "the merged file does not follow the manifest's order"
VOL = {"timings_ms", "tokens_per_second", "ms_per_token", "generate_ms"}
def strip(o):
    if isinstance(o, dict): return {k: strip(v) for k, v in o.items() if k not in VOL}
    if isinstance(o, list): return [strip(v) for v in o]
    return o
ref = {o["id"]: strip(o) for o in map(json.loads, open(single))}
assert len(ref) == len(want)
for o in lines:
    assert o["threads"] == 1, f"{o['id']}: {o['threads']} threads, but SLURM_CPUS_PER_TASK=1"
    assert strip(o) == ref[o["id"]], f"{o['id']} differs from the single-machine run"
print(f"merged: {len(lines)} ids, each once, equal to the single-machine run apart from timings")
EOF

# ---- metrics and report ran on it -------------------------------------------------------------------------------
# Random weights write no scores, so vs2 metrics finds every merged line an error line and says so
# (the final job reports that and goes on); the report lists every id.
grep -q "no scored items (0 read, $N error lines" "$FL" || fail "vs2 metrics in the final job: $(cat "$FL")"
[ -s "$W/run/report.html" ] || fail "no report.html"
for i in 01 $N; do grep -q "clip$i" "$W/run/report.html" || fail "report.html lacks clip$i"; done

[ $fails -eq 0 ] && echo "t_slurm: all checks passed" || echo "t_slurm: $fails failures" >&2
[ $fails -eq 0 ]
