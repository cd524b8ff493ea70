//! The Lab in the worker: spurious MNIST built from the Lab's MNIST subset by the trainer's own
//! code (`masktune::data`), then ERM training by the trainer's own loop (`masktune::training`),
//! reporting every batch and every epoch, and stopping after any batch when asked.

use std::ops::ControlFlow;
use std::rc::Rc;

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use gloo_timers::future::TimeoutFuture;
use masktune::data::spurious_mnist::{self, SpuriousConfig, SpuriousMnist};
use masktune::data::{ImageSet, mnist_idx};
use masktune::heatmap::heatmap_rgba;
use masktune::models::AnyModel;
use masktune::models::preprocess::DatasetKind;
use masktune::training::masking_pass::{example_indices, mask_set};
use masktune::training::{
    self, Augmentation, BatchDone, Batching, TrainingError, accuracy, training_rng,
};
use rand_chacha::ChaCha8Rng;

use super::backend::{ComputeBackend, now_ms};
use crate::assets;
use crate::protocol::lab::{EpochPoint, LabEvent, LabModel, LabSettings, LabStep, MaskExample};

const IMAGES: &str = "train-images-idx3-ubyte.gz";
const LABELS: &str = "train-labels-idx1-ubyte.gz";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte.gz";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte.gz";

/// The Lab's MNIST subset as its files hold it (fetched once per page).
pub struct LabData {
    train_full: ImageSet,
    test: ImageSet,
}

/// One Lab run as the worker sees it: where it reports, and whether the page asked it to stop.
pub struct LabRun<'a> {
    pub backend: &'a ComputeBackend,
    pub report: &'a dyn Fn(LabEvent),
    pub stop_requested: &'a dyn Fn() -> bool,
}

/// How a run ended early.
pub enum Ended {
    Stopped,
    Failed(String),
}

impl From<TrainingError> for Ended {
    fn from(error: TrainingError) -> Self {
        match error {
            TrainingError::Stopped => Ended::Stopped,
            other => Ended::Failed(other.to_string()),
        }
    }
}

/// Downloads the four idx files from the folder `data_url` (ending in `/`).
pub async fn fetch_data(lab: &LabRun<'_>, data_url: &str) -> Result<LabData, Ended> {
    let mut files = Vec::new();
    let (mut done, mut known_total) = (0u64, 0u64);
    for name in [IMAGES, LABELS, TEST_IMAGES, TEST_LABELS] {
        let url = format!("{data_url}{name}");
        let bytes = assets::fetch_bytes(&url, |received, total| {
            let of = known_total + total.unwrap_or(received);
            (lab.report)(LabEvent::Progress {
                step: LabStep::Data,
                done: done + received,
                of,
                batch_loss: None,
                running_accuracy: None,
            });
        })
        .await
        .map_err(Ended::Failed)?;
        done += bytes.len() as u64;
        known_total = done;
        let bytes = mnist_idx::unpacked(bytes)
            .map_err(|error| Ended::Failed(format!("{url} is not a gzip file: {error}")))?;
        files.push(bytes);
        if (lab.stop_requested)() {
            return Err(Ended::Stopped);
        }
    }
    let parse = |images: &[u8], labels: &[u8], which: &str| {
        mnist_idx::digit_set(images, labels).map_err(|(file, error)| {
            Ended::Failed(format!(
                "the Lab's {which} {file:?} file is damaged ({error}): reload the page"
            ))
        })
    };
    Ok(LabData {
        train_full: parse(&files[0], &files[1], "training")?,
        test: parse(&files[2], &files[3], "test")?,
    })
}

/// Spurious MNIST as `trainer-native --experiment spurious-mnist --data <the Lab's data>
/// --seed S --subset N` builds it.
pub fn spurious_sets(data: &LabData, settings: &LabSettings) -> SpuriousMnist {
    let split = mnist_idx::split(data.train_full.clone(), data.test.clone(), settings.seed);
    let config = SpuriousConfig {
        seed: settings.seed,
        ..Default::default()
    };
    let sets = spurious_mnist::build(&split, &config);
    let subset = |set: ImageSet| set.shuffled_subset(settings.images, settings.seed);
    SpuriousMnist {
        train: subset(sets.train),
        val: subset(sets.val),
        test_original: subset(sets.test_original),
        test_biased: subset(sets.test_biased),
    }
}

