#!/usr/bin/env bash
# llamacpp.sh — the llama.cpp side of the side-by-side (docs/perf.md): llama-bench prompt
# processing and generation on GGUF files of the Qwen2.5-VL-7B language-model shapes, BF16 and
# Q8_0, at the same thread count as vs2, so `vs2 bench` figures can be set against them on the
# same machine, back to back.
#
#   bench/llamacpp.sh --build DIR --bf16 FILE --q8 FILE [--src DIR] [--commit SHA]
#                     [--threads N] [--reps N] [-p LIST] [-n LIST] [--out DIR]
#
#   --build DIR   llama.cpp build directory (holds bin/llama-bench)
#   --bf16 FILE   GGUF with BF16 weights; --q8 FILE: the same shapes in Q8_0 (either may be
#                 omitted, not both)
#   --src DIR     llama.cpp source tree: its commit is read from DIR/COMMIT (a snapshot) or git
#                 (default: the build dir's parent)
#   --commit SHA  the llama.cpp commit, when neither of those knows it
#   --threads N   default 2;  --reps N: default 3 (llama-bench -r; it reports mean ± stddev)
#   -p LIST       prompt lengths, default 512,4096;  -n LIST: generated tokens, default 64
#   --out DIR     also keep llama-bench's JSON per model there (its stderr, log lines included)
#
# llama.cpp is never part of this repository: build it from a source snapshot outside it, e.g.
#   cmake -B build -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DCMAKE_BUILD_TYPE=Release
#   cmake --build build --target llama-bench
# and make the GGUF files of the language model's shapes (random weights are fine: llama-bench
# feeds random tokens and its speed does not depend on the values). Runs take long at full size
# (pp4096 in BF16 is minutes per repetition on 2 cores): run on an otherwise idle machine.
# Not a test: nothing here is timed against a limit.
set -euo pipefail
BUILD= BF16= Q8= SRC= COMMIT= THREADS=2 REPS=3 PP=512,4096 TG=64 OUT=
while [ $# -gt 0 ]; do
    case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --bf16) BF16=$2; shift 2 ;;
    --q8) Q8=$2; shift 2 ;;
    --src) SRC=$2; shift 2 ;;
    --commit) COMMIT=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    -p) PP=$2; shift 2 ;;
    -n) TG=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "llamacpp.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ -n "$BUILD" ] || { echo "llamacpp.sh: --build DIR is required" >&2; exit 2; }
[ -n "$BF16$Q8" ] || { echo "llamacpp.sh: give --bf16 FILE and/or --q8 FILE" >&2; exit 2; }
LB=$BUILD/bin/llama-bench
[ -x "$LB" ] || { echo "llamacpp.sh: $LB not found (build the llama-bench target)" >&2; exit 1; }
for f in $BF16 $Q8; do [ -f "$f" ] || { echo "llamacpp.sh: $f not found" >&2; exit 1; }; done
SRC=${SRC:-$(cd "$BUILD/.." && pwd)}
if [ -z "$COMMIT" ]; then
    if [ -f "$SRC/COMMIT" ]; then COMMIT=$(head -1 "$SRC/COMMIT")
    else COMMIT=$(git -C "$SRC" rev-parse HEAD 2>/dev/null || echo "unknown (pass --commit)"); fi
fi
[ -z "$OUT" ] || mkdir -p "$OUT"

echo "== llama.cpp side by side"
echo "date       $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine    $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) CPUs," \
     "$(free -g | awk '/Mem:/{print $2}') GiB RAM; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "llama.cpp  commit $COMMIT, $LB"
echo "settings   $THREADS threads, -p $PP, -n $TG, $REPS repetitions"
for pair in "BF16:$BF16" "Q8_0:$Q8"; do
    name=${pair%%:*} file=${pair#*:}
    [ -n "$file" ] || continue
    cmd=("$LB" -m "$file" -t "$THREADS" -p "$PP" -n "$TG" -r "$REPS" -o md)
    # With --out, one run gives both: the table on stdout, JSON on stderr (llama-bench -oe).
    [ -z "$OUT" ] || cmd+=(-oe json)
    echo
    echo "== $name: $(du -h "$file" | cut -f1) ($file)"
    echo "command    ${cmd[*]}${OUT:+ 2> $OUT/llama-bench-$name.json}"
    if [ -n "$OUT" ]; then "${cmd[@]}" 2> "$OUT/llama-bench-$name.json"; else "${cmd[@]}"; fi
done
