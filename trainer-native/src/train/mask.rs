//! DESIGN.md steps 2 and 3 with the best ERM checkpoint ([`masktune::training::masking_pass`]):
//! writes `masked_train.bin` and an examples PNG.

use std::future::ready;
use std::ops::ControlFlow;
use std::time::Instant;

use masktune::engine::MaskingEngine;
use masktune::training::BatchDone;
use masktune::training::masking_pass::{example_indices, mask_set};
use pollster::block_on;
use serde::{Deserialize, Serialize};

pub use masktune::training::masking_pass::GroupMasking;

use super::checkpoint::{self, Stage};
use super::config::RunConfig;
use super::epoch::compute_error;
use super::error::Result;
use super::examples_grid::{Example, write_grid};
use super::masked_set;
use super::report::update_section;
use super::run_dir::RunDir;
use crate::backend::{Backend, Masking};
use crate::data::ImageSet;
use crate::progress::images_bar;

/// Example rows in the PNG (four of each CelebA group).
const EXAMPLES: usize = 16;

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
    /// Per group, where the training set has groups.
    #[serde(default)]
    pub groups: Option<Vec<GroupMasking>>,
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
    let examples = example_indices(train, EXAMPLES);
    let bar = images_bar(train.len(), "masking");
    let done = block_on(mask_set(
        &best.model,
        train,
        batch_size,
        &config.normalization,
        &device,
        &engine,
        &examples,
        |done: BatchDone| {
            bar.set_position(done.images as u64);
            ready(ControlFlow::Continue(()))
        },
    ))
    .map_err(compute_error)?;
    bar.finish_and_clear();
    let source_epoch = best.header.epochs_done;
    masked_set::write(
        &run.masked_train(),
        train,
        &done.masked.images,
        source_epoch,
    )?;
    let rows: Vec<Example> = examples
        .iter()
        .zip(&done.example_maps)
        .map(|(&i, map)| Example {
            original: train.image(i),
            map,
            masked: done.masked.image(i),
        })
        .collect();
    write_grid(&run.mask_examples(), train.width, train.height, &rows)?;
    let (all, groups) = done.groups();
    let report = MaskReport {
        images: train.len(),
        source_epoch,
        mean_masked_fraction: all.mean_masked_fraction,
        unmasked_images: all.unmasked_images,
        explained_class_accuracy: done.explained_right as f64 / train.len().max(1) as f64,
        engine: engine.name().into(),
        groups,
        seconds: start.elapsed().as_secs_f64(),
    };
    eprintln!(
        "masked {} images with the epoch-{source_epoch} model ({}): {:.2}% of pixels on average, {} untouched",
        report.images,
        report.engine,
        100.0 * report.mean_masked_fraction,
        report.unmasked_images
    );
    for g in report.groups.iter().flatten() {
        eprintln!(
            "  {}: {:.2}% of pixels on average, {} of {} untouched",
            g.group,
            100.0 * g.mean_masked_fraction,
            g.unmasked_images,
            g.images
        );
    }
    update_section(&run.report(), "mask", &report)?;
    Ok(report)
}
