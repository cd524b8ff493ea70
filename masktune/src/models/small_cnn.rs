//! The small CNN for spurious MNIST: RGB input (the shortcut is a red square), 28x28.

use burn::prelude::*;

use super::plain_cnn::PlainCnn;

impl PlainCnn {
    /// Three stages of two 3x3 conv + BN + ReLU layers with `width`, `2*width`, `4*width`
    /// channels; two max-pools, so a 28x28 input ends in a 7x7 last block.
    pub fn small_cnn(
        in_channels: usize,
        num_classes: usize,
        width: usize,
        device: &Device,
    ) -> Self {
        let stages = [1, 2, 4].map(|m| vec![m * width; 2]);
        Self::new(in_channels, num_classes, &stages, 2, device)
    }
}
