#!/usr/bin/env bash
# t_hub_errors.sh — what a person sees when a download cannot be done, and that nothing broken is
# left in the cache: wrong checksum, 404s, 401/403 (gated repo, token from HF_TOKEN or the token
# file), 5xx then success, offline with a missing or partial cache, a disk that is too small or
# fills up, an unreachable hub, bad model names.
set -u
WORK="${VS2_TEST_TMP:?run through ctest}/t_hub_errors"
source "${VS2_SOURCE_DIR:?run through ctest}/tools/hubserver/testlib.sh"
make_repo "$WORK/repo" 3
mkdir -p "$WORK/notok" && cp "$WORK/repo/"*.json "$WORK/repo/"*.safetensors "$WORK/notok/" && rm "$WORK/notok/tokenizer.json"
S1=model-00001-of-00002.safetensors
S2=model-00002-of-00002.safetensors
SHA1=$(sha256sum "$WORK/repo/$S1" | cut -d' ' -f1)
expect_fail() { # NAME EXIT OUTPUT NEEDLE...
  local name=$1 want=$2 got=$3 text=$4; shift 4
  [ "$got" -eq "$want" ] || fail "$name: exit $got, expected $want: $text"
  for n in "$@"; do contains "$text" "$n" "$name"; done
}

# 1. Wrong bytes from the CDN (LFS, sha256) and from the hub (git sha1): rejected, nothing kept.
start_server bad --repo t/m="$WORK/repo" --fault "corrupt:$S1"
out=$(vs2dl "$WORK/c1" t/m 2>&1); rc=$?
expect_fail corrupt-lfs 1 $rc "$out" "$S1: checksum mismatch: the hub says sha256 $SHA1" "nothing was put in the cache"
R="$WORK/c1/models--t--m"
[ ! -e "$R/blobs/$SHA1" ] && [ ! -e "$R/blobs/$SHA1.incomplete" ] || fail "corrupt blob kept"
! ls "$R/snapshots/"*/"$S1" >/dev/null 2>&1 || fail "corrupt file linked into the snapshot"
[ ! -e "$R/refs/main" ] || fail "refs/main written for an incomplete snapshot"
stop_server
start_server bad2 --repo t/m="$WORK/repo" --fault "corrupt:config.json"
out=$(vs2dl "$WORK/c1b" t/m 2>&1); rc=$?
expect_fail corrupt-git 1 $rc "$out" "config.json: checksum mismatch: the hub says git sha1"
stop_server

# 2. Not found: revision, repository (401 anonymous / 404 with a token, as the hub does), file;
#    and 500 twice then success for generation_config.json.
start_server hub --repo t/m="$WORK/repo" --repo t/notok="$WORK/notok" --gated t/gated --repo t/gated="$WORK/repo" \
  --token sekrit --fault "status:$S2:404:1" --fault "status:generation_config.json:500:2"
out=$(vs2dl "$WORK/c2" t/m --revision nope 2>&1); rc=$?
expect_fail revision 1 $rc "$out" "HTTP 404: revision 'nope' not found in t/m"
out=$(vs2dl "$WORK/c2" t/none 2>&1); rc=$?
expect_fail repo-anon 1 $rc "$out" "HTTP 401" "t/none does not exist, or it is private or gated and no token was sent" "HF_TOKEN"
out=$(vs2env "$WORK/c2" HF_TOKEN=sekrit "$VS2_BIN" download t/none 2>&1); rc=$?
expect_fail repo-token 1 $rc "$out" "HTTP 404: repository t/none not found"
out=$(vs2dl "$WORK/c2" t/notok 2>&1); rc=$?
expect_fail no-tokenizer 1 $rc "$out" "t/notok (revision main) has no tokenizer.json"
out=$(vs2dl "$WORK/c2" t/m 2>&1); rc=$?
# ... after generation_config.json answered 500 twice and was retried
expect_fail entry-404 1 $rc "$out" "$S2: HTTP 404" "HEAD http://127.0.0.1:$PORT: server error; retry 2 of 5"
# 3. Run again (the 404 fault is used up): the files fetched before are kept, the rest come.
out=$(vs2dl "$WORK/c2" t/m 2>"$WORK/err3"); rc=$?
[ $rc -eq 0 ] || fail "rerun after a 404: exit $rc: $(cat "$WORK/err3")"
contains "$(cat "$WORK/err3")" "1 of 7 files" "rerun after a 404"
check_files "$out" "$WORK/repo"

