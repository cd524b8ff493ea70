//! Evaluation metrics on plain slices: overall and per-class accuracy, the confusion matrix, and
//! group accuracies (a group is a (target label, spurious attribute) pair, e.g. CelebA
//! Blond_Hair x Male) with their mean and worst.
//!
//! Accuracies are `Option<f64>`: `None` (JSON `null`) for an empty set, so an empty group (CelebA's
//! blond-male validation group) is reported with count 0 and never turns the worst group into NaN.

use serde::{Deserialize, Serialize};

/// Why a metric could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    #[error("{what} has {got} entries, expected {expected}")]
    LengthMismatch {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("{what} {value} is out of range 0..{bound}")]
    OutOfRange {
        what: &'static str,
        value: usize,
        bound: usize,
    },
    #[error("{what} must be at least 1")]
    Zero { what: &'static str },
    #[error("{len} values do not split into rows of {classes} classes")]
    Ragged { len: usize, classes: usize },
}

/// Index of the first maximum of a non-empty row (first wins on ties, like `numpy.argmax`).
///
/// # Panics
/// If `row` is empty.
pub fn argmax<T: PartialOrd + Copy>(row: &[T]) -> usize {
    assert!(!row.is_empty(), "argmax of an empty row");
    let mut best = 0;
    for (i, &x) in row.iter().enumerate().skip(1) {
        if x > row[best] {
            best = i;
        }
    }
    best
}

/// Predicted class (argmax) of every row of a flat row-major `[n, classes]` probability slice.
pub fn predictions(probabilities: &[f32], classes: usize) -> Result<Vec<usize>, MetricsError> {
    if classes == 0 {
        return Err(MetricsError::Zero { what: "classes" });
    }
    if !probabilities.len().is_multiple_of(classes) {
        return Err(MetricsError::Ragged {
            len: probabilities.len(),
            classes,
        });
    }
    Ok(probabilities.chunks_exact(classes).map(argmax).collect())
}

/// Fraction `correct / count`, `None` for an empty set.
/// An accuracy as the reports write it: "87.50% (7 of 8)", or "no images" for an empty set.
pub fn accuracy_text(correct: usize, count: usize) -> String {
    match ratio(correct, count) {
        Some(accuracy) => format!("{:.2}% ({correct} of {count})", accuracy * 100.0),
        None => "no images".to_string(),
    }
}

fn ratio(correct: usize, count: usize) -> Option<f64> {
    (count > 0).then(|| correct as f64 / count as f64)
}

fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), MetricsError> {
    if expected == got {
        Ok(())
    } else {
        Err(MetricsError::LengthMismatch {
            what,
            expected,
            got,
        })
    }
}

fn check_range(what: &'static str, values: &[usize], bound: usize) -> Result<(), MetricsError> {
    match values.iter().find(|&&v| v >= bound) {
        Some(&value) => Err(MetricsError::OutOfRange { what, value, bound }),
        None => Ok(()),
    }
}

/// Confusion matrix: `counts[true_class][predicted_class]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    pub classes: usize,
    pub counts: Vec<Vec<usize>>,
}

impl ConfusionMatrix {
    pub fn new(
        predictions: &[usize],
        labels: &[usize],
        classes: usize,
    ) -> Result<Self, MetricsError> {
        if classes == 0 {
            return Err(MetricsError::Zero { what: "classes" });
        }
        check_len("predictions", labels.len(), predictions.len())?;
        check_range("prediction", predictions, classes)?;
        check_range("label", labels, classes)?;
        let mut counts = vec![vec![0; classes]; classes];
        for (&p, &l) in predictions.iter().zip(labels) {
            counts[l][p] += 1;
        }
        Ok(Self { classes, counts })
    }

    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    pub fn correct(&self) -> usize {
        (0..self.classes).map(|c| self.counts[c][c]).sum()
    }
}

/// Accuracy of the samples whose true label is `class`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassAccuracy {
    pub class: usize,
    pub name: Option<String>,
    pub count: usize,
    pub correct: usize,
    pub accuracy: Option<f64>,
}

/// Overall and per-class accuracy with the confusion matrix they are read from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    pub count: usize,
    pub correct: usize,
    pub accuracy: Option<f64>,
    pub per_class: Vec<ClassAccuracy>,
    pub confusion: ConfusionMatrix,
}

