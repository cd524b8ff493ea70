//! The run's ERM model: trained by the trainer's own loop from the seed's weights, or from where
//! an earlier run's checkpoint left it (a run that stopped or lost its worker, continued), or
//! the user's trained model in its place.

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use masktune::bundle::BundleMetadata;
use masktune::model_file;
use masktune::models::AnyModel;
use masktune::readback;
use masktune::training::{self, RngState, checkpoint, training_rng};
use rand_chacha::ChaCha8Rng;

use super::data::LabSets;
use super::{Ended, EpochToTrain, HeldOut, LabRun, measure, measure_epoch, train_epoch};
use crate::protocol::BackendKind;
use crate::protocol::lab::{LabCheckpoint, LabErm, LabEvent, LabFile, LabModel, LabSettings};

/// What ERM training leaves: the best model by validation accuracy (which the masking uses)
/// and the last, with its optimizer, RNG and learning rate (which the fine-tuning continues).
pub struct Erm {
    /// A snapshot (evaluation mode): the epochs after it leave its batch norms alone.
    pub(super) best: AnyModel,
    /// 0 for a given model.
    pub(super) best_epoch: usize,
    /// The best and the last model's probabilities on the held-out sets.
    pub(super) best_probabilities: HeldOut,
    pub(super) last_probabilities: HeldOut,
    pub(super) last: AnyModel,
    pub(super) optimizer: ModuleOptimizer,
    pub(super) rng: ChaCha8Rng,
    pub(super) last_lr: f64,
    pub(super) epochs: usize,
    /// The file the model came from, where the user gave it.
    pub(super) given: Option<String>,
}

/// The best ERM epoch so far, by validation accuracy.
struct BestEpoch {
    val_accuracy: f64,
    /// 1-based.
    epoch: usize,
    /// A snapshot (evaluation mode).
    model: AnyModel,
    probabilities: HeldOut,
}

/// Where ERM training stands between epochs.
struct ErmState {
    /// The last epoch's model (the initialisation's before the first).
    model: AnyModel,
    optimizer: ModuleOptimizer,
    rng: ChaCha8Rng,
    epochs_done: usize,
    best: Option<BestEpoch>,
    /// The last model's probabilities on the held-out sets, once an epoch or the end of ERM
    /// needs them.
    last_probabilities: Option<HeldOut>,
}

impl ErmState {
    /// Before the first epoch: the weights the seed initialises, as the trainer.
    fn fresh(sets: &LabSets, settings: &LabSettings, device: &Device) -> Self {
        let recipe = &sets.recipe.recipe;
        // As the trainer: the seed drives the weights' initialisation, then the data order.
        device.seed(settings.seed);
        ErmState {
            model: recipe.architecture.init(device),
            optimizer: recipe.optimizer.build(),
            rng: training_rng(settings.seed),
            epochs_done: 0,
            best: None,
            last_probabilities: None,
        }
    }

    /// Where an earlier run's checkpoint left it, with the probabilities on the held-out sets
    /// that the rest of the run needs measured again (the same as then: the CPU backend is
    /// deterministic): the best model's, and the last one's where no epoch is left to train.
    async fn continued(
        lab: &LabRun<'_>,
        sets: &LabSets,
        checkpoint: &LabCheckpoint,
        device: &Device,
    ) -> Result<Self, Ended> {
        let recipe = &sets.recipe.recipe;
        let cannot = |why: String| {
            Ended::Failed(format!(
                "the run cannot continue from its checkpoint ({why}): start it again"
            ))
        };
        if checkpoint.epochs > recipe.epochs {
            return Err(cannot(format!(
                "it holds {} epochs, the run trains {}",
                checkpoint.epochs, recipe.epochs
            )));
        }
        let plain = lab.backend.device.clone();
        let read = |bytes: &[u8], device: &Device| {
            checkpoint::read_model(&recipe.architecture, bytes, device)
                .map_err(|e| cannot(e.to_string()))
        };
        let model = read(&checkpoint.model, device)?;
        let best = read(&checkpoint.best_model, &plain)?;
        let optimizer = checkpoint::read_optimizer(&recipe.optimizer, &checkpoint.optimizer)
            .map_err(|e| cannot(e.to_string()))?;
        let rng = checkpoint.rng.restore().map_err(cannot)?;
        let batching = sets.batching();
        let last_probabilities = if checkpoint.epochs == recipe.epochs {
            Some(measure(lab, &model, sets, &batching, &plain).await?)
        } else {
            None
        };
        let best_probabilities = match &last_probabilities {
            // The best epoch is the last: the same weights.
            Some(last) if checkpoint.best_epoch == checkpoint.epochs => last.clone(),
            _ => measure(lab, &best, sets, &batching, &plain).await?,
        };
        Ok(ErmState {
            model,
            optimizer,
            rng,
            epochs_done: checkpoint.epochs,
            best: Some(BestEpoch {
                val_accuracy: checkpoint.best_val_accuracy,
                epoch: checkpoint.best_epoch,
                model: best,
                probabilities: best_probabilities,
            }),
            last_probabilities,
        })
    }

