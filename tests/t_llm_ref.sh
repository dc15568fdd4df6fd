#!/bin/bash
# t_llm_ref.sh — the language model against independent PyTorch references (fp32 both sides):
#   positions: tools/torch_ref/rope_ref.py (get_rope_index, transformers 4.53.2 semantics) on 300
#              random sequences with 0-3 videos and assorted second_per_grid_t, plus the torch
#              inv_freq tables — exact;
#   forward:   tools/torch_ref/llm_ref.py on the real T-EVAL chat prompt with an uneven merged
#              grid (3 × 6 × 10 → 3 × 3 × 5) and random video embeddings, for every tiny fixture
#              checkpoint (bf16, f32 with new names, f16 sharded, bf16 tied) and a "sharp"
#              copy of hub_bf16 with strong attention (see below): the hidden states
#              after the embedding, each layer and the final norm, and the last 16 rows of
#              logits, within 1e-4 of each stage's scale (test_llm.c explains the tolerance).
# Skips (77) without Debian's python3-torch.
set -euo pipefail
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if ! "$PY" -c 'import torch' 2>/dev/null; then
  echo "python3-torch not available: skipping"
  exit 77
fi
SRC=${VS2_SOURCE_DIR:?}
BIN=${VS2_BUILD_DIR:?}/tests
WORK=${VS2_TEST_TMP:?}/llm_ref
rm -rf "$WORK"
mkdir -p "$WORK"

"$PY" "$SRC/tools/torch_ref/rope_ref.py" --cases "$WORK/rope_cases.txt" --seed 5 --count 300
"$BIN/test_rope" --cases "$WORK/rope_cases.txt"

# The random tiny weights give nearly uniform attention; "sharp" (q/k scaled 16×: scores ×256)
# makes RoPE, the causal mask and the GQA head mapping visible in the hidden states.
"$PY" "$SRC/tools/torch_ref/llm_ref.py" --sharpen "$VS2_BUILD_DIR/test-tmp/ckpt/hub_bf16" --out "$WORK/sharp_ckpt"

for ck in hub_bf16 nested_f32_new hub_f16_2 nested_bf16_tied sharp; do
  dir=$VS2_BUILD_DIR/test-tmp/ckpt/$ck
  [ "$ck" = sharp ] && dir=$WORK/sharp_ckpt
  out=$WORK/$ck
  mkdir -p "$out"
  echo "== $ck"
  "$BIN/test_llm" --ref-prepare "$dir" "$out" 3 6 10
  "$PY" "$SRC/tools/torch_ref/llm_ref.py" --ckpt "$dir" --dir "$out"
  "$BIN/test_llm" --ref-compare "$dir" "$out"
done
echo "t_llm_ref: ok"
