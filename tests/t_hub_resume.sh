#!/usr/bin/env bash
# t_hub_resume.sh — interrupted downloads continue where they stopped and end byte-identical:
# the server drops the connection mid-file, stalls, ignores Range; a real `vs2 download` is
# killed with SIGKILL mid-file and run again; a complete or a corrupt .incomplete file is left.
set -u
WORK="${VS2_TEST_TMP:?run through ctest}/t_hub_resume"
source "${VS2_SOURCE_DIR:?run through ctest}/tools/hubserver/testlib.sh"
make_repo "$WORK/repo" 2
S1=model-00001-of-00002.safetensors
S2=model-00002-of-00002.safetensors
SHA1=$(sha256sum "$WORK/repo/$S1" | cut -d' ' -f1)
SHA2=$(sha256sum "$WORK/repo/$S2" | cut -d' ' -f1)
SIZE1=$(stat -c %s "$WORK/repo/$S1")

# 1. Dropped connection after 5,000,000 bytes of shard 1: retried with Range, identical.
start_server drop --repo t/m="$WORK/repo" --fault "drop:$S1:5000000"
out=$(vs2dl "$WORK/c1" t/m 2>"$WORK/err1"); rc=$?
[ $rc -eq 0 ] || fail "dropped connection: exit $rc: $(cat "$WORK/err1")"
check_files "$out" "$WORK/repo"
grep -q "GET /cdn-lfs/$SHA1.* range=bytes=5000000- .*status=206" "$WORK/drop.log" || fail "no Range: bytes=5000000- resume in the server log"
contains "$(cat "$WORK/err1")" "retry 1 of 5" "retry message"
stop_server

# 2. A stall mid-file: detected after HF_HUB_DOWNLOAD_TIMEOUT seconds, then resumed.
start_server stall --repo t/m="$WORK/repo" --fault "stall:$S2:3000000"
out=$(vs2env "$WORK/c2" HF_HUB_DOWNLOAD_TIMEOUT=2 "$VS2_BIN" download t/m 2>"$WORK/err2"); rc=$?
[ $rc -eq 0 ] || fail "stall: exit $rc: $(cat "$WORK/err2")"
check_files "$out" "$WORK/repo"
grep -q "GET /cdn-lfs/$SHA2.* range=bytes=3000000- .*status=206" "$WORK/stall.log" || fail "no resume after the stall"
contains "$(cat "$WORK/err2")" "$S2: Timeout was reached" "stall message"
stop_server

# 3. The server ignores Range (200 with the whole body): the file starts again, identical.
start_server norange --repo t/m="$WORK/repo" --fault "drop:$S1:4000000" --fault "norange:$S1"
out=$(vs2dl "$WORK/c3" t/m 2>"$WORK/err3"); rc=$?
[ $rc -eq 0 ] || fail "norange: exit $rc: $(cat "$WORK/err3")"
check_files "$out" "$WORK/repo"
contains "$(cat "$WORK/err3")" "ignored the range request" "norange message"
stop_server

# 4. kill -9 of a real `vs2 download` mid-file (slow server), then run it again.
start_server slow --repo t/m="$WORK/repo" --throttle 4000000
# a simple command in the background, so that $! is the vs2 process itself (env execs it)
env -u HF_TOKEN -u HF_HUB_OFFLINE HF_HOME="$WORK/hfhome" HF_ENDPOINT="$ENDPOINT" HF_HUB_CACHE="$WORK/c4" \
  "$VS2_BIN" download t/m >"$WORK/out4" 2>"$WORK/err4" &
pid=$!
part=""
for _ in $(seq 300); do   # wait until a shard (a 64-hex LFS blob) is 2 MB in
  part=$(ls "$WORK/c4/models--t--m/blobs/"*.incomplete 2>/dev/null | grep -E '/[0-9a-f]{64}\.incomplete$' | head -1)
  [ -n "$part" ] && [ "$(stat -c %s "$part")" -gt 2000000 ] && break
  sleep 0.05
done
kill -9 $pid; wait $pid 2>/dev/null
kill -0 $pid 2>/dev/null && fail "vs2 download survived kill -9"
stop_server
[ -n "$part" ] && [ -f "$part" ] || fail "no .incomplete file to resume after kill -9"
N=$(stat -c %s "$part" 2>/dev/null || echo 0)
etag=$(basename "$part" .incomplete)
[ ! -e "$WORK/c4/models--t--m/blobs/$etag" ] || fail "a killed download left a finished-looking blob"
start_server resume --repo t/m="$WORK/repo"
out=$(vs2dl "$WORK/c4" t/m 2>"$WORK/err4b"); rc=$?
[ $rc -eq 0 ] || fail "rerun after kill -9: exit $rc: $(cat "$WORK/err4b")"
check_files "$out" "$WORK/repo"
if [ ${#etag} -eq 64 ]; then
  grep -q "GET /cdn-lfs/$etag.* range=bytes=$N- .*status=206" "$WORK/resume.log" || fail "rerun did not resume at byte $N"
  sent=$(served_bytes "$WORK/resume.log" "$etag")
  total=$(stat -c %s "$(readlink -f "$out/$( [ "$etag" = "$SHA1" ] && echo $S1 || echo $S2)")")
  [ "$sent" -eq $((total - N)) ] || fail "rerun transferred $sent bytes, expected $((total - N))"
else
  grep -q "range=bytes=$N- .*status=206" "$WORK/resume.log" || fail "rerun did not resume at byte $N"
fi
contains "$(cat "$WORK/err4b")" "resuming at" "resume message"
echo "kill -9 at byte $N of blob ${etag:0:12}: resumed, byte-identical"

# 5. A whole file left as .incomplete (killed before the rename): 416, verified, moved in place.
mkdir -p "$WORK/c5/models--t--m/blobs"
cp "$WORK/repo/$S1" "$WORK/c5/models--t--m/blobs/$SHA1.incomplete"
out=$(vs2dl "$WORK/c5" t/m 2>"$WORK/err5"); rc=$?
[ $rc -eq 0 ] || fail "complete .incomplete: exit $rc: $(cat "$WORK/err5")"
check_files "$out" "$WORK/repo"
grep -q "GET /cdn-lfs/$SHA1.* range=bytes=$SIZE1- .*status=416" "$WORK/resume.log" || fail "no 416 for a complete partial file"

# 6. A corrupt .incomplete: resumed, fails the sha256, discarded, fetched again from the start.
mkdir -p "$WORK/c6/models--t--m/blobs"
head -c 1000000 /dev/urandom >"$WORK/c6/models--t--m/blobs/$SHA2.incomplete"
out=$(vs2dl "$WORK/c6" t/m 2>"$WORK/err6"); rc=$?
[ $rc -eq 0 ] || fail "corrupt .incomplete: exit $rc: $(cat "$WORK/err6")"
check_files "$out" "$WORK/repo"
contains "$(cat "$WORK/err6")" "the resumed file failed its checksum; downloading it again from the start" "corrupt-partial message"
finish
