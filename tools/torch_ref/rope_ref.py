#!/usr/bin/env python3
"""Independent reference for the M-RoPE position ids of Qwen2.5-VL (docs/qwen2.5-vl.md §5.3-§5.4),
written from the semantics of transformers 4.53.2 `Qwen2_5_VLModel.get_rope_index` and the
default rope init (plain PyTorch; no transformers needed).

  rope_ref.py --cases OUT [--seed N] [--count K]
      random id sequences with 0-3 videos (random grids, spg in {0, 0.5, 1, 1.1085159, 2, 2.7})
      and their positions, in a line format tests/test_rope.c reads (--cases mode), plus the
      inv_freq tables torch builds for a few (head_dim, theta) pairs.

As a module: get_rope_index(ids, grids, cfg) and inv_freq(dim, theta).

4.52+ semantics: second_per_grid_t is converted to the int64 dtype of the arange before it is
multiplied (PR #37597), i.e. truncated: spg 1.1085 gives tidx 2t, spg 0.5 gives 0.
"""
import argparse
import random
import struct

import torch

VISION_START, IMAGE_PAD, VIDEO_PAD = 151652, 151655, 151656


def inv_freq(dim, theta):
    """torch: 1 / (theta ** (arange(0, dim, 2, int64).float() / dim)), all float32."""
    return 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))


def get_rope_index(ids, grids, merge=2, tokens_per_second=2,
                   vision_start=VISION_START, video_pad=VIDEO_PAD, image_pad=IMAGE_PAD):
    """ids: list of ints (one unpadded sequence); grids: [(t, h, w, spg)] of the videos in
    order. Returns (positions LongTensor [3, n], rope_delta int)."""
    n = len(ids)
    if not grids:
        return torch.arange(n).view(1, -1).expand(3, -1).clone(), 0
    ids_t = torch.tensor(ids, dtype=torch.long)
    starts = torch.argwhere(ids_t == vision_start).squeeze(1)
    starts = starts[starts + 1 < n]
    follow = ids_t[starts + 1]
    n_videos = int((follow == video_pad).sum())
    if int((follow == image_pad).sum()):
        raise ValueError("images are not handled by this reference")
    blocks, st, vi = [], 0, 0
    for _ in range(n_videos):
        ed = ids.index(video_pad, st)
        t, h, w, spg = grids[vi]
        vi += 1
        gt, gh, gw = t, h // merge, w // merge
        text_len = ed - st
        st_idx = int(blocks[-1].max()) + 1 if blocks else 0
        blocks.append(torch.arange(text_len).view(1, -1).expand(3, -1) + st_idx)
        rng = torch.arange(gt).view(-1, 1)
        expanded = rng.expand(-1, gh * gw)
        # spg arrives as a float32 tensor element; as_tensor(..., dtype=int64) truncates it.
        spg_t = torch.as_tensor(torch.tensor(spg, dtype=torch.float32), dtype=rng.dtype)
        t_index = (expanded * spg_t * tokens_per_second).long().flatten()
        h_index = torch.arange(gh).view(1, -1, 1).expand(gt, -1, gw).flatten()
        w_index = torch.arange(gw).view(1, 1, -1).expand(gt, gh, -1).flatten()
        blocks.append(torch.stack([t_index, h_index, w_index]) + text_len + st_idx)
        st = ed + gt * gh * gw
    if st < n:
        st_idx = int(blocks[-1].max()) + 1 if blocks else 0
        blocks.append(torch.arange(n - st).view(1, -1).expand(3, -1) + st_idx)
    pos = torch.cat(blocks, dim=1).reshape(3, -1)
    assert pos.shape[1] == n, "pad count does not match the grids"
    return pos, int(pos.max()) + 1 - n


def random_case(rng):
    spgs = [0.0, 0.5, 1.0, 1.1085159, 2.0, 2.7]
    ids, grids = [], []
    for _ in range(rng.randint(0, 3)):
        ids += [rng.randint(0, 151000) for _ in range(rng.randint(0, 6))]
        t, h, w = rng.randint(1, 4), 2 * rng.randint(1, 6), 2 * rng.randint(1, 6)
        grids.append((t, h, w, rng.choice(spgs)))
        ids += [VISION_START] + [VIDEO_PAD] * (t * (h // 2) * (w // 2)) + [151653]
    ids += [rng.randint(0, 151000) for _ in range(rng.randint(1, 6))]
    return ids, grids


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=200)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    with open(a.cases, "w") as f:
        for dim, theta in ((128, 1e6), (16, 1e6), (80, 10000.0), (64, 1e6)):
            bits = [struct.unpack("<I", struct.pack("<f", v))[0] for v in inv_freq(dim, theta).tolist()]
            f.write("inv %d %r %s\n" % (dim, theta, " ".join("%08x" % b for b in bits)))
        for _ in range(a.count):
            ids, grids = random_case(rng)
            pos, delta = get_rope_index(ids, grids)
            f.write("case %d %d\n" % (len(ids), len(grids)))
            for g in grids:
                f.write("grid %d %d %d %.9g\n" % g)
            f.write("ids %s\n" % " ".join(map(str, ids)))
            for axis in range(3):
                f.write("pos %s\n" % " ".join(map(str, pos[axis].tolist())))
            f.write("delta %d\n" % delta)


if __name__ == "__main__":
    main()
