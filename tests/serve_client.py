#!/usr/bin/env python3
"""serve_client.py — the HTTP half of tests/t_serve.sh: clients of `vs2 serve` written as the
trainers' own are, run against a server on 127.0.0.1 with the tiny random-weight checkpoint.

  flowfactory  Flow-Factory's remote reward client, as its src/flow_factory/rewards/my_reward_remote.py
               builds and reads requests (requests.Session, GET /health, POST /compute with base64 PNG
               frames, raise_for_status, "error", "rewards").
  native       /v1/score (path, size+sha256, base64 mp4/webm, PNG/JPEG frames, raw uint8), batch, rank,
               and every error status of the request parsing.
  openai       /v1/chat/completions as an OpenAI SDK call sends it (Bearer header, messages with
               video_url / image_url parts, logprobs, top_logprobs) and GET /v1/models.
  load         N requests at concurrency C: only 200 and intended 503s (queue full, with Retry-After),
               bounded time, the server alive and its peak RSS bounded, one answer to one greedy request.
  perf         latency p50/p99 of sequential requests and throughput at a concurrency (docs/perf.md; not a test).

Random weights: generated answers hold no scores, so score values are checked with teacher forcing
(options.answer): the reward must equal the mean of the planted scores exactly (they are integers; the
mean of three is computed in double by both sides, so 1e-12 is only the printing round trip).
Usage: serve_client.py MODE --port P [--key K] [--media DIR] [--pid PID] [--templates FILE] [--vs2-json F]
"""
import argparse
import base64
import concurrent.futures
import hashlib
import io
import json
import math
import os
import sys
import time

import requests
from PIL import Image

DIMS = ["visual_quality", "text_alignment", "physical_consistency"]
ANSWER = ("<think>\nfine.\n</think>\n\n(1) visual quality: 4\n(2) text-to-video alignment: 2\n"
          "(3) physical/common-sense consistency: 5\n")
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


def b64(data):
    return base64.b64encode(data).decode()


def frames_png(n=6, size=(64, 48), fmt="PNG"):
    out = []
    for i in range(n):
        im = Image.new("RGB", size, (i * 40 % 256, 90, 200 - i * 20))
        for x in range(0, size[0], 8):
            for y in range(size[1]):
                im.putpixel((x, y), (255, (x * 3 + i * 7) % 256, y * 4 % 256))
        buf = io.BytesIO()
        im.save(buf, format=fmt)
        out.append(buf.getvalue())
    return out


class Server:
    def __init__(self, port, key=None):
        self.url = f"http://127.0.0.1:{port}"
        self.s = requests.Session()
        if key:
            self.s.headers["Authorization"] = f"Bearer {key}"

    def post(self, path, obj, timeout=120, **kw):
        r = self.s.post(self.url + path, json=obj, timeout=timeout, **kw)
        try:
            body = r.json()
        except ValueError:
            body = None
        return r, body

    def get(self, path, timeout=30):
        return self.s.get(self.url + path, timeout=timeout)


# ---- Flow-Factory --------------------------------------------------------------------------------

class FlowFactoryStyleClient:
    """The shape of Flow-Factory's RemoteRewardClient: no auth header, json=payload, 3 tries."""

    def __init__(self, server_url, timeout=60.0, retries=3):
        self.url = server_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self._session = requests.Session()

    def health_check(self):
        try:
            return self._session.get(f"{self.url}/health", timeout=5.0).ok
        except Exception:
            return False

    @staticmethod
    def payload(prompt, video, **kwargs):
        to_b64 = lambda im: b64(im) if isinstance(im, bytes) else im
        return {"prompt": prompt, "image": None, "video": [[to_b64(f) for f in v] for v in video] if video else None,
                "condition_images": None, "condition_videos": None, "kwargs": kwargs if kwargs else None}

    def compute(self, prompt, video, **kwargs):
        payload = self.payload(prompt, video, **kwargs)
        for attempt in range(self.retries):
            try:
                r = self._session.post(f"{self.url}/compute", json=payload, timeout=self.timeout)
                r.raise_for_status()
                data = r.json()
                if data.get("error"):
                    raise RuntimeError(f"Server error: {data['error']}")
                return data["rewards"]
            except requests.RequestException as e:
                if attempt == self.retries - 1:
                    raise RuntimeError(f"Failed to connect to {self.url}: {e}")


