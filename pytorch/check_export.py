"""By hand, not in CI: the safetensors files of `trainer-native export --format safetensors`
load into the PyTorch modules of masktune_models.py with strict key and shape checks, and give
the probabilities that `trainer-native predict` gives on the same images:

    trainer-native export --name RUN --format safetensors
    trainer-native predict --erm runs/RUN/bundles/erm.bundle \\
        --masktune runs/RUN/bundles/masktune.bundle --out predictions.json IMAGES...
    python pytorch/check_export.py runs/RUN/bundles predictions.json IMAGES...

The images must have the models' input size already (predict centre-crops and resizes other
sizes with the image crate's filter, which this script does not reproduce). Needs torch,
torchvision, safetensors, numpy and pillow (masktune/tests/fixtures/pytorch/requirements.txt).
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import masktune_models  # noqa: E402

TOLERANCE = 1e-5


def preprocess(path, meta):
    channels = meta["architecture"]["in_channels"]
    image = Image.open(path).convert("RGB" if channels == 3 else "L")
    side = meta["input_size"]["width"]
    if image.size != (side, side):
        raise SystemExit(f"{path} is {image.size[0]}x{image.size[1]}, the models take {side}x{side}")
    x = np.asarray(image, dtype=np.float32).reshape(side, side, channels) / 255.0
    norm = meta["normalization"]
    x = (x - np.array(norm["mean"][:channels], np.float32)) / np.array(norm["std"][:channels], np.float32)
    return torch.from_numpy(x.transpose(2, 0, 1).copy())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundles", help="folder with erm.safetensors and masktune.safetensors")
    parser.add_argument("predictions", help="the JSON of trainer-native predict on IMAGES")
    parser.add_argument("images", nargs="+")
    args = parser.parse_args()
    with open(args.predictions) as f:
        predictions = json.load(f)
    worst = 0.0
    for model_name in ["erm", "masktune"]:
        model, meta = masktune_models.load(os.path.join(args.bundles, f"{model_name}.safetensors"))
        batch = torch.stack([preprocess(path, meta) for path in args.images])
        with torch.no_grad():
            probabilities = torch.softmax(model(batch), dim=1).numpy()
        for path, ours in zip(args.images, probabilities):
            theirs = np.array(predictions[os.path.basename(path)][f"{model_name}_probabilities"])
            difference = float(np.abs(ours - theirs).max())
            worst = max(worst, difference)
            print(f"{model_name:9} {os.path.basename(path):24} PyTorch {np.round(ours, 5)}  predict {np.round(theirs, 5)}")
    print(f"largest difference {worst:.2e} (tolerance {TOLERANCE})")
    sys.exit(0 if worst <= TOLERANCE else 1)


if __name__ == "__main__":
    main()
