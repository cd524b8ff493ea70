//! Our side of `bench/vs_pytorch/run.sh`: the training step and the masking pass of the three
//! benchmark models, timed exactly as `bench/vs_pytorch/pytorch_side.py` times PyTorch's (same
//! architectures, batch sizes and inputs; see that file). Prints one JSON object per line.
//!
//!     cargo bench -p trainer-native --bench vs_pytorch -- [--backend cpu|wgpu] [--models a,b] [--repeats N]

use std::time::Instant;

use burn::nn::loss::CrossEntropyLoss;
use burn::optim::GradientsParams;
use burn::prelude::*;
use clap::Parser;
use masktune::cam_model::CamModel;
use masktune::engine::{MaskingEngine, RawImages};
use masktune::models::Architecture;
use masktune::models::preprocess::{InputSize, Normalization, images_to_tensor};
use masktune::saliency::{GradientPath, Target, class_gradients};
use masktune::training::optimizer::{OptimizerKind, OptimizerSettings};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trainer_native::backend::{Backend, Masking};

#[derive(Parser)]
struct Args {
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "mnist-cnn,small-cnn,vgg11-w32,resnet32"
    )]
    models: Vec<String>,
    #[arg(long, default_value_t = 10)]
    repeats: usize,
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// cargo bench passes `--bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

/// (architecture, side, batch): the trainer's defaults (src/train/experiment.rs).
fn model(name: &str) -> (Architecture, usize, usize) {
    match name {
        "mnist-cnn" => (Architecture::spurious_mnist(), 28, 128),
        "small-cnn" => (
            Architecture::SmallCnn {
                in_channels: 3,
                num_classes: 2,
                width: 16,
            },
            28,
            128,
        ),
        "vgg11-w32" => (Architecture::cifar10_vgg(), 32, 128),
        "resnet32" => (Architecture::cifar10_resnet32(), 32, 128),
        other => panic!("unknown model {other}: mnist-cnn, small-cnn, vgg11-w32 or resnet32"),
    }
}

/// Median seconds of `repeats` calls of `step` after `warmup` calls.
fn timed(warmup: usize, repeats: usize, mut step: impl FnMut()) -> f64 {
    for _ in 0..warmup {
        step();
    }
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| {
            let start = Instant::now();
            step();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    // As in the trainer's own `main`.
    trainer_native::allocator::keep_freed_memory();
    let args = Args::parse();
    let device = args.backend.device().unwrap_or_else(|e| panic!("{e}"));
    let engine = args
        .backend
        .masking_engine(Masking::Auto)
        .unwrap_or_else(|e| panic!("{e}"));
    let normalization = Normalization {
        mean: [0.5; 3],
        std: [0.25; 3],
    };
    let backend = serde_json::to_value(args.backend).expect("backend names serialise");
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    for name in &args.models {
        let (architecture, side, batch) = model(name);
        let classes = architecture.num_classes();
        let raw: Vec<u8> = (0..batch * side * side * 3).map(|_| rng.random()).collect();
        let labels: Vec<i64> = (0..batch)
            .map(|_| rng.random_range(0..classes as i64))
            .collect();
        let size = InputSize {
            height: side,
            width: side,
        };
        let input =
            |device: &Device| images_to_tensor(&raw, batch, size, &normalization, device).unwrap();

        let autodiff = device.clone().autodiff();
        let mut model = Some(architecture.init(&autodiff));
        let settings = OptimizerSettings {
            kind: OptimizerKind::Sgd,
            lr: 0.01,
            momentum: 0.9,
            weight_decay: 1e-4,
            milestones: Vec::new(),
            gamma: 1.0,
        };
        let mut optimizer = settings.build();
        let loss_fn = CrossEntropyLoss::new(None, &autodiff);
        let targets = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch]), &autodiff);
        let train = timed(args.warmup, args.repeats, || {
            let current = model
                .take()
                .expect("the model is put back after every step");
            let loss = loss_fn.forward(current.forward(input(&autodiff)), targets.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &current);
            let next = optimizer.step(0.01, current, grads);
            // Reading the loss waits for the device, so the whole step is timed.
            let _ = loss.into_scalar::<f32>();
            model = Some(next);
        });

        let eval = model.take().expect("trained model").valid();
        let mask = timed(1, (args.repeats / 2).max(3), || {
            let found = class_gradients(
                &eval,
                input(&device),
                &Target::Predicted,
                GradientPath::Auto,
            )
            .unwrap();
            let mut bytes = raw.clone();
            let images = RawImages {
                bytes: &mut bytes,
                height: side,
                width: side,
                channels: 3,
            };
            pollster::block_on(engine.maps_and_masks(found, images)).unwrap();
        });
        for (what, seconds) in [("train", train), ("mask", mask)] {
            let line = serde_json::json!({
                "side": format!("ours-{}", backend.as_str().unwrap_or("?")),
                "model": name, "what": what, "batch": batch,
                "seconds_per_batch": seconds, "images_per_second": batch as f64 / seconds,
                "masking_engine": engine.name(),
            });
            println!("{line}");
        }
    }
}
