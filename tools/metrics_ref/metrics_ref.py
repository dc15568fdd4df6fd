#!/usr/bin/python3
"""Independent reference for `vs2 metrics`: the release scripts' metric rules
(docs/videoscore2-reference.md §4: eval/get_acc_corr.py and eval/get_pairwise_acc.py @4d96b60b, with the
"evident intent" decisions of docs/metrics.md), written from the description with scipy
(Debian's python3-scipy). Not a copy of the release code. Run with /usr/bin/python3.

  metrics_ref.py metrics RESULTS --bench B --method M [--pairs FILE] [--raw]   -> JSON
  metrics_ref.py parse FILE...                                                   -> JSON
  metrics_ref.py corr-cases OUT.json                                             -> vectors + scipy
  metrics_ref.py compare VS2.json REF.json [--tol T]                             -> exit 1 on a mismatch
"""
import argparse
import csv
import json
import math
import random
import re
import sys

from scipy.stats import norm, pearsonr, spearmanr

DIMS = ("v", "t", "p")
VS2_DIM_KEYS = ("visual_quality", "text_alignment", "physical_consistency")
REF_REGEX = (r"visual quality:\s*(\d+).*?text-to-video alignment:\s*(\d+)"
             r".*?physical/common-sense consistency:\s*(\d+)")
FLOAT_METHODS = ("vs2_float", "vs2_float_normed", "vs2_float_weighted")


def num(x):
    """Result files may hold numbers as strings; None stays None."""
    if x is None or isinstance(x, (int, float)):
        return x
    if isinstance(x, str):
        if x in ("None", "null"):
            return None
        return float(x)
    raise ValueError(f"not a number: {x!r}")


def read_items(path):
    text = open(path, encoding="utf-8").read()
    if text.lstrip().startswith("["):
        return json.loads(text), False
    return [json.loads(l) for l in text.splitlines() if l.strip()], True


def model_of(item, is_vs2, method):
    """(v, t, p) as the reference would find them in *_score_model, or 'missing'."""
    if is_vs2 and ("scores" in item or "soft_scores" in item):
        key = {"vs2": "scores", "vs2_int": "scores", "vs2_robust": "scores_robust",
               "vs2_float_weighted": "soft_scores_expected"}.get(method, "soft_scores")
        obj = item.get(key) or {}
        return [num(obj.get(k)) for k in VS2_DIM_KEYS]
    if all(f"{d}_score_model" in item for d in DIMS):
        return [num(item[f"{d}_score_model"]) for d in DIMS]
    return "missing"


def human_of(item):
    hs = item.get("human_scores")
    if isinstance(hs, dict):
        return [num(hs.get(k)) for k in VS2_DIM_KEYS]
    return [num(item.get(f"{d}_score_gt")) for d in DIMS]


def t2vqa_scores(path):
    """name -> quality_score of a T2VQA-DB txt (its human score for every dimension)."""
    out = {}
    for l in open(path, encoding="utf-8"):
        l = l.rstrip("\r\n")
        if l.strip(" \r"):
            out[l.split("|", 1)[0].split("/")[-1].rsplit(".", 1)[0]] = float(l.rsplit("|", 1)[1])
    return out


def load(path, bench, method, overrides=True, gt_txt=None):
    items, is_vs2 = read_items(path)
    items = [x for x in items if "error" not in x]
    if gt_txt:  # `vs2 metrics --gt file.txt` joins the quality scores on the id
        q = t2vqa_scores(gt_txt)
        for x in items:
            name = x.get("id", x.get("video_name"))
            if name in q:
                x["human_scores"] = {k: q[name] for k in VS2_DIM_KEYS}
                x["quality_score"] = q[name]
    models = [model_of(x, is_vs2, method) for x in items]
    if any(m == "missing" for m in models):  # regex on the last 150 characters
        models = []
        for x in items:
            mt = re.search(REF_REGEX, (x.get("output") or "")[-150:], re.DOTALL | re.IGNORECASE)
            models.append([max(int(g), 1) for g in mt.groups()] if mt else [0, 0, 0])
    if method == "video_phy2_auto_eval":
        models = [[0, m[1], m[2]] for m in models]
    if overrides and method in ("video_reward", "lift"):
        models = [[m[0], m[1], 0] for m in models]
    overall_key = {"mj_bench_video": "total_score", "t2vqa_db": "quality_score"}.get(bench)
    if overall_key and all(overall_key in x for x in items):
        ogt = [num(x[overall_key]) for x in items]
    else:
        ogt = [0] * len(items)
    rows = []
    for x, m, o in zip(items, models, ogt):
        if None in m:
            continue
        name = x.get("id", x.get("video_name"))
        rows.append({"id": name, "m": list(m), "g": human_of(x), "o": o})
    return rows, len(items)


