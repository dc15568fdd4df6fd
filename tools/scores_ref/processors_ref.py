#!/usr/bin/python3
"""Independent reference for src/sampler.c: transformers' logits processors written in torch.

Semantics of transformers 4.53 (generation/logits_process.py; order from utils.py
_get_logits_processor): repetition penalty (always, when != 1.0), then, only when sampling,
temperature (!= 1.0), top-k (!= 0), top-p (< 1.0); min_tokens_to_keep = 1. Greedy picks
torch.argmax. Runs on Debian's python3-torch (CPU) and numpy; transformers is not needed.

  processors_ref.py gen DIR     write DIR/cases.json + DIR/logits.bin (seeded)
  processors_ref.py check DIR   compare DIR/out_c.bin + DIR/choice_c.json (written by
                                `test_sampler --process DIR`) with torch; exit 1 on mismatch
"""
import json
import math
import os
import sys

import numpy as np
import torch


def rep_penalty(ids, scores, penalty):
    # RepetitionPenaltyLogitsProcessor: gather, where(<0, *p, /p), scatter (each id once in
    # effect: duplicates scatter the same value).
    idx = torch.tensor([ids], dtype=torch.long)
    score = torch.gather(scores, 1, idx)
    score = torch.where(score < 0, score * penalty, score / penalty)
    return scores.scatter(1, idx, score)


def temperature(scores, t):
    return scores / t


def top_k(scores, k):
    k = min(max(k, 1), scores.size(-1))
    kth = torch.topk(scores, k)[0][..., -1, None]
    return scores.masked_fill(scores < kth, -float("inf"))


def top_p(scores, p):
    sorted_logits, sorted_indices = torch.sort(scores, descending=False)
    cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove = cum <= (1 - p)
    remove[..., -1:] = 0
    remove = remove.scatter(1, sorted_indices, remove)
    return scores.masked_fill(remove, -float("inf"))


def process(case, logits):
    s = torch.from_numpy(logits.copy()).unsqueeze(0)
    if case["repetition_penalty"] != 1.0 and case["history"]:
        s = rep_penalty(case["history"], s, case["repetition_penalty"])
    if case["do_sample"]:
        if case["temperature"] != 1.0:
            s = temperature(s, case["temperature"])
        if case["top_k"] != 0:
            s = top_k(s, case["top_k"])
        if case["top_p"] < 1.0:
            s = top_p(s, case["top_p"])
    return s[0]