def mode_flowfactory(a):
    srv = Server(a.port)
    ff = FlowFactoryStyleClient(srv.url)
    check(ff.health_check(), "flowfactory: GET /health is ok")
    vids = [frames_png(6), frames_png(4, (48, 64))]
    forced = {"options": {"answer": ANSWER}}
    # The server was started with --compute-fps 8: Flow-Factory sends no fps and needs no code change.
    rw = ff.compute(["a red ball", "a blue cube"], vids, **forced)
    check(rw == [(4 + 2 + 5) / 3] * 2 or all(abs(x - 11 / 3) < 1e-12 for x in rw), f"flowfactory: hard mean reward {rw}")
    rw = ff.compute(["a red ball"], vids[:1], reward="visual_quality", **forced)
    check(rw == [4.0], f"flowfactory: visual_quality reward {rw}")
    # The soft reward is the mean of the result's soft scores as /v1/score reports them for the same input.
    rw = ff.compute(["a red ball"], vids[:1], reward="soft", **forced)
    r, body = srv.post("/v1/score", {"video": {"frames": [b64(f) for f in vids[0]], "fps": 8}, "prompt": "a red ball",
                                     "options": {"answer": ANSWER}})
    check(r.status_code == 200, f"flowfactory: /v1/score for the soft comparison: {r.status_code} {body}")
    if r.status_code == 200:
        soft = [body["soft_scores"][d] for d in DIMS]
        check(all(v is not None for v in soft) and abs(rw[0] - sum(soft) / 3) < 1e-9,
              f"flowfactory: soft reward {rw} vs soft scores {soft}")
    # kwargs.fps overrides the server's; an answer without scores is an error the client raises on.
    rw = ff.compute(["a red ball"], vids[:1], fps=4.0, **forced)
    check(len(rw) == 1, "flowfactory: kwargs.fps")
    try:
        ff.compute(["a red ball"], vids[:1])
        check(False, "flowfactory: an answer without scores must fail (no invented reward)")
    except RuntimeError as e:
        check("holds no hard scores" in str(e) or "422" in str(e), f"flowfactory: no-score error: {e}")
    # Raw shape errors of the protocol.
    r, body = srv.post("/compute", {"prompt": ["x"], "video": None, "image": [b64(vids[0][0])], "kwargs": None})
    check(r.status_code == 422 and "videos" in body["error"], f"flowfactory: image-only request {r.status_code} {body}")
    r, body = srv.post("/compute", {"prompt": ["x", "y"], "video": [[b64(vids[0][0])] * 2], "kwargs": None})
    check(r.status_code == 400, f"flowfactory: prompt/video count mismatch {r.status_code}")


# ---- native API -------------------------------------------------------------------------------------

def rgb_of(png):
    im = Image.open(io.BytesIO(png)).convert("RGB")
    return im.size, im.tobytes()


