#!/usr/bin/env bash
# t_serve.sh — `vs2 serve` over real HTTP on 127.0.0.1 (ephemeral ports) with the tiny random-weight
# checkpoint and the real tokenizer (fixture vs2_engine_ckpt):
#   server A (no key, 2 workers, queue 8, --compute-fps 8): tests/serve_client.py's Flow-Factory-style
#     client, the native API and every request error, the load test (200 requests at concurrency 64:
#     only 200 and intended 503s, bounded time and peak RSS), and curl on every GET endpoint;
#   server B (--api-key, --model-name, --max-body 65536, --request-timeout 20, 1 worker): the OpenAI-SDK-shaped
#     client, 401, 413, 504 with the work cancelled, a client that disconnects (cancelled, 499 in
#     /metrics), and SIGTERM: the request in hand is answered, then the process exits 0.
# Skips (77) without ffmpeg, curl, or Debian's python3 with requests and PIL.
set -u
: "${VS2_BIN:?run through ctest}" "${VS2_TEST_TMP:?run through ctest}" "${VS2_SOURCE_DIR:?run through ctest}"
command -v ffmpeg >/dev/null || { echo "ffmpeg not found: skipped"; exit 77; }
command -v curl >/dev/null || { echo "curl not found: skipped"; exit 77; }
PY=${PYTHON3:-/usr/bin/python3}
$PY -c "import requests, PIL" 2>/dev/null || { echo "$PY lacks requests or PIL (python3-requests, python3-pil): skipped"; exit 77; }
CK="$VS2_TEST_TMP/ckpt/engine"
WORK="$VS2_TEST_TMP/t_serve"
CLIENT="$VS2_SOURCE_DIR/tests/serve_client.py"
rm -rf "$WORK"; mkdir -p "$WORK/media/adir" "$WORK/outside"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done; }
trap cleanup EXIT

# Media: a clip, the same as webm, a file outside the root, a symlink to it, a FIFO, a directory.
ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=112x112:rate=8 -t 1 -pix_fmt yuv420p "$WORK/media/v.mp4" || { fail ffmpeg; exit 1; }
ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=96x64:rate=8 -t 1 -c:v libvpx-vp9 "$WORK/media/v.webm" || fail "ffmpeg webm"
cp "$WORK/media/v.mp4" "$WORK/outside/o.mp4"; cp "$WORK/media/v.mp4" "$WORK/outside.mp4"
ln -s "$WORK/outside/o.mp4" "$WORK/media/escape.mp4"
mkfifo "$WORK/media/fifo.mp4"

# start NAME ARGS...: start a server on an ephemeral port, wait until /ready (bounded).
start() {
  local name=$1; shift
  rm -f "$WORK/$name.port"
  "$VS2_BIN" serve --model "$CK" --port 0 --port-file "$WORK/$name.port" --weight-cache off --threads 1 \
      --max-new-tokens 8 "$@" 2> "$WORK/$name.log" &
  local pid=$!
  PIDS+=("$pid")
  eval "${name}_PID=$pid"
  for _ in $(seq 1 600); do
    if [ -s "$WORK/$name.port" ]; then
      eval "${name}_PORT=$(cat "$WORK/$name.port")"
      local port; port=$(cat "$WORK/$name.port")
      [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ready")" = 200 ] && return 0
    fi
    kill -0 "$pid" 2>/dev/null || { fail "server $name exited: $(cat "$WORK/$name.log")"; return 1; }
    sleep 0.2
  done
  fail "server $name not ready in 120 s"; return 1
}
code() { curl -s -o "$WORK/body" -w '%{http_code}' "$@"; }
expect() { # expect STATUS WORDS what curl-args...
  local want=$1 words=$2 what=$3; shift 3
  local got; got=$(code "$@")
  [ "$got" = "$want" ] || fail "$what: HTTP $got, expected $want ($(head -c 300 "$WORK/body"))"
  grep -qF -- "$words" "$WORK/body" || fail "$what: body lacks '$words': $(head -c 300 "$WORK/body")"
}

