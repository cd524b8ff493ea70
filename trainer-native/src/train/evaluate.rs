//! Evaluation of the ERM (best and last) and MaskTune models: accuracy overall, per class and
//! per group with counts; selective classification with the combined confidence (DESIGN.md step
//! 5, ERM = the best ERM checkpoint), thresholds chosen on validation and applied to each test
//! set; the risk-coverage curves as CSV.

use std::fmt::Write as _;

use burn::prelude::Device;
use masktune::inference::ModelPair;
use masktune::metrics::{
    ClassificationReport, GroupReport, classification_report, group_report, predictions,
};
use masktune::models::AnyModel;
use masktune::models::preprocess::Normalization;
use masktune::selective::{
    PAPER_COVERAGES, SelectiveTable, combine_batch, coverage_threshold, risk_coverage_curve,
    selective_table,
};
use serde::{Deserialize, Serialize};

use super::atomic::write_atomic;
use super::checkpoint::{self, Stage};
use super::config::RunConfig;
use super::epoch::predict;
use super::error::{Result, TrainError};
use super::experiment::{Datasets, NamedSet};
use super::report::update_section;
use super::run_dir::RunDir;
use crate::backend::Backend;
use crate::data::ImageSet;

/// One model on one set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEvaluation {
    pub model: String,
    pub accuracy: ClassificationReport,
    /// Per (label, spurious attribute) group, where the set has groups.
    pub groups: Option<GroupReport>,
}

/// Every model and the selective classifier on one set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetEvaluation {
    pub set: String,
    pub images: usize,
    /// (group name, count), where the set has groups.
    pub group_counts: Option<Vec<(String, usize)>>,
    pub models: Vec<ModelEvaluation>,
    /// Thresholds from validation applied to this set (test sets only).
    pub selective: Option<SelectiveTable>,
    /// Area under this set's risk-coverage curve of the combined confidence, and its excess.
    pub aurc: f64,
    pub e_aurc: f64,
    /// `[coverage, risk]` points of that curve, thinned for plots and the app.
    pub curve: Vec<[f64; 2]>,
}

/// The `evaluation` section of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationReport {
    pub class_names: Vec<String>,
    /// (target coverage, confidence threshold) chosen on validation, for every whole percent
    /// from 50 % to 100 % (the paper's 80/85/90/95/100 among them; the app's slider uses all).
    pub thresholds: Vec<(f64, f64)>,
    pub sets: Vec<SetEvaluation>,
}

/// Points kept of each risk-coverage curve in the report and the bundles (the CSV has them all).
const CURVE_POINTS: usize = 100;

/// The checkpoints compared: name, file, stage.
fn models(run: &RunDir) -> [(&'static str, std::path::PathBuf, Stage); 3] {
    [
        ("erm_best", run.best(), Stage::Erm),
        ("erm_last", run.last(), Stage::Erm),
        ("masktune", run.masktune(), Stage::MaskTune),
    ]
}

/// Evaluates a run's checkpoints and records the result in its report (and its risk-coverage
/// curves as CSV).
pub fn evaluate(
    config: &RunConfig,
    sets: &Datasets,
    run: &RunDir,
    backend: Backend,
) -> Result<EvaluationReport> {
    let device = backend.device()?;
    let mut loaded = Vec::new();
    for (name, path, stage) in models(run) {
        loaded.push((
            name,
            checkpoint::load(&path, stage, Some(config), &device)?.model,
        ));
    }
    let compared: Vec<(&str, &AnyModel)> = loaded.iter().map(|(n, m)| (*n, m)).collect();
    let settings = Settings {
        classes: config.architecture.num_classes(),
        batch_size: config.batch_size,
        normalization: &config.normalization,
        device: &device,
    };
    let (report, csv) = evaluate_models(&compared, sets, &settings)?;
    write_atomic(&run.risk_coverage(), csv.as_bytes())?;
    print_summary(&report);
    update_section(&run.report(), "evaluation", &report)?;
    Ok(report)
}

/// Evaluates an exported ERM + MaskTune bundle pair on `sets` (no run folder needed).
pub fn evaluate_bundles(
    pair: &ModelPair,
    sets: &Datasets,
    batch_size: usize,
) -> Result<EvaluationReport> {
    let settings = Settings {
        classes: pair.meta.class_names.len(),
        batch_size,
        normalization: &pair.meta.normalization,
        device: &pair.device,
    };
    let compared = [("erm", &pair.erm), ("masktune", &pair.masktune)];
    let (report, _) = evaluate_models(&compared, sets, &settings)?;
    print_summary(&report);
    Ok(report)
}

/// How the compared models take their inputs.
struct Settings<'a> {
    classes: usize,
    batch_size: usize,
    normalization: &'a Normalization,
    device: &'a Device,
}

