#!/usr/bin/env bash
# bench/tokenizer.sh — tokenizer throughput, vs2 against Hugging Face tokenizers, one core each,
# on the same ~10 MB of mixed text encoded line by line. Needs tools/tokref/install.sh first.
# usage: bench/tokenizer.sh [BUILD_DIR] [MB]     (default build-tok, 10)
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="$(cd "${1:-$SRC/build-tok}" && pwd)"
MB="${2:-10}"
W="$BUILD/bench-tmp/tokenizer"
mkdir -p "$W"
[[ -d "$SRC/tools/tokref/node_modules" ]] || { echo "run tools/tokref/install.sh first" >&2; exit 1; }
[[ -f "$W/tokref/tokenizer.json" ]] || node "$SRC/tools/tokref/reference.js" "$W/tokref" > /dev/null
node "$SRC/tools/tokref/bench.js" gen "$W/text.txt" "$MB"
echo "text: $(wc -c < "$W/text.txt") bytes, $(wc -l < "$W/text.txt") lines; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
V=$(taskset -c 0 "$BUILD/bench/bench_tokenizer" "$W/tokref" "$W/text.txt" 2> "$W/load.txt")
cat "$W/load.txt"
H=$(cd "$SRC/tools/tokref" && RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false taskset -c 0 node bench.js hf "$W/tokref/tokenizer.json" "$W/text.txt")
read -r _ vmb vids vs <<< "$V"
read -r _ hmb hids hs <<< "$H"
echo "vs2: $vmb MB/s ($vids ids, $vs s)"
echo "hf tokenizers: $hmb MB/s ($hids ids, $hs s)"
[[ "$vids" == "$hids" ]] || echo "WARNING: id counts differ ($vids vs $hids)"
awk -v a="$vmb" -v b="$hmb" 'BEGIN { printf "ratio vs2/hf: %.2f\n", a / b }'
