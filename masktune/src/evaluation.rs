//! Evaluation of the compared models (the ERM checkpoints and the MaskTune model) from their
//! probabilities: accuracy overall, per class and per group with counts; selective
//! classification with the combined confidence (DESIGN.md step 5), thresholds chosen on the
//! validation set and applied to each test set; the risk-coverage curves. The trainer's
//! `evaluate` and the page's Lab compute the probabilities their own way and report through this.
//!
//! What a bundle records of an evaluation (thresholds, selective summaries, accuracies) is read
//! off the report here too, so that exported and in-page bundles carry the same numbers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bundle::{CoverageThreshold, SelectiveSummary};
use crate::data::ImageSet;
use crate::metrics::{
    ClassificationReport, GroupReport, MetricsError, classification_report, group_report,
    predictions,
};
use crate::selective::{
    PAPER_COVERAGES, RiskCoverageCurve, SelectiveError, SelectiveTable, combine_batch,
    coverage_threshold, risk_coverage_curve, selective_table,
};

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

/// The evaluation of a run: what the trainer's report records and the Lab shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationReport {
    pub class_names: Vec<String>,
    /// (target coverage, confidence threshold) chosen on validation, for every whole percent
    /// from 50 % to 100 % (the paper's 80/85/90/95/100 among them; the app's slider uses all).
    pub thresholds: Vec<(f64, f64)>,
    /// The validation set first, then the test sets.
    pub sets: Vec<SetEvaluation>,
}

/// Why an evaluation could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvaluationError {
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error(transparent)]
    Selective(#[from] SelectiveError),
    #[error("{0}")]
    Shape(String),
}

/// A set as evaluated: its name in reports, and its images' labels and groups.
pub struct NamedSet<'a> {
    pub name: &'a str,
    pub set: &'a ImageSet,
}

/// Evaluates `models` (names, the ERM model first and the MaskTune model last) on `sets` (the
/// validation set first, then the test sets) from `probabilities[model][set]`, each row-major
/// `[images, classes]`. Returns the report and each set's full risk-coverage curve.
pub fn evaluate(
    models: &[&str],
    sets: &[NamedSet],
    probabilities: &[Vec<Vec<f32>>],
    class_names: &[String],
) -> Result<(EvaluationReport, Vec<RiskCoverageCurve>), EvaluationError> {
    let classes = class_names.len();
    if models.is_empty() || sets.is_empty() {
        return Err(EvaluationError::Shape(
            "an evaluation needs at least one model and a validation set".into(),
        ));
    }
    if probabilities.len() != models.len() || probabilities.iter().any(|p| p.len() != sets.len()) {
        return Err(EvaluationError::Shape(format!(
            "probabilities for {} models x {} sets expected",
            models.len(),
            sets.len()
        )));
    }
    let (erm, masktune) = (0, models.len() - 1);
    let combined_scores = |set_index: usize| -> Result<(Vec<f64>, Vec<bool>), EvaluationError> {
        let combined = combine_batch(
            &probabilities[erm][set_index],
            &probabilities[masktune][set_index],
            classes,
        )?;
        let labels = &sets[set_index].set.labels;
        if combined.len() != labels.len() {
            return Err(EvaluationError::Shape(format!(
                "{} predictions for the {} images of {}",
                combined.len(),
                labels.len(),
                sets[set_index].name
            )));
        }
        let correct = combined
            .iter()
            .zip(labels)
            .map(|(c, &l)| c.prediction == l as usize)
            .collect();
        Ok((combined.iter().map(|c| c.confidence).collect(), correct))
    };
    let (val_confidences, _) = combined_scores(0)?;
    let thresholds = (50..=100)
        .map(|percent| {
            let coverage = f64::from(percent) / 100.0;
            Ok((coverage, coverage_threshold(&val_confidences, coverage)?))
        })
        .collect::<Result<Vec<_>, SelectiveError>>()?;
    let mut results = Vec::new();
    let mut curves = Vec::new();
    for (si, named) in sets.iter().enumerate() {
        let set = named.set;
        let model_results = models
            .iter()
            .enumerate()
            .map(|(mi, name)| model_evaluation(name, set, &probabilities[mi][si], class_names))
            .collect::<Result<Vec<_>, _>>()?;
        let (confidences, correct) = combined_scores(si)?;
        let curve = risk_coverage_curve(&confidences, &correct)?;
        let selective = match si {
            0 => None,
            _ => Some(selective_table(
                &val_confidences,
                &confidences,
                &correct,
                &PAPER_COVERAGES,
            )?),
        };
        let group_counts = set
            .group_counts()
            .map(|counts| set.group_names.iter().cloned().zip(counts).collect());
        results.push(SetEvaluation {
            set: named.name.to_string(),
            images: set.len(),
            group_counts,
            models: model_results,
            selective,
            aurc: curve.aurc,
            e_aurc: curve.e_aurc,
            curve: curve.for_display(),
        });
        curves.push(curve);
    }
    let report = EvaluationReport {
        class_names: class_names.to_vec(),
        thresholds,
        sets: results,
    };
    Ok((report, curves))
}

