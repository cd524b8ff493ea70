//! DESIGN.md step 4: from the *last* ERM checkpoint (weights, optimizer state and learning rate),
//! exactly one epoch over the masked training images only, with the normal augmentation.

use masktune::training::rng::RngState;
use serde::{Deserialize, Serialize};

use super::checkpoint::{self, CheckpointHeader, Stage};
use super::config::RunConfig;
use super::epoch::{EpochStats, train_epoch};
use super::erm::batching;
use super::error::Result;
use super::experiment::Datasets;
use super::masked_set;
use super::report::update_section;
use super::run_dir::RunDir;
use crate::backend::Backend;

/// The `finetune` section of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinetuneReport {
    /// ERM epochs of the checkpoint fine-tuned.
    pub from_epoch: usize,
    /// Images seen: the masked training set, once.
    pub images: usize,
    pub epoch: EpochStats,
    /// Validation accuracy of the last ERM model, for comparison.
    pub erm_last_val_accuracy: Option<f64>,
}

pub fn finetune(
    config: &RunConfig,
    sets: &Datasets,
    run: &RunDir,
    backend: Backend,
) -> Result<FinetuneReport> {
    let plain = backend.device()?;
    let device = plain.clone().autodiff();
    let (_, masked) = masked_set::read(&run.masked_train(), &sets.train)?;
    let last = checkpoint::load(&run.last(), Stage::Erm, Some(config), &device)?;
    let mut rng = last.restore_rng(&run.last())?;
    let header = last.header;
    let mut optimizer = last.optimizer;
    let lr = header.lr;
    let label = "fine-tuning (masked)";
    let trained = train_epoch(
        last.model,
        &mut optimizer,
        lr,
        &masked,
        &batching(config),
        &mut rng,
        &device,
        label,
    )?;
    let stats = trained.validated(header.epochs_done + 1, &sets.val, &batching(config), &plain)?;
    let val_accuracy = stats.val_accuracy.expect("measured on validation");
    eprintln!(
        "fine-tuned 1 epoch on {} masked images at lr {lr:.2e}: loss {:.4}, val acc {:.2}% (ERM last {:.2}%)",
        masked.len(),
        stats.train_loss,
        100.0 * val_accuracy,
        100.0 * header.val_accuracy.unwrap_or(f64::NAN)
    );
    let mut history = header.history.clone();
    history.push(stats.clone());
    let out = CheckpointHeader {
        stage: Stage::MaskTune,
        rng: RngState::capture(&rng),
        val_accuracy: Some(val_accuracy),
        history,
        ..header.clone()
    };
    checkpoint::save(&run.masktune(), &out, &trained.model, &optimizer)?;
    let report = FinetuneReport {
        from_epoch: header.epochs_done,
        images: masked.len(),
        epoch: stats,
        erm_last_val_accuracy: header.val_accuracy,
    };
    update_section(&run.report(), "finetune", &report)?;
    Ok(report)
}
