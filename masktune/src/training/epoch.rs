//! One training epoch (shuffle, augment, preprocess, optimizer step) and batched prediction,
//! the loops both the trainer and the page's Lab run.
//!
//! They are async because a page cannot block on reading a result from WebGPU (the trainer
//! drives them with `block_on`), and they hand control back after every batch: the caller shows
//! progress there, and in the page lets the worker's event loop run so that a stop request can
//! arrive. Timing is the caller's (there is no clock in `wasm32-unknown-unknown`'s std).

use std::future::Future;
use std::ops::ControlFlow;

use burn::nn::loss::CrossEntropyLoss;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::augment::Augmentation;
use crate::cam_model::CamModel;
use crate::data::ImageSet;
use crate::metrics::argmax;
use crate::models::AnyModel;
use crate::models::preprocess::{InputSize, Normalization, images_to_tensor};
use crate::readback::read;

/// What one epoch did, as recorded in checkpoints and reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// 1-based ERM epoch; the fine-tuning epoch is numbered after the ERM epochs it follows.
    pub epoch: usize,
    pub lr: f64,
    pub train_loss: f64,
    /// Accuracy on the (augmented) training batches as they were trained on.
    pub train_accuracy: f64,
    pub val_accuracy: Option<f64>,
    pub images: usize,
    pub seconds: f64,
    pub images_per_second: f64,
}

/// How to turn a set into batches.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    pub batch_size: usize,
    pub normalization: Normalization,
    pub augmentation: Augmentation,
}

/// Where a loop over batches stands, after a batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchDone {
    /// Images done so far in this pass.
    pub images: usize,
    /// Images in the whole pass.
    pub of: usize,
    /// Mean training loss of the last batch (training only).
    pub batch_loss: Option<f64>,
    /// Mean training loss over the images done so far (training only).
    pub mean_loss: Option<f64>,
    /// Training accuracy over the images done so far (training only).
    pub accuracy: Option<f64>,
}

/// Why a loop over batches did not finish.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainingError {
    /// The caller answered [`ControlFlow::Break`] after a batch.
    #[error("stopped")]
    Stopped,
    #[error("{context}: {message}")]
    Compute {
        context: &'static str,
        message: String,
    },
}

impl TrainingError {
    fn compute(context: &'static str, e: impl std::fmt::Display) -> TrainingError {
        TrainingError::Compute {
            context,
            message: e.to_string(),
        }
    }
}

/// The model after a training pass, with its loss and accuracy over the pass.
pub struct Trained {
    pub model: AnyModel,
    pub loss: f64,
    pub accuracy: f64,
}

