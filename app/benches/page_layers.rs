//! The page's layers, one image at a time, as the page's wasm build runs them in Chromium: each
//! convolution (+ batch norm + ReLU) and max pool of the shipped models through masktune's CPU
//! layers ("ours") and through Burn's modules ("Burn"), then each shipped bundle's whole forward
//! pass; and the Lab's training through each convolution of the MNIST net (forward and both
//! gradients, batch 128). wasm-bindgen-test's port of criterion runs them in a dedicated worker
//! (as the page's compute worker) and compares every time with the file of the previous run
//! (before / after):
//!
//!     bench/page_layers/run.sh [mnist|cifar10|celeba|models|lab_training]
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::Distribution;
use masktune::bundle::Bundle;
use masktune::cam_model::CamModel;
use wasm_bindgen_test::{Criterion, wasm_bindgen_bench};

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

/// A 3x3 convolution + batch norm + ReLU of a shipped model (stride 1).
struct ConvLayer {
    name: &'static str,
    channels: [usize; 2],
    side: usize,
    padding: usize,
}

const fn conv(name: &'static str, channels: [usize; 2], side: usize, padding: usize) -> ConvLayer {
    ConvLayer {
        name,
        channels,
        side,
        padding,
    }
}

/// Every distinct convolution of the shipped models, in order (VGG-11 at width 16 repeats its
/// last shape three times).
const CONVS: [ConvLayer; 14] = [
    conv("MNIST net conv 1 (3->16, 28x28, unpadded)", [3, 16], 28, 0),
    conv(
        "MNIST net conv 2 (16->16, 26x26, unpadded)",
        [16, 16],
        26,
        0,
    ),
    conv(
        "MNIST net conv 3 (16->32, 12x12, unpadded)",
        [16, 32],
        12,
        0,
    ),
    conv(
        "MNIST net conv 4 (32->32, 10x10, unpadded)",
        [32, 32],
        10,
        0,
    ),
    conv("CIFAR-10 VGG conv 1 (3->16, 32x32)", [3, 16], 32, 1),
    conv("CIFAR-10 VGG conv 2 (16->32, 16x16)", [16, 32], 16, 1),
    conv("CIFAR-10 VGG conv 3 (32->64, 8x8)", [32, 64], 8, 1),
    conv("CIFAR-10 VGG conv 4 (64->64, 8x8)", [64, 64], 8, 1),
    conv("CIFAR-10 VGG conv 5 (64->128, 4x4)", [64, 128], 4, 1),
    conv("CIFAR-10 VGG conv 6-8 (128->128, 4x4)", [128, 128], 4, 1),
    conv("CelebA VGG conv 1 (3->16, 64x64)", [3, 16], 64, 1),
    conv("CelebA VGG conv 2 (16->32, 32x32)", [16, 32], 32, 1),
    conv("CelebA VGG conv 4 (64->64, 16x16)", [64, 64], 16, 1),
    conv("CelebA VGG conv 6-8 (128->128, 8x8)", [128, 128], 8, 1),
];

/// (name, `[channels, side]`) of the shipped models' 2x2 max pools' inputs.
const POOLS: [(&str, [usize; 2]); 5] = [
    ("MNIST net pool 1 (16, 24x24)", [16, 24]),
    ("MNIST net pool 2 (32, 8x8)", [32, 8]),
    ("CIFAR-10 VGG pool 1 (16, 32x32)", [16, 32]),
    ("CelebA VGG pool 1 (16, 64x64)", [16, 64]),
    ("CelebA VGG pool 2 (32, 32x32)", [32, 32]),
];

/// (name, bytes, its ERM bundle's bytes) of the shipped MaskTune bundles, which are stored as
/// their difference from their ERM bundles' weights.
const BUNDLES: [(&str, &[u8], &[u8]); 3] = [
    (
        "spurious MNIST (MaskTune)",
        include_bytes!("../assets/models/spurious-mnist-masktune.mtb"),
        include_bytes!("../assets/models/spurious-mnist-erm.mtb"),
    ),
    (
        "CIFAR-10 (MaskTune)",
        include_bytes!("../assets/models/cifar10-masktune.mtb"),
        include_bytes!("../assets/models/cifar10-erm.mtb"),
    ),
    (
        "CelebA (MaskTune)",
        include_bytes!("../assets/models/celeba-masktune.mtb"),
        include_bytes!("../assets/models/celeba-erm.mtb"),
    ),
];

/// `c` with shorter runs than criterion's defaults (3 s + 5 s per row): the 49 rows take about
/// 2.5 minutes.
fn shorter(c: &mut Criterion) -> &mut Criterion {
    *c = std::mem::take(c)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    c
}

/// `f(x)`, waiting for the result as the page does (a read-back).
fn run(f: &dyn Fn(Tensor<4>) -> Tensor<4>, x: &Tensor<4>) {
    std::hint::black_box(f(x.clone()).into_data());
}