# 4. Gated: no token 401, wrong token 403, HF_TOKEN or the token file works; never to the CDN.
out=$(vs2dl "$WORK/c4" t/gated 2>&1); rc=$?
expect_fail gated-anon 1 $rc "$out" "HTTP 401: t/gated is a gated repository" "set HF_TOKEN"
out=$(vs2env "$WORK/c4" HF_TOKEN=wrong "$VS2_BIN" download t/gated 2>&1); rc=$?
expect_fail gated-wrong 1 $rc "$out" "HTTP 403: t/gated is a gated repository" "the token used came from HF_TOKEN"
: >"$WORK/hub.log"
out=$(vs2env "$WORK/c4" HF_TOKEN=sekrit "$VS2_BIN" download t/gated 2>&1); rc=$?
[ $rc -eq 0 ] || fail "gated with HF_TOKEN: exit $rc: $out"
grep -q "^GET /api/models/t/gated.*auth=yes" "$WORK/hub.log" || fail "token not sent to the hub"
! grep -q "cdn-lfs.*auth=yes" "$WORK/hub.log" || fail "token sent to the CDN"
mkdir -p "$WORK/hfhome" && printf 'sekrit\n' >"$WORK/hfhome/token"
out=$(vs2dl "$WORK/c4b" t/gated 2>&1); rc=$?
[ $rc -eq 0 ] || fail "gated with the token file: exit $rc: $out"
rm -f "$WORK/hfhome/token"

# 5. Offline: nothing cached / a partial snapshot; the server must see no request at all.
: >"$WORK/hub.log"
out=$(vs2dl "$WORK/c5" t/m --offline 2>&1); rc=$?
expect_fail offline-empty 1 $rc "$out" "t/m (revision main) is not in the Hugging Face cache $WORK/c5" \
  "run \`vs2 download t/m\`" "\`hf download t/m\`"
cp -a "$WORK/c2" "$WORK/c5b"
snap=$(snapshot_of "$WORK/c5b" models--t--m)
rm "$(readlink -f "$snap/$S2")" "$snap/$S2"
out=$(vs2env "$WORK/c5b" HF_HUB_OFFLINE=1 "$VS2_BIN" download t/m 2>&1); rc=$?
expect_fail offline-partial 1 $rc "$out" "is only partly in the Hugging Face cache" "lacks $S2"
[ ! -s "$WORK/hub.log" ] || fail "offline mode made requests: $(cat "$WORK/hub.log")"
# ... and online it fetches just the missing shard.
out=$(vs2dl "$WORK/c5b" t/m 2>"$WORK/err5"); rc=$?
[ $rc -eq 0 ] || fail "partial cache online: exit $rc"
contains "$(cat "$WORK/err5")" "1 of 7 files, 19.6 MB of 41.7 MB" "partial announcement"
check_files "$out" "$WORK/repo"
stop_server

# 6. Not enough disk: refused before the download, naming the cache.
start_server huge --repo t/m="$WORK/repo" --fault "hugesize:$S1"
out=$(vs2dl "$WORK/c6" t/m 2>&1); rc=$?
expect_fail no-space 1 $rc "$out" "disk full: the download needs" "is free in $WORK/c6"
stop_server

