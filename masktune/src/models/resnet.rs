//! Residual networks (He et al. 2016): the CIFAR-style ResNet-(6n+2) and the ImageNet-style
//! ResNet-10/18/34/50/101, both with a width setting for small CPU demos.

use burn::nn::PaddingConfig2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::layers::{ConvBn, GapLinear};
use crate::cam_model::CamModel;

/// Blocks per stage of a CIFAR ResNet of `depth = 6n + 2` (ResNet-20, 32, 44, 56, 110, ...).
pub fn cifar_blocks_per_stage(depth: usize) -> Option<usize> {
    (depth >= 8 && (depth - 2) % 6 == 0).then_some((depth - 2) / 6)
}

/// The depths of the ImageNet-style ResNet.
pub const IMAGENET_RESNET_DEPTHS: [usize; 5] = [10, 18, 34, 50, 101];

/// Whether an ImageNet-style ResNet of `depth` uses bottleneck blocks, and its blocks per stage.
pub fn imagenet_layout(depth: usize) -> Option<(bool, [usize; 4])> {
    match depth {
        10 => Some((false, [1, 1, 1, 1])),
        18 => Some((false, [2, 2, 2, 2])),
        34 => Some((false, [3, 4, 6, 3])),
        50 => Some((true, [3, 4, 6, 3])),
        101 => Some((true, [3, 4, 23, 3])),
        _ => None,
    }
}

/// Two 3x3 convolutions around an identity (or 1x1 projection) shortcut.
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: ConvBn,
    conv2: ConvBn,
    shortcut: Option<ConvBn>,
}

impl BasicBlock {
    fn new(in_channels: usize, channels: usize, stride: usize, device: &Device) -> Self {
        Self {
            conv1: ConvBn::new(in_channels, channels, 3, stride, device),
            conv2: ConvBn::new(channels, channels, 3, 1, device),
            shortcut: projection(in_channels, channels, stride, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let skip = shortcut(&self.shortcut, x.clone());
        relu(self.conv2.forward(self.conv1.forward_relu(x)) + skip)
    }
}

/// 1x1 reduce, 3x3 (carrying the stride, as in torchvision's "v1.5"), 1x1 expand by 4.
#[derive(Module, Debug)]
pub struct Bottleneck {
    conv1: ConvBn,
    conv2: ConvBn,
    conv3: ConvBn,
    shortcut: Option<ConvBn>,
}

impl Bottleneck {
    const EXPANSION: usize = 4;

    fn new(in_channels: usize, channels: usize, stride: usize, device: &Device) -> Self {
        let out = channels * Self::EXPANSION;
        Self {
            conv1: ConvBn::new(in_channels, channels, 1, 1, device),
            conv2: ConvBn::new(channels, channels, 3, stride, device),
            conv3: ConvBn::new(channels, out, 1, 1, device),
            shortcut: projection(in_channels, out, stride, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let skip = shortcut(&self.shortcut, x.clone());
        let y = self.conv2.forward_relu(self.conv1.forward_relu(x));
        relu(self.conv3.forward(y) + skip)
    }
}

/// A 1x1 conv + BN shortcut where the shape changes, identity otherwise.
fn projection(in_channels: usize, out: usize, stride: usize, device: &Device) -> Option<ConvBn> {
    (stride != 1 || in_channels != out).then(|| ConvBn::new(in_channels, out, 1, stride, device))
}

fn shortcut(projection: &Option<ConvBn>, x: Tensor<4>) -> Tensor<4> {
    match projection {
        Some(conv) => conv.forward(x),
        None => x,
    }
}

#[derive(Module, Debug)]
pub enum ResidualBlock {
    Basic(BasicBlock),
    Bottleneck(Bottleneck),
}

impl ResidualBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Basic(block) => block.forward(x),
            Self::Bottleneck(block) => block.forward(x),
        }
    }
}

/// A stem, residual stages, and the GAP + linear head. `features` is the output of the last
/// residual block.
#[derive(Module, Debug)]
pub struct ResNet {
    stem: ConvBn,
    /// The ImageNet stem's 3x3 stride-2 max-pool; absent in the CIFAR stem.
    stem_pool: Option<MaxPool2d>,
    blocks: Vec<ResidualBlock>,
    head: GapLinear,
}

impl ResNet {
    /// CIFAR ResNet-`depth` (`depth = 6n + 2`): a 3x3 stem and three stages of `n` basic blocks
    /// with `width`, `2*width`, `4*width` channels (16/32/64 in the paper); a 32x32 input ends in
    /// an 8x8 last block.
    ///
    /// # Panics
    /// If `depth` is not `6n + 2` (check with [`cifar_blocks_per_stage`] first).
    pub fn cifar(
        in_channels: usize,
        num_classes: usize,
        depth: usize,
        width: usize,
        device: &Device,
    ) -> Self {
        let n = cifar_blocks_per_stage(depth)
            .unwrap_or_else(|| panic!("CIFAR ResNet depth {depth} is not 6n + 2"));
        let stages = [(width, n, 1), (2 * width, n, 2), (4 * width, n, 2)];
        let (blocks, channels) = build_stages(width, &stages, false, device);
        Self {
            stem: ConvBn::new(in_channels, width, 3, 1, device),
            stem_pool: None,
            blocks,
            head: GapLinear::new(channels, num_classes, device),
        }
    }

