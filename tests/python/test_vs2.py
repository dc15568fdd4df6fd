"""The vs2 Python package (python/vs2) over the library built here, on the tiny random-weight
checkpoint with the real tokenizer: every public function, errors, numpy and PIL frames, thread
sharing and the GIL, the same results as the `vs2` command, and an offline `pip install`.

Results are compared exactly (ids, texts, scores): the forward pass is deterministic and the
package passes the same parameters to the same library, so any difference is a binding bug.
Timings are the only keys left out of comparisons.
"""
import ctypes
import json
import math
import os
import subprocess
import sys
import threading
import time

import pytest

import vs2
from vs2 import _lib

PROMPT = "a red ball rolls across a wooden table"
TIMING_KEYS = {"timings_ms", "tokens_per_second", "ms_per_token"}
# A planted answer (teacher forcing, as t_score.sh's --answer-file): scores 4, 2, 5.
ANSWER = ("<think>\nfine.\n</think>\n\n(1) visual quality: 4\n(2) text-to-video alignment: 2\n"
          "(3) physical/common-sense consistency: 5\n")


def cli_score(env, *args):
    out = subprocess.run([env["bin"], "score", "--model", env["ckpt"], "--json", *args],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def untimed(r):
    """r without its timings, at any depth (rank results nest score results)."""
    if isinstance(r, dict):
        return {k: untimed(v) for k, v in r.items() if k not in TIMING_KEYS}
    if isinstance(r, list):
        return [untimed(v) for v in r]
    return r


# ---- the library and its declarations -------------------------------------------------------

def test_abi_layout_matches_the_compiler():
    """Every mirrored structure has the C compiler's size and field offsets."""
    out = subprocess.run([os.environ["VS2_ABI_LAYOUT"]], check=True, capture_output=True, text=True).stdout
    c = json.loads(out)
    for cls in _lib.MIRRORED:
        name = cls.__name__
        assert name in c, "abi_layout.c does not print %s" % name
        mine = {f[0]: getattr(cls, f[0]).offset for f in cls._fields_}
        assert mine == c[name]["fields"], (name, mine, c[name]["fields"])
        assert ctypes.sizeof(cls) == c[name]["size"], (name, ctypes.sizeof(cls), c[name]["size"])


def test_version_and_library(env):
    assert vs2.library_path() == env["lib"]
    assert vs2.version() == vs2.__version__
    with open(os.path.join(env["source"], "python", "pyproject.toml")) as f:
        assert 'version = "%s"' % vs2.__version__ in f.read()


def test_library_candidates(env, monkeypatch):
    monkeypatch.setenv("VS2_LIBRARY", "/some/where/libvs2.so")
    assert _lib.candidates() == ["/some/where/libvs2.so"]
    monkeypatch.setenv("VS2_LIBRARY", os.path.dirname(env["lib"]))      # a directory
    assert _lib.candidates() == [os.path.join(os.path.dirname(env["lib"]), "libvs2.so")]
    monkeypatch.delenv("VS2_LIBRARY")
    c = _lib.candidates()
    assert c[0] == os.path.join(env["source"], "build", "libvs2.so")        # the checkout's build tree
    assert os.path.join(sys.prefix, "lib", "libvs2.so") in c and "libvs2.so.0" in c


def test_library_not_found_names_what_was_tried(env, tmp_path):
    code = "import vs2\ntry:\n    vs2.version()\nexcept vs2.Error as e:\n    print(e.status_name, e)\n"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "VS2_LIBRARY": str(tmp_path / "nope.so"),
                            "PYTHONPATH": os.path.join(env["source"], "python")})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("io libvs2 not found") and "nope.so (absent)" in r.stdout, r.stdout
    assert "VS2_LIBRARY" in r.stdout


# ---- the engine ---------------------------------------------------------------------------------

def test_engine_properties(engine, env):
    assert engine.model_dir == env["ckpt"]
    assert engine.backend


def test_engine_errors(env, tmp_path):
    with pytest.raises(vs2.Error) as e:
        vs2.Engine(str(tmp_path / "no-such-model"))
    assert "no-such-model" in e.value.message and e.value.status != 0
    with pytest.raises(vs2.Error) as e:
        vs2.Engine(env["ckpt"], threads=0)
    assert "threads" in e.value.message and e.value.status_name == "invalid_arg"
    with pytest.raises(vs2.Error) as e:
        vs2.Engine(env["ckpt"], threads="many")
    assert "threads" in e.value.message


