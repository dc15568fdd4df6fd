#!/usr/bin/env bash
# vs2 metrics against the paper's in-domain figure and against the independent scipy reference
# (tools/metrics_ref/metrics_ref.py), figure by figure, on every stored result file that has human
# scores and on the fixtures (pairwise with and without ties). Tolerances: exact after ROUND_DIGIT=3
# rounding; 1e-9 (on the x100 scale) before rounding -- see docs/metrics.md.
set -euo pipefail
PY=/usr/bin/python3
REF="$VS2_SOURCE_DIR/tools/metrics_ref/metrics_ref.py"
DATA="$VS2_SOURCE_DIR/tests/data/videoscore2"
FIX="$VS2_SOURCE_DIR/tests/data/eval"
OUT="$VS2_TEST_TMP/metrics"
mkdir -p "$OUT"
if ! $PY -c 'import scipy' 2>/dev/null; then echo "python3-scipy missing (tools/install-deps.sh)"; exit 1; fi
fail=0; figures=0

compare() { # name results bench method [gt]
  local name=$1 res=$2 bench=$3 method=$4 gt=${5:-}
  local g=() p=()
  [ -n "$gt" ] && g=(--gt "$gt") && p=(--pairs "$gt")
  for mode in rounded raw; do
    local r=() tol=0
    [ $mode = raw ] && r=(--raw) && tol=1e-9
    $PY "$REF" metrics "$res" --bench "$bench" --method "$method" "${p[@]}" "${r[@]}" > "$OUT/$name.$mode.ref.json" 2>/dev/null
    if ! "$VS2_BIN" metrics "$res" --bench "$bench" --method "$method" "${g[@]}" "${r[@]}" --json 2> "$OUT/$name.$mode.err" > "$OUT/$name.$mode.vs2.json"; then
      # vs2 refuses a pairwise run in which no pair could be judged; the scripts print null there
      if grep -q "none of the .* preference pairs" "$OUT/$name.$mode.err" &&
         $PY -c 'import json,sys; m=json.load(open(sys.argv[1]))["metrics"]; sys.exit(0 if [k for k in m if "_pairs_" in k] and all(m[k] == 0 for k in m if "_pairs_" in k) else 1)' "$OUT/$name.$mode.ref.json"; then
        echo "ok   $name ($mode): refused, and the reference judged 0 pairs"
      else
        echo "FAIL $name ($mode): $(cat "$OUT/$name.$mode.err")"; fail=1
      fi
      continue
    fi
    if line=$($PY "$REF" compare "$OUT/$name.$mode.vs2.json" "$OUT/$name.$mode.ref.json" --tol $tol); then
      echo "ok   $name ($mode): ${line##*$'\n'}"
    else
      echo "FAIL $name ($mode):"; echo "$line"; fail=1
    fi
    figures=$((figures + $(echo "${line##*$'\n'}" | awk '{print $3}')))
  done
}

IN="$DATA/vs2_bench__released_model_normed_soft__499items.json"
compare vs2_bench_499_float "$IN" vs2_bench vs2_float
compare vs2_bench_3_expected "$DATA/vs2_bench__released_model_expected_soft__3items.json" vs2_bench vs2_float
compare mj_videoreward "$DATA/mj_bench_video__VideoReward_baseline__first4items.json" mj_bench_video video_reward
for m in vs2_float vs2 vs2_robust vs2_float_weighted; do
  compare fixture_vs2bench_$m "$FIX/results_vs2.jsonl" vs2_bench $m
  compare fixture_vgrb_$m "$FIX/results_vs2.jsonl" videogen_reward_bench $m "$FIX/vgrb_pairs.csv"
  compare fixture_t2vqa_$m "$FIX/results_vs2.jsonl" t2vqa_db $m "$FIX/t2vqa.txt"
done
for m in video_reward vision_reward unified_reward image_reward dover q_align deqa aigve_macs q_insight video_phy2_auto_eval vs1 lift; do
  compare mj_as_$m "$DATA/mj_bench_video__VideoReward_baseline__first4items.json" mj_bench_video $m
done
compare fixture_videophy2 "$FIX/results_vs2.jsonl" video_phy2_test vs2_float
compare fixture_mj_vs2 "$FIX/results_vs2.jsonl" mj_bench_video vs2
echo "total: $figures figures compared"

# The paper's in-domain number: 44.35 (Table 5; 44.355 before the paper's truncation).
acc=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["metrics"]["acc_avg"])' "$OUT/vs2_bench_499_float.rounded.vs2.json")
refacc=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["metrics"]["acc_avg"])' "$OUT/vs2_bench_499_float.rounded.ref.json")
echo "in-domain accuracy: vs2 $acc, scipy reference $refacc, paper 44.35"
[ "$acc" = "44.355" ] && [ "$refacc" = "44.355" ] || { echo "FAIL: expected 44.355"; fail=1; }
$PY -c 'import sys,math; a=float(sys.argv[1]); sys.exit(0 if math.floor(a*100+1e-9)/100 == 44.35 else 1)' "$acc" \
  || { echo "FAIL: 44.355 does not give the paper's 44.35"; fail=1; }