impl ClassificationReport {
    /// The class with the lowest accuracy among those with samples (the first on ties).
    pub fn worst_class(&self) -> Option<&ClassAccuracy> {
        self.per_class
            .iter()
            .filter_map(|c| Some((c, c.accuracy?)))
            // As the worst group is picked in `group_report`.
            .reduce(|worst, c| if c.1 < worst.1 { c } else { worst })
            .map(|(c, _)| c)
    }
}

/// Builds the report; `class_names`, when given, must name every class.
pub fn classification_report(
    predictions: &[usize],
    labels: &[usize],
    classes: usize,
    class_names: Option<&[String]>,
) -> Result<ClassificationReport, MetricsError> {
    if let Some(names) = class_names {
        check_len("class_names", classes, names.len())?;
    }
    let confusion = ConfusionMatrix::new(predictions, labels, classes)?;
    let per_class = (0..classes)
        .map(|class| {
            let count = confusion.counts[class].iter().sum();
            let correct = confusion.counts[class][class];
            ClassAccuracy {
                class,
                name: class_names.map(|names| names[class].clone()),
                count,
                correct,
                accuracy: ratio(correct, count),
            }
        })
        .collect();
    let (count, correct) = (confusion.total(), confusion.correct());
    Ok(ClassificationReport {
        count,
        correct,
        accuracy: ratio(correct, count),
        per_class,
        confusion,
    })
}

/// A group: the target label and the spurious attribute value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupId {
    pub label: usize,
    pub attribute: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupAccuracy {
    pub group: GroupId,
    pub count: usize,
    pub correct: usize,
    pub accuracy: Option<f64>,
}

/// Every (label, attribute) group in row-major order (label-major), empty ones included with count
/// 0; mean and worst are over the non-empty groups only (`None` when all are empty).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupReport {
    pub groups: Vec<GroupAccuracy>,
    pub mean_group_accuracy: Option<f64>,
    pub worst_group_accuracy: Option<f64>,
    /// The non-empty group with the lowest accuracy; the first in row-major order on ties.
    pub worst_group: Option<GroupId>,
}

