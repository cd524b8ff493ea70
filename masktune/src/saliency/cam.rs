//! Channel weights of the CAM family and the weighted map, batched (pytorch-grad-cam's
//! `get_cam_weights` and `get_cam_image`).

use burn::prelude::*;

/// XGradCAM's `1e-7` in the denominator, kept so all-zero channels get weight 0, not NaN.
const EPS: f32 = 1e-7;

/// XGradCAM weights `[batch, channels]` from activations and gradients `[batch, channels, h, w]`:
/// `w_k = sum_ij(G_kij * A_kij) / (sum_ij A_kij + 1e-7)`.
pub fn xgradcam_weights(activations: Tensor<4>, gradients: Tensor<4>) -> Tensor<2> {
    let [batch, channels, _, _] = activations.dims();
    let weighted = (gradients * activations.clone()).sum_dims(&[2, 3]);
    let total = activations.sum_dims(&[2, 3]).add_scalar(EPS);
    (weighted / total).reshape([batch, channels])
}

/// Grad-CAM weights `[batch, channels]`: the spatial mean of the gradients.
pub fn gradcam_weights(gradients: Tensor<4>) -> Tensor<2> {
    let [batch, channels, _, _] = gradients.dims();
    gradients.mean_dims(&[2, 3]).reshape([batch, channels])
}

/// `ReLU(sum_k w_k A_k)`, `[batch, h, w]`, from activations `[batch, channels, h, w]` and
/// weights `[batch, channels]`.
pub fn class_activation_map(activations: Tensor<4>, weights: Tensor<2>) -> Tensor<3> {
    let [batch, channels, height, width] = activations.dims();
    let weights = weights
        .reshape([batch, channels, 1, 1])
        .expand([batch, channels, height, width]);
    (activations * weights)
        .sum_dim(1)
        .reshape([batch, height, width])
        .clamp_min(0.0)
}