def rnd(x, raw):
    if x is None or raw:
        return x
    return round(x, 3)


def acc(pred, gt, relaxed):
    if not pred:
        return 0.0
    if (any if relaxed else all)(p is None for p in pred):
        return 0.0
    pred = [0 if p is None else p for p in pred]
    gt = [-1 if g is None else g for g in gt]
    ok = sum((abs(p - g) <= 1) if relaxed else (p == g) for p, g in zip(pred, gt))
    return ok / len(gt) * 100


def quant_bin(z):
    for k, q in enumerate((0.2, 0.4, 0.6, 0.8)):
        if z < norm.ppf(q):
            return k + 1
    return 5


def clip(x):
    return min(5, max(1, round(x)))


def convert(method, bench, v, t, p):
    if method in FLOAT_METHODS or method in ("aigve_macs", "q_insight"):
        return [clip(v), clip(t), clip(p)]
    if method == "unified_reward":
        return [clip(1.25 * v)] * 3
    if method == "vision_reward":
        return [quant_bin(v / 0.2)] * 3
    if method == "video_reward":
        return [quant_bin(v), quant_bin(t / 1.5), None]
    if method == "image_reward":
        return [quant_bin(v)] * 3
    if method == "lift":
        if bench not in ("aigve_bench", "mj_bench_video", "video_phy2", "video_phy2_test"):
            return "skip"
        lm = lambda x: 1 if x == 1 else 3 if x == 2 else 5
        return [lm(v), lm(t), None]
    if method == "video_phy2_auto_eval":
        return [None, clip(t), clip(p)]
    if method in ("dover", "q_align"):
        return [clip(5 * v)] * 3
    if method == "deqa":
        return [clip(v)] * 3
    return [v, t, p]


def provided(bench, method):
    use = [True, True, True]
    if method == "video_phy2_auto_eval" or bench in ("video_phy2_test", "video_phy_test"):
        use[0] = False
    if method in ("video_reward", "lift") or bench == "tvge":
        use[2] = False
    return use


def mean_of(vals, use):
    xs = [v for v, u in zip(vals, use) if u]
    if any(x is None or (isinstance(x, float) and math.isnan(x)) for x in xs):
        return None
    return sum(xs) / len(xs) if xs else None


def point_acc(rows, bench, method, raw, out):
    conv = [convert(method, bench, *r["m"]) for r in rows]
    if any(c == "skip" for c in conv):
        return
    cols = [[c[d] for c in conv] for d in range(3)]
    om = [None] * len(rows)
    if bench == "mj_bench_video":
        def ov(v, t, p):
            if method == "video_phy2_auto_eval":
                return int((t + p) / 2)
            if method in ("lift", "video_reward"):
                return int((v + t) / 2)
            return int((v + t + p) / 3)
        om = [ov(*c) for c in conv]
        mapv = {1: 0, 2: 0, 3: 1, 4: 1, 5: 2}
        maptp = {1: 0, 2: 1, 3: 1, 4: 2, 5: 2}
        cols = [[mapv.get(x) if x is not None else None for x in cols[0]],
                [maptp.get(x) if x is not None else None for x in cols[1]],
                [maptp.get(x) if x is not None else None for x in cols[2]]]
        om = [0 if x == 1 else 1 if x in (2, 3) else 2 for x in om]
    use = provided(bench, method)
    for rel, name in ((False, "acc"), (True, "acc_relaxed")):
        vals = []
        for d in range(3):
            a = rnd(acc(cols[d], [r["g"][d] for r in rows], rel), raw)
            out[f"{DIMS[d]}_{name}"] = a
            vals.append(a)
        out[f"{name}_avg"] = rnd(mean_of(vals, use), raw)
    out["overall_acc"] = rnd(acc(om, [r["o"] for r in rows], False), raw)


