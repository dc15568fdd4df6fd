"""_engine — vs2.Engine: load VideoScore2 once, score many videos, from any number of threads.

Every option goes through the library's own options table (vs2_engine_params_set,
vs2_score_params_set), so names, ranges and messages are those of `vs2 score` (docs/cli.md).
"""
import ctypes
import json
import math
import numbers
import threading
from ctypes import byref, c_void_p

from . import _input, _lib
from ._lib import ERR_INVALID_ARG, OK, Error

# Python spellings of options whose table name is taken by an argument: `fps` is the frame rate
# of frames given as arrays, so the sampling rate (the table's "fps") is `sample_fps`.
_ALIASES = {"sample_fps": "fps"}


def _option_text(name, value):
    """An option value as the table's parser reads it (decimal text; flags as true/false)."""
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, numbers.Integral):
        return str(int(value)).encode()
    if isinstance(value, numbers.Real):
        if not math.isfinite(value):
            raise Error(ERR_INVALID_ARG, "%s=%r: not a finite number" % (name, value))
        return repr(float(value)).encode()
    if isinstance(value, (str, bytes)):
        return value.encode("utf-8") if isinstance(value, str) else value
    raise Error(ERR_INVALID_ARG, "%s=%r: expected a number, a bool or a str" % (name, value))


def _set_options(setter, params, options, keep):
    """Apply keyword options through a vs2_*_params_set setter; `keep` holds the encoded values
    (the C side does not copy strings) for as long as the params are used."""
    for name, value in options.items():
        if value is None:
            continue                      # None = the default
        cname = _ALIASES.get(name, name).encode()
        text = _option_text(name, value)
        keep.append(text)
        err = _lib.vs2_error()
        if setter(byref(params), cname, text, byref(err)) != OK:
            err.raise_()


def score_params(options):
    """vs2_score_params from keyword options, checked as a whole; returns (params, keep-alive).

    answer= (not in the table: `vs2 score --answer-file` reads a file) is teacher forcing: that text
    is scored as the model's answer instead of generating one (vs2_score_params.answer)."""
    L = _lib.lib()
    sp = L.vs2_score_default_params()
    keep = []
    options = dict(options)
    answer = options.pop("answer", None)
    if answer is not None:
        keep.append(_input.text_bytes(answer, "answer"))
        sp.answer = keep[-1]
    _set_options(L.vs2_score_params_set, sp, options, keep)
    err = _lib.vs2_error()
    if L.vs2_score_params_check(byref(sp), byref(err)) != OK:
        err.raise_()
    return sp, keep


def result_dict(result_ptr):
    """A vs2_result as the dict `vs2 score --json` prints (the result is freed)."""
    L = _lib.lib()
    try:
        return json.loads(_lib.take_string(L.vs2_result_to_json(result_ptr)))
    finally:
        L.vs2_result_free(result_ptr)


def _per_item(value, n, what):
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise Error(ERR_INVALID_ARG, "%s: %d given for %d videos" % (what, len(value), n))
        return list(value)
    return [value] * n


