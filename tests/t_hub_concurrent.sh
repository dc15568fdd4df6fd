#!/usr/bin/env bash
# t_hub_concurrent.sh — two `vs2 download` processes started at once into one cache: both succeed
# with the same snapshot, every blob is transferred once (the per-blob lock makes the second
# wait and then find it done), and the cache is intact.
set -u
WORK="${VS2_TEST_TMP:?run through ctest}/t_hub_concurrent"
source "${VS2_SOURCE_DIR:?run through ctest}/tools/hubserver/testlib.sh"
make_repo "$WORK/repo" 4
start_server hub --repo t/m="$WORK/repo" --throttle 10000000
C="$WORK/cache"
run() { env -u HF_TOKEN -u HF_HUB_OFFLINE HF_HOME="$WORK/hfhome" HF_ENDPOINT="$ENDPOINT" HF_HUB_CACHE="$C" \
          "$VS2_BIN" download t/m; }
run >"$WORK/out1" 2>"$WORK/err1" &
p1=$!
run >"$WORK/out2" 2>"$WORK/err2" &
p2=$!
wait $p1; rc1=$?
wait $p2; rc2=$?
[ $rc1 -eq 0 ] || fail "downloader 1: exit $rc1: $(cat "$WORK/err1")"
[ $rc2 -eq 0 ] || fail "downloader 2: exit $rc2: $(cat "$WORK/err2")"
[ "$(cat "$WORK/out1")" = "$(cat "$WORK/out2")" ] || fail "different snapshots: $(cat "$WORK/out1" "$WORK/out2")"
check_files "$(cat "$WORK/out1")" "$WORK/repo"
"$PY" "$VS2_SOURCE_DIR/tools/hubserver/check_layout.py" "$C" t/m || fail "cache layout"
cat "$WORK/err1" "$WORK/err2" | grep -q "another process is downloading it; waiting" || fail "no process waited for a lock"
for f in model-00001-of-00002.safetensors model-00002-of-00002.safetensors; do
  sha=$(sha256sum "$WORK/repo/$f" | cut -d' ' -f1)
  sent=$(served_bytes "$WORK/hub.log" "$sha")
  [ "$sent" -eq "$(stat -c %s "$WORK/repo/$f")" ] || fail "$f: $sent bytes served, expected one copy"
done
n=$(grep -c "^GET /t/m/resolve/.*/tokenizer.json " "$WORK/hub.log")
[ "$n" -eq 1 ] || fail "tokenizer.json fetched $n times"
finish
