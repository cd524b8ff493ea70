"""Markdown table of bench/vs_pytorch/run.sh's JSON lines: ours beside PyTorch, per model and step."""

import json
import sys

rows = [json.loads(line) for path in sys.argv[1:] for line in open(path) if line.strip()]
pytorch = {(r["model"], r["what"]): r for r in rows if r["side"] == "pytorch"}
print("| model | step | batch | forward GFLOP/image | PyTorch img/s | ours img/s | ours / PyTorch | ours |")
print("|---|---|---:|---:|---:|---:|---:|---|")
for r in rows:
    if r["side"] == "pytorch":
        continue
    ref = pytorch.get((r["model"], r["what"]))
    if ref is None:
        continue
    what = "train step" if r["what"] == "train" else "masking pass"
    print(
        f"| {r['model']} | {what} | {r['batch']} | {ref['forward_gflops_per_image']:.3f} "
        f"| {ref['images_per_second']:.0f} | {r['images_per_second']:.0f} "
        f"| {r['images_per_second'] / ref['images_per_second']:.2f} | {r['side']}, {r['masking_engine']} |"
    )
