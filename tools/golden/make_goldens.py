#!/usr/bin/env python3
"""Golden files from the real upstream code: Hugging Face transformers v4.53.2 and qwen-vl-utils.

Run by hand (never in CI), on the CPU, with Debian 12's python3-torch 1.13.1:

  /usr/bin/python3 tools/golden/make_goldens.py --transformers T/src --qwen-vl-utils Q/src \
      --tokenizer-dir build/test-tmp/tokref --spec tests/data/videoscore2/templates.md \
      --answers tests/data/videoscore2/vs2_bench__released_model_normed_soft__499items.json \
      --out tests/golden [--work DIR] [--only CASE]

T is a source snapshot of transformers at v4.53.2 (commit 37f8b0b5...), Q one of the QwenLM
Qwen2.5-VL repository's qwen-vl-utils directory; both are kept outside this repository and only
put on sys.path (tools/golden/upstream_shims.py lists the import shims Debian's torch needs).

For each case in CASES it writes the checkpoint with tools/make_tiny_checkpoint.py (the test
writes the same one with the same arguments), a clip with ffmpeg (committed), and then runs:
  qwen-vl-utils process_vision_info -> Qwen2_5_VLProcessor (slow Qwen2Tokenizer + Qwen2-VL video
  processor) -> Qwen2_5_VLForConditionalGeneration (eager attention, fp32) forward with hooks,
  get_rope_index, generate() greedy 64 tokens with repetition penalty 1.0 and the
  generation_config's; and for the teacher-forced case the processed scores as generate
  (do_sample=True, temperature=0.7, output_scores=True) gives them and the soft scores by the
  VideoScore2 release inference script's rules.
Outputs: tests/golden/<case>/*.bin (little-endian) and tests/golden/manifest.json.
"""
import argparse
import hashlib
import json
import math
import os
import re
import shutil
import string
import struct
import subprocess
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import upstream_shims  # noqa: E402

TRANSFORMERS_TAG = "v4.53.2"
TRANSFORMERS_COMMIT = "37f8b0b53512e6aae0cfd15746c133c101783178"
MAX_DENSE = 65536      # stages larger than this many floats are stored as row slices + checksums
N_LOGIT_COLS = 160     # logits: this many vocabulary columns at every position + row checksums
GREEDY_TOKENS = 64

# Checkpoints: name -> make_tiny_checkpoint.py arguments (the tokenizer dir is added).
CKPTS = {
    "tiny_bf16": ["--layout", "hub", "--names", "hub", "--dtype", "bf16", "--seed", "21"],
    "tiny_f32": ["--layout", "nested", "--names", "new", "--dtype", "f32", "--seed", "22"],
    "sharp_bf16": ["--layout", "hub", "--dtype", "bf16", "--seed", "23", "--sharpen", "16",
                   "--sharpen-vision", "256", "--patch-embed-down", "64"],
    "sharp_f32": ["--layout", "nested", "--names", "new", "--dtype", "f32", "--seed", "24",
                  "--sharpen", "16", "--sharpen-vision", "256", "--patch-embed-down", "64"],
    # The real 7B head geometry at small depth: head_dim 128, mrope_section [16,24,24],
    # 7 query heads per KV head, vision head_dim 80.
    "geom7b": ["--preset", "geom7b", "--dtype", "bf16", "--seed", "25", "--sharpen", "16",
               "--sharpen-vision", "64"],
}

# Clips: name -> (width, height, frames, fps); testsrc2 pattern, x264 (committed).
CLIPS = {
    "a": (140, 84, 16, 8),     # no resize; grid 2x6x10 -> merged 3x5 (windows 4x4 do not divide)
    "b": (168, 224, 3, 6),     # 3 frames -> 2 sampled, grid 1x16x12 -> merged 8x6
    "c": (252, 196, 30, 10),   # grid 3x14x18 -> merged 7x9
    "d": (320, 240, 20, 10),   # resized under max_pixels to 196x140: grid 2x10x14 -> merged 5x7
    "e": (112, 140, 8, 4),     # grid 2x10x8 -> merged 5x4
}

