#!/bin/bash
# The vision tower against an independent PyTorch reference (tools/torch_ref/vision_ref.py),
# stage by stage: patch embedding, window index, every block, merger, final output.
# Tolerance: max |vs2 - torch| / max |torch| <= 1e-4 per stage and per block increment (block
# output minus its input) — both sides fp32, differing only in summation order (a 1176-term dot
# product rounds at ~1e-6 relative; measured worst 2.5e-6, and 2.3e-6 against a float64 torch
# run). The window index must match exactly (an integer stored as float). A tanh-approximate
# GELU, a flipped rotary sign, h/w swapped, a wrong window order or segment, ignoring the
# full-attention blocks or skipping the final reorder each fail it. Exits 77 (skipped) without
# Debian's python3-torch.
set -uo pipefail
: "${VS2_SOURCE_DIR:?}" "${VS2_BUILD_DIR:?}" "${VS2_TEST_TMP:?}"
PY=/usr/bin/python3
[ -x "$PY" ] && "$PY" -c "import torch, numpy" 2>/dev/null ||
    { echo "SKIP: needs Debian's python3-torch and python3-numpy"; exit 77; }
BIN=$VS2_BUILD_DIR/tests/test_vision
dir=$VS2_TEST_TMP/vision_ref
rm -rf "$dir"
mkdir -p "$dir"
fails=0
# run_ckpt NAME MAKE_ARGS... : build a checkpoint, write the reference, compare.
run_ckpt() {
    local name=$1; shift
    "$PY" "$VS2_SOURCE_DIR/tools/make_tiny_checkpoint.py" --out "$dir/$name" "$@" >/dev/null ||
        { echo "FAIL: make_tiny_checkpoint $name"; fails=$((fails + 1)); return; }
    # Norm weights ×2^5: random weights of ~0.01-0.1 would leave every attention score near 0
    # (uniform softmax, rotary invisible); scaled, scores are O(1-10) and the softmax is peaked.
    "$PY" "$VS2_SOURCE_DIR/tools/torch_ref/vision_ref.py" --ckpt "$dir/$name" --scale-norms 5 >/dev/null ||
        { echo "FAIL: scale norms $name"; fails=$((fails + 1)); return; }
    # grids: uneven windows (merged 3×5, two slices), the doc example (merged 4×6), divisible
    # with empty padded windows (merged 8×4), and a wide multi-window one (merged 5×9, 3 slices).
    "$PY" "$VS2_SOURCE_DIR/tools/torch_ref/vision_ref.py" --ckpt "$dir/$name" --out "$dir/$name.ref" \
        --seed 7 --case uneven 2 6 10 --case doc 1 8 12 --case even 1 16 8 --case wide 3 10 18 ||
        { echo "FAIL: vision_ref.py $name"; fails=$((fails + 1)); return; }
    "$BIN" --compare "$dir/$name" "$dir/$name.ref" 1e-4 || fails=$((fails + 1))
}
# The tiny geometry (head_dim 16) in bf16, and the real head_dim 80 (160 wide, 2 heads) with
# 6 blocks and full attention in blocks 2 and 5, in f32 with the new tensor names.
run_ckpt tiny_bf16 --seed 11 --dtype bf16
run_ckpt hd80_f32 --seed 12 --dtype f32 --layout nested --names new --v-hidden 160 --v-heads 2 \
    --v-intermediate 96 --v-depth 6 --fullatt 2,5
[ $fails -eq 0 ] && echo "vision reference: all stages within tolerance" || echo "vision reference: $fails failures"
exit $((fails > 0))
