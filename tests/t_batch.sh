#!/usr/bin/env bash
# t_batch.sh — `vs2 batch` and `vs2 merge` end to end on the tiny random-weight checkpoint
# (fixture vs2_engine_ckpt) and tiny generated videos: result lines (id, human scores, error
# lines), resume skipping done ids, a torn last line cut and redone, a bad line in the middle
# refused, the lock, --retry-errors, shards 0/3..2/3 covering the manifest once and merging to
# the single-process output (greedy is deterministic), merge refusing duplicates and reporting
# gaps, duplicate manifest ids, --groups with resume, vs2 metrics on a batch output, usage errors.
# Exits 77 (skipped) without ffmpeg.
set -u
: "${VS2_BIN:?run through ctest}" "${VS2_TEST_TMP:?run through ctest}"
command -v ffmpeg >/dev/null || { echo "ffmpeg not found: skipped"; exit 77; }
PY=${PYTHON3:-python3}
CK="$VS2_TEST_TMP/ckpt/engine"
W="$VS2_TEST_TMP/t_batch"
rm -rf "$W"; mkdir -p "$W/videos"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
has() { grep -qF -- "$2" <<<"$1" || fail "$3: output lacks '$2': $1"; }

ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=56x56:rate=4 -t 1 -pix_fmt yuv420p "$W/videos/a.mp4" || { fail ffmpeg; exit 1; }
ffmpeg -loglevel error -y -f lavfi -i mandelbrot=size=56x56:rate=4 -t 1 -pix_fmt yuv420p "$W/videos/b.mp4" || { fail ffmpeg; exit 1; }
printf 'not a video' > "$W/videos/bad.mp4"

# 12 items (paths relative to the manifest's directory), one unreadable.
N=12
{
    for i in $(seq 1 $((N - 1))); do
        v=$([ $((i % 2)) -eq 0 ] && echo a || echo b)
        printf '{"id":"item%02d","video":"videos/%s.mp4","prompt":"prompt number %d","human_scores":{"visual_quality":%d,"text_alignment":%d,"physical_consistency":3}}\n' \
            "$i" "$v" "$i" $((i % 5 + 1)) $(((i + 2) % 5 + 1))
    done
    printf '{"id":"bad","video":"videos/bad.mp4","prompt":"x","human_scores":{"visual_quality":1,"text_alignment":2,"physical_consistency":3}}\n'
} > "$W/m.jsonl"
batch() { "$VS2_BIN" batch --model "$CK" --max-new-tokens 6 --threads 1 "$@"; }

# Checks a batch output: every line valid JSON, each manifest id exactly once, and, given a
# reference output, every line equal to the reference's except the timing keys.
cat > "$W/check.py" <<'EOF'
import json, sys
out, manifest = sys.argv[1], sys.argv[2]
ref = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
want = [json.loads(l)["id"] for l in open(manifest) if l.strip()]
data = open(out, "rb").read()
assert data.endswith(b"\n"), "file does not end with a newline"
lines = [json.loads(l) for l in data.decode().splitlines()]
assert all(isinstance(o, dict) for o in lines)
ids = [o["id"] for o in lines]
dup = sorted({i for i in ids if ids.count(i) > 1})
assert not dup, f"duplicate ids {dup}"
assert sorted(ids) == sorted(want), (sorted(set(want) - set(ids)), sorted(set(ids) - set(want)))
VOL = {"timings_ms", "tokens_per_second", "ms_per_token", "generate_ms"}
def strip(o):
    if isinstance(o, dict): return {k: strip(v) for k, v in o.items() if k not in VOL}
    if isinstance(o, list): return [strip(v) for v in o]
    return o
if ref:
    r = {o["id"]: strip(o) for o in map(json.loads, open(ref))}
    for o in lines:
        assert strip(o) == r[o["id"]], f"{o['id']} differs from the reference run"
print(len(lines))
EOF
check() { $PY "$W/check.py" "$@" > /dev/null || fail "check $*"; }

