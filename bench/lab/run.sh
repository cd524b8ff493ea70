#!/usr/bin/env bash
# The Lab's default run in the built page, timed step by step, on the CPU fallback and with
# (SwiftShader) WebGPU, twice each (lab.mjs). Run by hand, not by the tests:
#
#     bench/lab/run.sh [--repeats N] [--images N] [--epochs N] [--seed S] [--backends cpu,webgpu]
#         [--folder DIR [--image-size 64]]
#
# --folder trains on a folder of class subfolders instead of spurious MNIST, as a person's own
# images; `python3 bench/lab/celeba_folder.py target/bench/celeba-folder` lays out the shared
# CelebA subset (blond / not blond) as one.
#
# The native counterpart on the same data and settings (docs/BENCHMARKS.md compares them):
#     trainer-native pipeline --experiment spurious-mnist --data app/assets/lab/mnist --subset 10000 \
#         --epochs 1 --seed 0
#     trainer-native pipeline --experiment folder --data DIR --image-size 64 --subset N --epochs E --seed 0
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/lib.sh"
cd "$REPO_ROOT"

build_page

step "The Lab in headless Chromium"
browser_packages
node "$here/lab.mjs" --dist "$REPO_ROOT/dist" "$@"
