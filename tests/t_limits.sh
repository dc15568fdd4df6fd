#!/usr/bin/env bash
# t_limits.sh — limits that must be refused with their cause named (docs/reliability.md), on the
# tiny engine checkpoint (fixture vs2_engine_ckpt):
#   a sequence past max_position_embeddings, or past the KV cache's memory budget, refused before
#   any forward pass with both numbers; a 1 MB prompt refused in seconds; config.json's
#   video_token_id differing from the tokenizer's <|video_pad|> refused at load; a file-size limit
#   (SIGXFSZ) in vs2 batch reported as an error naming the file; vs2 frames --png FILE where FILE
#   is not a directory. Exits 77 (skipped) without ffmpeg.
set -u
: "${VS2_BIN:?run through ctest}" "${VS2_TEST_TMP:?run through ctest}"
command -v ffmpeg >/dev/null || { echo "ffmpeg not found: skipped"; exit 77; }
PY=${PYTHON3:-python3}
CK="$VS2_TEST_TMP/ckpt/engine"
WORK="$VS2_TEST_TMP/t_limits"
rm -rf "$WORK"; mkdir -p "$WORK"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
contains() { grep -qF -- "$2" <<<"$1" || fail "$3: output lacks '$2': $1"; }
ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=112x112:rate=8 -t 1 -pix_fmt yuv420p "$WORK/v.mp4" || { fail "ffmpeg"; exit 1; }
V="$WORK/v.mp4"

# A copy of the checkpoint with config.json edited (weights and tokenizer linked).
variant() {
    local name=$1; shift
    mkdir -p "$WORK/$name"
    for f in "$CK"/*; do ln -sf "$f" "$WORK/$name/"; done
    rm "$WORK/$name/config.json"
    "$PY" - "$CK/config.json" "$WORK/$name/config.json" "$@" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
for kv in sys.argv[3:]:
    k, v = kv.split("=")
    c[k] = int(v)
json.dump(c, open(sys.argv[2], "w"))
EOF
}

# 1. max_position_embeddings: the prompt (with its video tokens) is longer than 100.
variant short max_position_embeddings=100
out=$("$VS2_BIN" score --model "$WORK/short" --video "$V" --prompt "a ball" --max-new-tokens 10 2>&1); rc=$?
[ $rc -eq 1 ] || fail "past max_position_embeddings: exit $rc"
contains "$out" "more than the model's max_position_embeddings 100" "max_position_embeddings"
contains "$out" "of them video) and up to 10 more may be generated" "max_position_embeddings"

# 2. A 1 MB prompt of words (about 220k tokens) is refused by the same check, in seconds, not minutes.
yes "a red ball rolls slowly across the wooden table" | head -c 1000000 > "$WORK/big_prompt.txt"
start=$(date +%s)
out=$("$VS2_BIN" score --model "$CK" --video "$V" --prompt-file "$WORK/big_prompt.txt" --max-new-tokens 10 2>&1); rc=$?
took=$(( $(date +%s) - start ))
[ $rc -eq 1 ] || fail "1 MB prompt: exit $rc"
contains "$out" "more than the model's max_position_embeddings 128000" "1 MB prompt"
[ $took -le 180 ] || fail "1 MB prompt took ${took}s to refuse" # seconds (3 s here), not the minutes of a prefill

# 3. The KV-cache budget: 2^20 new tokens need 512 MiB of fp32 cache in this tiny model (2 layers ×
# 2 kv heads × 16 × 2 × 4 bytes a token; --backend ref), more than half of a 768 MiB address-space
# limit; the default set (a bf16 cache where the CPU has the int8 set: 256 MiB) under a 384 MiB limit.
# timeout: a budget check that let the run through would generate for hours.
variant long max_position_embeddings=16777216
# (Not in a sanitizer build: its shadow memory needs terabytes of address space.)
if command -v prlimit >/dev/null && ! grep -qa AddressSanitizer "$VS2_BIN" && ! ldd "$VS2_BIN" | grep -q libasan; then
    for run in "ref 768 0.403" "auto 384 0.201"; do
        set -- $run
        out=$(timeout 120 prlimit --as=$(($2 << 20)) -- "$VS2_BIN" score --model "$WORK/long" --video "$V" \
              --prompt "a ball" --threads 1 --backend "$1" --max-new-tokens 1048576 2>&1); rc=$?
        [ $rc -eq 1 ] || fail "KV budget ($1): exit $rc ($out)"
        contains "$out" "more than its budget of $3 GB (half of the address-space limit, ulimit -v)" "KV budget ($1)"
    done
fi

# 4. video_token_id that is not the tokenizer's <|video_pad|> (151656): refused at load.
variant wrongpad video_token_id=151655
out=$("$VS2_BIN" score --model "$WORK/wrongpad" --video "$V" --prompt "a ball" --max-new-tokens 4 2>&1); rc=$?
[ $rc -eq 1 ] || fail "video_token_id mismatch: exit $rc"
contains "$out" "video_token_id = 151655, but the tokenizer (tokenizer.json) gives <|video_pad|> the id 151656" "video_token_id"

# 5. A file-size limit: vs2 batch reports the failed write by file instead of dying of SIGXFSZ.
printf '{"id":"a","video":"%s","prompt":"a ball"}\n{"id":"b","video":"%s","prompt":"a ball"}\n' "$V" "$V" > "$WORK/m.jsonl"
out=$(ulimit -f 1; "$VS2_BIN" batch --model "$CK" --manifest "$WORK/m.jsonl" --out "$WORK/r.jsonl" \
      --max-new-tokens 600 --threads 1 2>&1); rc=$?
[ $rc -eq 1 ] || fail "SIGXFSZ: exit $rc (153 = killed by the signal): $out"
contains "$out" "r.jsonl" "SIGXFSZ"
contains "$out" "File too large" "SIGXFSZ"

# 6. vs2 frames --png FILE where FILE is a file: named before any decoding.
: > "$WORK/not_a_dir"
out=$("$VS2_BIN" frames "$V" --png "$WORK/not_a_dir" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "--png FILE: exit $rc"
contains "$out" "not_a_dir: exists and is not a directory (--png takes a directory)" "--png FILE"

if [ $fails -ne 0 ]; then echo "$fails failures"; exit 1; fi
echo "t_limits: all checks passed"
