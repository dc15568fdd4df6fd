#!/usr/bin/env bash
# t_inspect.sh — `vs2 inspect` on the tiny checkpoints of the vs2_tiny_ckpt fixture: the text
# summary, the --json facts against the generator's tensors.json, the real 7B parameter counts,
# a broken directory listing all its problems (exit 1), and usage errors (exit 2).
set -u
: "${VS2_BIN:?run through ctest}" "${VS2_TEST_TMP:?run through ctest}"
CK="$VS2_TEST_TMP/ckpt"
WORK="$VS2_TEST_TMP/t_inspect"
PY=${PYTHON3:-python3}
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
contains() { grep -qF -- "$2" <<<"$1" || fail "output lacks '$2'"; }

# 1. Text summary of a clean checkpoint: exit 0, the facts a person needs.
out=$("$VS2_BIN" inspect "$CK/hub_bf16"); rc=$?
[ $rc -eq 0 ] || fail "hub_bf16: exit $rc"
contains "$out" "model type:     qwen2_5_vl (config.json layout: hub)"
contains "$out" "2 layers, hidden 64, 4 heads (2 kv, head_dim 16)"
contains "$out" "patch 14, temporal_patch 2, merge 2, window 112"
contains "$out" "video_pad 151656"
contains "$out" "eos [151645, 151643]"
contains "$out" "tokenizer.json present, tokenizer_config.json present"
contains "$out" "1 shard, 81 tensors, tensor names: hub"
contains "$out" "bytes by dtype: BF16 "
contains "$out" "problems:       none"

# 2. Nested layout, new names, 3 f32 shards.
out=$("$VS2_BIN" inspect "$CK/nested_f32_new"); rc=$?
[ $rc -eq 0 ] || fail "nested_f32_new: exit $rc"
contains "$out" "(config.json layout: nested)"
contains "$out" "3 shards, 81 tensors, tensor names: new"
contains "$out" "bytes by dtype: F32 "

# 3. Tied, no generation_config.json.
out=$("$VS2_BIN" inspect "$CK/nested_bf16_tied"); rc=$?
[ $rc -eq 0 ] || fail "nested_bf16_tied: exit $rc"
contains "$out" "transformers defaults (no generation_config.json)"
contains "$out" "head 0, total"
contains "$out" "(head tied to embed_tokens)"

# 4. The real 7B geometry: the counts of docs/qwen2.5-vl.md §1.1.
out=$("$VS2_BIN" inspect "$CK/full"); rc=$?
[ $rc -eq 0 ] || fail "full: exit $rc"
contains "$out" "parameters:     vision 676,550,144, language 7,070,619,136, head 544,997,376, total 8,292,166,656"
contains "$out" "5 shards, 729 tensors"
contains "$out" "BF16 16,584,333,312"
contains "$out" "28 layers, hidden 3584, 28 heads (4 kv, head_dim 128), intermediate 18944"
contains "$out" "full attention at [7, 15, 23, 31]"

# 5. --json: one object; every tensor's metadata equals the generator's record.
for ck in hub_bf16 nested_f32_new hub_f16_2 nested_bf16_tied full; do
  "$VS2_BIN" inspect "$CK/$ck" --json >"$VS2_TEST_TMP/inspect_$ck.json" || fail "$ck --json: exit $?"
  "$PY" - "$VS2_TEST_TMP/inspect_$ck.json" "$CK/$ck/tensors.json" <<'EOF' || fail "$ck: --json differs from tensors.json"
import json, sys
got = json.load(open(sys.argv[1]))
man = json.load(open(sys.argv[2]))
keys = ("name", "stored_name", "file", "dtype", "shape", "offset", "nbytes")
a = sorted(tuple(json.dumps(t[k]) for k in keys) for t in got["tensors"])
b = sorted(tuple(json.dumps(t[k]) for k in keys) for t in man["tensors"])
assert a == b, "tensor lists differ"
assert got["ok"] is True and got["problems"] == [], got["problems"]
assert got["n_tensors"] == man["n_tensors"] and got["n_shards"] == man["n_shards"]
assert got["parameters"]["total"] == man["parameters"]
assert sum(got["bytes_by_dtype"].values()) == man["total_bytes"]
assert got["special_tokens"]["video_token_id"] == 151656
assert got["config_layout"] == man["layout"]
EOF
done