/// Trains `model` for one pass over `set` in an order drawn from `rng` (which also drives the
/// augmentation). `device` must be an autodiff device holding the model. `after_batch` is
/// awaited after every batch; [`ControlFlow::Break`] stops the pass.
#[allow(clippy::too_many_arguments)]
pub async fn train_epoch<F, Next>(
    mut model: AnyModel,
    optimizer: &mut ModuleOptimizer,
    lr: f64,
    set: &ImageSet,
    batching: &Batching,
    rng: &mut ChaCha8Rng,
    device: &Device,
    mut after_batch: F,
) -> Result<Trained, TrainingError>
where
    F: FnMut(BatchDone) -> Next,
    Next: Future<Output = ControlFlow<()>>,
{
    let mut order: Vec<usize> = (0..set.len()).collect();
    order.shuffle(rng);
    let size = input_size(set);
    let loss_fn = CrossEntropyLoss::new(None, device);
    let (mut loss_sum, mut correct, mut done) = (0.0, 0usize, 0usize);
    for indices in order.chunks(batching.batch_size) {
        let mut pixels = Vec::with_capacity(indices.len() * set.image_len());
        for &i in indices {
            let start = pixels.len();
            pixels.extend_from_slice(set.image(i));
            batching
                .augmentation
                .apply(&mut pixels[start..], set.width, set.height, rng);
        }
        let images = images_to_tensor(
            &pixels,
            indices.len(),
            size,
            &batching.normalization,
            device,
        )
        .map_err(|e| TrainingError::compute("cannot preprocess a batch", e))?;
        let targets = labels_tensor(set, indices, device);
        let logits = model.forward(images);
        let loss = loss_fn.forward(logits.clone(), targets.clone());
        let batch_correct = logits
            .argmax(1)
            .flatten::<1>(0, 1)
            .equal(targets)
            .int()
            .sum();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(lr, model, grads);
        let batch_loss: Vec<f32> = read(loss.detach())
            .await
            .map_err(|e| TrainingError::compute("cannot read the loss", e))?;
        let batch_correct: Vec<i64> = read(batch_correct)
            .await
            .map_err(|e| TrainingError::compute("cannot read the accuracy", e))?;
        loss_sum += f64::from(batch_loss[0]) * indices.len() as f64;
        correct += batch_correct[0] as usize;
        done += indices.len();
        let progress = BatchDone {
            images: done,
            of: set.len(),
            batch_loss: Some(f64::from(batch_loss[0])),
            mean_loss: Some(loss_sum / done as f64),
            accuracy: Some(correct as f64 / done as f64),
        };
        if after_batch(progress).await.is_break() {
            return Err(TrainingError::Stopped);
        }
    }
    let n = set.len().max(1) as f64;
    Ok(Trained {
        model,
        loss: loss_sum / n,
        accuracy: correct as f64 / n,
    })
}

fn input_size(set: &ImageSet) -> InputSize {
    InputSize {
        height: set.height,
        width: set.width,
    }
}

fn labels_tensor(set: &ImageSet, indices: &[usize], device: &Device) -> Tensor<1, Int> {
    let labels: Vec<i64> = indices.iter().map(|&i| i64::from(set.labels[i])).collect();
    Tensor::from_data(TensorData::new(labels, [indices.len()]), device)
}

/// Softmax probabilities of `model` (in evaluation mode) for every image of `set`, row-major
/// `[n, classes]`. `device` is the plain (non-autodiff) device. `after_batch` as in
/// [`train_epoch`].
pub async fn predict<F, Next>(
    model: &AnyModel,
    set: &ImageSet,
    batch_size: usize,
    normalization: &Normalization,
    device: &Device,
    mut after_batch: F,
) -> Result<Vec<f32>, TrainingError>
where
    F: FnMut(BatchDone) -> Next,
    Next: Future<Output = ControlFlow<()>>,
{
    let model = model.valid();
    let image_len = set.image_len();
    let mut probabilities = Vec::new();
    for (k, pixels) in set.images.chunks(batch_size * image_len).enumerate() {
        let count = pixels.len() / image_len;
        let images = images_to_tensor(pixels, count, input_size(set), normalization, device)
            .map_err(|e| TrainingError::compute("cannot preprocess a batch", e))?;
        let p: Vec<f32> = read(softmax(model.forward(images), 1))
            .await
            .map_err(|e| TrainingError::compute("cannot read predictions", e))?;
        probabilities.extend(p);
        let progress = BatchDone {
            images: k * batch_size + count,
            of: set.len(),
            batch_loss: None,
            mean_loss: None,
            accuracy: None,
        };
        if after_batch(progress).await.is_break() {
            return Err(TrainingError::Stopped);
        }
    }
    Ok(probabilities)
}

/// Fraction of rows of `probabilities` whose argmax is the label.
pub fn accuracy(probabilities: &[f32], labels: &[u32]) -> f64 {
    let classes = probabilities.len() / labels.len().max(1);
    let right = probabilities
        .chunks(classes)
        .zip(labels)
        .filter(|(row, label)| argmax(row) == **label as usize)
        .count();
    right as f64 / labels.len().max(1) as f64
}
