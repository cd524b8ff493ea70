#!/usr/bin/env bash
# Inference latency per image in the built page, WebGPU and CPU fallback (latency.mjs). Run by hand,
# not by the tests:
#
#     bench/browser_latency/run.sh [--repeats N] [--tasks cifar10,celeba,spurious-mnist]
#
# Builds the page as it is hosted (trunk build --release; quick when nothing changed), then
# measures it in Debian's headless Chromium (installed by scripts/setup.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/lib.sh"
cd "$REPO_ROOT"

build_page

step "Latency in headless Chromium"
browser_packages
node "$here/latency.mjs" --dist "$REPO_ROOT/dist" "$@"
