#!/bin/bash
# The reference hard parse on every stored output in tests/data/videoscore2/ against Python's
# `re` (tools/scores_ref/parse_ref.py): must agree on 100% of items (exact integers). Also prints
# the robust parse's differences and the stored soft scores' consistency (docs/scores.md §5).
set -eu
DATA="$VS2_SOURCE_DIR/tests/data/videoscore2"
[ -d "$DATA" ] || { echo "no $DATA (tests/data/videoscore2 is part of the repository)"; exit 1; }
D="$VS2_TEST_TMP/scores_parse"; mkdir -p "$D"
"$VS2_BUILD_DIR/tests/test_scores" --parse "$DATA"/*.json > "$D/c.jsonl"
/usr/bin/python3 "$VS2_SOURCE_DIR/tools/scores_ref/parse_ref.py" "$D/c.jsonl" "$DATA"/*.json