/// What ERM training leaves: the best model by validation accuracy (which the masking uses)
/// and the last, with its optimizer, RNG and learning rate (which the fine-tuning continues).
pub struct Erm {
    best: AnyModel,
    best_epoch: usize,
    last: AnyModel,
    optimizer: ModuleOptimizer,
    rng: ChaCha8Rng,
    last_lr: f64,
    epochs: usize,
}

/// Example rows of the masking grid (two of each group).
const EXAMPLES: usize = 8;

fn batching(settings: &LabSettings) -> Batching {
    Batching {
        batch_size: settings.recipe().batch_size,
        normalization: DatasetKind::SpuriousMnist.normalization(),
        augmentation: Augmentation::None,
    }
}

/// Trains the ERM model, measuring it after every epoch.
async fn train_erm(
    lab: &LabRun<'_>,
    sets: &SpuriousMnist,
    settings: &LabSettings,
) -> Result<Erm, Ended> {
    let recipe = settings.recipe();
    let plain = lab.backend.device.clone();
    let device = plain.clone().autodiff();
    // As the trainer: the seed drives the weights' initialisation, then the data order.
    device.seed(settings.seed);
    let mut model = recipe.architecture.init(&device);
    let mut optimizer = recipe.optimizer.build();
    let mut rng = training_rng(settings.seed);
    let batching = batching(settings);
    let mut best: Option<(f64, usize, AnyModel)> = None;
    for epoch in 0..recipe.epochs {
        let step = LabStep::Erm { epoch: epoch + 1 };
        let start = now_ms();
        let trained = training::train_epoch(
            model,
            &mut optimizer,
            recipe.optimizer.lr_at(epoch),
            &sets.train,
            &batching,
            &mut rng,
            &device,
            |done| after_batch(lab, step, done),
        )
        .await?;
        let train_ms = now_ms() - start;
        model = trained.model;
        let (val_accuracy, test_original, test_biased) =
            measure(lab, &model, sets, &batching, &plain).await?;
        (lab.report)(LabEvent::Epoch(EpochPoint {
            model: LabModel::Erm,
            epoch: epoch + 1,
            train_loss: Some(trained.loss),
            train_accuracy: Some(trained.accuracy),
            val_accuracy,
            test_original,
            test_biased,
            train_ms: Some(train_ms),
        }));
        // As the trainer: a later epoch replaces the best only when strictly better.
        if best.as_ref().is_none_or(|(acc, _, _)| val_accuracy > *acc) {
            best = Some((val_accuracy, epoch + 1, model.clone()));
        }
    }
    let (_, best_epoch, best) = best.expect("settings.check() asks for at least one epoch");
    Ok(Erm {
        best,
        best_epoch,
        last: model,
        optimizer,
        rng,
        last_lr: recipe.optimizer.lr_at(recipe.epochs - 1),
        epochs: recipe.epochs,
    })
}

/// Masks the training set with the best ERM model's XGradCAM maps and shows examples.
async fn mask_train(
    lab: &LabRun<'_>,
    sets: &SpuriousMnist,
    settings: &LabSettings,
    erm: &Erm,
) -> Result<ImageSet, Ended> {
    let train = &sets.train;
    let batching = batching(settings);
    let examples = example_indices(train, EXAMPLES);
    let done = mask_set(
        &erm.best,
        train,
        batching.batch_size,
        &batching.normalization,
        &lab.backend.device,
        lab.backend.engine.as_ref(),
        &examples,
        |done| after_batch(lab, LabStep::Masking, done),
    )
    .await?;
    let group_of = |i: usize| {
        let group = train.groups.as_ref().map_or(0, |g| g[i] as usize);
        train.group_names.get(group).cloned().unwrap_or_default()
    };
    let shown = examples
        .iter()
        .zip(&done.example_maps)
        .map(|(&i, map)| MaskExample {
            group: group_of(i),
            original_rgb: train.image(i).to_vec(),
            heatmap_rgba: heatmap_rgba(map),
            masked_rgb: done.masked.image(i).to_vec(),
            masked_fraction: done.masked_fraction[i],
        })
        .collect();
    let (all, groups) = done.groups();
    (lab.report)(LabEvent::Masked {
        side: train.width,
        source_epoch: erm.best_epoch,
        examples: shown,
        groups: std::iter::once(all)
            .chain(groups.into_iter().flatten())
            .collect(),
    });
    Ok(done.masked)
}

