//! The split every classifier exposes so that class-activation maps can be computed on it.

use burn::prelude::*;

/// A classifier seen as `scores = head(features(images))`, where `features` ends at the last
/// convolutional block (the layer XGradCAM looks at).
pub trait CamModel {
    /// Activations of the last convolutional block, `[batch, channels, height, width]`.
    fn features(&self, images: Tensor<4>) -> Tensor<4>;

    /// Class scores (logits, before softmax) from those activations, `[batch, classes]`.
    fn head(&self, features: Tensor<4>) -> Tensor<2>;

    /// When the head is global-average-pool followed by one linear layer, its weight as
    /// `[classes, channels]`. The class-score gradient w.r.t. the features is then constant over
    /// space, so CAM-family maps need no backward pass (see `saliency`).
    fn gap_linear_weight(&self) -> Option<Tensor<2>>;

    /// Class scores for a batch of preprocessed images, `[batch, classes]`.
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head(self.features(images))
    }
}