class Engine:
    """VideoScore2 loaded once (weights memory-mapped), shared by any number of threads.

    model: a model directory or a Hugging Face repo id in the local cache (None: TIGER-Lab/VideoScore2);
    threads: compute threads per scoring call (None: one per core); backend: "auto", "q8" or "ref";
    weight_cache: where int8 weights are kept for the next load, or "off";
    log: optional callable(level, message) for load messages (0 error .. 3 debug).
    """

    def __init__(self, model=None, *, threads=None, backend=None, weight_cache=None, log=None):
        L = _lib.lib()
        ep = L.vs2_engine_default_params()
        self._keep = []
        _set_options(L.vs2_engine_params_set, ep,
                     {"model": model, "threads": threads, "backend": backend, "weight-cache": weight_cache},
                     self._keep)
        if log is not None:
            def on_log(level, message, user):
                log(level, message.decode("utf-8", "replace"))
            self._log = _lib.LOG_FN(on_log)        # kept alive with the engine
            ep.log = self._log
        handle = c_void_p()
        err = _lib.vs2_error()
        self._handle = None
        self._busy = 0
        self._cv = threading.Condition()
        if L.vs2_engine_load(byref(ep), byref(handle), byref(err)) != OK:
            err.raise_()
        self._handle = handle

    # ---- lifetime: close() waits for calls in flight (other threads may be scoring) ----------

    def _enter(self):
        with self._cv:
            if self._handle is None:
                raise Error(ERR_INVALID_ARG, "the engine is closed")
            self._busy += 1
            return self._handle

    def _leave(self):
        with self._cv:
            self._busy -= 1
            self._cv.notify_all()

    def close(self):
        """Free the model (waits for scoring calls in flight). Further calls raise vs2.Error."""
        cv = getattr(self, "_cv", None)
        if cv is None:
            return
        with cv:
            while self._busy:
                cv.wait()
            if self._handle is not None:
                _lib.lib().vs2_engine_free(self._handle)
                self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:       # at interpreter exit the module may be half torn down
            pass

    @property
    def model_dir(self):
        """The resolved model directory."""
        h = self._enter()
        try:
            return _lib.lib().vs2_engine_model_dir(h).decode("utf-8", "replace")
        finally:
            self._leave()

    @property
    def backend(self):
        """The kernel set in use, e.g. "q8-avx512vnni" or "ref"."""
        h = self._enter()
        try:
            return _lib.lib().vs2_engine_backend(h).decode()
        finally:
            self._leave()

    # ---- scoring -------------------------------------------------------------------------------

    def _score_one(self, h, video, prompt, fps, sp):
        L = _lib.lib()
        out = c_void_p()
        err = _lib.vs2_error()
        pb = _input.prompt_bytes(prompt)
        if _input.is_path(video):
            st = L.vs2_score(h, _input.path_bytes(video), pb, byref(sp), byref(out), byref(err))
        else:
            v = _input.load_frames(video, fps, sp.video)
            try:
                st = L.vs2_score_video(h, byref(v), pb, byref(sp), byref(out), byref(err))
            finally:
                L.vs2_video_free(byref(v))
        if st != OK:
            err.raise_()
        return result_dict(out)

    def score(self, video, prompt, fps=None, **options):
        """Score one video against its text prompt; returns the `vs2 score --json` object as a dict.

        video: a path, a uint8 array T x H x W x 3 (RGB), or a list of PIL images; frames need fps
        (their frame rate). options: the scoring options of `vs2 score` as keywords, with '_' for
        '-' (max_new_tokens=256, template="inf", sample=True, seed=3, nframes=8, ...; the sampling
        rate is sample_fps=). Raises vs2.Error with vs2's message when the video cannot be scored.
        """
        _input.check_video(video, fps)
        sp, keep = score_params(options)
        h = self._enter()
        try:
            return self._score_one(h, video, prompt, fps, sp)
        finally:
            self._leave()
            del keep

    def score_batch(self, videos, prompts, fps=None, errors="raise", **options):
        """Score several videos with the same options; returns one dict per video, in order.

        The answers are decoded together (vs2_score_batch: several answers per pass over the
        weights), each result what score() gives that video alone. prompts: one str for all, or
        one per video; fps: one for all frames, or one per video. errors="raise" raises the first
        failure (after the others were scored); errors="return" puts the vs2.Error in that video's
        place instead.
        """
        if errors not in ("raise", "return"):
            raise Error(ERR_INVALID_ARG, "errors=%r: expected 'raise' or 'return'" % (errors,))
        videos = list(videos)
        n = len(videos)
        prompts = _per_item(prompts, n, "prompts")
        fpss = _per_item(fps, n, "fps")
        for v, f in zip(videos, fpss):
            _input.check_video(v, f)
        pbs = [_input.prompt_bytes(p) for p in prompts]
        sp, keep = score_params(options)
        out = self._score_batch(videos, fpss, pbs, sp) if n else []
        del keep
        if errors == "raise":
            for r in out:
                if isinstance(r, Error):
                    raise r
        return out

    def _score_batch(self, videos, fpss, pbs, sp):
        """Results (dicts) and failures (vs2.Error) per video; frames that cannot be prepared fail
        alone, as a file that cannot be decoded does."""
        L = _lib.lib()
        out = [None] * len(videos)
        prepared, todo = [], []           # frames as vs2_video (freed below); indices sent to vs2
        try:
            for i, (v, f) in enumerate(zip(videos, fpss)):
                if _input.is_path(v):
                    todo.append((i, _input.path_bytes(v), None))
                    continue
                try:
                    prepared.append(_input.load_frames(v, f, sp.video))
                except Error as e:
                    out[i] = e
                    continue
                todo.append((i, None, ctypes.pointer(prepared[-1])))
            if todo:
                self._score_items(todo, pbs, sp, out)
            return out
        finally:
            for v in prepared:
                L.vs2_video_free(byref(v))

    def _score_items(self, todo, pbs, sp, out):
        L = _lib.lib()
        n = len(todo)
        items = (_lib.vs2_score_item * n)()
        for k, (i, path, video) in enumerate(todo):
            items[k].video_path, items[k].video, items[k].prompt = path, video, pbs[i]
        results, errs, err = (c_void_p * n)(), (_lib.vs2_error * n)(), _lib.vs2_error()
        h = self._enter()
        try:
            st = L.vs2_score_batch(h, items, n, byref(sp), results, errs, byref(err))
        finally:
            self._leave()
        try:
            if st != OK:
                err.raise_()
            for k, (i, _, _) in enumerate(todo):
                if results[k]:
                    r, results[k] = results[k], None
                    out[i] = result_dict(c_void_p(r))
                else:
                    out[i] = Error(errs[k].status, errs[k].message.decode("utf-8", "replace"))
        finally:
            for r in results:
                if r:
                    L.vs2_result_free(r)

    def rank(self, videos, prompt, fps=None, by="hard", weights=None, full=True, **options):
        """Best-of-N: score every candidate for one prompt and rank them, best first; returns the
        object `vs2 rank --json` prints (docs/batch.md) as a dict.

        by: "hard" (the reference rule: mean of the three hard scores), "robust", "soft",
        "soft_expected", or "weighted" (hard scores with weights); weights: (visual, alignment,
        physical) factors replacing the mean. full=False gives score summaries instead of whole
        results. A candidate that cannot be scored is reported in the dict ("error"), not raised.
        """
        L = _lib.lib()
        videos = list(videos)
        fpss = _per_item(fps, len(videos), "fps")
        for v, f in zip(videos, fpss):
            _input.check_video(v, f)
        pb = _input.prompt_bytes(prompt)
        rp = _rank_params(by, weights)
        sp, keep = score_params(options)
        labels = (ctypes.c_char_p * max(1, len(videos)))(
            *[_input.path_bytes(v) if _input.is_path(v) else None for v in videos])
        out, err = c_void_p(), _lib.vs2_error()
        h = self._enter()
        try:
            if all(_input.is_path(v) for v in videos):
                st = L.vs2_rank(h, pb, labels, len(videos), byref(sp), byref(rp), byref(out), byref(err))
            else:
                st = self._rank_prepared(h, videos, fpss, pb, sp, rp, out, err)
        finally:
            self._leave()
        if st != OK:
            err.raise_()
        try:
            return json.loads(_lib.take_string(L.vs2_rank_result_to_json(out, pb, labels, byref(rp), int(bool(full)))))
        finally:
            L.vs2_rank_result_free(out)
            del keep

    def _rank_prepared(self, h, videos, fpss, pb, sp, rp, out, err):
        """vs2_rank_videos over prepared videos (frames among the candidates): files are decoded
        here with the same video options vs2_score would use."""
        L = _lib.lib()
        prepared = []
        try:
            for v, f in zip(videos, fpss):
                if _input.is_path(v):
                    pv = _lib.vs2_video()
                    if L.vs2_video_load(_input.path_bytes(v), byref(sp.video), byref(pv), byref(err)) != OK:
                        err.raise_()
                    prepared.append(pv)
                else:
                    prepared.append(_input.load_frames(v, f, sp.video))
            ptrs = (ctypes.POINTER(_lib.vs2_video) * len(prepared))(*[ctypes.pointer(v) for v in prepared])
            return L.vs2_rank_videos(h, pb, ptrs, len(prepared), byref(sp), byref(rp), byref(out), byref(err))
        finally:
            for v in prepared:
                L.vs2_video_free(byref(v))


def _rank_params(by, weights):
    L = _lib.lib()
    rp = L.vs2_rank_default_params()
    if by == "weighted":
        if weights is None:
            raise Error(ERR_INVALID_ARG, "by='weighted' needs weights=(visual, alignment, physical)")
        by = "hard"
    code = L.vs2_rank_by_from_name(by.encode()) if isinstance(by, str) else -1
    if code < 0:
        raise Error(ERR_INVALID_ARG, "by=%r: expected hard, robust, soft, soft_expected or weighted" % (by,))
    rp.by = code
    if weights is not None:
        w = list(weights)
        if len(w) != 3 or not all(isinstance(x, numbers.Real) and math.isfinite(x) for x in w):
            raise Error(ERR_INVALID_ARG, "weights=%r: expected three finite numbers (visual, alignment, physical)"
                        % (weights,))
        rp.weighted = 1
        rp.weights[:] = [float(x) for x in w]
    return rp
