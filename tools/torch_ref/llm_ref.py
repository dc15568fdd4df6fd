#!/usr/bin/env python3
"""Independent fp32 reference for the Qwen2.5-VL language model (docs/qwen2.5-vl.md §5), written in
plain PyTorch from the semantics of transformers 4.53.2 (Qwen2_5_VLModel / Qwen2_5_VLTextModel
with attn_implementation="eager", torch_dtype=float32). No transformers needed.

  llm_ref.py --ckpt DIR --dir WORK
  llm_ref.py --sharpen SRC --out DST [--factor F]
      copy a (tiny) checkpoint with q_proj/k_proj weights and biases scaled by F (as F32, hub
      tensor names): the random tiny weights give nearly uniform attention, in which RoPE and
      masking details hardly show; scaled q/k make the softmax sharp so that they do.

Reads from WORK (written by `test_llm --ref-prepare`):
  ids.i32      int32 token ids
  video.f32    float32 video embeddings [n_video, hidden] (placed at the <|video_pad|> ids)
  meta.txt     "grid t h w spg" lines, one per video, and "n_logits K"
Writes to WORK:
  pos.i64      the M-RoPE positions [3, n] (int64), rope_delta.txt
  inv_freq.f32 the rotary inverse frequencies
  embed.f32, layer.<i>.f32, norm.f32   hidden states [n, hidden] after each stage
  logits.f32   [K, vocab] for the last K positions

Weights are read with a stdlib json+struct safetensors reader (bf16/f16/f32 widened to fp32),
in the hub or ≥4.52 ("model.language_model.*") naming.
"""
import argparse
import json
import os
import struct
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rope_ref  # noqa: E402


def canonical(name):
    if name.startswith("model.language_model."):
        return "model." + name[len("model.language_model."):]
    if name.startswith("model.visual."):
        return name[len("model."):]
    return name


def read_safetensors(path, want):
    """{canonical name: fp32 tensor} for the tensors of this file that want(name) accepts."""
    out = {}
    with open(path, "rb") as f:
        (hlen,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(hlen))
        base = 8 + hlen
        for name, info in header.items():
            if name == "__metadata__":
                continue
            canon = canonical(name)
            if not want(canon):
                continue
            b, e = info["data_offsets"]
            f.seek(base + b)
            raw = bytearray(f.read(e - b))
            dt = info["dtype"]
            if dt == "F32":
                t = torch.frombuffer(raw, dtype=torch.float32)
            elif dt == "F16":
                t = torch.frombuffer(raw, dtype=torch.float16).float()
            elif dt == "BF16":
                t = (torch.frombuffer(raw, dtype=torch.int16).to(torch.int32) << 16).view(torch.float32)
            else:
                raise ValueError("%s: dtype %s" % (name, dt))
            out[canon] = t.reshape(info["shape"]).clone()
    return out


def load(ckpt):
    with open(os.path.join(ckpt, "config.json")) as f:
        cfg = json.load(f)
    text = cfg.get("text_config") or cfg
    rope = text.get("rope_scaling") or cfg.get("rope_scaling")
    tie = cfg.get("tie_word_embeddings", text.get("tie_word_embeddings", False))
    c = dict(hidden=text["hidden_size"], layers=text["num_hidden_layers"],
             heads=text["num_attention_heads"], kv_heads=text["num_key_value_heads"],
             eps=text["rms_norm_eps"], theta=text["rope_theta"], section=rope["mrope_section"],
             tie=bool(tie), video_id=cfg.get("video_token_id") or text.get("video_token_id"),
             merge=cfg["vision_config"]["spatial_merge_size"],
             tps=cfg["vision_config"]["tokens_per_second"],
             vision_start=cfg.get("vision_start_token_id") or text.get("vision_start_token_id"))
    files = sorted(n for n in os.listdir(ckpt) if n.endswith(".safetensors"))
    w = {}
    for n in files:
        w.update(read_safetensors(os.path.join(ckpt, n),
                                  lambda k: k.startswith("model.") or k == "lm_head.weight"))
    return c, w


