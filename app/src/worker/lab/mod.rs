//! The Lab in the worker: the run's data ([`data`]: spurious MNIST or the user's folder), then
//! ERM training by the trainer's own loop (`masktune::training`), from the start or from an
//! earlier run's checkpoint, or the user's trained model in its place, the masking and the
//! fine-tuning, reporting every batch and every epoch, and stopping after any batch when asked.

mod data;
mod erm;

pub use data::{HandedFolder, KeptData};
use data::{LabSets, RunData};
pub use erm::describe;
use erm::{Erm, given_erm, read_given, train_erm};

use std::cell::RefCell;
use std::ops::ControlFlow;

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use gloo_timers::future::TimeoutFuture;
use masktune::bundle::{Bundle, BundleMetadata, CheckpointKind, TrainingSummary, WeightPrecision};
use masktune::data::ImageSet;
use masktune::evaluation::{self, EvaluationReport};
use masktune::heatmap::{heatmap_rgba, levels};
use masktune::models::AnyModel;
use masktune::models::preprocess::InputSize;
use masktune::readback;
use masktune::training::masking_pass::{example_indices, mask_set};
use masktune::training::memory::StepMemory;
use masktune::training::{self, BatchDone, Batching, TrainingError, accuracy};
use rand_chacha::ChaCha8Rng;

use super::backend::{ComputeBackend, now_ms};
use super::{canvas, memory};
use crate::protocol::BackendKind;
use crate::protocol::lab::{
    EpochPoint, LabBundles, LabData, LabErm, LabEvent, LabModel, LabSettings, LabStep, MaskExample,
};

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

/// Example rows of the masking grid (two of each group).
const EXAMPLES: usize = 8;

/// Measures training steps of the run's network and refuses the run, naming a batch size that
/// fits, if its batches would not fit in the module's memory: wasm cannot recover from running
/// out of it. On WebGPU the activations live in the GPU's memory, which the module cannot count.
async fn check_memory(lab: &LabRun<'_>, sets: &LabSets) -> Result<(), Ended> {
    if lab.backend.kind != BackendKind::Cpu {
        return Ok(());
    }
    progress(lab, LabStep::Memory, 0, 1);
    let recipe = &sets.recipe.recipe;
    let device = lab.backend.device.clone().autodiff();
    // Besides a step, the run keeps what it holds now, the masked copy of the training set and
    // two more copies of the weights (the best ERM model, the fine-tuned one), which the
    // measurement adds once it knows their size.
    let held = memory::now().allocated_bytes + sets.splits.train.images.len() as u64;
    let usable = memory::USABLE_BYTES.saturating_sub(held);
    // No batch is larger than the training set.
    let batch = recipe.batch_size.min(sets.splits.train.len());
    let step = StepMemory::measure(
        recipe,
        &sets.splits.train,
        &sets.batching(),
        &device,
        &memory::PEAK,
        batch,
        usable,
    )
    .await?;
    let usable = usable.saturating_sub(2 * step.weights);
    if step.at(batch) <= usable {
        return Ok(());
    }
    let megabytes = |bytes: u64| format!("{} MB", bytes.div_ceil(1_000_000));
    let what = format!(
        "Training {} on {} px images in batches of {batch} would take about {} of memory here, \
         and the page has about {} left for it ({})",
        recipe.architecture,
        sets.recipe.image_size,
        megabytes(step.at(batch)),
        megabytes(usable),
        memory::LIMIT_REASON
    );
    // With room to spare: a new measurement of the batch named may come out a little larger.
    let change = match step.largest_batch(usable / 20 * 19) {
        0 => "not even one image fits: train it with trainer-native".to_string(),
        fits => format!("set the batch size to {fits} or less, or train it with trainer-native"),
    };
    Err(Ended::Failed(format!("{what}: {change}.")))
}

