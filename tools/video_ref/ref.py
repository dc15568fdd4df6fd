#!/usr/bin/python3
"""Reference video preparation for vs2's identity test (run with Debian's /usr/bin/python3).

Prepares each input the way VideoScore2's stack does: qwen-vl-utils ~0.0.10 with the
torchvision reader (torchvision.io.read_video on PyAV), its frame count / linspace / smart_resize
rules and torchvision's anti-aliased bicubic resize, then the transformers 4.53.2 Qwen2-VL video
processor's fused rescale+normalise and patch layout. Image inputs follow qwen-vl-utils'
fetch_image (PIL). Written from the documented semantics (docs/video.md), not copied.

usage: ref.py OUTDIR INPUT [INPUT...]      (one input = a video, an image, a directory, or
                                           several images joined by spaces in one argument)
writes OUTDIR/NAME.json (plan), NAME.rgb (selected frames as decoded, uint8 n x H x W x 3,
when all have one size), NAME.pv (pixel_values_videos, float32 rows x 1176), NAME.time (s).
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF

FACTOR = 28
VIDEO_MIN_PIXELS, VIDEO_MAX_PIXELS, VIDEO_TOTAL_PIXELS = 128 * 28 * 28, 768 * 28 * 28, 90316800
IMAGE_MIN_PIXELS, IMAGE_MAX_PIXELS = 4 * 28 * 28, 16384 * 28 * 28
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def by_factor(x, f, how):
    return {"round": round, "floor": math.floor, "ceil": math.ceil}[how](x / f) * f


def smart_resize(h, w, min_p, max_p):
    if max(h, w) / min(h, w) > 200:
        raise ValueError(f"aspect ratio {max(h, w) / min(h, w)} above 200")
    hb, wb = max(FACTOR, by_factor(h, FACTOR, "round")), max(FACTOR, by_factor(w, FACTOR, "round"))
    if hb * wb > max_p:
        beta = math.sqrt(h * w / max_p)
        hb = max(FACTOR, by_factor(h / beta, FACTOR, "floor"))
        wb = max(FACTOR, by_factor(w / beta, FACTOR, "floor"))
    elif hb * wb < min_p:
        beta = math.sqrt(min_p / (h * w))
        hb, wb = by_factor(h * beta, FACTOR, "ceil"), by_factor(w * beta, FACTOR, "ceil")
    return hb, wb


def n_frames(total, video_fps, fps=2.0):
    lo = by_factor(4, 2, "ceil")
    hi = by_factor(min(768, total), 2, "floor")
    n = total / video_fps * fps
    n = by_factor(min(min(max(n, lo), hi), total), 2, "floor")
    if not 2 <= n <= total:
        raise ValueError(f"nframes {n} outside [2, {total}]")
    return n


def load_video(path):
    frames, _, info = torchvision.io.read_video(path, start_pts=0.0, end_pts=None, pts_unit="sec",
                                                output_format="TCHW")
    total, vfps = frames.size(0), info["video_fps"]
    n = n_frames(total, vfps)
    idx = torch.linspace(0, total - 1, n).round().long()
    sample_fps = n / max(total, 1e-6) * vfps
    frames = frames[idx]
    rgb = frames.permute(0, 2, 3, 1).contiguous().numpy()
    _, _, h, w = frames.shape
    max_p = max(min(VIDEO_MAX_PIXELS, VIDEO_TOTAL_PIXELS / n * 2), int(VIDEO_MIN_PIXELS * 1.05))
    rh, rw = smart_resize(h, w, VIDEO_MIN_PIXELS, max_p)
    resized = TF.resize(frames, [rh, rw], interpolation=InterpolationMode.BICUBIC, antialias=True).float()
    plan = dict(kind="video", total_frames=total, video_fps=vfps, indices=idx.tolist(), sample_fps=sample_fps,
                src_width=w, src_height=h)
    return plan, rgb, resized


def pil_rgb(path):
    img = Image.open(path)
    if img.mode == "RGBA":
        white = Image.new("RGB", img.size, (255, 255, 255))
        white.paste(img, mask=img.split()[3])
        return white
    return img.convert("RGB")


def load_images(paths, fps=2.0):
    rgbs, frames, size = [], [], None
    for p in paths:
        img = pil_rgb(p)
        w, h = img.size
        rh, rw = smart_resize(h, w, IMAGE_MIN_PIXELS, IMAGE_MAX_PIXELS)
        size = size or (h, w)
        rgbs.append(np.asarray(img))
        frames.append(np.asarray(img.resize((rw, rh))))
    n = len(frames)
    if n % 2:
        frames.append(frames[-1])
        rgbs.append(rgbs[-1])
    resized = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float()
    same = all(r.shape == rgbs[0].shape for r in rgbs)
    plan = dict(kind="images", total_frames=n, video_fps=fps, indices=[min(i, n - 1) for i in range(len(frames))],
                sample_fps=fps, src_width=size[1], src_height=size[0])
    return plan, (np.stack(rgbs) if same else None), resized


def processor(video, fps_passed=2.0):
    """transformers 4.53.2 Qwen2VLVideoProcessor on one (T, C, H, W) float video."""
    rescale = 1 / 255
    mean = torch.tensor(CLIP_MEAN) * (1.0 / rescale)
    std = torch.tensor(CLIP_STD) * (1.0 / rescale)
    x = TF.normalize(video.to(torch.float32), mean.tolist(), std.tolist())
    if x.shape[0] % 2:
        x = torch.cat([x, x[-1:]], 0)
    t, c, h, w = x.shape
    gt, gh, gw = t // 2, h // 14, w // 14
    x = x.reshape(1, gt, 2, c, gh // 2, 2, 14, gw // 2, 2, 14)
    x = x.permute(0, 1, 4, 7, 5, 8, 3, 2, 6, 9)
    pv = x.reshape(gt * gh * gw, c * 2 * 14 * 14)
    return pv, [gt, gh, gw], 2 / fps_passed


def run(outdir, spec):
    parts = spec.split()
    name = os.path.basename(parts[0].rstrip("/")) + ("_list" if len(parts) > 1 else "")
    t0 = time.perf_counter()
    if len(parts) > 1:
        plan, rgb, resized = load_images(parts)
    elif os.path.isdir(parts[0]):
        files = sorted(os.path.join(parts[0], f) for f in os.listdir(parts[0])
                       if f.lower().endswith(IMAGE_EXT) and not f.startswith("."))
        plan, rgb, resized = load_images(files)
    elif parts[0].lower().endswith(IMAGE_EXT):
        plan, rgb, resized = load_images(parts)
    else:
        plan, rgb, resized = load_video(parts[0])
    pv, grid, spg = processor(resized)
    elapsed = time.perf_counter() - t0
    plan.update(height=int(resized.shape[2]), width=int(resized.shape[3]), grid_thw=grid,
                video_tokens=grid[0] * grid[1] * grid[2] // 4, second_per_grid_t=spg, nframes=len(plan["indices"]))
    with open(os.path.join(outdir, name + ".json"), "w") as f:
        json.dump(plan, f)
    if rgb is not None:
        rgb.astype(np.uint8).tofile(os.path.join(outdir, name + ".rgb"))
    pv.numpy().astype("<f4").tofile(os.path.join(outdir, name + ".pv"))
    with open(os.path.join(outdir, name + ".time"), "w") as f:
        f.write(f"{elapsed:.6f}\n")
    return name


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    torch.set_num_threads(int(os.environ.get("VS2_REF_THREADS", "1")))
    os.makedirs(sys.argv[1], exist_ok=True)
    for spec in sys.argv[2:]:
        print(run(sys.argv[1], spec), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
