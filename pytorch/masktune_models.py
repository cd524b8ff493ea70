"""PyTorch modules that compute what masktune's architectures compute, under the key names that
`trainer-native import` / `train --init-from` read and `export --format safetensors` writes.

    import masktune_models
    model, meta = masktune_models.load("runs/cifar10/bundles/erm.safetensors")
    logits = model(images)          # images normalised as meta["normalization"] says

    # A model trained here, described for `trainer-native import` and the page's Lab:
    masktune_models.save(model, "mine.safetensors", meta["architecture"], ["cat", "dog"], 64,
                         {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]})

Architectures (the `kind` of the bundles' architecture JSON) and their PyTorch counterparts:

  resnet        torchvision's ResNet (the classes of torchvision.models.resnet); at width 64 it
                is torchvision.models.resnet18/34/50/101 itself, so ImageNet weights load.
                Other widths scale every stage (masktune's small CPU variants).
  cifar_resnet  the MaskTune authors' CIFAR ResNet (Idelbayev's, option A shortcuts;
                aliasgharkhani/Masktune src/models/resnet.py): conv1, bn1, layer1-3, linear.
  mnist_cnn     the authors' SmallCNN (src/models/simple_cnn.py): backbone.*, linear.*; their
                convolutions have biases (masktune folds them into the batch norms' means).
  vgg           torchvision's VGG features with batch norm (torchvision.models.vgg.make_layers,
                so indices and keys are vgg11_bn's, vgg16_bn's, ...) with a GAP + Linear head
                `fc`. masktune keeps only the first three max-pools (the last block stays 4x4
                on CIFAR-10 for a useful saliency map); the other pools are nn.Identity, which
                keeps torchvision's indices.
  small_cnn     the same scheme as vgg for masktune's small spurious-MNIST CNN.
"""

import json

import torch
import torchvision
from torch import nn
from torch.nn import functional as F
from torchvision.models.resnet import BasicBlock, Bottleneck

IMAGENET_LAYOUTS = {
    10: (BasicBlock, [1, 1, 1, 1]),
    18: (BasicBlock, [2, 2, 2, 2]),
    34: (BasicBlock, [3, 4, 6, 3]),
    50: (Bottleneck, [3, 4, 6, 3]),
    101: (Bottleneck, [3, 4, 23, 3]),
}
VGG_STAGE_LENGTHS = {11: [1, 1, 2, 2, 2], 13: [2, 2, 2, 2, 2], 16: [2, 2, 3, 3, 3], 19: [2, 2, 4, 4, 4]}