def test_engine_close(env, clip):
    eng = vs2.Engine(env["ckpt"], threads=1)
    with eng:
        pass
    with pytest.raises(vs2.Error, match="closed"):
        eng.score(clip, PROMPT, max_new_tokens=2)
    eng.close()                                   # twice is fine


def test_log_callback(env):
    lines = []
    vs2.Engine(env["ckpt"], threads=1, backend="q8", weight_cache="off",
               log=lambda level, msg: lines.append((level, msg))).close()
    assert lines and all(isinstance(m, str) and 0 <= lv <= 3 for lv, m in lines), lines


# ---- scoring ------------------------------------------------------------------------------------

def test_score_matches_the_command(engine, env, clip):
    """The same dict as `vs2 score --json` (greedy, sampling, T-INF), timings aside."""
    for opts, args in [({}, []),
                       ({"sample": True, "seed": 3}, ["--sample", "--seed", "3"]),
                       ({"template": "inf", "top_k": 5, "temperature": 0.9}, ["--template", "inf", "--top-k", "5",
                                                                             "--temperature", "0.9"])]:
        py = engine.score(clip, PROMPT, max_new_tokens=10, **opts)
        cli = cli_score(env, "--video", clip, "--prompt", PROMPT, "--max-new-tokens", "10", "--threads", "1", *args)
        assert set(py) == set(cli), set(py) ^ set(cli)
        assert untimed(py) == untimed(cli), opts


def test_score_answer_matches_the_command(engine, env, clip, work):
    path = os.path.join(work, "answer.txt")
    with open(path, "w") as f:
        f.write(ANSWER + "\n")                # the command drops one trailing newline of a file
    py = engine.score(clip, PROMPT, answer=ANSWER)
    cli = cli_score(env, "--video", clip, "--prompt", PROMPT, "--answer-file", path, "--threads", "1")
    assert untimed(py) == untimed(cli)
    assert [py["scores"][k] for k in vs2.DIMS.values()] == [4, 2, 5]


def test_score_options(engine, clip):
    r = engine.score(clip, PROMPT, max_new_tokens=3, nframes=2, template="inf")
    assert r["generated_tokens"] <= 3 and r["frames"] == 2 and r["template"] == "inf"
    r = engine.score(clip, PROMPT, max_new_tokens=3, sample_fps=8)          # the table's "fps"
    assert r["frames"] == 8, r["frames"]
    r = engine.score(clip, PROMPT, max_new_tokens=3, samples=2, seed=7)
    assert r["n_samples"] == 2 and [s["seed"] for s in r["samples"]] == [7, 8]
    r = engine.score(clip, PROMPT, **{"max-new-tokens": 2})                 # the CLI spelling too
    assert r["generated_tokens"] <= 2


def test_score_errors(engine, clip, work):
    bad = os.path.join(work, "bad.mp4")
    with open(bad, "w") as f:
        f.write("not a video")
    cases = [
        (dict(video=bad), "bad.mp4", "video"),
        (dict(video=os.path.join(work, "none.mp4")), "none.mp4", "io"),
        (dict(video=clip, bogus=1), "bogus", "invalid_arg"),
        (dict(video=clip, max_new_tokens=0), "max-new-tokens", "invalid_arg"),
        (dict(video=clip, top_p=1.5), "top-p", "invalid_arg"),
        (dict(video=clip, template="foo"), "template", "invalid_arg"),
        (dict(video=clip, temperature=math.nan), "temperature", "invalid_arg"),
        (dict(video=clip, max_video_tokens=10), "video tokens", "unsupported"),
        (dict(video=clip, fps=8), "fps", "invalid_arg"),                    # fps belongs to frames
        (dict(video=42), "int", "invalid_arg"),
    ]
    for kw, text, status in cases:
        with pytest.raises(vs2.Error) as e:
            engine.score(prompt=PROMPT, **{"max_new_tokens": 2, **kw})
        assert text in e.value.message and e.value.status_name == status, (kw, e.value)
    with pytest.raises(vs2.Error, match="prompt"):
        engine.score(clip, None, max_new_tokens=2)
    with pytest.raises(vs2.Error, match="the text prompt is empty"):
        engine.score(clip, " \n", max_new_tokens=2)


# ---- frames -------------------------------------------------------------------------------------

