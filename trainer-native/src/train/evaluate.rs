//! Evaluation of the ERM (best and last) and MaskTune models: accuracy overall, per class and
//! per group with counts; selective classification with the combined confidence (DESIGN.md step
//! 5, ERM = the best ERM checkpoint), thresholds chosen on validation and applied to each test
//! set; the risk-coverage curves as CSV.

use std::fmt::Write as _;

use burn::prelude::Device;
use masktune::evaluation::{self, NamedSet as Evaluated};
pub use masktune::evaluation::{EvaluationReport, ModelEvaluation, SetEvaluation};
use masktune::inference::ModelPair;
use masktune::models::AnyModel;
use masktune::models::preprocess::Normalization;

use super::atomic::write_atomic;
use super::checkpoint::{self, Stage};
use super::config::RunConfig;
use super::epoch::predict;
use super::error::{Result, TrainError};
use super::experiment::Datasets;
use super::report::update_section;
use super::run_dir::RunDir;
use crate::backend::Backend;

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
    let class_names = &sets.train.class_names;
    if class_names.len() != settings.classes {
        return Err(TrainError::Settings(format!(
            "the data has {} classes, the models {}",
            class_names.len(),
            settings.classes
        )));
    }
    let eval_sets: Vec<Evaluated> = std::iter::once(Evaluated {
        name: "val",
        set: &sets.val,
    })
    .chain(sets.tests.iter().map(|t| Evaluated {
        name: &t.name,
        set: &t.set,
    }))
    .collect();
    // probabilities[model][set]
    let probabilities = compared
        .iter()
        .map(|(name, model)| {
            eval_sets
                .iter()
                .map(|s| {
                    predict(
                        model,
                        s.set,
                        settings.batch_size,
                        settings.normalization,
                        settings.device,
                        &format!("{name} on {}", s.name),
                    )
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    let names: Vec<&str> = compared.iter().map(|(name, _)| *name).collect();
    let (report, curves) = evaluation::evaluate(&names, &eval_sets, &probabilities, class_names)
        .map_err(|e| TrainError::compute("evaluation", e))?;
    let mut csv = String::from("set,threshold,accepted,errors,coverage,risk\n");
    for (named, curve) in eval_sets.iter().zip(&curves) {
        for p in &curve.points {
            writeln!(
                csv,
                "{},{},{},{},{},{}",
                named.name, p.threshold, p.accepted, p.errors, p.coverage, p.risk
            )
            .expect("writing to a String");
        }
    }
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
