//! MaskTune's post-network work (forward-only XGradCAM weights, map, min-max, resize, min-max,
//! threshold, masking of raw RGB bytes) timed three ways and printed as a Markdown table:
//! the f64 CPU reference (one thread), Burn tensor ops on `Device::flex()` (masktune's
//! `saliency::{cam, scaling}` and `masking`), and the WGSL kernels on the first wgpu adapter.
//! Every time is end to end: host inputs in, maps and masked bytes back on the host.
//!
//!     XDG_RUNTIME_DIR=/tmp/xdg cargo bench -p kernels --bench saliency

use burn::prelude::*;
use kernels::{ChannelWeights, FeatureShape, ImageLayout, PixelFormat, SaliencyKernels};
use masktune::masking::{self, ChannelLayout};
use masktune::reference;
use masktune::saliency::{cam, scaling};
use std::time::{Duration, Instant};

const CLASSES: usize = 10;

struct Case {
    shape: FeatureShape,
    size: usize,
}

struct Inputs {
    activations: Vec<f32>,
    classifier: Vec<f32>,
    targets: Vec<u32>,
    images: Vec<u8>,
}

/// What each implementation hands back: maps `[batch, size, size]` and masked RGB bytes.
struct Output {
    maps: Vec<f32>,
    images: Vec<u8>,
}

fn inputs(case: &Case) -> Inputs {
    // A fixed linear congruential sequence: the numbers only need to look like activations.
    let mut state = 0x2545_F491u32;
    let mut next = move || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 8) as f32 / (1u32 << 24) as f32
    };
    let shape = case.shape;
    Inputs {
        activations: (0..shape.values()).map(|_| next()).collect(),
        classifier: (0..CLASSES * shape.channels)
            .map(|_| next() * 2.0 - 1.0)
            .collect(),
        targets: (0..shape.batch).map(|b| (b % CLASSES) as u32).collect(),
        images: (0..shape.batch * case.size * case.size * 3)
            .map(|_| (next() * 255.0) as u8)
            .collect(),
    }
}

fn cpu_reference(case: &Case, inputs: &Inputs) -> Output {
    let shape = case.shape;
    let (plane, pixels) = (shape.plane(), case.size * case.size);
    let per_image = shape.channels * plane;
    let mut out = Output {
        maps: Vec::with_capacity(shape.batch * pixels),
        images: inputs.images.clone(),
    };
    for b in 0..shape.batch {
        let activations: Vec<f64> = inputs.activations[b * per_image..(b + 1) * per_image]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let row = inputs.targets[b] as usize * shape.channels;
        let gradients: Vec<f64> = (0..per_image)
            .map(|i| f64::from(inputs.classifier[row + i / plane]) / plane as f64)
            .collect();
        let weights = reference::xgradcam_weights(&activations, &gradients, shape.channels);
        let map = reference::saliency_map(
            &activations,
            &weights,
            shape.height,
            shape.width,
            case.size,
            case.size,
        );
        let threshold = reference::mask_threshold(&map);
        let image = &mut out.images[b * pixels * 3..(b + 1) * pixels * 3];
        for (pixel, &value) in image.chunks_mut(3).zip(&map) {
            if value > threshold {
                pixel.fill(0);
            }
        }
        out.maps.extend(map.iter().map(|&v| v as f32));
    }
    out
}