/// One model's accuracy overall, per class and per group. A set's group ids are
/// `2 * label + attribute` (a binary spurious attribute per class).
fn model_evaluation(
    name: &str,
    set: &ImageSet,
    probabilities: &[f32],
    class_names: &[String],
) -> Result<ModelEvaluation, EvaluationError> {
    let classes = class_names.len();
    let labels: Vec<usize> = set.labels.iter().map(|&l| l as usize).collect();
    let predicted = predictions(probabilities, classes)?;
    let accuracy = classification_report(&predicted, &labels, classes, Some(class_names))?;
    let groups = match &set.groups {
        Some(groups) => {
            let attributes = groups
                .iter()
                .zip(&labels)
                .map(|(&g, &l)| {
                    (g as usize).checked_sub(2 * l).ok_or_else(|| {
                        EvaluationError::Shape(format!(
                            "group {g} does not belong to label {l} (groups are 2 * label + attribute)"
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Some(group_report(&predicted, &labels, &attributes, classes, 2)?)
        }
        None => None,
    };
    Ok(ModelEvaluation {
        model: name.to_string(),
        accuracy,
        groups,
    })
}

impl EvaluationReport {
    /// The thresholds as bundles carry them.
    pub fn coverage_thresholds(&self) -> Vec<CoverageThreshold> {
        self.thresholds
            .iter()
            .map(|&(target_coverage, threshold)| CoverageThreshold {
                target_coverage,
                threshold,
            })
            .collect()
    }

    /// What the pair did on each test set when allowed to abstain, as bundles carry it.
    pub fn selective_summaries(&self) -> Vec<SelectiveSummary> {
        self.sets
            .iter()
            .filter_map(|set| {
                Some(SelectiveSummary {
                    test_set: set.set.clone(),
                    table: set.selective.clone()?,
                    curve: set.curve.clone(),
                    aurc: set.aurc,
                    e_aurc: set.e_aurc,
                })
            })
            .collect()
    }

    /// Model `model`'s accuracy on every set, and its worst-group accuracy where the set has
    /// groups (`"<set>_worst_group"`), as bundles carry them.
    pub fn accuracies_of(&self, model: &str) -> BTreeMap<String, f64> {
        self.sets
            .iter()
            .flat_map(|set| {
                let m = set.models.iter().find(|m| m.model == model);
                let overall = m
                    .and_then(|m| m.accuracy.accuracy)
                    .map(|a| (set.set.clone(), a));
                let worst = m
                    .and_then(|m| m.groups.as_ref()?.worst_group_accuracy)
                    .map(|a| (format!("{}_worst_group", set.set), a));
                overall.into_iter().chain(worst)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four images of two classes with groups `2 * label + attribute`.
    fn set() -> ImageSet {
        ImageSet {
            images: vec![0; 4 * 3],
            width: 1,
            height: 1,
            labels: vec![0, 0, 1, 1],
            groups: Some(vec![0, 1, 2, 3]),
            class_names: vec!["a".into(), "b".into()],
            group_names: ["a0", "a1", "b0", "b1"].map(String::from).to_vec(),
        }
    }

    #[test]
    fn counts_groups_combines_the_first_and_last_model_and_picks_thresholds_on_validation() {
        let set = set();
        let sets = [
            NamedSet {
                name: "val",
                set: &set,
            },
            NamedSet {
                name: "test",
                set: &set,
            },
        ];
        // ERM gets image 1 wrong (confidently), MaskTune gets it right; both are right elsewhere.
        let erm = vec![0.9, 0.1, 0.2, 0.8, 0.3, 0.7, 0.1, 0.9];
        let masktune = vec![0.8, 0.2, 0.6, 0.4, 0.4, 0.6, 0.2, 0.8];
        let probabilities = vec![vec![erm.clone(), erm], vec![masktune.clone(), masktune]];
        let names = ["a".to_string(), "b".to_string()];
        let (report, curves) =
            evaluate(&["erm", "masktune"], &sets, &probabilities, &names).unwrap();
        assert_eq!(report.sets.len(), 2);
        assert_eq!(curves.len(), 2);
        let test = &report.sets[1];
        let erm_groups = test.models[0].groups.as_ref().unwrap();
        assert_eq!(erm_groups.worst_group_accuracy, Some(0.0));
        assert_eq!(
            erm_groups
                .groups
                .iter()
                .map(|g| g.count)
                .collect::<Vec<_>>(),
            [1, 1, 1, 1]
        );
        assert_eq!(test.models[1].accuracy.accuracy, Some(1.0));
        assert_eq!(
            test.group_counts.as_ref().unwrap()[3],
            ("b1".to_string(), 1)
        );
        // The disagreement (image 1, ERM's error) has the lowest combined confidence, so the
        // first three images accepted are the three right ones.
        let three = curves[1].points.iter().find(|p| p.accepted == 3).unwrap();
        assert_eq!(three.errors, 0);
        assert!(report.sets[0].selective.is_none());
        let rows = &test.selective.as_ref().unwrap().rows;
        assert_eq!(rows.len(), PAPER_COVERAGES.len());
        assert_eq!(rows.last().unwrap().test.coverage, 1.0);
        assert_eq!(report.thresholds[0].0, 0.5);
        assert_eq!(report.accuracies_of("erm")["test"], 0.75);
        assert_eq!(report.accuracies_of("erm")["test_worst_group"], 0.0);
        assert_eq!(report.coverage_thresholds().len(), 51);
        assert_eq!(report.selective_summaries().len(), 1);
    }

    #[test]
    fn wrong_shapes_are_refused_with_a_message() {
        let set = set();
        let sets = [NamedSet {
            name: "val",
            set: &set,
        }];
        let names = ["a".to_string(), "b".to_string()];
        let short = vec![vec![vec![0.5; 6]]];
        let error = evaluate(&["erm"], &sets, &short, &names).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("3 predictions for the 4 images of val"),
            "{error}"
        );
        let missing: Vec<Vec<Vec<f32>>> = vec![];
        assert!(evaluate(&["erm"], &sets, &missing, &names).is_err());
    }
}
