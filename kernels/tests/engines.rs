//! The two masking engines on the shipped models and real pictures: the WGSL kernels (what the
//! page runs on WebGPU and the trainer on wgpu) and Burn's tensor ops (what both run on the CPU)
//! must give the same maps, thresholds and masked images, so a user sees the same mask wherever
//! the computation happened.

#![cfg(not(target_family = "wasm"))]

use std::path::{Path, PathBuf};

use burn::prelude::Device;
use kernels::SaliencyKernels;
use masktune::engine::{MaskingEngine, TensorEngine};
use masktune::inference::{ImageAnalysis, ModelPair, analyse};
use masktune::square_image::center_crop_resize;

/// Both engines compute in f32 and each is within 1e-5 of the f64 reference (`tests/parity.rs`,
/// masktune's tests), so they are within twice that of each other.
const MAP_TOLERANCE: f32 = 2e-5;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The task's shipped bundle pair on the CPU.
fn pair(task: &str) -> ModelPair {
    let models = repo().join("app/assets/models");
    let read = |kind: &str| {
        std::fs::read(models.join(format!("{task}-{kind}.mtb"))).expect("shipped bundle")
    };
    ModelPair::load(&read("erm"), &read("masktune"), &Device::flex()).expect("bundle pair")
}

/// Every picture the page ships as an example or the browser tests use, at the model's input.
fn pictures(side: u32) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<PathBuf> = ["app/assets/examples", "e2e/fixtures"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(repo().join(dir)).expect("picture folder"))
        .map(|entry| entry.expect("folder entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "png"))
        .collect();
    files.sort();
    files
        .into_iter()
        // Deliberately broken fixtures of the page's error handling are not pictures.
        .filter_map(|path| {
            let rgb = image::open(&path).ok()?.to_rgb8();
            Some((path, rgb))
        })
        .map(|(path, rgb)| {
            let (width, height) = rgb.dimensions();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (
                name,
                center_crop_resize(rgb.into_raw(), width, height, side),
            )
        })
        .collect()
}

fn run(
    pair: &ModelPair,
    pictures: &[(String, Vec<u8>)],
    engine: &impl MaskingEngine,
) -> Vec<ImageAnalysis> {
    let pixels: Vec<&[u8]> = pictures.iter().map(|(_, rgb)| rgb.as_slice()).collect();
    pollster::block_on(analyse(pair, &pixels, engine, || 0.0))
        .expect("analysis")
        .0
}

fn assert_same_analyses(task: &str) {
    let kernels = SaliencyKernels::request_blocking().unwrap_or_else(|error| panic!("{error}"));
    let pair = pair(task);
    let side = pair.input_side();
    let pictures = pictures(side as u32);
    assert!(
        pictures.len() >= 10,
        "{task}: only {} pictures found",
        pictures.len()
    );
    let by_tensors = run(&pair, &pictures, &TensorEngine);
    let by_kernels = run(&pair, &pictures, &kernels);
    let mut masked_pixels = 0;
    for (((name, _), t), k) in pictures.iter().zip(&by_tensors).zip(&by_kernels) {
        let what = format!("{task} {name}");
        assert_eq!(
            t.erm_probabilities, k.erm_probabilities,
            "{what}: the ERM model ran differently"
        );
        for (p, (a, b)) in t.map.iter().zip(&k.map).enumerate() {
            assert!(
                (a - b).abs() <= MAP_TOLERANCE,
                "{what}: map pixel {p}: tensors {a}, kernels {b}"
            );
        }
        let threshold = t.mask.threshold;
        assert!(
            (threshold - k.mask.threshold).abs() <= 1e-5 * threshold.abs().max(1e-2),
            "{what}: threshold tensors {threshold}, kernels {}",
            k.mask.threshold
        );
        for (p, (a, b)) in t
            .masked_rgb
            .chunks(3)
            .zip(k.masked_rgb.chunks(3))
            .enumerate()
        {
            // A pixel on the threshold may fall either way in f32.
            if (t.map[p] - threshold).abs() > MAP_TOLERANCE {
                assert_eq!(
                    a, b,
                    "{what}: pixel {p} (map {}, threshold {threshold})",
                    t.map[p]
                );
            }
        }
        assert!(
            t.mask.masked_pixels.abs_diff(k.mask.masked_pixels) <= 1,
            "{what}: hidden pixel counts"
        );
        masked_pixels += k.mask.masked_pixels;
    }
    assert!(
        masked_pixels > 0,
        "{task}: nothing was masked, so nothing was compared"
    );
}

#[test]
fn cifar10_engines_agree() {
    assert_same_analyses("cifar10");
}

#[test]
fn celeba_engines_agree() {
    assert_same_analyses("celeba");
}

#[test]
fn spurious_mnist_engines_agree() {
    assert_same_analyses("spurious-mnist");
}