def corr(x, y, spearman):
    pairs = [(a, b) for a, b in zip(x, y) if a is not None and b is not None]
    try:
        a = [p[0] for p in pairs]
        b = [p[1] for p in pairs]
        r = spearmanr(a, b)[0] if spearman else pearsonr(a, b)[0]
        r = float(r)
        return None if math.isnan(r) else r * 100
    except Exception:  # the scripts return None on any exception
        return None


def point_corr(rows, bench, method, raw, out):
    m = [[r["m"][d] for r in rows] for d in range(3)]
    g = [[r["g"][d] for r in rows] for d in range(3)]
    n = len(rows)
    if method == "video_reward":
        m[2] = [None] * n
    if method == "video_phy2_auto_eval":
        m[0] = [None] * n
    if bench in ("video_phy_test", "video_phy2_test"):
        m[0], g[0] = [None] * n, [None] * n
    if bench == "tvge":
        m[2], g[2] = [None] * n, [None] * n
    om = []
    if bench in ("mj_bench_video", "t2vqa_db"):
        if method == "video_phy2_auto_eval":
            om = [t + p for t, p in zip(m[1], m[2])]
        elif method in ("lift", "video_reward"):
            om = [v + t for v, t in zip(m[0], m[1])]
        else:
            om = [v + t + p for v, t, p in zip(*m)]
    use = provided(bench, method)
    for sp, name in ((False, "plcc"), (True, "spcc")):
        vals = []
        for d in range(3):
            c = corr(m[d], g[d], sp)
            c = rnd(c, raw)
            out[f"{DIMS[d]}_{name}"] = c
            vals.append(c)
        out[f"{name}_avg"] = rnd(mean_of(vals, use), raw)
        out[f"overall_{name}"] = rnd(corr(om, [r["o"] for r in rows], sp), raw)


THETA = {"vs2_float": 0.001, "vs2_float_normed": 0.001, "vs2_float_weighted": 0.001,
         "vs2": 0.5, "vs2_int": 0.5, "vs2_robust": 0.5, "deqa": 0.5, "video_reward": 0.25,
         "unified_reward": 0.2, "image_reward": 0.2, "vision_reward": 0.05, "dover": 0.05,
         "q_align": 0.05, "q_insight": 0.05, "aigve_macs": 0.0, "video_phy2_auto_eval": 0.0,
         "vs1": 0.0}


def judge(method, s1, s2, ties):
    if not ties:
        return (s1 > s2) - (s1 < s2)
    th = THETA.get(method)
    if th is None:
        return 0  # the script returns None: counted as a tie
    return 1 if s1 - s2 > th else -1 if s1 - s2 < -th else 0


def vname(path, cut):
    return path.split("/")[-1].split(cut)[0]


def read_pairs(path, bench):
    """[(a, b, {k: label})] with labels 1, -1, 0 or None."""
    lab = {"A": 1, "B": -1, "same": 0, "1": 1, "2": -1}
    if bench == "t2vqa_db":
        lines = [l.rstrip("\r\n") for l in open(path, encoding="utf-8")]
        recs = []
        for l in lines:
            if not l.strip(" \r"):
                continue
            f, rest = l.split("|", 1)
            prompt, score = rest.rsplit("|", 1)
            recs.append((f.split("/")[-1].rsplit(".", 1)[0], prompt.strip(" \t"), float(score)))
        out = []
        for i in range(len(recs)):
            for j in range(i + 1, len(recs)):
                if recs[i][1] != recs[j][1]:
                    continue
                diff = recs[i][2] - recs[j][2]
                out.append((recs[i][0], recs[j][0], {2: 0 if abs(diff) <= 1 else 1 if diff > 0 else -1}))
        return out
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            labels = {k: lab.get(row.get(c, ""), None) for k, c in enumerate(("VQ", "TA", "Overall"))}
            out.append((vname(row["path_A"], ".mp4"), vname(row["path_B"], ".mp4"), labels))
    return out


