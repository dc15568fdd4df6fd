#!/bin/bash
# Identity of vs2's video input with the reference (qwen-vl-utils + torchvision 0.14/PyAV 10 +
# the transformers 4.53.2 processor, via tools/video_ref/ref.py on Debian's python3-torch,
# python3-torchvision, python3-av): frame counts, indices, sizes, grids, tokens, decoded RGB
# exactly; pixel_values within 1e-5. Inputs are generated here with ffmpeg (never committed).
set -euo pipefail
: "${VS2_SOURCE_DIR:?}" "${VS2_BIN:?}" "${VS2_TEST_TMP:?}"
if ! command -v ffmpeg >/dev/null || ! /usr/bin/python3 -c 'import torch, torchvision, av, numpy, PIL' 2>/dev/null; then
    echo "SKIP: needs ffmpeg and Debian's python3-torch python3-torchvision python3-av python3-numpy (tools/install-deps.sh)"
    [ -z "${CI:-}" ] || exit 1 # in CI a missing package is an install bug, not a skip
    exit 77
fi
dir=$VS2_TEST_TMP/video_identity
rm -rf "$dir"
mkdir -p "$dir"
bash "$VS2_SOURCE_DIR/tests/video/make_videos.sh" "$dir/in"
mapfile -t inputs < "$dir/in/list.txt"
(cd "$dir/in" && /usr/bin/python3 "$VS2_SOURCE_DIR/tools/video_ref/ref.py" "$dir/ref" "${inputs[@]}" > /dev/null)
/usr/bin/python3 "$VS2_SOURCE_DIR/tools/video_ref/compare.py" "$VS2_BIN" "$dir/ref" "$dir/vs2" "$dir/in/list.txt"
# Threads change nothing: one and two threads give the same bytes.
v=$dir/in/v20_h264_bframes_720x480_29.97.mkv
"$VS2_BIN" frames "$v" --threads 1 --pixels "$dir/t1.pv" > /dev/null
"$VS2_BIN" frames "$v" --threads 2 --pixels "$dir/t2.pv" > /dev/null
cmp "$dir/t1.pv" "$dir/t2.pv"
echo "threads 1 and 2: identical"
