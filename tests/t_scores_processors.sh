#!/bin/bash
# src/sampler.c against tools/scores_ref/processors_ref.py (torch): the same seeded logits,
# histories and parameters on both sides; processed logits must agree bit for bit and greedy
# choices exactly. Exactness is expected: penalty, temperature and top-k are one IEEE float op
# per element in both; top-p could only differ where a cumulative probability lies within a
# float ulp of 1-top_p, which the seeded cases avoid except where the value is exact (uniform
# logits). Skips (77) without Debian's python3-torch.
set -eu
PY=/usr/bin/python3
$PY -c 'import torch, numpy' 2>/dev/null || { echo "python3-torch/numpy missing: skipped"; exit 77; }
D="$VS2_TEST_TMP/scores_processors"
rm -rf "$D"; mkdir -p "$D"
$PY "$VS2_SOURCE_DIR/tools/scores_ref/processors_ref.py" gen "$D"
"$VS2_BUILD_DIR/tests/test_sampler" --process "$D"
$PY "$VS2_SOURCE_DIR/tools/scores_ref/processors_ref.py" check "$D"
