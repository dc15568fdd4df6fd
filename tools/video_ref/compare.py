#!/usr/bin/python3
"""Compare `vs2 frames` with ref.py's outputs, input by input.

usage: compare.py VS2_BIN REFDIR WORKDIR LIST
LIST: one input per line (as written by tests/video/make_videos.sh), paths relative to its dir.
Exact: total_frames, video_fps, indices, sample_fps, sizes, grid, tokens, second_per_grid_t and
the decoded RGB frames, JPEG images included (vs2 decodes them with libjpeg as PIL does).
pixel_values: max |diff| <= 1e-5. A mismatch names the input, frame/element and values.
Prints one line per input and the maxima; exit status 1 on any failure.
"""
import json
import os
import subprocess
import sys

import numpy as np

TOL_PV = 1e-5


def first_diff(a, b, shape):
    flat = np.flatnonzero(a.reshape(-1) != b.reshape(-1))
    i = int(flat[0])
    return np.unravel_index(i, shape), a.reshape(-1)[i], b.reshape(-1)[i], len(flat)


def check(vs2, refdir, work, base, spec):
    parts = [os.path.join(base, p) for p in spec.split()]
    name = os.path.basename(spec.split()[0].rstrip("/")) + ("_list" if len(parts) > 1 else "")
    pv_path, rgb_path = os.path.join(work, name + ".pv"), os.path.join(work, name + ".rgb")
    ref = json.load(open(os.path.join(refdir, name + ".json")))
    has_rgb = os.path.exists(os.path.join(refdir, name + ".rgb"))
    cmd = [vs2, "frames", *parts, "--json", "--pixels", pv_path] + (["--rgb", rgb_path] if has_rgb else [])
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return name, [f"vs2 failed ({r.returncode}): {r.stderr.strip()}"], 0, 0.0
    got = json.loads(r.stdout)
    errs = []
    for k in ("total_frames", "video_fps", "indices", "sample_fps", "src_width", "src_height", "height", "width",
              "grid_thw", "video_tokens", "second_per_grid_t", "nframes"):
        if got[k] != ref[k]:
            errs.append(f"{k}: vs2 {got[k]} reference {ref[k]}")
    rgb_max = 0
    if has_rgb and not errs:
        a = np.fromfile(os.path.join(refdir, name + ".rgb"), np.uint8)
        b = np.fromfile(rgb_path, np.uint8)
        shape = (len(ref["indices"]), ref["src_height"], ref["src_width"], 3)
        if a.size != b.size:
            errs.append(f"rgb: {b.size} bytes, reference {a.size}")
        else:
            d = np.abs(a.astype(int) - b.astype(int))
            rgb_max = int(d.max()) if d.size else 0
            if rgb_max > 0:
                (f, y, x, c), va, vb, cnt = first_diff(a, b, shape)
                errs.append(f"rgb: {cnt} values differ, max {rgb_max}; first at frame {f} (source index "
                            f"{ref['indices'][f]}) y={y} x={x} c={c}: reference {va} vs2 {vb}")
    pv_max = 0.0
    if not errs:
        a = np.fromfile(os.path.join(refdir, name + ".pv"), "<f4")
        b = np.fromfile(pv_path, "<f4")
        if a.size != b.size:
            errs.append(f"pixel_values: {b.size} floats, reference {a.size}")
        else:
            d = np.abs(a.astype(np.float64) - b.astype(np.float64))
            pv_max = float(d.max()) if d.size else 0.0
            if pv_max > TOL_PV:
                i = int(np.argmax(d))
                row, col = divmod(i, 1176)
                errs.append(f"pixel_values: max |diff| {pv_max:.3g} at row {row} column {col}: "
                            f"reference {a[i]!r} vs2 {b[i]!r}")
    return name, errs, rgb_max, pv_max


def main():
    vs2, refdir, work, lst = sys.argv[1:5]
    base = os.path.dirname(os.path.abspath(lst))
    os.makedirs(work, exist_ok=True)
    fails, n, worst_rgb, worst_pv = 0, 0, 0, 0.0
    for spec in open(lst).read().splitlines():
        if not spec.strip():
            continue
        n += 1
        name, errs, rgb_max, pv_max = check(vs2, refdir, work, base, spec)
        worst_rgb, worst_pv = max(worst_rgb, rgb_max), max(worst_pv, pv_max)
        status = "ok  " if not errs else "FAIL"
        print(f"{status} {name}: rgb max diff {rgb_max}, pixel_values max diff {pv_max:.3g}")
        for e in errs:
            print(f"     {name}: {e}")
        fails += bool(errs)
    print(f"{n} inputs, {fails} failed; max RGB diff {worst_rgb}, max pixel_values diff {worst_pv:.3g}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
