//! One training epoch (shuffle, augment, preprocess, SGD/Adam step) and batched prediction.

use std::time::Instant;

use burn::nn::loss::CrossEntropyLoss;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use masktune::cam_model::CamModel;
use masktune::models::AnyModel;
use masktune::models::preprocess::{InputSize, Normalization, images_to_tensor};
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::augment::Augmentation;
use super::error::{Result, TrainError};
use crate::data::ImageSet;
use crate::progress::images_bar;

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

/// Result of [`train_epoch`] before validation.
pub struct Trained {
    pub model: AnyModel,
    pub loss: f64,
    pub accuracy: f64,
    pub seconds: f64,
}

/// Trains `model` for one pass over `set` in an order drawn from `rng` (which also drives the
/// augmentation). `device` must be an autodiff device holding the model.
pub fn train_epoch(
    mut model: AnyModel,
    optimizer: &mut ModuleOptimizer,
    lr: f64,
    set: &ImageSet,
    batching: &Batching,
    rng: &mut ChaCha8Rng,
    device: &Device,
    label: &str,
) -> Result<Trained> {
    let start = Instant::now();
    let mut order: Vec<usize> = (0..set.len()).collect();
    order.shuffle(rng);
    let size = InputSize {
        height: set.height,
        width: set.width,
    };
    let loss_fn = CrossEntropyLoss::new(None, device);
    let bar = images_bar(set.len(), label);
    let (mut loss_sum, mut correct) = (0.0, 0usize);
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
        .map_err(|e| TrainError::compute("cannot preprocess a batch", e))?;
        let targets = labels_tensor(set, indices, device);
        let logits = model.forward(images);
        let loss = loss_fn.forward(logits.clone(), targets.clone());
        let batch_correct = logits
            .argmax(1)
            .flatten::<1>(0, 1)
            .equal(targets)
            .int()
            .sum();
        loss_sum += f64::from(loss.clone().into_scalar::<f32>()) * indices.len() as f64;
        correct += batch_correct.into_scalar::<i64>() as usize;
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(lr, model, grads);
        bar.inc(indices.len() as u64);
        bar.set_prefix(format!("loss {:.4}", loss_sum / bar.position() as f64));
    }
    bar.finish_and_clear();
    let n = set.len().max(1) as f64;
    Ok(Trained {
        model,
        loss: loss_sum / n,
        accuracy: correct as f64 / n,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn labels_tensor(set: &ImageSet, indices: &[usize], device: &Device) -> Tensor<1, Int> {
    let labels: Vec<i64> = indices.iter().map(|&i| i64::from(set.labels[i])).collect();
    Tensor::from_data(TensorData::new(labels, [indices.len()]), device)
}

/// Softmax probabilities of `model` (in evaluation mode) for every image of `set`, row-major
/// `[n, classes]`. `device` is the plain (non-autodiff) device.
pub fn predict(
    model: &AnyModel,
    set: &ImageSet,
    batch_size: usize,
    normalization: &Normalization,
    device: &Device,
    label: &str,
) -> Result<Vec<f32>> {
    let model = model.valid();
    let size = InputSize {
        height: set.height,
        width: set.width,
    };
    let bar = images_bar(set.len(), label);
    let mut probabilities = Vec::new();
    let indices: Vec<usize> = (0..set.len()).collect();
    for chunk in indices.chunks(batch_size) {
        let pixels =
            &set.images[chunk[0] * set.image_len()..(chunk[chunk.len() - 1] + 1) * set.image_len()];
        let images = images_to_tensor(pixels, chunk.len(), size, normalization, device)
            .map_err(|e| TrainError::compute("cannot preprocess a batch", e))?;
        let p = softmax(model.forward(images), 1).into_data();
        probabilities.extend(
            p.try_into_vec::<f32>()
                .map_err(|e| TrainError::compute("cannot read predictions", format!("{e:?}")))?,
        );
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(probabilities)
}

/// Fraction of rows of `probabilities` whose argmax is the label.
pub fn accuracy(probabilities: &[f32], labels: &[u32]) -> f64 {
    let classes = probabilities.len() / labels.len().max(1);
    let right = probabilities
        .chunks(classes)
        .zip(labels)
        .filter(|(row, label)| masktune::metrics::argmax(row) == **label as usize)
        .count();
    right as f64 / labels.len().max(1) as f64
}