def rms_norm(x, weight, eps):
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def forward(c, w, ids, video, pos, n_logits):
    """Returns the list of (stage name, [n, hidden] tensor) and the logits of the last rows."""
    D, H, KV = c["hidden"], c["heads"], c["kv_heads"]
    hd = D // H
    n = len(ids)
    ids_t = torch.tensor(ids, dtype=torch.long)
    h = w["model.embed_tokens.weight"][ids_t]
    mask = (ids_t == c["video_id"]).unsqueeze(-1).expand_as(h)
    if video is not None:
        h = h.masked_scatter(mask, video)
    stages = [("embed", h.clone())]

    # Rotary: inv_freq as the default rope init; angles by an fp32 matmul over the 3 axes.
    inv = rope_ref.inv_freq(hd, c["theta"])
    inv_exp = inv[None, None, :, None].float().expand(3, 1, -1, 1)
    pos_exp = pos[:, None, None, :].float()
    freqs = (inv_exp @ pos_exp).transpose(2, 3)          # [3, 1, n, hd/2]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()                      # fp32 path: no bf16 rounding here
    section = list(c["section"]) * 2
    cos = torch.cat([m[i % 3] for i, m in enumerate(cos.split(section, dim=-1))], dim=-1).unsqueeze(1)
    sin = torch.cat([m[i % 3] for i, m in enumerate(sin.split(section, dim=-1))], dim=-1).unsqueeze(1)

    causal = torch.full((n, n), torch.finfo(torch.float32).min).triu(1)
    x = h.unsqueeze(0)
    for l in range(c["layers"]):
        p = "model.layers.%d." % l
        r = x
        y = rms_norm(x, w[p + "input_layernorm.weight"], c["eps"])
        q = F.linear(y, w[p + "self_attn.q_proj.weight"], w[p + "self_attn.q_proj.bias"])
        k = F.linear(y, w[p + "self_attn.k_proj.weight"], w[p + "self_attn.k_proj.bias"])
        v = F.linear(y, w[p + "self_attn.v_proj.weight"], w[p + "self_attn.v_proj.bias"])
        q = q.view(1, n, H, hd).transpose(1, 2)
        k = k.view(1, n, KV, hd).transpose(1, 2)
        v = v.view(1, n, KV, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        a = torch.matmul(q, k.transpose(2, 3)) * (hd ** -0.5) + causal
        a = torch.softmax(a, dim=-1, dtype=torch.float32)
        o = torch.matmul(a, v).transpose(1, 2).reshape(1, n, D)
        x = r + F.linear(o, w[p + "self_attn.o_proj.weight"])
        r = x
        y = rms_norm(x, w[p + "post_attention_layernorm.weight"], c["eps"])
        y = F.linear(F.silu(F.linear(y, w[p + "mlp.gate_proj.weight"])) * F.linear(y, w[p + "mlp.up_proj.weight"]),
                     w[p + "mlp.down_proj.weight"])
        x = r + y
        stages.append(("layer.%d" % l, x[0].clone()))
    x = rms_norm(x, w["model.norm.weight"], c["eps"])[0]
    stages.append(("norm", x.clone()))
    head = w["model.embed_tokens.weight"] if c["tie"] else w["lm_head.weight"]
    logits = F.linear(x[n - n_logits:], head) if n_logits else None
    return stages, logits


def sharpen(src, dst, factor):
    os.makedirs(dst, exist_ok=True)
    for n in os.listdir(dst):
        if n.endswith(".safetensors") or n.endswith(".json"):
            os.remove(os.path.join(dst, n))
    w = {}
    for n in sorted(os.listdir(src)):
        p = os.path.join(src, n)
        if n.endswith(".safetensors"):
            w.update(read_safetensors(p, lambda k: True))
        elif n.endswith(".json") and n not in ("model.safetensors.index.json", "tensors.json"):
            with open(p, "rb") as f, open(os.path.join(dst, n), "wb") as g:
                g.write(f.read())
    header, blobs, off = {}, [], 0
    for name in sorted(w):
        t = w[name].float().contiguous()
        if ".self_attn.q_proj." in name or ".self_attn.k_proj." in name:
            t = t * factor
        b = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(dst, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt")
    ap.add_argument("--dir")
    ap.add_argument("--sharpen")
    ap.add_argument("--out")
    ap.add_argument("--factor", type=float, default=16.0)
    a = ap.parse_args()
    if a.sharpen:
        sharpen(a.sharpen, a.out, a.factor)
        return
    if not a.ckpt or not a.dir:
        ap.error("--ckpt and --dir are required")
    torch.set_num_threads(2)
    c, w = load(a.ckpt)
    with open(os.path.join(a.dir, "ids.i32"), "rb") as f:
        raw = f.read()
    ids = list(struct.unpack("<%di" % (len(raw) // 4), raw))
    grids, n_logits = [], 0
    with open(os.path.join(a.dir, "meta.txt")) as f:
        for line in f:
            p = line.split()
            if p and p[0] == "grid":
                grids.append((int(p[1]), int(p[2]), int(p[3]), float(p[4])))
            elif p and p[0] == "n_logits":
                n_logits = int(p[1])
    video = None
    vpath = os.path.join(a.dir, "video.f32")
    if os.path.exists(vpath) and os.path.getsize(vpath):
        with open(vpath, "rb") as f:
            video = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(-1, c["hidden"])
    pos, delta = rope_ref.get_rope_index(ids, grids, merge=c["merge"], tokens_per_second=c["tps"],
                                         vision_start=c["vision_start"], video_pad=c["video_id"])
    stages, logits = forward(c, w, ids, video, pos, n_logits)

    def put(name, t):
        with open(os.path.join(a.dir, name), "wb") as f:
            f.write(t.contiguous().numpy().tobytes())

    put("pos.i64", pos.to(torch.int64))
    with open(os.path.join(a.dir, "rope_delta.txt"), "w") as f:
        f.write("%d\n" % delta)
    put("inv_freq.f32", rope_ref.inv_freq(c["hidden"] // c["heads"], c["theta"]))
    for name, t in stages:
        put(name + ".f32", t.float())
    if logits is not None:
        put("logits.f32", logits.float())
    print("llm_ref: n %d, video rows %d, rope_delta %d, %d stages, logits %s" %
          (len(ids), 0 if video is None else video.shape[0], delta, len(stages),
           None if logits is None else tuple(logits.shape)))


if __name__ == "__main__":
    main()
