//! The MaskTune authors' spurious-MNIST network ("SmallCNN" in aliasgharkhani/Masktune,
//! `src/models/simple_cnn.py`), layer for layer: unpadded 3x3 conv + BN + ReLU with `width`,
//! `width`, max-pool, `2*width`, `2*width` channels; then max-pool, flatten, linear to
//! `16*width` units, BN, ReLU, linear to the classes. XGradCAM looks at the last ReLU before the
//! final pool (their `get_grad_cam_target_layer`), 8x8 on a 28x28 input.
//!
//! Unlike the other models its head is not GAP + linear: the flattened features keep *where*
//! things are, so a red square in a fixed corner is an easy shortcut, and the class-score
//! gradient varies over space (the saliency takes the backward path).
//!
//! The authors' convolutions have biases before their batch norms; a bias there is cancelled by
//! the norm's mean, so [`ConvBn`](super::layers::ConvBn) leaves it out (same function).

use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::layers::{ConvPadding, ConvStack};
use crate::cam_model::CamModel;

/// Hidden units of the head per unit of width (256 at the authors' width 16).
const HIDDEN_PER_WIDTH: usize = 16;

/// The side of the last conv block for an `input_size` x `input_size` image: two unpadded convs,
/// a 2x2 pool (rounding down), two more unpadded convs. `None` if the image is too small to
/// leave at least 2x2 (so that the head's pool has something to pool).
pub fn mnist_cnn_feature_side(input_size: usize) -> Option<usize> {
    let side = input_size.checked_sub(4)? / 2;
    side.checked_sub(4).filter(|&s| s >= 2)
}

#[derive(Module, Debug)]
pub struct MnistCnn {
    body: ConvStack,
    pool: MaxPool2d,
    hidden: Linear,
    hidden_norm: BatchNorm,
    classifier: Linear,
}

impl MnistCnn {
    /// # Panics
    /// If `input_size` is below 16 (see [`mnist_cnn_feature_side`]).
    pub fn new(
        in_channels: usize,
        num_classes: usize,
        width: usize,
        input_size: usize,
        device: &Device,
    ) -> Self {
        let side = mnist_cnn_feature_side(input_size).unwrap_or_else(|| {
            panic!("the MNIST CNN needs images of at least 16x16, not {input_size}")
        });
        let stages = [vec![width; 2], vec![2 * width; 2]];
        let flat = 2 * width * (side / 2) * (side / 2);
        let hidden = HIDDEN_PER_WIDTH * width;
        Self {
            body: ConvStack::new(in_channels, &stages, 1, ConvPadding::Valid, device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            hidden: LinearConfig::new(flat, hidden).init(device),
            hidden_norm: BatchNormConfig::new(hidden).init(device),
            classifier: LinearConfig::new(hidden, num_classes).init(device),
        }
    }
}

impl CamModel for MnistCnn {
    fn features(&self, images: Tensor<4>) -> Tensor<4> {
        self.body.forward(images)
    }

    fn head(&self, features: Tensor<4>) -> Tensor<2> {
        let pooled = crate::cpu::max_pool2d(&self.pool, features);
        let [batch, channels, h, w] = pooled.dims();
        let hidden = self
            .hidden
            .forward(pooled.reshape([batch, channels * h * w]));
        // Batch norm over features: Burn's wants a [batch, features, length] tensor.
        let units = hidden.dims()[1];
        let normed = crate::cpu::batch_norm(&self.hidden_norm, hidden.reshape([batch, units, 1]))
            .reshape([batch, units]);
        self.classifier.forward(relu(normed))
    }

    fn gap_linear_weight(&self) -> Option<Tensor<2>> {
        None
    }
}
