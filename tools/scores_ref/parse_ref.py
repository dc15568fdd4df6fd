#!/usr/bin/python3
"""Reference hard parse (docs/videoscore2-reference.md §2.6, Python `re` exactly as the eval harness) checked
against `test_scores --parse` output, plus the stored scores' relationship to it.

  parse_ref.py C_JSONL DATA_FILE...
Exit 1 if the C reference parse differs from Python's on any item."""
import json
import math
import os
import re
import sys

HARD = r"visual quality:\s*(\d+).*?text-to-video alignment:\s*(\d+).*?physical/common-sense consistency:\s*(\d+)"
LABELS = ["visual quality:", "text-to-video alignment:", "physical/common-sense consistency:"]


def hard(text):
    m = re.search(HARD, text, re.DOTALL | re.IGNORECASE)
    return [int(m.group(k)) for k in (1, 2, 3)] if m else None


def soft_digit(text, label):
    """The digit the soft score is read at (§2.7 step 1, on the text)."""
    m = re.search(r"(?:\(\d+\)\s*|\n\s*)?" + re.escape(label), text, flags=re.IGNORECASE)
    if not m:
        return None
    n = re.search(r"\d", text[m.end():])
    return int(n.group(0)) if n else None


def list_digit(text, k, label):
    """The digit after "(k) label" in the final list (the older, list-anchored soft index)."""
    p = text.rfind(f"({k}) {label}")
    if p < 0:
        return None
    n = re.search(r"\d", text[p + len(label) + 4:])
    return int(n.group(0)) if n else None


def consistent(name, s, dig):
    if dig is None:
        return False
    if "normed" in name:
        return math.ceil(s - 1e-9) == dig  # normed = s*·p/P lies in (s*-1, s*] unless p/P < (s*-1)/s*
    return abs(s - dig) < 0.5              # an expected value near one-hot rounds to the digit


def main():
    c = {}
    for line in open(sys.argv[1]):
        o = json.loads(line)
        c[(o["file"], o["i"])] = o
    bad = 0
    for path in sys.argv[2:]:
        name = os.path.basename(path)
        items = json.load(open(path))
        st = dict(n=0, agree=0, matched=0, robust_same=0, robust_none=0, robust_diff=0,
                  stored_none_iff_hard_none=0, soft_rel=0, soft_rel_n=0, list_rel=0, pos_differ=0,
                  pos_differ_regex=0, pos_differ_list=0)
        notes = []
        for i, it in enumerate(items):
            out = it.get("output")
            if not isinstance(out, str):
                continue
            st["n"] += 1
            ref = hard(out)
            got = c[(name, i)]
            if got["hard"] == ref:
                st["agree"] += 1
            else:
                bad += 1
                notes.append(f"  MISMATCH item {i} {it.get('video_name')}: C {got['hard']} Python {ref}")
            st["matched"] += ref is not None
            rob = got["robust"]
            if rob is None:
                st["robust_none"] += 1
                notes.append(f"  robust no parse item {i} {it.get('video_name')}: {got['why']} (reference {ref})")
            elif rob == ref:
                st["robust_same"] += 1
            else:
                st["robust_diff"] += 1
                notes.append(f"  robust differs item {i} {it.get('video_name')}: robust {rob} reference {ref}")
            stored = [it.get(k) for k in ("v_score_model", "t_score_model", "p_score_model")]
            if "released_model" in name:
                # soft files: the reference stores None exactly when its hard regex found nothing
                st["stored_none_iff_hard_none"] += all((s is None) == (ref is None) for s in stored)
                for d, s in enumerate(stored):
                    dig = soft_digit(out, LABELS[d])
                    ldig = list_digit(out, d + 1, LABELS[d])
                    if s is None or dig is None:
                        continue
                    st["soft_rel_n"] += 1
                    a, b = consistent(name, s, dig), consistent(name, s, ldig)
                    st["soft_rel"] += a
                    st["list_rel"] += b
                    if dig != ldig:
                        st["pos_differ"] += 1
                        st["pos_differ_regex"] += a
                        st["pos_differ_list"] += b
                    if not a and not b:
                        notes.append(f"  stored soft {s:.4f} fits neither digit ({dig} at the §2.7 position, {ldig} in "
                                     f"the list): item {i} {it.get('video_name')} dim {d} (argmax != sampled digit)")
        print(f"{name}: {st['n']} outputs; C vs Python reference parse agree {st['agree']}/{st['n']} "
              f"(matched {st['matched']}); robust = reference {st['robust_same']}, robust differs "
              f"{st['robust_diff']}, robust no parse {st['robust_none']}")
        if "released_model" in name:
            print(f"  stored None <=> reference no-match: {st['stored_none_iff_hard_none']}/{st['n']}; "
                  f"stored soft consistent with the digit at the §2.7 position {st['soft_rel']}/{st['soft_rel_n']}, "
                  f"with the final-list digit {st['list_rel']}/{st['soft_rel_n']}; where the two digits differ "
                  f"({st['pos_differ']}): §2.7 {st['pos_differ_regex']}, list {st['pos_differ_list']}")
        for n in notes:
            print(n)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
