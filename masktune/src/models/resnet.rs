//! Residual networks (He et al. 2016): the CIFAR-style ResNet-(6n+2) and the ImageNet-style
//! ResNet-10/18/34/50/101, both with a width setting for small CPU demos.
//!
//! Where a block changes shape, the CIFAR ResNets use the paper's parameter-free "option A"
//! shortcut (subsample, zero-pad the new channels; also the MaskTune authors' ResNet-32, 0.46 M
//! parameters) and the ImageNet ones torchvision's 1x1 conv + BN projection ("option B").

use burn::nn::PaddingConfig2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::layers::{ConvBn, GapLinear};
use crate::cam_model::CamModel;

/// Blocks per stage of a CIFAR ResNet of `depth = 6n + 2` (ResNet-20, 32, 44, 56, 110, ...).
pub fn cifar_blocks_per_stage(depth: usize) -> Option<usize> {
    (depth >= 8 && (depth - 2).is_multiple_of(6)).then_some((depth - 2) / 6)
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

/// Two 3x3 convolutions around a shortcut.
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: ConvBn,
    conv2: ConvBn,
    shortcut: Option<Shortcut>,
}

impl BasicBlock {
    fn new(
        in_channels: usize,
        channels: usize,
        stride: usize,
        kind: ShortcutKind,
        device: &Device,
    ) -> Self {
        Self {
            conv1: ConvBn::new(in_channels, channels, 3, stride, device),
            conv2: ConvBn::new(channels, channels, 3, 1, device),
            shortcut: Shortcut::new(in_channels, channels, stride, kind, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let skip = Shortcut::apply(&self.shortcut, x.clone());
        relu(self.conv2.forward(self.conv1.forward_relu(x)) + skip)
    }
}

/// 1x1 reduce, 3x3 (carrying the stride, as in torchvision's "v1.5"), 1x1 expand by 4.
#[derive(Module, Debug)]
pub struct Bottleneck {
    conv1: ConvBn,
    conv2: ConvBn,
    conv3: ConvBn,
    shortcut: Option<Shortcut>,
}

impl Bottleneck {
    const EXPANSION: usize = 4;

    fn new(in_channels: usize, channels: usize, stride: usize, device: &Device) -> Self {
        let out = channels * Self::EXPANSION;
        Self {
            conv1: ConvBn::new(in_channels, channels, 1, 1, device),
            conv2: ConvBn::new(channels, channels, 3, stride, device),
            conv3: ConvBn::new(channels, out, 1, 1, device),
            shortcut: Shortcut::new(in_channels, out, stride, ShortcutKind::Projection, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let skip = Shortcut::apply(&self.shortcut, x.clone());
        let y = self.conv2.forward_relu(self.conv1.forward_relu(x));
        relu(self.conv3.forward(y) + skip)
    }
}

/// What a block's shortcut does where the block changes shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShortcutKind {
    /// A 1x1 conv + BN with the block's stride ("option B").
    Projection,
    /// Every `stride`-th pixel, the new channels zero ("option A", no parameters).
    ZeroPad,
}

/// A shape-changing shortcut; blocks that keep the shape pass their input through (`None`).
#[expect(
    clippy::large_enum_variant,
    reason = "a network holds a few, built once"
)]
#[derive(Module, Debug)]
pub enum Shortcut {
    Projection(ConvBn),
    ZeroPad(ZeroPadShortcut),
}

impl Shortcut {
    fn new(
        in_channels: usize,
        out: usize,
        stride: usize,
        kind: ShortcutKind,
        device: &Device,
    ) -> Option<Self> {
        if stride == 1 && in_channels == out {
            return None;
        }
        Some(match kind {
            ShortcutKind::Projection => {
                Self::Projection(ConvBn::new(in_channels, out, 1, stride, device))
            }
            ShortcutKind::ZeroPad => {
                // The authors pad `out / 4` channels on each side for `out = 2 * in`.
                let extra = out
                    .checked_sub(in_channels)
                    .expect("a zero-padding shortcut cannot drop channels");
                Self::ZeroPad(ZeroPadShortcut {
                    // A 1x1 max-pool with the stride picks exactly every stride-th pixel.
                    subsample: MaxPool2dConfig::new([1, 1])
                        .with_strides([stride, stride])
                        .init(),
                    before: extra / 2,
                    after: extra - extra / 2,
                })
            }
        })
    }