# Cases: checkpoint, clip, template, video budgets (qwen-vl-utils ele / vs2 --min/max-pixels).
SMALL = {"min_pixels": 3136, "max_pixels": 28 * 28 * 64}
CASES = {
    "tiny_bf16_a": dict(ckpt="tiny_bf16", clip="a", tmpl="eval", prompt="a red fox jumps over a lazy dog", **SMALL),
    "tiny_f32_b": dict(ckpt="tiny_f32", clip="b", tmpl="inf", prompt="waves on a beach at sunset", **SMALL),
    "sharp_bf16_c": dict(ckpt="sharp_bf16", clip="c", tmpl="eval", prompt="a cat playing the piano", **SMALL),
    "sharp_f32_d": dict(ckpt="sharp_f32", clip="d", tmpl="inf", prompt="traffic at night, $5 & \"quotes\"",
                        min_pixels=3136, max_pixels=28 * 28 * 40),
    "geom7b_e": dict(ckpt="geom7b", clip="e", tmpl="eval", prompt="a drone shot over snowy mountains", **SMALL),
    # Stops on an end token: tiny_bf16_a with the 9th greedy token added to the eos ids.
    "eos_a": dict(ckpt="tiny_bf16", clip="a", tmpl="eval", prompt="a red fox jumps over a lazy dog",
                  eos_from_step=8, **SMALL),
    # Teacher forcing with a published VideoScore2 answer (soft scores).
    "answer_c": dict(ckpt="sharp_bf16", clip="c", tmpl="eval", answer_item=358, **SMALL),
}
SYSTEM = "You are a helpful assistant."


# ---------------------------------------------------------------------------------------------
def sh(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def make_checkpoint(name, work, tokdir):
    out = os.path.join(work, "ckpt", name)
    sh([sys.executable, os.path.join(ROOT, "tools", "make_tiny_checkpoint.py"), "--out", out,
        "--tokenizer-dir", tokdir] + CKPTS[name])
    return out


def make_clip(name, out_dir):
    w, h, n, fps = CLIPS[name]
    path = os.path.join(out_dir, f"clip_{name}.mp4")
    if not os.path.exists(path):
        sh(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
            f"testsrc2=size={w}x{h}:rate={fps}", "-frames:v", str(n), "-pix_fmt", "yuv420p",
            "-c:v", "libx264", "-preset", "veryslow", "-crf", "18", "-bf", "2", path])
    return path


