#!/usr/bin/env bash
# fuzz/run.sh [SECONDS] — build every fuzz/fuzz_*.c target with clang + libFuzzer + ASan/UBSan
# into build-fuzz, then run each for SECONDS (default 60) over a scratch copy of its seed corpus
# (fuzz/corpus/<name without fuzz_>/). Exits non-zero if any target finds a crash.
# VS2_FUZZ_TARGETS="fuzz_a fuzz_b" runs only those; VS2_FUZZ_CORPUS=DIR keeps the grown corpora
# (DIR/<target>/) instead of a scratch copy that is deleted at the end.
set -euo pipefail
SECS=${1:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${VS2_FUZZ_BUILD:-$ROOT/build-fuzz}
JOBS=${VS2_FUZZ_JOBS:-2}
CC=clang cmake -S "$ROOT" -B "$BUILD" -G Ninja -DVS2_FUZZ=ON -DVS2_SANITIZE=ON -DVS2_NATIVE=OFF >/dev/null
TARGETS=${VS2_FUZZ_TARGETS:-$(cd "$ROOT/fuzz" && ls fuzz_*.c | sed 's/\.c$//' | tr '\n' ' ')}
cmake --build "$BUILD" -j"$JOBS" --target $TARGETS
if [ -n "${VS2_FUZZ_CORPUS:-}" ]; then
  SCRATCH=$VS2_FUZZ_CORPUS
  mkdir -p "$SCRATCH"
else
  SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/vs2-fuzz.XXXXXX")
  trap 'rm -rf "$SCRATCH"' EXIT
fi
status=0
for name in $TARGETS; do
  seeds="$ROOT/fuzz/corpus/${name#fuzz_}"
  corpus="$SCRATCH/$name"
  mkdir -p "$corpus" "$SCRATCH/artifacts-$name"
  [ -d "$seeds" ] && cp "$seeds"/* "$corpus"/ 2>/dev/null || true
  echo "== $name: ${SECS}s"
  if ! "$BUILD/fuzz/$name" -max_total_time="$SECS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$SCRATCH/artifacts-$name/" "$corpus" 2>"$SCRATCH/$name.log"; then
    echo "!! $name found a problem:"; tail -40 "$SCRATCH/$name.log"
    mkdir -p "$ROOT/build-fuzz/crashes" && cp "$SCRATCH/artifacts-$name"/* "$ROOT/build-fuzz/crashes/" 2>/dev/null || true
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$SCRATCH/$name.log" | sed "s/^/   /"
    echo "   corpus: $(ls "$corpus" | wc -l) inputs"
  fi
done
exit $status