def test_frames_numpy_and_pil_match_the_file(engine, rgb_clip):
    """Frames as a numpy array, as a list of arrays and as PIL images score exactly as the
    lossless file holding the same frames (same sampling, same temporal positions from fps)."""
    np = pytest.importorskip("numpy")
    Image = pytest.importorskip("PIL.Image")
    path, data, fps, h, w = rgb_clip
    frames = np.frombuffer(data, np.uint8).reshape(-1, h, w, 3)
    from_file = engine.score(path, PROMPT, max_new_tokens=8)
    for video in (frames, list(frames), [Image.fromarray(f) for f in frames], frames[:, :, :, :]):
        r = engine.score(video, PROMPT, fps=fps, max_new_tokens=8)
        assert r["video"] == ""
        assert untimed({**r, "video": path}) == untimed(from_file)
    # a non-contiguous view is copied, not misread
    r = engine.score(np.ascontiguousarray(frames[:, ::-1])[:, ::-1], PROMPT, fps=fps, max_new_tokens=8)
    assert r["output_ids"] == from_file["output_ids"]


def test_frames_errors(engine):
    np = pytest.importorskip("numpy")
    frames = np.zeros((8, 56, 56, 3), np.uint8)
    for kw, text in [(dict(), "fps="), (dict(fps=None), "fps="), (dict(fps=math.nan), "finite"),
                     (dict(fps=math.inf), "finite"), (dict(fps=0), "finite"), (dict(fps="8"), "finite")]:
        with pytest.raises(vs2.Error, match=text) as e:
            engine.score(frames, PROMPT, **kw)
        assert e.value.status_name == "invalid_arg"
    for video, text in [(frames.astype(np.float32), "uint8"), (frames[..., :2], "T x H x W x 3"),
                        (frames[0], "T x H x W x 3"), (frames[:0], "T x H x W x 3")]:
        with pytest.raises(vs2.Error, match=text):
            engine.score(video, PROMPT, fps=8)
    with pytest.raises(vs2.Error, match="at least 2"):
        engine.score(frames[:1], PROMPT, fps=8)                       # vs2's own refusal


def test_library_refuses_frames_without_finite_fps():
    """vs2_video_from_rgb itself refuses a non-finite or non-positive fps (not only the package)."""
    L = _lib.lib()
    buf = (ctypes.c_uint8 * (4 * 28 * 28 * 3))()
    for fps in (math.nan, math.inf, 0.0, -1.0):
        v, err = _lib.vs2_video(), _lib.vs2_error()
        st = L.vs2_video_from_rgb(buf, 4, 28, 28, fps, None, ctypes.byref(v), ctypes.byref(err))
        assert st != 0, fps


# ---- several videos -----------------------------------------------------------------------------

def test_score_batch(engine, clip, rgb_clip, work):
    np = pytest.importorskip("numpy")
    path, data, fps, h, w = rgb_clip
    frames = np.frombuffer(data, np.uint8).reshape(-1, h, w, 3)
    videos, prompts = [clip, frames, path], [PROMPT, "a cat", "a dog"]
    out = engine.score_batch(videos, prompts, fps=[None, fps, None], max_new_tokens=6)
    single = [engine.score(v, p, fps=f, max_new_tokens=6) for v, p, f in zip(videos, prompts, [None, fps, None])]
    assert [untimed(r) for r in out] == [untimed(r) for r in single]
    same = engine.score_batch([clip, clip], PROMPT, max_new_tokens=4)      # one prompt for all
    assert same[0]["output_ids"] == same[1]["output_ids"] and same[0]["prompt"] == PROMPT
    bad = os.path.join(work, "bad.mp4")
    with open(bad, "w") as f:
        f.write("not a video")
    res = engine.score_batch([clip, bad, clip, frames[:1]], PROMPT, fps=[None, None, None, fps], errors="return",
                             max_new_tokens=4)
    assert isinstance(res[1], vs2.Error) and "bad.mp4" in res[1].message and res[1].status_name == "video"
    assert isinstance(res[3], vs2.Error) and "at least 2" in res[3].message       # frames fail alone too
    assert res[0]["output_ids"] == res[2]["output_ids"] == same[0]["output_ids"]
    with pytest.raises(vs2.Error, match="bad.mp4"):
        engine.score_batch([clip, bad], PROMPT, max_new_tokens=4)
    with pytest.raises(vs2.Error, match="2 given for 3"):
        engine.score_batch([clip] * 3, [PROMPT] * 2)
    with pytest.raises(vs2.Error, match="errors="):
        engine.score_batch([clip], PROMPT, errors="ignore")
    assert engine.score_batch([], PROMPT) == []


def test_rank_matches_the_command(engine, env, clip, rgb_clip):
    path = rgb_clip[0]
    py = engine.rank([clip, path], PROMPT, max_new_tokens=4)
    out = subprocess.run([env["bin"], "rank", "--model", env["ckpt"], "--threads", "1", "--json", "--prompt", PROMPT,
                          "--max-new-tokens", "4", clip, path], capture_output=True, text=True)
    assert out.returncode == 3, out.stderr            # random weights: no candidate has a key
    assert untimed(py) == untimed(json.loads(out.stdout))
    assert py["ranking"] == [0, 1] and py["candidates"][1]["result"]["video"] == path


