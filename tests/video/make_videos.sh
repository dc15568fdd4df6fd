#!/bin/bash
# make_videos.sh OUTDIR — generate the identity-test inputs with ffmpeg's lavfi sources.
# Short and small on purpose: the whole comparison must run in a few minutes on 2 cores.
# Each line of OUTDIR/list.txt is one input: a file, a directory, or several files.
set -euo pipefail
out=${1:?usage: make_videos.sh OUTDIR}
mkdir -p "$out"
cd "$out"
ff() { ffmpeg -nostdin -loglevel error -y "$@"; }
# gen SOURCE SIZE RATE SECONDS ffmpeg-output-args...
gen() { local s=$1 size=$2 rate=$3 dur=$4; shift 4; ff -f lavfi -i "$s=size=$size:rate=$rate" -t "$dur" "$@"; }
: > list.txt
add() { echo "$*" >> list.txt; }

# name                  source                         codec / pixel format
gen testsrc2 640x360 30 3 -c:v libx264 -pix_fmt yuv420p v01_h264_640x360_30.mp4; add v01_h264_640x360_30.mp4
gen testsrc2 1920x1080 30 1 -c:v libx264 -preset ultrafast -pix_fmt yuv420p v02_h264_1920x1080_30.mp4; add v02_h264_1920x1080_30.mp4
gen testsrc2 64x64 8 2 -c:v libx264 -pix_fmt yuv420p v03_h264_64x64_8.mp4; add v03_h264_64x64_8.mp4
gen testsrc2 65x49 12 2 -c:v libx264 -pix_fmt yuv444p v04_h264_65x49_yuv444p_12.mp4; add v04_h264_65x49_yuv444p_12.mp4
gen testsrc2 320x240 30000/1001 4 -c:v libx264 -pix_fmt yuv420p v05_h264_320x240_29.97.mp4; add v05_h264_320x240_29.97.mp4
gen testsrc2 360x640 24 2 -c:v libx264 -pix_fmt yuv420p v06_h264_portrait_360x640_24.mp4; add v06_h264_portrait_360x640_24.mp4
gen testsrc2 426x240 25 2 -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -pix_fmt yuv420p v07_vp9_426x240_25.webm; add v07_vp9_426x240_25.webm
gen testsrc2 320x180 25 2 -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -pix_fmt yuv420p10le v08_vp9_10bit_320x180.webm; add v08_vp9_10bit_320x180.webm
gen testsrc2 352x288 15 3 -c:v mpeg4 -q:v 4 -pix_fmt yuv420p v09_mpeg4_352x288_15.avi; add v09_mpeg4_352x288_15.avi
gen testsrc2 320x240 10 2 -c:v mjpeg -q:v 3 -pix_fmt yuvj422p v10_mjpeg_320x240_10.avi; add v10_mjpeg_320x240_10.avi
gen mandelbrot 400x300 20 2 -c:v libx264 -pix_fmt yuv444p v11_h264_yuv444p_400x300_20.mp4; add v11_h264_yuv444p_400x300_20.mp4
gen testsrc2 320x180 30 2 -c:v libx264 -pix_fmt yuv420p10le v12_h264_10bit_320x180.mp4; add v12_h264_10bit_320x180.mp4
gen testsrc2 256x144 60 2 -c:v libx264 -pix_fmt yuv420p v13_h264_256x144_60.mp4; add v13_h264_256x144_60.mp4
gen testsrc2 160x120 10 12 -c:v libx264 -pix_fmt yuv420p v14_h264_160x120_10_12s.mkv; add v14_h264_160x120_10_12s.mkv
gen smptebars 128x96 24 1 -c:v libx264 -pix_fmt yuv420p v15_h264_smptebars_128x96_1s.mp4; add v15_h264_smptebars_128x96_1s.mp4
# variable frame rate: keep an irregular subset of frames with their original timestamps
gen testsrc2 320x240 30 4 -vf "select='lt(mod(n\,7)\,3)+lt(n\,20)'" -vsync vfr \
   -c:v libx264 -pix_fmt yuv420p v16_h264_vfr_320x240.mp4; add v16_h264_vfr_320x240.mp4
