"""vs2 — VideoScore2 in C, from Python.

    import vs2
    engine = vs2.Engine(model="TIGER-Lab/VideoScore2")
    print(engine.score(video="clip.mp4", prompt="a cat playing the piano")["scores"])

Engine.score / score_batch / rank return the objects `vs2 score --json` and `vs2 rank --json`
print; vs2.reward gives trainers one float per video. Errors raise vs2.Error with vs2's message.
The library (libvs2.so) is found through $VS2_LIBRARY, this checkout's build/, or the system;
see docs/python.md.
"""
from ._engine import Engine
from ._lib import Error
from ._reward import DIMS, reward, reward_details

__all__ = ["Engine", "Error", "reward", "reward_details", "DIMS", "version", "library_path", "set_ffmpeg_log",
           "options"]
__version__ = "0.1.0"


def version():
    """The version of the loaded libvs2 ("0.1.0")."""
    from . import _lib
    return _lib.lib().vs2_version().decode()


def options():
    """The library's table of options (what Engine and score accept): one dict per option with
    name ("max-new-tokens"; pass it as max_new_tokens=), type, range, default, help, scope
    ("engine": Engine's arguments; "score": score's keywords), metavar and group."""
    from . import _lib
    n = _lib.ctypes.c_size_t()
    table = _lib.lib().vs2_options(_lib.ctypes.byref(n))

    def text(b):
        return None if b is None else b.decode("utf-8", "replace")
    return [{"name": text(o.name), "type": _lib.OPTION_TYPES[o.type], "range": text(o.range),
             "default": text(o.default_value), "help": text(o.help), "scope": _lib.OPTION_SCOPES.get(o.scope),
             "metavar": text(o.metavar), "group": text(o.group)} for o in table[:n.value]]


def library_path():
    """The libvs2 file this package loaded (loading it if needed)."""
    from . import _lib
    _lib.lib()
    return _lib.path


_ffmpeg_log = None


def set_ffmpeg_log(fn):
    """Where FFmpeg's own log lines go: fn(message) per line, or nowhere with None. Without a
    call FFmpeg prints to stderr (a bad file's error is in vs2.Error either way). FFmpeg's log is
    process-wide: this also applies to other FFmpeg users in the process (PyAV)."""
    global _ffmpeg_log
    from . import _lib
    L = _lib.lib()
    cb = _lib.LOG_FN() if fn is None else _lib.LOG_FN(lambda level, msg, user: fn(msg.decode("utf-8", "replace")))
    L.vs2_set_ffmpeg_log(cb, None)                    # LOG_FN(): a NULL pointer, "nowhere"
    _ffmpeg_log = cb          # kept alive while FFmpeg may call it
