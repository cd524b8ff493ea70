//! DESIGN.md step 1: ERM training, keeping the best (validation accuracy) and the last
//! checkpoint after every epoch; `--resume` continues from the last one.

use masktune::pytorch::Classifier;
use masktune::training::Batching;
use masktune::training::rng::{RngState, training_rng};
use serde::{Deserialize, Serialize};

use super::atomic::write_json_atomic;
use super::checkpoint::{self, CheckpointHeader, FORMAT, Stage};
use super::config::RunConfig;
use super::epoch::{EpochStats, train_epoch};
use super::error::{Result, TrainError};
use super::experiment::Datasets;
use super::report::update_section;
use super::run_dir::RunDir;
use crate::backend::Backend;
use crate::pytorch_weights::load_into;

/// The `train` section of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    pub config: RunConfig,
    pub backend: Backend,
    /// Threads of the CPU work (rayon's pool): the weight gradients' batch sums are split one
    /// range per thread, so the same seed reproduces a run exactly only with this many.
    #[serde(default)]
    pub cpu_threads: Option<usize>,
    pub train_images: usize,
    pub val_images: usize,
    /// Epoch (1-based) and validation accuracy of the best checkpoint.
    pub best: Option<(usize, f64)>,
    /// Epochs trained by this invocation (0 when a resumed run was already complete).
    pub epochs_this_run: usize,
    pub resumed_from_epoch: Option<usize>,
    pub history: Vec<EpochStats>,
}

pub fn batching(config: &RunConfig) -> Batching {
    Batching {
        batch_size: config.batch_size,
        normalization: config.normalization,
        augmentation: config.augmentation,
    }
}

/// Trains `config.epochs` epochs (the rest of them with `resume`).
pub fn train(
    config: &RunConfig,
    sets: &Datasets,
    run: &RunDir,
    backend: Backend,
    resume: bool,
) -> Result<TrainReport> {
    let plain = backend.device()?;
    let device = plain.clone().autodiff();
    let (mut model, mut optimizer, mut rng, mut history, mut best, resumed_from) = if resume {
        if !run.last().exists() {
            return Err(TrainError::Missing {
                path: run.last(),
                hint: "there is nothing to resume: start the run without --resume".into(),
            });
        }
        let loaded = checkpoint::load(&run.last(), Stage::Erm, Some(config), &device)?;
        let rng = loaded.restore_rng(&run.last())?;
        let h = loaded.header;
        (
            loaded.model,
            loaded.optimizer,
            rng,
            h.history,
            h.best,
            Some(h.epochs_done),
        )
    } else {
        if run.last().exists() {
            return Err(TrainError::Settings(format!(
                "{} already holds a run: pass --resume to continue it, or choose another --name",
                run.root().display()
            )));
        }
        // Seeds the weight initialisation (the data order has its own RNG).
        device.seed(config.seed);
        let model = config.architecture.init(&device);
        let model = match &config.init_from {
            Some(path) => load_into(
                model,
                &config.architecture,
                path,
                Classifier::KeepFreshIfItDiffers,
            )?,
            None => model,
        };
        (
            model,
            config.optimizer.build(),
            training_rng(config.seed),
            Vec::new(),
            None,
            None,
        )
    };
    write_json_atomic(&run.config(), config)?;
    let start_epoch = resumed_from.unwrap_or(0);
    if let Some(done) = resumed_from {
        eprintln!(
            "resuming {} after epoch {done} of {}",
            run.root().display(),
            config.epochs
        );
    }
    for epoch in start_epoch..config.epochs {
        let lr = config.optimizer.lr_at(epoch);
        let label = format!("epoch {}/{}", epoch + 1, config.epochs);
        let trained = train_epoch(
            model,
            &mut optimizer,
            lr,
            &sets.train,
            &batching(config),
            &mut rng,
            &device,
            &label,
        )?;
        let stats = trained.validated(epoch + 1, &sets.val, &batching(config), &plain)?;
        let val_accuracy = stats.val_accuracy.expect("measured on validation");
        model = trained.model;
        eprintln!(
            "epoch {:>3}/{}  lr {lr:.2e}  loss {:.4}  train acc {:.2}%  val acc {:.2}%  {:.0} img/s",
            epoch + 1,
            config.epochs,
            stats.train_loss,
            100.0 * stats.train_accuracy,
            100.0 * val_accuracy,
            stats.images_per_second
        );
        history.push(stats);
        let improved = best.is_none_or(|(_, acc)| val_accuracy > acc);
        if improved {
            best = Some((epoch + 1, val_accuracy));
        }
        let header = CheckpointHeader {
            format: FORMAT,
            stage: Stage::Erm,
            config: config.clone(),
            epochs_done: epoch + 1,
            lr,
            rng: RngState::capture(&rng),
            val_accuracy: Some(val_accuracy),
            best,
            history: history.clone(),
        };
        // Best first: after a crash between the two writes, resuming from `last` redoes the
        // epoch and rewrites `best` identically.
        if improved {
            checkpoint::save(&run.best(), &header, &model, &optimizer)?;
        }
        checkpoint::save(&run.last(), &header, &model, &optimizer)?;
    }
    let report = TrainReport {
        config: config.clone(),
        backend,
        cpu_threads: Some(rayon::current_num_threads()),
        train_images: sets.train.len(),
        val_images: sets.val.len(),
        best,
        epochs_this_run: config.epochs.saturating_sub(start_epoch),
        resumed_from_epoch: resumed_from,
        history,
    };
    update_section(&run.report(), "train", &report)?;
    Ok(report)
}
