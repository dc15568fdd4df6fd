#!/usr/bin/python3
"""Reference for the soft-score token index and values (docs/videoscore2-reference.md §2.7), independent of
src/: ids are decoded from tokenizer.json here (GPT-2 byte map inverted, added tokens
literally, bytes decoded as UTF-8 with errors="replace", as HF's ByteLevel decoder), the label
and digit are found with Python `re`, and idx is the smallest i with decode(ids[:i+1]) == target.

  soft_ref.py cases TOKJSON OUT_JSON DATA_FILE...   write the test cases
  soft_ref.py check TOKJSON C_JSONL                 compare with `test_scores --soft`
"""
import json
import math
import re
import sys

LABELS = ["visual quality:", "text-to-video alignment:", "physical/common-sense consistency:"]


def byte_decoder():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def load(tokjson):
    tj = json.load(open(tokjson, encoding="utf-8"))
    bd = byte_decoder()
    raw = {}
    for tok, i in tj["model"]["vocab"].items():
        raw[i] = bytes(bd[ch] for ch in tok)
    for a in tj.get("added_tokens", []):
        raw[a["id"]] = a["content"].encode("utf-8")
    return tj, raw


def decode(raw, ids):
    return b"".join(raw[i] for i in ids).decode("utf-8", errors="replace")


def fake_p(k, s):
    return ((7 * k + 13 * s) % 17) / 64.0


def soft(raw, ids):
    S = decode(raw, ids)
    res = []
    for L in LABELS:
        m = re.search(r"(?:\(\d+\)\s*|\n\s*)?" + re.escape(L), S, flags=re.IGNORECASE)
        idx = -1
        if m:
            n = re.search(r"\d", S[m.end():])
            if n:
                target = S[:m.end() + n.start() + 1]
                for i in range(len(ids)):
                    if decode(raw, ids[:i + 1]) == target:
                        idx = i
                        break
        if idx < 0:
            res.append((-1, None, None))
            continue
        probs = [fake_p(idx, s) for s in range(1, 6)]  # "1".."5" are single tokens in Qwen2
        total = sum(probs)
        mx = max(probs)
        best = range(1, 6)[probs.index(mx)]
        normed = best * (mx / total if total > 0 else 0)
        expected = sum(s * (p / total) for s, p in zip(range(1, 6), probs)) if total > 0 else None
        res.append((idx, normed, expected))
    return res


def cases(tokjson, out, files):
    tj, _ = load(tokjson)
    vocab = tj["model"]["vocab"]
    cs = []
    for f in files:
        for i, it in enumerate(json.load(open(f))):
            if isinstance(it.get("output"), str) and not it["output"].startswith("{"):
                cs.append(dict(name=f"{f.split('/')[-1]}#{i}", text=it["output"]))
    cs.append(dict(name="CoT label first", text="\n<think>\nVisual Quality: 5, crisp.\n</think>\n\n(1) visual quality: 3\n"
                   "(2) text-to-video alignment: 4\n(3) physical/common-sense consistency: 2\n<|im_end|>"))
    cs.append(dict(name="missing labels", text="(1) visual quality: 4\nno more"))
    cs.append(dict(name="label, no digit", text="visual quality: good\ntext-to-video alignment:"))
    cs.append(dict(name="special token before the list", text="<|im_start|>x<|im_end|>\n(1) Visual Quality:\t2"))
    # ARABIC-INDIC DIGIT THREE (D9 A3) as two byte tokens: the index is the second one
    cs.append(dict(name="digit split over byte tokens", text="visual quality: ", append_ids=[vocab["Ù"], vocab["£"]]))
    # the digit and a following byte in one prefix: D9 A3 + a lone continuation byte
    cs.append(dict(name="digit then invalid byte", text="visual quality: ", append_ids=[vocab["Ù"], vocab["£"], vocab["£"]]))
    json.dump(cs, open(out, "w"))
    print(f"{len(cs)} cases")


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return a == b or abs(a - b) <= 1e-15 * max(1.0, abs(a))


def check(tokjson, cjsonl):
    _, raw = load(tokjson)
    bad = n = 0
    found = [0, 0, 0]
    for line in open(cjsonl):
        o = json.loads(line)
        ref = soft(raw, o["ids"])
        n += 1
        for d in range(3):
            ok = (ref[d][0] == o["index"][d] and close(ref[d][1], o["normed"][d]) and close(ref[d][2], o["expected"][d]))
            found[d] += ref[d][0] >= 0
            if not ok or not o["name"].endswith(tuple("0123456789")):
                print(("ok   " if ok else "FAIL ") + f"{o['name']} dim {d}: C idx {o['index'][d]} normed {o['normed'][d]} "
                      f"expected {o['expected'][d]} | Python {ref[d]}")
            bad += not ok
    print(f"{n} cases, {3 * n - bad}/{3 * n} dimensions agree (indices found by the reference: {found})")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "cases":
        sys.exit(cases(sys.argv[2], sys.argv[3], sys.argv[4:]))
    if len(sys.argv) == 4 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3]))
    sys.exit(__doc__)
