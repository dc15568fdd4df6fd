#!/bin/bash
# The hostile media corpus (docs/reliability.md): broken and hostile inputs generated here —
# truncations, bit flips, wrong extensions, zero-size files, huge declared sizes, special files,
# decompression bombs. Each runs `vs2 frames` under an address-space limit (prlimit --as) and a
# wall-clock limit: it must end (no hang), by itself (no signal), with exit 0 or with exit 1 and a
# message naming the file; where the cause is known the message must name it too.
set -uo pipefail
: "${VS2_BIN:?}" "${VS2_TEST_TMP:?}"
command -v ffmpeg >/dev/null || { echo "SKIP: needs ffmpeg (tools/install-deps.sh)"; [ -z "${CI:-}" ] || exit 1; exit 77; }
dir=$VS2_TEST_TMP/hostile_media
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
ff() { ffmpeg -nostdin -loglevel error -y "$@"; }

# 1 GiB of address space: far above what these inputs legitimately need (the largest decodes a
# few hundred MB), far below what an unbounded allocation would take. A sanitizer build reserves
# terabytes of shadow address space, so there only the time limit applies.
LIMIT=(prlimit --as=$((1 << 30)) --)
if grep -qa AddressSanitizer "$VS2_BIN" || ldd "$VS2_BIN" 2>/dev/null | grep -q libasan; then
    LIMIT=()
    echo "note: sanitizer build: no address-space limit"
fi
command -v prlimit >/dev/null || LIMIT=()

fails=0 cases=0
run() { timeout -s KILL 90 "${LIMIT[@]}" "$VS2_BIN" frames --threads 2 "$@" --pixels /dev/null 2>&1 >/dev/null; }
# case FILE [CAUSE]: exit 0, or exit 1 naming FILE (and CAUSE when given); never a hang or signal.
case_() {
    local f=$1 cause=${2:-} out rc
    cases=$((cases + 1))
    out=$(run "$f"); rc=$?
    if [[ -n $cause ]]; then
        if [[ $rc -eq 1 && $out == *"$f"* && $out == *"$cause"* ]]; then echo "ok   $f: ${out##*$'\n'}"; return; fi
    elif [[ $rc -eq 0 || ( $rc -eq 1 && $out == *"$f"* ) ]]; then echo "ok   $f: rc=$rc ${out##*$'\n'}"; return; fi
    echo "FAIL $f: rc=$rc${cause:+, want 1 with '$cause'}: $out"; fails=$((fails + 1))
}
# flip FILE OUT N SEED [SKIP]: OUT = FILE with N seeded random bytes past SKIP replaced.
flip() {
    python3 - "$@" <<'PY'
import random, sys
src, dst, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
skip = int(sys.argv[5]) if len(sys.argv) > 5 else 0
d = bytearray(open(src, "rb").read()); r = random.Random(seed)
for _ in range(n): d[r.randrange(skip, len(d))] = r.randrange(256)
open(dst, "wb").write(d)
PY
}

ff -f lavfi -i testsrc2=size=160x120:rate=25 -t 2 -c:v libx264 -pix_fmt yuv420p base.mp4
ff -f lavfi -i testsrc2=size=160x120:rate=25 -t 2 -c:v libx264 -pix_fmt yuv420p -movflags +faststart fast.mp4
ff -f lavfi -i testsrc2=size=160x120:rate=25 -t 2 -c:v libvpx-vp9 -b:v 100k base.webm 2>/dev/null || cp base.mp4 base.webm
ff -f lavfi -i testsrc2=size=160x120:rate=25 -t 2 -c:v mpeg2video base.ts
ff -f lavfi -i testsrc2=size=160x120:rate=25 -t 2 -c:v mpeg4 base.avi
ff -f lavfi -i testsrc2=size=160x120 -frames:v 1 base.png
ff -f lavfi -i testsrc2=size=160x120 -frames:v 1 -q:v 3 base.jpg
ff -f lavfi -i testsrc2=size=160x120:rate=25 -t 2 -c:v libx264 -f h264 raw.h264

