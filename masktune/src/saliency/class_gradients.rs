//! The target classes and the gradient of their scores w.r.t. the last conv block's activations,
//! by a backward pass or, for a GAP + linear head, in closed form.

use super::{GradientPath, SaliencyError, Target};
use crate::cam_model::CamModel;
use burn::prelude::*;

/// Everything a gradient-weighted CAM needs, detached from any autodiff graph: the part of the
/// saliency computation that runs the network. What follows (weights, map, scaling, masking)
/// is done by Burn tensor ops in [`super::xgradcam_maps`] or by the WGSL kernels of the
/// `kernels` crate.
#[derive(Clone, Debug)]
pub struct ClassGradients {
    /// `[batch, channels, h, w]`
    pub activations: Tensor<4>,
    /// `d logits[b, targets[b]] / d activations[b]`
    pub gradient: ScoreGradient,
    /// `[batch, classes]`
    pub logits: Tensor<2>,
    /// `[batch]`
    pub targets: Tensor<1, Int>,
}

/// The gradient of each image's target score w.r.t. the activations.
#[derive(Clone, Debug)]
pub enum ScoreGradient {
    /// A global-average-pool + linear head with `weight` `[classes, channels]`: the gradient is
    /// `weight[target, k] / (h * w)`, constant over space, so it is kept in this closed form.
    GapLinear { weight: Tensor<2> },
    /// From a backward pass, `[batch, channels, h, w]`.
    Dense(Tensor<4>),
}

impl ClassGradients {
    /// The gradient as a `[batch, channels, h, w]` tensor (a broadcast view for a GAP + linear head).
    pub fn dense_gradient(&self) -> Tensor<4> {
        match &self.gradient {
            ScoreGradient::Dense(gradients) => gradients.clone(),
            ScoreGradient::GapLinear { weight } => {
                let [batch, channels, height, width] = self.activations.dims();
                weight
                    .clone()
                    .select(0, self.targets.clone())
                    .div_scalar((height * width) as f32)
                    .reshape([batch, channels, 1, 1])
                    .expand([batch, channels, height, width])
            }
        }
    }
}

/// Runs `model` on `images` and finds the gradient of each `target` class score w.r.t. the last
/// conv block, by the way `path` chooses.
pub fn class_gradients(
    model: &impl CamModel,
    images: Tensor<4>,
    target: &Target,
    path: GradientPath,
) -> Result<ClassGradients, SaliencyError> {
    let backward = match path {
        GradientPath::Backward => true,
        GradientPath::ForwardOnly => false,
        GradientPath::Auto => model.gap_linear_weight().is_none(),
    };
    if backward {
        return by_backward_pass(model, images, target);
    }
    let weight = gap_linear_weight(model, "the forward-only gradient path")?;
    let (activations, logits) = forward(model, images);
    let targets = resolve_targets(target, &logits)?;
    Ok(ClassGradients {
        activations,
        gradient: ScoreGradient::GapLinear { weight },
        logits,
        targets,
    })
}

/// The model's GAP + linear weight off autodiff, or the error naming what `needed_by` it.
pub(super) fn gap_linear_weight(
    model: &impl CamModel,
    needed_by: &'static str,
) -> Result<Tensor<2>, SaliencyError> {
    model
        .gap_linear_weight()
        .map(Tensor::without_autodiff)
        .ok_or(SaliencyError::NeedsGapLinearHead(needed_by))
}

/// Activations and logits without autodiff (the model may live on an autodiff device).
pub(super) fn forward(model: &impl CamModel, images: Tensor<4>) -> (Tensor<4>, Tensor<2>) {
    let activations = model.features(images).without_autodiff();
    let logits = model.head(activations.clone()).without_autodiff();
    (activations, logits)
}

/// The class per image: the argmax of `logits`, or the given classes after checking them.
pub(super) fn resolve_targets(
    target: &Target,
    logits: &Tensor<2>,
) -> Result<Tensor<1, Int>, SaliencyError> {
    let [batch, classes] = logits.dims();
    match target {
        Target::Predicted => Ok(logits.clone().argmax(1).reshape([batch])),
        Target::Classes(given) => {
            if given.len() != batch {
                return Err(SaliencyError::TargetCount {
                    given: given.len(),
                    batch,
                });
            }
            if let Some(&class) = given.iter().find(|&&class| class >= classes) {
                return Err(SaliencyError::TargetOutOfRange { class, classes });
            }
            let data = TensorData::new(given.iter().map(|&c| c as i64).collect(), [batch]);
            Ok(Tensor::from_data(data, &logits.device()))
        }
    }
}

/// Gradients by backpropagating the summed target scores through the head.
fn by_backward_pass(
    model: &impl CamModel,
    images: Tensor<4>,
    target: &Target,
) -> Result<ClassGradients, SaliencyError> {
    // Only d score / d activations is needed, so the activations become the leaf and the feature
    // extractor runs without a tape; head parameters off autodiff act as constants.
    let activations = model.features(images).without_autodiff();
    let leaf = activations.clone().autodiff().require_grad();
    let logits = model.head(leaf.clone());
    let targets = resolve_targets(target, &logits)?;
    let batch = targets.dims()[0];
    // Images do not interact in an eval-mode head, so one backward of the summed scores gives
    // each image the gradient of its own score (as pytorch-grad-cam does).
    let score = logits
        .clone()
        .gather(1, targets.clone().reshape([batch, 1]))
        .sum();
    if !score.is_tracked() {
        return Err(SaliencyError::HeadIgnoresFeatures);
    }
    let gradients = leaf
        .grad(&score.backward())
        .ok_or(SaliencyError::HeadIgnoresFeatures)?;
    Ok(ClassGradients {
        activations,
        gradient: ScoreGradient::Dense(gradients),
        logits: logits.without_autodiff(),
        targets: targets.without_autodiff(),
    })
}