/// Every model on the validation and test sets; the selective classifier combines the first
/// model (ERM) and the last (MaskTune). Returns the report and the full risk-coverage curves as
/// CSV.
fn evaluate_models(
    compared: &[(&str, &AnyModel)],
    sets: &Datasets,
    settings: &Settings,
) -> Result<(EvaluationReport, String)> {
    let classes = settings.classes;
    let eval_sets: Vec<NamedSet> = std::iter::once(NamedSet {
        name: "val".into(),
        set: sets.val.clone(),
    })
    .chain(sets.tests.iter().cloned())
    .collect();
    // probabilities[model][set]
    let mut probabilities = Vec::new();
    for (name, model) in compared {
        let per_set = eval_sets
            .iter()
            .map(|s| {
                predict(
                    model,
                    &s.set,
                    settings.batch_size,
                    settings.normalization,
                    settings.device,
                    &format!("{name} on {}", s.name),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        probabilities.push(per_set);
    }
    let (erm, masktune) = (0, compared.len() - 1);
    let selective_error =
        |e: masktune::selective::SelectiveError| TrainError::compute("selective classification", e);
    let confidences_and_correct =
        |set_index: usize, set: &ImageSet| -> Result<(Vec<f64>, Vec<bool>)> {
            let combined = combine_batch(
                &probabilities[erm][set_index],
                &probabilities[masktune][set_index],
                classes,
            )
            .map_err(selective_error)?;
            let correct = combined
                .iter()
                .zip(&set.labels)
                .map(|(c, &l)| c.prediction == l as usize)
                .collect();
            Ok((combined.iter().map(|c| c.confidence).collect(), correct))
        };
    let (val_confidences, _) = confidences_and_correct(0, &sets.val)?;
    let thresholds = (50..=100)
        .map(|percent| {
            let c = f64::from(percent) / 100.0;
            Ok((
                c,
                coverage_threshold(&val_confidences, c).map_err(selective_error)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut csv = String::from("set,threshold,accepted,errors,coverage,risk\n");
    let mut results = Vec::new();
    for (si, named) in eval_sets.iter().enumerate() {
        let set = &named.set;
        let labels: Vec<usize> = set.labels.iter().map(|&l| l as usize).collect();
        let mut model_results = Vec::new();
        for (mi, (name, _)) in compared.iter().enumerate() {
            let predicted = predictions(&probabilities[mi][si], classes)
                .map_err(|e| TrainError::compute("metrics", e))?;
            let accuracy =
                classification_report(&predicted, &labels, classes, Some(&set.class_names))
                    .map_err(|e| TrainError::compute("metrics", e))?;
            let groups = match &set.groups {
                Some(groups) => {
                    let attributes: Vec<usize> = groups
                        .iter()
                        .zip(&labels)
                        .map(|(&g, &l)| g as usize - 2 * l)
                        .collect();
                    Some(
                        group_report(&predicted, &labels, &attributes, classes, 2)
                            .map_err(|e| TrainError::compute("metrics", e))?,
                    )
                }
                None => None,
            };
            model_results.push(ModelEvaluation {
                model: name.to_string(),
                accuracy,
                groups,
            });
        }
        let (confidences, correct) = confidences_and_correct(si, set)?;
        let curve = risk_coverage_curve(&confidences, &correct).map_err(selective_error)?;
        for p in &curve.points {
            writeln!(
                csv,
                "{},{},{},{},{},{}",
                named.name, p.threshold, p.accepted, p.errors, p.coverage, p.risk
            )
            .expect("writing to a String");
        }
        let selective = match si {
            0 => None,
            _ => Some(
                selective_table(&val_confidences, &confidences, &correct, &PAPER_COVERAGES)
                    .map_err(selective_error)?,
            ),
        };
        let group_counts = set
            .group_counts()
            .map(|counts| set.group_names.iter().cloned().zip(counts).collect());
        results.push(SetEvaluation {
            set: named.name.clone(),
            images: set.len(),
            group_counts,
            models: model_results,
            selective,
            aurc: curve.aurc,
            e_aurc: curve.e_aurc,
            curve: curve.thinned(CURVE_POINTS),
        });
    }
    let report = EvaluationReport {
        class_names: sets.train.class_names.clone(),
        thresholds,
        sets: results,
    };
    Ok((report, csv))
}

fn percent(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.2}%", 100.0 * v))
}

/// A plain-text table of the headline numbers on stdout.
fn print_summary(report: &EvaluationReport) {
    println!(
        "{:<16} {:<10} {:>10} {:>12} {:>12}",
        "set", "model", "accuracy", "worst group", "mean group"
    );
    for set in &report.sets {
        for m in &set.models {
            let (worst, mean) = m.groups.as_ref().map_or((None, None), |g| {
                (g.worst_group_accuracy, g.mean_group_accuracy)
            });
            println!(
                "{:<16} {:<10} {:>10} {:>12} {:>12}",
                set.set,
                m.model,
                percent(m.accuracy.accuracy),
                percent(worst),
                percent(mean)
            );
        }
    }
    for set in report.sets.iter().filter(|s| s.selective.is_some()) {
        println!(
            "selective classification on {} (thresholds from val), AURC {:.4}:",
            set.set, set.aurc
        );
        for row in &set.selective.as_ref().expect("filtered").rows {
            println!(
                "  target {:>5.1}%  coverage {:>6.2}%  selective accuracy {:>8}",
                100.0 * row.target_coverage,
                100.0 * row.test.coverage,
                percent(row.test.accuracy)
            );
        }
    }
}