pub fn group_report(
    predictions: &[usize],
    labels: &[usize],
    attributes: &[usize],
    classes: usize,
    attribute_values: usize,
) -> Result<GroupReport, MetricsError> {
    if classes == 0 {
        return Err(MetricsError::Zero { what: "classes" });
    }
    if attribute_values == 0 {
        return Err(MetricsError::Zero {
            what: "attribute_values",
        });
    }
    check_len("predictions", labels.len(), predictions.len())?;
    check_len("attributes", labels.len(), attributes.len())?;
    check_range("label", labels, classes)?;
    check_range("attribute", attributes, attribute_values)?;
    let mut tally = vec![(0usize, 0usize); classes * attribute_values];
    for ((&p, &l), &a) in predictions.iter().zip(labels).zip(attributes) {
        let t = &mut tally[l * attribute_values + a];
        t.0 += 1;
        t.1 += usize::from(p == l);
    }
    let groups: Vec<GroupAccuracy> = tally
        .iter()
        .enumerate()
        .map(|(i, &(count, correct))| GroupAccuracy {
            group: GroupId {
                label: i / attribute_values,
                attribute: i % attribute_values,
            },
            count,
            correct,
            accuracy: ratio(correct, count),
        })
        .collect();
    let non_empty: Vec<(GroupId, f64)> = groups
        .iter()
        .filter_map(|g| g.accuracy.map(|a| (g.group, a)))
        .collect();
    let mean_group_accuracy = (!non_empty.is_empty())
        .then(|| non_empty.iter().map(|&(_, a)| a).sum::<f64>() / non_empty.len() as f64);
    let worst = non_empty
        .iter()
        .copied()
        .reduce(|w, g| if g.1 < w.1 { g } else { w });
    Ok(GroupReport {
        groups,
        mean_group_accuracy,
        worst_group_accuracy: worst.map(|(_, a)| a),
        worst_group: worst.map(|(g, _)| g),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_maximum() {
        assert_eq!(argmax(&[0.1, 0.7, 0.7, 0.2]), 1);
        assert_eq!(argmax(&[3]), 0);
    }

    #[test]
    fn predictions_reject_ragged_rows() {
        assert_eq!(predictions(&[0.2, 0.8, 0.9, 0.1], 2).unwrap(), vec![1, 0]);
        assert_eq!(
            predictions(&[0.2, 0.8, 0.9], 2),
            Err(MetricsError::Ragged { len: 3, classes: 2 })
        );
        assert_eq!(
            predictions(&[0.5], 0),
            Err(MetricsError::Zero { what: "classes" })
        );
    }

    #[test]
    fn hand_computed_report() {
        // labels 0 0 1 1 2, predictions 0 1 1 1 0: 3 of 5 right.
        let names: Vec<String> = ["cat", "dog", "frog"].map(String::from).to_vec();
        let r = classification_report(&[0, 1, 1, 1, 0], &[0, 0, 1, 1, 2], 3, Some(&names)).unwrap();
        assert_eq!((r.count, r.correct, r.accuracy), (5, 3, Some(0.6)));
        assert_eq!(
            r.confusion.counts,
            vec![vec![1, 1, 0], vec![0, 2, 0], vec![1, 0, 0]]
        );
        let acc: Vec<_> = r
            .per_class
            .iter()
            .map(|c| (c.count, c.correct, c.accuracy))
            .collect();
        assert_eq!(
            acc,
            vec![(2, 1, Some(0.5)), (2, 2, Some(1.0)), (1, 0, Some(0.0))]
        );
        assert_eq!(r.per_class[2].name.as_deref(), Some("frog"));
        assert_eq!(accuracy_text(r.correct, r.count), "60.00% (3 of 5)");
        assert_eq!(accuracy_text(0, 0), "no images");
        assert_eq!(r.worst_class().map(|c| c.class), Some(2));
    }

    #[test]
    fn empty_class_has_no_accuracy() {
        let r = classification_report(&[0, 0], &[0, 0], 2, None).unwrap();
        assert_eq!(r.per_class[1].count, 0);
        assert_eq!(r.per_class[1].accuracy, None);
        assert_eq!(r.accuracy, Some(1.0));
        // The class without samples is not the worst; on ties the first is.
        assert_eq!(r.worst_class().map(|c| c.class), Some(0));
        let tied = classification_report(&[1, 0], &[0, 1], 2, None).unwrap();
        assert_eq!(tied.worst_class().map(|c| c.class), Some(0));
        let none = classification_report(&[], &[], 2, None).unwrap();
        assert!(none.worst_class().is_none());
    }

    #[test]
    fn out_of_range_and_mismatched_inputs_are_errors() {
        assert!(matches!(
            ConfusionMatrix::new(&[0, 3], &[0, 1], 3),
            Err(MetricsError::OutOfRange {
                what: "prediction",
                value: 3,
                bound: 3
            })
        ));
        assert!(matches!(
            ConfusionMatrix::new(&[0], &[0, 1], 3),
            Err(MetricsError::LengthMismatch { .. })
        ));
        let names = vec!["a".to_string()];
        assert!(classification_report(&[0], &[0], 2, Some(&names)).is_err());
        assert!(group_report(&[0], &[0], &[2], 2, 2).is_err());
    }

    #[test]
    fn empty_group_is_reported_and_skipped() {
        // CelebA-like: label = blond, attribute = male; no blond male at all.
        let labels = [0, 0, 0, 0, 1, 1, 1];
        let attrs = [0, 0, 1, 1, 0, 0, 0];
        let preds = [0, 0, 0, 1, 1, 0, 0];
        let r = group_report(&preds, &labels, &attrs, 2, 2).unwrap();
        let counts: Vec<_> = r.groups.iter().map(|g| (g.count, g.correct)).collect();
        assert_eq!(counts, vec![(2, 2), (2, 1), (3, 1), (0, 0)]);
        assert_eq!(
            r.groups[3].group,
            GroupId {
                label: 1,
                attribute: 1
            }
        );
        assert_eq!(r.groups[3].accuracy, None);
        let mean = (1.0 + 0.5 + 1.0 / 3.0) / 3.0;
        assert!((r.mean_group_accuracy.unwrap() - mean).abs() < 1e-15);
        assert_eq!(r.worst_group_accuracy, Some(1.0 / 3.0));
        assert_eq!(
            r.worst_group,
            Some(GroupId {
                label: 1,
                attribute: 0
            })
        );
    }

    #[test]
    fn all_groups_empty_gives_none() {
        let r = group_report(&[], &[], &[], 2, 2).unwrap();
        assert_eq!(r.groups.len(), 4);
        assert_eq!(
            (r.mean_group_accuracy, r.worst_group_accuracy, r.worst_group),
            (None, None, None)
        );
    }

    #[test]
    fn report_round_trips_through_json() {
        let r = group_report(&[1, 0], &[1, 1], &[0, 1], 2, 2).unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"accuracy\":null"));
        assert_eq!(serde_json::from_str::<GroupReport>(&json).unwrap(), r);
    }
}
