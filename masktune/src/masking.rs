//! MaskTune's masking (DESIGN.md step 3): per image, threshold `t = mean + 2 * std` of the saliency
//! values `> 0`, where `std` is the population standard deviation (ddof = 0, numpy's `nanstd`
//! default, as in the authors' `src/utils/masking.py`); pixels with `map > t` are set to 0 in the
//! raw (uint8, un-normalised) image, all channels.
//!
//! A map with no positive value masks nothing (the authors' threshold is NaN there, and `x > NaN` is
//! false); both paths report threshold 0 for it, which masks nothing either since no value is `> 0`.
//! A single positive pixel is never masked: it is its own mean, with std 0.

use crate::reference;
use burn::prelude::*;
use burn::tensor::kind::Basic;

/// What masking one image did.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MaskStats {
    /// The threshold the map was compared with (`map > threshold` is hidden).
    pub threshold: f32,
    /// How many pixels (not channel values) were set to 0.
    pub masked_pixels: usize,
}

/// Masks one raw interleaved image in place: `raw` is `height x width x channels` bytes (HWC),
/// `map` its saliency map, `height x width`, at the same resolution.
pub fn mask_image(
    raw: &mut [u8],
    width: usize,
    height: usize,
    channels: usize,
    map: &[f32],
) -> MaskStats {
    assert_eq!(map.len(), width * height, "the map is not width x height");
    assert_eq!(
        raw.len(),
        map.len() * channels,
        "the image is not width x height x channels"
    );
    let values: Vec<f64> = map.iter().map(|&v| f64::from(v)).collect();
    // Compared in f32, so `threshold` is exactly the boundary that was applied.
    let threshold = reference::mask_threshold(&values) as f32;
    let mut masked_pixels = 0;
    for (pixel, _) in raw
        .chunks_mut(channels)
        .zip(map)
        .filter(|(_, v)| **v > threshold)
    {
        pixel.fill(0);
        masked_pixels += 1;
    }
    MaskStats {
        threshold,
        masked_pixels,
    }
}

/// Which pixels a batch of maps hides, on the maps' device.
#[derive(Clone, Debug)]
pub struct BatchMasks {
    /// `[batch, height, width]`, true where `map > threshold` (the pixel is set to 0).
    pub hidden: Tensor<3, Bool>,
    /// `[batch]`, the per-image thresholds.
    pub thresholds: Tensor<1>,
}

/// Thresholds and hidden pixels for maps `[batch, height, width]`.
pub fn batch_masks(maps: Tensor<3>) -> BatchMasks {
    let [batch, height, width] = maps.dims();
    let flat = maps.clone().reshape([batch, height * width]);
    let positive = flat.clone().greater_elem(0.0).float();
    // At least 1, so an image without positive values gets mean 0 and std 0 rather than NaN.
    let count = positive.clone().sum_dim(1).clamp_min(1.0);
    let mean = (flat.clone() * positive.clone()).sum_dim(1) / count.clone();
    let variance = ((flat - mean.clone()) * positive).square().sum_dim(1) / count;
    let thresholds = mean + variance.sqrt().mul_scalar(2.0);
    let hidden = maps.greater(
        thresholds
            .clone()
            .reshape([batch, 1, 1])
            .expand([batch, height, width]),
    );
    BatchMasks {
        hidden,
        thresholds: thresholds.reshape([batch]),
    }
}

/// Where the channel axis of an image batch is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelLayout {
    /// `[batch, channels, height, width]`, as models take them.
    First,
    /// `[batch, height, width, channels]`, as decoded raw images are.
    Last,
}

/// Sets the `hidden` pixels (`[batch, height, width]`) of `images` to 0 in every channel.
/// Works for raw images held as Int or Float tensors.
pub fn mask_images<K: Basic>(
    images: Tensor<4, K>,
    hidden: Tensor<3, Bool>,
    layout: ChannelLayout,
) -> Tensor<4, K> {
    let dims = images.dims();
    let channel_axis = match layout {
        ChannelLayout::First => 1,
        ChannelLayout::Last => 3,
    };
    let hidden = hidden.unsqueeze_dim::<4>(channel_axis).expand(dims);
    images.mask_fill(hidden, 0)
}
