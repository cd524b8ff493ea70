//! `masktune::cpu::{conv2d, batch_norm, conv_batch_norm, max_pool2d}` on the CPU backend (their
//! own kernels) against Burn's `Conv2d`, `BatchNorm` and `MaxPool2d`: the same outputs, gradients
//! and running statistics.

use burn::module::{Param, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::{Distribution, Tolerance};
// app/tests/cpu_layers.rs runs this file in the browser, where the tests are wasm-bindgen tests.
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

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
    let ours = run(&conv, &x, &r, masktune::cpu::conv2d);
    let burns = run(&conv, &x, &r, |conv, x| conv.forward(x));
    for (what, (a, b)) in ["output", "input gradient", "weight gradient"]
        .iter()
        .zip(ours.iter().zip(&burns))
    {
        assert_eq!(a.shape(), b.shape(), "{what}");
        // A weight gradient sums thousands of products of N(0, 1) values and reaches ~100:
        // two summation orders then differ by about 1e-6 of it in f32, past an absolute 1e-4
        // (-75.50846 against -75.50857 in CI on 2026-12-06, from unseeded random inputs).
        a.assert_approx_eq::<f32>(b, Tolerance::rel_abs(1e-5, 1e-4));
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
    // Rows long enough for the stride-1 path by kernel rows (as in ResNet's first stages).
    check(Case {
        channels: [4, 5],
        kernel: 3,
        stride: 1,
        padding: 1,
        side: 19,
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
    // Odd channel counts: the page's weight-gradient kernel ends rows and columns in part tiles.
    for channels in [[5, 7], [6, 3]] {
        check(Case {
            channels,
            kernel: 3,
            stride: 1,
            padding: 1,
            side: 9,
        });
    }
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
    masktune::cpu::conv2d(&frozen, x.clone())
        .into_data()
        .assert_approx_eq::<f32>(&conv.forward(x).into_data(), Tolerance::absolute(1e-5));
}

/// Output, gradients of input, gamma and beta, and the running mean and variance after
/// `sum(norm(x) * r)` through `forward` on a fresh batch norm with `gamma` and `beta`.
fn run_batch_norm<const D: usize>(
    [x, r]: [&Tensor<D>; 2],
    [gamma, beta]: [&Tensor<1>; 2],
    forward: impl Fn(&BatchNorm, Tensor<D>) -> Tensor<D>,
) -> Vec<TensorData> {
    let bn = BatchNorm {
        gamma: Param::from_tensor(gamma.clone()),
        beta: Param::from_tensor(beta.clone()),
        ..BatchNormConfig::new(x.dims()[1]).init(&x.device())
    };
    let x = x.clone().require_grad();
    let y = forward(&bn, x.clone());
    let grads = (y.clone() * r.clone()).sum().backward();
    vec![
        y.into_data(),
        x.grad(&grads).expect("x is tracked").into_data(),
        bn.gamma
            .grad(&grads)
            .expect("gamma is a parameter")
            .into_data(),
        bn.beta
            .grad(&grads)
            .expect("beta is a parameter")
            .into_data(),
        bn.running_mean.value_sync().into_data(),
        bn.running_var.value_sync().into_data(),
    ]
}

fn check_batch_norm<const D: usize>(shape: [usize; D]) {
    let device = Device::flex().autodiff();
    // Inputs far from zero mean and unit variance, as activations are.
    let x = Tensor::<D>::random(shape, Distribution::Normal(3.0, 2.0), &device);
    let r = Tensor::<D>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    // Gamma and beta away from their initial 1 and 0, so that wrong uses of either show.
    let gamma = Tensor::<1>::random([shape[1]], Distribution::Uniform(0.5, 1.5), &device);
    let beta = Tensor::<1>::random([shape[1]], Distribution::Normal(0.0, 1.0), &device);
    let ours = run_batch_norm([&x, &r], [&gamma, &beta], masktune::cpu::batch_norm);
    let burns = run_batch_norm([&x, &r], [&gamma, &beta], |bn, x| bn.forward(x));
    let names = [
        "output",
        "input gradient",
        "gamma gradient",
        "beta gradient",
        "running mean",
        "running variance",
    ];
    for (what, (a, b)) in names.iter().zip(ours.iter().zip(&burns)) {
        assert_eq!(a.shape(), b.shape(), "{what}");
        a.assert_approx_eq::<f32>(b, Tolerance::absolute(1e-3));
    }
}

#[test]
fn batch_norm_same_as_burn_in_training() {
    check_batch_norm([6, 5, 7, 4]); // after a convolution
    check_batch_norm([9, 12, 1]); // the MNIST network's hidden layer
}

#[test]
fn batch_norm_same_as_burn_in_evaluation() {
    let device = Device::flex();
    let bn = BatchNormConfig::new(3).init(&device);
    let x = Tensor::<4>::random([2, 3, 5, 5], Distribution::Normal(1.0, 2.0), &device);
    masktune::cpu::batch_norm(&bn, x.clone())
        .into_data()
        .assert_approx_eq::<f32>(&bn.forward(x).into_data(), Tolerance::absolute(1e-6));
}

#[test]
fn conv_batch_norm_at_inference_same_as_burns_layers() {
    let device = Device::flex();
    // 3x3 "same" (VGG), unpadded (the MNIST network), strided (ResNet); one image as the page
    // runs them, and a batch.
    for (channels, padding, stride, batch) in
        [([3, 16], 1, 1, 1), ([16, 8], 0, 1, 5), ([8, 12], 1, 2, 2)]
    {
        let conv = Conv2dConfig::new(channels, [3, 3])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(
                padding, padding, padding, padding,
            ))
            .with_bias(false)
            .init(&device);
        let bn = trained_batch_norm(channels[1], &device);
        let x = Tensor::<4>::random(
            [batch, channels[0], 9, 9],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let burns = bn.forward(conv.forward(x.clone()));
        let ours = masktune::cpu::conv_batch_norm(&conv, &bn, x.clone(), false);
        assert!(
            ours.clone().lower_elem(0.0).any().into_scalar::<bool>(),
            "without ReLU, negative values stay"
        );
        ours.into_data()
            .assert_approx_eq::<f32>(&burns.clone().into_data(), Tolerance::absolute(1e-5));
        masktune::cpu::conv_batch_norm(&conv, &bn, x, true)
            .into_data()
            .assert_approx_eq::<f32>(
                &burn::tensor::activation::relu(burns).into_data(),
                Tolerance::absolute(1e-5),
            );
    }
}

/// The MNIST network's head normalises `[batch, units, 1]`; its input, which the caller still
/// holds, stays as it was (the CPU version works in place only on values nobody else holds).
#[test]
fn batch_norm_at_inference_same_as_burns_layer() {
    let device = Device::flex();
    let bn = trained_batch_norm(32, &device);
    let x = Tensor::<3>::random([4, 32, 1], Distribution::Normal(0.0, 1.0), &device);
    let before = x.clone().into_data();
    masktune::cpu::batch_norm(&bn, x.clone())
        .into_data()
        .assert_approx_eq::<f32>(
            &bn.forward(x.clone()).into_data(),
            Tolerance::absolute(1e-5),
        );
    assert_eq!(x.into_data(), before, "the input is unchanged");
}

/// A batch norm over `channels` with trained-looking statistics and affine parameters, none of
/// them 0 or 1.
fn trained_batch_norm(channels: usize, device: &Device) -> BatchNorm {
    let per_channel = |distribution| Tensor::<1>::random([channels], distribution, device);
    BatchNorm {
        gamma: Param::from_tensor(per_channel(Distribution::Uniform(0.5, 1.5))),
        beta: Param::from_tensor(per_channel(Distribution::Normal(0.0, 1.0))),
        running_mean: RunningState::new(per_channel(Distribution::Normal(0.0, 0.5))),
        running_var: RunningState::new(per_channel(Distribution::Uniform(0.2, 3.0))),
        ..BatchNormConfig::new(channels).init(device)
    }
}

/// Output and input gradient of `sum(pool(x) * r)` through `forward`.
fn run_pool(
    pool: &MaxPool2d,
    x: &Tensor<4>,
    r: &Tensor<4>,
    forward: impl Fn(&MaxPool2d, Tensor<4>) -> Tensor<4>,
) -> [TensorData; 2] {
    let x = x.clone().require_grad();
    let y = forward(pool, x.clone());
    let grads = (y.clone() * r.clone()).sum().backward();
    [
        y.into_data(),
        x.grad(&grads).expect("x is tracked").into_data(),
    ]
}

#[test]
fn max_pool_same_as_burn() {
    let device = Device::flex().autodiff();
    // Odd sides (the last row and column dropped), and values rounded to a coarse grid so that
    // windows hold ties (the first maximum takes the gradient).
    for (kernel, side) in [(2, 9), (2, 8), (3, 7)] {
        let pool = MaxPool2dConfig::new([kernel, kernel]).init();
        let x = Tensor::<4>::random([3, 4, side, side], Distribution::Normal(0.0, 1.0), &device)
            .mul_scalar(2.0)
            .round();
        let out = side / kernel;
        let r = Tensor::<4>::random([3, 4, out, out], Distribution::Normal(0.0, 1.0), &device);
        let ours = run_pool(&pool, &x, &r, masktune::cpu::max_pool2d);
        let burns = run_pool(&pool, &x, &r, |pool, x| pool.forward(x));
        for (what, (a, b)) in ["output", "input gradient"]
            .iter()
            .zip(ours.iter().zip(&burns))
        {
            assert_eq!(a.shape(), b.shape(), "{what}");
            a.assert_approx_eq::<f32>(b, Tolerance::absolute(1e-6));
        }
    }
}
