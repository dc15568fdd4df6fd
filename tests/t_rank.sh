#!/usr/bin/env bash
# t_rank.sh — `vs2 rank` end to end on the tiny random-weight checkpoint (fixture
# vs2_engine_ckpt): structure of the table and of --json (every candidate's full result, rank,
# key), candidates without scores ranked last in index order, an unreadable candidate, --by and
# --weights, usage errors. Random weights never produce scores, so the ranking rule itself
# (mean of the hard scores, ties to the first index) is tested on crafted results in test_rank.c.
# Exits 77 (skipped) without ffmpeg.
set -u
: "${VS2_BIN:?run through ctest}" "${VS2_TEST_TMP:?run through ctest}"
command -v ffmpeg >/dev/null || { echo "ffmpeg not found: skipped"; exit 77; }
PY=${PYTHON3:-python3}
CK="$VS2_TEST_TMP/ckpt/engine"
W="$VS2_TEST_TMP/t_rank"
rm -rf "$W"; mkdir -p "$W"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
has() { grep -qF -- "$2" <<<"$1" || fail "$3: output lacks '$2': $1"; }
ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=56x56:rate=4 -t 1 -pix_fmt yuv420p "$W/a.mp4" || { fail ffmpeg; exit 1; }
ffmpeg -loglevel error -y -f lavfi -i mandelbrot=size=56x56:rate=4 -t 1 -pix_fmt yuv420p "$W/b.mp4" || { fail ffmpeg; exit 1; }
printf 'nope' > "$W/bad.mp4"
rank() { "$VS2_BIN" rank --model "$CK" --max-new-tokens 5 --threads 1 --prompt "a red ball" "$@"; }

out=$(rank "$W/a.mp4" "$W/b.mp4" "$W/a.mp4" 2>&1); rc=$?
[ $rc -eq 3 ] || fail "table: exit $rc (no candidate has scores: 3)"
has "$out" "rank  index  mean" "table header"
has "$out" "   1      0  -" "table: no key keeps index order"
has "$out" "   3      2  -" "table"
has "$out" "ranked by hard scores, mean of three" "table footer"

rank --json "$W/a.mp4" "$W/bad.mp4" "$W/b.mp4" > "$W/r.json" 2> "$W/r.err"; rc=$?
[ $rc -eq 3 ] || fail "--json: exit $rc"
grep -q "candidate 1: .*bad.mp4" "$W/r.err" || fail "--json: the bad candidate is named on stderr"
$PY - "$W/r.json" <<'EOF' || fail "--json structure"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["prompt"] == "a red ball" and r["by"] == "hard" and r["weights"] is None
assert r["best"] is None and r["ranking"] == [0, 1, 2], r["ranking"]   # no keys: index order
c = r["candidates"]
assert [x["index"] for x in c] == [0, 1, 2] and [x["rank"] for x in c] == [1, 2, 3]
assert "bad.mp4" in c[1]["error"] and "result" not in c[1]
for x in (c[0], c[2]):
    res = x["result"]
    assert x["key"] is None and res["prompt"] == "a red ball" and "output_ids" in res and "scores" in res
assert c[0]["result"]["output_ids"] == json.load(open(sys.argv[1]))["candidates"][0]["result"]["output_ids"]
EOF

out=$(rank --json --by soft --weights 1,0,0.5 "$W/b.mp4" 2>/dev/null)
$PY -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["by"]=="soft" and r["weights"]==[1,0,0.5], r' "$out" || fail "--by/--weights"
# Same video twice: identical results (greedy), both keyless, ranking keeps index order.
rank --json "$W/a.mp4" "$W/a.mp4" 2>/dev/null | $PY -c '
import json,sys; r=json.load(sys.stdin); a,b=r["candidates"]
assert a["result"]["output_ids"]==b["result"]["output_ids"] and r["ranking"]==[0,1]' || fail "duplicate candidates"

# A directory stands for its videos (name order: a.mp4, b.mp4, bad.mp4); a candidate that does not
# exist, or a blank prompt, stops the run before the model is looked at.
rank --json "$W" > "$W/dir.json" 2>/dev/null
$PY -c 'import json,sys; r=json.load(open(sys.argv[1])); v=[c["video"].split("/")[-1] for c in r["candidates"]]; assert v==["a.mp4","b.mp4","bad.mp4"], v' "$W/dir.json" \
  || fail "directory of candidates"
out=$("$VS2_BIN" rank --model "$W/no-such-model" --prompt x "$W/a.mp4" "$W/typo.mp4" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "missing candidate: exit $rc"
has "$out" "typo.mp4" "missing candidate"
case "$out" in *no-such-model*) fail "the model was looked at before the candidates: $out";; esac
out=$("$VS2_BIN" rank --model "$W/no-such-model" -p "" "$W/a.mp4" 2>&1); rc=$?
[ $rc -eq 1 ] && has "$out" "the text prompt is empty" "blank prompt"

for args in "" "--prompt x" "--weights 1,2 $W/a.mp4" "--by foo $W/a.mp4" "--by weighted $W/a.mp4" "--bogus $W/a.mp4"; do
    "$VS2_BIN" rank --model "$CK" $args > /dev/null 2>&1; rc=$?
    [ $rc -eq 2 ] || fail "usage '$args': exit $rc"
done
"$VS2_BIN" rank --help | grep -q -- "--weights" || fail "--help"

[ $fails -eq 0 ] && echo "t_rank: all checks passed"
[ $fails -eq 0 ]