def pairwise(path, bench, method, pairs_path, raw, out):
    rows, _ = load(path, "", method, overrides=False)
    sd = {r["id"]: r["m"] for r in rows}
    pairs = read_pairs(pairs_path, bench)
    passes = ["overall"] if bench == "t2vqa_db" else ["vq", "ta", "overall"]
    for ties in (True, False):
        suf = "with_ties" if ties else "without_ties"
        for name in passes:
            k = ("vq", "ta", "overall").index(name)
            ok = tot = 0
            for a, b, lab in pairs:
                if a not in sd or b not in sd:
                    continue
                gt = lab.get(k)
                if not ties and gt == 0:
                    continue
                if k < 2:
                    s1, s2 = sd[a][k], sd[b][k]
                else:
                    s1, s2 = sum(sd[a]), sum(sd[b])
                    if bench == "t2vqa_db":
                        s1, s2 = s1 / 3, s2 / 3
                tot += 1
                ok += judge(method, s1, s2, ties) == gt
            out[f"{name}_pairwise_acc_{suf}"] = rnd(ok / tot * 100, raw) if tot else None
            out[f"{name}_pairs_{suf}"] = tot


def cmd_metrics(a):
    bench = "vs2_bench" if "vs2" in a.bench else a.bench
    out = {}
    gt_txt = a.pairs if a.pairs and bench == "t2vqa_db" else None
    rows, n = load(a.results, bench, a.method, gt_txt=gt_txt)
    if bench not in ("videogen_reward_bench", "genai_bench", "vision_reward_db_video"):
        if bench not in ("t2vqa_db", "tvge"):
            point_acc(rows, bench, a.method, a.raw, out)
        point_corr(rows, bench, a.method, a.raw, out)
    if a.pairs and bench in ("videogen_reward_bench", "t2vqa_db"):
        pairwise(a.results, bench, a.method, a.pairs, a.raw, out)
    json.dump({"n_items": n, "n_dropped": n - len(rows), "metrics": out}, sys.stdout)
    print()


def final_list_parse(text):
    """The scores of the last '(1) ... (2) ... (3) ...' list, for explaining disagreements."""
    ms = list(re.finditer(r"\(1\)\s*visual quality:\s*(\d+).*?\(2\)\s*text-to-video alignment:\s*(\d+)"
                          r".*?\(3\)\s*physical/common-sense consistency:\s*(\d+)", text,
                          re.DOTALL | re.IGNORECASE))
    return [int(g) for g in ms[-1].groups()] if ms else None


def soft_label_in_cot(text, dim):
    """The soft-score finder (docs/videoscore2-reference.md §2.7) reads the digit after the FIRST occurrence
    of the label; True if that occurrence lies before the final numbered list."""
    label = ("visual quality:", "text-to-video alignment:", "physical/common-sense consistency:")[dim]
    first = re.search(r"(?:\(\d+\)\s*|\n\s*)?" + re.escape(label), text, re.IGNORECASE)
    lists = list(re.finditer(r"\(1\)\s*visual quality:", text, re.IGNORECASE))
    return bool(first and lists and first.end() <= lists[-1].start())


def explain(parse, final, soft, text, dim):
    if not 1 <= parse <= 5:
        return "the model wrote a score outside 1..5; the regex does not clamp it, the soft score uses digits 1..5"
    if final is not None and parse != final:
        return "regex matched a score inside the rationale (CoT), not the final list"
    if soft_label_in_cot(text, dim):
        return "soft score read at a digit in the rationale (first label occurrence), not the final list"
    if soft > parse:
        return "argmax digit above the sampled digit (T=0.7 sampled a less likely digit)"
    return ("normed soft s*·p(s*)/P rounds below the sampled digit (low confidence p(s*)/P, "
            "or an argmax below the sampled digit)")


def cmd_parse(a):
    report = {}
    for path in a.files:
        items, is_vs2 = read_items(path)
        per, agree, compared, dims_agree, dims = [], 0, 0, 0, 0
        for x in items:
            out = x.get("output") or ""
            mt = re.search(REF_REGEX, out, re.DOTALL | re.IGNORECASE)
            parse = [int(g) for g in mt.groups()] if mt else None
            stored = [num(x.get(f"{d}_score_model")) for d in DIMS]
            rec = {"id": x.get("video_name", x.get("id")), "parse": parse, "stored": stored,
                   "match_start": mt.start() if mt else None}
            # the stored values are soft floats: compare the parse with Python round() of them,
            # the rule the metric scripts apply for accuracy (vs2_float)
            if parse is not None and all(s is not None for s in stored):
                compared += 1
                rounded = [min(5, max(1, round(s))) for s in stored]
                ok = [p == r for p, r in zip(parse, rounded)]
                dims += 3
                dims_agree += sum(ok)
                agree += all(ok)
                fin = final_list_parse(out)
                rec["disagree"] = [{"dim": DIMS[d], "parse": parse[d], "stored": stored[d],
                                    "why": explain(parse[d], fin[d] if fin else None, stored[d], out, d)}
                                   for d in range(3) if not ok[d]]
            per.append(rec)
        report[path.split("/")[-1]] = {"items": len(items), "parsed": sum(r["parse"] is not None for r in per),
                                       "compared": compared, "items_agree": agree,
                                       "dims_compared": dims, "dims_agree": dims_agree, "per_item": per}
    json.dump(report, sys.stdout)
    print()


