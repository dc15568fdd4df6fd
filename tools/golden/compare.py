#!/usr/bin/env python3
"""Compare one vs2 run with a committed golden case from transformers 4.53.2 + qwen-vl-utils.

  compare.py --golden tests/golden --case NAME --dump DIR --greedy R1.json [--greedy R2.json]
  compare.py --golden tests/golden --case NAME --dump DIR --answer LABEL=R.json ...

DIR is `vs2 score --dump-stages DIR --dump-all-logits`; R*.json are `vs2 score --json` results
(greedy at the penalties the manifest lists, in that order; or teacher-forced --answer-file runs).
Prints every check with its value and limit; exits 1 if any fails. Tolerances and why:

  input ids, M-RoPE positions, rope delta, window index   exact: integers from the same rules.
  pixel_values      max |diff| <= 1e-5: both are fp32 (x/255 - mean)/std of the same decoded,
                    bicubic-resized frames; only the order of float operations differs (the
                    upstream processor fuses rescale and normalize), ~1e-7.
  vision/LLM stages, logits   NMSE = sum((vs2-ref)^2)/sum(ref^2) <= 1e-6 on the stored rows
                    (columns for logits), and on the per-row float64 sums and sums of squares of
                    the full rows: fp32 on both sides with different summation orders gives
                    ~1e-12; a wrong window order, attention block type or rotary section gives
                    NMSE far above 1e-3 (see tests/golden/README.md).
  greedy tokens     identical for all steps: argmax of fp32 logits whose NMSE is ~1e-12; the
                    random weights leave no near-ties at the scale of that error.
  soft scores       indices identical, normed and expected values within 1e-6: computed from
                    the five digit probabilities, which agree to ~1e-7 relative.
"""
import argparse
import json
import math
import os
import sys

import numpy as np

STAGE_NMSE = 1e-6
PIXEL_ABS = 1e-5
SOFT_ABS = 1e-6


class Checker:
    def __init__(self):
        self.failed = 0
        self.n = 0

    def check(self, ok, what, detail):
        self.n += 1
        if not ok:
            self.failed += 1
        print(f"  {'ok  ' if ok else 'FAIL'} {what:34s} {detail}", flush=True)


def nmse(a, ref):
    a = np.asarray(a, np.float64)
    ref = np.asarray(ref, np.float64)
    den = float((ref * ref).sum())
    num = float(((a - ref) ** 2).sum())
    return num / den if den > 0 else (0.0 if num == 0 else math.inf)


def load(golden, e, key):
    f = e[key]
    return np.fromfile(os.path.join(golden, f["file"]), dtype=f["dtype"]).reshape(f["shape"])


def dump_index(d):
    idx = json.load(open(os.path.join(d, "index.json")))
    return {s["stage"]: s for s in idx["stages"]}


def dump_array(d, index, stage):
    s = index[stage]
    return np.memmap(os.path.join(d, s["file"]), dtype="<f4", mode="r", shape=tuple(s["shape"]))


def compare_stage(ck, golden, name, e, x):
    """x: vs2's full [rows, cols] array; e: the golden entry."""
    if list(x.shape) != e["shape"]:
        ck.check(False, name, f"shape {list(x.shape)} != {e['shape']}")
        return
    if "cols" in e:
        cols = load(golden, e, "cols")
        part = np.asarray(x[:, cols], np.float64)
    else:
        rows = load(golden, e, "rows")
        part = np.asarray(x[rows], np.float64)
    ref = load(golden, e, "values").reshape(part.shape)
    full = np.asarray(x, np.float64)
    v = nmse(part, ref)
    vs = nmse(full.sum(1), load(golden, e, "row_sum"))
    vq = nmse((full * full).sum(1), load(golden, e, "row_sumsq"))
    worst = max(v, vs, vq)
    ck.check(worst <= STAGE_NMSE, name, f"NMSE {v:.2e} (row sums {vs:.1e}, sumsq {vq:.1e}) <= {STAGE_NMSE:g}")
    return v


