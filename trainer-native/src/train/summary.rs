//! `summarize`: several runs of one experiment (seeds) side by side, as RESULTS.md reports them.
//! Per evaluated set: every model's accuracy overall, per group (with the group's count), mean and
//! worst group as mean ± sample standard deviation over the runs; beside the worst group, the
//! 95 % Wilson interval of one model at that mean accuracy on that many images (the test-set
//! uncertainty, which on CelebA's 45 blond men dwarfs the spread over seeds); each run's own
//! worst group as correct / count; the selective table and AURC. Markdown out, JSON optionally.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use masktune::statistics::{MeanStd, Z_95, wilson_interval};
use serde::Serialize;

use super::erm::TrainReport;
use super::error::{Result, TrainError};
use super::evaluate::{EvaluationReport, ModelEvaluation, SetEvaluation};
use super::report::read_section;
use super::run_dir::RunDir;

/// What one run contributes.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub name: String,
    pub evaluation: EvaluationReport,
    /// Epoch (1-based) of the best ERM checkpoint.
    pub best_epoch: Option<usize>,
}

/// Reads the report of every run folder; all must have been evaluated on the same sets.
pub fn load_runs(folders: &[PathBuf]) -> Result<Vec<RunResult>> {
    let runs = folders
        .iter()
        .map(|folder| load_run(folder))
        .collect::<Result<Vec<_>>>()?;
    if let Some((first, rest)) = runs.split_first() {
        for run in rest {
            check_same_sets(first, run)?;
        }
    }
    Ok(runs)
}

fn load_run(folder: &Path) -> Result<RunResult> {
    let path = RunDir::new(folder).report();
    let evaluation: EvaluationReport =
        read_section(&path, "evaluation").ok_or_else(|| TrainError::Missing {
            path: path.clone(),
            hint: format!(
                "{} has no evaluation in its report: run `pipeline` or `evaluate` on it first",
                folder.display()
            ),
        })?;
    let train: Option<TrainReport> = read_section(&path, "train");
    Ok(RunResult {
        name: folder.file_name().map_or_else(
            || folder.display().to_string(),
            |n| n.to_string_lossy().into(),
        ),
        evaluation,
        best_epoch: train.and_then(|t| t.best).map(|(epoch, _)| epoch),
    })
}

/// The sets, their sizes and group counts must agree: otherwise the runs are not repeats.
fn check_same_sets(first: &RunResult, other: &RunResult) -> Result<()> {
    let shape = |r: &RunResult| {
        r.evaluation
            .sets
            .iter()
            .map(|s| (s.set.clone(), s.images, s.group_counts.clone()))
            .collect::<Vec<_>>()
    };
    if shape(first) == shape(other) {
        Ok(())
    } else {
        Err(TrainError::Settings(format!(
            "runs {} and {} were evaluated on different sets (names, sizes or group counts differ): \
             summarize repeats of one experiment on the same data",
            first.name, other.name
        )))
    }
}

/// Mean ± std over runs of one accuracy (fractions), plus what it was measured on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Aggregate {
    pub count: usize,
    pub accuracy: Option<MeanStd>,
    /// 95 % Wilson interval of one model at the mean accuracy on `count` images.
    pub interval: Option<(f64, f64)>,
}

