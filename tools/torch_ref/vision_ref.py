#!/usr/bin/python3
"""Independent PyTorch reference of the Qwen2.5-VL vision tower (docs/qwen2.5-vl.md §4).

Written from the transformers 4.53 semantics (Qwen2_5_VisionTransformerPretrainedModel), not
from the C code: torch's conv3d for the patch embedding, the padded window-index construction
with unique_consecutive, torch.split per segment, F.softmax, F.gelu. Needs only Debian's
python3-torch and numpy (no transformers, no safetensors package: a small reader is below).

Usage:
  vision_ref.py --ckpt DIR --out OUTDIR [--dtype float32|float64] [--seed S]
                --case NAME T H W [--case NAME T H W ...]
  vision_ref.py --ckpt DIR --scale-norms K
      multiply every vision RMSNorm weight of DIR by 2^K, in place and exactly (power of two),
      so that random tiny checkpoints (weights ~0.01-0.1) get attention scores of order 1-10
      instead of ~0: the softmax is then peaked and sensitive to rotary and segment errors.

For each case it writes, under OUTDIR (raw little-endian float32, row-major):
  NAME.pixels.f32             the input pixel values (T·H·W × C·tp·p·p), seeded random
  NAME.patch_embed.f32        patch embedding, processor order
  NAME.window_index.f32       window index (merged units), as floats
  NAME.block.<i>.f32          hidden states after block i, window order
  NAME.merger.f32             merger output, window order
  NAME.out.f32                final output, raster order
and a line "NAME T H W ROWS" in OUTDIR/cases.txt.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F


# ---- safetensors ----------------------------------------------------------------------------

def read_safetensors(path):
    """{name: float32 numpy array} for one safetensors file (F32, F16, BF16)."""
    with open(path, "rb") as f:
        blob = f.read()
    (hlen,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + hlen])
    base = 8 + hlen
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        b, e = meta["data_offsets"]
        raw = blob[base + b:base + e]
        dt = meta["dtype"]
        if dt == "F32":
            a = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        elif dt == "F16":
            a = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dt == "BF16":  # bf16 is the top half of an fp32: shift into place
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            continue
        out[name] = a.reshape(meta["shape"])
    return out


def shard_files(ckpt):
    idx = os.path.join(ckpt, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            return sorted(set(json.load(f)["weight_map"].values()))
    return ["model.safetensors"]


def scale_norms(ckpt, k):
    """Multiply the vision norm weights by 2**k in place (exact in F32/F16/BF16)."""
    n = 0
    for fn in shard_files(ckpt):
        path = os.path.join(ckpt, fn)
        with open(path, "r+b") as f:
            (hlen,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(hlen))
            for name, meta in header.items():
                if name == "__metadata__" or not name.endswith("weight"):
                    continue
                if not (".norm1." in name or ".norm2." in name or ".ln_q." in name) or "visual." not in name:
                    continue
                b, e = meta["data_offsets"]
                f.seek(8 + hlen + b)
                raw = f.read(e - b)
                dt = meta["dtype"]
                if dt == "F32":
                    a = (np.frombuffer(raw, dtype="<f4") * np.float32(2.0 ** k)).astype("<f4")
                elif dt == "F16":
                    a = (np.frombuffer(raw, dtype="<f2").astype(np.float32) * np.float32(2.0 ** k)).astype("<f2")
                else:  # BF16: scale the fp32 widening, keep the top half (exact for 2^k)
                    w = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
                    a = ((w * np.float32(2.0 ** k)).view(np.uint32) >> 16).astype("<u2")
                f.seek(8 + hlen + b)
                f.write(a.tobytes())
                n += 1
    return n


def load_vision_weights(ckpt):
    files = shard_files(ckpt)
    w = {}
    for fn in files:
        for name, a in read_safetensors(os.path.join(ckpt, fn)).items():
            if name.startswith("model.visual."):  # transformers >= 4.52 save names
                name = name[len("model."):]
            if name.startswith("visual."):
                w[name] = a
    return w


# ---- the model ------------------------------------------------------------------------------

class VisionRef:
    def __init__(self, ckpt, dtype):
        with open(os.path.join(ckpt, "config.json")) as f:
            cfg = json.load(f)["vision_config"]
        self.depth = cfg["depth"]
        self.dim = cfg["hidden_size"]
        self.heads = cfg["num_heads"]
        self.head_dim = self.dim // self.heads
        self.in_ch = cfg.get("in_chans", cfg.get("in_channels", 3))
        self.patch = cfg["patch_size"]
        self.tp = cfg.get("temporal_patch_size", 2)
        self.merge = cfg["spatial_merge_size"]
        self.window = cfg["window_size"]
        self.fullatt = set(cfg["fullatt_block_indexes"])
        self.dtype = dtype
        self.w = {k: torch.from_numpy(v.copy()).to(dtype) for k, v in load_vision_weights(ckpt).items()}
        rdim = self.head_dim // 2  # VisionRotaryEmbedding(head_dim // 2), theta 10000, float32
        self.inv_freq = 1.0 / (10000.0 ** (torch.arange(0, rdim, 2, dtype=torch.float) / rdim))

    def rot_pos_emb(self, t, h, w):
        m = self.merge
        hpos = torch.arange(h).unsqueeze(1).expand(-1, w)
        hpos = hpos.reshape(h // m, m, w // m, m).permute(0, 2, 1, 3).flatten()
        wpos = torch.arange(w).unsqueeze(0).expand(h, -1)
        wpos = wpos.reshape(h // m, m, w // m, m).permute(0, 2, 1, 3).flatten()
        pos = torch.stack([hpos, wpos], dim=-1).repeat(t, 1)
        table = torch.outer(torch.arange(max(h, w), dtype=torch.float), self.inv_freq)
        return table[pos].flatten(1)  # [N, head_dim/2]: h frequencies then w frequencies

    def window_index(self, t, h, w):
        vm = self.window // self.merge // self.patch
        lh, lw = h // self.merge, w // self.merge
        index = torch.arange(t * lh * lw).reshape(t, lh, lw)
        pad_h = vm - lh % vm
        pad_w = vm - lw % vm
        nh, nw = (lh + pad_h) // vm, (lw + pad_w) // vm
        padded = F.pad(index, (0, pad_w, 0, pad_h), "constant", -100)
        padded = padded.reshape(t, nh, vm, nw, vm).permute(0, 1, 3, 2, 4).reshape(t, nh * nw, vm, vm)
        seqlens = (padded != -100).sum([2, 3]).reshape(-1)
        flat = padded.reshape(-1)
        widx = flat[flat != -100]
        cu = [0] + (seqlens.cumsum(0) * self.merge * self.merge).tolist()
        cu = torch.unique_consecutive(torch.tensor(cu, dtype=torch.int64))
        return widx, cu

    def rmsnorm(self, x, wname):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.w[wname] * (x * torch.rsqrt(var + 1e-6))

    def lin(self, x, prefix, bias=True):
        return F.linear(x, self.w[prefix + ".weight"], self.w[prefix + ".bias"] if bias else None)

    @staticmethod
    def rotate_half(x):
        n = x.shape[-1] // 2
        return torch.cat((-x[..., n:], x[..., :n]), dim=-1)

    def attn(self, x, i, cu, cos, sin):
        p = "visual.blocks.%d.attn" % i
        S = x.shape[0]
        q, k, v = self.lin(x, p + ".qkv").reshape(S, 3, self.heads, self.head_dim).permute(1, 0, 2, 3).unbind(0)
        c, s = cos.unsqueeze(-2), sin.unsqueeze(-2)
        q = q * c + self.rotate_half(q) * s
        k = k * c + self.rotate_half(k) * s
        lengths = (cu[1:] - cu[:-1]).tolist()
        outs = []
        for qs, ks, vs in zip(torch.split(q, lengths, 0), torch.split(k, lengths, 0), torch.split(v, lengths, 0)):
            qh, kh, vh = qs.transpose(0, 1), ks.transpose(0, 1), vs.transpose(0, 1)  # [heads, L, hd]
            a = torch.matmul(qh, kh.transpose(1, 2)) * (self.head_dim ** -0.5)
            a = F.softmax(a, dim=-1)
            outs.append(torch.matmul(a, vh).transpose(0, 1))  # [L, heads, hd]
        o = torch.cat(outs, 0).reshape(S, -1)
        return self.lin(o, p + ".proj")

    def mlp(self, x, i):
        p = "visual.blocks.%d.mlp" % i
        return self.lin(F.silu(self.lin(x, p + ".gate_proj")) * self.lin(x, p + ".up_proj"), p + ".down_proj")

    def forward(self, pixels, t, h, w, dump):
        N = pixels.shape[0]
        unit = self.merge * self.merge
        x = pixels.to(self.dtype).view(-1, self.in_ch, self.tp, self.patch, self.patch)
        x = F.conv3d(x, self.w["visual.patch_embed.proj.weight"], stride=(self.tp, self.patch, self.patch))
        x = x.view(N, self.dim)
        dump("patch_embed", x)
        rot = self.rot_pos_emb(t, h, w)
        widx, cu_win = self.window_index(t, h, w)
        dump("window_index", widx.to(torch.float32).unsqueeze(1))
        x = x.reshape(N // unit, unit, -1)[widx].reshape(N, -1)
        rot = rot.reshape(N // unit, unit, -1)[widx].reshape(N, -1)
        emb = torch.cat((rot, rot), dim=-1)
        cos, sin = emb.cos().to(self.dtype), emb.sin().to(self.dtype)
        cu_full = F.pad(torch.tensor([h * w] * t, dtype=torch.int64).cumsum(0), (1, 0), value=0)
        for i in range(self.depth):
            cu = cu_full if i in self.fullatt else cu_win
            x = x + self.attn(self.rmsnorm(x, "visual.blocks.%d.norm1.weight" % i), i, cu, cos, sin)
            x = x + self.mlp(self.rmsnorm(x, "visual.blocks.%d.norm2.weight" % i), i)
            dump("block.%d" % i, x)
        y = self.rmsnorm(x, "visual.merger.ln_q.weight").view(-1, unit * self.dim)
        y = self.lin(F.gelu(self.lin(y, "visual.merger.mlp.0")), "visual.merger.mlp.2")
        dump("merger", y)
        y = y[torch.argsort(widx)]
        dump("out", y)
        return y


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--out")
    ap.add_argument("--scale-norms", type=int, metavar="K")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--case", nargs=4, action="append", metavar=("NAME", "T", "H", "W"))
    a = ap.parse_args()
    if a.scale_norms is not None:
        n = scale_norms(a.ckpt, a.scale_norms)
        print("scaled %d norm weights by 2^%d" % (n, a.scale_norms))
        return 0 if n else 1
    if not a.out or not a.case:
        ap.error("--out and at least one --case are needed")
    torch.set_num_threads(1)
    dtype = torch.float32 if a.dtype == "float32" else torch.float64
    model = VisionRef(a.ckpt, dtype)
    os.makedirs(a.out, exist_ok=True)
    cols = model.in_ch * model.tp * model.patch * model.patch
    lines = []
    for ci, (name, t, h, w) in enumerate(a.case):
        t, h, w = int(t), int(h), int(w)
        rng = np.random.RandomState(a.seed * 1000 + ci)
        # Normalised pixels of CLIP mean/std span roughly [-1.8, 2.2].
        pix = rng.uniform(-1.8, 2.2, size=(t * h * w, cols)).astype(np.float32)
        pix.tofile(os.path.join(a.out, name + ".pixels.f32"))

        def dump(stage, x):
            x.detach().to(torch.float32).contiguous().numpy().astype("<f4").tofile(
                os.path.join(a.out, "%s.%s.f32" % (name, stage)))

        with torch.no_grad():
            model.forward(torch.from_numpy(pix), t, h, w, dump)
        lines.append("%s %d %d %d %d\n" % (name, t, h, w, t * h * w))
    with open(os.path.join(a.out, "cases.txt"), "w") as f:
        f.writelines(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
