#!/bin/bash
# Soft-score token indices and values (src/scores.c) against tools/scores_ref/soft_ref.py on
# every stored VideoScore2 output tokenized with the real Qwen2.5-VL tokenizer, plus crafted
# cases (CoT label first, missing labels, special tokens, a digit split over byte tokens).
# Indices must agree exactly; values to 1e-15 relative (the same double operations in the same
# order on the same exactly representable fake probabilities, so in practice bit-equal).
set -eu
TOK="$VS2_BUILD_DIR/test-tmp/tokref/tokenizer.json"
[ -f "$TOK" ] || { echo "no $TOK (tokenizer_reference fixture)"; exit 1; }
DATA="$VS2_SOURCE_DIR/tests/data/videoscore2"
D="$VS2_TEST_TMP/scores_soft"; mkdir -p "$D"
/usr/bin/python3 "$VS2_SOURCE_DIR/tools/scores_ref/soft_ref.py" cases "$TOK" "$D/cases.json" "$DATA"/*.json
"$VS2_BUILD_DIR/tests/test_scores" --soft "$TOK" "$D/cases.json" > "$D/c.jsonl"
/usr/bin/python3 "$VS2_SOURCE_DIR/tools/scores_ref/soft_ref.py" check "$TOK" "$D/c.jsonl"
