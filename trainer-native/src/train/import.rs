//! `import`: a model trained in PyTorch becomes a run's ERM stage, so that the masking pass,
//! the fine-tuning, the evaluation and the export go on from it as from one trained here.
//!
//! The run gets its best and last ERM checkpoints (the same imported weights, zero epochs
//! trained, a fresh optimizer state: PyTorch's is not read), its config and report. Fine-tuning
//! uses the learning rate of the last epoch of the run's schedule (`--lr`, `--epochs`,
//! `--lr-milestones`), as it would after training here.

use serde::{Deserialize, Serialize};

use masktune::pytorch::Classifier;
use masktune::training::rng::{RngState, training_rng};

use super::atomic::write_json_atomic;
use super::checkpoint::{self, CheckpointHeader, FORMAT, Stage};
use super::config::RunConfig;
use super::epoch::{accuracy, predict};
use super::error::{Result, TrainError};
use super::experiment::Datasets;
use super::report::update_section;
use super::run_dir::RunDir;
use crate::backend::Backend;
use crate::pytorch_weights::load_into;

/// The `import` section of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    pub config: RunConfig,
    pub backend: Backend,
    pub val_images: usize,
    /// Validation accuracy of the imported model.
    pub val_accuracy: f64,
    /// Learning rate the fine-tuning will use.
    pub finetune_lr: f64,
}

/// Imports `config.init_from` as the ERM model of the run at `run`.
pub fn import(
    config: &RunConfig,
    sets: &Datasets,
    run: &RunDir,
    backend: Backend,
) -> Result<ImportReport> {
    let weights = config
        .init_from
        .as_ref()
        .expect("import names the weights in the run's config");
    if run.last().exists() {
        return Err(TrainError::Settings(format!(
            "{} already holds a run: choose another --name",
            run.root().display()
        )));
    }
    let device = backend.device()?;
    let model = config.architecture.init(&device);
    let model = load_into(model, &config.architecture, weights, Classifier::Load)?;
    let val_probs = predict(
        &model,
        &sets.val,
        config.batch_size,
        &config.normalization,
        &device,
        "validation",
    )?;
    let val_accuracy = accuracy(&val_probs, &sets.val.labels);
    let finetune_lr = config.optimizer.lr_at(config.epochs - 1);
    eprintln!(
        "validation accuracy {:.2}%; fine-tuning will use lr {finetune_lr:.2e}",
        100.0 * val_accuracy
    );
    let header = CheckpointHeader {
        format: FORMAT,
        stage: Stage::Erm,
        config: config.clone(),
        epochs_done: 0,
        lr: finetune_lr,
        rng: RngState::capture(&training_rng(config.seed)),
        val_accuracy: Some(val_accuracy),
        best: None,
        history: Vec::new(),
    };
    let optimizer = config.optimizer.build();
    write_json_atomic(&run.config(), config)?;
    checkpoint::save(&run.best(), &header, &model, &optimizer)?;
    checkpoint::save(&run.last(), &header, &model, &optimizer)?;
    let report = ImportReport {
        config: config.clone(),
        backend,
        val_images: sets.val.len(),
        val_accuracy,
        finetune_lr,
    };
    update_section(&run.report(), "import", &report)?;
    Ok(report)
}