def test_rank(engine, clip, rgb_clip):
    np = pytest.importorskip("numpy")
    path, data, fps, h, w = rgb_clip
    frames = np.frombuffer(data, np.uint8).reshape(-1, h, w, 3)
    r = engine.rank([clip, frames, path], PROMPT, fps=[None, fps, None], answer=ANSWER)
    assert r["ranking"] == [0, 1, 2] and r["best"] == 0
    assert [c["key"] for c in r["candidates"]] == [pytest.approx(11 / 3)] * 3
    assert r["candidates"][0]["video"] == clip
    # frames score as the file holding them (whole results, the label aside)
    c1, c2 = r["candidates"][1]["result"], r["candidates"][2]["result"]
    assert untimed({**c1, "video": None}) == untimed({**c2, "video": None})
    r = engine.rank([clip, path], PROMPT, by="weighted", weights=(1, 0, 0), answer=ANSWER, full=False)
    assert [c["key"] for c in r["candidates"]] == [4, 4] and "result" not in r["candidates"][0]
    r = engine.rank([clip, path], PROMPT, by="soft", answer=ANSWER)
    assert r["by"] == "soft"
    for c in r["candidates"]:
        assert c["key"] == pytest.approx(sum(c["result"]["soft_scores"].values()) / 3), c
    for kw, text in [(dict(by="best"), "by="), (dict(by="weighted"), "weights"), (dict(weights=(1, 2)), "weights")]:
        with pytest.raises(vs2.Error, match=text):
            engine.rank([clip], PROMPT, **kw)
    with pytest.raises(vs2.Error, match="fps"):
        engine.rank([clip, frames], PROMPT)


def test_options_table():
    opts = {o["name"]: o for o in vs2.options()}
    assert {"model", "threads", "max-new-tokens", "top-p", "template", "fps"} <= set(opts)
    assert opts["template"]["type"] == "enum" and opts["template"]["range"] == "eval|inf"
    assert opts["model"]["scope"] == "engine" and opts["top-p"]["scope"] == "score"
    assert all(o["help"] for o in opts.values())


# ---- reward -------------------------------------------------------------------------------------

def test_reward(engine, clip):
    r = vs2.reward([clip, clip], PROMPT, engine=engine, answer=ANSWER)
    assert r == [pytest.approx((4 + 2 + 5) / 3)] * 2
    assert vs2.reward([clip], [PROMPT], dims=("visual", "physical"), engine=engine, answer=ANSWER) == [4.5]
    assert vs2.reward([clip], PROMPT, dims="alignment", engine=engine, answer=ANSWER) == [2.0]
    assert vs2.reward([clip], PROMPT, dims=["text_alignment"], engine=engine, answer=ANSWER) == [2.0]
    d = vs2.reward_details([clip], PROMPT, soft=True, engine=engine, answer=ANSWER)[0]
    soft = d["result"]["soft_scores"]
    assert [d["visual"], d["alignment"], d["physical"]] == [soft[k] for k in vs2.DIMS.values()]
    assert d["reward"] == pytest.approx(sum(soft.values()) / 3) and d["error"] is None
    assert all(0 < soft[k] <= 5 for k in soft)


def test_reward_missing_scores(engine, clip, work):
    """Random weights write no scores: NaN (or `missing`) with the reason, never a made-up number."""
    bad = os.path.join(work, "bad.mp4")
    with open(bad, "w") as f:
        f.write("not a video")
    d = vs2.reward_details([clip, bad], PROMPT, engine=engine, max_new_tokens=4)
    assert math.isnan(d[0]["reward"]) and "does not occur" in d[0]["error"] and d[0]["result"]
    assert math.isnan(d[1]["reward"]) and "bad.mp4" in d[1]["error"] and d[1]["result"] is None
    assert vs2.reward([clip], PROMPT, engine=engine, missing=0.0, max_new_tokens=4) == [0.0]
    with pytest.raises(vs2.Error, match="dims"):
        vs2.reward([clip], PROMPT, dims=("beauty",), engine=engine)
    with pytest.raises(vs2.Error, match="not both"):
        vs2.reward([clip], PROMPT, engine=engine, model="x")


