#!/usr/bin/env bash
# tools/valgrind.sh [TEST_REGEX] — the C unit tests (tests/test_*.c) under valgrind memcheck, in a
# build without -march=native (VS2_NATIVE=OFF: x86-64-v2, no AVX-512, which valgrind cannot run).
# Slow (10-50x): a weekly job (.ci/weekly), not every CI run. Any invalid read/write, use of
# uninitialised memory or definite leak fails the run (exit 1); the log of each test is kept in
# build-valgrind/valgrind/<test>.log.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${VS2_VALGRIND_BUILD:-$ROOT/build-valgrind}
REGEX=${1:-^test_}
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)"; exit 2; }
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DVS2_NATIVE=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD"
mkdir -p "$BUILD/valgrind"
# The fixtures (tiny checkpoints, tokenizer references) run normally first; only the unit tests
# run under valgrind. OpenMP's thread pool keeps its stacks to exit: "possibly lost" is not an error.
ctest --test-dir "$BUILD" -R "ckpt_|tokenizer_reference|metrics_ref_cases" -j2 >/dev/null || true
status=0
for t in $(cd "$BUILD/tests" && ls | grep -E "$REGEX" | grep -v '\.'); do
  [ -x "$BUILD/tests/$t" ] || continue
  log="$BUILD/valgrind/$t.log"
  start=$(date +%s)
  if (cd "$BUILD/tests" && env VS2_SOURCE_DIR="$ROOT" VS2_BUILD_DIR="$BUILD" VS2_BIN="$BUILD/vs2" \
        VS2_TEST_TMP="$BUILD/test-tmp" OMP_NUM_THREADS=2 \
        valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
                 --track-origins=yes --log-file="$log" "./$t" >"$log.out" 2>&1); then
    echo "ok   $t ($(( $(date +%s) - start )) s)"
  else
    echo "FAIL $t: see $log"; status=1
  fi
done
exit $status