    /// The state as a checkpoint (on the CPU backend, which reads it synchronously).
    fn checkpoint(&self) -> Result<LabCheckpoint, Ended> {
        let best = self.best.as_ref().expect("a checkpoint follows an epoch");
        let failed = |e| Ended::Failed(format!("the run's checkpoint could not be written: {e}"));
        Ok(LabCheckpoint {
            epochs: self.epochs_done,
            model: checkpoint::model_bytes(&self.model).map_err(failed)?,
            optimizer: checkpoint::optimizer_bytes(&self.optimizer).map_err(failed)?,
            rng: RngState::capture(&self.rng),
            best_epoch: best.epoch,
            best_val_accuracy: best.val_accuracy,
            best_model: checkpoint::model_bytes(&best.model).map_err(failed)?,
        })
    }
}

/// Trains the ERM model (from the start, or from where an earlier run's checkpoint left it),
/// measuring it after every epoch; on the CPU backend reports a checkpoint after each.
pub(super) async fn train_erm(
    lab: &LabRun<'_>,
    sets: &LabSets,
    settings: &LabSettings,
    from: Option<&LabCheckpoint>,
) -> Result<Erm, Ended> {
    let recipe = &sets.recipe.recipe;
    let device = lab.backend.device.clone().autodiff();
    let mut state = match from {
        None => ErmState::fresh(sets, settings, &device),
        Some(checkpoint) => ErmState::continued(lab, sets, checkpoint, &device).await?,
    };
    for epoch in state.epochs_done..recipe.epochs {
        let to_train = EpochToTrain {
            model: LabModel::Erm,
            number: epoch + 1,
            lr: recipe.optimizer.lr_at(epoch),
            images: &sets.splits.train,
        };
        let (model, probabilities) = train_epoch(
            lab,
            sets,
            to_train,
            state.model,
            &mut state.optimizer,
            &mut state.rng,
        )
        .await?;
        state.model = model;
        let (val_accuracy, _) = probabilities.accuracies(sets);
        // As the trainer: a later epoch replaces the best only when strictly better.
        if state
            .best
            .as_ref()
            .is_none_or(|best| val_accuracy > best.val_accuracy)
        {
            state.best = Some(BestEpoch {
                val_accuracy,
                epoch: epoch + 1,
                model: training::snapshot(&state.model),
                probabilities: probabilities.clone(),
            });
        }
        state.last_probabilities = Some(probabilities);
        state.epochs_done = epoch + 1;
        if lab.backend.kind == BackendKind::Cpu {
            (lab.report)(LabEvent::Checkpoint(Box::new(state.checkpoint()?)));
        }
    }
    let best = state
        .best
        .expect("settings.check() asks for at least one epoch");
    Ok(Erm {
        best: best.model,
        best_epoch: best.epoch,
        best_probabilities: best.probabilities,
        last_probabilities: state.last_probabilities.expect("as many as the best"),
        last: state.model,
        optimizer: state.optimizer,
        rng: state.rng,
        last_lr: sets.recipe.finetune_lr(),
        epochs: recipe.epochs,
        given: None,
    })
}

/// The user's trained model, read from its file on the run's backend.
pub(super) struct GivenErm {
    file_name: String,
    /// Evaluation mode.
    model: AnyModel,
    pub(super) meta: BundleMetadata,
}

/// Reads the user's model, if the run was given one: before the data, so that a file that
/// cannot be read fails the run at once.
pub(super) async fn read_given(lab: &LabRun<'_>, erm: &LabErm) -> Result<Option<GivenErm>, Ended> {
    let LabErm::Given(file) = erm else {
        return Ok(None);
    };
    let failed = |error: String| Ended::Failed(format!("{}: {error}", file.path));
    let bytes = given_bytes(file).await.map_err(failed)?;
    let (model, meta) =
        model_file::read(&bytes, &lab.backend.device).map_err(|e| failed(e.to_string()))?;
    Ok(Some(GivenErm {
        file_name: file.path.clone(),
        model,
        meta,
    }))
}

/// What a model file given to the Lab says its model is ([`model_file::metadata`]), or why
/// it cannot be read, for the page to check against the data before a run.
pub async fn describe(file: &LabFile) -> Result<BundleMetadata, String> {
    let bytes = given_bytes(file).await?;
    model_file::metadata(&bytes).map_err(|error| error.to_string())
}

async fn given_bytes(file: &LabFile) -> Result<Vec<u8>, String> {
    crate::worker::blob_bytes(&file.blob)
        .await
        .map_err(|error| format!("the file could not be read ({error:?})"))
}

/// The user's model as the run's ERM model, as `trainer-native import` makes it: measured on
/// the held-out sets (reported as epoch 0), the best and the last model at once, fine-tuned
/// with a fresh optimizer and the training RNG of the seed.
pub(super) async fn given_erm(
    lab: &LabRun<'_>,
    sets: &LabSets,
    settings: &LabSettings,
    given: GivenErm,
) -> Result<Erm, Ended> {
    let probabilities = measure_epoch(lab, sets, &given.model, LabModel::Erm, 0, None).await?;
    let device = lab.backend.device.clone().autodiff();
    device.seed(settings.seed);
    let last = readback::module_to(&given.model, &device)
        .await
        .map_err(|error| Ended::Failed(format!("the model could not be trained: {error}")))?
        .train();
    Ok(Erm {
        best: given.model,
        best_epoch: 0,
        best_probabilities: probabilities.clone(),
        last_probabilities: probabilities,
        last,
        optimizer: sets.recipe.recipe.optimizer.build(),
        rng: training_rng(settings.seed),
        last_lr: sets.recipe.finetune_lr(),
        epochs: 0,
        given: Some(given.file_name),
    })
}
