#!/usr/bin/env bash
# t_hub_download.sh — `vs2 download` against the loopback hub (tools/hubserver): a clean download
# is byte-identical to what was served, has the cache layout huggingface_hub documents, fetches
# only the files vs2 needs, and then resolves with no server at all (offline or not). When
# huggingface_hub is importable, it must read vs2's cache, and vs2 must read its cache.
set -u
WORK="${VS2_TEST_TMP:?run through ctest}/t_hub_download"
source "${VS2_SOURCE_DIR:?run through ctest}/tools/hubserver/testlib.sh"
make_repo "$WORK/repo" 1
start_server hub --repo tiger/tiny="$WORK/repo"
C="$WORK/cache"

# 1. Clean download: the snapshot path on stdout, the announcement and progress on stderr.
out=$(vs2dl "$C" tiger/tiny 2>"$WORK/err1"); rc=$?
err=$(cat "$WORK/err1")
[ $rc -eq 0 ] || fail "clean download: exit $rc: $err"
snap=$(snapshot_of "$C" models--tiger--tiny)
[ "$out" = "$snap" ] || fail "printed '$out', expected '$snap'"
contains "$err" "downloading tiger/tiny (revision main, commit" "announcement"
contains "$err" "7 files, 41.7 MB, into $C" "announcement"
contains "$err" "[7/7] model-00002-of-00002.safetensors done" "progress lines"
[ "$(grep -c 'downloading tiger/tiny' <<<"$err")" -eq 1 ] || fail "announced more than once"
check_files "$snap" "$WORK/repo"
"$PY" "$VS2_SOURCE_DIR/tools/hubserver/check_layout.py" "$C" tiger/tiny || fail "cache layout"
for f in chat_template.json preprocessor_config.json; do
  [ -f "$C/models--tiger--tiny/.no_exist/$(basename "$snap")/$f" ] || fail ".no_exist marker for $f"
done
[ -d "$C/.locks/models--tiger--tiny" ] || fail "no .locks/models--tiger--tiny"
! grep -q "tensors.json" "$WORK/hub.log" || fail "requested tensors.json"
! grep -q "/cdn-lfs/.*auth=yes" "$WORK/hub.log" || fail "sent a token to the CDN"

# 2. The model is in the cache: the engine's inspect reads the snapshot.
"$VS2_BIN" inspect "$snap" >"$WORK/inspect.txt" 2>&1 || fail "vs2 inspect of the snapshot: $(cat "$WORK/inspect.txt")"

# 3. Again, online: nothing is transferred again (only the model info is asked).
n_before=$(grep -c "^GET /cdn-lfs" "$WORK/hub.log")
out=$(vs2dl "$C" tiger/tiny 2>"$WORK/err3"); rc=$?
[ $rc -eq 0 ] && [ "$out" = "$snap" ] || fail "second download: exit $rc, '$out'"
[ "$(grep -c "^GET /cdn-lfs" "$WORK/hub.log")" -eq "$n_before" ] || fail "second download fetched blobs again"
! grep -q "downloading" "$WORK/err3" || fail "second download announced a download"

# 4. No server: offline by flag and by HF_HUB_OFFLINE, and --offline with a dead endpoint.
stop_server
ENDPOINT="http://127.0.0.1:9"   # nothing listens; any request would fail
out=$(vs2dl "$C" tiger/tiny --offline 2>&1); rc=$?
[ $rc -eq 0 ] && [ "$out" = "$snap" ] || fail "--offline from the cache: exit $rc, '$out'"
out=$(vs2env "$C" HF_HUB_OFFLINE=1 "$VS2_BIN" download tiger/tiny 2>&1); rc=$?
[ $rc -eq 0 ] && [ "$out" = "$snap" ] || fail "HF_HUB_OFFLINE=1 from the cache: exit $rc, '$out'"
out=$(vs2dl "$C" tiger/tiny --revision "$(basename "$snap")" --offline 2>&1); rc=$?
[ $rc -eq 0 ] && [ "$out" = "$snap" ] || fail "--revision COMMIT offline: exit $rc, '$out'"
# Online with the hub unreachable: the complete cached snapshot is used, with a warning.
out=$(vs2dl "$C" tiger/tiny 2>"$WORK/err4"); rc=$?
[ $rc -eq 0 ] && [ "$out" = "$snap" ] || fail "unreachable hub with a cache: exit $rc, '$out'"
contains "$(cat "$WORK/err4")" "using the cached snapshot" "unreachable-hub warning"

# 5. huggingface_hub, when importable, reads vs2's cache and vs2 reads huggingface_hub's.
if "$PY" -c "from huggingface_hub import snapshot_download, scan_cache_dir" 2>/dev/null; then
  "$PY" "$VS2_SOURCE_DIR/tools/hubserver/check_layout.py" "$C" tiger/tiny --hf || fail "huggingface_hub reading vs2's cache"
  start_server hub2 --repo tiger/tiny="$WORK/repo"
  H="$WORK/hf-cache"
  HF_ENDPOINT="$ENDPOINT" HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_PROGRESS_BARS=1 "$PY" - "$H" <<'PYEOF' || fail "huggingface_hub download from the loopback hub"
import sys
from huggingface_hub import snapshot_download
snapshot_download("tiger/tiny", cache_dir=sys.argv[1], allow_patterns=["config.json", "generation_config.json", "tokenizer*.json", "model*.safetensors*"])
PYEOF
  stop_server
  out=$(HF_HUB_CACHE="$H" HF_HUB_OFFLINE=1 "$VS2_BIN" download tiger/tiny 2>&1); rc=$?
  [ $rc -eq 0 ] || fail "vs2 reading huggingface_hub's cache: exit $rc: $out"
  check_files "$out" "$WORK/repo"
  [ "$(basename "$out")" = "$(basename "$snap")" ] || fail "huggingface_hub's snapshot '$out' is another commit"
  echo "huggingface_hub cross-check: done"
else
  echo "huggingface_hub not importable: cross-check skipped (layout checked against the documented rules)"
fi
finish
