//! DESIGN.md steps 2 and 3: XGradCAM of the *best* ERM model for each training image's
//! *predicted* class, thresholded at mean + 2 std of its positive values, and the salient pixels
//! set to 0 in the raw image. Writes `masked_train.bin` and an examples PNG.

use std::time::Instant;

use burn::prelude::*;
use masktune::engine::{MaskingEngine, RawImages};
use masktune::models::preprocess::{InputSize, images_to_tensor};
use masktune::readback::read;
use masktune::saliency::{GradientPath, Target, class_gradients};
use pollster::block_on;
use serde::{Deserialize, Serialize};

use super::checkpoint::{self, Stage};
use super::config::RunConfig;
use super::error::{Result, TrainError};
use super::examples_grid::{Example, write_grid};
use super::masked_set;
use super::progress::images_bar;
use super::report::update_section;
use super::run_dir::RunDir;
use crate::backend::{Backend, Masking};
use crate::data::ImageSet;

/// Example rows in the PNG.
const EXAMPLES: usize = 8;

/// The `mask` section of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaskReport {
    pub images: usize,
    /// ERM epoch (1-based) of the best checkpoint used.
    pub source_epoch: usize,
    /// Mean share of pixels masked per image.
    pub mean_masked_fraction: f64,
    /// Images in which nothing was masked.
    pub unmasked_images: usize,
    /// Share of training images whose prediction (the explained class) was right.
    pub explained_class_accuracy: f64,
    /// What computed the maps and masks (`--masking`).
    #[serde(default)]
    pub engine: String,
    pub seconds: f64,
}

/// Masks every image of `train` with the best ERM checkpoint of `run`; `masking` chooses what
/// computes the maps and masks after the network.
pub fn mask(
    config: &RunConfig,
    train: &ImageSet,
    run: &RunDir,
    backend: Backend,
    masking: Masking,
    batch_size: usize,
) -> Result<MaskReport> {
    let start = Instant::now();
    let device = backend.device()?;
    let engine = backend.masking_engine(masking)?;
    let best = checkpoint::load(&run.best(), Stage::Erm, Some(config), &device)?;
    // Evaluation mode: batch norm uses its running statistics, as the authors' `model.eval()`.
    let model = best.model.valid();
    let size = InputSize {
        height: train.height,
        width: train.width,
    };
    let plane = train.width * train.height;
    let mut masked = train.images.clone();
    let (mut masked_fraction, mut unmasked, mut right) = (0.0, 0usize, 0usize);
    let mut example_maps: Vec<f32> = Vec::new();
    let bar = images_bar(train.len(), "masking");
    let indices: Vec<usize> = (0..train.len()).collect();
    for chunk in indices.chunks(batch_size) {
        let bytes = chunk[0] * train.image_len()..(chunk[chunk.len() - 1] + 1) * train.image_len();
        let images = images_to_tensor(
            &train.images[bytes.clone()],
            chunk.len(),
            size,
            &config.normalization,
            &device,
        )
        .map_err(|e| TrainError::compute("cannot preprocess a batch", e))?;
        // All models end in GAP + linear, where the forward-only path is XGradCAM's exact gradient.
        let found = class_gradients(&model, images, &Target::Predicted, GradientPath::Auto)
            .map_err(|e| TrainError::compute("saliency", e))?;
        let targets: Vec<i64> = block_on(read(found.targets.clone()))
            .map_err(|e| TrainError::compute("saliency", e))?;
        let raw = RawImages {
            bytes: &mut masked[bytes],
            height: train.height,
            width: train.width,
            channels: 3,
        };
        let (maps, stats) = block_on(engine.maps_and_masks(found, raw))
            .map_err(|e| TrainError::compute("masking", e))?;
        for (k, &i) in chunk.iter().enumerate() {
            masked_fraction += stats[k].masked_pixels as f64 / plane as f64;
            unmasked += usize::from(stats[k].masked_pixels == 0);
            right += usize::from(targets[k] == i64::from(train.labels[i]));
            if i < EXAMPLES {
                example_maps.extend_from_slice(&maps[k * plane..(k + 1) * plane]);
            }
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let source_epoch = best.header.epochs_done;
    masked_set::write(&run.masked_train(), train, &masked, source_epoch)?;
    let examples: Vec<Example> = (0..train.len().min(EXAMPLES))
        .map(|i| Example {
            original: train.image(i),
            map: &example_maps[i * plane..(i + 1) * plane],
            masked: &masked[i * train.image_len()..(i + 1) * train.image_len()],
        })
        .collect();
    write_grid(&run.mask_examples(), train.width, train.height, &examples)?;
    let n = train.len().max(1) as f64;
    let report = MaskReport {
        images: train.len(),
        source_epoch,
        mean_masked_fraction: masked_fraction / n,
        unmasked_images: unmasked,
        explained_class_accuracy: right as f64 / n,
        engine: engine.name().into(),
        seconds: start.elapsed().as_secs_f64(),
    };
    eprintln!(
        "masked {} images with the epoch-{source_epoch} model ({}): {:.2}% of pixels on average, {} untouched",
        report.images,
        report.engine,
        100.0 * report.mean_masked_fraction,
        report.unmasked_images
    );
    update_section(&run.report(), "mask", &report)?;
    Ok(report)
}
