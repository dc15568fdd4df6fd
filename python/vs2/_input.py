"""_input — a video as vs2 takes it: a path, or decoded frames (uint8 RGB, T x H x W x 3) with the
frame rate they were taken at. Frames go to vs2_video_from_rgb, which samples and resizes them
as qwen-vl-utils treats a video given as frames, with the temporal positions from that fps.

numpy and PIL are imported only when frames of theirs are given.
"""
import ctypes
import math
import numbers
import os
import sys

from . import _lib
from ._lib import ERR_INVALID_ARG, Error


def is_path(video):
    return isinstance(video, (str, bytes, os.PathLike))


def path_bytes(video):
    p = os.fsencode(video)
    if not p or b"\0" in p:
        raise Error(ERR_INVALID_ARG, "video path %r: empty or holds a NUL byte" % (video,))
    return p


def text_bytes(text, what):
    if not isinstance(text, str):
        raise Error(ERR_INVALID_ARG, "%s: expected a str, got %s" % (what, type(text).__name__))
    b = text.encode("utf-8")
    if b"\0" in b:
        raise Error(ERR_INVALID_ARG, "%s holds a NUL character" % what)
    return b


def prompt_bytes(prompt):
    """The prompt as UTF-8; a blank one is refused, as `vs2 score` refuses it."""
    b = text_bytes(prompt, "prompt")
    if not prompt.strip():
        raise Error(ERR_INVALID_ARG, "the text prompt is empty")
    return b


def _is_pil(x):
    pil = sys.modules.get("PIL.Image")
    return pil is not None and isinstance(x, pil.Image)


def _check_fps(fps):
    if fps is None:
        raise Error(ERR_INVALID_ARG, "frames need their frame rate: pass fps= (frames per second of the "
                                     "source, a finite number > 0); vs2 places them in time by it")
    if isinstance(fps, bool) or not isinstance(fps, numbers.Real) or not math.isfinite(fps) or fps <= 0:
        raise Error(ERR_INVALID_ARG, "fps=%r: the frame rate must be a finite number > 0" % (fps,))
    return float(fps)


def _frames_from_pil(images):
    first = images[0].size
    buf = bytearray()
    for i, im in enumerate(images):
        if im.size != first:
            raise Error(ERR_INVALID_ARG, "frames: image %d is %dx%d, image 0 is %dx%d (all frames must "
                                         "have one size)" % (i, im.size[0], im.size[1], first[0], first[1]))
        buf += (im if im.mode == "RGB" else im.convert("RGB")).tobytes()
    w, h = first
    return buf, len(images), w, h


def _frames_from_array(video):
    import numpy as np
    if isinstance(video, (list, tuple)):
        video = np.stack([np.asarray(f) for f in video])
    a = np.asarray(video)
    if a.dtype != np.uint8:
        raise Error(ERR_INVALID_ARG, "frames: dtype %s; vs2 takes uint8 RGB values 0..255 "
                                     "(convert floats in 0..1 with (x * 255).round().astype(np.uint8))" % a.dtype)
    if a.ndim != 4 or a.shape[3] != 3 or 0 in a.shape:
        raise Error(ERR_INVALID_ARG, "frames: shape %s; vs2 takes T x H x W x 3 (RGB, channels last)"
                                     % (tuple(a.shape),))
    a = np.ascontiguousarray(a)
    return a, a.shape[0], a.shape[2], a.shape[1]


def is_frames(video):
    """Frames (not a path): an array-like, or a non-empty list of PIL images or H x W x 3 arrays."""
    if is_path(video):
        return False
    if isinstance(video, (list, tuple)):
        return len(video) > 0 and (_is_pil(video[0]) or hasattr(video[0], "__array_interface__"))
    return hasattr(video, "__array_interface__") or hasattr(video, "__array__")


def describe(video):
    return type(video).__name__


def load_frames(video, fps, vparams):
    """A prepared vs2_video from frames (the caller frees it with vs2_video_free)."""
    fps = _check_fps(fps)
    if isinstance(video, (list, tuple)) and _is_pil(video[0]):
        data, n, w, h = _frames_from_pil(video)
        ptr = (ctypes.c_uint8 * len(data)).from_buffer(data)
    else:
        data, n, w, h = _frames_from_array(video)
        ptr = data.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))
    v = _lib.vs2_video()
    err = _lib.vs2_error()
    st = _lib.lib().vs2_video_from_rgb(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_uint8)), n, w, h, fps,
                                       ctypes.byref(vparams), ctypes.byref(v), ctypes.byref(err))
    if st != _lib.OK:
        err.raise_()
    return v


def check_video(video, fps):
    """Refuse what cannot be a video before any work: wrong types, fps with a path."""
    if is_path(video):
        if fps is not None:
            raise Error(ERR_INVALID_ARG, "fps=%r with a video file: fps is the frame rate of frames given as "
                                         "arrays or images (a file has its own); to change the sampling "
                                         "rate use sample_fps=" % (fps,))
        return
    if not is_frames(video):
        raise Error(ERR_INVALID_ARG, "video: expected a path, a uint8 array T x H x W x 3, or a list of PIL "
                                     "images; got %s" % describe(video))
    _check_fps(fps)
