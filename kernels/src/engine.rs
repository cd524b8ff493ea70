//! The WGSL kernels as a [`MaskingEngine`], and [`Engine`], the choice a program makes at run time
//! between them and Burn's tensor ops.

use masktune::engine::{MaskingEngine, RawImages, TensorEngine};
use masktune::masking::MaskStats;
use masktune::readback::read;
use masktune::saliency::{ClassGradients, ScoreGradient};

use crate::{ChannelWeights, FeatureShape, ImageLayout, PixelFormat, SaliencyKernels};

impl MaskingEngine for SaliencyKernels {
    fn name(&self) -> &'static str {
        "WGSL kernels"
    }

    /// Reads the activations (and the classifier rows or gradients) back from Burn, then runs
    /// weights, map, scaling, threshold and masking as one submission (see the crate docs on why
    /// Burn's buffers are not bound directly). The read also completes Burn's pending work, so
    /// nothing of Burn's is in flight on a shared queue when the kernels are submitted.
    async fn maps_and_masks(
        &self,
        found: ClassGradients,
        images: RawImages<'_>,
    ) -> Result<(Vec<f32>, Vec<MaskStats>), String> {
        let [batch, channels, height, width] = found.activations.dims();
        let shape = FeatureShape {
            batch,
            channels,
            height,
            width,
        };
        let format = match images.channels {
            1 => PixelFormat::Gray,
            3 => PixelFormat::Rgb,
            other => {
                return Err(format!(
                    "the kernels mask grey or RGB images, not {other} channels"
                ));
            }
        };
        let layout = ImageLayout {
            height: images.height,
            width: images.width,
            format,
        };
        let activations: Vec<f32> = read(found.activations).await?;
        // Host copies of what the weights are made from, alive until the kernels are done.
        let (classifier, targets, gradients): (Vec<f32>, Vec<u32>, Vec<f32>);
        let weights = match found.gradient {
            ScoreGradient::GapLinear { weight } => {
                let [classes, _] = weight.dims();
                classifier = read(weight).await?;
                // Class indices, checked against `classes` by the kernels' host code.
                targets = read(found.targets).await?;
                ChannelWeights::GapLinear {
                    classifier: &classifier,
                    classes,
                    targets: &targets,
                }
            }
            ScoreGradient::Dense(dense) => {
                gradients = read(dense).await?;
                ChannelWeights::XGradCam {
                    gradients: &gradients,
                }
            }
        };
        self.saliency_and_mask(&activations, shape, weights, images.bytes, layout)
            .await
            .map_err(|e| e.to_string())
    }
}

/// The masking engine chosen at run time: the kernels where a wgpu device is at hand, Burn's
/// tensor ops otherwise.
pub enum Engine {
    Kernels(SaliencyKernels),
    Tensor,
}

impl MaskingEngine for Engine {
    fn name(&self) -> &'static str {
        match self {
            Engine::Kernels(kernels) => kernels.name(),
            Engine::Tensor => TensorEngine.name(),
        }
    }

    async fn maps_and_masks(
        &self,
        found: ClassGradients,
        images: RawImages<'_>,
    ) -> Result<(Vec<f32>, Vec<MaskStats>), String> {
        match self {
            Engine::Kernels(kernels) => kernels.maps_and_masks(found, images).await,
            Engine::Tensor => TensorEngine.maps_and_masks(found, images).await,
        }
    }
}
