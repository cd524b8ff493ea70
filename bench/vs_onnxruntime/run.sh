#!/usr/bin/env bash
# Ours vs ONNX Runtime Web on the page's shipped models, in the same headless Chromium (run.mjs).
# Run by hand, not by the tests:
#
#     bench/vs_onnxruntime/run.sh [--repeats N] [--rounds N] [--tasks spurious-mnist,cifar10,celeba]
#
# Builds the page (trunk build --release) and the trainer, writes each shipped bundle as a
# PyTorch state dict (convert-bundle --format safetensors) and exports it to ONNX from PyTorch
# (export_onnx.py, in the pinned PyTorch venv of bench/vs_pytorch), installs onnxruntime-web
# from npm (pinned in package.json), then measures.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/lib.sh"
cd "$REPO_ROOT"
venv="${TORCH_VENV:-$HOME/.cache/masktune-bench/torch-venv}"
work="$CARGO_TARGET_DIR/bench-vs-onnxruntime"
mkdir -p "$work/safetensors" "$work/onnx"

build_page
step "Building the trainer"
cargo build --locked --release -p trainer-native

step "The shipped models as ONNX (PyTorch $venv)"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
timeout 3600 "$venv/bin/pip" install --quiet -r masktune/tests/fixtures/pytorch/requirements.txt safetensors==0.8.0 onnx==1.23.2 \
    || die "installing PyTorch failed" "check access to PyPI (the wheels are several GB)"
for bundle in app/assets/models/*.mtb; do
    name="$(basename "$bundle" .mtb)"
    # A MaskTune bundle is stored as its difference from its ERM bundle's weights.
    "$CARGO_TARGET_DIR/release/trainer-native" convert-bundle "$bundle" "$work/safetensors/$name.safetensors" \
        --format safetensors --base "${bundle/-masktune.mtb/-erm.mtb}"
done
"$venv/bin/python" "$here/export_onnx.py" "$work/safetensors" "$work/onnx"

step "ONNX Runtime Web and the page in headless Chromium"
browser_packages
(cd "$here" && npm ci --no-audit --no-fund --silent)
node "$here/run.mjs" --dist "$REPO_ROOT/dist" --models "$work/onnx" "$@"
