//! The target classes and the gradient of their scores w.r.t. the last conv block's activations,
//! by a backward pass or, for a GAP + linear head, in closed form.

use super::{SaliencyError, Target};
use crate::cam_model::CamModel;
use burn::prelude::*;

/// Everything a gradient-weighted CAM needs, detached from any autodiff graph.
pub(super) struct ClassGradients {
    /// `[batch, channels, h, w]`
    pub activations: Tensor<4>,
    /// `d logits[b, targets[b]] / d activations[b]`, `[batch, channels, h, w]`
    pub gradients: Tensor<4>,
    /// `[batch, classes]`
    pub logits: Tensor<2>,
    /// `[batch]`
    pub targets: Tensor<1, Int>,
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
pub(super) fn backward(
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
        gradients,
        logits: logits.without_autodiff(),
        targets: targets.without_autodiff(),
    })
}

/// Gradients of a GAP + linear head with weight `[classes, channels]`, without a backward pass:
/// `d logits[c] / d A_kij = W[c, k] / (h * w)`, constant over space.
pub(super) fn gap_linear(
    model: &impl CamModel,
    weight: Tensor<2>,
    images: Tensor<4>,
    target: &Target,
) -> Result<ClassGradients, SaliencyError> {
    let (activations, logits) = forward(model, images);
    let targets = resolve_targets(target, &logits)?;
    let [batch, channels, height, width] = activations.dims();
    let gradients = weight
        .select(0, targets.clone())
        .div_scalar((height * width) as f32)
        .reshape([batch, channels, 1, 1])
        .expand([batch, channels, height, width]);
    Ok(ClassGradients {
        activations,
        gradients,
        logits,
        targets,
    })
}