# 1. A full run: exit 3 (random weights: no answer parses, and one video is unreadable).
out=$(batch --manifest "$W/m.jsonl" --out "$W/full.jsonl" --progress-every 0 2>&1); rc=$?
[ $rc -eq 3 ] || fail "full run: exit $rc ($out)"
has "$out" "12/12 (100.0%)" "progress lines"
has "$out" "items/s" "progress lines"
check "$W/full.jsonl" "$W/m.jsonl"
$PY - "$W/full.jsonl" <<'EOF' || fail "line contents"
import json, sys
L = {o["id"]: o for o in map(json.loads, open(sys.argv[1]))}
b = L["bad"]
assert b["error_kind"] == "score" and "bad.mp4" in b["error"], b
assert b["human_scores"] == {"visual_quality": 1, "text_alignment": 2, "physical_consistency": 3}
o = L["item03"]
assert list(o)[0] == "id" and o["prompt"] == "prompt number 3" and o["video"].endswith("videos/b.mp4")
assert o["human_scores"] == {"visual_quality": 4, "text_alignment": 1, "physical_consistency": 3}, o["human_scores"]
assert o["error_kind"] == "no_parse" and o["error"].startswith("no scores: "), o
assert len(o["output_ids"]) == o["generated_tokens"] <= 6 and "scores" in o and "soft_scores" in o
EOF
# vs2 metrics on it: every line is an error line (random weights write no scores), so there is no
# figure to give: refused with the counts, not a table of zeros.
out=$("$VS2_BIN" metrics "$W/full.jsonl" --bench vs2_bench --json 2>&1); rc=$?
[ $rc -eq 1 ] || fail "vs2 metrics on a batch output without scores: exit $rc"
has "$out" "no scored items (0 read, 12 error lines" "vs2 metrics on a batch output"

# 1b. --batch-size: one video at a time and 5 at a time (answers decoded together, rounds that
# end mid-manifest, the unreadable video inside a round) give the lines of the default run (8).
for bs in 1 5; do
    out=$(batch --manifest "$W/m.jsonl" --out "$W/bs$bs.jsonl" --batch-size $bs 2>&1); rc=$?
    [ $rc -eq 3 ] || fail "--batch-size $bs: exit $rc ($out)"
    check "$W/bs$bs.jsonl" "$W/m.jsonl" "$W/full.jsonl"
done
out=$(batch --manifest "$W/m.jsonl" --out "$W/bs0.jsonl" --batch-size 0 2>&1); rc=$?
[ $rc -eq 2 ] || fail "--batch-size 0: exit $rc ($out)"
has "$out" "--batch-size" "--batch-size 0"

# 2. Resume: nothing to do, no new line, no model load needed (a missing model is not touched).
cp "$W/full.jsonl" "$W/r.jsonl"
out=$("$VS2_BIN" batch --model "$W/no-such-model" --manifest "$W/m.jsonl" --out "$W/r.jsonl" 2>&1); rc=$?
[ $rc -eq 3 ] || fail "resume with everything done: exit $rc ($out)"
has "$out" "12 of 12 items already done" "resume"
cmp -s "$W/full.jsonl" "$W/r.jsonl" || fail "resume changed a finished file"

