//! The models' convolutions. On the CPU backend they run through [`backend::ConvBackend`]: the
//! convolution and its gradients as per-image matrix products ([`cpu`]), which made the training
//! step 2-4x faster than Burn's own CPU convolution (docs/BENCHMARKS.md); elsewhere, and for
//! convolutions with bias or groups, through Burn's `Conv2d` as is.

mod backend;
mod cpu;
mod im2col;

use burn::backend::ops::ConvOptions;
use burn::backend::{Dispatch, DispatchDevice};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;

use backend::ConvBackend;

/// `conv.forward(x)`, with the CPU backend's faster weight gradient where it applies.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let on_cpu = matches!(
        x.device().as_dispatch().clone().inner(),
        DispatchDevice::Flex(_)
    );
    let padding = match conv.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
        // "Same" depends on the input size; the models do not use it.
        PaddingConfig2d::Same => return conv.forward(x),
    };
    if !on_cpu || conv.bias.is_some() || conv.groups != 1 {
        return conv.forward(x);
    }
    let options = ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups);
    Tensor::from_dispatch(<Dispatch as ConvBackend>::conv2d_without_bias(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        options,
    ))
}
