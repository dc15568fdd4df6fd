#!/bin/bash
# golden_case.sh CASE — vs2 against the committed goldens of Hugging Face transformers v4.53.2 and
# qwen-vl-utils (tests/golden/, made by hand with tools/golden/make_goldens.py; see
# tests/golden/README.md). One ctest test per case (golden_<case>):
#   1. write the case's checkpoint with tools/make_tiny_checkpoint.py and the arguments the
#      manifest records (the same random weights the goldens were made from; the tokenizer is the
#      tokref fixture's Qwen2.5-VL tokenizer.json), and the generation_config's eos ids if the
#      case changes them;
#   2. vs2 score on the committed clip with --dump-stages --dump-all-logits and 64 greedy tokens
#      at repetition penalty 1.0, then again at the generation_config's penalty; or, for a
#      teacher-forced case, vs2 score --answer-file --sample (T 0.7) with top-k off and with
#      the default top-k;
#   3. tools/golden/compare.py: ids, positions, window index exact; pixels within 1e-5; every
#      stage and the logits at NMSE <= 1e-6; greedy tokens identical; soft scores (tolerances and
#      reasons in compare.py's header).
# Needs numpy (compare.py); skips (77) without it. For another backend (e.g. the fast CPU or CUDA
# path): VS2_GOLDEN_SCORE_ARGS adds vs2 score options and VS2_GOLDEN_NMSE sets that backend's
# stated stage tolerance; the default (--backend ref) is the fp32 reference path at NMSE <= 1e-6.
set -euo pipefail
CASE=${1:?usage: golden_case.sh CASE}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if ! "$PY" -c 'import numpy' 2>/dev/null; then
  echo "python3-numpy not available: skipping"
  exit 77
fi
SRC=${VS2_SOURCE_DIR:?}
VS2=${VS2_BIN:?}
G=$SRC/tests/golden
TOK=${VS2_TEST_TMP:?}/tokref
WORK=$VS2_TEST_TMP/golden/$CASE${VS2_GOLDEN_TAG:+_$VS2_GOLDEN_TAG} # one directory per backend: they may run at once
rm -rf "$WORK"
mkdir -p "$WORK"

# The case's settings, one shell-quoted assignment per line.
eval "$("$PY" - "$G/manifest.json" "$CASE" <<'EOF'
import json, shlex, sys
m = json.load(open(sys.argv[1]))
c = m["cases"][sys.argv[2]]
out = {"CKPT_ARGS": " ".join(shlex.quote(x) for x in m["checkpoints"][c["checkpoint"]]),
       "CLIP": c["clip"], "TEMPLATE": c["template"], "PROMPT": c["prompt"],
       "MINPIX": c["min_pixels"], "MAXPIX": c["max_pixels"], "FPS": c["fps"],
       "EOS": json.dumps(c.get("eos_token_id", "")),
       "PENALTIES": " ".join(sorted(c.get("greedy", {}), key=float)),
       "ANSWER": c.get("answer_file", ""),
       "ANSWER_LABELS": " ".join(sorted(c.get("answer", {})))}
for k, v in out.items():
    print(f"{k}={shlex.quote(str(v))}")
EOF
)"

CK=$WORK/ckpt
# shellcheck disable=SC2086
"$PY" "$SRC/tools/make_tiny_checkpoint.py" --out "$CK" --tokenizer-dir "$TOK" $CKPT_ARGS >/dev/null
# Negative controls only (tools/golden/negative_controls.sh; never set in CI): edit config.json.
if [ -n "${VS2_GOLDEN_CONFIG_EDIT:-}" ]; then
  "$PY" - "$CK/config.json" "$VS2_GOLDEN_CONFIG_EDIT" <<'EOF'
import json, sys
cfg = json.load(open(sys.argv[1]))
exec(sys.argv[2])
json.dump(cfg, open(sys.argv[1], "w"), indent=2)
EOF
fi
if [ "$EOS" != '""' ]; then
  "$PY" - "$CK/generation_config.json" "$EOS" <<'EOF'
import json, sys
g = json.load(open(sys.argv[1]))
g["eos_token_id"] = json.loads(sys.argv[2])
json.dump(g, open(sys.argv[1], "w"), indent=2)
EOF
fi

score() {
  "$VS2" score --model "$CK" --offline --threads 2 --video "$G/$CLIP" --prompt "$PROMPT" \
    --template "$TEMPLATE" --fps "$FPS" --min-pixels "$MINPIX" --max-pixels "$MAXPIX" --json \
    ${VS2_GOLDEN_SCORE_ARGS:---backend ref} "$@"
}

args=(--golden "$G" --case "$CASE")
if [ -n "${VS2_GOLDEN_STAGES_ONLY:-}" ]; then
  # A fast kernel set (tests/CMakeLists.txt: golden_q8_*): the inputs exactly and every stage and
  # the logits within that set's stated NMSE; its tokens are held to the fp32 path by t_backend.sh.
  score --max-new-tokens 1 --dump-stages "$WORK/dump" --dump-all-logits > "$WORK/stages.json"
  args+=(--dump "$WORK/dump")
elif [ -n "$ANSWER" ]; then
  first=1
  for label in $ANSWER_LABELS; do
    topk=()
    [ "$label" = t07_topk_off ] && topk=(--top-k 0)
    dump=()
    [ $first = 1 ] && dump=(--dump-stages "$WORK/dump" --dump-all-logits)
    score --answer-file "$G/$ANSWER" --sample "${topk[@]}" "${dump[@]}" > "$WORK/answer_$label.json"
    args+=(--answer "$label=$WORK/answer_$label.json")
    first=0
  done
  # The dump covers the prompt only: the answer's rows are compared through the soft scores.
  args+=(--dump "$WORK/dump")
else
  first=1
  for pen in $PENALTIES; do
    dump=()
    [ $first = 1 ] && dump=(--dump-stages "$WORK/dump" --dump-all-logits)
    score --max-new-tokens 64 --repetition-penalty "$pen" "${dump[@]}" > "$WORK/greedy_$pen.json"
    args+=(--greedy "$WORK/greedy_$pen.json")
    first=0
  done
  args+=(--dump "$WORK/dump")
fi
[ -n "${VS2_GOLDEN_NMSE:-}" ] && args+=(--stage-nmse "$VS2_GOLDEN_NMSE")
"$PY" "$SRC/tools/golden/compare.py" "${args[@]}"
