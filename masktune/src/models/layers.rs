//! Building blocks shared by the models: convolution + batch norm, a plain convolution stack,
//! and the global-average-pool + linear head most models end with.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

/// A bias-free convolution followed by batch norm (the norm's beta is the bias).
#[derive(Module, Debug)]
pub struct ConvBn {
    conv: Conv2d,
    bn: BatchNorm,
}

impl ConvBn {
    /// `kernel` x `kernel` convolution with padding `kernel / 2`, so that stride 1 keeps the
    /// spatial size and stride 2 halves it.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        device: &Device,
    ) -> Self {
        Self::with_padding(
            in_channels,
            out_channels,
            kernel,
            stride,
            kernel / 2,
            device,
        )
    }

    /// Stride-1 `kernel` x `kernel` convolution without padding ("valid"): each side shrinks by
    /// `kernel - 1`.
    pub fn unpadded(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        device: &Device,
    ) -> Self {
        Self::with_padding(in_channels, out_channels, kernel, 1, 0, device)
    }

    fn with_padding(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
        device: &Device,
    ) -> Self {
        let conv = Conv2dConfig::new([in_channels, out_channels], [kernel, kernel])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .with_bias(false)
            // He et al.'s initialisation for ReLU nets (fan-out, as in torchvision's ResNet).
            .with_initializer(Initializer::KaimingNormal {
                gain: 2f64.sqrt(),
                fan_out_only: true,
            })
            .init(device);
        let bn = BatchNormConfig::new(out_channels).init(device);
        Self { conv, bn }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        crate::cpu::conv_batch_norm(&self.conv, &self.bn, x, false)
    }

    pub fn forward_relu(&self, x: Tensor<4>) -> Tensor<4> {
        crate::cpu::conv_batch_norm(&self.conv, &self.bn, x, true)
    }
}

/// Whether the 3x3 convolutions of a [`ConvStack`] pad their input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvPadding {
    /// Pad by one pixel: each convolution keeps the spatial size.
    Same,
    /// No padding: each convolution takes two pixels off each side.
    Valid,
}

/// 3x3 conv + BN + ReLU layers in stages, with a 2x2 max-pool after each of the first stages.
/// The body of the VGG-style models and of the authors' MNIST network.
#[derive(Module, Debug)]
pub struct ConvStack {
    convs: Vec<ConvBn>,
    /// `pool_after[i]`: a max-pool follows conv `i`.
    pool_after: Vec<bool>,
    pool: MaxPool2d,
}

impl ConvStack {
    /// `stages[s]` lists the output channels of stage `s`'s convolutions; the first
    /// `pooled_stages` stages end with a max-pool, the rest keep their resolution (so the last
    /// block stays large enough for a useful saliency map).
    pub fn new(
        in_channels: usize,
        stages: &[Vec<usize>],
        pooled_stages: usize,
        padding: ConvPadding,
        device: &Device,
    ) -> Self {
        let mut convs = Vec::new();
        let mut pool_after = Vec::new();
        let mut channels = in_channels;
        for (s, stage) in stages.iter().enumerate() {
            for (i, &out) in stage.iter().enumerate() {
                convs.push(match padding {
                    ConvPadding::Same => ConvBn::new(channels, out, 3, 1, device),
                    ConvPadding::Valid => ConvBn::unpadded(channels, out, 3, device),
                });
                pool_after.push(s < pooled_stages && i + 1 == stage.len());
                channels = out;
            }
        }
        Self {
            convs,
            pool_after,
            pool: MaxPool2dConfig::new([2, 2]).init(),
        }
    }

    pub fn forward(&self, mut x: Tensor<4>) -> Tensor<4> {
        for (conv, &pool) in self.convs.iter().zip(&self.pool_after) {
            x = conv.forward_relu(x);
            if pool {
                x = crate::cpu::max_pool2d(&self.pool, x);
            }
        }
        x
    }
}

/// Global average pool followed by one linear layer: the CAM-friendly head.
#[derive(Module, Debug)]
pub struct GapLinear {
    linear: Linear,
}

impl GapLinear {
    pub fn new(channels: usize, classes: usize, device: &Device) -> Self {
        Self {
            linear: LinearConfig::new(channels, classes).init(device),
        }
    }

    pub fn forward(&self, features: Tensor<4>) -> Tensor<2> {
        let [batch, channels, _, _] = features.dims();
        let pooled = features.mean_dim(3).mean_dim(2).reshape([batch, channels]);
        self.linear.forward(pooled)
    }

    /// The linear weight as `[classes, channels]` (Burn stores it as `[in, out]`).
    pub fn weight(&self) -> Tensor<2> {
        self.linear.weight.val().transpose()
    }
}
