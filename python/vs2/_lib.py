"""_lib — find and load libvs2.so, and declare the C API vs2 uses (ctypes).

Structures passed by value or by pointer are mirrored field by field from include/vs2.h; the test
suite compares every offset and size with the C compiler's (tests/python/abi_layout.c), and at
load time the library's vs2_abi_version() must be the one these mirrors were written for.

ctypes.CDLL releases the GIL for the duration of every call, so scoring in one Python thread lets
the others run (tests/python/test_vs2.py checks it).
"""
import ctypes
import os
import sys
import threading
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double, c_int, c_int32,
                    c_int64, c_size_t, c_uint8, c_uint64, c_void_p)

# The vs2_abi_version() these declarations match; bumped with include/vs2.h's.
ABI_VERSION = 2

VS2_NDIMS = 3
VS2_MAX_EOS = 8

# vs2_status
OK = 0
ERR_INVALID_ARG = 1
STATUS_NAMES = ["ok", "invalid_arg", "nomem", "io", "format", "model", "tokenizer", "video",
                "unsupported", "internal"]


class Error(Exception):
    """A failure reported by vs2: .message names the thing and the cause (vs2's own text),
    .status is the vs2_status code and .status_name its short name ("video", "io", ...)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = int(status)
        self.message = message

    @property
    def status_name(self):
        s = self.status
        return STATUS_NAMES[s] if 0 <= s < len(STATUS_NAMES) else str(s)

    def __repr__(self):
        return "vs2.Error(%s, %r)" % (self.status_name, self.message)


Error.__module__ = "vs2"      # shown as vs2.Error in tracebacks


class vs2_error(Structure):
    _fields_ = [("status", c_int), ("message", c_char * 1024)]

    def raise_(self):
        raise Error(self.status, self.message.decode("utf-8", "replace"))


LOG_FN = CFUNCTYPE(None, c_int, c_char_p, c_void_p)
DUMP_FN = CFUNCTYPE(None, c_void_p, c_char_p, POINTER(ctypes.c_float), c_int64, c_int64)
ON_TOKEN_FN = CFUNCTYPE(c_int, c_void_p, c_int, c_int, c_int32)
ON_PROGRESS_FN = CFUNCTYPE(None, c_void_p, c_int, c_int64, c_int64)


class vs2_video_params(Structure):
    _fields_ = [("fps", c_double), ("min_pixels", c_int64), ("max_pixels", c_int64),
                ("total_pixels", c_int64), ("image_min_pixels", c_int64), ("image_max_pixels", c_int64),
                ("resized_height", c_int), ("resized_width", c_int), ("processor_fps", c_double),
                ("threads", c_int), ("max_source_pixels", c_int64), ("keep_frames", c_int),
                ("keep_source_frames", c_int), ("no_pixels", c_int), ("nframes", c_int),
                ("max_frames", c_int), ("max_video_tokens", c_int64)]


class vs2_video(Structure):
    _fields_ = [("kind", c_int), ("total_frames", c_int64), ("video_fps", c_double), ("n_frames", c_int),
                ("indices", POINTER(c_int64)), ("sample_fps", c_double), ("src_width", c_int),
                ("src_height", c_int), ("width", c_int), ("height", c_int), ("grid_t", c_int),
                ("grid_h", c_int), ("grid_w", c_int), ("video_tokens", c_int64),
                ("second_per_grid_t", c_double), ("rows", c_int64), ("pixel_values", POINTER(ctypes.c_float)),
                ("frames", POINTER(c_uint8)), ("source_frames", POINTER(c_uint8)), ("codec", c_char * 32),
                ("pix_fmt", c_char * 32), ("rotation", c_double), ("decode_passes", c_int)]


class vs2_engine_params(Structure):
    _fields_ = [("model", c_char_p), ("hub", c_void_p), ("threads", c_int), ("backend", c_char_p),
                ("weight_cache", c_char_p), ("log", LOG_FN), ("log_user", c_void_p)]


class vs2_score_params(Structure):
    _fields_ = [("tmpl", c_int), ("video", vs2_video_params), ("max_new_tokens", c_int), ("decoding", c_int),
                ("temperature", c_double), ("top_k", c_int), ("top_p", c_double),
                ("repetition_penalty", c_double), ("seed", c_uint64), ("samples", c_int), ("threads", c_int),
                ("dump_dir", c_char_p), ("dump", DUMP_FN), ("dump_user", c_void_p), ("dump_all_logits", c_int),
                ("answer", c_char_p), ("on_token", ON_TOKEN_FN), ("on_token_user", c_void_p),
                ("on_progress", ON_PROGRESS_FN), ("on_progress_user", c_void_p)]


ON_CANDIDATE_FN = CFUNCTYPE(None, c_void_p, c_size_t, c_size_t)


class vs2_rank_params(Structure):
    _fields_ = [("by", c_int), ("weighted", c_int), ("weights", c_double * VS2_NDIMS),
                ("on_candidate", ON_CANDIDATE_FN), ("on_candidate_user", c_void_p)]


class vs2_score_item(Structure):
    _fields_ = [("video_path", c_char_p), ("video", POINTER(vs2_video)), ("prompt", c_char_p)]


class vs2_option(Structure):
    _fields_ = [("name", c_char_p), ("type", c_int), ("range", c_char_p), ("default_value", c_char_p),
                ("help", c_char_p), ("scope", c_int), ("metavar", c_char_p), ("group", c_char_p)]


OPTION_TYPES = ["int", "double", "string", "enum", "flag"]     # vs2_option_type
OPTION_SCOPES = {1: "engine", 2: "score"}                       # VS2_OPT_ENGINE, VS2_OPT_SCORE

# The mirrors the layout test compares with the C compiler's offsets.
MIRRORED = [vs2_error, vs2_video_params, vs2_video, vs2_engine_params, vs2_score_params, vs2_rank_params,
            vs2_option, vs2_score_item]

# name: (restype, argtypes)
_SIGNATURES = {
    "vs2_version": (c_char_p, []),
    "vs2_abi_version": (c_int, []),
    "vs2_strerror": (c_char_p, [c_int]),
    "vs2_options": (POINTER(vs2_option), [POINTER(c_size_t)]),
    "vs2_engine_default_params": (vs2_engine_params, []),
    "vs2_engine_params_set": (c_int, [POINTER(vs2_engine_params), c_char_p, c_char_p, POINTER(vs2_error)]),
    "vs2_engine_load": (c_int, [POINTER(vs2_engine_params), POINTER(c_void_p), POINTER(vs2_error)]),
    "vs2_engine_free": (None, [c_void_p]),
    "vs2_engine_model_dir": (c_char_p, [c_void_p]),
    "vs2_engine_backend": (c_char_p, [c_void_p]),
    "vs2_score_default_params": (vs2_score_params, []),
    "vs2_score_params_set": (c_int, [POINTER(vs2_score_params), c_char_p, c_char_p, POINTER(vs2_error)]),
    "vs2_score_params_check": (c_int, [POINTER(vs2_score_params), POINTER(vs2_error)]),
    "vs2_score": (c_int, [c_void_p, c_char_p, c_char_p, POINTER(vs2_score_params), POINTER(c_void_p),
                          POINTER(vs2_error)]),
    "vs2_score_video": (c_int, [c_void_p, POINTER(vs2_video), c_char_p, POINTER(vs2_score_params),
                                POINTER(c_void_p), POINTER(vs2_error)]),
    "vs2_score_batch": (c_int, [c_void_p, POINTER(vs2_score_item), c_size_t, POINTER(vs2_score_params),
                                POINTER(c_void_p), POINTER(vs2_error), POINTER(vs2_error)]),
    "vs2_result_free": (None, [c_void_p]),
    "vs2_result_to_json": (c_void_p, [c_void_p]),          # malloc'd char *: freed with libc free
    "vs2_video_from_rgb": (c_int, [POINTER(c_uint8), c_size_t, c_int, c_int, c_double,
                                   POINTER(vs2_video_params), POINTER(vs2_video), POINTER(vs2_error)]),
    "vs2_video_free": (None, [POINTER(vs2_video)]),
    "vs2_set_ffmpeg_log": (None, [LOG_FN, c_void_p]),
    "vs2_rank_default_params": (vs2_rank_params, []),
    "vs2_rank_by_from_name": (c_int, [c_char_p]),
    "vs2_video_load": (c_int, [c_char_p, POINTER(vs2_video_params), POINTER(vs2_video), POINTER(vs2_error)]),
    "vs2_rank": (c_int, [c_void_p, c_char_p, POINTER(c_char_p), c_size_t, POINTER(vs2_score_params),
                         POINTER(vs2_rank_params), POINTER(c_void_p), POINTER(vs2_error)]),
    "vs2_rank_videos": (c_int, [c_void_p, c_char_p, POINTER(POINTER(vs2_video)), c_size_t,
                                POINTER(vs2_score_params), POINTER(vs2_rank_params), POINTER(c_void_p),
                                POINTER(vs2_error)]),
    "vs2_rank_result_free": (None, [c_void_p]),
    "vs2_rank_result_to_json": (c_void_p, [c_void_p, c_char_p, POINTER(c_char_p), POINTER(vs2_rank_params),
                                           c_int]),
}

_lock = threading.Lock()
_lib = None
_libc = None


def _checkout_dirs():
    """Checkouts to look in for build/libvs2.so: the one an installed package was built from
    (vs2/_checkout.py, written by the build backend), and the one this file lies in."""
    dirs = []
    try:
        from . import _checkout
        if _checkout.SOURCE_DIR:
            dirs.append(_checkout.SOURCE_DIR)
    except ImportError:
        pass
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if os.path.isfile(os.path.join(here, "include", "vs2.h")):
        dirs.append(here)
    return dirs


def candidates():
    """Where libvs2 is looked for, in order (the first that loads wins): $VS2_LIBRARY (a file or
    a directory) alone when set; else the checkout's build tree, the Python prefix's lib/, the
    system loader (LD_LIBRARY_PATH, ld.so.cache) and /usr/local/lib (CMake's default prefix)."""
    env = os.environ.get("VS2_LIBRARY")
    if env:
        return [os.path.join(env, "libvs2.so") if os.path.isdir(env) else env]
    out = [os.path.join(d, "build", "libvs2.so") for d in _checkout_dirs()]
    out.append(os.path.join(sys.prefix, "lib", "libvs2.so"))
    out += ["libvs2.so.0", "libvs2.so"]                       # bare names: the system loader
    out.append("/usr/local/lib/libvs2.so")
    return out


def _open():
    tried = []
    for path in candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append("%s (absent)" % path)
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise Error(3, "libvs2 not found; tried: %s. Build it (cmake -B build && cmake --build build), "
                   "install it (cmake --install build), or set VS2_LIBRARY to the libvs2.so file"
                   % "; ".join(tried))


def _declare(lib, path):
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(lib, name, None)
        if fn is None:
            continue                     # checked where needed: an older library lacks newer calls
        fn.restype, fn.argtypes = restype, argtypes
    if not hasattr(lib, "vs2_abi_version"):
        raise Error(9, "%s: no vs2_abi_version(): a libvs2 older than this package (which expects ABI %d)"
                    % (path, ABI_VERSION))
    abi = lib.vs2_abi_version()
    if abi != ABI_VERSION:
        raise Error(9, "%s: ABI version %d, but this vs2 package was written for %d: install the package "
                       "from the same checkout as the library" % (path, abi, ABI_VERSION))


def lib():
    """The loaded library (loaded on first use, once)."""
    global _lib, _libc, path
    with _lock:
        if _lib is None:
            handle, p = _open()
            _declare(handle, p)
            libc = ctypes.CDLL(None)
            libc.free.argtypes, libc.free.restype = [c_void_p], None
            _lib, _libc, path = handle, libc, p
    return _lib


path = None   # the file loaded, once lib() has run


def has(name):
    return getattr(lib(), name, None) is not None


def take_string(ptr):
    """A malloc'd char * from vs2 as str (freed)."""
    if not ptr:
        raise Error(2, "out of memory")
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace")
    finally:
        _libc.free(ptr)
