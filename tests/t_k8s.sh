#!/usr/bin/env bash
# t_k8s.sh — the Kubernetes manifest of `vs2 k8s`. No cluster runs here, so: (1) a structural check
# with python3-yaml: two batch/v1 Jobs, the shard Job with completionMode Indexed, completions = the
# shard count, the shared data claim and the read-only Hugging Face cache claim mounted where the
# environment says (HF_HOME, HF_HUB_OFFLINE=1), every mount naming a volume, env values and
# quantities as strings, no key outside a list of the fields these objects may hold (typos); (2) the
# pods' shell steps run here as the pods would run them (JOB_COMPLETION_INDEX = 0..N-1, vs2 on the
# PATH), the merge Job's wait step waiting until every shard is done, and the merged file equal to a
# single `vs2 batch` of the same manifest apart from timings; (3) usage errors.
# Exits 77 (skipped) without ffmpeg or python3-yaml.
set -u
: "${VS2_BIN:?run through ctest}" "${VS2_TEST_TMP:?run through ctest}"
PY=${PYTHON3:-python3}
command -v ffmpeg >/dev/null || { echo "SKIPPED: ffmpeg not found"; exit 77; }
$PY -c 'import yaml' 2>/dev/null || { echo "SKIPPED: python3-yaml not installed (tools/install-deps.sh)"; exit 77; }
CK="$VS2_TEST_TMP/ckpt/engine"
W="$VS2_TEST_TMP/t_k8s"
D="$W/data"
rm -rf "$W"; mkdir -p "$D/videos" "$W/bin" "$W/cache"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=56x56:rate=4 -t 1 -pix_fmt yuv420p "$D/videos/a.mp4" || { fail ffmpeg; exit 1; }
N=9 SHARDS=3
for i in $(seq 1 $N); do
    printf '{"id":"v%d","video":"videos/a.mp4","prompt":"prompt %d"}\n' "$i" "$i"
done > "$D/m.jsonl"
OPTS=(--model "$CK" --max-new-tokens 6 --threads 1)

"$VS2_BIN" k8s --manifest "$D/m.jsonl" --shards $SHARDS --out-dir "$D/run/" --data-mount "$D" --hf-pvc hf-cache \
    --image registry.example/vs2:1 --parallelism 2 --cpus 4 --name vs2t -o "$W/job.yaml" -- "${OPTS[@]}" \
    || { fail "vs2 k8s: exit $?"; exit 1; }

# ---- (1) structure ---------------------------------------------------------------------------------
$PY - "$W/job.yaml" "$SHARDS" "$W" <<'EOF' || fail "structural check"
import re, subprocess, sys, yaml
path, shards, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
docs = [d for d in yaml.safe_load_all(open(path)) if d is not None]
assert len(docs) == 2, f"{len(docs)} documents, 2 expected"
# The fields these objects may hold (batch/v1 Job, core/v1 PodSpec, Container): anything else is a typo.
ALLOWED = {
    "job": {"apiVersion", "kind", "metadata", "spec"},
    "meta": {"name", "labels", "annotations", "namespace"},
    "jobspec": {"completionMode", "completions", "parallelism", "backoffLimit", "template", "activeDeadlineSeconds",
                "ttlSecondsAfterFinished", "backoffLimitPerIndex"},
    "pod": {"restartPolicy", "containers", "initContainers", "volumes", "nodeSelector", "tolerations"},
    "ctr": {"name", "image", "command", "args", "env", "resources", "volumeMounts"},
}
def keys(o, kind, where):
    extra = set(o) - ALLOWED[kind]
    assert not extra, f"{where}: unknown fields {sorted(extra)}"
DNS = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
scripts = {}
for d in docs:
    keys(d, "job", "Job")
    assert d["apiVersion"] == "batch/v1" and d["kind"] == "Job", (d["apiVersion"], d["kind"])
    keys(d["metadata"], "meta", "metadata")
    name = d["metadata"]["name"]
    assert DNS.match(name) and len(name) <= 63, name
    spec = d["spec"]; keys(spec, "jobspec", f"{name}.spec")
    assert isinstance(spec["backoffLimit"], int) and spec["backoffLimit"] >= 1
    pod = spec["template"]["spec"]; keys(pod, "pod", f"{name} pod")
    assert pod["restartPolicy"] in ("OnFailure", "Never"), pod["restartPolicy"]
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["data"]["persistentVolumeClaim"]["claimName"] == "vs2-data"
    assert vols["hf-cache"]["persistentVolumeClaim"] == {"claimName": "hf-cache", "readOnly": True}
    for c in pod.get("initContainers", []) + pod["containers"]:
        where = f"{name}/{c['name']}"
        keys(c, "ctr", where)
        assert c["image"] == "registry.example/vs2:1", c["image"]
        assert c["command"] == ["sh", "-c"] and len(c["args"]) == 1 and isinstance(c["args"][0], str), where
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        assert set(mounts) <= set(vols), f"{where}: mounts {sorted(set(mounts) - set(vols))} name no volume"
        assert mounts["hf-cache"]["mountPath"] == "/hf" and mounts["hf-cache"]["readOnly"] is True, where
        assert mounts["data"]["mountPath"] == work + "/data", mounts["data"]
        env = {e["name"]: e["value"] for e in c.get("env", [])}
        assert all(isinstance(v, str) for v in env.values()), f"{where}: env values must be strings: {env}"
        for kind in ("requests", "limits"):
            q = c.get("resources", {}).get(kind)
            if q: assert all(isinstance(v, str) for v in q.values()), f"{where}: {kind} {q}"
        scripts[where] = (c["args"][0], env)
        r = subprocess.run(["sh", "-n", "-c", c["args"][0]], capture_output=True, text=True)
        assert r.returncode == 0, f"{where}: sh -n: {r.stderr}"