# 3. Torn last line: drop 3 lines, append half of the 4th from the end; rerun redoes 4 items.
head -n $((N - 4)) "$W/full.jsonl" > "$W/r.jsonl"
sed -n "$((N - 3))p" "$W/full.jsonl" | head -c 200 >> "$W/r.jsonl"
out=$(batch --manifest "$W/m.jsonl" --out "$W/r.jsonl" 2>&1); rc=$?
[ $rc -eq 3 ] || fail "torn resume: exit $rc"
has "$out" "cut a torn last line (200 bytes)" "torn resume"
has "$out" "4 scored now" "torn resume"
check "$W/r.jsonl" "$W/m.jsonl" "$W/full.jsonl"
# A torn line that is complete JSON but lacks the newline is cut too, and so are zero bytes
# without a newline (what a power loss leaves of an append that was never synced).
head -n $((N - 1)) "$W/full.jsonl" > "$W/r.jsonl"; printf '\0\0\0\0' >> "$W/r.jsonl"
batch --manifest "$W/m.jsonl" --out "$W/r.jsonl" > /dev/null 2>&1
check "$W/r.jsonl" "$W/m.jsonl" "$W/full.jsonl"
head -n $((N - 1)) "$W/full.jsonl" > "$W/r.jsonl"; tail -n 1 "$W/full.jsonl" | head -c -1 >> "$W/r.jsonl"
out=$(batch --manifest "$W/m.jsonl" --out "$W/r.jsonl" 2>&1); rc=$?
has "$out" "cut a torn last line" "complete JSON without newline"
check "$W/r.jsonl" "$W/m.jsonl" "$W/full.jsonl"
# A complete (newline-terminated) last line that is not a result — a note someone added — is
# never cut: refused, naming the line, and the file is left as it was.
{ cat "$W/full.jsonl"; echo 'checked by hand: ok'; } > "$W/r.jsonl"; cp "$W/r.jsonl" "$W/r.before"
out=$(batch --manifest "$W/m.jsonl" --out "$W/r.jsonl" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "complete bad last line: exit $rc ($out)"
has "$out" "r.jsonl:$((N + 1)):" "complete bad last line"
has "$out" "not one a crash cut short" "complete bad last line"
cmp -s "$W/r.jsonl" "$W/r.before" || fail "a complete bad last line was changed"
# A bad line followed by valid lines is not a torn line: refused, naming the line.
{ head -n 2 "$W/full.jsonl"; echo '{"no id": 1}'; sed -n '3,5p' "$W/full.jsonl"; } > "$W/r.jsonl"
out=$(batch --manifest "$W/m.jsonl" --out "$W/r.jsonl" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "bad middle line: exit $rc"
has "$out" "r.jsonl:3: no string \"id\"" "bad middle line"

# 4. The lock: a second writer is refused while the first holds it.
rm -f "$W/l.jsonl"
if command -v flock > /dev/null; then
    out=$(flock "$W/l.jsonl.lock" "$VS2_BIN" batch --model "$CK" --manifest "$W/m.jsonl" --out "$W/l.jsonl" 2>&1); rc=$?
    [ $rc -eq 1 ] || fail "lock held: exit $rc"
    has "$out" "is being written by another process" "lock held"
fi

# 5. --retry-errors: error lines are removed and redone (still one line per id).
head -n 5 "$W/full.jsonl" > "$W/r.jsonl"
# The dry run says what the run will do: without --retry-errors the error lines count as done,
# with it they are listed with the rest.
n=$("$VS2_BIN" batch --manifest "$W/m.jsonl" --out "$W/r.jsonl" --dry-run 2> "$W/dry.err" | wc -l)
[ "$n" -eq 7 ] || fail "dry run without --retry-errors lists $n ids, not 7"
has "$(cat "$W/dry.err")" "7 to do (5 error lines in OUT are kept; --retry-errors redoes them)" "dry run"
"$VS2_BIN" batch --manifest "$W/m.jsonl" --out "$W/r.jsonl" --retry-errors --dry-run 2> "$W/dry.err" | sort > "$W/dry_ids.txt"
[ "$(wc -l < "$W/dry_ids.txt")" -eq 12 ] || fail "dry run with --retry-errors: $(wc -l < "$W/dry_ids.txt") ids, not 12"
has "$(cat "$W/dry.err")" "12 to do (5 error lines in OUT are retried)" "dry run --retry-errors"
out=$(batch --manifest "$W/m.jsonl" --out "$W/r.jsonl" --retry-errors 2>&1); rc=$?
has "$out" "removed 5 error lines" "--retry-errors"
has "$out" "12 scored now" "--retry-errors"
check "$W/r.jsonl" "$W/m.jsonl" "$W/full.jsonl"

# 6. Shards: 0/3, 1/3, 2/3 are disjoint, cover the manifest, and merge to the single run.
for k in 0 1 2; do
    batch --manifest "$W/m.jsonl" --out "$W/s$k.jsonl" --shard $k/3 > /dev/null 2>&1; rc=$?
    [ $rc -eq 0 ] || [ $rc -eq 3 ] || fail "shard $k: exit $rc"
    "$VS2_BIN" batch --manifest "$W/m.jsonl" --shard $k/3 --dry-run > "$W/d$k.txt" 2> /dev/null || fail "dry run $k"
done
$PY - "$W" "$W/m.jsonl" <<'EOF' || fail "shard partition"
import json, sys
w = sys.argv[1]
want = [json.loads(l)["id"] for l in open(sys.argv[2])]
def fnv(s):
    h = 0xcbf29ce484222325
    for c in s.encode(): h = ((h ^ c) * 0x100000001b3) & (2**64 - 1)
    return h
got = []
for k in range(3):
    ids = [json.loads(l)["id"] for l in open(f"{w}/s{k}.jsonl")]
    assert all(fnv(i) % 3 == k for i in ids), (k, ids)
    assert sorted(ids) == sorted(l.strip() for l in open(f"{w}/d{k}.txt")), k   # dry run = what ran
    got += ids
assert sorted(got) == sorted(want), got
EOF
out=$("$VS2_BIN" merge --out "$W/merged.jsonl" --manifest "$W/m.jsonl" "$W/s2.jsonl" "$W/s0.jsonl" "$W/s1.jsonl" 2>&1); rc=$?
[ $rc -eq 0 ] || fail "merge: exit $rc ($out)"
check "$W/merged.jsonl" "$W/m.jsonl" "$W/full.jsonl"
$PY -c 'import json,sys; a=[json.loads(l)["id"] for l in open(sys.argv[1])]; b=[json.loads(l)["id"] for l in open(sys.argv[2])]; assert a==b' \
    "$W/merged.jsonl" "$W/m.jsonl" || fail "merge with --manifest keeps the manifest order"
# Dry runs after the shards: nothing left to do.
[ -z "$("$VS2_BIN" batch --manifest "$W/m.jsonl" --out "$W/s1.jsonl" --shard 1/3 --dry-run 2>/dev/null)" ] || fail "dry run after shard"

# 7. Merge refuses duplicates (nothing written) and reports gaps (exit 3).
rm -f "$W/dup.jsonl"
out=$("$VS2_BIN" merge --out "$W/dup.jsonl" "$W/s0.jsonl" "$W/s1.jsonl" "$W/s0.jsonl" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "merge duplicates: exit $rc"
has "$out" "duplicate id '" "merge duplicates"
has "$out" "s0.jsonl:1 and $W/s0.jsonl:1" "merge duplicates names the files and lines"
[ -e "$W/dup.jsonl" ] && fail "merge wrote an output despite duplicates"
out=$("$VS2_BIN" merge --out "$W/gap.jsonl" --manifest "$W/m.jsonl" "$W/s0.jsonl" "$W/s1.jsonl" 2>&1); rc=$?
[ $rc -eq 3 ] || fail "merge gaps: exit $rc"
ngap=$(grep -c '^vs2 merge: gap: ' <<<"$out")
[ "$ngap" -eq "$(wc -l < "$W/s2.jsonl")" ] || fail "merge gaps: $ngap reported ($out)"
has "$out" "$(wc -l < "$W/s2.jsonl") gaps" "merge gaps summary"
# A torn last line in a shard is ignored with a warning (it is not a result).
cp "$W/s0.jsonl" "$W/t0.jsonl"; printf '{"id":"item' >> "$W/t0.jsonl"
out=$("$VS2_BIN" merge "$W/t0.jsonl" "$W/s1.jsonl" "$W/s2.jsonl" 2>&1 > "$W/m2.jsonl"); rc=$?
[ $rc -eq 0 ] || fail "merge torn shard: exit $rc"
has "$out" "torn" "merge torn shard"
check "$W/m2.jsonl" "$W/m.jsonl" "$W/full.jsonl"
# The shard split on the paper's 499-item file (ids only, no model): each id in exactly one shard.
PUB="$VS2_SOURCE_DIR/tests/data/videoscore2/vs2_bench__released_model_normed_soft__499items.json"
for k in 0 1 2 3; do "$VS2_BIN" batch --manifest "$PUB" --format vs2_bench --shard $k/4 --dry-run 2>/dev/null; done | sort > "$W/pub_shards.txt"
"$VS2_BIN" batch --manifest "$PUB" --format vs2_bench --dry-run 2>/dev/null | sort > "$W/pub_all.txt"
[ "$(wc -l < "$W/pub_all.txt")" -ge 499 ] && cmp -s "$W/pub_shards.txt" "$W/pub_all.txt" || fail "published file shards"

# 8. Duplicate ids in the manifest: an error naming both lines.
{ cat "$W/m.jsonl"; sed -n 2p "$W/m.jsonl"; } > "$W/dupm.jsonl"
out=$(batch --manifest "$W/dupm.jsonl" --out "$W/x.jsonl" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "duplicate manifest id: exit $rc"
has "$out" "dupm.jsonl:13: duplicate id 'item02' (first at line 2)" "duplicate manifest id"

# 9. CSV manifest with --video-root.
printf 'id,video,prompt,visual_quality,text_alignment,physical_consistency\nc1,a.mp4,"a, prompt",4,4,4\nc2,b.mp4,other,1,2,3\n' > "$W/m.csv"
batch --manifest "$W/m.csv" --video-root "$W/videos" --out "$W/c.jsonl" > /dev/null 2>&1
$PY - "$W/c.jsonl" <<'EOF' || fail "CSV manifest"
import json, sys
L = [json.loads(l) for l in open(sys.argv[1])]
assert [o["id"] for o in L] == ["c1", "c2"] and all("output_ids" in o for o in L), L
assert L[0]["prompt"] == "a, prompt" and L[1]["human_scores"]["physical_consistency"] == 3
EOF

# 10. Groups (Best-of-N): one ranked line per group; resume at group granularity.
printf '{"id":"g1","prompt":"a ball","videos":["videos/a.mp4","videos/b.mp4","videos/a.mp4"]}\n{"group_idx":7,"text":"q","videos":["videos/b.mp4","videos/bad.mp4"]}\n' > "$W/g.jsonl"
out=$(batch --groups --manifest "$W/g.jsonl" --out "$W/g.out.jsonl" 2>&1); rc=$?
[ $rc -eq 3 ] || fail "groups: exit $rc ($out)"
$PY - "$W/g.out.jsonl" <<'EOF' || fail "group lines"
import json, sys
L = [json.loads(l) for l in open(sys.argv[1])]
assert [o["id"] for o in L] == ["g1", "7"], L
g = L[0]
assert g["by"] == "hard" and g["ranking"] == [0, 1, 2] and g["best"] is None and len(g["candidates"]) == 3
c = g["candidates"][1]
assert c["index"] == 1 and c["rank"] == 2 and c["key"] is None and c["video"].endswith("videos/b.mp4")
assert set(c) >= {"scores", "scores_robust", "soft_scores", "soft_scores_expected", "parse_error", "generated_tokens"}
assert g["error"] == "no candidate has scores to rank by"
h = L[1]
assert "bad.mp4" in h["candidates"][1]["error"] and "1 of 2 candidates" in h["error"], h
EOF
out=$(batch --groups --manifest "$W/g.jsonl" --out "$W/g.out.jsonl" 2>&1)
has "$out" "2 of 2 items already done" "groups resume"

# 11. A folder in, a table out: videos from a directory or a glob, prompts from --prompt, a
# prompts CSV or sidecar files; missing prompts and unreadable paths stop before the model loads.
mkdir -p "$W/side" && cp "$W/videos/a.mp4" "$W/videos/b.mp4" "$W/side/"
out=$(batch "$W/side" --out "$W/side.jsonl" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "folder without prompts: exit $rc"
has "$out" "2 of 2 videos have no prompt" "folder without prompts"
[ ! -e "$W/side.jsonl" ] || fail "folder without prompts wrote output"
printf 'the sidecar prompt\n' > "$W/side/a.txt"; printf 'prompt of b\n' > "$W/side/b.mp4.txt"
out=$(batch "$W/side" -o "$W/side.jsonl" --csv "$W/side.csv" 2>&1); rc=$?
[ $rc -eq 3 ] || fail "folder with sidecars: exit $rc ($out)"   # the tiny model writes no scores
has "$out" "wrote $W/side.csv (2 rows)" "--csv"
$PY - "$W/side.jsonl" "$W/side.csv" <<'EOF' || fail "folder with sidecars: lines"
import csv, json, sys
L = {o["id"]: o for o in map(json.loads, open(sys.argv[1]))}
assert L["a"]["prompt"] == "the sidecar prompt" and L["b"]["prompt"] == "prompt of b", L
rows = list(csv.DictReader(open(sys.argv[2])))
assert [r["id"] for r in rows] == ["a", "b"] and rows[0]["prompt"] == "the sidecar prompt", rows
assert {"visual_quality", "soft_visual_quality", "soft_expected_physical_consistency", "error"} <= set(rows[0]), rows[0]
EOF
printf 'video,prompt\nvideos/a.mp4,"from the csv, a"\nb.mp4,from the csv b\n' > "$W/prompts.csv"
"$VS2_BIN" batch "$W/videos/[ab].mp4" --prompts "$W/prompts.csv" --out "$W/glob.jsonl" --dry-run > "$W/glob_ids.txt" 2>&1 \
  || fail "glob dry run"
has "$(cat "$W/glob_ids.txt")" "2 to do" "glob dry run"
out=$(batch "$W/videos/[ab].mp4" --prompts "$W/prompts.csv" --out "$W/glob.jsonl" 2>&1)
$PY - "$W/glob.jsonl" <<'EOF' || fail "glob with a prompts CSV"
import json, sys
L = {o["id"]: o["prompt"] for o in map(json.loads, open(sys.argv[1]))}
assert L == {"a": "from the csv, a", "b": "from the csv b"}, L
EOF
n=$("$VS2_BIN" batch "$W/videos" --prompt "one for all" --out "$W/all.jsonl" --dry-run 2>/dev/null | wc -l)
[ "$n" -eq 3 ] || fail "directory with --prompt: $n ids, not 3"
out=$(batch "$W/nothing-here/*.mp4" --prompt x --out "$W/none.jsonl" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "empty glob: exit $rc"
has "$out" "no file matches the pattern" "empty glob"
printf '{"id":"t1","video":"videos/typo.mp4","prompt":"x"}\n' > "$W/typo.jsonl"
out=$("$VS2_BIN" batch --manifest "$W/typo.jsonl" --out "$W/typo.out.jsonl" --model "$W/no-such-model" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "unreadable video: exit $rc"
has "$out" "none of the 1 videos to do can be read; no model loaded" "unreadable video before the model"
case "$out" in *no-such-model*) fail "the model was resolved before the video was checked: $out";; esac

# 12. Usage errors: exit 2.
for args in "--manifest $W/m.jsonl" "--out $W/x.jsonl" "--manifest $W/m.jsonl --out $W/x.jsonl --shard 3/3" \
            "--manifest $W/m.jsonl --out $W/x.jsonl --shard 1" "--manifest $W/m.jsonl --out $W/x.jsonl --format nope" \
            "--manifest $W/m.jsonl --out $W/x.jsonl --bogus" "--manifest $W/m.jsonl --out $W/x.jsonl --by weighted" \
            "--manifest $W/m.jsonl $W/videos --out $W/x.jsonl" "$W/videos --prompt x --prompts $W/prompts.csv --out $W/x.jsonl" \
            "$W/videos --prompt x --out $W/x.jsonl --temperature 0 --samples 3"; do
    "$VS2_BIN" batch $args > /dev/null 2>&1; rc=$?
    [ $rc -eq 2 ] || fail "usage '$args': exit $rc"
done
"$VS2_BIN" merge > /dev/null 2>&1; [ $? -eq 2 ] || fail "merge without inputs"
"$VS2_BIN" merge --out "$W/s0.jsonl" "$W/s0.jsonl" > /dev/null 2>&1; [ $? -eq 2 ] || fail "merge onto an input"
"$VS2_BIN" batch --help | grep -q -- "--shard K/N" || fail "batch --help"

[ $fails -eq 0 ] && echo "t_batch: all checks passed"
[ $fails -eq 0 ]