    fn apply(shortcut: &Option<Self>, x: Tensor<4>) -> Tensor<4> {
        match shortcut {
            None => x,
            Some(Self::Projection(conv)) => conv.forward(x),
            Some(Self::ZeroPad(pad)) => pad.forward(x),
        }
    }
}

/// He et al.'s option A: `x[:, :, ::stride, ::stride]` with `before` zero channels in front and
/// `after` behind.
#[derive(Module, Debug)]
pub struct ZeroPadShortcut {
    subsample: MaxPool2d,
    before: usize,
    after: usize,
}

impl ZeroPadShortcut {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.subsample.forward(x);
        let [batch, _, h, w] = x.dims();
        let device = x.device();
        let zeros = |channels| Tensor::<4>::zeros([batch, channels, h, w], &device);
        Tensor::cat(vec![zeros(self.before), x, zeros(self.after)], 1)
    }
}

#[expect(
    clippy::large_enum_variant,
    reason = "a network holds a few, built once"
)]
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
        let kind = BlockKind::Basic(ShortcutKind::ZeroPad);
        let (blocks, channels) = build_stages(width, &stages, kind, device);
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
        let kind = match bottleneck {
            true => BlockKind::Bottleneck,
            false => BlockKind::Basic(ShortcutKind::Projection),
        };
        let (blocks, channels) = build_stages(width, &stages, kind, device);
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

/// Which residual block a ResNet is made of.
#[derive(Debug, Clone, Copy)]
enum BlockKind {
    Basic(ShortcutKind),
    /// Always with projection shortcuts.
    Bottleneck,
}

/// Residual stages given as `(channels, blocks, stride of the first block)`; returns the blocks
/// and the channel count of the last one.
fn build_stages(
    in_channels: usize,
    stages: &[(usize, usize, usize)],
    kind: BlockKind,
    device: &Device,
) -> (Vec<ResidualBlock>, usize) {
    let mut blocks = Vec::new();
    let mut channels = in_channels;
    for &(width, count, stride) in stages {
        for i in 0..count {
            let stride = if i == 0 { stride } else { 1 };
            let block = match kind {
                BlockKind::Bottleneck => {
                    let block = Bottleneck::new(channels, width, stride, device);
                    channels = width * Bottleneck::EXPANSION;
                    ResidualBlock::Bottleneck(block)
                }
                BlockKind::Basic(shortcut) => {
                    let block = BasicBlock::new(channels, width, stride, shortcut, device);
                    channels = width;
                    ResidualBlock::Basic(block)
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_pad_shortcut_is_strided_pixels_between_zero_channels() {
        let device = Device::flex();
        let (batch, channels, side) = (2, 2, 5);
        let values: Vec<f32> = (0..batch * channels * side * side)
            .map(|v| v as f32)
            .collect();
        let x = Tensor::<4>::from_data(
            TensorData::new(values.clone(), [batch, channels, side, side]),
            &device,
        );
        let shortcut = Shortcut::new(channels, 2 * channels, 2, ShortcutKind::ZeroPad, &device);
        let y = Shortcut::apply(&shortcut, x);
        assert_eq!(y.dims(), [batch, 4, 3, 3]);
        let got = y.try_to_vec_as::<f32>().unwrap();
        // PyTorch's F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 1, 1)).
        let mut want = Vec::new();
        for b in 0..batch {
            for c in 0..4 {
                for i in 0..3 {
                    for j in 0..3 {
                        want.push(match c {
                            1 | 2 => values[((b * channels + c - 1) * side + 2 * i) * side + 2 * j],
                            _ => 0.0,
                        });
                    }
                }
            }
        }
        assert_eq!(got, want);
    }
}
