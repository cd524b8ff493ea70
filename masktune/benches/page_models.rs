//! The page's models on the CPU backend, natively, one image at a time as the page runs them:
//! each shipped bundle's forward pass (logits read back), median milliseconds.
//!
//!     cargo bench -p masktune --bench page_models -- [repeats]
//!
//! The page's own numbers (wasm in Chromium) come from bench/browser_latency and
//! bench/vs_onnxruntime; this one isolates the models from the browser, for profiling
//! (`perf record` on the bench binary).

use burn::prelude::*;
use masktune::bundle::Bundle;
use masktune::cam_model::CamModel;

use timing::median_ms;

mod timing;

const MODELS: [&str; 6] = [
    "spurious-mnist-erm",
    "spurious-mnist-masktune",
    "cifar10-erm",
    "cifar10-masktune",
    "celeba-erm",
    "celeba-masktune",
];

fn main() {
    let repeats = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200);
    let device = Device::flex();
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../app/assets/models");
    println!("one image, median of {repeats}, ms\n");
    println!("| model | input | forward (ms) |");
    println!("|---|---|---:|");
    for name in MODELS {
        let read =
            |name: &str| std::fs::read(format!("{folder}/{name}.mtb")).expect("a shipped bundle");
        // A MaskTune bundle is stored as its difference from its ERM bundle's weights.
        let (bytes, erm) = (read(name), read(&name.replace("-masktune", "-erm")));
        let whole = Bundle::whole(&bytes, &erm).expect("a bundle and its ERM bundle");
        let (model, meta) = Bundle::from_bytes(&whole, &device).expect("a valid bundle");
        // Every model takes RGB (spurious MNIST too: its shortcut is a red square).
        let [channels, height, width] = [3, meta.input_size.height, meta.input_size.width];
        let input = Tensor::<4>::random(
            [1, channels, height, width],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        let ms = median_ms(repeats, || {
            let logits: Vec<f32> = model
                .forward(input.clone())
                .into_data()
                .try_to_vec::<f32>()
                .expect("f32 logits");
            std::hint::black_box(logits);
        });
        println!("| {name} | {channels}x{height}x{width} | {ms:.3} |");
    }
}