    /// ImageNet-style ResNet-`depth` (one of [`IMAGENET_RESNET_DEPTHS`]): a 7x7 stride-2 stem
    /// with max-pool and four stages with `width * [1, 2, 4, 8]` channels (64 in the paper), so
    /// a 224x224 input ends in a 7x7 last block.
    ///
    /// # Panics
    /// If `depth` is not supported (check with [`imagenet_layout`] first).
    pub fn imagenet(
        in_channels: usize,
        num_classes: usize,
        depth: usize,
        width: usize,
        device: &Device,
    ) -> Self {
        let (bottleneck, counts) = imagenet_layout(depth).unwrap_or_else(|| {
            panic!("ResNet depth {depth} is not one of {IMAGENET_RESNET_DEPTHS:?}")
        });
        let stages = [
            (width, counts[0], 1),
            (2 * width, counts[1], 2),
            (4 * width, counts[2], 2),
            (8 * width, counts[3], 2),
        ];
        let (blocks, channels) = build_stages(width, &stages, bottleneck, device);
        let stem_pool = MaxPool2dConfig::new([3, 3])
            .with_strides([2, 2])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init();
        Self {
            stem: ConvBn::new(in_channels, width, 7, 2, device),
            stem_pool: Some(stem_pool),
            blocks,
            head: GapLinear::new(channels, num_classes, device),
        }
    }
}

/// Residual stages given as `(channels, blocks, stride of the first block)`; returns the blocks
/// and the channel count of the last one.
fn build_stages(
    in_channels: usize,
    stages: &[(usize, usize, usize)],
    bottleneck: bool,
    device: &Device,
) -> (Vec<ResidualBlock>, usize) {
    let mut blocks = Vec::new();
    let mut channels = in_channels;
    for &(width, count, stride) in stages {
        for i in 0..count {
            let stride = if i == 0 { stride } else { 1 };
            let block = if bottleneck {
                let block = Bottleneck::new(channels, width, stride, device);
                channels = width * Bottleneck::EXPANSION;
                ResidualBlock::Bottleneck(block)
            } else {
                let block = BasicBlock::new(channels, width, stride, device);
                channels = width;
                ResidualBlock::Basic(block)
            };
            blocks.push(block);
        }
    }
    (blocks, channels)
}

impl CamModel for ResNet {
    fn features(&self, images: Tensor<4>) -> Tensor<4> {
        let mut x = self.stem.forward_relu(images);
        if let Some(pool) = &self.stem_pool {
            x = pool.forward(x);
        }
        for block in &self.blocks {
            x = block.forward(x);
        }
        x
    }

    fn head(&self, features: Tensor<4>) -> Tensor<2> {
        self.head.forward(features)
    }

    fn gap_linear_weight(&self) -> Option<Tensor<2>> {
        Some(self.head.weight())
    }
}