fn burn_flex(case: &Case, inputs: &Inputs) -> Output {
    let device = Device::flex();
    let FeatureShape {
        batch,
        channels,
        height,
        width,
    } = case.shape;
    let activations = Tensor::<4>::from_data(
        TensorData::new(inputs.activations.clone(), [batch, channels, height, width]),
        &device,
    );
    let classifier = Tensor::<2>::from_data(
        TensorData::new(inputs.classifier.clone(), [CLASSES, channels]),
        &device,
    );
    let targets: Vec<i64> = inputs.targets.iter().map(|&t| i64::from(t)).collect();
    let targets = Tensor::<1, Int>::from_data(TensorData::new(targets, [batch]), &device);
    // The GAP + linear head's gradient, as masktune's forward-only path builds it.
    let gradients = classifier
        .select(0, targets)
        .div_scalar((height * width) as f32)
        .reshape([batch, channels, 1, 1])
        .expand([batch, channels, height, width]);
    let weights = cam::xgradcam_weights(activations.clone(), gradients);
    let map = cam::class_activation_map(activations, weights);
    let maps = scaling::min_max_normalise(scaling::resize_bilinear(
        scaling::min_max_normalise(map),
        case.size,
        case.size,
    ));
    let hidden = masking::batch_masks(maps.clone()).hidden;
    let images = Tensor::<4, Int>::from_data(
        TensorData::new(inputs.images.clone(), [batch, case.size, case.size, 3]),
        &device,
    );
    let masked = masking::mask_images(images, hidden, ChannelLayout::Last);
    Output {
        maps: maps.try_to_vec_as::<f32>().expect("readable maps"),
        images: masked.try_to_vec_as::<u8>().expect("readable images"),
    }
}

fn wgsl(kernels: &SaliencyKernels, case: &Case, inputs: &Inputs) -> Output {
    let mut images = inputs.images.clone();
    let layout = ImageLayout {
        height: case.size,
        width: case.size,
        format: PixelFormat::Rgb,
    };
    let weights = ChannelWeights::GapLinear {
        classifier: &inputs.classifier,
        classes: CLASSES,
        targets: &inputs.targets,
    };
    let (maps, _) = pollster::block_on(kernels.saliency_and_mask(
        &inputs.activations,
        case.shape,
        weights,
        &mut images,
        layout,
    ))
    .expect("kernels ran");
    Output { maps, images }
}

/// Median wall time of `reps` runs after one warm-up run, and the warm-up's output.
fn time(reps: usize, mut run: impl FnMut() -> Output) -> (Duration, Output) {
    let output = run();
    let mut times: Vec<Duration> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    times.sort();
    (times[reps / 2], output)
}

fn max_difference(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

/// Share of bytes that differ (pixels right at the threshold may flip between f32 and f64).
fn byte_mismatch(a: &[u8], b: &[u8]) -> f64 {
    a.iter().zip(b).filter(|(a, b)| a != b).count() as f64 / a.len() as f64
}

fn ms(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1e3)
}

fn main() {
    let kernels = SaliencyKernels::request_blocking().unwrap_or_else(|error| panic!("{error}"));
    let adapter = kernels.device().adapter_info();
    println!(
        "wgpu adapter: {} ({:?}, {:?})\n",
        adapter.name, adapter.device_type, adapter.backend
    );
    println!(
        "| images | input | features | CPU reference f64 (ms) | Burn flex (ms) | WGSL kernels (ms) | max map diff vs ref: Burn / WGSL | masked bytes differing from ref: Burn / WGSL |"
    );
    println!("|---:|---|---|---:|---:|---:|---|---|");
    for (size, channels, side) in [(32, 64, 8), (224, 512, 7)] {
        for batch in [1, 64, 512] {
            let case = Case {
                shape: FeatureShape {
                    batch,
                    channels,
                    height: side,
                    width: side,
                },
                size,
            };
            let inputs = inputs(&case);
            let reps = if batch * size * size > 4_000_000 {
                2
            } else {
                5
            };
            let (cpu_time, cpu) = time(reps, || cpu_reference(&case, &inputs));
            let (burn_time, burn) = time(reps, || burn_flex(&case, &inputs));
            let (wgsl_time, gpu) = time(reps, || wgsl(&kernels, &case, &inputs));
            println!(
                "| {batch} | {size}x{size} RGB | {channels}x{side}x{side} | {} | {} | {} | {:.1e} / {:.1e} | {:.1e} / {:.1e} |",
                ms(cpu_time),
                ms(burn_time),
                ms(wgsl_time),
                max_difference(&cpu.maps, &burn.maps),
                max_difference(&cpu.maps, &gpu.maps),
                byte_mismatch(&cpu.images, &burn.images),
                byte_mismatch(&cpu.images, &gpu.images),
            );
        }
    }
}
