//! The models' convolutions, batch norms and max pools. On the CPU backend they run through
//! `extension::LayerBackend`: the convolution and its gradients as matrix products over im2col
//! matrices (`conv`), batch norm in a few passes (`batch_norm`) and max pooling by tiling windows
//! (`max_pool`); the benchmark models' training steps run 1.2x (VGG-11) to ~2.5x (the narrow
//! models) faster than with Burn's generic CPU versions (docs/BENCHMARKS.md). At inference
//! time a batch norm and the ReLU after it run as one pass over their input
//! (`channel_affine`). Elsewhere, and for layers these do not cover (bias, groups, overlapping
//! pools), Burn's modules run as is.

mod batch_norm;
mod channel_affine;
mod conv;
mod extension;
mod im2col;
mod matmul;
mod max_pool;
mod padded_grid;
mod parallel;

use burn::backend::ops::ConvOptions;
use burn::backend::{Dispatch, DispatchDevice};
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::prelude::*;

use extension::LayerBackend;

fn on_cpu(device: &Device) -> bool {
    matches!(
        device.as_dispatch().clone().inner(),
        DispatchDevice::Flex(_)
    )
}

/// `conv.forward(x)`.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let Some(options) = conv_options(conv).filter(|_| on_cpu(&x.device())) else {
        return conv.forward(x);
    };
    Tensor::from_dispatch(<Dispatch as LayerBackend>::conv2d_without_bias(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        options,
    ))
}

/// `bn.forward(conv.forward(x))`, then ReLU when `relu`. On the CPU at inference time (no
/// autodiff), the batch norm and the ReLU run as one pass over the convolution's output
/// ([`channel_affine`]).
pub fn conv_batch_norm(conv: &Conv2d, bn: &BatchNorm, x: Tensor<4>, relu: bool) -> Tensor<4> {
    batch_norm_then(bn, conv2d(conv, x), relu)
}

/// The options of a convolution the extension runs (no bias, no groups, explicit padding).
fn conv_options(conv: &Conv2d) -> Option<ConvOptions<2>> {
    let padding = match conv.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
        // "Same" depends on the input size; the models do not use it.
        PaddingConfig2d::Same => return None,
    };
    (conv.bias.is_none() && conv.groups == 1)
        .then(|| ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups))
}

/// `bn.forward(x)`: in training (an autodiff device and the layer not frozen), the batch's
/// statistics normalise and update the running ones, as in Burn's `BatchNorm`; at inference on
/// the CPU, the running statistics rescale `x` in one pass (`channel_affine`).
pub fn batch_norm<const D: usize>(bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    batch_norm_then(bn, x, false)
}

/// [`batch_norm`], then ReLU when `relu`.
fn batch_norm_then<const D: usize>(bn: &BatchNorm, x: Tensor<D>, relu: bool) -> Tensor<D> {
    let device = x.device();
    let relu_if = |y: Tensor<D>| {
        if relu {
            burn::tensor::activation::relu(y)
        } else {
            y
        }
    };
    if !on_cpu(&device) {
        return relu_if(bn.forward(x));
    }
    if !device.is_autodiff() {
        return Tensor::from_dispatch(<Dispatch as LayerBackend>::batch_norm_inference(
            x.into_dispatch(),
            bn.gamma.val().into_dispatch(),
            bn.beta.val().into_dispatch(),
            bn.running_mean.value().into_dispatch(),
            bn.running_var.value().into_dispatch(),
            bn.epsilon,
            relu,
        ));
    }
    if !bn.training.is_enabled() {
        return relu_if(bn.forward(x));
    }
    let (output, mean, variance) = <Dispatch as LayerBackend>::batch_norm_with_batch_statistics(
        x.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
        bn.epsilon,
    );
    let (mean, variance) = (
        Tensor::<1>::from_dispatch(mean),
        Tensor::<1>::from_dispatch(variance),
    );
    let update = |running: Tensor<1>, batch: Tensor<1>| {
        running
            .mul_scalar(1.0 - bn.momentum)
            .add(batch.detach().mul_scalar(bn.momentum))
            .detach()
    };
    let running_mean = bn.running_mean.value_sync().to_device(&device);
    let running_var = bn.running_var.value_sync().to_device(&device);
    bn.running_mean.update(update(running_mean, mean));
    bn.running_var.update(update(running_var, variance));
    relu_if(Tensor::from_dispatch(output))
}

/// `pool.forward(x)`: on the CPU, windows that tile the input (stride = kernel, no padding or
/// dilation, rounding down) run through [`max_pool`].
pub fn max_pool2d(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let unpadded = matches!(
        pool.padding,
        PaddingConfig2d::Valid | PaddingConfig2d::Explicit(0, 0, 0, 0)
    );
    let tiled =
        pool.stride == pool.kernel_size && pool.dilation == [1, 1] && !pool.ceil_mode && unpadded;
    if !tiled || !on_cpu(&x.device()) {
        return pool.forward(x);
    }
    Tensor::from_dispatch(<Dispatch as LayerBackend>::max_pool2d_tiled(
        x.into_dispatch(),
        pool.kernel_size,
    ))
}
