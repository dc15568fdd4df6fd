#!/usr/bin/env bash
# The int8 weight cache (src/weight_cache.c): a first load writes the file, a second maps it
# and scores identically; a damaged or stale file is not used (the weights are quantised
# again, same result); "off" writes nothing; the model directory is never written.
set -euo pipefail
: "${VS2_BIN:?}" "${VS2_BUILD_DIR:?}"
command -v ffmpeg >/dev/null || { echo "skip: no ffmpeg"; exit 77; }
CK=$VS2_BUILD_DIR/test-tmp/ckpt/engine
W=$VS2_BUILD_DIR/test-tmp/weight_cache
rm -rf "$W" && mkdir -p "$W"
ffmpeg -loglevel error -f lavfi -i testsrc2=size=160x120:rate=4 -t 2 -pix_fmt yuv420p "$W/clip.mp4"
pass=0 fail=0
check() { if eval "$2"; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }
score() { "$VS2_BIN" score --model "$CK" --video "$W/clip.mp4" --prompt "a clock" --max-new-tokens 8 \
            --backend q8 --threads 2 --json --verbose "$@"; }
before=$(find "$CK" -type f -newer "$W/clip.mp4" | wc -l)
score --weight-cache "$W/c" > "$W/1.json" 2> "$W/1.err"
check "first load prepares and writes the cache" "grep -q 'preparing .* weights, to be kept in' '$W/1.err' && ls '$W'/c/*.q8-* >/dev/null"
score --weight-cache "$W/c" > "$W/2.json" 2> "$W/2.err"
check "second load maps the cache" "grep -q 'weights from $W/c/' '$W/2.err'"
strip() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r.pop("timings_ms"); [r.pop(k,None) for k in ("tokens_per_second","ms_per_token")]; print(json.dumps(r,sort_keys=True))' "$1"; }
check "same result from the cache" "[ \"\$(strip '$W/1.json')\" = \"\$(strip '$W/2.json')\" ]"
f=$(ls "$W"/c/*.q8-*)
printf 'garbage' | dd of="$f" bs=1 seek=0 conv=notrunc status=none
score --weight-cache "$W/c" > "$W/3.json" 2> "$W/3.err"
check "a damaged file is not used, then rewritten" "grep -q 'preparing' '$W/3.err' && [ \"\$(strip '$W/1.json')\" = \"\$(strip '$W/3.json')\" ]"
score --weight-cache "$W/c" > /dev/null 2> "$W/4.err"
check "the rewritten file is used" "grep -q 'weights from' '$W/4.err'"
truncate -s 8192 "$f"
score --weight-cache "$W/c" > "$W/5.json" 2> "$W/5.err"
check "a truncated file is not used" "grep -q 'preparing' '$W/5.err' && [ \"\$(strip '$W/1.json')\" = \"\$(strip '$W/5.json')\" ]"
score --weight-cache off > /dev/null 2> "$W/6.err"
check "off: no cache" "! grep -q 'kept in' '$W/6.err'"
VS2_CACHE_DIR="$W/envdir" score > /dev/null 2> "$W/7.err"
check "VS2_CACHE_DIR is the default place" "ls '$W'/envdir/*.q8-* >/dev/null"
after=$(find "$CK" -type f -newer "$W/clip.mp4" | wc -l)
check "the model directory is not written" "[ $before = $after ]"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
