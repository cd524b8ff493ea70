//! What the ERM + MaskTune pair says about each image, as `trainer-native predict --out` writes it
//! and the page's "Download the results" saves it: one JSON object keyed by file name, so that the
//! two can be compared line by line.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bundle::CoverageThreshold;
use crate::masking::MaskStats;
use crate::metrics::argmax;
use crate::selective::{Combined, decide};

/// One image's entry: the pair's answer, or why the image could not be analysed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ImageReport {
    Done {
        erm_class: String,
        masktune_class: String,
        combined_class: String,
        /// The class the image's folder names, where it names one ([`crate::labelled`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
        confidence: f64,
        /// "accept" or "abstain", at `threshold`.
        decision: String,
        /// The validation threshold the decision used, and the coverage it was chosen for.
        threshold: f64,
        target_coverage: f64,
        masked_pixels: usize,
        mask_threshold: f32,
        erm_probabilities: Vec<f32>,
        masktune_probabilities: Vec<f32>,
    },
    Failed {
        error: String,
    },
}

/// The parts of one analysed image that a report keeps (the page's and the trainer's analyses
/// both have them).
pub struct Answer<'a> {
    pub erm_probabilities: &'a [f32],
    pub masktune_probabilities: &'a [f32],
    pub combined: &'a Combined,
    pub mask: &'a MaskStats,
    /// The class the image's folder names, if it names one.
    pub label: Option<usize>,
}

impl ImageReport {
    pub fn done(answer: Answer<'_>, class_names: &[String], threshold: CoverageThreshold) -> Self {
        let class = |index: usize| {
            class_names
                .get(index)
                .cloned()
                .unwrap_or_else(|| format!("class {index}"))
        };
        ImageReport::Done {
            erm_class: class(argmax(answer.erm_probabilities)),
            masktune_class: class(argmax(answer.masktune_probabilities)),
            combined_class: class(answer.combined.prediction),
            label: answer.label.map(class),
            confidence: answer.combined.confidence,
            decision: decide(answer.combined.confidence, threshold.threshold)
                .as_str()
                .into(),
            threshold: threshold.threshold,
            target_coverage: threshold.target_coverage,
            masked_pixels: answer.mask.masked_pixels,
            mask_threshold: answer.mask.threshold,
            erm_probabilities: answer.erm_probabilities.to_vec(),
            masktune_probabilities: answer.masktune_probabilities.to_vec(),
        }
    }
}

/// The reports keyed by file name. A name given more than once keeps its first entry under the
/// name itself and the later ones under "name (2)", "name (3)", ... in the order given.
pub fn by_name(
    reports: impl IntoIterator<Item = (String, ImageReport)>,
) -> BTreeMap<String, ImageReport> {
    let mut keyed = BTreeMap::new();
    for (name, report) in reports {
        let key = (1..)
            .map(|n| {
                if n == 1 {
                    name.clone()
                } else {
                    format!("{name} ({n})")
                }
            })
            .find(|key| !keyed.contains_key(key))
            .expect("some suffix is free");
        keyed.insert(key, report);
    }
    keyed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer_report(confidence: f64, threshold: f64) -> ImageReport {
        labelled_report(confidence, threshold, None)
    }

    fn labelled_report(confidence: f64, threshold: f64, label: Option<usize>) -> ImageReport {
        let mask = MaskStats {
            threshold: 0.5,
            masked_pixels: 7,
        };
        let combined = Combined {
            prediction: 1,
            confidence,
        };
        let answer = Answer {
            erm_probabilities: &[0.2, 0.8],
            masktune_probabilities: &[0.6, 0.4],
            combined: &combined,
            mask: &mask,
            label,
        };
        let names = ["cat".to_string(), "dog".to_string()];
        ImageReport::done(
            answer,
            &names,
            CoverageThreshold {
                target_coverage: 0.9,
                threshold,
            },
        )
    }

    #[test]
    fn a_report_names_the_classes_and_decides_at_the_threshold() {
        let ImageReport::Done {
            erm_class,
            masktune_class,
            combined_class,
            decision,
            masked_pixels,
            ..
        } = answer_report(0.3, 0.3)
        else {
            panic!("expected an answer");
        };
        assert_eq!(
            (
                erm_class.as_str(),
                masktune_class.as_str(),
                combined_class.as_str()
            ),
            ("dog", "cat", "dog")
        );
        assert_eq!((decision.as_str(), masked_pixels), ("accept", 7));
        let ImageReport::Done { decision, .. } = answer_report(0.3, 0.31) else {
            panic!("expected an answer");
        };
        assert_eq!(decision, "abstain");
    }

    #[test]
    fn a_label_is_written_by_name_only_where_the_folder_gives_one() {
        let json = |report| serde_json::to_value(report).unwrap();
        assert_eq!(json(labelled_report(0.3, 0.3, Some(0)))["label"], "cat");
        assert!(json(answer_report(0.3, 0.3)).get("label").is_none());
    }

    #[test]
    fn reports_read_back_as_written() {
        let reports = by_name([
            ("a.png".to_string(), answer_report(0.3, 0.2)),
            ("c.png".to_string(), labelled_report(0.3, 0.2, Some(1))),
            (
                "b.txt".to_string(),
                ImageReport::Failed {
                    error: "b.txt is not an image".into(),
                },
            ),
        ]);
        let json = serde_json::to_string(&reports).unwrap();
        let back: BTreeMap<String, ImageReport> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, reports);
    }

    #[test]
    fn repeated_names_get_numbered() {
        let failed = |error: &str| ImageReport::Failed {
            error: error.into(),
        };
        let keyed = by_name([
            ("x.png".to_string(), failed("first")),
            ("x.png".to_string(), failed("second")),
            ("x.png (2).png".to_string(), failed("other")),
            ("x.png".to_string(), failed("third")),
        ]);
        let errors: Vec<(&str, &str)> = keyed
            .iter()
            .map(|(k, v)| match v {
                ImageReport::Failed { error } => (k.as_str(), error.as_str()),
                ImageReport::Done { .. } => unreachable!(),
            })
            .collect();
        assert_eq!(
            errors,
            [
                ("x.png", "first"),
                ("x.png (2)", "second"),
                ("x.png (2).png", "other"),
                ("x.png (3)", "third"),
            ]
        );
    }
}
