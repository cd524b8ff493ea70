#!/usr/bin/env bash
# The Lab's training in the page vs TensorFlow.js training the same network, in the same headless
# Chromium (run.mjs). Run by hand, not by the tests:
#
#     bench/vs_tfjs/run.sh [--rounds N] [--images N] [--tfjs-images N] [--epochs N] [--computes ...]
#
# Builds the page (trunk build --release), installs TensorFlow.js from npm (pinned in
# package.json), then measures.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/lib.sh"
cd "$REPO_ROOT"

build_page

step "TensorFlow.js and the page's Lab in headless Chromium"
browser_packages
(cd "$here" && npm ci --no-audit --no-fund --silent)
node "$here/run.mjs" --dist "$REPO_ROOT/dist" "$@"