def compare_dump(ck, golden, c, d):
    ix = dump_index(d)
    f = c["files"]
    ids = np.asarray(dump_array(d, ix, "input_ids")).reshape(-1).astype(np.int64)
    gids = load(golden, f, "input_ids").astype(np.int64)
    ck.check(ids.shape == gids.shape and (ids == gids).all(), "input_ids",
             f"{len(ids)} vs {len(gids)} ids, first difference at "
             f"{int(np.argmax(ids != gids)) if ids.shape == gids.shape and (ids != gids).any() else '-'}")
    pos = np.asarray(dump_array(d, ix, "positions")).astype(np.int64)
    gpos = load(golden, f, "positions").astype(np.int64)
    ck.check(pos.shape == gpos.shape and (pos == gpos).all(), "positions (3 x L)",
             f"{pos.shape} vs {gpos.shape}, mismatches {int((pos != gpos).sum()) if pos.shape == gpos.shape else '-'}")
    delta = int(np.asarray(dump_array(d, ix, "rope_delta")).reshape(-1)[0])
    ck.check(delta == c["rope_delta"], "rope_delta", f"{delta} vs {c['rope_delta']}")
    widx = np.asarray(dump_array(d, ix, "vision.window_index")).reshape(-1).astype(np.int64)
    gw = load(golden, f, "window_index").astype(np.int64)
    ck.check(widx.shape == gw.shape and (widx == gw).all(), "vision.window_index", f"{len(widx)} entries")
    # Pixels: the stored rows (all of them, unless another case holds the same clip densely)
    # within PIXEL_ABS, and every row's sum within PIXEL_ABS per element.
    e = f["pixel_values"]
    pv = np.asarray(dump_array(d, ix, "pixel_values"), np.float64)
    if list(pv.shape) != e["shape"]:
        ck.check(False, "pixel_values", f"shape {list(pv.shape)} != {e['shape']}")
    else:
        diff = float(np.abs(pv[load(golden, e, "rows")] - load(golden, e, "values")).max())
        sdiff = float(np.abs(pv.sum(1) - load(golden, e, "row_sum")).max()) / pv.shape[1]
        ck.check(max(diff, sdiff) <= PIXEL_ABS, "pixel_values",
                 f"{list(pv.shape)} max |diff| {diff:.2e}, row sums {sdiff:.1e}/element <= {PIXEL_ABS:g}")
    res = {}
    for name in c["stages"]:
        if name == "pixel_values":
            continue
        if name not in ix:
            ck.check(False, name, "missing from the vs2 dump")
            continue
        res[name] = compare_stage(ck, golden, name, f[name], dump_array(d, ix, name))
    return res


def sample_of(r):
    """A one-sample vs2 result keeps the sample's fields at the top level."""
    return r["samples"][0] if "samples" in r else r


def compare_greedy(ck, c, results):
    for (pen, want), path in zip(sorted(c["greedy"].items(), key=lambda kv: float(kv[0])), results):
        s = sample_of(json.load(open(path)))
        got = s["output_ids"]
        first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)
        ck.check(got == want, f"greedy tokens, penalty {pen}",
                 f"{len(got)} vs {len(want)} tokens" + (f", first difference at {first}" if first is not None else "")
                 + f", stop {s['stop_reason']}")


def compare_answer(ck, c, label, path):
    s = sample_of(json.load(open(path)))
    ref = c["answer"][label]
    dims = ["visual_quality", "text_alignment", "physical_consistency"]
    idx = s["soft_token_index"]
    idx = [idx[k] for k in dims] if isinstance(idx, dict) else idx
    want_idx = [x["index"] for x in ref["soft"]]
    ck.check(list(idx) == want_idx, f"{label}: soft indices", f"{idx} vs {want_idx}")
    for key, ref_key in (("soft_scores", "normed"), ("soft_scores_expected", "expected")):
        got = s[key]
        got = [got[k] for k in dims] if isinstance(got, dict) else got
        want = [x[ref_key] for x in ref["soft"]]
        ok = all((a is None and b is None) or (a is not None and b is not None and abs(a - b) <= SOFT_ABS)
                 for a, b in zip(got, want))
        ck.check(ok, f"{label}: {ref_key}", f"{got} vs {want} (|diff| <= {SOFT_ABS:g})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--golden", required=True)
    ap.add_argument("--case", required=True)
    ap.add_argument("--dump")
    ap.add_argument("--greedy", action="append", default=[])
    ap.add_argument("--answer", action="append", default=[], help="LABEL=result.json")
    ap.add_argument("--stage-nmse", type=float, default=STAGE_NMSE,
                    help="stage/logit NMSE limit; only for other backends, with their stated reason")
    a = ap.parse_args()
    globals()["STAGE_NMSE"] = a.stage_nmse
    man = json.load(open(os.path.join(a.golden, "manifest.json")))
    c = man["cases"][a.case]
    ck = Checker()
    print(f"golden case {a.case} (transformers {man['transformers']['version']} "
          f"{man['transformers']['commit'][:12]}, qwen-vl-utils {man['qwen_vl_utils']['version']})")
    if a.dump:
        compare_dump(ck, a.golden, c, a.dump)
    if a.greedy:
        if len(a.greedy) != len(c["greedy"]):
            ck.check(False, "greedy runs", f"{len(a.greedy)} given, {len(c['greedy'])} expected")
        compare_greedy(ck, c, a.greedy)
    for spec in a.answer:
        label, path = spec.split("=", 1)
        compare_answer(ck, c, label, path)
    print(f"{a.case}: {ck.n - ck.failed} passed, {ck.failed} failed")
    sys.exit(1 if ck.failed or ck.n == 0 else 0)


if __name__ == "__main__":
    main()
