//! `masktune::cpu::{conv2d, max_pool2d}` against Burn's `Conv2d` and `MaxPool2d` on the CPU
//! backend, layer by layer for the convolutions and pools of the benchmark models at the
//! trainer's batch size: the forward pass alone, and forward + backward through autodiff
//! (`sum(layer(x) * r)`, all gradients). Prints a Markdown table of medians in milliseconds.
//!
//!     cargo bench -p masktune --features rayon --bench cpu_layers -- [repeats] [name filter]
//!
//! With a filter, only the layers whose name contains it (e.g. "ResNet stage 2"), for profiling.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::MaxPool2dConfig;
use burn::prelude::*;
use burn::tensor::Distribution;

use timing::median_ms;

mod timing;

const BATCH: usize = 128;

struct Layer {
    name: &'static str,
    channels: [usize; 2],
    side: usize,
    stride: usize,
    padding: usize,
}

const LAYERS: [Layer; 9] = [
    Layer {
        name: "MNIST net conv 2 (16->16, 26x26, unpadded)",
        channels: [16, 16],
        side: 26,
        stride: 1,
        padding: 0,
    },
    Layer {
        name: "small CNN stage 2 (32->32, 14x14)",
        channels: [32, 32],
        side: 14,
        stride: 1,
        padding: 1,
    },
    Layer {
        name: "ResNet stage 1 (16->16, 32x32)",
        channels: [16, 16],
        side: 32,
        stride: 1,
        padding: 1,
    },
    Layer {
        name: "ResNet downsampling (16->32, 32x32, stride 2)",
        channels: [16, 32],
        side: 32,
        stride: 2,
        padding: 1,
    },
    Layer {
        name: "ResNet stage 2 (32->32, 16x16)",
        channels: [32, 32],
        side: 16,
        stride: 1,
        padding: 1,
    },
    Layer {
        name: "ResNet stage 3 (64->64, 8x8)",
        channels: [64, 64],
        side: 8,
        stride: 1,
        padding: 1,
    },
    Layer {
        name: "VGG (128->128, 8x8)",
        channels: [128, 128],
        side: 8,
        stride: 1,
        padding: 1,
    },
    Layer {
        name: "VGG (256->256, 4x4)",
        channels: [256, 256],
        side: 4,
        stride: 1,
        padding: 1,
    },
    Layer {
        name: "VGG (256->256, 2x2)",
        channels: [256, 256],
        side: 2,
        stride: 1,
        padding: 1,
    },
];

/// (name, `[channels, side]`) of the models' 2x2 max pools' inputs.
const POOLS: [(&str, [usize; 2]); 3] = [
    ("MNIST net pool 1 (16, 24x24)", [16, 24]),
    ("MNIST net pool 2 (32, 8x8)", [32, 8]),
    ("VGG pool 1 (32, 32x32)", [32, 32]),
];

/// One table row: `ours` and `burns` on `x`, forward alone and forward + backward.
fn row(
    name: &str,
    repeats: usize,
    x: &Tensor<4>,
    ours: &dyn Fn(Tensor<4>) -> Tensor<4>,
    burns: &dyn Fn(Tensor<4>) -> Tensor<4>,
) {
    let r = ours(x.clone().detach()).random_like(Distribution::Normal(0.0, 1.0));
    let forward = |f: &dyn Fn(Tensor<4>) -> Tensor<4>| {
        median_ms(repeats, || {
            // `into_data` waits for the result on every backend.
            f(x.clone().detach()).into_data();
        })
    };
    let forward_backward = |f: &dyn Fn(Tensor<4>) -> Tensor<4>| {
        median_ms(repeats, || {
            let x = x.clone().detach().require_grad();
            let grads = (f(x.clone()) * r.clone()).sum().backward();
            x.grad(&grads).expect("x is tracked").into_data();
        })
    };
    println!(
        "| {name} | {:.1} | {:.1} | {:.1} | {:.1} |",
        forward(ours),
        forward(burns),
        forward_backward(ours),
        forward_backward(burns),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let repeats = args.iter().find_map(|a| a.parse().ok()).unwrap_or(7);
    // (cargo bench passes `--bench` itself.)
    let filter = args
        .iter()
        .find(|a| a.parse::<usize>().is_err() && !a.starts_with("--"));
    let chosen = |name: &str| filter.is_none_or(|f| name.contains(f.as_str()));
    let device = Device::flex().autodiff();
    let normal = Distribution::Normal(0.0, 1.0);
    println!("batch {BATCH}, median of {repeats}, ms\n");
    println!("| layer | ours forward | Burn forward | ours fwd+bwd | Burn fwd+bwd |");
    println!("|---|---:|---:|---:|---:|");
    for layer in LAYERS.iter().filter(|l| chosen(l.name)) {
        let p = layer.padding;
        let conv: Conv2d = Conv2dConfig::new(layer.channels, [3, 3])
            .with_stride([layer.stride, layer.stride])
            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
            .with_bias(false)
            .init(&device);
        let input = [BATCH, layer.channels[0], layer.side, layer.side];
        let x = Tensor::<4>::random(input, normal, &device);
        let ours = |x| masktune::cpu::conv2d(&conv, x);
        row(layer.name, repeats, &x, &ours, &|x| conv.forward(x));
    }
    let pool = MaxPool2dConfig::new([2, 2]).init();
    for (name, [channels, side]) in POOLS.into_iter().filter(|(name, _)| chosen(name)) {
        let x = Tensor::<4>::random([BATCH, channels, side, side], normal, &device);
        let ours = |x| masktune::cpu::max_pool2d(&pool, x);
        row(name, repeats, &x, &ours, &|x| pool.forward(x));
    }
}
