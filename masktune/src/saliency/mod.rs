//! Class-activation saliency maps (DESIGN.md step 2): XGradCAM, as MaskTune uses, plus Grad-CAM and
//! CAM, batched on any Burn device and matching jacobgil/pytorch-grad-cam's numbers.
//!
//! Pipeline per image: activations `A` of the last conv block and the gradient `G` of the target
//! class score w.r.t. `A` ([`class_gradients`]) → channel weights ([`cam`]) →
//! `ReLU(sum_k w_k A_k)` → min-max → bilinear resize to the input size → min-max ([`scaling`]).
//! No tensor is read back to the host, so this also runs on WebGPU in the browser.

pub mod cam;
mod class_gradients;
pub mod scaling;

pub use class_gradients::{ClassGradients, ScoreGradient, class_gradients};

use crate::cam_model::CamModel;
use burn::prelude::*;
use burn::tensor::activation::softmax;

/// How channels are weighted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Method {
    /// `w_k = sum_ij(G_kij * A_kij) / (sum_ij A_kij + 1e-7)` (the map MaskTune masks with).
    #[default]
    XGradCam,
    /// `w_k = mean_ij G_kij`.
    GradCam,
    /// `w_k = W[class, k]` of a global-average-pool + linear head; needs no gradient.
    Cam,
}

/// Which class each image's map explains.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Target {
    /// The model's prediction (argmax of the logits), as MaskTune does.
    #[default]
    Predicted,
    /// One given class per image.
    Classes(Vec<usize>),
}

/// How the gradient of the class score w.r.t. the activations is obtained (gradient methods only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GradientPath {
    /// A backward pass through the head on an autodiff device; works for any head.
    Backward,
    /// For a global-average-pool + linear head, `G_kij = W[class, k] / (H * W)` exactly, so no
    /// backward pass is needed (useful where autodiff is unavailable, e.g. WebGPU in a page).
    ForwardOnly,
    /// `ForwardOnly` when the model exposes its GAP + linear weight, else `Backward`.
    #[default]
    Auto,
}

/// What [`saliency_maps`] computes for a batch. Tensors stay on the device (no autodiff).
#[derive(Clone, Debug)]
pub struct SaliencyOutput {
    /// `[batch, height, width]` at the input resolution, each map min-max normalised to `[0, 1]`.
    pub maps: Tensor<3>,
    /// `[batch, classes]`, the model's logits for the images.
    pub logits: Tensor<2>,
    /// `[batch]`, the class each map explains.
    pub targets: Tensor<1, Int>,
}

impl SaliencyOutput {
    /// Softmax of the logits, `[batch, classes]`.
    pub fn probabilities(&self) -> Tensor<2> {
        softmax(self.logits.clone(), 1)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SaliencyError {
    #[error("{0} needs a global-average-pool + linear head, which this model does not expose")]
    NeedsGapLinearHead(&'static str),
    #[error("{given} target classes given for a batch of {batch} images")]
    TargetCount { given: usize, batch: usize },
    #[error("target class {class} is out of range for a model with {classes} classes")]
    TargetOutOfRange { class: usize, classes: usize },
    #[error("the class scores do not depend on the features, so there is no gradient")]
    HeadIgnoresFeatures,
}

/// Saliency maps of `images` (`[batch, channels, height, width]`, preprocessed as the model expects)
/// for the `target` classes, with `method`; `path` chooses how gradients are obtained.
pub fn saliency_maps(
    model: &impl CamModel,
    images: Tensor<4>,
    method: Method,
    target: &Target,
    path: GradientPath,
) -> Result<SaliencyOutput, SaliencyError> {
    let [_, _, height, width] = images.dims();
    let (activations, logits, targets, weights) = match method {
        Method::Cam => {
            let weight = class_gradients::gap_linear_weight(model, "CAM")?;
            let (activations, logits) = class_gradients::forward(model, images);
            let targets = class_gradients::resolve_targets(target, &logits)?;
            let weights = weight.select(0, targets.clone());
            (activations, logits, targets, weights)
        }
        Method::XGradCam | Method::GradCam => {
            let found = class_gradients(model, images, target, path)?;
            let weights = if method == Method::XGradCam {
                cam::xgradcam_weights(found.activations.clone(), found.dense_gradient())
            } else {
                cam::gradcam_weights(found.dense_gradient())
            };
            (found.activations, found.logits, found.targets, weights)
        }
    };
    Ok(SaliencyOutput {
        maps: scaled_map(activations, weights, height, width),
        logits,
        targets,
    })
}

/// XGradCAM maps `[batch, height, width]` in `[0, 1]` from a batch's class gradients.
pub fn xgradcam_maps(found: &ClassGradients, height: usize, width: usize) -> Tensor<3> {
    let weights = cam::xgradcam_weights(found.activations.clone(), found.dense_gradient());
    scaled_map(found.activations.clone(), weights, height, width)
}

/// `ReLU(sum_k w_k A_k)`, min-max normalised, resized to `height x width`, min-max normalised.
fn scaled_map(
    activations: Tensor<4>,
    weights: Tensor<2>,
    height: usize,
    width: usize,
) -> Tensor<3> {
    let map = cam::class_activation_map(activations, weights);
    scaling::min_max_normalise(scaling::resize_bilinear(
        scaling::min_max_normalise(map),
        height,
        width,
    ))
}
