#!/usr/bin/env bash
# bench_fullsize.sh — memory and speed of `vs2 score` on the real shapes, without the 16 GB download.
#
#   bench/bench_fullsize.sh [--vs2 BIN] [--scratch DIR] [--max-new-tokens N] [--threads N]
#                           [--tokenizer-dir DIR] [--keep]
#
# 1. writes a full-size random-weight checkpoint to the scratch dir (default /tmp/vs2-fullsize,
#    ~16.6 GB): tools/make_tiny_checkpoint.py --preset full (the real 729 tensor names and
#    shapes, 5 shards, config, generation_config, the real tokenizer when --tokenizer-dir or a
#    tokref fixture is found) and bench/mkckpt_full.c filling every tensor with random bf16;
# 2. generates a 5 s 1280x720 30 fps H.264 clip (ffmpeg testsrc2);
# 3. runs `vs2 score --max-new-tokens N` (default 32: random weights never stop on their own, a
#    few dozen steps give the per-token time) under /usr/bin/time -v;
# 4. prints peak RSS, the per-phase times and ms/token, and deletes the scratch dir (--keep keeps it).
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
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "bench_fullsize: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -x "$VS2" ] || { echo "bench_fullsize: $VS2 not found (build first, or --vs2 BIN)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench_fullsize: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
command -v ffmpeg >/dev/null || { echo "bench_fullsize: ffmpeg missing" >&2; exit 1; }
if [ -z "$TOKDIR" ]; then
    for d in "$HERE"/build*/test-tmp/tokref; do
        [ -f "$d/tokenizer.json" ] && { TOKDIR=$d; break; }
    done
fi
mkdir -p "$SCRATCH"
cleanup() { [ "$KEEP" = 1 ] || rm -rf "$SCRATCH/ckpt"; }
trap cleanup EXIT
avail=$(df -k --output=avail "$SCRATCH" | tail -1)
[ "$avail" -gt $((18 * 1024 * 1024)) ] || { echo "bench_fullsize: need ~18 GB free in $SCRATCH" >&2; exit 1; }

echo "== checkpoint ($SCRATCH/ckpt)"
t0=$(date +%s.%N)
python3 "$HERE/tools/make_tiny_checkpoint.py" --preset full --shards 5 --out "$SCRATCH/ckpt" \
    ${TOKDIR:+--tokenizer-dir "$TOKDIR"}
cc -O2 -o "$SCRATCH/mkckpt_full" "$HERE/bench/mkckpt_full.c"
"$SCRATCH/mkckpt_full" "$SCRATCH"/ckpt/model-*.safetensors
sync
t1=$(date +%s.%N)
echo "written in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", b-a}') s; tokenizer: ${TOKDIR:-minimal stand-in}"

echo "== clip"
ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 -t 5 -c:v libx264 -pix_fmt yuv420p \
    "$SCRATCH/clip.mp4"

echo "== vs2 score (max_new_tokens $MAXNEW)"
PROMPT="A golden retriever puppy runs across a sunny meadow, chasing a red ball, slow motion"
/usr/bin/time -v "$VS2" score --model "$SCRATCH/ckpt" --video "$SCRATCH/clip.mp4" --prompt "$PROMPT" \
    --max-new-tokens "$MAXNEW" ${THREADS:+--threads "$THREADS"} --json \
    > "$SCRATCH/result.json" 2> "$SCRATCH/time.txt" || { cat "$SCRATCH/time.txt" >&2; exit 1; }

echo "== figures ($(date -u +%Y-%m-%d), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, $(free -g | awk '/Mem:/{print $2}') GiB)"
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