start A --media-root "$WORK/media" --workers 2 --max-queue 8 --compute-fps 8 --max-items 8 --max-frames 64 || exit 1
A="http://127.0.0.1:$A_PORT"

# The CLI's own object for the same input, to compare /v1/score with.
"$VS2_BIN" score --model "$CK" --video "$WORK/media/v.mp4" --prompt "a red ball rolls across a wooden table" \
    --max-new-tokens 8 --threads 1 --weight-cache off --json > "$WORK/cli.json" 2> "$WORK/cli.err" || fail "vs2 score: $(cat "$WORK/cli.err")"

# curl: every GET endpoint.
expect 200 '"alive"' "/live" "$A/live"
expect 200 '"ok"' "/health" "$A/health"
expect 200 '"ready":true' "/ready" "$A/ready"
expect 200 '"weight_files"' "/info" "$A/info"
grep -qF '"model.safetensors"' "$WORK/body" || fail "/info lacks the weight file"
grep -qF '"backend"' "$WORK/body" && grep -qF '"max_new_tokens":8' "$WORK/body" || fail "/info: backend and decoding defaults"
expect 200 '"object":"list"' "/v1/models" "$A/v1/models"
expect 405 'use POST' "GET /compute" "$A/compute"
expect 404 'no endpoint' "unknown path" "$A/nothing"
# curl: POST /v1/score with a path, as docs/server.md shows it.
expect 200 '"scores":' "curl /v1/score" -H 'Content-Type: application/json' \
    -d '{"video": "v.mp4", "prompt": "a red ball rolls across a wooden table"}' "$A/v1/score"

# curl: a multipart upload (the file as it is) scores as the file does on the command line.
expect 200 '"output_ids":' "multipart /v1/score" -F "video=@$WORK/media/v.mp4" \
    -F "prompt=a red ball rolls across a wooden table" "$A/v1/score"
$PY -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); assert a["output_ids"]==b["output_ids"], (a["output_ids"], b["output_ids"])' \
    "$WORK/body" "$WORK/cli.json" || fail "multipart upload: another answer than vs2 score's"
expect 400 "multipart part 'colour'" "multipart unknown part" -F "video=@$WORK/media/v.mp4" -F prompt=x -F colour=red "$A/v1/score"
expect 400 'no \"video\" file part' "multipart without video" -F prompt=x "$A/v1/score"

$PY "$CLIENT" flowfactory --port "$A_PORT" || fail "Flow-Factory-style client"
$PY "$CLIENT" native --port "$A_PORT" --media "$WORK/media" --vs2-json "$WORK/cli.json" || fail "native API client"
$PY "$CLIENT" load --port "$A_PORT" --pid "$A_PID" --requests 200 --concurrency 64 --max-seconds 300 --max-rss-mb 2048 \
    || fail "load test"
curl -s "$A/metrics" > "$WORK/metrics.txt"
for m in 'vs2_requests_total{endpoint="/v1/score",status="200"}' 'vs2_request_seconds_bucket{endpoint="/compute",le="+Inf"}' \
         'vs2_queue_wait_seconds_count' 'vs2_queue_depth 0' 'vs2_in_flight 0' 'vs2_videos_scored_total' 'vs2_tokens_per_second'; do
  grep -qF -- "$m" "$WORK/metrics.txt" || fail "/metrics lacks $m"
done
kill -TERM "$A_PID"; wait "$A_PID"; rc=$?
[ $rc -eq 0 ] || fail "server A: exit $rc after SIGTERM"

# Server B: key, limits, time limit, disconnects, drain.
start B --media-root "$WORK/media" --api-key secret-key --model-name vs2-tiny --max-body 65536 --request-timeout 20 \
    --workers 1 --max-new-tokens-limit 100000 || exit 1
