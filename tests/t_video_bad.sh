#!/bin/bash
# Bad video input: every case gives a defined result or a clear error naming the file and the
# cause (exit 1), never a crash. Inputs are generated here.
set -uo pipefail
: "${VS2_BIN:?}" "${VS2_TEST_TMP:?}"
command -v ffmpeg >/dev/null || { echo "SKIP: needs ffmpeg (tools/install-deps.sh)"; [ -z "${CI:-}" ] || exit 1; exit 77; }
dir=$VS2_TEST_TMP/video_bad
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
ff() { ffmpeg -nostdin -loglevel error -y "$@"; }
fails=0
# expect_error FILE CAUSE: vs2 frames exits 1 and stderr names the file and the cause.
expect_error() {
    local f=$1 cause=$2 out rc
    out=$("$VS2_BIN" frames "$f" 2>&1 >/dev/null); rc=$?
    if [[ $rc -ne 1 || $out != *"$f"* || $out != *"$cause"* ]]; then
        echo "FAIL $f: rc=$rc, want 1 with '$cause': $out"; fails=$((fails + 1))
    else echo "ok   $f: $out"; fi
}
# expect_ok FILE JSON-FRAGMENT: success and the JSON plan contains the fragment.
expect_ok() {
    local f=$1 want=$2 out rc
    out=$("$VS2_BIN" frames "$f" --json 2>&1); rc=$?
    if [[ $rc -ne 0 || $out != *"$want"* ]]; then
        echo "FAIL $f: rc=$rc, want success with '$want': $out"; fails=$((fails + 1))
    else echo "ok   $f: $want"; fi
}
# expect_defined FILE: exit 0, or 1 with the file named; never a signal.
expect_defined() {
    local f=$1 out rc
    out=$("$VS2_BIN" frames "$f" --pixels /dev/null 2>&1); rc=$?
    if [[ $rc -eq 0 || ( $rc -eq 1 && $out == *"$f"* ) ]]; then echo "ok   $f: rc=$rc ${out##*$'\n'}"
    else echo "FAIL $f: rc=$rc: $out"; fails=$((fails + 1)); fi
}