def mode_native(a):
    srv = Server(a.port)
    media = a.media
    v = open(os.path.join(media, "v.mp4"), "rb").read()
    P = "a red ball rolls across a wooden table"

    def score(video, **opts):
        return srv.post("/v1/score", {"video": video, "prompt": P, "options": opts})

    r, by_path = score("v.mp4")
    check(r.status_code == 200 and by_path["video"] == "v.mp4", f"native: path {r.status_code}")
    if a.vs2_json:  # the object vs2 score --json prints for the same video and options
        cli = json.load(open(a.vs2_json))
        for k in ["output_ids", "output", "frames", "grid_thw", "prompt_tokens", "video_tokens", "scores", "decoding"]:
            check(by_path.get(k) == cli.get(k), f"native: /v1/score {k} equals vs2 score --json's")
    r, body = score({"path": "v.mp4", "size_bytes": len(v), "sha256": hashlib.sha256(v).hexdigest()})
    check(r.status_code == 200 and body["output_ids"] == by_path["output_ids"], f"native: path+sha256 {r.status_code}")
    r, body = score({"path": "v.mp4", "size_bytes": len(v) + 1})
    check(r.status_code == 422 and "size_bytes" in body["error"], f"native: wrong size_bytes {r.status_code}")
    r, body = score({"path": "v.mp4", "sha256": "0" * 64})
    check(r.status_code == 422 and "sha256" in body["error"], f"native: wrong sha256 {r.status_code}")
    r, body = score({"data": b64(v)})
    check(r.status_code == 200 and body["output_ids"] == by_path["output_ids"] and body["grid_thw"] == by_path["grid_thw"],
          f"native: base64 mp4 scores as the file does {r.status_code}")
    r, body = score("data:video/mp4;base64," + b64(v))
    check(r.status_code == 200 and body["output_ids"] == by_path["output_ids"], f"native: data URL mp4 {r.status_code}")
    webm = open(os.path.join(media, "v.webm"), "rb").read()
    r, body = score({"data": b64(webm)})
    check(r.status_code == 200 and body["frames"] >= 2, f"native: base64 webm {r.status_code} {body if r.status_code != 200 else ''}")
    # Frames: PNG and the same pixels as raw uint8 give the same answer (PNG is lossless).
    pngs = frames_png(6)
    r, f_png = score({"frames": [b64(f) for f in pngs], "fps": 8})
    check(r.status_code == 200, f"native: PNG frames {r.status_code} {f_png}")
    (w, h), _ = rgb_of(pngs[0])
    raw = b"".join(rgb_of(f)[1] for f in pngs)
    r, f_raw = score({"raw": b64(raw), "shape": [6, h, w, 3], "fps": 8})
    check(r.status_code == 200 and f_raw["output_ids"] == f_png["output_ids"] and f_raw["grid_thw"] == f_png["grid_thw"],
          f"native: raw frames equal PNG frames {r.status_code}")
    r, body = score({"frames": [b64(f) for f in frames_png(6, fmt="JPEG")], "fps": 8})
    check(r.status_code == 200, f"native: JPEG frames {r.status_code}")
    # Options go through the same rules as vs2 score's.
    r, s1 = score("v.mp4", seed=3, temperature=0.9, max_new_tokens=6)
    r2, s2 = score("v.mp4", seed=3, temperature=0.9, max_new_tokens=6)
    check(r.status_code == 200 and s1["output_ids"] == s2["output_ids"] and s1["decoding"]["mode"] == "sample",
          "native: seeded sampling is repeatable")
    r, body = score("v.mp4", samples=2, max_new_tokens=4)
    check(r.status_code == 200 and len(body.get("samples", [])) == 2, f"native: samples=2 {r.status_code}")
    r, body = score("v.mp4", template="inf")
    check(r.status_code == 200 and body["template"] == "inf", "native: template inf")
    r, body = score("v.mp4", answer=ANSWER)
    check(r.status_code == 200 and [body["scores"][d] for d in DIMS] == [4, 2, 5], f"native: teacher forcing {body}")

    # Batch: results in order, a failing item in place.
    items = [{"video": "v.mp4", "prompt": P}, {"video": "missing.mp4", "prompt": P},
             {"video": {"frames": [b64(f) for f in pngs], "fps": 8}, "prompt": P}]
    r, body = srv.post("/v1/score/batch", {"items": items})
    res = body["results"] if r.status_code == 200 else []
    check(len(res) == 3 and res[0]["output_ids"] == by_path["output_ids"] and res[1]["status"] == 404
          and res[2]["output_ids"] == f_png["output_ids"], f"native: batch {r.status_code}")
    # Rank: every candidate once, keys from the planted answer, ties in index order.
    r, body = srv.post("/v1/rank", {"prompt": P, "videos": ["v.mp4", {"data": b64(v)}, "missing.mp4"],
                                    "options": {"answer": ANSWER}, "by": "visual_quality"})
    ok = r.status_code == 200
    check(ok and [x["index"] for x in body["ranking"]] == [0, 1, 2] and body["best"] == 0
          and body["ranking"][0]["key"] == 4.0 and "error" in body["ranking"][2], f"native: rank {r.status_code} {body}")
    r, body = srv.post("/v1/rank", {"prompt": P, "videos": ["v.mp4"], "full": True})
    check(r.status_code == 200 and "result" in body["ranking"][0] and body["best"] is None, "native: rank full, no key")

    # Errors: status and a message naming the field.
    cases = [
        (400, "/v1/score", b"{not json", "not JSON"),
        (400, "/v1/score", {"video": "v.mp4", "prompt": P, "colour": 1}, "colour: unknown field"),
        (400, "/v1/score", {"video": "v.mp4", "prompt": 5}, "prompt"),
        (400, "/v1/score", {"video": {"data": "***"}, "prompt": P}, "base64"),
        (400, "/v1/score", {"video": "v.mp4", "prompt": P, "options": {"beam": 2}}, "beam: unknown option"),
        (404, "/v1/score", {"video": "missing.mp4", "prompt": P}, "no such file"),
        (404, "/v1/score", {"video": "../outside.mp4", "prompt": P}, "no such file"),
        (404, "/v1/score", {"video": "escape.mp4", "prompt": P}, "no such file"),           # symlink out of the root
        (404, "/v1/score", {"video": "/etc/passwd", "prompt": P}, "no such file"),
        (422, "/v1/score", {"video": "fifo.mp4", "prompt": P}, "not a regular file"),
        (422, "/v1/score", {"video": "adir", "prompt": P}, "not a regular file"),
        (422, "/v1/score", {"video": "https://example.com/v.mp4", "prompt": P}, "never fetches"),
        (422, "/v1/score", {"video": {"frames": [b64(pngs[0])] * 2}, "prompt": P}, "fps is required"),
        (422, "/v1/score", {"video": {"frames": [b64(pngs[0])] * 2, "fps": 0}, "prompt": P}, "fps"),
        (422, "/v1/score", {"video": {"frames": [b64(b"GIF89a....")] * 2, "fps": 8}, "prompt": P}, "not a PNG or JPEG"),
        (422, "/v1/score", {"video": {"raw": b64(b"\0" * 10), "shape": [2, 2, 2, 3], "fps": 8}, "prompt": P}, "bytes"),
        (422, "/v1/score", {"video": {"data": b64(b"not a video at all")}, "prompt": P}, "uploaded video"),
        (422, "/v1/score", {"video": "v.mp4", "prompt": P, "options": {"top_p": 1.5}}, "out of range (0, 1]"),
        (422, "/v1/score", {"video": "v.mp4", "prompt": P, "options": {"temperature": 0, "samples": 2}}, "greedy"),
        (422, "/v1/score", {"video": "v.mp4", "prompt": P, "options": {"max_new_tokens": 10 ** 6}}, "max_new_tokens"),
        (413, "/v1/score", {"video": {"frames": [b64(pngs[0])] * 65, "fps": 8}, "prompt": P}, "frames"),
        (413, "/v1/score/batch", {"items": [{"video": "v.mp4", "prompt": P}] * 9}, "limit"),
        (413, "/v1/score", {"video": "v.mp4", "prompt": P, "options": {"nframes": 2, "min_pixels": 60_000_000,
                                                                      "max_pixels": 60_000_000}}, "video tokens"),
        (404, "/v1/nothing", {}, "no endpoint"),
    ]
    for status, path, req, words in cases:
        data = req if isinstance(req, bytes) else json.dumps(req).encode()
        r = srv.s.post(srv.url + path, data=data, headers={"Content-Type": "application/json"}, timeout=120)
        try:
            msg = r.json().get("error", "")
        except ValueError:
            msg = ""
        check(r.status_code == status and words in msg, f"native: {path} {str(req)[:70]} -> {r.status_code} {msg!r}, expected {status} with '{words}'")
    r = srv.s.get(srv.url + "/v1/score", timeout=10)
    check(r.status_code == 405, f"native: GET /v1/score -> {r.status_code}")


