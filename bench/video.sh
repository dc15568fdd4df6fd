#!/bin/bash
# bench/video.sh [BUILD_DIR] — milliseconds to turn a clip into pixel_values_videos: vs2 with 1
# and 2 threads next to the reference script (tools/video_ref/ref.py: torchvision read_video +
# resize + processor, torch threads 1) on the same files, in the same run. Best of 3.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
vs2=$root/$build/vs2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ff() { ffmpeg -nostdin -loglevel error -y "$@"; }
ff -f lavfi -i testsrc2=size=1920x1080:rate=30 -t 5 -c:v libx264 -pix_fmt yuv420p "$tmp/c1080p_5s.mp4"
ff -f lavfi -i testsrc2=size=1280x720:rate=30 -t 10 -c:v libx264 -pix_fmt yuv420p "$tmp/c720p_10s.mp4"
ms() { local best=999999 t0 t1; for _ in 1 2 3; do t0=$(date +%s%N); "$@" > /dev/null; t1=$(date +%s%N)
       (( (t1 - t0) / 1000000 < best )) && best=$(( (t1 - t0) / 1000000 )); done; echo "$best"; }
printf '%-16s %10s %10s %10s %12s %12s\n' clip vs2_1t_ms vs2_2t_ms ref_ms ref/vs2_1t ref/vs2_2t
for c in c1080p_5s c720p_10s; do
    f=$tmp/$c.mp4
    a=$(ms "$vs2" frames "$f" --threads 1 --pixels "$tmp/pv")
    b=$(ms "$vs2" frames "$f" --threads 2 --pixels "$tmp/pv")
    # the reference's own in-process time (imports excluded), best of 3
    r=999999
    for _ in 1 2 3; do
        /usr/bin/python3 "$root/tools/video_ref/ref.py" "$tmp/ref" "$f" > /dev/null
        t=$(awk '{printf "%d", $1 * 1000}' "$tmp/ref/$c.mp4.time"); (( t < r )) && r=$t
    done
    printf '%-16s %10d %10d %10d %12.1f %12.1f\n' "$c" "$a" "$b" "$r" "$(echo "$r / $a" | bc -l)" "$(echo "$r / $b" | bc -l)"
done