# -- zero-size and truncated
: > zero.mp4;                                   case_ zero.mp4 "not a readable video"
: > zero.jpg;                                   case_ zero.jpg "not a readable video"
head -c 16 base.mp4 > trunc16.mp4;              case_ trunc16.mp4 "not a readable video"
head -c 20000 base.mp4 > trunc_moov.mp4;        case_ trunc_moov.mp4 "not a readable video"
head -c $(( $(stat -c %s fast.mp4) / 2 )) fast.mp4 > trunc_half.mp4;  case_ trunc_half.mp4
head -c 5000 base.webm > trunc.webm;            case_ trunc.webm
head -c 7000 base.ts > trunc.ts;                case_ trunc.ts
head -c 300 base.png > trunc.png;               case_ trunc.png
head -c 500 base.jpg > trunc.jpg;               case_ trunc.jpg "truncated"
# -- bit flips (seeded): header region and payload
flip base.mp4 flip_head.mp4 40 1 0 ;  case_ flip_head.mp4
flip base.mp4 flip_body.mp4 200 2 3000; case_ flip_body.mp4
flip base.webm flip.webm 100 3 200;     case_ flip.webm
flip base.ts flip.ts 300 4 0;           case_ flip.ts
flip base.avi flip.avi 100 5 0;         case_ flip.avi
flip base.png flip.png 20 6 8;          case_ flip.png
flip base.jpg flip.jpg 30 7 2;          case_ flip.jpg
# -- wrong extensions: the content decides, never the name
cp base.webm webm_as.mp4;                       case_ webm_as.mp4
cp base.png png_as.mp4;                         case_ png_as.mp4
cp base.mp4 mp4_as.jpg;                         case_ mp4_as.jpg
echo "just some text, not a video" > text.mp4;  case_ text.mp4 "not a readable video"
head -c 20000 /dev/urandom > random.mkv;        case_ random.mkv "not a readable video"
# -- raw H.264 without timestamps: the cause is named
case_ raw.h264 "no timestamps"
# -- special files: refused before anything opens them (a FIFO would block forever)
mkfifo fifo.mp4;                                case_ fifo.mp4 "FIFO"
ln -s fifo.mp4 link_to_fifo.mp4;                case_ link_to_fifo.mp4 "FIFO"
case_ /dev/urandom "character device"
case_ /dev/zero "character device"
mkdir -p dir.mp4;                               case_ dir.mp4 "no image files"
mkdir -p imgs && mkfifo imgs/a.png;             case_ imgs "FIFO"
# -- huge declared sizes: refused before the pixels are allocated
printf 'YUV4MPEG2 W60000 H60000 F25:1 Ip A0:0 C420jpeg\nFRAME\n' > huge.y4m; head -c 4096 /dev/zero >> huge.y4m
case_ huge.y4m "60000x60000"
printf 'YUV4MPEG2 W0 H0 F25:1 C420jpeg\nFRAME\n' > zero.y4m;              case_ zero.y4m "0x0"
python3 - <<'PY'
import struct, zlib
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
def png(name, w, h, rows):
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    open(name, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))
png("huge_decl.png", 100000, 100000, b"\0" * 100)            # declared only
# decompression bomb: 4000x4000 RGB (48 MB of pixels) from ~50 kB of zlib, inside the pixel limit
png("bomb.png", 4000, 4000, (b"\0" + b"\0" * 12000) * 4000)
# 12000x12000 bomb: past vs2's 8192x8192 source limit
png("bomb_big.png", 12000, 12000, (b"\0" + b"\0" * 36000) * 200)
# GIF and BMP headers declaring 65535x65535 and 100000x100000
open("huge.gif", "wb").write(b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x00\x00\x00" + b"\x2c" + struct.pack("<HHHH", 0, 0, 65535, 65535) + b"\x00\x02\x02\x44\x01\x00\x3b")
bmp = struct.pack("<2sIHHI", b"BM", 54 + 16, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, 100000, 100000, 1, 24, 0, 16, 2835, 2835, 0, 0) + b"\0" * 16
open("huge.bmp", "wb").write(bmp)
# JPEG whose SOF declares 60000x60000
d = bytearray(open("base.jpg", "rb").read()); i = d.index(b"\xff\xc0")
d[i + 5:i + 9] = (60000).to_bytes(2, "big") * 2
open("huge_sof.jpg", "wb").write(d)
# MP4 whose first box claims a 64-bit size of 2^62 bytes
d = open("base.mp4", "rb").read()
open("huge_box.mp4", "wb").write(struct.pack(">I4sQ", 1, b"ftyp", 1 << 62) + d[8:])
PY
case_ huge_decl.png
case_ bomb.png
case_ bomb_big.png "exceeds the limit"
case_ huge.gif
case_ huge.bmp
case_ huge_sof.jpg "exceeds the limit"
case_ huge_box.mp4

echo "$cases cases, $fails failure(s)"
[[ $cases -ge 30 ]] || { echo "FAIL: the corpus must hold at least 30 cases"; fails=$((fails + 1)); }
exit $((fails > 0))
