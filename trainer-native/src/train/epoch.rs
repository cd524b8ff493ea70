//! The trainer's side of [`masktune::training`]'s loops: run to the end (`block_on`), with a
//! progress bar and the time they took.

use std::future::ready;
use std::ops::ControlFlow;
use std::time::Instant;

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use masktune::models::AnyModel;
use masktune::models::preprocess::Normalization;
use masktune::training::{self, BatchDone, Batching, TrainingError};
use pollster::block_on;
use rand_chacha::ChaCha8Rng;

pub use masktune::training::{EpochStats, accuracy};

use super::error::{Result, TrainError};
use crate::data::ImageSet;
use crate::progress::images_bar;

/// Result of [`train_epoch`] before validation.
pub struct Trained {
    pub model: AnyModel,
    pub loss: f64,
    pub accuracy: f64,
    pub seconds: f64,
    pub lr: f64,
    /// Images trained on.
    pub images: usize,
}

impl Trained {
    /// The epoch's row of the run's history, numbered `epoch` (1-based; the fine-tuning's
    /// follows ERM's): the model measured on `val`.
    pub fn validated(
        &self,
        epoch: usize,
        val: &ImageSet,
        batching: &Batching,
        device: &Device,
    ) -> Result<EpochStats> {
        let probabilities = predict(
            &self.model,
            val,
            batching.batch_size,
            &batching.normalization,
            device,
            "validation",
        )?;
        Ok(EpochStats {
            epoch,
            lr: self.lr,
            train_loss: self.loss,
            train_accuracy: self.accuracy,
            val_accuracy: Some(accuracy(&probabilities, &val.labels)),
            images: self.images,
            seconds: self.seconds,
            images_per_second: self.images as f64 / self.seconds.max(1e-9),
        })
    }
}

/// [`training::train_epoch`] with a progress bar labelled `label`.
#[allow(clippy::too_many_arguments)]
pub fn train_epoch(
    model: AnyModel,
    optimizer: &mut ModuleOptimizer,
    lr: f64,
    set: &ImageSet,
    batching: &Batching,
    rng: &mut ChaCha8Rng,
    device: &Device,
    label: &str,
) -> Result<Trained> {
    let start = Instant::now();
    let bar = images_bar(set.len(), label);
    let trained = block_on(training::train_epoch(
        model,
        optimizer,
        lr,
        set,
        batching,
        rng,
        device,
        |done: BatchDone| {
            bar.set_position(done.images as u64);
            if let Some(loss) = done.mean_loss {
                bar.set_prefix(format!("loss {loss:.4}"));
            }
            ready(ControlFlow::Continue(()))
        },
    ))
    .map_err(compute_error)?;
    bar.finish_and_clear();
    Ok(Trained {
        model: trained.model,
        loss: trained.loss,
        accuracy: trained.accuracy,
        seconds: start.elapsed().as_secs_f64(),
        lr,
        images: set.len(),
    })
}

/// [`training::predict`] with a progress bar labelled `label`.
pub fn predict(
    model: &AnyModel,
    set: &ImageSet,
    batch_size: usize,
    normalization: &Normalization,
    device: &Device,
    label: &str,
) -> Result<Vec<f32>> {
    let bar = images_bar(set.len(), label);
    let probabilities = block_on(training::predict(
        model,
        set,
        batch_size,
        normalization,
        device,
        |done: BatchDone| {
            bar.set_position(done.images as u64);
            ready(ControlFlow::Continue(()))
        },
    ))
    .map_err(compute_error)?;
    bar.finish_and_clear();
    Ok(probabilities)
}

/// The trainer never stops a loop, so every error is a computation's.
pub(super) fn compute_error(error: TrainingError) -> TrainError {
    match error {
        TrainingError::Compute { context, message } => TrainError::Compute { context, message },
        TrainingError::Stopped => unreachable!("the trainer's loops always go on"),
    }
}
