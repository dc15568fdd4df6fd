"""Fixtures of the Python package's tests (run by ctest as python_vs2; see tests/CMakeLists.txt):
the checkout's python/ on sys.path, the tiny random-weight checkpoint with the real tokenizer
(fixture vs2_engine_ckpt), and small clips made with ffmpeg as tests/t_score.sh makes its own."""
import os
import shutil
import subprocess
import sys

import pytest

SOURCE = os.environ.get("VS2_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SOURCE, "python"))


def _need(var):
    v = os.environ.get(var)
    if not v:
        pytest.exit("%s is not set: run through ctest (ctest --test-dir build -R python_vs2)" % var, 2)
    return v


@pytest.fixture(scope="session")
def env():
    tmp = _need("VS2_TEST_TMP")
    return {"bin": _need("VS2_BIN"), "lib": _need("VS2_LIBRARY"), "source": SOURCE,
            "ckpt": os.path.join(tmp, "ckpt", "engine"), "work": os.path.join(tmp, "python")}


@pytest.fixture(scope="session")
def work(env):
    shutil.rmtree(env["work"], ignore_errors=True)
    os.makedirs(env["work"])
    return env["work"]


def _ffmpeg(*args):
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg not found")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="session")
def clip(work):
    """1 s of 112x112 at 8 fps (4 frames sampled, grid 2x24x24), as in t_score.sh."""
    path = os.path.join(work, "v.mp4")
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=112x112:rate=8", "-t", "1", "-pix_fmt", "yuv420p", path)
    return path


@pytest.fixture(scope="session")
def rgb_clip(work):
    """The same picture stored losslessly as RGB (PNG in Matroska), and its frames as raw RGB24
    bytes: decoding the file gives exactly these frames, so scoring either must agree exactly."""
    path = os.path.join(work, "rgb.mkv")
    raw = os.path.join(work, "rgb.raw")
    src = ["-f", "lavfi", "-i", "testsrc2=size=112x112:rate=8", "-t", "1", "-pix_fmt", "rgb24"]
    _ffmpeg(*src, "-c:v", "png", path)
    _ffmpeg(*src, "-f", "rawvideo", raw)
    with open(raw, "rb") as f:
        data = f.read()
    return path, data, 8, 112, 112


@pytest.fixture(scope="session")
def engine(env):
    import vs2
    # One compute thread: the suite runs two tests at a time on small machines (ctest -j2).
    with vs2.Engine(env["ckpt"], threads=1) as eng:
        yield eng