B="http://127.0.0.1:$B_PORT"
K=(-H 'Authorization: Bearer secret-key' -H 'Content-Type: application/json')
expect 401 'bearer key' "no key" -d '{"video":"v.mp4","prompt":"x"}' "$B/v1/score"
expect 401 'bearer key' "wrong key" -H 'Authorization: Bearer nope' -d '{"video":"v.mp4","prompt":"x"}' "$B/v1/score"
expect 401 'bearer key' "/info without key" "$B/info"
expect 200 '"ok"' "/health needs no key (probes)" "$B/health"
head -c 70000 /dev/zero | tr '\0' 'a' > "$WORK/big.txt"
expect 413 'max-body' "body over --max-body" "${K[@]}" --data-binary "@$WORK/big.txt" "$B/v1/score"
$PY "$CLIENT" openai --port "$B_PORT" --key secret-key --media "$WORK/media" --model-name vs2-tiny \
    --templates "$VS2_SOURCE_DIR/tests/data/videoscore2/templates.md" || fail "OpenAI-shaped client"
# 504: 100000 new tokens cannot finish in 20 s; the work stops at the next token, so the worker is free.
LONG='{"video":"v.mp4","prompt":"x","options":{"max_new_tokens":100000}}'
expect 504 'request-timeout' "time limit" "${K[@]}" -d "$LONG" "$B/v1/score"
t0=$(date +%s)
expect 200 '"scores":' "after a timeout" "${K[@]}" -d '{"video":"v.mp4","prompt":"x"}' "$B/v1/score"
[ $(( $(date +%s) - t0 )) -lt 60 ] || fail "the timed-out work was not cancelled (next request took $(( $(date +%s) - t0 )) s)"
# A client that goes away: curl gives up after 1 s; the work is cancelled (the next one is quick).
curl -s -o /dev/null --max-time 1 "${K[@]}" -d "$LONG" "$B/v1/score"
t0=$(date +%s)
expect 200 '"scores":' "after a disconnect" "${K[@]}" -d '{"video":"v.mp4","prompt":"x"}' "$B/v1/score"
[ $(( $(date +%s) - t0 )) -lt 60 ] || fail "the abandoned work was not cancelled"
curl -s "${K[@]}" "$B/metrics" | grep -qF 'vs2_requests_total{endpoint="/v1/score",status="499"} 1' || fail "/metrics lacks the 499"
# SIGTERM while a request runs: it is answered, new connections are refused, the process exits 0.
curl -s -o "$WORK/drain.json" -w '%{http_code}' "${K[@]}" -d '{"video":"v.mp4","prompt":"x","options":{"max_new_tokens":60}}' \
    "$B/v1/score" > "$WORK/drain.code" &
cpid=$!
for _ in $(seq 1 200); do
  curl -s "${K[@]}" "$B/metrics" | grep -qx 'vs2_in_flight 1' && break; sleep 0.05
done
kill -TERM "$B_PID"
wait "$cpid"
[ "$(cat "$WORK/drain.code")" = 200 ] || fail "drain: the request in hand got $(cat "$WORK/drain.code")"
for _ in $(seq 1 150); do kill -0 "$B_PID" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$B_PID" 2>/dev/null; then fail "drain: still running 30 s after SIGTERM"; else
  wait "$B_PID"; rc=$?; [ $rc -eq 0 ] || fail "drain: exit $rc"; fi
grep -qF "finishing the requests in hand" "$WORK/B.log" || fail "drain: no message"

# Usage errors.
"$VS2_BIN" serve --port 70000 2> "$WORK/usage.err"; rc=$?
[ $rc -eq 2 ] || fail "bad --port: exit $rc"
"$VS2_BIN" serve --compute-reward best 2> "$WORK/usage.err"; rc=$?
[ $rc -eq 2 ] && grep -qF "compute-reward" "$WORK/usage.err" || fail "bad --compute-reward: exit $rc"

[ $fails -eq 0 ] || { echo "t_serve: $fails failure(s)"; exit 1; }
echo "t_serve: ok"
