//! The small CNN for spurious MNIST: RGB input (the shortcut is a red square), 28x28.

use burn::prelude::*;

use super::layers::{ConvStack, GapLinear};
use crate::cam_model::CamModel;

/// Three stages of two 3x3 conv + BN + ReLU layers with `width`, `2*width`, `4*width`
/// channels; two max-pools, so a 28x28 input ends in a 7x7 last block.
#[derive(Module, Debug)]
pub struct SmallCnn {
    body: ConvStack,
    head: GapLinear,
}

impl SmallCnn {
    pub fn new(in_channels: usize, num_classes: usize, width: usize, device: &Device) -> Self {
        let stages = [1, 2, 4].map(|m| vec![m * width; 2]);
        Self {
            body: ConvStack::new(in_channels, &stages, 2, device),
            head: GapLinear::new(4 * width, num_classes, device),
        }
    }
}

impl CamModel for SmallCnn {
    fn features(&self, images: Tensor<4>) -> Tensor<4> {
        self.body.forward(images)
    }

    fn head(&self, features: Tensor<4>) -> Tensor<2> {
        self.head.forward(features)
    }

    fn gap_linear_weight(&self) -> Option<Tensor<2>> {
        Some(self.head.weight())
    }
}