# 6b. A hostile server: a 70 MiB model-info answer in 4 KiB pieces is cut at the 64 MiB cap
#     for metadata and named (memory bounded, linear time: the body grows by doubling).
start_server hugeinfo --repo t/m="$WORK/repo" --fault "hugeinfo:api"
out=$(vs2dl "$WORK/c6b" t/m 2>&1); rc=$?
expect_fail huge-info 1 $rc "$out" "the response is larger than 64 MiB, the most vs2 accepts for metadata"
stop_server

# 7. The disk fills up mid-file (ENOSPC), then space is freed and the download resumes. Needs a
#    private tmpfs (unshare -Urm); skipped where the sandbox forbids it.
if unshare -Urm true 2>/dev/null; then
  start_server full --repo t/m="$WORK/repo" --throttle 8000000
  mkdir -p "$WORK/small"
  unshare -Urm env ENDPOINT="$ENDPOINT" WORK="$WORK" VS2_BIN="$VS2_BIN" bash -c '
    mount -t tmpfs -o size=46m tmpfs "$WORK/small" || exit 77
    run() { env -u HF_TOKEN -u HF_HUB_OFFLINE HF_HOME="$WORK/hfhome" HF_ENDPOINT="$ENDPOINT" \
              HF_HUB_CACHE="$WORK/small/c" "$VS2_BIN" download t/m; }
    run >"$WORK/out7" 2>"$WORK/err7" &
    pid=$!
    for _ in $(seq 400); do
      f=$(ls "$WORK/small/c/models--t--m/blobs/"*.incomplete 2>/dev/null | grep -E "/[0-9a-f]{64}\.incomplete$" | head -1)
      [ -n "$f" ] && [ "$(stat -c %s "$f")" -gt 1000000 ] && break
      sleep 0.02
    done
    dd if=/dev/zero of="$WORK/small/filler" bs=1M 2>/dev/null   # until the disk is full
    wait $pid; echo "first=$?" >"$WORK/rc7"
    rm -f "$WORK/small/filler"
    run >"$WORK/out7b" 2>"$WORK/err7b"; echo "second=$?" >>"$WORK/rc7"
    cp -rL "$(cat "$WORK/out7b")" "$WORK/snap7" 2>/dev/null
    exit 0'
  case $? in
    77) echo "tmpfs mount not permitted: ENOSPC test skipped" ;;
    0) grep -q "first=1" "$WORK/rc7" || fail "ENOSPC: first run did not fail: $(cat "$WORK/rc7" "$WORK/err7")"
       contains "$(cat "$WORK/err7")" "disk full: cannot write" "ENOSPC"
       contains "$(cat "$WORK/err7")" "then run again to resume" "ENOSPC"
       grep -q "second=0" "$WORK/rc7" || fail "ENOSPC: the rerun failed: $(cat "$WORK/err7b")"
       contains "$(cat "$WORK/err7b")" "resuming at" "ENOSPC rerun"
       check_files "$WORK/snap7" "$WORK/repo" ;;
    *) fail "ENOSPC test did not run" ;;
  esac
  stop_server
else
  echo "unshare not permitted: ENOSPC test skipped"
fi

# 8. An unreachable hub (nothing cached): retried with back-off, then a clear error.
ENDPOINT="http://127.0.0.1:9"
out=$(vs2dl "$WORK/c8" t/m 2>&1); rc=$?
expect_fail unreachable 1 $rc "$out" "retry 5 of 5" "cannot reach http://127.0.0.1:9" "--model DIR"

# 9. Bad names: usage error for a malformed id, I/O error for a missing directory.
out=$("$VS2_BIN" download "bad id!" 2>&1); rc=$?
expect_fail bad-id 2 $rc "$out" "is neither a directory nor a Hugging Face repo id"
out=$("$VS2_BIN" download ./no/such/dir 2>&1); rc=$?
expect_fail no-dir 1 $rc "$out" "./no/such/dir: no such model directory"
out=$("$VS2_BIN" download t/m --bogus 2>&1); rc=$?
expect_fail bad-option 2 $rc "$out" "unexpected argument '--bogus'"
finish
