//! A plain CNN: stages of 3x3 conv + BN + ReLU layers, max-pools between the first stages, then
//! global-average-pool + linear. The small spurious-MNIST CNN (`small_cnn.rs`) and VGG (`vgg.rs`)
//! are two layouts of it.

use burn::prelude::*;

use super::layers::{ConvPadding, ConvStack, GapLinear};
use crate::cam_model::CamModel;

#[derive(Module, Debug)]
pub struct PlainCnn {
    body: ConvStack,
    head: GapLinear,
}

impl PlainCnn {
    /// `stages[i]` lists the output channels of stage `i`'s convolutions; the first `pools`
    /// stages end with a 2x2 max-pool.
    pub(super) fn new(
        in_channels: usize,
        num_classes: usize,
        stages: &[Vec<usize>],
        pools: usize,
        device: &Device,
    ) -> Self {
        let last_channels = *stages
            .last()
            .and_then(|s| s.last())
            .expect("a CNN has at least one convolution");
        Self {
            body: ConvStack::new(in_channels, stages, pools, ConvPadding::Same, device),
            head: GapLinear::new(last_channels, num_classes, device),
        }
    }
}

impl CamModel for PlainCnn {
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