# ---- OpenAI ----------------------------------------------------------------------------------------------

def template_text(path, prompt):
    text = open(path).read()
    block = text.split("## T-EVAL", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    return json.loads(block).replace("$t2v_prompt", prompt)


def mode_openai(a):
    srv = Server(a.port, a.key)
    r = srv.get("/v1/models")
    check(r.status_code == 200 and r.json()["object"] == "list" and r.json()["data"][0]["id"] == a.model_name,
          f"openai: /v1/models {r.status_code} {r.text[:200]}")
    P = "a red ball rolls across a wooden table"

    def chat(content, **extra):
        # The body openai-python's client.chat.completions.create(model=..., messages=..., ...) sends.
        body = {"messages": [{"role": "system", "content": "You are a helpful assistant."},
                             {"role": "user", "content": content}], "model": a.model_name, **extra}
        return srv.post("/v1/chat/completions", body, headers={"User-Agent": "OpenAI/Python 1.40.0"})

    video = {"type": "video_url", "video_url": {"url": "v.mp4"}}
    r, full = chat([video, {"type": "text", "text": template_text(a.templates, P)}], max_tokens=6, temperature=0,
                   logprobs=True, top_logprobs=3)
    ok = check(r.status_code == 200, f"openai: chat {r.status_code} {full}")
    if ok:
        ch = full["choices"][0]
        u = full["usage"]
        check(full["object"] == "chat.completion" and full["id"].startswith("chatcmpl-") and ch["message"]["role"] == "assistant",
              "openai: response shape")
        check(ch["message"]["content"] == full["vs2"]["output"] and ch["finish_reason"] in ("stop", "length"), "openai: content")
        check(u["completion_tokens"] == full["vs2"]["generated_tokens"] and u["prompt_tokens"] == full["vs2"]["prompt_tokens"]
              and u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"], f"openai: usage {u}")
        lp = ch["logprobs"]["content"]
        check(len(lp) == u["completion_tokens"], "openai: one logprobs entry per generated token")
        for t in lp:
            tops = [x["logprob"] for x in t["top_logprobs"]]
            # Greedy: the chosen token is the argmax of the processed logits, so it is the first top one.
            check(len(tops) == 3 and tops == sorted(tops, reverse=True) and t["logprob"] <= 0
                  and abs(t["logprob"] - tops[0]) < 1e-6 and math.fsum(math.exp(x) for x in tops) <= 1 + 1e-6,
                  f"openai: top_logprobs {t}")
    # The bare T2V prompt is put in the T-EVAL template: the same chat as the full template text.
    r, bare = chat([video, {"type": "text", "text": P}], max_tokens=6, temperature=0)
    check(r.status_code == 200 and ok and bare["vs2"]["output_ids"] == full["vs2"]["output_ids"]
          and bare["vs2"]["prompt"] == P and full["vs2"]["prompt"] == P, "openai: template text == bare prompt")
    v = open(os.path.join(a.media, "v.mp4"), "rb").read()
    r, body = chat([{"type": "video_url", "video_url": {"url": "data:video/mp4;base64," + b64(v)}},
                    {"type": "text", "text": P}], max_tokens=6)
    check(r.status_code == 200 and ok and body["vs2"]["output_ids"] == full["vs2"]["output_ids"], "openai: data URL video")
    frames = [{"type": "image_url", "image_url": {"url": "data:image/png;base64," + b64(f)}} for f in frames_png(4)]
    r, body = chat(frames + [{"type": "text", "text": P}], max_tokens=4, fps=8)
    check(r.status_code == 200 and body["vs2"]["frames"] == 4, f"openai: image_url frames {r.status_code}")
    r, body = chat(frames + [{"type": "text", "text": P}], max_tokens=4)
    check(r.status_code == 422 and "fps" in body["error"]["message"], f"openai: frames without fps {r.status_code} {body}")
    r, body = chat([{"type": "video_url", "video_url": {"url": "https://example.com/v.mp4"}}, {"type": "text", "text": P}])
    check(r.status_code == 422 and "never fetches" in body["error"]["message"], "openai: network URL refused")
    r, body = chat([video, {"type": "text", "text": P}], stream=True)
    check(r.status_code == 422 and "stream" in body["error"]["message"], "openai: stream refused")
    bad = requests.post(srv.url + "/v1/chat/completions", json={"messages": []}, timeout=10,
                        headers={"Authorization": "Bearer wrong"})
    check(bad.status_code == 401 and bad.headers.get("WWW-Authenticate") == "Bearer", f"openai: wrong key {bad.status_code}")


# ---- load ----------------------------------------------------------------------------------------------------

def peak_rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return -1


def mode_load(a):
    srv_url = f"http://127.0.0.1:{a.port}"
    body = json.dumps({"video": "v.mp4", "prompt": "a red ball", "options": {"max_new_tokens": 2}})

    def one(i):
        try:
            r = requests.post(srv_url + "/v1/score", data=body, timeout=120, headers={"Content-Type": "application/json"})
            return r.status_code, r.headers.get("Retry-After"), r.text
        except Exception as e:  # a reset or refused connection is a failure of the server
            return -1, None, repr(e)

    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.concurrency) as ex:
        out = list(ex.map(one, range(a.requests)))
    dt = time.time() - t0
    counts = {}
    for st, _, _ in out:
        counts[st] = counts.get(st, 0) + 1
    print(f"load: {a.requests} requests at concurrency {a.concurrency} in {dt:.1f} s: {counts}; "
          f"peak RSS {peak_rss_mb(a.pid):.0f} MB")
    check(set(counts) <= {200, 503}, f"load: only 200 and 503, got {counts} ({[o[:2] + (o[2][:200],) for o in out if o[0] not in (200, 503)][:3]})")
    check(counts.get(200, 0) >= 1, "load: some requests scored")
    check(all(ra == "1" and "queue is full" in txt for st, ra, txt in out if st == 503), "load: every 503 is a full queue with Retry-After")
    # Workers share one engine: concurrent answers to one greedy request are all the same.
    ids = {json.dumps(json.loads(txt)["output_ids"]) for st, _, txt in out if st == 200}
    check(len(ids) == 1, f"load: {len(ids)} different answers to the same greedy request")
    check(dt < a.max_seconds, f"load: {dt:.0f} s, bound {a.max_seconds}")
    check(requests.get(srv_url + "/live", timeout=10).status_code == 200, "load: the server is alive")
    check(peak_rss_mb(a.pid) < a.max_rss_mb, f"load: peak RSS {peak_rss_mb(a.pid):.0f} MB < {a.max_rss_mb}")
    m = requests.get(srv_url + "/metrics", timeout=10).text
    n503 = sum(float(l.split()[-1]) for l in m.splitlines() if l.startswith('vs2_requests_total{endpoint="/v1/score",status="503"}'))
    val = lambda name: sum(float(l.split()[-1]) for l in m.splitlines() if l.startswith(name + " "))
    videos, calls = val("vs2_videos_scored_total"), val("vs2_score_batch_calls_total")
    print(f"load: {videos:.0f} videos in {calls:.0f} vs2_score_batch calls")
    check(0 < calls < videos, "load: requests that waited together were decoded together")
    check(n503 == counts.get(503, 0), f"load: /metrics counts {n503} 503s, the client saw {counts.get(503, 0)}")


def mode_perf(a):
    """Latency of sequential requests (p50, p99) and throughput at a concurrency (docs/perf.md)."""
    url = f"http://127.0.0.1:{a.port}/v1/score"
    body = json.dumps({"video": "v.mp4", "prompt": "a red ball", "options": {"max_new_tokens": a.tokens}})
    hdr = {"Content-Type": "application/json"}
    sess = requests.Session()
    lat = []
    for _ in range(a.requests):
        t = time.time()
        check(sess.post(url, data=body, headers=hdr, timeout=600).status_code == 200, "perf: sequential request")
        lat.append(time.time() - t)
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
    print(f"perf: {len(lat)} sequential requests ({a.tokens} new tokens): p50 {q(0.5) * 1000:.0f} ms, p99 {q(0.99) * 1000:.0f} ms")
    t = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.concurrency) as ex:
        codes = list(ex.map(lambda i: requests.post(url, data=body, headers=hdr, timeout=600).status_code, range(a.requests)))
    dt = time.time() - t
    check(all(c == 200 for c in codes), f"perf: concurrent statuses {set(codes)}")
    print(f"perf: {a.requests} requests at concurrency {a.concurrency}: {dt:.1f} s, {a.requests / dt:.2f} requests/s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["flowfactory", "native", "openai", "load", "perf"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key")
    ap.add_argument("--media")
    ap.add_argument("--pid", type=int)
    ap.add_argument("--templates")
    ap.add_argument("--vs2-json")
    ap.add_argument("--model-name", default="vs2-tiny")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--max-seconds", type=float, default=300)
    ap.add_argument("--max-rss-mb", type=float, default=2048)
    ap.add_argument("--tokens", type=int, default=8)
    a = ap.parse_args()
    {"flowfactory": mode_flowfactory, "native": mode_native, "openai": mode_openai, "load": mode_load,
     "perf": mode_perf}[a.mode](a)
    print(f"{a.mode}: {len(fails)} failure(s)")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
