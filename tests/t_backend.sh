#!/usr/bin/env bash
# The fast kernel sets against the fp32 reference set on whole checkpoints (tests/backend_compare.c
# states the figures and their limits). Checkpoints: two plain tiny ones (bf16; f32 with the new
# tensor names), a sharp tiny one, and a sharp one with the real 7B head geometry (language
# head_dim 128, mrope_section [16,24,24], grouped-query attention; vision head_dim 80 and an
# intermediate size of 342, which the 32-blocks do not divide, as the real 3420).
set -euo pipefail
: "${VS2_BUILD_DIR:?}" "${VS2_SOURCE_DIR:?}"
WORK=$VS2_BUILD_DIR/test-tmp/backend
CK=$VS2_BUILD_DIR/test-tmp/ckpt
mkdir -p "$WORK"
MK=("$VS2_SOURCE_DIR/tools/make_tiny_checkpoint.py")
[ -f "$WORK/sharp/model.safetensors" ] || python3 "${MK[@]}" --out "$WORK/sharp" --sharp --seed 5
[ -f "$WORK/geom_sharp/model.safetensors" ] ||
  python3 "${MK[@]}" --out "$WORK/geom_sharp" --sharp --seed 6 --hidden 256 --heads 2 --kv-heads 1 \
    --intermediate 512 --layers 3 --v-hidden 160 --v-heads 2 --v-intermediate 342 --v-depth 4 \
    --mrope 16,24,24
BIN=$VS2_BUILD_DIR/tests/backend_compare
# q8: the fastest int8 set this CPU runs (AVX-512 VNNI where present, else the portable one).
"$BIN" q8 "$CK/hub_bf16" "$CK/nested_f32_new" "$WORK/sharp" "$WORK/geom_sharp"
# The portable set on one sharp checkpoint too, so CPUs without VNNI have their path covered.
"$BIN" q8-portable "$WORK/sharp"
