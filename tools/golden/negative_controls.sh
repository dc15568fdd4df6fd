#!/bin/bash
# negative_controls.sh BUILD_DIR — show, by hand, that the golden comparison catches real mistakes
# (tests/golden/README.md records a run). Each control runs tests/golden_case.sh on a case with
# one thing made wrong and must FAIL:
#   window   the vision window size halved in config.json (112 -> 56): other windows, other order;
#   fullatt  block 3 made a window-attention block (fullatt_block_indexes [1, 3] -> [1]);
#   mrope    mrope_section [16, 24, 24] -> [24, 16, 24] (same sum, wrong split) on the 7B geometry.
# A build variant with a wrong window order is a hand edit (README.md says which and its result).
# The checkpoint is edited through VS2_GOLDEN_CONFIG_EDIT, a Python expression on `cfg` that
# golden_case.sh applies to config.json when set (never set in CI).
set -uo pipefail
BUILD=${1:?usage: negative_controls.sh BUILD_DIR}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
export VS2_SOURCE_DIR=$SRC VS2_BUILD_DIR=$BUILD VS2_BIN=$BUILD/vs2 VS2_TEST_TMP=$BUILD/test-tmp/negative
mkdir -p "$VS2_TEST_TMP"
ln -sfn "$BUILD/test-tmp/tokref" "$VS2_TEST_TMP/tokref"
run() {  # name case edit
  echo "== control $1 (case $2): $3"
  if VS2_GOLDEN_CONFIG_EDIT=$3 bash "$SRC/tests/golden_case.sh" "$2" > "$VS2_TEST_TMP/$1.log" 2>&1; then
    echo "   NOT caught: the comparison passed"; bad=1
  else
    grep -E 'FAIL' "$VS2_TEST_TMP/$1.log" | head -12
    echo "   caught"
  fi
}
bad=0
run window sharp_bf16_c 'cfg["vision_config"]["window_size"] = 56'
run fullatt sharp_bf16_c 'cfg["vision_config"]["fullatt_block_indexes"] = [1]'
run mrope geom7b_e 'cfg["rope_scaling"]["mrope_section"] = [24, 16, 24]'
exit $bad
