//! DESIGN.md steps 2 and 3: XGradCAM of the *best* ERM model for each training image's
//! *predicted* class, thresholded at mean + 2 std of its positive values, and the salient pixels
//! set to 0 in the raw image. Writes `masked_train.bin` and an examples PNG.

use std::time::Instant;

use burn::prelude::*;
use masktune::masking::mask_image;
use masktune::models::preprocess::{InputSize, images_to_tensor};
use masktune::saliency::{GradientPath, Method, Target, saliency_maps};
use serde::{Deserialize, Serialize};

use super::checkpoint::{self, Stage};
use super::config::RunConfig;
use super::error::{Result, TrainError};
use super::examples_grid::{Example, write_grid};
use super::masked_set;
use super::progress::images_bar;
use super::report::update_section;
use super::run_dir::RunDir;
use crate::backend::Backend;
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
    pub seconds: f64,
}

/// Masks every image of `train` with the best ERM checkpoint of `run`.
pub fn mask(config: &RunConfig, train: &ImageSet, run: &RunDir, backend: Backend, batch_size: usize) -> Result<MaskReport> {
    let start = Instant::now();
    let device = backend.device()?;
    let best = checkpoint::load(&run.best(), Stage::Erm, Some(config), &device)?;
    // Evaluation mode: batch norm uses its running statistics, as the authors' `model.eval()`.
    let model = best.model.valid();
    let size = InputSize { height: train.height, width: train.width };
    let plane = train.width * train.height;
    let mut masked = train.images.clone();
    let (mut masked_fraction, mut unmasked, mut right) = (0.0, 0usize, 0usize);
    let mut example_maps: Vec<f32> = Vec::new();
    let bar = images_bar(train.len(), "masking");
    let indices: Vec<usize> = (0..train.len()).collect();
    for chunk in indices.chunks(batch_size) {
        let bytes = chunk[0] * train.image_len()..(chunk[chunk.len() - 1] + 1) * train.image_len();
        let images = images_to_tensor(&train.images[bytes.clone()], chunk.len(), size, &config.normalization, &device)
            .map_err(|e| TrainError::compute("cannot preprocess a batch", e))?;
        // All models end in GAP + linear, where the forward-only path is XGradCAM's exact gradient.
        let out = saliency_maps(&model, images, Method::XGradCam, &Target::Predicted, GradientPath::Auto)
            .map_err(|e| TrainError::compute("saliency", e))?;
        let maps = out.maps.into_data().try_into_vec::<f32>().map_err(|e| TrainError::compute("saliency", format!("{e:?}")))?;
        let targets = out.targets.into_data().convert::<i64>().try_into_vec::<i64>().map_err(|e| TrainError::compute("saliency", format!("{e:?}")))?;
        for (k, &i) in chunk.iter().enumerate() {
            let map = &maps[k * plane..(k + 1) * plane];
            let stats = mask_image(&mut masked[i * train.image_len()..(i + 1) * train.image_len()], train.width, train.height, 3, map);
            masked_fraction += stats.masked_pixels as f64 / plane as f64;
            unmasked += usize::from(stats.masked_pixels == 0);
            right += usize::from(targets[k] == i64::from(train.labels[i]));
            if i < EXAMPLES {
                example_maps.extend_from_slice(map);
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
        seconds: start.elapsed().as_secs_f64(),
    };
    eprintln!(
        "masked {} images with the epoch-{source_epoch} model: {:.2}% of pixels on average, {} untouched",
        report.images,
        100.0 * report.mean_masked_fraction,
        report.unmasked_images
    );
    update_section(&run.report(), "mask", &report)?;
    Ok(report)
}