def read_safetensors(path):
    """name -> fp32 tensor (bf16/f16/f32), with a plain header reader."""
    import torch
    dt = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}
    with open(path, "rb") as f:
        data = f.read()
    (hl,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + hl])
    base, out = 8 + hl, {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        b, e = h["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + b:base + e]), dtype=dt[h["dtype"]])
        out[name] = t.reshape(h["shape"]).float()
    return out


def verify_weights(ckdir):
    """The bytes we load are the generator's: crc32 of every tensor against tensors.json."""
    man = json.load(open(os.path.join(ckdir, "tensors.json")))
    for row in man["tensors"]:
        if row["crc32"] is None:
            continue
        with open(os.path.join(ckdir, row["file"]), "rb") as f:
            f.seek(row["offset"])
            assert zlib.crc32(f.read(row["nbytes"])) == row["crc32"], row["name"]


def load_model(ckdir):
    import torch
    from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLConfig
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLForConditionalGeneration
    from transformers.generation import GenerationConfig
    cfg = json.load(open(os.path.join(ckdir, "config.json")))
    config = Qwen2_5_VLConfig(**cfg)
    for c in (config, config.vision_config, config.text_config):
        c._attn_implementation = "eager"
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(config).float().eval()
    verify_weights(ckdir)
    sd = {}
    for n in sorted(os.listdir(ckdir)):
        if n.endswith(".safetensors"):
            sd.update(read_safetensors(os.path.join(ckdir, n)))
    mapped = {}
    for k, v in sd.items():  # the model's own hub-name conversion table
        for pat, rep in model._checkpoint_conversion_mapping.items():
            k2 = re.sub(pat, rep, k)
            if k2 != k:
                k = k2
                break
        mapped[k] = v
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    allowed = {"lm_head.weight"} if config.tie_word_embeddings else set()
    assert not unexpected and set(missing) <= allowed, (missing, unexpected)
    if config.tie_word_embeddings:
        model.tie_weights()
    gpath = os.path.join(ckdir, "generation_config.json")
    model.generation_config = GenerationConfig(**json.load(open(gpath))) if os.path.exists(gpath) \
        else GenerationConfig()
    return model, config


def slow_tokenizer(tokdir, work):
    """transformers' pure-Python Qwen2Tokenizer from the vocabulary and merges of tokenizer.json."""
    from transformers.models.qwen2.tokenization_qwen2 import Qwen2Tokenizer
    from transformers.tokenization_utils_base import AddedToken
    tj = json.load(open(os.path.join(tokdir, "tokenizer.json"), encoding="utf-8"))
    tc = json.load(open(os.path.join(tokdir, "tokenizer_config.json"), encoding="utf-8"))
    d = os.path.join(work, "slowtok")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(tj["model"]["vocab"], f, ensure_ascii=False)
    with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for m in tj["model"]["merges"]:
            f.write((" ".join(m) if isinstance(m, list) else m) + "\n")
    added = {int(k): AddedToken(v["content"], single_word=v["single_word"], lstrip=v["lstrip"],
                                rstrip=v["rstrip"], normalized=v["normalized"], special=v["special"])
             for k, v in tc["added_tokens_decoder"].items()}
    return Qwen2Tokenizer(os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt"),
                          errors="replace", unk_token=None, bos_token=None,
                          eos_token="<|im_end|>", pad_token="<|endoftext|>",
                          clean_up_tokenization_spaces=False, split_special_tokens=False,
                          added_tokens_decoder=added)


def spec_templates(spec):
    """T-EVAL and T-INF: the first two ```json string literals of the templates file."""
    text = open(spec, encoding="utf-8").read()
    lits = re.findall(r'```json\n(".*?")\n```', text, re.S)
    return {"eval": json.loads(lits[0]), "inf": json.loads(lits[1])}


# ---------------------------------------------------------------------------------------------
class Writer:
    """Little-endian binaries + manifest entries for one case."""

    def __init__(self, out, case):
        self.dir = os.path.join(out, case)
        os.makedirs(self.dir, exist_ok=True)
        self.entries = {}

    def raw(self, name, arr, dtype):
        import numpy as np
        a = np.ascontiguousarray(arr, dtype=dtype)
        fn = name + {"<f4": ".f32", "<i4": ".i32", "<f8": ".f64", "<i8": ".i64"}[dtype]
        a.astype(dtype).tofile(os.path.join(self.dir, fn))
        return {"file": os.path.basename(self.dir) + "/" + fn, "dtype": dtype, "shape": list(a.shape)}

    def stage(self, name, x, row_step=None):
        """A float stage [rows, cols]: dense when small, else every k-th row; always per-row
        float64 sums and sums of squares of the full rows (checksums)."""
        import numpy as np
        x = np.asarray(x, dtype=np.float64)
        x = x.reshape(x.shape[0], -1)
        e = {"shape": list(x.shape)}
        step = row_step or max(1, math.ceil(x.size / MAX_DENSE))
        rows = np.arange(0, x.shape[0], step)
        e["rows"] = self.raw(name + ".rows", rows, "<i4")
        e["values"] = self.raw(name, x[rows], "<f4")
        e["row_sum"] = self.raw(name + ".rowsum", x.sum(1), "<f8")
        e["row_sumsq"] = self.raw(name + ".rowsumsq", (x * x).sum(1), "<f8")
        self.entries[name] = e

    def logits(self, name, x, cols):
        import numpy as np
        x = np.asarray(x, dtype=np.float64)
        e = {"shape": list(x.shape)}
        e["cols"] = self.raw(name + ".cols", cols, "<i4")
        e["values"] = self.raw(name, x[:, cols], "<f4")
        e["row_sum"] = self.raw(name + ".rowsum", x.sum(1), "<f8")
        e["row_sumsq"] = self.raw(name + ".rowsumsq", (x * x).sum(1), "<f8")
        e["argmax"] = self.raw(name + ".argmax", x.argmax(1), "<i4")
        self.entries[name] = e

    def ints(self, name, x):
        import numpy as np
        x = np.asarray(x)
        self.entries[name] = self.raw(name, x.reshape(x.shape[0], -1) if x.ndim > 1 else x, "<i4")


# ---------------------------------------------------------------------------------------------
def build_inputs(case, c, clip, tok, templates, answers):
    import torch
    from qwen_vl_utils import process_vision_info
    from transformers.models.qwen2_5_vl.processing_qwen2_5_vl import Qwen2_5_VLProcessor
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor
    prompt = answers[c["answer_item"]]["prompt"] if "answer_item" in c else c["prompt"]
    user = string.Template(templates[c["tmpl"]]).substitute(t2v_prompt=prompt)
    # The Qwen2.5-VL chat template's rendering of one user turn [video, text] with the default
    # system prompt (the checkpoint's chat_template.json is not in these snapshots; this is the
    # string transformers' own Qwen2.5-VL docs give as its output).
    text = (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n"
            f"<|vision_start|><|video_pad|><|vision_end|>{user}<|im_end|>\n<|im_start|>assistant\n")
    ele = {"type": "video", "video": clip, "fps": 2.0, "min_pixels": c["min_pixels"],
           "max_pixels": c["max_pixels"]}
    messages = [{"role": "user", "content": [ele, {"type": "text", "text": user}]}]
    images, videos, vkw = process_vision_info(messages, return_video_kwargs=True)
    # The video processor as the Qwen2.5-VL-7B preprocessor_config.json configures it.
    proc = Qwen2_5_VLProcessor(image_processor=Qwen2VLImageProcessor(min_pixels=3136, max_pixels=12845056),
                               tokenizer=tok,
                               video_processor=Qwen2VLVideoProcessor(min_pixels=3136, max_pixels=12845056))
    inputs = proc(text=[text], images=images, videos=videos, fps=2.0, padding=True, return_tensors="pt")
    return prompt, user, text, inputs, vkw


def hooks(model):
    """Forward hooks: every vision block, the merger, every decoder layer, the final norm."""
    got, hs = {}, []
    vis = model.model.visual
    lm = model.model.language_model

    def put(name):
        def f(mod, inp, out):
            got[name] = (out[0] if isinstance(out, tuple) else out).detach().clone()
        return f
    hs.append(vis.patch_embed.register_forward_hook(put("vision.patch_embed")))
    for i, b in enumerate(vis.blocks):
        hs.append(b.register_forward_hook(put(f"vision.block.{i}")))
    hs.append(vis.merger.register_forward_hook(put("vision.merger")))
    # The embeddings with the video rows spliced in: the input of the first decoder layer.
    hs.append(lm.layers[0].register_forward_pre_hook(
        lambda mod, args: got.__setitem__("llm.embed", args[0].detach().clone())))
    for i, l in enumerate(lm.layers):
        hs.append(l.register_forward_hook(put(f"llm.layer.{i}")))
    hs.append(lm.norm.register_forward_hook(put("llm.norm")))
    return got, hs


def soft_scores(tok, gen_ids, scores):
    """The VideoScore2 release inference script's soft scores (docs/videoscore2-reference.md §2.7): first
    match of the optional "(k) "/newline prefix + label, first digit after it, the smallest
    prefix of generated ids whose decode equals the text up to that digit; log_softmax of the
    processed scores there; normed s*·p(s*)/P and expected Σ s·p_s/P over digit tokens 1..5."""
    import torch
    labels = ["visual quality:", "text-to-video alignment:", "physical/common-sense consistency:"]
    hard = re.search(r"visual quality:\s*(\d+).*?text-to-video alignment:\s*(\d+).*?"
                     r"physical/common-sense consistency:\s*(\d+)",
                     tok.decode(gen_ids, skip_special_tokens=True, clean_up_tokenization_spaces=False),
                     re.S | re.I)
    s = tok.decode(gen_ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
    digit_ids = [tok.convert_tokens_to_ids(str(d)) for d in range(1, 6)]
    prefixes = [tok.decode(gen_ids[:i + 1], skip_special_tokens=False,
                           clean_up_tokenization_spaces=False) for i in range(len(gen_ids))]
    out = []
    for lab in labels:
        idx = -1
        m = re.search(r"(?:\(\d+\)\s*|\n\s*)?" + re.escape(lab), s, re.I)
        if m:
            d = re.search(r"[0-9]", s[m.end():])
            if d:
                target = s[:m.end() + d.start() + 1]
                idx = next((i for i, p in enumerate(prefixes) if p == target), -1)
        if hard is None or idx < 0:
            out.append({"index": idx, "normed": None, "expected": None, "p": None})
            continue
        lp = torch.log_softmax(scores[idx].double(), dim=-1)
        p = [math.exp(lp[t].item()) for t in digit_ids]
        P = sum(p)
        best = max(range(5), key=lambda k: (p[k], -k))
        normed = (best + 1) * (p[best] / P) if P > 0 else 0.0
        expected = sum((k + 1) * p[k] for k in range(5)) / P if P > 0 else None
        out.append({"index": idx, "normed": normed, "expected": expected, "p": p})
    return out, ([int(g) for g in hard.groups()] if hard else None)


def processed_scores(model, gc, input_ids, logits_all, n_prompt, n_gen):
    """Per generated step k: transformers' own logits processors of generate() applied to the
    logits of position n_prompt+k-1 given the ids so far (what output_scores records)."""
    import torch
    from transformers.generation import LogitsProcessorList
    procs = model._get_logits_processor(generation_config=gc, input_ids_seq_length=n_prompt,
                                        encoder_input_ids=input_ids[:, :n_prompt],
                                        prefix_allowed_tokens_fn=None,
                                        logits_processor=LogitsProcessorList(), device="cpu",
                                        model_kwargs={})
    out = []
    for k in range(n_gen):
        ids = input_ids[:, :n_prompt + k]
        out.append(procs(ids, logits_all[:, n_prompt + k - 1, :].clone())[0])
    return out, [type(p).__name__ for p in procs]


def run_case(name, c, args, tok, templates, answers, ckdirs, manifest):
    import numpy as np
    import torch
    from transformers.generation import GenerationConfig
    print(f"== {name}", flush=True)
    ck = ckdirs[c["ckpt"]]
    clip = make_clip(c["clip"], os.path.join(args.out, "clips"))
    model, config = load_model(ck)
    prompt, user, text, inputs, vkw = build_inputs(name, c, clip, tok, templates, answers)
    ids = inputs["input_ids"]
    w = Writer(args.out, name)
    entry = {"checkpoint": c["ckpt"], "clip": "clips/" + os.path.basename(clip), "template": c["tmpl"],
             "prompt": prompt, "min_pixels": c["min_pixels"], "max_pixels": c["max_pixels"],
             "fps": 2.0, "qwen_vl_utils_sample_fps": vkw["fps"][0],
             "video_grid_thw": inputs["video_grid_thw"][0].tolist(),
             "second_per_grid_ts": inputs["second_per_grid_ts"][0].item() if "second_per_grid_ts" in inputs
             else None, "n_prompt": ids.shape[1]}
    w.ints("input_ids", ids[0].numpy())
    pv = inputs["pixel_values_videos"].numpy()
    # Dense pixels once per clip and budget; a later case with the same input keeps every k-th
    # row and the checksums (the 20 MB budget).
    seen = any(e["clip"] == entry["clip"] and e["min_pixels"] == c["min_pixels"] and
               e["max_pixels"] == c["max_pixels"] for k, e in manifest["cases"].items() if k != name)
    w.stage("pixel_values", pv, row_step=None if seen else 1)
    thw = inputs["video_grid_thw"]
    spg = inputs.get("second_per_grid_ts")
    mask = inputs["attention_mask"]
    pos, delta = model.model.get_rope_index(ids, None, thw, spg, mask)
    widx, _ = model.model.visual.get_window_index(thw)
    w.ints("window_index", widx.numpy())
    w.ints("positions", pos[:, 0, :].numpy())
    entry["rope_delta"] = int(delta.reshape(-1)[0])

    answer_ids = None
    if "answer_item" in c:
        ans = answers[c["answer_item"]]["output"]
        with open(os.path.join(args.out, name, "answer.txt"), "w", encoding="utf-8") as f:
            f.write(ans)
        answer_ids = tok(ans, add_special_tokens=False)["input_ids"]
        entry["answer_file"] = name + "/answer.txt"
        entry["answer_source"] = {"item": c["answer_item"], "video_name": answers[c["answer_item"]]["video_name"]}
        w.ints("answer_ids", np.array(answer_ids))

    # Forward over the prompt (and the forced answer), eager fp32, with hooks.
    got, hs = hooks(model)
    full = ids if answer_ids is None else torch.cat([ids, torch.tensor([answer_ids])], 1)
    with torch.no_grad():
        out = model(input_ids=full, attention_mask=torch.ones_like(full),
                    pixel_values_videos=inputs["pixel_values_videos"], video_grid_thw=thw,
                    second_per_grid_ts=spg, use_cache=False)
        vis_out = model.model.get_video_features(inputs["pixel_values_videos"], thw)
    for h in hs:
        h.remove()
    n = ids.shape[1]
    vstages = [k for k in got if k.startswith("vision.")]
    for k in vstages:
        w.stage(k, got[k].numpy())
    w.stage("vision.out", torch.cat(vis_out, 0).numpy())
    for k in [k for k in got if k.startswith("llm.")]:
        w.stage(k, got[k][0, :n].numpy())
    logits = out.logits.float()
    rng = np.random.default_rng(7)
    cols = sorted(set(range(16, 21)) | set(range(151643, 151657)) |
                  set(rng.choice(logits.shape[-1], N_LOGIT_COLS, replace=False).tolist()))
    w.logits("logits", logits[0, :n].numpy(), np.array(cols))
    entry["stages"] = [k for k in w.entries if k not in ("input_ids", "positions", "answer_ids", "window_index")]

    gc0 = model.generation_config
    entry["generation_config"] = {"eos_token_id": gc0.eos_token_id, "repetition_penalty": gc0.repetition_penalty,
                                  "top_k": gc0.top_k, "top_p": gc0.top_p}
    if answer_ids is not None:
        entry["answer"] = {}
        for label, topk in (("t07_topk_off", 0), ("t07_topk_default", None)):
            gc = GenerationConfig(**gc0.to_dict())
            gc.do_sample, gc.temperature = True, 0.7
            if topk is not None:
                gc.top_k = topk
            sc, names = processed_scores(model, gc, full, logits, n, len(answer_ids))
            soft, hard = soft_scores(tok, answer_ids, sc)
            entry["answer"][label] = {"top_k": gc.top_k, "top_p": gc.top_p, "temperature": 0.7,
                                      "repetition_penalty": gc.repetition_penalty, "processors": names,
                                      "hard": hard, "soft": soft}
    else:
        entry["greedy"] = {}
        gen_in = {k: v for k, v in inputs.items()}
        eos = gc0.eos_token_id
        if "eos_from_step" in c:
            g1 = model.generate(**gen_in, max_new_tokens=GREEDY_TOKENS, do_sample=False,
                                repetition_penalty=1.0)[0, n:].tolist()
            extra = g1[c["eos_from_step"]]
            assert extra not in g1[:c["eos_from_step"]], "pick a step whose token is new"
            eos = list(eos) + [extra]
            entry["eos_token_id"] = eos
        for pen in sorted({1.0, gc0.repetition_penalty}):
            g = model.generate(**gen_in, max_new_tokens=GREEDY_TOKENS, do_sample=False, top_k=None,
                               top_p=None, temperature=None, repetition_penalty=pen, eos_token_id=eos)
            toks = g[0, n:].tolist()
            entry["greedy"][f"{pen:g}"] = toks
            print(f"   greedy rp={pen:g}: {len(toks)} tokens, last {toks[-3:]}", flush=True)
    entry["files"] = w.entries
    manifest["cases"][name] = entry


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--transformers", required=True, help="transformers v4.53.2 src/ directory")
    ap.add_argument("--qwen-vl-utils", required=True, help="qwen-vl-utils src/ directory")
    ap.add_argument("--tokenizer-dir", required=True, help="tokenizer.json + tokenizer_config.json")
    ap.add_argument("--spec", required=True, help="tests/data/videoscore2/templates.md (the T-EVAL/T-INF literals)")
    ap.add_argument("--answers", required=True, help="published VideoScore2 results (JSON list)")
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "golden"))
    ap.add_argument("--work", default="/tmp/vs2-golden-work")
    ap.add_argument("--only", action="append")
    ap.add_argument("--transformers-commit", default=TRANSFORMERS_COMMIT)
    ap.add_argument("--qwen-vl-utils-commit", default="unknown")
    a = ap.parse_args()
    os.environ.setdefault("FORCE_QWENVL_VIDEO_READER", "torchvision")
    upstream_shims.install(os.path.abspath(a.transformers))
    sys.path.insert(0, os.path.abspath(a.qwen_vl_utils))
    import numpy
    import torch
    import torchvision
    import transformers
    import qwen_vl_utils  # noqa: F401
    torch.set_num_threads(2)
    os.makedirs(os.path.join(a.out, "clips"), exist_ok=True)
    mpath = os.path.join(a.out, "manifest.json")
    manifest = json.load(open(mpath)) if a.only and os.path.exists(mpath) else {"cases": {}}
    qv = open(os.path.join(os.path.dirname(os.path.abspath(a.qwen_vl_utils)), "pyproject.toml")).read()
    manifest.update({
        "format": "little-endian binaries; stages: values = rows (listed) of [rows, cols], "
                  "row_sum/row_sumsq = float64 checksums of every full row",
        "transformers": {"version": transformers.__version__, "tag": TRANSFORMERS_TAG,
                         "commit": a.transformers_commit},
        "qwen_vl_utils": {"version": re.search(r'version = "([^"]+)"', qv).group(1),
                          "commit": a.qwen_vl_utils_commit, "video_reader": "torchvision"},
        "torch": torch.__version__, "torchvision": torchvision.__version__, "numpy": numpy.__version__,
        "python": sys.version.split()[0], "attention": "eager", "dtype": "float32",
        "checkpoints": {k: v for k, v in CKPTS.items()},
        "generator": "tools/golden/make_goldens.py"})
    tok = slow_tokenizer(a.tokenizer_dir, a.work)
    templates = spec_templates(a.spec)
    answers = json.load(open(a.answers, encoding="utf-8"))
    names = a.only or list(CASES)
    ckdirs = {ck: make_checkpoint(ck, a.work, a.tokenizer_dir) for ck in sorted({CASES[n]["ckpt"] for n in names})}
    for n in names:
        run_case(n, CASES[n], a, tok, templates, answers, ckdirs, manifest)
        with open(mpath, "w") as f:
            json.dump(manifest, f, indent=1)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(a.out) for f in fs)
    print(f"golden files: {total / 1e6:.1f} MB", flush=True)


if __name__ == "__main__":
    main()