/// Masks the training set with the best ERM model's XGradCAM maps and shows examples.
async fn mask_train(lab: &LabRun<'_>, sets: &LabSets, erm: &Erm) -> Result<ImageSet, Ended> {
    let train = &sets.splits.train;
    let batching = sets.batching();
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
    let mut shown = Vec::with_capacity(examples.len());
    for (&i, map) in examples.iter().zip(&done.example_maps) {
        let pictures = canvas::png_pictures(
            train.width,
            train.image(i),
            &heatmap_rgba(&levels(map)),
            done.masked.image(i),
        )
        .await
        .map_err(|error| {
            Ended::Failed(format!(
                "the masking examples could not be drawn: {error:?}"
            ))
        })?;
        shown.push(MaskExample {
            group: sets.group_of(i),
            pictures,
            masked_fraction: done.masked_fraction[i],
        });
    }
    let (all, groups) = done.groups();
    (lab.report)(LabEvent::Masked {
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
    sets: &LabSets,
    masked: &ImageSet,
    erm: &mut Erm,
) -> Result<(AnyModel, HeldOut), Ended> {
    let epoch = EpochToTrain {
        model: LabModel::MaskTune,
        number: erm.epochs + 1,
        lr: erm.last_lr,
        images: masked,
    };
    train_epoch(
        lab,
        sets,
        epoch,
        erm.last.clone(),
        &mut erm.optimizer,
        &mut erm.rng,
    )
    .await
}

/// An epoch of the run to train: the model it trains and its number in the table (the
/// fine-tuning's follows the ERM epochs), its learning rate and its images (the training set,
/// or its masked copy).
struct EpochToTrain<'a> {
    model: LabModel,
    number: usize,
    lr: f64,
    images: &'a ImageSet,
}

/// Trains `model` one epoch by the trainer's loop, reporting every batch, then measures it on
/// the held-out sets and reports the epoch: the trained model and its probabilities.
async fn train_epoch(
    lab: &LabRun<'_>,
    sets: &LabSets,
    epoch: EpochToTrain<'_>,
    model: AnyModel,
    optimizer: &mut ModuleOptimizer,
    rng: &mut ChaCha8Rng,
) -> Result<(AnyModel, HeldOut), Ended> {
    let step = match epoch.model {
        LabModel::Erm => LabStep::Erm {
            epoch: epoch.number,
        },
        LabModel::MaskTune => LabStep::Finetune,
    };
    let start = now_ms();
    let trained = training::train_epoch(
        model,
        optimizer,
        epoch.lr,
        epoch.images,
        &sets.batching(),
        rng,
        &lab.backend.device.clone().autodiff(),
        |done| after_batch(lab, step, done),
    )
    .await?;
    let training = EpochTraining {
        loss: trained.loss,
        accuracy: trained.accuracy,
        ms: now_ms() - start,
    };
    let probabilities = measure_epoch(
        lab,
        sets,
        &trained.model,
        epoch.model,
        epoch.number,
        Some(training),
    )
    .await?;
    Ok((trained.model, probabilities))
}

/// How an epoch's training went, as its row in the table shows it.
struct EpochTraining {
    loss: f64,
    accuracy: f64,
    ms: f64,
}

/// Measures `model` on the held-out sets and reports it as `which`'s epoch `number`, with how
/// its training went (none for the user's model, which the run did not train): its
/// probabilities.
async fn measure_epoch(
    lab: &LabRun<'_>,
    sets: &LabSets,
    model: &AnyModel,
    which: LabModel,
    number: usize,
    training: Option<EpochTraining>,
) -> Result<HeldOut, Ended> {
    let probabilities = measure(lab, model, sets, &sets.batching(), &lab.backend.device).await?;
    let (val_accuracy, tests) = probabilities.accuracies(sets);
    (lab.report)(LabEvent::Epoch(EpochPoint {
        model: which,
        epoch: number,
        train_loss: training.as_ref().map(|t| t.loss),
        train_accuracy: training.as_ref().map(|t| t.accuracy),
        val_accuracy,
        tests,
        train_ms: training.map(|t| t.ms),
    }));
    Ok(probabilities)
}

/// A model's probabilities on the held-out sets, in [`LabSets::held_out`]'s order.
#[derive(Clone)]
struct HeldOut(Vec<Vec<f32>>);

impl HeldOut {
    /// Accuracy on validation, and on each test set by name.
    fn accuracies(&self, sets: &LabSets) -> (f64, Vec<(String, f64)>) {
        let mut accuracies = sets
            .held_out()
            .iter()
            .zip(&self.0)
            .map(|(named, probabilities)| {
                let value = accuracy(probabilities, &named.set.labels);
                (named.name.to_string(), value)
            })
            .collect::<Vec<_>>();
        let (_, val) = accuracies.remove(0);
        (val, accuracies)
    }
}

/// The model's probabilities on the held-out sets.
async fn measure(
    lab: &LabRun<'_>,
    model: &AnyModel,
    sets: &LabSets,
    batching: &Batching,
    device: &Device,
) -> Result<HeldOut, Ended> {
    let held_out = sets.held_out();
    let of: usize = held_out.iter().map(|s| s.set.len()).sum();
    let mut before = 0;
    let mut probabilities = Vec::with_capacity(held_out.len());
    for named in &held_out {
        probabilities.push(
            training::predict(
                model,
                named.set,
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
            .await?,
        );
        before += named.set.len();
    }
    Ok(HeldOut(probabilities))
}

/// The trainer's evaluation of the best and last ERM model and the MaskTune model: accuracy per
/// class and per group with counts, and the selective table with thresholds from validation.
fn evaluate(sets: &LabSets, erm: &Erm, masktune: &HeldOut) -> Result<EvaluationReport, Ended> {
    let probabilities = [&erm.best_probabilities, &erm.last_probabilities, masktune]
        .map(|held_out| held_out.0.clone())
        .to_vec();
    let (report, _) = evaluation::evaluate(
        &["erm_best", "erm_last", "masktune"],
        &sets.held_out(),
        &probabilities,
        &sets.splits.train.class_names,
    )
    .map_err(|error| Ended::Failed(format!("the evaluation failed: {error}")))?;
    Ok(report)
}

/// The run's ERM (best) and MaskTune models as bundles (f32 weights), as `trainer-native export`
/// writes them: `trainer-native predict` and the analysis view read them. The models are copied
/// to the CPU backend first: writing reads the weights synchronously, which WebGPU cannot.
async fn bundles(
    sets: &LabSets,
    settings: &LabSettings,
    erm: &Erm,
    masktune: &AnyModel,
    report: &EvaluationReport,
) -> Result<LabBundles, Ended> {
    let recipe = &sets.recipe;
    let host = Device::flex();
    let failed = |error| Ended::Failed(format!("the weights could not be read: {error}"));
    let erm_best = readback::module_to(&erm.best, &host)
        .await
        .map_err(failed)?;
    let masktune = readback::module_to(masktune, &host).await.map_err(failed)?;
    let mut extra = serde_json::Map::new();
    extra.insert(
        "lab_settings".into(),
        serde_json::to_value(settings).expect("LabSettings serialise to JSON"),
    );
    if let Some(file) = &erm.given {
        extra.insert("erm_model_file".into(), file.clone().into());
    }
    let bundle = |model: &AnyModel, checkpoint, name: &str, epochs: Option<usize>| {
        let meta = BundleMetadata {
            architecture: recipe.recipe.architecture.clone(),
            dataset: recipe.dataset_name.into(),
            class_names: report.class_names.clone(),
            input_size: InputSize::square(recipe.image_size),
            normalization: recipe.normalization,
            checkpoint,
            training: Some(TrainingSummary {
                epochs,
                seed: Some(settings.seed),
                learning_rate: Some(erm.last_lr),
                batch_size: Some(recipe.recipe.batch_size),
                accuracies: report.accuracies_of(name),
                extra: extra.clone().into_iter().collect(),
            }),
            selective_thresholds: report.coverage_thresholds(),
            selective_summaries: report.selective_summaries(),
        };
        Bundle::to_bytes(model, &meta, WeightPrecision::F32).map_err(|error| {
            Ended::Failed(format!("the {name} bundle could not be written: {error}"))
        })
    };
    Ok(LabBundles {
        seed: settings.seed,
        // A given model's epochs are not known.
        erm: bundle(
            &erm_best,
            CheckpointKind::Erm,
            "erm_best",
            erm.given.is_none().then_some(erm.best_epoch),
        )?,
        masktune: bundle(
            &masktune,
            CheckpointKind::MaskTune,
            "masktune",
            Some(erm.epochs + 1),
        )?,
    })
}

/// Reports how far a step is.
fn progress(lab: &LabRun<'_>, step: LabStep, done: u64, of: u64) {
    (lab.report)(LabEvent::Progress {
        step,
        done,
        of,
        batch_loss: None,
        running_accuracy: None,
    });
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

/// A whole run: data, the ERM model (trained, or the user's), masking, fine-tuning, evaluation
/// and the model pair's bundles, which it reports.
pub async fn run(
    lab: &LabRun<'_>,
    kept: &RefCell<KeptData>,
    data: &LabData,
    folder: &HandedFolder,
    erm: &LabErm,
    settings: &LabSettings,
) -> Result<(), Ended> {
    let data = RunData::of(data, folder)?;
    let given = read_given(lab, erm).await?;
    let erm_meta = given.as_ref().map(|g| &g.meta);
    let sets = LabSets::read(lab, kept, data, erm_meta, settings).await?;
    (lab.report)(LabEvent::Training {
        kind: lab.backend.kind,
        label: lab.backend.label(),
        detail: lab.backend.detail.clone(),
    });
    (lab.report)(sets.summary());
    check_memory(lab, &sets).await?;
    let mut erm = match (given, erm) {
        (Some(given), _) => given_erm(lab, &sets, settings, given).await?,
        (None, LabErm::Continue(checkpoint)) => {
            train_erm(lab, &sets, settings, Some(checkpoint.as_ref())).await?
        }
        (None, _) => train_erm(lab, &sets, settings, None).await?,
    };
    let masked = mask_train(lab, &sets, &erm).await?;
    let (masktune, probabilities) = finetune(lab, &sets, &masked, &mut erm).await?;
    let report = evaluate(&sets, &erm, &probabilities)?;
    (lab.report)(LabEvent::Evaluated(Box::new(report.clone())));
    let bundles = bundles(&sets, settings, &erm, &masktune, &report).await?;
    (lab.report)(LabEvent::Bundles(Box::new(bundles)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;

    use burn::prelude::*;
    use masktune::data::ImageSet;
    use masktune::models::AnyModel;
    use masktune::readback::{module_to, parameters};
    use masktune::training::{self, training_rng};
    use wasm_bindgen_test::wasm_bindgen_test;

    use crate::protocol::BackendKind;
    use crate::protocol::lab::{LabSettings, LabTask};
    use crate::worker::backend::pick_backend;

    /// 16 noisy 28x28 pictures of two classes (bright left or right half).
    fn two_halves() -> ImageSet {
        let (n, side) = (16, 28);
        let mut images = Vec::with_capacity(n * side * side * 3);
        let labels: Vec<u32> = (0..n as u32).map(|i| i % 2).collect();
        for (i, &label) in labels.iter().enumerate() {
            for y in 0..side {
                for x in 0..side {
                    let bright = (x < side / 2) == (label == 0);
                    let noise = ((i * 31 + y * 7 + x * 13) % 40) as u8;
                    let v = if bright { 200 + noise / 2 } else { noise };
                    images.extend([v, v, v]);
                }
            }
        }
        ImageSet {
            images,
            width: side,
            height: side,
            labels,
            groups: None,
            class_names: vec!["left".into(), "right".into()],
            group_names: Vec::new(),
        }
    }

    /// Every weight and batch-norm statistic of the model, read back.
    async fn weights(model: &AnyModel) -> Vec<f32> {
        let parameters = parameters(model).await.unwrap();
        parameters
            .into_iter()
            .flat_map(|(_, values)| values)
            .collect()
    }

    /// One epoch of the Lab's training, from the same weights, on the browser's WebGPU adapter
    /// and on the CPU backend: the backward passes work on WebGPU and train the same model.
    #[wasm_bindgen_test]
    async fn an_epoch_on_webgpu_trains_the_model_the_cpu_trains() {
        let backend = pick_backend().await;
        assert_eq!(backend.kind, BackendKind::WebGpu, "{}", backend.detail);
        let settings = LabSettings::default();
        let lab_recipe = LabTask::SpuriousMnist.recipe(&settings, None);
        let recipe = &lab_recipe.recipe;
        let set = two_halves();
        let batching = training::Batching {
            batch_size: 8,
            normalization: lab_recipe.normalization,
            augmentation: lab_recipe.augmentation,
        };
        let cpu = Device::flex().autodiff();
        cpu.seed(0);
        let start = recipe.architecture.init(&cpu);
        let mut trained = Vec::new();
        for device in [cpu.clone(), backend.device.clone().autodiff()] {
            let model = module_to(&start, &device).await.unwrap().train();
            let mut optimizer = recipe.optimizer.build();
            let epoch = training::train_epoch(
                model,
                &mut optimizer,
                recipe.optimizer.lr,
                &set,
                &batching,
                &mut training_rng(0),
                &device,
                |_| async { ControlFlow::Continue(()) },
            )
            .await
            .unwrap();
            trained.push((epoch.loss, weights(&epoch.model).await));
        }
        let [(cpu_loss, cpu_weights), (gpu_loss, gpu_weights)] = trained.try_into().unwrap();
        assert!(
            (cpu_loss - gpu_loss).abs() < 1e-3,
            "loss {cpu_loss} on the CPU, {gpu_loss} on WebGPU"
        );
        let before = weights(&start).await;
        let moved: f32 = cpu_weights
            .iter()
            .zip(&before)
            .map(|(a, b)| (a - b).abs())
            .sum();
        let apart: f32 = cpu_weights
            .iter()
            .zip(&gpu_weights)
            .map(|(a, b)| (a - b).abs())
            .sum();
        assert!(moved > 0.0, "the epoch changed the weights");
        assert!(
            apart < 1e-3 * moved,
            "the backends' weights differ by {apart}, training moved them by {moved}"
        );
    }
}
