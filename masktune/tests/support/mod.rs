//! Helpers the integration tests share.

use burn::prelude::*;
use masktune::cam_model::CamModel;
use masktune::models::{AnyModel, Architecture};

/// Three random 28x28 RGB images.
pub fn images(device: &Device) -> Tensor<4> {
    Tensor::random(
        [3, 3, 28, 28],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        device,
    )
}

/// A model whose batch-norm running statistics differ from their initial values, so a
/// round trip that dropped them (or rounded them) would show.
pub fn trained(arch: Architecture) -> AnyModel {
    let autodiff = Device::flex().autodiff();
    let model = arch.init(&autodiff);
    model.forward(images(&autodiff));
    model.valid()
}