/// One epoch on the masked images from the last ERM model, its optimizer state and its RNG, at
/// the last ERM epoch's learning rate: the MaskTune model.
async fn finetune(
    lab: &LabRun<'_>,
    sets: &SpuriousMnist,
    settings: &LabSettings,
    masked: &ImageSet,
    erm: Erm,
) -> Result<AnyModel, Ended> {
    let Erm {
        last,
        mut optimizer,
        mut rng,
        last_lr,
        epochs,
        ..
    } = erm;
    let plain = lab.backend.device.clone();
    let batching = batching(settings);
    let start = now_ms();
    let trained = training::train_epoch(
        last,
        &mut optimizer,
        last_lr,
        masked,
        &batching,
        &mut rng,
        &plain.clone().autodiff(),
        |done| after_batch(lab, LabStep::Finetune, done),
    )
    .await?;
    let train_ms = now_ms() - start;
    let (val_accuracy, test_original, test_biased) =
        measure(lab, &trained.model, sets, &batching, &plain).await?;
    (lab.report)(LabEvent::Epoch(EpochPoint {
        model: LabModel::MaskTune,
        epoch: epochs + 1,
        train_loss: Some(trained.loss),
        train_accuracy: Some(trained.accuracy),
        val_accuracy,
        test_original,
        test_biased,
        train_ms: Some(train_ms),
    }));
    Ok(trained.model)
}

/// Accuracy on validation, the original test and the biased test.
async fn measure(
    lab: &LabRun<'_>,
    model: &AnyModel,
    sets: &SpuriousMnist,
    batching: &Batching,
    device: &Device,
) -> Result<(f64, f64, f64), Ended> {
    let mut accuracies = [0.0; 3];
    let held_out = [&sets.val, &sets.test_original, &sets.test_biased];
    let of: usize = held_out.iter().map(|s| s.len()).sum();
    let mut before = 0;
    for (set, out) in held_out.into_iter().zip(&mut accuracies) {
        let probabilities = training::predict(
            model,
            set,
            batching.batch_size,
            &batching.normalization,
            device,
            |done: BatchDone| {
                let done = BatchDone {
                    images: before + done.images,
                    of,
                    ..done
                };
                after_batch(lab, LabStep::Measuring, done)
            },
        )
        .await?;
        *out = accuracy(&probabilities, &set.labels);
        before += set.len();
    }
    Ok((accuracies[0], accuracies[1], accuracies[2]))
}

/// Reports a batch, lets the worker's event loop run (a stop request may be waiting), and
/// says whether to go on.
async fn after_batch(lab: &LabRun<'_>, step: LabStep, done: BatchDone) -> ControlFlow<()> {
    (lab.report)(LabEvent::Progress {
        step,
        done: done.images as u64,
        of: done.of as u64,
        batch_loss: done.batch_loss,
        running_accuracy: done.accuracy,
    });
    TimeoutFuture::new(0).await;
    if (lab.stop_requested)() {
        ControlFlow::Break(())
    } else {
        ControlFlow::Continue(())
    }
}

/// The training set's groups with their counts, for the page to show what the data is.
pub fn train_groups(sets: &SpuriousMnist) -> Vec<(String, usize)> {
    let counts = sets.train.group_counts().unwrap_or_default();
    sets.train.group_names.iter().cloned().zip(counts).collect()
}

/// A whole run: data (kept for the next run), ERM training, masking, fine-tuning.
pub async fn run(
    lab: &LabRun<'_>,
    cached: &std::cell::RefCell<Option<Rc<LabData>>>,
    data_url: &str,
    settings: &LabSettings,
) -> Result<(), Ended> {
    settings.check().map_err(Ended::Failed)?;
    let cached_data = cached.borrow().clone();
    let data = match cached_data {
        Some(data) => data,
        None => {
            let data = Rc::new(fetch_data(lab, data_url).await?);
            cached.replace(Some(data.clone()));
            data
        }
    };
    (lab.report)(LabEvent::Training {
        kind: lab.backend.kind,
        detail: lab.backend.detail.clone(),
    });
    let sets = spurious_sets(&data, settings);
    (lab.report)(LabEvent::DataReady {
        train: sets.train.len(),
        val: sets.val.len(),
        test: sets.test_original.len(),
        train_groups: train_groups(&sets),
    });
    let erm = train_erm(lab, &sets, settings).await?;
    let masked = mask_train(lab, &sets, settings, &erm).await?;
    let _masktune = finetune(lab, &sets, settings, &masked, erm).await?;
    Ok(())
}
