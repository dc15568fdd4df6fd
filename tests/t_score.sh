#!/usr/bin/env bash
# t_score.sh — `vs2 score` end to end on the tiny random-weight checkpoint with the real
# tokenizer (fixture vs2_engine_ckpt: $VS2_TEST_TMP/ckpt/engine) and a tiny generated video:
# every JSON key with consistent values (frames/grid against `vs2 frames --json`, prompt_tokens
# against `vs2 tokenize --chat-video`), no invented scores, greedy determinism, the thread count
# not changing the answer, seeded sampling, --samples, T-INF vs T-EVAL, stage dumps, the
# terminal summary, --answer-file (teacher forcing), and the errors: missing model, repo id not in an empty cache offline, bad
# video (exit 1), bad usage (exit 2).
# Comparisons of ids and texts are exact: the forward pass is deterministic and must not depend on
# the thread count. Exits 77 (skipped) without ffmpeg.
set -u
: "${VS2_BIN:?run through ctest}" "${VS2_TEST_TMP:?run through ctest}"
command -v ffmpeg >/dev/null || { echo "ffmpeg not found: skipped"; exit 77; }
PY=${PYTHON3:-python3}
CK="$VS2_TEST_TMP/ckpt/engine"
WORK="$VS2_TEST_TMP/t_score"
rm -rf "$WORK"; mkdir -p "$WORK"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
contains() { grep -qF -- "$2" <<<"$1" || fail "$3: output lacks '$2'"; }

# 1 s of 112x112 at 8 fps: 4 frames, resized up to the pixel minimum (336x336), grid 2x24x24.
ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=112x112:rate=8 -t 1 -pix_fmt yuv420p "$WORK/v.mp4" \
    || { fail "ffmpeg"; exit 1; }
V="$WORK/v.mp4"
P="a red ball rolls across a wooden table"
score() { "$VS2_BIN" score --model "$CK" --video "$V" --prompt "$P" --max-new-tokens 10 "$@"; }

# 1. The JSON object (stdout is not a terminal: JSON by default).
score > "$WORK/greedy.json" 2> "$WORK/greedy.err" || fail "greedy run: exit $? ($(cat "$WORK/greedy.err"))"
"$VS2_BIN" frames "$V" --json > "$WORK/frames.json" || fail "vs2 frames"
$PY - "$WORK/greedy.json" "$WORK/frames.json" <<'EOF' || fail "greedy JSON checks"
import json, math, sys
r = json.load(open(sys.argv[1])); f = json.load(open(sys.argv[2]))
need = ["model", "video", "prompt", "scores", "scores_robust", "soft_scores", "soft_scores_expected", "rationale",
        "output", "frames", "grid_thw", "prompt_tokens", "generated_tokens", "decoding", "timings_ms",
        "tokens_per_second"]
missing = [k for k in need if k not in r]
assert not missing, missing
dims = ["visual_quality", "text_alignment", "physical_consistency"]
for k in ["scores", "scores_robust", "soft_scores", "soft_scores_expected"]:
    assert sorted(r[k]) == sorted(dims), (k, r[k])
    assert all(v is None for v in r[k].values()), (k, r[k])     # random weights: nothing parses
assert r["parse_error"] and "does not occur" in r["parse_error"], r["parse_error"]
assert r["robust_parse_error"], r
assert set(r["decoding"]) >= {"mode", "seed", "temperature", "top_k", "top_p", "repetition_penalty"}, r["decoding"]
assert r["decoding"]["mode"] == "greedy" and r["decoding"]["repetition_penalty"] == 1.05, r["decoding"]
assert set(r["timings_ms"]) >= {"video", "vision", "prefill", "generate"}, r["timings_ms"]
assert all(v >= 0 for v in r["timings_ms"].values())
assert r["frames"] == f["nframes"] and r["grid_thw"] == f["grid_thw"], (r["frames"], r["grid_thw"], f)
assert r["video_tokens"] == f["video_tokens"]
assert 1 <= r["generated_tokens"] <= 10 and len(r["output_ids"]) == r["generated_tokens"]
assert r["stop_reason"] in ("eos", "max_new_tokens")
assert (r["stop_reason"] == "max_new_tokens") == (r["generated_tokens"] == 10)
assert r["tokens_per_second"] >= 0
EOF

