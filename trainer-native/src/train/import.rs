//! `import`: a model trained in PyTorch becomes a run's ERM stage, so that the masking pass,
//! the fine-tuning, the evaluation and the export go on from it as from one trained here.
//!
//! A file that describes its model (a bundle, or a safetensors file written by `export --format
//! safetensors`) must describe the command line's architecture, the data's classes and image
//! side; the run takes its normalisation, as the page's Lab does with such a file. A PyTorch
//! file without a description is the command line's architecture.
//!
//! The run gets its best and last ERM checkpoints (the same imported weights, zero epochs
//! trained, a fresh optimizer state: PyTorch's is not read), its config and report. Fine-tuning
//! uses the learning rate of the last epoch of the run's schedule (`--lr`, `--epochs`,
//! `--lr-milestones`), as it would after training here.

use serde::{Deserialize, Serialize};

use std::path::Path;

use masktune::bundle::BundleMetadata;
use masktune::model_file;
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
use crate::pytorch_weights::{load_into, read_described};

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
    let (model, config) = match read_described(weights, &device)? {
        Some((model, meta)) => (model, described_config(config, sets, &meta, weights)?),
        None => {
            let model = config.architecture.init(&device);
            let model = load_into(model, &config.architecture, weights, Classifier::Load)?;
            (model, config.clone())
        }
    };
    let config = &config;
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

/// The run's settings for a model its file describes: the description must name the settings'
/// architecture, the data's classes and image side; the normalisation is the model's.
fn described_config(
    config: &RunConfig,
    sets: &Datasets,
    meta: &BundleMetadata,
    path: &Path,
) -> Result<RunConfig> {
    let refuse = |reason: String| TrainError::PytorchWeights {
        path: path.to_path_buf(),
        reason,
    };
    if meta.architecture != config.architecture {
        return Err(refuse(format!(
            "it holds a {}, the settings name a {}: give --model, --depth and --width to match",
            meta.architecture, config.architecture
        )));
    }
    model_file::check_fits(meta, &sets.train.class_names, Some(config.image_size)).map_err(
        |why| match meta.input_size.height {
            side if side != config.image_size => refuse(format!("{why}: give --image-size {side}")),
            _ => refuse(why),
        },
    )?;
    if meta.normalization != config.normalization {
        eprintln!(
            "the model was trained with the normalisation its file names ({:?}), which the run \
             takes in place of the experiment's",
            meta.normalization
        );
    }
    Ok(RunConfig {
        normalization: meta.normalization,
        ..config.clone()
    })
}