class ResNet(torchvision.models.resnet.ResNet):
    """torchvision's ResNet with every stage's channels scaled by width / 64 (identical to
    torchvision's at width 64) and `in_channels` input channels."""

    def __init__(self, depth, num_classes, width=64, in_channels=3):
        block, layers = IMAGENET_LAYOUTS[depth]
        object.__setattr__(self, "_width", width)
        super().__init__(block, layers, num_classes=num_classes)
        if width != 64 or in_channels != 3:
            self.conv1 = nn.Conv2d(in_channels, width, kernel_size=7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.fc = nn.Linear(8 * width * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        if planes == 64:  # the first stage: torchvision starts counting channels at 64
            self.inplanes = self._width
        return super()._make_layer(block, planes * self._width // 64, blocks, stride, dilate)


class CifarBasicBlock(nn.Module):
    """The authors' BasicBlock with option A: x[:, :, ::2, ::2] with planes // 4 zero channels
    on each side where the block changes shape."""

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = planes // 4 if stride != 1 or in_planes != planes else None

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        skip = x if self.pad is None else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(out + skip)


class CifarResNet(nn.Module):
    def __init__(self, depth, num_classes, width=16, in_channels=3):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, width, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        channels = width
        for stage, (planes, stride) in enumerate([(width, 1), (2 * width, 2), (4 * width, 2)]):
            blocks = []
            for i in range(n):
                blocks.append(CifarBasicBlock(channels, planes, stride if i == 0 else 1))
                channels = planes
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.linear = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.linear(x.mean((2, 3)))


class SmallCNN(nn.Module):
    """The authors' SmallCNN at any width (16 is theirs) and input side (28 is theirs)."""

    def __init__(self, num_classes, width=16, input_size=28, in_channels=3):
        super().__init__()
        layers, channels = [], in_channels
        for i, out in enumerate([width, width, 2 * width, 2 * width]):
            layers += [nn.Conv2d(channels, out, 3), nn.BatchNorm2d(out), nn.ReLU()]
            if i % 2 == 1:
                layers.append(nn.MaxPool2d(2, 2))
            channels = out
        self.backbone = nn.Sequential(*layers, nn.Flatten())
        side = ((input_size - 4) // 2 - 4) // 2
        hidden = 16 * width
        self.linear = nn.Sequential(
            nn.Linear(2 * width * side * side, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        return self.linear(self.backbone(x))


class CamVgg(nn.Module):
    """torchvision's VGG features (batch norm) with only the first `pools` max-pools, then GAP
    and one Linear layer."""

    def __init__(self, stages, pools, num_classes, in_channels=3):
        super().__init__()
        cfg = [c for stage in stages for c in stage + ["M"]]
        features = torchvision.models.vgg.make_layers(cfg, batch_norm=True)
        # make_layers starts from 3 channels; a grey or other input swaps the first conv.
        if in_channels != 3:
            features[0] = nn.Conv2d(in_channels, stages[0][0], kernel_size=3, padding=1)
        pool_indices = [i for i, layer in enumerate(features) if isinstance(layer, nn.MaxPool2d)]
        for i in pool_indices[pools:]:
            features[i] = nn.Identity()
        self.features = features
        self.fc = nn.Linear(stages[-1][-1], num_classes)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


def build(architecture):
    """The PyTorch module for a bundle's architecture (a dict, as in its metadata)."""
    a = dict(architecture)
    kind, classes, cin = a["kind"], a["num_classes"], a["in_channels"]
    if kind == "resnet":
        return ResNet(a["depth"], classes, a["width"], cin)
    if kind == "cifar_resnet":
        return CifarResNet(a["depth"], classes, a["width"], cin)
    if kind == "mnist_cnn":
        return SmallCNN(classes, a["width"], a["input_size"], cin)
    if kind == "vgg":
        stages = [[m * a["width"]] * n for n, m in zip(VGG_STAGE_LENGTHS[a["depth"]], [1, 2, 4, 8, 8])]
        return CamVgg(stages, 3, classes, cin)
    if kind == "small_cnn":
        stages = [[m * a["width"]] * 2 for m in [1, 2, 4]]
        return CamVgg(stages, 2, classes, cin)
    raise ValueError(f"unknown architecture kind {kind!r}")


def load(path):
    """A module and its masktune metadata (architecture, class names, input size,
    normalisation) from a safetensors file written by `trainer-native export --format
    safetensors`; the weights are loaded strictly."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(path, "pt") as f:
        meta = {k: json.loads(v) for k, v in f.metadata().items() if k.startswith("masktune.")}
    meta = {k.removeprefix("masktune."): v for k, v in meta.items()}
    model = build(meta["architecture"])
    model.load_state_dict(load_file(path))
    return model.eval(), meta


def save(model, path, architecture, class_names, input_size, normalization, dataset="",
         checkpoint="erm"):
    """Writes `model`'s state dict as a safetensors file that describes the model as
    `trainer-native export --format safetensors` does, so that `load`, `trainer-native import`
    and the page's Lab read it. `architecture`: the dict `build` takes; `class_names`: one per
    output, in order; `input_size`: the image side (or (height, width)); `normalization`:
    {"mean": [...], "std": [...]}, per channel, on pixel values in [0, 1]; `dataset`: a name;
    `checkpoint`: "erm" or "masktune"."""
    from safetensors.torch import save_file

    height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
    meta = {
        "architecture": architecture,
        "class_names": list(class_names),
        "input_size": {"height": height, "width": width},
        "normalization": normalization,
        "dataset": dataset,
        "checkpoint": checkpoint,
    }
    metadata = {"format": "pt", **{f"masktune.{k}": json.dumps(v) for k, v in meta.items()}}
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, path, metadata=metadata)