impl Aggregate {
    fn new(count: usize, values: &[Option<f64>]) -> Aggregate {
        let present: Vec<f64> = values.iter().flatten().copied().collect();
        let accuracy = MeanStd::of(&present);
        let interval = accuracy.and_then(|a| wilson_interval(a.mean * count as f64, count, Z_95));
        Aggregate {
            count,
            accuracy,
            interval,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSummary {
    pub model: String,
    pub overall: Aggregate,
    /// In the set's group order; empty for sets without groups.
    pub groups: Vec<Aggregate>,
    pub mean_group: Option<MeanStd>,
    pub worst_group: Option<Aggregate>,
    /// Each run's worst group: (group name, correct, count).
    pub worst_group_per_run: Vec<(String, usize, usize)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SelectiveSummary {
    pub target_coverage: f64,
    pub coverage: MeanStd,
    pub accuracy: Option<MeanStd>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetSummary {
    pub set: String,
    pub images: usize,
    pub group_names: Vec<String>,
    pub models: Vec<ModelSummary>,
    pub selective: Vec<SelectiveSummary>,
    pub aurc: Option<MeanStd>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub runs: Vec<String>,
    pub best_epochs: Vec<Option<usize>>,
    pub sets: Vec<SetSummary>,
}

/// Aggregates runs that [`load_runs`] accepted (at least one).
pub fn summarize(runs: &[RunResult]) -> Summary {
    let first = &runs[0].evaluation;
    let sets = first
        .sets
        .iter()
        .enumerate()
        .map(|(i, set)| {
            let per_run: Vec<&SetEvaluation> = runs.iter().map(|r| &r.evaluation.sets[i]).collect();
            summarize_set(set, &per_run)
        })
        .collect();
    Summary {
        runs: runs.iter().map(|r| r.name.clone()).collect(),
        best_epochs: runs.iter().map(|r| r.best_epoch).collect(),
        sets,
    }
}

/// One model over the runs, from its evaluation in each run (at least one).
fn summarize_model(
    evaluations: &[&ModelEvaluation],
    group_counts: &[(String, usize)],
) -> ModelSummary {
    let first = evaluations[0];
    let overall = Aggregate::new(
        first.accuracy.count,
        &evaluations
            .iter()
            .map(|e| e.accuracy.accuracy)
            .collect::<Vec<_>>(),
    );
    let groups = group_counts
        .iter()
        .enumerate()
        .map(|(g, (_, count))| {
            let values: Vec<Option<f64>> = evaluations
                .iter()
                .map(|e| e.groups.as_ref().and_then(|r| r.groups[g].accuracy))
                .collect();
            Aggregate::new(*count, &values)
        })
        .collect();
    let reports: Vec<_> = evaluations
        .iter()
        .filter_map(|e| e.groups.as_ref())
        .collect();
    let worst_group_per_run: Vec<(String, usize, usize)> = reports
        .iter()
        .filter_map(|r| {
            let id = r.worst_group?;
            let g = r.groups.iter().position(|a| a.group == id)?;
            Some((
                group_counts[g].0.clone(),
                r.groups[g].correct,
                r.groups[g].count,
            ))
        })
        .collect();
    // The interval needs one count: the worst group's when every run agrees on it.
    let worst_count = match worst_group_per_run.split_first() {
        Some((w, rest)) if rest.iter().all(|o| o.0 == w.0) => w.2,
        _ => 0,
    };
    let worst_group = (!reports.is_empty()).then(|| {
        let values: Vec<Option<f64>> = reports.iter().map(|r| r.worst_group_accuracy).collect();
        Aggregate::new(worst_count, &values)
    });
    ModelSummary {
        model: first.model.clone(),
        overall,
        groups,
        mean_group: MeanStd::of(
            &reports
                .iter()
                .filter_map(|r| r.mean_group_accuracy)
                .collect::<Vec<_>>(),
        ),
        worst_group,
        worst_group_per_run,
    }
}

fn summarize_set(set: &SetEvaluation, per_run: &[&SetEvaluation]) -> SetSummary {
    let group_counts = set.group_counts.clone().unwrap_or_default();
    let models = (0..set.models.len())
        .map(|m| {
            let evaluations: Vec<_> = per_run.iter().map(|s| &s.models[m]).collect();
            summarize_model(&evaluations, &group_counts)
        })
        .collect();
    let selective = set
        .selective
        .iter()
        .flat_map(|t| t.rows.iter().enumerate())
        .map(|(r, row)| {
            let outcomes: Vec<_> = per_run
                .iter()
                .filter_map(|s| s.selective.as_ref()?.rows.get(r).map(|row| &row.test))
                .collect();
            SelectiveSummary {
                target_coverage: row.target_coverage,
                coverage: MeanStd::of(&outcomes.iter().map(|o| o.coverage).collect::<Vec<_>>())
                    .expect("the first run has this row"),
                accuracy: MeanStd::of(
                    &outcomes
                        .iter()
                        .filter_map(|o| o.accuracy)
                        .collect::<Vec<_>>(),
                ),
            }
        })
        .collect();
    SetSummary {
        set: set.set.clone(),
        images: set.images,
        group_names: group_counts.into_iter().map(|(name, _)| name).collect(),
        models,
        selective,
        aurc: MeanStd::of(&per_run.iter().map(|s| s.aurc).collect::<Vec<_>>()),
    }
}

/// `mean ± std` of `value` times `scale` with `decimals` decimals and `unit` after; the mean alone
/// for a single run; `n/a` for nothing measured.
fn mean_std(value: Option<MeanStd>, scale: f64, decimals: usize, unit: &str) -> String {
    match value {
        Some(v) if v.n > 1 => format!(
            "{:.decimals$} ± {:.decimals$}{unit}",
            scale * v.mean,
            scale * v.std
        ),
        Some(v) => format!("{:.decimals$}{unit}", scale * v.mean),
        None => "n/a".into(),
    }
}

/// `93.10 ± 0.42 %` (percent of a fraction, two decimals).
fn percent(value: Option<MeanStd>) -> String {
    mean_std(value, 100.0, 2, " %")
}

fn interval(value: Option<(f64, f64)>) -> String {
    value.map_or_else(String::new, |(low, high)| {
        format!(" [{:.1}, {:.1}]", 100.0 * low, 100.0 * high)
    })
}

/// Each run's worst group: `blond hair, male: 13, 13, 9 of 45` when every run has the same one,
/// else `name correct/count` per run.
fn worst_groups_cell(per_run: &[(String, usize, usize)]) -> String {
    match per_run.split_first() {
        Some((first, rest)) if rest.iter().all(|r| r.0 == first.0 && r.2 == first.2) => {
            let correct: Vec<String> = per_run.iter().map(|r| r.1.to_string()).collect();
            format!("{}: {} of {}", first.0, correct.join(", "), first.2)
        }
        _ => per_run
            .iter()
            .map(|(name, correct, count)| format!("{name} {correct}/{count}"))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// The summary as Markdown tables.
pub fn markdown(summary: &Summary) -> String {
    let mut out = String::new();
    let epochs: Vec<String> = summary
        .best_epochs
        .iter()
        .map(|e| e.map_or_else(|| "?".into(), |e| e.to_string()))
        .collect();
    let _ = writeln!(
        out,
        "{} run{}: {} (best ERM epoch {}). Accuracy as mean ± sample standard deviation over the \
         runs; [low, high]: 95 % Wilson interval of one model at that accuracy on that many images.\n",
        summary.runs.len(),
        if summary.runs.len() == 1 { "" } else { "s" },
        summary.runs.join(", "),
        epochs.join(", ")
    );
    for set in &summary.sets {
        let names: Vec<&str> = set.models.iter().map(|m| m.model.as_str()).collect();
        let _ = writeln!(out, "{} ({} images):\n", set.set, set.images);
        let _ = writeln!(out, "| group | count | {} |", names.join(" | "));
        let _ = writeln!(out, "|---|---|{}", "---|".repeat(names.len()));
        let row = |label: &str, count: String, cells: Vec<String>| {
            format!("| {label} | {count} | {} |\n", cells.join(" | "))
        };
        for (g, name) in set.group_names.iter().enumerate() {
            let count = set.models[0].groups[g].count;
            out += &row(
                name,
                count.to_string(),
                set.models
                    .iter()
                    .map(|m| percent(m.groups[g].accuracy))
                    .collect(),
            );
        }
        out += &row(
            "overall",
            set.images.to_string(),
            set.models
                .iter()
                .map(|m| percent(m.overall.accuracy))
                .collect(),
        );
        if !set.group_names.is_empty() {
            out += &row(
                "mean group",
                String::new(),
                set.models.iter().map(|m| percent(m.mean_group)).collect(),
            );
            out += &row(
                "**worst group**",
                String::new(),
                set.models
                    .iter()
                    .map(|m| {
                        m.worst_group.as_ref().map_or_else(String::new, |w| {
                            format!("**{}**{}", percent(w.accuracy), interval(w.interval))
                        })
                    })
                    .collect(),
            );
            out += &row(
                "worst group per run",
                String::new(),
                set.models
                    .iter()
                    .map(|m| worst_groups_cell(&m.worst_group_per_run))
                    .collect(),
            );
        }
        out += "\n";
        if !set.selective.is_empty() {
            let _ = writeln!(
                out,
                "Selective classification on {} (thresholds from validation), AURC {}:\n",
                set.set,
                mean_std(set.aurc, 1.0, 4, "")
            );
            out += "| target coverage | coverage | selective accuracy |\n|---|---|---|\n";
            for s in &set.selective {
                let _ = writeln!(
                    out,
                    "| {:.0} % | {} | {} |",
                    100.0 * s.target_coverage,
                    percent(Some(s.coverage)),
                    percent(s.accuracy)
                );
            }
            out += "\n";
        }
    }
    out
}