shard, merge = docs
assert shard["metadata"]["name"] == "vs2t-shards" and merge["metadata"]["name"] == "vs2t-merge"
s = shard["spec"]
assert s["completionMode"] == "Indexed" and s["completions"] == shards and s["parallelism"] == 2, s
assert "completionMode" not in merge["spec"]
c = s["template"]["spec"]["containers"][0]
env = {e["name"]: e["value"] for e in c["env"]}
assert env["VS2_SHARDS"] == str(shards) and env["HF_HOME"] == "/hf" and env["HF_HUB_OFFLINE"] == "1", env
assert c["resources"]["requests"]["cpu"] == c["resources"]["limits"]["cpu"] == "4", c["resources"]
assert f"--shard auto --shards {shards}" in c["args"][0]
assert [x["name"] for x in merge["spec"]["template"]["spec"]["initContainers"]] == ["wait-for-shards"]
for where, (text, env) in scripts.items():
    with open(f"{work}/{where.replace('/', '.')}.sh", "w") as f: f.write(text)
    with open(f"{work}/{where.replace('/', '.')}.env", "w") as f:
        f.write("".join(f"{k}={v}\n" for k, v in env.items()))
print("structure ok:", ", ".join(sorted(scripts)))
EOF

# ---- (2) the pods' steps, run here --------------------------------------------------------------------
ln -sf "$VS2_BIN" "$W/bin/vs2"
pod() { # pod SCRIPT [INDEX]: the container's environment, but this machine's caches
    env $(grep -v '^HF_HOME=\|^VS2_WEIGHT_CACHE=' "$W/$1.env") VS2_WEIGHT_CACHE="$W/cache" PATH="$W/bin:$PATH" \
        ${2:+JOB_COMPLETION_INDEX=$2} sh -c "$(cat "$W/$1.sh")"
}
out=$(timeout 3 bash -c "$(declare -f pod); W='$W'; pod vs2t-merge.wait-for-shards" 2>&1); rc=$?
[ $rc -eq 124 ] || fail "the wait step did not wait for the shards: exit $rc ($out)"
grep -q "0 of $SHARDS done" <<<"$out" || fail "the wait step's message: $out"
for k in $(seq 0 $((SHARDS - 1))); do
    out=$(pod vs2t-shards.vs2 $k 2>&1) || fail "shard pod $k: exit $? ($out)"
    grep -q "shard $k/$SHARDS: JOB_COMPLETION_INDEX=$k, $SHARDS shards from --shards" <<<"$out" || fail "shard pod $k's choice: $out"
    [ -e "$D/run/shard-$k-of-$SHARDS.done" ] || fail "shard pod $k left no marker"
done
# a pod run again (a retried index) resumes: nothing left to do
out=$(pod vs2t-shards.vs2 1 2>&1) || fail "shard pod 1 again: exit $?"
grep -q "already done" <<<"$out" || fail "shard pod 1 again did not resume: $out"
out=$(timeout 10 bash -c "$(declare -f pod); W='$W'; pod vs2t-merge.wait-for-shards" 2>&1) || fail "the wait step with every shard done: exit $? ($out)"
out=$(pod vs2t-merge.merge 2>&1) || fail "merge pod: exit $? ($out)"
grep -q "^merged: " <<<"$out" || fail "merge pod: $out"
[ -s "$D/run/report.html" ] || fail "merge pod wrote no report"
"$VS2_BIN" batch --manifest "$D/m.jsonl" --out "$W/single.jsonl" "${OPTS[@]}" 2>/dev/null
$PY - "$D/run/merged.jsonl" "$W/single.jsonl" <<'EOF' || fail "merged file against the single run"
import json, sys
VOL = {"timings_ms", "tokens_per_second", "ms_per_token", "generate_ms"}
def strip(o):
    if isinstance(o, dict): return {k: strip(v) for k, v in o.items() if k not in VOL}
    if isinstance(o, list): return [strip(v) for v in o]
    return o
m = [strip(json.loads(l)) for l in open(sys.argv[1])]
s = [strip(json.loads(l)) for l in open(sys.argv[2])]
assert [o["id"] for o in m] == [o["id"] for o in s], "ids differ"
assert m == s, "lines differ"
EOF

# ---- (3) usage errors --------------------------------------------------------------------------------------
expect2() { local out rc; out=$("$VS2_BIN" k8s "$@" 2>&1); rc=$?; [ $rc -eq 2 ] || fail "vs2 k8s $*: exit $rc ($out)"; grep -qF -- "$MSG" <<<"$out" || fail "vs2 k8s $*: '$out' lacks '$MSG'"; }
MSG="absolute" expect2 --manifest m.jsonl --shards 2 --out-dir /data/run
MSG="not on the data volume" expect2 --manifest /data/m.jsonl --shards 2 --out-dir /elsewhere/run
MSG="not on the data volume" expect2 --manifest /data/m.jsonl --shards 2 --out-dir /database/run
MSG="--name" expect2 --manifest /data/m.jsonl --shards 2 --out-dir /data/run --name Bad_Name
MSG="--shards" expect2 --manifest /data/m.jsonl --shards 0 --out-dir /data/run
MSG="the job sets it" expect2 --manifest /data/m.jsonl --shards 2 --out-dir /data/run -- --shard 0/2
MSG="required" expect2 --manifest /data/m.jsonl --out-dir /data/run
MSG="unknown option" expect2 --manifest /data/m.jsonl --shards 2 --out-dir /data/run --partition x

[ $fails -eq 0 ] && echo "t_k8s: all checks passed" || echo "t_k8s: $fails failures" >&2
[ $fails -eq 0 ]
