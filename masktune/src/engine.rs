//! The masking engine: what turns a batch's class gradients into XGradCAM maps and MaskTune's
//! masked images (DESIGN.md steps 2 and 3 after the network). Two implementations compute the
//! same thing: [`TensorEngine`] here, Burn tensor ops on whatever device the model runs on (the
//! CPU path), and the `kernels` crate's WGSL kernels on a wgpu device (WebGPU in the page, wgpu in
//! the trainer). The trainer's masking pass and the page both take an engine, so they share one
//! code path per device.

use crate::masking::{MaskStats, mask_image};
use crate::readback::read;
use crate::saliency::{ClassGradients, xgradcam_maps};

/// Raw interleaved u8 images `[batch, height, width, channels]` to be masked in place.
pub struct RawImages<'a> {
    pub bytes: &'a mut [u8],
    pub height: usize,
    pub width: usize,
    /// 1 (grey) or 3 (RGB); every channel of a hidden pixel is set to 0.
    pub channels: usize,
}

/// XGradCAM maps and masking for a batch.
pub trait MaskingEngine {
    /// What runs the computation, for people (e.g. "WGSL kernels").
    fn name(&self) -> &'static str;

    /// XGradCAM maps `[batch, height, width]` in `[0, 1]` at the images' resolution, returned,
    /// and each image masked in place where its map exceeds `mean + 2 std` of its positive values.
    #[allow(async_fn_in_trait)] // used single-threaded, in a page or under `block_on`
    async fn maps_and_masks(
        &self,
        found: ClassGradients,
        images: RawImages<'_>,
    ) -> Result<(Vec<f32>, Vec<MaskStats>), String>;
}

/// Burn tensor ops on the model's own device for the maps; thresholds and masks on the host in
/// `f64` (`masking::mask_image`, the reference the kernels are tested against).
#[derive(Clone, Copy, Debug, Default)]
pub struct TensorEngine;

impl MaskingEngine for TensorEngine {
    fn name(&self) -> &'static str {
        "Burn tensor ops"
    }

    async fn maps_and_masks(
        &self,
        found: ClassGradients,
        images: RawImages<'_>,
    ) -> Result<(Vec<f32>, Vec<MaskStats>), String> {
        let RawImages {
            bytes,
            height,
            width,
            channels,
        } = images;
        let plane = height * width;
        let [batch, ..] = found.activations.dims();
        if bytes.len() != batch * plane * channels {
            return Err(format!(
                "{} image bytes for {batch} images of {width}x{height}x{channels}",
                bytes.len()
            ));
        }
        let maps: Vec<f32> = read(xgradcam_maps(&found, height, width)).await?;
        let stats = bytes
            .chunks_exact_mut(plane * channels)
            .zip(maps.chunks_exact(plane))
            .map(|(image, map)| mask_image(image, width, height, channels, map))
            .collect();
        Ok((maps, stats))
    }
}