def cmd_corr_cases(a):
    rng = random.Random(20250922)
    cases = [([1, 2, 3, 4, 5], [2, 4, 6, 8, 10]), ([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]),
             ([1, 1, 1, 1], [1, 2, 3, 4]), ([3, 1, 2], [3, 3, 1]), ([1, 2], [2, 1]),
             ([1, 2, 2, 3, 3, 3, 4], [4, 1, 2, 2, 5, 5, 1])]
    for n in (3, 10, 57, 499, 2000):
        x = [rng.randint(1, 5) for _ in range(n)]
        y = [rng.randint(1, 5) if rng.random() < 0.5 else x[i] for i in range(n)]
        cases.append((x, y))
        cases.append(([rng.gauss(3, 1) for _ in range(n)], [float(v) for v in y]))
    out = []
    for x, y in cases:
        p, s = float(pearsonr(x, y)[0]), float(spearmanr(x, y)[0])
        out.append({"x": x, "y": y, "plcc": None if math.isnan(p) else p,
                    "srcc": None if math.isnan(s) else s})
    json.dump(out, open(a.out, "w"))


def placeholder_keys(bench):
    """Keys the release scripts print although nothing was measured, which vs2 leaves out:
    overall_* where the bench has no overall human score (overall_model is all None: acc 0.0,
    corr None), and a dimension's accuracy when no prediction or no human score exists (the
    scripts print 0.0). cmd_compare accepts their absence only where the reference value is 0.0
    or None."""
    keys = {f"{d}_{k}" for d in "vtp" for k in ("acc", "acc_relaxed")}
    if bench not in ("mj_bench_video", "t2vqa_db"):
        keys |= {"overall_acc", "overall_plcc", "overall_spcc"}
    return keys


def cmd_compare(a):
    vj = json.load(open(a.vs2))
    v = vj["metrics"]
    r = json.load(open(a.ref))["metrics"]
    skip = placeholder_keys(vj.get("bench"))
    bad = 0
    for k in sorted(set(v) | set(r)):
        x, y = v.get(k, "absent"), r.get(k, "absent")
        if x == "absent" and k in skip and (y is None or y == 0.0 or y == "absent"):
            continue  # a placeholder of the scripts that vs2 does not print
        same = (x is None and y is None) or (isinstance(x, (int, float)) and isinstance(y, (int, float))
                                             and abs(x - y) <= a.tol)
        if not same:
            bad += 1
            print(f"MISMATCH {k}: vs2 {x} reference {y}")
    left = {k for k in (skip & set(r)) - set(v) if r[k] is None or r[k] == 0.0}
    n = len((set(v) | set(r)) - left)
    print(f"{n - bad} of {n} figures agree (tolerance {a.tol}); {len(left)} placeholders left out")
    sys.exit(1 if bad else 0)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("metrics")
    m.add_argument("results")
    m.add_argument("--bench", default="vs2_bench")
    m.add_argument("--method", default="vs2_float")
    m.add_argument("--pairs")
    m.add_argument("--raw", action="store_true")
    p = sub.add_parser("parse")
    p.add_argument("files", nargs="+")
    c = sub.add_parser("corr-cases")
    c.add_argument("out")
    k = sub.add_parser("compare")
    k.add_argument("vs2")
    k.add_argument("ref")
    k.add_argument("--tol", type=float, default=0.0)
    a = ap.parse_args()
    {"metrics": cmd_metrics, "parse": cmd_parse, "corr-cases": cmd_corr_cases,
     "compare": cmd_compare}[a.cmd](a)


if __name__ == "__main__":
    main()
