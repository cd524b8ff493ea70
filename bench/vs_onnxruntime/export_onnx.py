"""The page's models as ONNX files for ONNX Runtime Web (run.sh): each safetensors state dict
(written by `trainer-native convert-bundle ... --format safetensors` from the shipped bundles)
is loaded into its PyTorch module (pytorch/masktune_models.py) and exported for a batch of one,
with a check that ONNX's graph (through onnx's reference evaluator) computes PyTorch's logits.

    python export_onnx.py IN_DIR OUT_DIR     # IN_DIR/<task>-<model>.safetensors -> OUT_DIR/<task>-<model>.onnx
"""

import glob
import json
import os
import sys

import numpy as np
import onnx
import torch
from onnx.reference import ReferenceEvaluator

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../pytorch"))
import masktune_models  # noqa: E402

OPSET = 17


def main(src, out):
    os.makedirs(out, exist_ok=True)
    manifest = {}
    for path in sorted(glob.glob(os.path.join(src, "*.safetensors"))):
        name = os.path.basename(path).removesuffix(".safetensors")
        model, meta = masktune_models.load(path)
        side = meta["input_size"]["width"]
        x = torch.randn(1, meta["architecture"]["in_channels"], side, side)
        target = os.path.join(out, f"{name}.onnx")
        # The TorchScript exporter: one self-contained file, no onnxscript needed.
        torch.onnx.export(model, x, target, input_names=["input"], output_names=["logits"],
                          opset_version=OPSET, dynamo=False)
        with torch.no_grad():
            want = model(x).numpy()
        got = ReferenceEvaluator(onnx.load(target)).run(None, {"input": x.numpy()})[0]
        difference = float(np.abs(got - want).max())
        assert difference < 1e-4, f"{name}: ONNX differs from PyTorch by {difference}"
        manifest[name] = {"file": f"{name}.onnx", "side": side, "channels": int(x.shape[1]),
                          "normalization": meta["normalization"], "bytes": os.path.getsize(target)}
        print(f"{name}: {target} ({os.path.getsize(target)} bytes, ONNX vs PyTorch {difference:.1e})")
    with open(os.path.join(out, "models.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:3])