# Text output and errors.
"$VS2_BIN" metrics "$IN" | grep -q "44.355" || { echo "FAIL: table output"; fail=1; }
printf '{"id":"a"}\n{not json\n' > "$OUT/bad.jsonl"
if "$VS2_BIN" metrics "$OUT/bad.jsonl" 2> "$OUT/bad.err"; then echo "FAIL: bad JSONL accepted"; fail=1; fi
grep -q "bad.jsonl:2:" "$OUT/bad.err" || { echo "FAIL: error does not name line 2: $(cat "$OUT/bad.err")"; fail=1; }
printf 'path_A,path_B,VQ,TA,Overall\na.mp4,b.mp4,A,maybe,B\n' > "$OUT/bad.csv"
if "$VS2_BIN" metrics "$IN" --bench videogen_reward_bench --gt "$OUT/bad.csv" 2> "$OUT/bad2.err"; then echo "FAIL: bad label accepted"; fail=1; fi
grep -q "bad.csv:2: column 'TA'" "$OUT/bad2.err" || { echo "FAIL: $(cat "$OUT/bad2.err")"; fail=1; }

# No silent numbers: each case below used to print figures (0.000, an empty table, NaN) with
# exit 0; now each is refused with a message naming the cause, and nothing goes to stdout.
refuse() { # name pattern vs2-metrics-args...
  local name=$1 pat=$2; shift 2
  if "$VS2_BIN" metrics "$@" > "$OUT/$name.out" 2> "$OUT/$name.err"; then
    echo "FAIL $name: accepted: $(head -3 "$OUT/$name.out")"; fail=1
  elif ! grep -q -- "$pat" "$OUT/$name.err"; then
    echo "FAIL $name: message '$(cat "$OUT/$name.err")' lacks '$pat'"; fail=1
  elif [ -s "$OUT/$name.out" ]; then
    echo "FAIL $name: printed figures anyway: $(head -3 "$OUT/$name.out")"; fail=1
  else echo "ok   $name refused: $(cat "$OUT/$name.err")"; fi
}
refuse unknown_method "unknown method 'vs3_float'" "$IN" --method vs3_float
refuse unknown_bench "unknown bench 'vbench'" "$IN" --bench vbench
refuse int_method_on_soft "needs integer scores" "$IN" --method vs2
refuse pairwise_without_gt "no preference pairs" "$FIX/results_vs2.jsonl" --bench videogen_reward_bench
printf '{"id":"a","error":"video: cannot open"}\n{"id":"b","error":"model: config.json missing"}\n' > "$OUT/errors_only.jsonl"
refuse errors_only "no scored items (0 read, 2 error lines" "$OUT/errors_only.jsonl"
: > "$OUT/empty.jsonl"
refuse empty_file "no scored items" "$OUT/empty.jsonl"
printf '{"id":"a","scores":{"visual_quality":3,"text_alignment":4,"physical_consistency":2}}\n' > "$OUT/no_gt.jsonl"
refuse no_human_scores "no human scores" "$OUT/no_gt.jsonl" --method vs2
printf 'path_A,path_B,VQ,TA,Overall\nx.mp4,y.mp4,A,B,A\n' > "$OUT/other_ids.csv"
refuse pairs_not_matching "none of the 1 preference pairs" "$FIX/results_vs2.jsonl" --bench videogen_reward_bench --gt "$OUT/other_ids.csv"
# vs2_bench has no overall human score: no "overall 0.000 ... NaN" row and no overall_* keys.
"$VS2_BIN" metrics "$IN" > "$OUT/table.txt"
if grep -q -e '^overall' -e NaN "$OUT/table.txt"; then echo "FAIL: placeholder row: $(cat "$OUT/table.txt")"; fail=1; fi
if grep -q overall_ "$OUT/vs2_bench_499_float.rounded.vs2.json"; then echo "FAIL: overall_* keys on vs2_bench"; fail=1; fi
# MJ-Bench-Video does have an overall score: the row stays.
"$VS2_BIN" metrics "$FIX/results_vs2.jsonl" --bench mj_bench_video --method vs2 | grep -q '^overall' \
  || { echo "FAIL: overall row missing on mj_bench_video"; fail=1; }

# The per-video CSV table of `vs2 batch --csv` reads back: every method's figures from the table
# equal those from the JSONL it was written from (all ids done: no model is loaded).
cp "$FIX/results_vs2.jsonl" "$OUT/table_src.jsonl"
"$VS2_BIN" batch --manifest "$FIX/results_vs2.jsonl" --out "$OUT/table_src.jsonl" --csv "$OUT/table.csv" 2> "$OUT/table.err" || true
grep -q "wrote $OUT/table.csv" "$OUT/table.err" || { echo "FAIL: --csv: $(cat "$OUT/table.err")"; fail=1; }
for m in vs2_float vs2 vs2_robust vs2_float_weighted; do
  a=$("$VS2_BIN" metrics "$OUT/table_src.jsonl" --method $m --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["metrics"])')
  b=$("$VS2_BIN" metrics "$OUT/table.csv" --method $m --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["metrics"])')
  if [ "$a" = "$b" ] && [ -n "$a" ]; then echo "ok   csv table reads back ($m)"; else echo "FAIL: csv table ($m): $a vs $b"; fail=1; fi
done

# Parser agreement table (reference regex on every stored output; docs/metrics.md).
$PY "$REF" parse "$DATA"/*.json > "$OUT/parse.json"
$PY - "$OUT/parse.json" <<'PYEOF'
import json, sys
for f, v in json.load(open(sys.argv[1])).items():
    print(f"parse {f}: {v['parsed']}/{v['items']} matched; {v['items_agree']}/{v['compared']} items and "
          f"{v['dims_agree']}/{v['dims_compared']} scores agree with round(stored)")
PYEOF
exit $fail
