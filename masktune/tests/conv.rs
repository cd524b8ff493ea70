//! `masktune::conv::conv2d` on the CPU backend (its own weight gradient) against Burn's
//! `Conv2d::forward`: the same output, and the same gradients for the input and the weight.

use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::{Distribution, Tolerance};

struct Case {
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    padding: usize,
    side: usize,
}

/// Output, input gradient and weight gradient of `sum(conv(x) * r)` through `forward`.
fn run(
    conv: &Conv2d,
    x: &Tensor<4>,
    r: &Tensor<4>,
    forward: impl Fn(&Conv2d, Tensor<4>) -> Tensor<4>,
) -> [TensorData; 3] {
    let x = x.clone().require_grad();
    let y = forward(conv, x.clone());
    let grads = (y.clone() * r.clone()).sum().backward();
    let grad_x = x.grad(&grads).expect("x is tracked");
    let grad_w = conv.weight.grad(&grads).expect("the weight is a parameter");
    [y.into_data(), grad_x.into_data(), grad_w.into_data()]
}

fn check(case: Case) {
    let device = Device::flex().autodiff();
    let Case {
        channels,
        kernel,
        stride,
        padding,
        side,
    } = case;
    let conv = Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_bias(false)
        .init(&device);
    let x = Tensor::<4>::random(
        [6, channels[0], side, side],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let out_side = (side + 2 * padding - kernel) / stride + 1;
    let r = Tensor::<4>::random(
        [6, channels[1], out_side, out_side],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let ours = run(&conv, &x, &r, masktune::conv::conv2d);
    let burns = run(&conv, &x, &r, |conv, x| conv.forward(x));
    for (what, (a, b)) in ["output", "input gradient", "weight gradient"]
        .iter()
        .zip(ours.iter().zip(&burns))
    {
        assert_eq!(a.shape(), b.shape(), "{what}");
        a.assert_approx_eq::<f32>(b, Tolerance::absolute(1e-4));
    }
}

#[test]
fn same_as_burn_for_the_models_convolutions() {
    // 3x3 "same" (VGG, ResNet), unpadded (the MNIST network), strided, and a 1x1 projection.
    check(Case {
        channels: [3, 8],
        kernel: 3,
        stride: 1,
        padding: 1,
        side: 12,
    });
    check(Case {
        channels: [4, 5],
        kernel: 3,
        stride: 1,
        padding: 0,
        side: 11,
    });
    check(Case {
        channels: [8, 16],
        kernel: 3,
        stride: 2,
        padding: 1,
        side: 10,
    });
    check(Case {
        channels: [8, 16],
        kernel: 1,
        stride: 2,
        padding: 0,
        side: 9,
    });
}

#[test]
fn untracked_inputs_and_frozen_weights_give_burns_output() {
    let device = Device::flex().autodiff();
    let conv = Conv2dConfig::new([3, 4], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .init(&device);
    let frozen = Conv2d {
        weight: Param::from_tensor(conv.weight.val().detach()).set_require_grad(false),
        ..conv.clone()
    };
    let x = Tensor::<4>::random([2, 3, 7, 7], Distribution::Normal(0.0, 1.0), &device);
    masktune::conv::conv2d(&frozen, x.clone())
        .into_data()
        .assert_approx_eq::<f32>(&conv.forward(x).into_data(), Tolerance::absolute(1e-5));
}
