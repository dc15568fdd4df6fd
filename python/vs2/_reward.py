"""_reward — VideoScore2 as a reward function in the shape RL trainers call (GRPO, DPO data, ...):
lists of videos and prompts in, one float per video out (docs/python.md has a GRPO-style loop)."""
import math
import threading

from ._engine import Engine
from ._lib import ERR_INVALID_ARG, Error

# Short names of the three dimensions and their keys in the result dict.
DIMS = {"visual": "visual_quality", "alignment": "text_alignment", "physical": "physical_consistency"}
_BY_KEY = {v: k for k, v in DIMS.items()}

_engines = {}
_engines_lock = threading.Lock()


def _shared_engine(model):
    """One engine per model for reward calls without engine=, loaded on first use."""
    with _engines_lock:
        eng = _engines.get(model)
        if eng is None:
            eng = _engines[model] = Engine(model)
        return eng


def _dim_names(dims):
    if isinstance(dims, str):
        dims = (dims,)
    out = []
    for d in dims:
        name = _BY_KEY.get(d, d)
        if name not in DIMS:
            raise Error(ERR_INVALID_ARG, "dims: %r is not one of visual, alignment, physical" % (d,))
        out.append(name)
    if not out:
        raise Error(ERR_INVALID_ARG, "dims: at least one of visual, alignment, physical")
    return out


def reward_details(videos, prompts, *, dims=("visual", "alignment", "physical"), soft=False, engine=None,
                   model=None, fps=None, missing=math.nan, **options):
    """Per video: {"reward", "visual", "alignment", "physical", "error", "result"}.

    reward is the mean of the chosen dims' scores: the hard scores (1..5, the reference parse) or,
    with soft=True, the soft scores (normed digit probabilities, the paper's). Where a chosen score
    is missing (the answer did not parse) or the video could not be scored, reward is `missing`
    (NaN by default: mask it, vs2 never invents a score) and "error" says why. "result" is the whole
    `vs2 score --json` dict (None on failure).
    """
    names = _dim_names(dims)
    if engine is not None and model is not None:
        raise Error(ERR_INVALID_ARG, "give engine= or model=, not both")
    eng = engine if engine is not None else _shared_engine(model)
    results = eng.score_batch(videos, prompts, fps=fps, errors="return", **options)
    key = "soft_scores" if soft else "scores"
    out = []
    for r in results:
        if isinstance(r, Error):
            out.append({"reward": missing, **{d: math.nan for d in DIMS}, "error": r.message, "result": None})
            continue
        vals = {d: (math.nan if r[key][k] is None else float(r[key][k])) for d, k in DIMS.items()}
        chosen = [vals[d] for d in names]
        ok = not any(math.isnan(v) for v in chosen)
        why = None if ok else (r.get("parse_error") or "no %s for %s" % (key, ", ".join(names)))
        out.append({"reward": sum(chosen) / len(chosen) if ok else missing, **vals, "error": why, "result": r})
    return out


def reward(videos, prompts, *, dims=("visual", "alignment", "physical"), soft=False, engine=None, model=None,
           fps=None, missing=math.nan, **options):
    """One float per video: the mean of the chosen dimensions' scores (see reward_details).

    videos: paths, uint8 arrays T x H x W x 3, or lists of PIL images (frames need fps=, one for all
    or one per video); prompts: one str or one per video; engine: a vs2.Engine to use (else one is
    loaded once per model and kept); options: scoring options as for Engine.score.
    """
    return [d["reward"] for d in reward_details(videos, prompts, dims=dims, soft=soft, engine=engine,
                                                model=model, fps=fps, missing=missing, **options)]
