# testlib.sh — shared by tests/t_hub_*.sh: a tiny checkpoint to serve, the loopback hub server
# (tools/hubserver/hubserver.py) started and stopped by pid, and small checks. Source it after
# setting WORK (the test's scratch directory). Needs VS2_BIN, VS2_SOURCE_DIR (ctest sets them).
: "${VS2_BIN:?run through ctest}" "${VS2_SOURCE_DIR:?run through ctest}" "${WORK:?set WORK first}"
PY=${PYTHON3:-python3}
HUBSERVER="$VS2_SOURCE_DIR/tools/hubserver/hubserver.py"
fails=0
SERVER_PIDS=()

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
contains() { grep -qF -- "$2" <<<"$1" || fail "${3:-output} lacks '$2': $1"; }
same_file() { cmp -s "$1" "$2" || fail "$1 differs from $2"; }

rm -rf "$WORK" && mkdir -p "$WORK"

# make_repo DIR SEED: a 2-shard tiny checkpoint (two ~20 MB LFS shards, small git files).
make_repo() {
  "$PY" "$VS2_SOURCE_DIR/tools/make_tiny_checkpoint.py" --out "$1" --seed "${2:-1}" --shards 2 \
    >/dev/null || { echo "make_tiny_checkpoint failed" >&2; exit 1; }
}

# start_server NAME ARGS...: starts hubserver.py, sets PORT and ENDPOINT, logs to $WORK/NAME.log.
start_server() {
  local name=$1; shift
  rm -f "$WORK/$name.port"
  "$PY" "$HUBSERVER" --port-file "$WORK/$name.port" --log "$WORK/$name.log" --lifetime 240 "$@" \
    2>"$WORK/$name.err" &
  SERVER_PIDS+=($!)
  LAST_SERVER_PID=$!
  for _ in $(seq 100); do [ -s "$WORK/$name.port" ] && break; sleep 0.05; done
  [ -s "$WORK/$name.port" ] || { echo "hub server did not start: $(cat "$WORK/$name.err")" >&2; exit 1; }
  PORT=$(cat "$WORK/$name.port")
  ENDPOINT="http://127.0.0.1:$PORT"
}

stop_server() { kill "$LAST_SERVER_PID" 2>/dev/null; wait "$LAST_SERVER_PID" 2>/dev/null; }
stop_all() { for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap stop_all EXIT

# vs2env CACHE [NAME=VALUE...] COMMAND...: COMMAND against $ENDPOINT and CACHE, with only the
# test's Hugging Face environment (none of the caller's tokens or offline settings).
vs2env() {
  local cache=$1; shift
  env -u HF_TOKEN -u HUGGING_FACE_HUB_TOKEN -u HF_HUB_OFFLINE -u TRANSFORMERS_OFFLINE -u HF_TOKEN_PATH \
    HF_HOME="$WORK/hfhome" HF_ENDPOINT="$ENDPOINT" HF_HUB_CACHE="$cache" "$@"
}
# vs2dl CACHE ARGS...: `vs2 download ARGS` that way.
vs2dl() { local cache=$1; shift; vs2env "$cache" "$VS2_BIN" download "$@"; }

# snapshot_of CACHE REPO_FOLDER: the snapshot dir refs/main names.
snapshot_of() { echo "$1/$2/snapshots/$(cat "$1/$2/refs/main")"; }

# check_files SNAPSHOT SRC: every file vs2 fetches is byte-identical to the served one.
check_files() {
  for f in config.json generation_config.json tokenizer.json tokenizer_config.json \
           model.safetensors.index.json model-00001-of-00002.safetensors model-00002-of-00002.safetensors; do
    [ -f "$1/$f" ] || { fail "$1/$f missing"; continue; }
    same_file "$1/$f" "$2/$f"
  done
  [ ! -e "$1/tensors.json" ] || fail "$1: tensors.json (not needed by vs2) was downloaded"
}

# served_bytes LOG SHA256: body bytes the CDN sent for one blob.
served_bytes() { grep "/cdn-lfs/$2" "$1" | sed -n 's/.*bytes=\([0-9]*\)$/\1/p' | awk '{s+=$1} END {print s+0}'; }

finish() {
  stop_all
  if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
  echo "all checks passed"
  exit 0
}
