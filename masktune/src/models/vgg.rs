//! VGG with batch norm for CIFAR-10 (Simonyan & Zisserman's layouts, GAP + linear head).

use burn::prelude::*;

use super::plain_cnn::PlainCnn;

/// The depths VGG is defined for.
pub const VGG_DEPTHS: [usize; 4] = [11, 13, 16, 19];

/// Convolutions per stage for a VGG depth (the five stages have `width * [1, 2, 4, 8, 8]`
/// channels), or `None` for a depth VGG does not define.
pub fn vgg_stage_lengths(depth: usize) -> Option<[usize; 5]> {
    match depth {
        11 => Some([1, 1, 2, 2, 2]),
        13 => Some([2, 2, 2, 2, 2]),
        16 => Some([2, 2, 3, 3, 3]),
        19 => Some([2, 2, 4, 4, 4]),
        _ => None,
    }
}

impl PlainCnn {
    /// VGG-`depth` with base width `width` (64 in the paper; 32 halves every layer).
    ///
    /// Only the first three stages end with a max-pool: dropping the last two (as the CAM paper
    /// does for VGG) keeps the last conv block at 1/8 of the input, 4x4 on CIFAR-10, instead of 1x1.
    ///
    /// # Panics
    /// If `depth` is not one of [`VGG_DEPTHS`] (check with [`vgg_stage_lengths`] first).
    pub fn vgg(
        in_channels: usize,
        num_classes: usize,
        depth: usize,
        width: usize,
        device: &Device,
    ) -> Self {
        let lengths = vgg_stage_lengths(depth)
            .unwrap_or_else(|| panic!("VGG depth {depth} is not one of {VGG_DEPTHS:?}"));
        let stages: Vec<Vec<usize>> = lengths
            .iter()
            .zip([1, 2, 4, 8, 8])
            .map(|(&len, mult)| vec![mult * width; len])
            .collect();
        Self::new(in_channels, num_classes, &stages, 3, device)
    }
}
