//! Writes the ERM (best checkpoint) and MaskTune models as bundles for the app, with class
//! names, preprocessing, the run's settings and accuracies, and the selective-classification
//! thresholds chosen on validation by `evaluate`; or as PyTorch state dicts (safetensors).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use masktune::bundle::{Bundle, BundleMetadata, CheckpointKind, TrainingSummary, WeightPrecision};
use masktune::models::AnyModel;
use masktune::models::preprocess::InputSize;
use serde::{Deserialize, Serialize};

use super::atomic::write_atomic;
use super::checkpoint::{self, Stage};
use super::config::RunConfig;
use super::error::{Result, TrainError};
use super::evaluate::EvaluationReport;
use super::experiment::Experiment;
use super::report::{read_section, update_section};
use super::run_dir::RunDir;
use crate::backend::Backend;
use crate::pytorch_weights::write_safetensors;

/// What `export` and `convert-bundle` write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFile {
    /// Model bundles, weights in this precision.
    Bundle(WeightPrecision),
    /// f32 safetensors state dicts with the PyTorch module's keys.
    Safetensors,
}

/// The `export` section of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportReport {
    /// (model, bundle file, bytes).
    pub bundles: Vec<(String, PathBuf, usize)>,
}

/// The dataset name bundles carry (`DatasetKind::name` where the experiment is one of those).
fn dataset_name(experiment: Experiment) -> &'static str {
    match experiment {
        Experiment::SpuriousMnist => "spurious_mnist",
        Experiment::Mnist => "mnist",
        Experiment::Cifar10 => "cifar10",
        Experiment::Celeba => "celeba",
        Experiment::Folder => masktune::data::image_folder::DATASET_NAME,
    }
}

pub fn export(
    config: &RunConfig,
    run: &RunDir,
    backend: Backend,
    file: ExportFile,
) -> Result<ExportReport> {
    let device = backend.device()?;
    let evaluation: EvaluationReport =
        read_section(&run.report(), "evaluation").ok_or_else(|| TrainError::Missing {
            path: run.report(),
            hint: "its evaluation section holds the selective thresholds: run `evaluate` first"
                .into(),
        })?;
    let thresholds = evaluation.coverage_thresholds();
    let summaries = evaluation.selective_summaries();
    let mut bundles = Vec::new();
    for (name, path, stage, kind) in [
        ("erm", run.best(), Stage::Erm, CheckpointKind::Erm),
        (
            "masktune",
            run.masktune(),
            Stage::MaskTune,
            CheckpointKind::MaskTune,
        ),
    ] {
        let loaded = checkpoint::load(&path, stage, Some(config), &device)?;
        let model_name = if stage == Stage::Erm {
            "erm_best"
        } else {
            "masktune"
        };
        let accuracies = evaluation.accuracies_of(model_name);
        let meta = BundleMetadata {
            architecture: config.architecture.clone(),
            dataset: dataset_name(config.experiment).into(),
            class_names: evaluation.class_names.clone(),
            input_size: InputSize::square(config.image_size),
            normalization: config.normalization,
            checkpoint: kind,
            training: Some(TrainingSummary {
                epochs: Some(loaded.header.history.len()),
                seed: Some(config.seed),
                learning_rate: Some(loaded.header.lr),
                batch_size: Some(config.batch_size),
                accuracies,
                extra: BTreeMap::from([(
                    "run_config".to_string(),
                    serde_json::to_value(config).expect("RunConfig serialises to JSON"),
                )]),
            }),
            selective_thresholds: thresholds.clone(),
            selective_summaries: summaries.clone(),
        };
        let (out, bytes) = match file {
            ExportFile::Bundle(precision) => {
                let out = run.bundle(name);
                (
                    out.clone(),
                    write_bundle(&out, &loaded.model, &meta, precision)?,
                )
            }
            ExportFile::Safetensors => {
                let out = run.safetensors(name);
                (out.clone(), write_safetensors(&out, &loaded.model, &meta)?)
            }
        };
        eprintln!("wrote {} ({bytes} bytes)", out.display());
        bundles.push((name.to_string(), out, bytes));
    }
    let report = ExportReport { bundles };
    update_section(&run.report(), "export", &report)?;
    Ok(report)
}

