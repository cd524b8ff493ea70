#!/usr/bin/env bash
# Our training step and masking pass beside PyTorch + pytorch-grad-cam's (the authors' stack), on
# this machine, same models, batch sizes and inputs. Run by hand, not by the tests:
#
#     bench/vs_pytorch/run.sh [--repeats N] [--models mnist-cnn,small-cnn,vgg11-w32,resnet32]
#
# Creates (once) a virtual environment with the pinned PyTorch stack of the reference fixtures in
# ~/.cache/masktune-bench (PyPI's torch wheel is the CUDA build, several GB; it runs on the CPU),
# builds the Rust side with the bench (release) profile, runs both one after the other, and prints
# a Markdown table of medians with the ratio ours / PyTorch (images per second; > 1 is faster).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/lib.sh"
venv="${TORCH_VENV:-$HOME/.cache/masktune-bench/torch-venv}"
out="$CARGO_TARGET_DIR/bench-vs-pytorch"
mkdir -p "$out"

step "PyTorch environment ($venv)"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
timeout 3600 "$venv/bin/pip" install --quiet -r "$REPO_ROOT/masktune/tests/fixtures/pytorch/requirements.txt" \
    || die "installing PyTorch and grad-cam failed" "check access to PyPI (the wheels are several GB)"

step "Ours (trainer-native/benches/vs_pytorch.rs, CPU backend)"
(cd "$REPO_ROOT" && cargo bench --locked -p trainer-native --bench vs_pytorch -- "$@") | tee "$out/ours.jsonl"

step "PyTorch $("$venv/bin/python" -c 'import torch; print(torch.__version__)')"
"$venv/bin/python" "$here/pytorch_side.py" "$@" | tee "$out/pytorch.jsonl"

step "Table"
"$venv/bin/python" "$here/table.py" "$out/ours.jsonl" "$out/pytorch.jsonl"