# 6. A broken directory: every problem is listed, exit 1, and --json says ok=false.
rm -rf "$WORK" && mkdir -p "$WORK/broken"
cp "$CK/hub_f16_2"/*.json "$WORK/broken/"
cp "$CK/hub_f16_2/model-00001-of-00002.safetensors" "$WORK/broken/"
rm "$WORK/broken/tokenizer.json"
"$PY" - "$WORK/broken/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1])); c["vision_config"]["fullatt_block_indexes"] = [1, 9]
json.dump(c, open(sys.argv[1], "w"))
EOF
out=$("$VS2_BIN" inspect "$WORK/broken"); rc=$?
[ $rc -eq 1 ] || fail "broken: exit $rc, want 1"
contains "$out" "problems:       3"
contains "$out" "fullatt_block_indexes[1] = 9 is not below depth 4"
contains "$out" "tokenizer.json: cannot open"
contains "$out" "model-00002-of-00002.safetensors: cannot open shard named by model.safetensors.index.json"
"$VS2_BIN" inspect "$WORK/broken" --json | "$PY" -c '
import json, sys; d = json.load(sys.stdin); assert d["ok"] is False and len(d["problems"]) == 3, d["problems"]' \
  || fail "broken --json"

# 6b. Absurd sizes: refused by their bound at once; a large but bounded layer count lists at most
# 1000 problems and says how many more there were (memory stays bounded).
mkdir -p "$WORK/layers"
cp "$CK/hub_bf16"/* "$WORK/layers/"
setcfg() { "$PY" - "$WORK/layers/config.json" "$@" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1])); c[sys.argv[2]] = int(sys.argv[3]); json.dump(c, open(sys.argv[1], "w"))
EOF
}
setcfg num_hidden_layers 2147483647
out=$(timeout 20 "$VS2_BIN" inspect "$WORK/layers"); rc=$?
[ $rc -eq 1 ] || fail "2^31-1 layers: exit $rc"
contains "$out" "\"num_hidden_layers\" = 2147483647 is out of range [1, 1024]"
setcfg num_hidden_layers 1024
LIMIT=(prlimit --as=$((1 << 30)) --) # not in a sanitizer build: its shadow memory needs terabytes
if grep -qa AddressSanitizer "$VS2_BIN" || ldd "$VS2_BIN" | grep -q libasan || ! command -v prlimit >/dev/null; then LIMIT=(); fi
out=$(timeout 60 "${LIMIT[@]}" "$VS2_BIN" inspect "$WORK/layers" 2>/dev/null); rc=$?
[ $rc -eq 1 ] || fail "1024 layers: exit $rc"
contains "$out" "problems:       12264"
contains "$out" "... and 11264 more problems (only the first 1000 are listed)"
[ "$(grep -c '^  - ' <<<"$out")" -eq 1001 ] || fail "1024 layers: not 1000 problems listed"
"$VS2_BIN" inspect "$WORK/layers" --json 2>/dev/null | "$PY" -c '
import json, sys; d = json.load(sys.stdin); assert len(d["problems"]) == 1000 and d["problems_omitted"] == 11264, d["problems_omitted"]' \
  || fail "1024 layers --json"

# 6c. A FIFO in place of any model file is refused by name, never waited on.
for f in config.json generation_config.json tokenizer.json model.safetensors; do
  rm -rf "$WORK/fifo" && mkdir -p "$WORK/fifo" && cp "$CK/hub_bf16"/* "$WORK/fifo/"
  rm "$WORK/fifo/$f" && mkfifo "$WORK/fifo/$f"
  out=$(timeout 20 "$VS2_BIN" inspect "$WORK/fifo"); rc=$?
  [ $rc -eq 1 ] || fail "FIFO $f: exit $rc (124 = it blocked)"
  contains "$out" "$f: is a FIFO (named pipe), not a regular file"
done

# 7. Missing directory: one error line, no half summary before it; a repo id not in the cache
# is looked up there (never downloaded) and named.
out=$("$VS2_BIN" inspect "$WORK/nope" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "missing dir: exit $rc"
contains "$out" "$WORK/nope: no such directory"
[ "$(grep -c . <<<"$out")" -eq 1 ] || fail "missing dir: more than the error: $out"
mkdir -p "$WORK/empty-cache"
out=$(HF_HUB_CACHE="$WORK/empty-cache" "$VS2_BIN" inspect someone/model 2>&1); rc=$?
[ $rc -eq 1 ] || fail "repo id not cached: exit $rc"
contains "$out" "not a repo id in the local Hugging Face cache"

# 8. Usage.
"$VS2_BIN" inspect >/dev/null 2>&1; rc=$?; [ $rc -eq 2 ] || fail "no args: exit $rc"
"$VS2_BIN" inspect a b >/dev/null 2>&1; rc=$?; [ $rc -eq 2 ] || fail "two dirs: exit $rc"
"$VS2_BIN" inspect --bogus x >/dev/null 2>&1; rc=$?; [ $rc -eq 2 ] || fail "bad option: exit $rc"
"$VS2_BIN" inspect --help | grep -q "usage: vs2 inspect" || fail "--help"

if [ $fails -ne 0 ]; then echo "$fails failures"; exit 1; fi
echo "t_inspect: all checks passed"
