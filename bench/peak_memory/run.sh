#!/usr/bin/env bash
# Peak memory of the trainer per experiment and step: one-epoch pipelines (ERM, masking pass,
# fine-tuning, evaluation, export) with each experiment's default model and the shipped demo
# models, read from each run's report.json (`peak_memory_bytes`, the process's VmHWM after every
# step). Memory hardly depends on the number of epochs: the data sets are held in memory and one
# batch is in flight at a time. Run by hand, not by the tests:
#
#     bench/peak_memory/run.sh [RUNS_DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/lib.sh"
cd "$REPO_ROOT"
runs="${1:-$(mktemp -d)}"
mkdir -p "$runs"

step "Building trainer-native (release)"
cargo build --locked --release -p trainer-native
trainer="${CARGO_TARGET_DIR:-target}/release/trainer-native"
# The data sets beside the repository (the trainer's default is the user's cache folder).
export MASKTUNE_DATA="${MASKTUNE_DATA:-$REPO_ROOT/../shared/data}"

# name | arguments
experiments=(
    "spurious-mnist (MnistCnn)|--experiment spurious-mnist"
    "cifar10 (VGG-11 w16, shipped)|--experiment cifar10 --model vgg --depth 11 --width 16"
    "celeba (VGG-11 w16, shipped)|--experiment celeba --model vgg --depth 11 --width 16"
    "cifar10 (ResNet-32, the paper's)|--experiment cifar10 --model cifar-resnet --depth 32"
)
echo "| experiment | peak MiB after: train | mask | finetune | evaluation | export | ERM epoch (s) | masking pass (s) |" > "$runs/table.md"
echo "|---|---:|---:|---:|---:|---:|---:|---:|" >> "$runs/table.md"
for i in "${!experiments[@]}"; do
    name="${experiments[$i]%%|*}"
    step "$name"
    # shellcheck disable=SC2086 # the arguments are meant to split
    "$trainer" pipeline ${experiments[$i]#*|} --epochs 1 --seed 0 --runs-dir "$runs" --name "run-$i" \
        > "$runs/run-$i.log" 2>&1 || { tail -20 "$runs/run-$i.log"; die "$name failed" "see the log above"; }
    python3 - "$name" "$runs/run-$i/report.json" >> "$runs/table.md" <<'PY'
import json, sys
name, path = sys.argv[1], sys.argv[2]
report = json.load(open(path))
peaks = report["peak_memory_bytes"]
steps = ["train", "mask", "finetune", "evaluation", "export"]
seconds = [report["train"]["history"][0]["seconds"], report["mask"]["seconds"]]
cells = [f"{peaks[s] / 2**20:,.0f}" for s in steps] + [f"{t:.0f}" for t in seconds]
print(f"| {name} | " + " | ".join(cells) + " |")
PY
done
step "Peak resident memory (MiB) after each step of one pipeline process"
cat "$runs/table.md"
