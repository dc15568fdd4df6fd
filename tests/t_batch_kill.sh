#!/usr/bin/env bash
# t_batch_kill.sh — crash-resume: a real `vs2 batch` run (tiny checkpoint, 16 tiny videos) is
# killed with SIGKILL at seeded random moments, at least 20 times (KILLS, default 24), and
# re-run until it finishes. After every round: every line is valid JSON, every manifest id
# occurs exactly once, and every line equals the uninterrupted run's (greedy decoding is
# deterministic; timing keys excluded). Rounds restart from an empty output until the kill
# count is reached. Seed: BATCH_KILL_SEED (default 20251). Exits 77 (skipped) without ffmpeg.
set -u
: "${VS2_BIN:?run through ctest}" "${VS2_TEST_TMP:?run through ctest}"
command -v ffmpeg >/dev/null || { echo "ffmpeg not found: skipped"; exit 77; }
PY=${PYTHON3:-python3}
CK="$VS2_TEST_TMP/ckpt/engine"
W="$VS2_TEST_TMP/t_batch_kill"
KILLS=${KILLS:-24}
RANDOM=${BATCH_KILL_SEED:-20251}
rm -rf "$W"; mkdir -p "$W"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=56x56:rate=4 -t 1 -pix_fmt yuv420p "$W/a.mp4" || { fail ffmpeg; exit 1; }
ffmpeg -loglevel error -y -f lavfi -i mandelbrot=size=56x56:rate=4 -t 1 -pix_fmt yuv420p "$W/b.mp4" || { fail ffmpeg; exit 1; }
for i in $(seq 1 16); do
    printf '{"id":"k%02d","video":"%s.mp4","prompt":"a clip, number %d","human_scores":{"visual_quality":%d,"text_alignment":3,"physical_consistency":4}}\n' \
        "$i" "$([ $((i % 3)) -eq 0 ] && echo a || echo b)" "$i" $((i % 5 + 1))
done > "$W/m.jsonl"
ARGS=(batch --model "$CK" --manifest "$W/m.jsonl" --max-new-tokens 8 --threads 1 --progress-every 1000)
batch() { "$VS2_BIN" "${ARGS[@]}" "$@"; }

t0=$(date +%s.%N)
batch --out "$W/ref.jsonl" > /dev/null 2>&1; rc=$?
[ $rc -eq 3 ] || { fail "reference run: exit $rc"; exit 1; }
t1=$(date +%s.%N)
# Kill delays are spread over the duration of a whole run (startup and model load included).
span_ms=$($PY -c "print(max(200, int(1300 * ($t1 - $t0))))")
echo "uninterrupted run: $($PY -c "print(round($t1 - $t0, 2))") s; kill delays 0..$span_ms ms"

cat > "$W/check.py" <<'EOF'
import json, sys
out, manifest, ref = sys.argv[1:4]
want = [json.loads(l)["id"] for l in open(manifest)]
data = open(out, "rb").read()
assert data.endswith(b"\n"), "no trailing newline"
lines = [json.loads(l) for l in data.decode().splitlines()]
ids = [o["id"] for o in lines]
assert len(ids) == len(set(ids)), "duplicate ids: %s" % sorted({i for i in ids if ids.count(i) > 1})
assert sorted(ids) == sorted(want), "ids differ from the manifest"
VOL = {"timings_ms", "tokens_per_second", "ms_per_token", "generate_ms"}
strip = lambda o: {k: v for k, v in o.items() if k not in VOL}
r = {o["id"]: strip(o) for o in map(json.loads, open(ref))}
bad = [o["id"] for o in lines if strip(o) != r[o["id"]]]
assert not bad, "lines differ from the uninterrupted run: %s" % bad
EOF

kills=0 rounds=0 torn=0 runs=0
while [ $kills -lt "$KILLS" ]; do
    rounds=$((rounds + 1))
    rm -f "$W/out.jsonl"
    for attempt in $(seq 1 200); do
        delay_ms=$((RANDOM % span_ms))
        # the binary itself in the background (not a shell function: kill must hit vs2)
        "$VS2_BIN" "${ARGS[@]}" --out "$W/out.jsonl" > /dev/null 2> "$W/err.txt" &
        pid=$!
        sleep "$($PY -c "print($delay_ms / 1000)")"
        if kill -9 $pid 2> /dev/null; then
            wait $pid 2> /dev/null
            st=$?
            if [ $st -eq 137 ]; then kills=$((kills + 1)); fi
        else
            wait $pid; st=$?
        fi
        runs=$((runs + 1))
        grep -q "cut a torn last line" "$W/err.txt" && torn=$((torn + 1))
        # finished: every id has a line (exit 3: random weights never parse)
        if [ $st -eq 3 ] && [ "$(wc -l < "$W/out.jsonl")" -eq 16 ]; then break; fi
        [ $st -eq 137 ] || [ $st -eq 3 ] || { fail "run exited $st: $(cat "$W/err.txt")"; break; }
        [ $kills -ge "$KILLS" ] && [ $rounds -gt 1 ] && break
    done
    # finish the round without kills, then check
    batch --out "$W/out.jsonl" > /dev/null 2> "$W/err.txt"; st=$?
    grep -q "cut a torn last line" "$W/err.txt" && torn=$((torn + 1))
    [ $st -eq 3 ] || fail "round $rounds: final run exit $st: $(cat "$W/err.txt")"
    $PY "$W/check.py" "$W/out.jsonl" "$W/m.jsonl" "$W/ref.jsonl" || fail "round $rounds: check"
    [ $rounds -ge 50 ] && break
done
echo "kill -9: $kills kills in $runs runs over $rounds rounds; $torn torn last lines repaired"
[ $kills -ge "$KILLS" ] || fail "only $kills kills landed (need $KILLS)"

[ $fails -eq 0 ] && echo "t_batch_kill: all checks passed"
[ $fails -eq 0 ]