gen mandelbrot 321x241 25 2 -c:v libx264 -pix_fmt yuv444p v17_h264_odd_321x241_25.mkv; add v17_h264_odd_321x241_25.mkv
gen smptebars 1280x720 25 1 -c:v mpeg4 -q:v 5 -pix_fmt yuv420p v18_mpeg4_1280x720_25.mp4; add v18_mpeg4_1280x720_25.mp4
gen testsrc2 300x200 24 2 -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -pix_fmt yuv444p v19_vp9_yuv444p_300x200.webm; add v19_vp9_yuv444p_300x200.webm
gen testsrc2 720x480 30000/1001 3 -c:v libx264 -bf 3 -pix_fmt yuv420p v20_h264_bframes_720x480_29.97.mkv; add v20_h264_bframes_720x480_29.97.mkv
gen testsrc2 240x320 15 2 -c:v mjpeg -q:v 2 -pix_fmt yuvj420p v21_mjpeg_portrait_240x320.mov; add v21_mjpeg_portrait_240x320.mov
gen testsrc2 160x120 10 1 -vf format=rgba,colorchannelmixer=aa=0.5 -c:v png v22_png_rgba_160x120.mov; add v22_png_rgba_160x120.mov
gen testsrc2 320x240 25 2 -c:v libx264 -pix_fmt yuv420p -metadata:s:v:0 rotate=90 v23_h264_rotate90_320x240.mp4; add v23_h264_rotate90_320x240.mp4
gen testsrc2 600x4 10 1 -c:v ffv1 v24_ffv1_wide_600x4.mkv; add v24_ffv1_wide_600x4.mkv
gen testsrc2 96x72 8 1 -c:v libx264 -pix_fmt yuv420p v25_h264_96x72_8_1s.mp4; add v25_h264_96x72_8_1s.mp4

# images: PNG (RGB, odd size), PNG with alpha, grey PNG, JPEGs, a list and a directory
gen testsrc2 333x251 1 1 -frames:v 1 i01_rgb_333x251.png; add i01_rgb_333x251.png
gen testsrc2 200x150 1 1 -frames:v 1 -vf format=rgba,colorchannelmixer=aa=0.6 i02_rgba_200x150.png; add i02_rgba_200x150.png
gen mandelbrot 180x120 1 1 -frames:v 1 -vf format=gray i03_gray_180x120.png; add i03_gray_180x120.png
gen testsrc2 320x240 1 1 -frames:v 1 -q:v 2 i04_jpeg_320x240.jpg; add i04_jpeg_320x240.jpg
# more JPEGs (decoded with libjpeg as PIL does): 4:2:0 and 4:4:4 at sizes that are not whole
# MCUs; a one-component greyscale, a CMYK (Adobe) and a progressive 4:2:2 one written by Pillow,
# since FFmpeg's encoder has no greyscale JPEG ("-pix_fmt gray" still writes YCbCr)
gen testsrc2 330x250 1 1 -frames:v 1 -q:v 4 -pix_fmt yuvj420p i05_jpeg420_330x250.jpg; add i05_jpeg420_330x250.jpg
gen mandelbrot 257x191 1 1 -frames:v 1 -q:v 3 -pix_fmt yuvj444p i06_jpeg444_257x191.jpg; add i06_jpeg444_257x191.jpg
gen smptebars 211x97 1 1 -frames:v 1 pil_src.png
/usr/bin/python3 - <<'PY'
from PIL import Image
src = Image.open("pil_src.png").convert("RGB")
src.convert("L").save("i07_jpeg_gray_211x97.jpg", quality=85)
src.convert("CMYK").save("i08_jpeg_cmyk_211x97.jpg", quality=90)
src.save("i09_jpeg_progressive_422_211x97.jpg", quality=70, subsampling=1, progressive=True)
PY
rm pil_src.png
add i07_jpeg_gray_211x97.jpg; add i08_jpeg_cmyk_211x97.jpg; add i09_jpeg_progressive_422_211x97.jpg
mkdir -p d01_frames
for i in 0 1 2; do
  ff -f lavfi -i "testsrc2=size=160x120:rate=1:duration=4" -vf "select=eq(n\,$i)" -frames:v 1 d01_frames/f$i.png
done
add d01_frames
add d01_frames/f0.png d01_frames/f2.png