# prompt_tokens = the chat ids with video_tokens pads, for both templates.
VT=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["video_tokens"])' "$WORK/greedy.json")
n_eval=$(printf '%s' "$P" | "$VS2_BIN" tokenize --tokenizer "$CK" --chat-video "$VT" | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
n_inf=$(printf '%s' "$P" | "$VS2_BIN" tokenize --tokenizer "$CK" --chat-video "$VT" --template inf | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
score --template inf > "$WORK/inf.json" || fail "T-INF run: exit $?"
$PY - "$WORK/greedy.json" "$WORK/inf.json" "$n_eval" "$n_inf" <<'EOF' || fail "prompt_tokens checks"
import json, sys
e = json.load(open(sys.argv[1])); i = json.load(open(sys.argv[2]))
assert e["prompt_tokens"] == int(sys.argv[3]), (e["prompt_tokens"], sys.argv[3])
assert i["prompt_tokens"] == int(sys.argv[4]), (i["prompt_tokens"], sys.argv[4])
assert e["template"] == "eval" and i["template"] == "inf"
assert i["prompt_tokens"] < e["prompt_tokens"]      # T-INF is the short template
EOF

# 2. Greedy is deterministic; the thread count does not change the answer.
score > "$WORK/greedy2.json" || fail "second greedy run"
score --threads 1 > "$WORK/t1.json" || fail "--threads 1"
score --threads 2 > "$WORK/t2.json" || fail "--threads 2"
$PY - "$WORK/greedy.json" "$WORK/greedy2.json" "$WORK/t1.json" "$WORK/t2.json" <<'EOF' || fail "determinism"
import json, sys
rs = [json.load(open(p)) for p in sys.argv[1:]]
for r in rs[1:]:
    assert r["output_ids"] == rs[0]["output_ids"] and r["output"] == rs[0]["output"], (r["output_ids"], rs[0]["output_ids"])
assert rs[2]["threads"] == 1 and rs[3]["threads"] == 2
EOF

# 3. Sampling: same seed, same answer; another seed, another answer; --samples N from seeds S..S+N-1.
score --sample --seed 3 > "$WORK/s3a.json" || fail "sample seed 3"
score --sample --seed 3 --threads 1 > "$WORK/s3b.json" || fail "sample seed 3 again"
score --sample --seed 4 > "$WORK/s4.json" || fail "sample seed 4"
score --samples 3 --seed 3 > "$WORK/n3.json" || fail "--samples 3"
$PY - "$WORK/s3a.json" "$WORK/s3b.json" "$WORK/s4.json" "$WORK/n3.json" <<'EOF' || fail "sampling checks"
import json, sys
a, b, c, n = [json.load(open(p)) for p in sys.argv[1:]]
assert a["decoding"]["mode"] == "sample" and a["decoding"]["temperature"] == 0.7
assert a["decoding"]["top_k"] == 50 and a["decoding"]["top_p"] == 1 and a["decoding"]["seed"] == 3
assert a["output_ids"] == b["output_ids"], "same seed differs"
assert a["output_ids"] != c["output_ids"], "seeds 3 and 4 gave the same answer"
assert n["n_samples"] == 3 and len(n["samples"]) == 3 and n["decoding"]["mode"] == "sample"
assert [s["seed"] for s in n["samples"]] == [3, 4, 5]
assert n["samples"][0]["output_ids"] == a["output_ids"] and n["samples"][1]["output_ids"] == c["output_ids"]
m = n["mean"]
for k in ["scores", "scores_robust", "soft_scores", "soft_scores_expected"]:
    assert all(v is None for v in m[k].values()) and all(v == 0 for v in m["counts"][k].values()), (k, m)
    assert n[k] == m[k]
assert n["generated_tokens"] == sum(s["generated_tokens"] for s in n["samples"])
EOF

# 4. Stage dumps: every stage of the prefill in order (a stage may dump more), sizes matching index.json.
score --max-new-tokens 2 --dump-stages "$WORK/dump" > /dev/null || fail "--dump-stages"
$PY - "$WORK/dump" "$CK/config.json" <<'EOF' || fail "dump checks"
import json, os, sys
d = sys.argv[1]; cfg = json.load(open(sys.argv[2]))
idx = json.load(open(os.path.join(d, "index.json")))
names = [s["stage"] for s in idx["stages"]]
want = ["vision.patch_embed"] + [f"vision.block.{i}" for i in range(cfg["vision_config"]["depth"])] + \
       ["vision.merger", "llm.embed"] + [f"llm.layer.{i}" for i in range(cfg["num_hidden_layers"])] + ["llm.norm", "logits"]
pos = [names.index(w) if w in names else -1 for w in want]   # the stages in order (others may come between)
assert -1 not in pos and pos == sorted(pos), names
assert names[-1] == "logits", names
for s in idx["stages"]:
    r, c = s["shape"]
    assert os.path.getsize(os.path.join(d, s["file"])) == 4 * r * c, s
assert idx["stages"][-1]["shape"] == [1, cfg["vocab_size"]]
EOF

# 5. The terminal summary (forced with --no-json).
out=$("$VS2_BIN" score --model "$CK" --video "$V" --max-new-tokens 10 --no-json --prompt-file <(printf '%s\n' "$P")); rc=$?
[ $rc -eq 0 ] || fail "--no-json: exit $rc"
contains "$out" "no scores: the reference pattern" "summary"
contains "$out" "decoding   greedy (repetition penalty 1.05)" "summary"
contains "$out" "timings    video" "summary"

# 6. Errors: exit 1 with the thing and the cause.
out=$("$VS2_BIN" score --model "$WORK/no-such-model" --video "$V" --prompt "$P" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "missing model dir: exit $rc"
contains "$out" "no-such-model" "missing model dir"
mkdir -p "$WORK/empty-cache"
out=$(HF_HUB_OFFLINE=1 HF_HUB_CACHE="$WORK/empty-cache" "$VS2_BIN" score --video "$V" --prompt "$P" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "repo id not cached: exit $rc"
contains "$out" "TIGER-Lab/VideoScore2" "repo id not cached"
contains "$out" "vs2 download TIGER-Lab/VideoScore2" "repo id not cached"
out=$(HF_HUB_OFFLINE=1 HF_HUB_CACHE="$WORK/empty-cache" "$VS2_BIN" score --model someone/other-model --video "$V" --prompt "$P" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "other repo id not cached: exit $rc"
contains "$out" "someone/other-model" "other repo id"
printf 'not a video' > "$WORK/bad.mp4"
out=$(score --video "$WORK/bad.mp4" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "bad video: exit $rc"
contains "$out" "bad.mp4" "bad video"
out=$(score --video "$WORK/none.mp4" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "missing video: exit $rc"
contains "$out" "none.mp4" "missing video"

# 6b. Cheap checks first, quiet FFmpeg, each error once, numbers as people read them.
out=$("$VS2_BIN" score --model "$WORK/no-such-model" --video "$WORK/none.mp4" --prompt "$P" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "missing video, missing model: exit $rc"
contains "$out" "none.mp4" "video checked first"
case "$out" in *no-such-model*) fail "the model was looked at before the video: $out";; esac
out=$(score --prompt " " 2>&1); rc=$?
[ $rc -eq 1 ] || fail "blank prompt: exit $rc"
contains "$out" "the text prompt is empty" "blank prompt"
out=$("$VS2_BIN" score --model "$WORK/no-such-model" --video "$V" --prompt "$P" 2>&1)
[ "$(grep -c . <<<"$out")" -eq 1 ] || fail "a model error printed more than once: $out"
out=$(score --video "$WORK/bad.mp4" 2>&1)
case "$out" in *moov*|*"@ 0x"*) fail "FFmpeg's own lines leak without --verbose: $out";; esac
out=$(score --video "$WORK/bad.mp4" --verbose 2>&1)
contains "$out" "ffmpeg: " "FFmpeg's lines with --verbose"
grep -q 'e+0' "$WORK/greedy.json" && fail "a number in exponent form: $(grep -o '[0-9.]*e+0[0-9]*' "$WORK/greedy.json" | head -3)"
score --temperature 0 > "$WORK/t0.json" || fail "--temperature 0: exit $?"
$PY - "$WORK/greedy.json" "$WORK/t0.json" <<'EOF' || fail "--temperature 0 is not greedy"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["output"] == b["output"] and a["decoding"]["mode"] == b["decoding"]["mode"] == "greedy", (a["decoding"], b["decoding"])
EOF
out=$(score --max-video-tokens 10 2>&1); rc=$?
[ $rc -eq 1 ] || fail "--max-video-tokens 10: exit $rc"
contains "$out" "video tokens planned" "token limit"
score --nframes 2 > "$WORK/n2.json" || fail "--nframes 2: exit $?"
$PY -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["frames"] == 2, r["frames"]' "$WORK/n2.json" || fail "--nframes 2 frames"
# The --name=value form reaches the same options (the library's option table) as --name value.
score --nframes=2 --max-new-tokens=3 --sample --seed=7 --top-k=5 > "$WORK/eq.json" || fail "--name=value: exit $?"
$PY - "$WORK/eq.json" <<'EOF' || fail "--name=value options not applied"
import json, sys
r = json.load(open(sys.argv[1])); d = r["decoding"]
assert r["frames"] == 2 and d["max_new_tokens"] == 3 and d["mode"] == "sample", (r["frames"], d)
assert d["seed"] == 7 and d["top_k"] == 5, d
EOF
# 6b. --answer-file: a planted answer is scored, not generated (teacher forcing); its own text is
# the output and its score list the parse; the soft scores exist at the digits' token indices.
printf '<think>\nfine.\n</think>\n\n(1) visual quality: 4\n(2) text-to-video alignment: 2\n(3) physical/common-sense consistency: 5\n' > "$WORK/answer.txt"
score --answer-file "$WORK/answer.txt" --sample > "$WORK/answer.json" 2> "$WORK/answer.err" \
    || fail "--answer-file: exit $? ($(cat "$WORK/answer.err"))"
$PY - "$WORK/answer.json" <<'EOF' || fail "--answer-file JSON checks"
import json, sys
r = json.load(open(sys.argv[1]))
dims = ["visual_quality", "text_alignment", "physical_consistency"]
assert r["stop_reason"] == "answer", r["stop_reason"]
assert r["output"].rstrip("\n").endswith("consistency: 5"), r["output"]
assert [r["scores"][d] for d in dims] == [4, 2, 5], r["scores"]
assert all(r["soft_token_index"][d] >= 0 for d in dims), r["soft_token_index"]
assert all(r["soft_scores"][d] is not None for d in dims), r["soft_scores"]
EOF
: > "$WORK/empty.txt"
out=$(score --answer-file "$WORK/empty.txt" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "empty answer: exit $rc"
contains "$out" "empty" "empty answer"
out=$(score --answer-file "$WORK/answer.txt" --samples 2 2>&1); rc=$?
[ $rc -eq 1 ] || fail "answer with 2 samples: exit $rc"
contains "$out" "one sample" "answer with 2 samples"
out=$(score --answer-file "$WORK/no-answer.txt" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "missing answer file: exit $rc"
contains "$out" "no-answer.txt" "missing answer file"

# 7. Usage errors: exit 2.
for args in "--video $V" "--prompt x" "--video $V --prompt x --template foo" "--video $V --prompt x --samples 0" \
            "--video $V --prompt x --temperature 0 --sample" "--video $V --prompt x --bogus" \
            "--video $V --prompt x --prompt-file /dev/null" "--video $V --prompt x --max-new-tokens" \
            "--video $V --prompt x --top-p=1.5" "--video $V --prompt x --json=yes" "--video=$V --prompt x --seed=-1"; do
    "$VS2_BIN" score $args > /dev/null 2>&1; rc=$?
    [ $rc -eq 2 ] || fail "usage '$args': exit $rc"
done
for opt in "--samples N" "--video FILE" "--prompt TEXT" "--prompt-file FILE" "directory of images" "--nframes N" \
           "--max-video-tokens N" "stdin"; do
    "$VS2_BIN" score --help | grep -q -- "$opt" || fail "--help lacks '$opt'"
done

[ $fails -eq 0 ] && echo "t_score: all checks passed"
[ $fails -eq 0 ]