def test_reward_loads_an_engine_once(env, clip):
    a = vs2.reward([clip], PROMPT, model=env["ckpt"], answer=ANSWER)
    b = vs2.reward([clip], PROMPT, model=env["ckpt"], answer=ANSWER)
    from vs2 import _reward
    assert a == b and list(_reward._engines) == [env["ckpt"]]


# ---- threads ------------------------------------------------------------------------------------

def test_engine_shared_by_threads(engine, clip):
    """Four threads scoring with one engine at once get what one thread gets, sampled and greedy."""
    want = {s: engine.score(clip, PROMPT, max_new_tokens=8, sample=True, seed=s)["output_ids"] for s in range(4)}
    got, errors = {}, []

    def run(seed):
        try:
            got[seed] = engine.score(clip, PROMPT, max_new_tokens=8, sample=True, seed=seed)["output_ids"]
        except Exception as e:              # reported below
            errors.append(e)
    threads = [threading.Thread(target=run, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and got == want


def test_gil_released_during_scoring(engine, clip):
    """While vs2_score runs, other Python threads run: a counting thread advances far more during
    the call through ctypes.CDLL (GIL released) than during the same call through ctypes.PyDLL
    (GIL held), the control showing the measurement can tell the two apart. A short switch
    interval keeps what the counter gets around a GIL-holding call (one interval) small."""
    L = _lib.lib()
    held = ctypes.PyDLL(_lib.path)
    held.vs2_score.restype, held.vs2_score.argtypes = L.vs2_score.restype, L.vs2_score.argtypes
    sp, keep = vs2._engine.score_params({"max_new_tokens": 100})
    count, stop = [0], [False]

    def ticker():
        while not stop[0]:
            count[0] += 1
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    t = threading.Thread(target=ticker)
    t.start()
    ticks = {}
    try:
        h = engine._enter()
        for name, fn in (("released", L.vs2_score), ("held", held.vs2_score)):
            out, err = ctypes.c_void_p(), _lib.vs2_error()
            c0 = count[0]
            assert fn(h, clip.encode(), PROMPT.encode(), ctypes.byref(sp), ctypes.byref(out), ctypes.byref(err)) == 0
            ticks[name] = count[0] - c0
            L.vs2_result_free(out)
    finally:
        engine._leave()
        stop[0] = True
        t.join()
        sys.setswitchinterval(interval)
    assert ticks["released"] > 10 * ticks["held"] + 10000, ticks


# ---- installing ---------------------------------------------------------------------------------

def _three_lines(env, clip):
    return ("import vs2\n"
            "e = vs2.Engine(%r, threads=1)\n"
            "r = e.score(video=%r, prompt=%r, max_new_tokens=3)\n"
            "print(vs2.__file__, r['generated_tokens'])\n" % (env["ckpt"], clip, PROMPT))


def test_pip_install_target_offline(env, clip, tmp_path):
    """pip install --target (no index): the package lands there with _checkout.py naming this
    checkout, and scores from another directory."""
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--target", str(target),
                        os.path.join(env["source"], "python")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    checkout = (target / "vs2" / "_checkout.py").read_text()
    assert repr(env["source"]) in checkout or repr(os.path.realpath(env["source"])) in checkout, checkout
    r = subprocess.run([sys.executable, "-c", _three_lines(env, clip)], capture_output=True, text=True,
                       cwd=str(tmp_path), env={**os.environ, "PYTHONPATH": str(target)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(str(target / "vs2")), r.stdout


def test_pip_install_venv_offline(env, clip, tmp_path):
    """README's command in a fresh venv: `pip install ./python` with no index and no flags
    (the build backend needs nothing), then a three-line script scores a video."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    r = subprocess.run([py, "-m", "pip", "install", "--no-index", "./python"], capture_output=True, text=True,
                       cwd=env["source"])
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([py, "-c", _three_lines(env, clip)], capture_output=True, text=True, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert str(venv) in r.stdout.split()[0], r.stdout


def test_ffmpeg_log(engine, work, capfd):
    bad = os.path.join(work, "bad2.mp4")
    with open(bad, "w") as f:
        f.write("not a video")
    lines = []
    try:
        vs2.set_ffmpeg_log(lines.append)
        with pytest.raises(vs2.Error, match="bad2.mp4"):
            engine.score(bad, PROMPT)
        assert any("moov" in m for m in lines), lines
        vs2.set_ffmpeg_log(None)
        n = len(lines)
        capfd.readouterr()
        with pytest.raises(vs2.Error, match="bad2.mp4"):
            engine.score(bad, PROMPT)
        assert len(lines) == n and "moov" not in capfd.readouterr().err
    finally:
        vs2.set_ffmpeg_log(None)
