"""The PyTorch side of bench/vs_pytorch/run.sh: the same models as masktune's (layer for layer:
3x3 conv without bias + batch norm + ReLU, max-pools, GAP + linear head; the authors' MNIST network
with unpadded convs and a flattening MLP head), the same batch sizes and inputs, timed the way the
Rust side (trainer-native/benches/vs_pytorch.rs) times ours:

  train: one SGD step (momentum 0.9, weight decay 1e-4, lr 0.01) on a batch of preprocessed
         images: forward, cross-entropy, backward, update.
  mask:  MaskTune's masking pass for a batch in evaluation mode: pytorch-grad-cam's XGradCAM at
         the last conv block for the predicted class (maps scaled to the input size as
         pytorch-grad-cam does), then the authors' threshold (mean + 2 std of the positive
         values) and the masking of the raw uint8 images.

Prints one JSON object per line: model, what, batch, seconds per batch (median), images/s, and
the forward GFLOPs per image (torch.utils.flop_counter).
"""

import argparse
import json
import statistics
import time
import warnings

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from pytorch_grad_cam import XGradCAM


def conv_bn(cin, cout, kernel=3, stride=1, padding=None):
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2 if padding is None else padding, bias=False),
        nn.BatchNorm2d(cout),
    )


class MnistCnn(nn.Module):
    """masktune's MnistCnn, the MaskTune authors' SmallCNN: XGradCAM looks at `features`, which
    ends at the last ReLU before the final pool."""

    def __init__(self, cin, classes, width=16, side=28):
        super().__init__()
        layers, channels = [], cin
        for i, out in enumerate([width, width, 2 * width, 2 * width]):
            layers += [conv_bn(channels, out, padding=0), nn.ReLU()]
            if i == 1:
                layers.append(nn.MaxPool2d(2))
            channels = out
        self.features = nn.Sequential(*layers)
        last = ((side - 4) // 2 - 4) // 2
        hidden = 16 * width
        self.head = nn.Sequential(
            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(channels * last * last, hidden),
            nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, classes),
        )

    def forward(self, x):
        return self.head(self.features(x))


class PlainCnn(nn.Module):
    """masktune's PlainCnn: stages of conv-BN-ReLU, a 2x2 max-pool after the first `pools` stages."""

    def __init__(self, cin, classes, stages, pools):
        super().__init__()
        layers, channels = [], cin
        for s, stage in enumerate(stages):
            for i, out in enumerate(stage):
                layers += [conv_bn(channels, out), nn.ReLU()]
                if s < pools and i + 1 == len(stage):
                    layers.append(nn.MaxPool2d(2))
                channels = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, classes))

    def forward(self, x):
        return self.head(self.features(x))


class BasicBlock(nn.Module):
    """masktune's CIFAR BasicBlock: where the shape changes, the option-A shortcut (every
    stride-th pixel, the new channels zero)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.conv2 = conv_bn(cin, cout, 3, stride), conv_bn(cout, cout)
        self.stride, self.extra = stride, cout - cin

    def shortcut(self, x):
        if self.stride == 1 and self.extra == 0:
            return x
        x = x[:, :, ::self.stride, ::self.stride]
        return nn.functional.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))

    def forward(self, x):
        return torch.relu(self.conv2(torch.relu(self.conv1(x))) + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, cin, classes, depth, width):
        super().__init__()
        n = (depth - 2) // 6
        blocks, channels = [], width
        for stage, stride in zip([width, 2 * width, 4 * width], [1, 2, 2]):
            for i in range(n):
                blocks.append(BasicBlock(channels, stage, stride if i == 0 else 1))
                channels = stage
        self.features = nn.Sequential(conv_bn(cin, width), nn.ReLU(), *blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, classes))

    def forward(self, x):
        return self.head(self.features(x))


# (model, side, classes, batch): the trainer's defaults (trainer-native/src/train/experiment.rs).
MODELS = {
    "mnist-cnn": (lambda: MnistCnn(3, 2), 28, 2, 128),
    "small-cnn": (lambda: PlainCnn(3, 2, [[16, 16], [32, 32], [64, 64]], 2), 28, 2, 128),
    "vgg11-w32": (lambda: PlainCnn(3, 10, [[32], [64], [128, 128], [256, 256], [256, 256]], 3), 32, 10, 128),
    "resnet32": (lambda: CifarResNet(3, 10, 32, 16), 32, 10, 128),
}


def authors_masking(maps, raw):
    """MaskTune's mask_heatmap_using_threshold and the multiplication of the raw images."""
    positive = np.where(maps > 0, maps, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        threshold = np.nanmean(positive, axis=(1, 2)) + 2 * np.nanstd(positive, axis=(1, 2))
    keep = np.expand_dims(np.where(maps > threshold[:, None, None], 0, 1), axis=-1)
    return (raw * keep).astype(np.uint8)


def timed(step, warmup, repeats):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    for name in args.models.split(","):
        build, side, classes, batch = MODELS[name]
        model = build()
        raw = rng.integers(0, 256, size=(batch, side, side, 3), dtype=np.uint8)
        images = torch.from_numpy((raw.astype(np.float32) / 255.0 - 0.5) / 0.25).permute(0, 3, 1, 2).contiguous()
        labels = torch.from_numpy(rng.integers(0, classes, size=batch))

        model.eval()
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(images[:1])
        gflops = counter.get_total_flops() / 1e9

        model.train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
        loss_fn = nn.CrossEntropyLoss()

        def train_step():
            optimizer.zero_grad()
            loss_fn(model(images), labels).backward()
            optimizer.step()

        results = [("train", timed(train_step, args.warmup, args.repeats))]

        model.eval()
        with XGradCAM(model=model, target_layers=[model.features]) as cam:
            def mask_step():
                authors_masking(cam(input_tensor=images, targets=None), raw)

            results.append(("mask", timed(mask_step, 1, max(3, args.repeats // 2))))
        for what, seconds in results:
            print(json.dumps({
                "side": "pytorch", "model": name, "what": what, "batch": batch,
                "seconds_per_batch": seconds, "images_per_second": batch / seconds,
                "forward_gflops_per_image": gflops, "threads": torch.get_num_threads(),
            }), flush=True)


if __name__ == "__main__":
    main()