expect_error missing.mp4 "cannot open"
head -c 20000 /dev/urandom > random.mp4;                       expect_error random.mp4 "not a readable video"
: > empty.mp4;                                                 expect_error empty.mp4 "not a readable video"
ff -f lavfi -i sine=duration=1 audio.m4a;                      expect_error audio.m4a "no video stream"
ff -f lavfi -i testsrc2=size=64x64:rate=10 -frames:v 1 -c:v libx264 one.mp4
expect_error one.mp4 "1 decodable frame"
ff -f lavfi -i testsrc2=size=64x64:rate=10 -frames:v 3 -c:v libx264 three.mp4
expect_ok three.mp4 '"total_frames":3,'
ff -f lavfi -i testsrc2=size=402x2:rate=10 -t 1 -c:v ffv1 wide.mkv
expect_error wide.mkv "above the reference limit of 200:1"
ff -f lavfi -i testsrc2=size=400x2:rate=10 -t 1 -c:v ffv1 ratio200.mkv
expect_ok ratio200.mkv '"height":28,"width":4480'
ff -f lavfi -i testsrc2=size=16x16:rate=10 -t 1 -vf scale=1:1 -c:v ffv1 pixel.mkv
expect_ok pixel.mkv '"height":336,"width":336'
ff -f lavfi -i testsrc2=size=160x120:rate=10 -t 1 -c:v libx264 -pix_fmt yuv420p10le ten.mp4
expect_ok ten.mp4 '"pix_fmt":"yuv420p10le"'
ff -f lavfi -i testsrc2=size=160x120:rate=10 -t 1 -vf format=rgba -c:v png alpha.mov
expect_ok alpha.mov '"pix_fmt":"rgba"'
ff -f lavfi -i testsrc2=size=160x120:rate=10 -t 2 -c:v libx264 -metadata:s:v:0 rotate=90 rot.mp4
# rotation metadata is not applied (as torchvision/PyAV): frames keep their stored size
expect_ok rot.mp4 '"src_width":160,"src_height":120,'
ff -f lavfi -i testsrc2=size=160x120:rate=30 -t 2 -vf "select='lt(mod(n\,5)\,2)'" -vsync vfr -c:v libx264 vfr.mp4
expect_ok vfr.mp4 '"total_frames":24,'
# truncated: moov at the end -> unreadable; moov first -> a shorter video
ff -f lavfi -i testsrc2=size=320x240:rate=25 -t 4 -c:v libx264 full.mp4
head -c 30000 full.mp4 > trunc_end.mp4;                        expect_error trunc_end.mp4 "not a readable video"
ff -f lavfi -i testsrc2=size=320x240:rate=25 -t 4 -c:v libx264 -movflags +faststart fast.mp4
head -c $(( $(stat -c %s fast.mp4) / 2 )) fast.mp4 > trunc_half.mp4; expect_defined trunc_half.mp4
ff -f lavfi -i testsrc2=size=320x240:rate=25 -t 4 -c:v libx264 full.mkv
cp full.mkv corrupt.mkv
printf '\xff%.0s' $(seq 1 4000) | dd of=corrupt.mkv bs=1 seek=20000 conv=notrunc status=none
expect_defined corrupt.mkv
head -c 3000 full.mkv > trunc_hdr.mkv;                         expect_defined trunc_hdr.mkv
# a PNG whose header claims 16384x16384: refused before any pixel is allocated
python3 - <<'PY'
import struct, zlib
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
for name, side in (("huge.png", 16384), ("big.png", 12000)):
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    open(name, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))
PY
expect_error huge.png "size unknown or refused by FFmpeg"   # FFmpeg's own limit
expect_error big.png "exceeds the limit"                    # vs2's max_source_pixels
mkdir -p emptydir;                                             expect_error emptydir "no image files"
# JPEG (decoded with libjpeg, as PIL): truncated -> error, as PIL's "image file is truncated";
# damaged entropy data -> decoded (libjpeg's warnings are not errors, as in PIL); a header
# claiming 12000x12000 -> refused before decoding
ff -f lavfi -i testsrc2=size=320x240 -frames:v 1 -q:v 3 full.jpg
expect_ok full.jpg '"codec":"libjpeg","pix_fmt":"ycbcr 4:2:0"'
head -c $(( $(stat -c %s full.jpg) / 2 )) full.jpg > trunc.jpg;   expect_error trunc.jpg "the JPEG is truncated"
head -c 400 full.jpg > trunc_hdr.jpg;                          expect_error trunc_hdr.jpg "the JPEG is truncated"
(printf '\xff\xd8\xff\xe0'; head -c 3000 /dev/urandom) > garbage.jpg; expect_error garbage.jpg "JPEG"
cp full.jpg damaged.jpg
printf '\x12\x34%.0s' $(seq 1 100) | dd of=damaged.jpg bs=1 seek=3000 conv=notrunc status=none
expect_ok damaged.jpg '"src_width":320,"src_height":240,'
python3 - <<'PY'
d = bytearray(open("full.jpg", "rb").read())
i = d.index(b"\xff\xc0")                                   # SOF0: length, precision, height, width
d[i + 5:i + 9] = (12000).to_bytes(2, "big") * 2
open("big.jpg", "wb").write(d)
PY
expect_error big.jpg "exceeds the limit"
ff -f lavfi -i testsrc2=size=160x120 -frames:v 1 a.png
ff -f lavfi -i testsrc2=size=640x120 -frames:v 1 b.png
out=$("$VS2_BIN" frames a.png b.png 2>&1); rc=$?
if [[ $rc -eq 1 && $out == *b.png* && $out == *"resizes to"* ]]; then echo "ok   a.png b.png: $out"
else echo "FAIL mixed image sizes: rc=$rc $out"; fails=$((fails + 1)); fi
expect_ok a.png '"nframes":2,"indices":[0,0]'
"$VS2_BIN" frames --fps nope three.mp4 >/dev/null 2>&1; [[ $? -eq 2 ]] || { echo "FAIL bad --fps"; fails=$((fails + 1)); }
echo "$fails failure(s)"
exit $((fails > 0))