fn compare(
    c: &mut Criterion,
    name: &str,
    x: &Tensor<4>,
    ours: &dyn Fn(Tensor<4>) -> Tensor<4>,
    burns: &dyn Fn(Tensor<4>) -> Tensor<4>,
) {
    c.bench_function(&format!("{name}: ours"), |b| b.iter(|| run(ours, x)));
    c.bench_function(&format!("{name}: Burn"), |b| b.iter(|| run(burns, x)));
}

/// The layers of the model whose names start with `model`.
fn layers_of(c: &mut Criterion, model: &str) {
    let chosen = |name: &str| name.starts_with(model);
    let device = Device::flex();
    let normal = Distribution::Normal(0.0, 1.0);
    for layer in CONVS.iter().filter(|l| chosen(l.name)) {
        let p = layer.padding;
        let conv: Conv2d = Conv2dConfig::new(layer.channels, [3, 3])
            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
            .with_bias(false)
            .init(&device);
        let bn: BatchNorm = BatchNormConfig::new(layer.channels[1]).init(&device);
        let x = Tensor::<4>::random(
            [1, layer.channels[0], layer.side, layer.side],
            normal,
            &device,
        );
        let ours = |x| masktune::cpu::conv_batch_norm(&conv, &bn, x, true);
        let burns = |x| burn::tensor::activation::relu(bn.forward(conv.forward(x)));
        compare(c, layer.name, &x, &ours, &burns);
    }
    let pool: MaxPool2d = MaxPool2dConfig::new([2, 2]).init();
    for (name, [channels, side]) in POOLS.into_iter().filter(|(name, _)| chosen(name)) {
        let x = Tensor::<4>::random([1, channels, side, side], normal, &device);
        let ours = |x| masktune::cpu::max_pool2d(&pool, x);
        compare(c, name, &x, &ours, &|x| pool.forward(x));
    }
}

#[wasm_bindgen_bench]
fn mnist(c: &mut Criterion) {
    layers_of(shorter(c), "MNIST");
}

#[wasm_bindgen_bench]
fn cifar10(c: &mut Criterion) {
    layers_of(shorter(c), "CIFAR-10");
}

#[wasm_bindgen_bench]
fn celeba(c: &mut Criterion) {
    layers_of(shorter(c), "CelebA");
}

/// The Lab's batch size (the authors' recipe).
const LAB_BATCH: usize = 128;

/// The output, input gradient and weight gradient of `sum(conv(x) * r)`, read back, as one
/// training step computes them for the convolution.
fn train_through(
    conv: &Conv2d,
    forward: &dyn Fn(&Conv2d, Tensor<4>) -> Tensor<4>,
    x: &Tensor<4>,
    r: &Tensor<4>,
) {
    let x = x.clone().require_grad();
    let grads = (forward(conv, x.clone()) * r.clone()).sum().backward();
    let input_grad = x.grad(&grads).expect("x is tracked");
    let weight_grad = conv.weight.grad(&grads).expect("the weight is a parameter");
    std::hint::black_box((input_grad.into_data(), weight_grad.into_data()));
}

#[wasm_bindgen_bench]
fn lab_training(c: &mut Criterion) {
    let c = shorter(c);
    let device = Device::flex().autodiff();
    let normal = Distribution::Normal(0.0, 1.0);
    for layer in CONVS.iter().filter(|l| l.name.starts_with("MNIST")) {
        let conv: Conv2d = Conv2dConfig::new(layer.channels, [3, 3])
            .with_bias(false)
            .init(&device);
        let [side, out] = [layer.side, layer.side - 2];
        let x = Tensor::<4>::random([LAB_BATCH, layer.channels[0], side, side], normal, &device);
        let r = Tensor::<4>::random([LAB_BATCH, layer.channels[1], out, out], normal, &device);
        let name = format!("{}, training, batch {LAB_BATCH}", layer.name);
        c.bench_function(&format!("{name}: ours"), |b| {
            b.iter(|| train_through(&conv, &|conv, x| masktune::cpu::conv2d(conv, x), &x, &r))
        });
        c.bench_function(&format!("{name}: Burn"), |b| {
            b.iter(|| train_through(&conv, &|conv, x| conv.forward(x), &x, &r))
        });
    }
}

#[wasm_bindgen_bench]
fn models(c: &mut Criterion) {
    let c = shorter(c);
    let device = Device::flex();
    for (name, bytes, erm) in BUNDLES {
        let whole = Bundle::whole(bytes, erm).expect("a shipped bundle and its base");
        let (model, meta) = Bundle::from_bytes(&whole, &device).expect("a shipped bundle");
        let side = [meta.input_size.height, meta.input_size.width];
        let x = Tensor::<4>::random(
            [1, 3, side[0], side[1]],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        c.bench_function(&format!("{name} forward"), |b| {
            b.iter(|| std::hint::black_box(model.forward(x.clone()).into_data()))
        });
    }
}