def gen(d):
    rng = np.random.default_rng(20240611)
    cases, chunks, off = [], [], 0

    def add(name, logits, history, do_sample=0, t=1.0, k=0, p=1.0, pen=1.0):
        nonlocal off
        logits = np.asarray(logits, dtype=np.float32)
        cases.append(dict(name=name, n_vocab=int(logits.size), offset=off, history=[int(x) for x in history],
                          do_sample=do_sample, temperature=t, top_k=k, top_p=p, repetition_penalty=pen))
        chunks.append(logits)
        off += logits.size

    def randl(v, scale=3.0):
        return (rng.standard_normal(v) * scale).astype(np.float32)

    def hist(v, n):
        return rng.integers(0, v, n)

    V = 5000
    add("greedy penalty 1.05 (both signs)", randl(V), hist(V, 3000), pen=1.05)
    add("greedy no penalty", randl(V), hist(V, 100))
    add("greedy ties: first index", np.round(randl(V)), [], pen=1.0)
    add("greedy penalty 0.8 (reward)", randl(V), hist(V, 500), pen=0.8)
    add("sample T0.7 k50 (reference setting)", randl(V), hist(V, 2000), 1, 0.7, 50, 1.0, 1.05)
    add("sample T0.7 k50 p0.8 pen1.05", randl(V), hist(V, 2000), 1, 0.7, 50, 0.8, 1.05)
    add("sample top_p 0.9 only", randl(V), hist(V, 10), 1, 1.0, 0, 0.9, 1.0)
    add("sample top_p 0.5 T1.3", randl(V, 1.0), [], 1, 1.3, 0, 0.5, 1.0)
    add("top_k ties at the k-th value", np.round(randl(V, 1.5)), [], 1, 1.0, 7, 1.0, 1.0)
    tie = np.zeros(V, dtype=np.float32); tie[rng.choice(V, 3, replace=False)] = 5; tie[rng.choice(V, 10, replace=False)] = 4
    add("top_k 7 with 10 values tied at the 7th (13 kept)", np.where(tie == 0, randl(V, 0.5), tie), [], 1, 1.0, 7, 1.0, 1.0)
    add("top_k > vocabulary", randl(64), [], 1, 0.5, 100, 1.0, 1.0)
    add("top_k 1", randl(V), [], 1, 1.0, 1, 1.0, 1.0)
    add("top_p uniform: cum == 1-top_p exactly, ties by index", np.zeros(8), [], 1, 1.0, 0, 0.75, 1.0)
    add("top_p uniform 0.5", np.zeros(16), [], 1, 1.0, 0, 0.5, 1.0)
    add("top_p 0.0 keeps only the max", randl(V), [], 1, 1.0, 0, 0.0, 1.0)
    add("top_p after top_k with -inf", randl(V), hist(V, 50), 1, 0.7, 20, 0.95, 1.2)
    add("penalty on -inf and zero logits", np.where(rng.random(V) < 0.3, -np.inf, np.round(randl(V))),
        hist(V, 2500), 0, 1.0, 0, 1.0, 1.05)
    add("Qwen vocabulary size, reference sampling", randl(151936, 4.0), hist(151936, 6000), 1, 0.7, 50, 1.0, 1.05)
    add("Qwen vocabulary size, top_p 0.95 no top_k", randl(151936, 4.0), hist(151936, 6000), 1, 0.7, 0, 0.95, 1.05)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "cases.json"), "w") as f:
        json.dump(cases, f)
    np.concatenate(chunks).astype("<f4").tofile(os.path.join(d, "logits.bin"))
    print(f"{len(cases)} cases, {off} logits")


def check(d):
    cases = json.load(open(os.path.join(d, "cases.json")))
    logits = np.fromfile(os.path.join(d, "logits.bin"), dtype="<f4")
    out_c = np.fromfile(os.path.join(d, "out_c.bin"), dtype="<f4")
    choice_c = json.load(open(os.path.join(d, "choice_c.json")))
    bad = 0
    for i, c in enumerate(cases):
        x = logits[c["offset"]:c["offset"] + c["n_vocab"]]
        ref = process(c, x).numpy()
        got = out_c[c["offset"]:c["offset"] + c["n_vocab"]]
        same = (ref == got) | (np.isnan(ref) & np.isnan(got))
        n_diff = int((~same).sum())
        fin = np.isfinite(ref) & np.isfinite(got)
        maxd = float(np.max(np.abs(ref[fin] - got[fin]))) if fin.any() else 0.0
        kept_ref, kept_c = int(np.isfinite(ref).sum()), int(np.isfinite(got).sum())
        msg = f"[{i}] {c['name']}: {n_diff} differing logits, max |diff| {maxd:.3g}, kept {kept_c}/{kept_ref}"
        ok = n_diff == 0
        if c["do_sample"]:
            ch = choice_c[i]
            ok = ok and 0 <= ch < c["n_vocab"] and np.isfinite(ref[ch])
            msg += f", sampled id {ch} {'allowed' if np.isfinite(ref[ch]) else 'FILTERED'}"
        else:
            g = int(torch.argmax(torch.from_numpy(ref)))
            ok = ok and g == choice_c[i]
            msg += f", greedy {choice_c[i]} (torch {g})"
        print(("ok   " if ok else "FAIL ") + msg)
        bad += not ok
    print(f"{len(cases) - bad}/{len(cases)} cases agree exactly")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("gen", "check"):
        sys.exit(__doc__)
    sys.exit(gen(sys.argv[2]) if sys.argv[1] == "gen" else check(sys.argv[2]))