/// Writes a bundle of `model` and returns its size.
fn write_bundle(
    path: &Path,
    model: &AnyModel,
    meta: &BundleMetadata,
    precision: WeightPrecision,
) -> Result<usize> {
    let bytes = Bundle::to_bytes(model, meta, precision)
        .map_err(|e| TrainError::compute("cannot write the bundle", e))?;
    write_atomic(path, &bytes)?;
    Ok(bytes.len())
}

/// Rewrites the bundle at `input` as `file`: its weights in another precision (metadata
/// unchanged), or a safetensors state dict. `base` is the ERM bundle the input's weights are
/// stored against, if they are stored as a difference.
pub fn convert_bundle(
    input: &Path,
    base: Option<&Path>,
    output: &Path,
    file: ExportFile,
) -> Result<()> {
    let bytes = std::fs::read(input).map_err(TrainError::io("read", input))?;
    let bundle_error = TrainError::bundle(input);
    let whole = match base {
        Some(base) => Bundle::whole(&bytes, &read_base(base)?).map_err(&bundle_error)?,
        None => Cow::Borrowed(bytes.as_slice()),
    };
    let device = burn::prelude::Device::flex();
    let (model, meta) = Bundle::from_bytes(&whole, &device).map_err(&bundle_error)?;
    let written = match file {
        ExportFile::Bundle(precision) => write_bundle(output, &model, &meta, precision)?,
        ExportFile::Safetensors => write_safetensors(output, &model, &meta)?,
    };
    eprintln!(
        "wrote {} ({written} bytes; {} before)",
        output.display(),
        bytes.len()
    );
    Ok(())
}

/// Writes the bundle at `input` with its weights stored as their difference from the bundle
/// at `base`'s, or with `restore` a bundle stored so whole again; the weights byte for byte.
pub fn weights_difference(input: &Path, base: &Path, output: &Path, restore: bool) -> Result<()> {
    let bytes = std::fs::read(input).map_err(TrainError::io("read", input))?;
    let base = read_base(base)?;
    let written = if restore {
        Bundle::whole(&bytes, &base).map(Cow::into_owned)
    } else {
        Bundle::as_difference(&bytes, &base)
    }
    .map_err(TrainError::bundle(input))?;
    write_atomic(output, &written)?;
    eprintln!(
        "wrote {} ({} bytes; {} before)",
        output.display(),
        written.len(),
        bytes.len()
    );
    Ok(())
}

/// The bundle at `path`, checked (framing and metadata), to restore or store weights against.
fn read_base(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(TrainError::io("read", path))?;
    Bundle::metadata(&bytes).map_err(TrainError::bundle(path))?;
    Ok(bytes)
}

/// Writes the selective-classification thresholds and summaries of `evaluation` (an evaluation
/// of these very bundles) into each bundle's metadata, keeping its weights byte for byte: e.g.
/// after converting a pair to int8, whose confidences differ slightly from the f32 models' that
/// chose the thresholds at export.
pub fn write_selective_metadata(bundles: &[&Path], evaluation: &EvaluationReport) -> Result<()> {
    for &path in bundles {
        let bytes = std::fs::read(path).map_err(TrainError::io("read", path))?;
        let bundle_error = TrainError::bundle(path);
        let meta = BundleMetadata {
            selective_thresholds: evaluation.coverage_thresholds(),
            selective_summaries: evaluation.selective_summaries(),
            ..Bundle::metadata(&bytes).map_err(&bundle_error)?
        };
        write_atomic(
            path,
            &Bundle::with_metadata(&bytes, &meta).map_err(&bundle_error)?,
        )?;
        eprintln!(
            "wrote the thresholds of this evaluation into {}",
            path.display()
        );
    }
    Ok(())
}
