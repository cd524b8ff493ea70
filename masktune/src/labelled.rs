//! Images whose folder names their class. A folder of test images laid out as the trainer's image
//! folders are (`<class>/<image>`, under any other folders) carries its labels in its paths: here
//! the label is read off a path, and a model pair's answers on such images are counted (each
//! model's accuracy per class and the pair's on the images it accepts at a threshold), so that the
//! page and `trainer-native predict` report the same numbers for the same folder; the trainer also
//! gives the pair's risk-coverage on them.

use serde::{Deserialize, Serialize};

use crate::bundle::CoverageThreshold;
use crate::metrics::{
    ClassificationReport, MetricsError, accuracy_text, argmax, classification_report,
};
use crate::selective::{
    Combined, CoverageOutcome, Decision, PAPER_COVERAGES, SelectiveError, decide, evaluate_at,
    risk_coverage_curve,
};

/// The class of the image at `path` (folders separated by `/` or `\`): the name of the folder
/// that holds it, when it names one of `class_names`. An exact match wins; otherwise names are
/// compared as people write folder names, ignoring case and reading `_` and `-` as spaces
/// (`blond_hair` is the class "blond hair"), when that leaves a single class.
pub fn class_of_path(path: &str, class_names: &[String]) -> Option<usize> {
    let mut parts = path.rsplit(['/', '\\']);
    let _file = parts.next();
    let folder = parts.next().filter(|folder| !folder.is_empty())?;
    if let Some(exact) = class_names.iter().position(|name| name == folder) {
        return Some(exact);
    }
    let loose = |name: &str| {
        name.trim()
            .to_lowercase()
            .replace(['_', '-'], " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let wanted = loose(folder);
    let mut matching = class_names
        .iter()
        .enumerate()
        .filter(|(_, name)| loose(name) == wanted);
    match (matching.next(), matching.next()) {
        (Some((class, _)), None) => Some(class),
        _ => None,
    }
}

/// One answered image whose label is known.
pub struct LabelledAnswer<'a> {
    pub label: usize,
    pub erm_probabilities: &'a [f32],
    pub masktune_probabilities: &'a [f32],
    pub combined: Combined,
}

/// How a model pair did on labelled images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelledEvaluation {
    pub erm: ClassificationReport,
    pub masktune: ClassificationReport,
    /// The pair's joint prediction on the images it accepts at `threshold`: its counts are the
    /// images accepted (per class: of those labelled so), its accuracy the selective accuracy.
    pub accepted: ClassificationReport,
    /// The coverage on validation the threshold was chosen for, and the threshold.
    pub target_coverage: f64,
    pub threshold: f64,
}

impl LabelledEvaluation {
    /// Images counted.
    pub fn images(&self) -> usize {
        self.erm.count
    }

    /// The rows of its table as (id, name, counts): each model on every image, then the pair on
    /// those it accepts.
    pub fn rows(&self) -> [(&'static str, &'static str, &ClassificationReport); 3] {
        [
            ("erm", "ERM", &self.erm),
            ("masktune", "MaskTune", &self.masktune),
            ("accepted", "the pair, on what it accepts", &self.accepted),
        ]
    }

    /// One sentence on what was counted, before the table.
    pub fn caption(&self) -> String {
        let images = self.images();
        format!(
            "{images} image{} whose folder names their class; the pair accepts {} of them at \
             the threshold for {:.0}% coverage.",
            if images == 1 { "" } else { "s" },
            self.accepted.count,
            self.target_coverage * 100.0
        )
    }

    /// As a Markdown table (`trainer-native predict` prints it): a column for all images, the
    /// worst class, then every class.
    pub fn markdown(&self) -> String {
        let names: Vec<&str> = self.erm.per_class.iter().map(class_name).collect();
        let mut text = format!(
            "{}\n\n| | all | worst class | {} |\n|---|{}\n",
            self.caption(),
            names.join(" | "),
            "---|".repeat(names.len() + 2)
        );
        for (_, name, report) in self.rows() {
            let classes: Vec<String> = report
                .per_class
                .iter()
                .map(|c| accuracy_text(c.correct, c.count))
                .collect();
            text.push_str(&format!(
                "| {name} | {} | {} | {} |\n",
                accuracy_text(report.correct, report.count),
                worst_class_text(report),
                classes.join(" | ")
            ));
        }
        text
    }
}

/// The worst class's name and accuracy ("cat: 50.00% (1 of 2)"), or "–" when no class has images.
pub fn worst_class_text(report: &ClassificationReport) -> String {
    report.worst_class().map_or("–".to_string(), |c| {
        format!("{}: {}", class_name(c), accuracy_text(c.correct, c.count))
    })
}

fn class_name(class: &crate::metrics::ClassAccuracy) -> &str {
    class.name.as_deref().unwrap_or("?")
}

/// Counts `answers` for the classes `class_names`, the pair deciding at `threshold` (chosen for
/// `target_coverage` on validation).
pub fn evaluate_labelled(
    answers: &[LabelledAnswer],
    class_names: &[String],
    (target_coverage, threshold): (f64, f64),
) -> Result<LabelledEvaluation, MetricsError> {
    let classes = class_names.len();
    let labels: Vec<usize> = answers.iter().map(|a| a.label).collect();
    let report = |predicted: &[usize], labels: &[usize]| {
        classification_report(predicted, labels, classes, Some(class_names))
    };
    let top = |probabilities: &[f32]| {
        if probabilities.len() == classes {
            Ok(argmax(probabilities))
        } else {
            Err(MetricsError::LengthMismatch {
                what: "probabilities",
                expected: classes,
                got: probabilities.len(),
            })
        }
    };
    let erm: Vec<usize> = answers
        .iter()
        .map(|a| top(a.erm_probabilities))
        .collect::<Result<_, _>>()?;
    let masktune: Vec<usize> = answers
        .iter()
        .map(|a| top(a.masktune_probabilities))
        .collect::<Result<_, _>>()?;
    let (accepted_predictions, accepted_labels): (Vec<usize>, Vec<usize>) = answers
        .iter()
        .filter(|a| decide(a.combined.confidence, threshold) == Decision::Accept)
        .map(|a| (a.combined.prediction, a.label))
        .unzip();
    Ok(LabelledEvaluation {
        erm: report(&erm, &labels)?,
        masktune: report(&masktune, &labels)?,
        accepted: report(&accepted_predictions, &accepted_labels)?,
        target_coverage,
        threshold,
    })
}

/// The pair allowed to abstain on labelled images (its joint prediction, accepted by its combined
/// confidence): how its selective risk rises with coverage, and what each of the bundle's
/// validation thresholds does on these images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelledSelective {
    /// `[coverage, selective risk]` points of the risk-coverage curve, thinned as bundles keep
    /// their test curves.
    pub curve: Vec<[f64; 2]>,
    pub aurc: f64,
    pub e_aurc: f64,
    /// What the thresholds for the paper's target coverages and for the chosen one do, by
    /// increasing target coverage.
    pub at_thresholds: Vec<CoverageOutcome>,
}

impl LabelledSelective {
    /// As a sentence and a Markdown table: a row per threshold.
    pub fn markdown(&self) -> String {
        let mut text = format!(
            "The pair allowed to abstain on these images: AURC {:.4} (E-AURC {:.4}).\n\n\
             | target coverage | coverage reached | selective accuracy |\n|---|---|---|\n",
            self.aurc, self.e_aurc
        );
        for row in &self.at_thresholds {
            text.push_str(&format!(
                "| {:.0}% | {} | {} |\n",
                row.target_coverage * 100.0,
                row.outcome.coverage_text(),
                row.outcome.accuracy_text()
            ));
        }
        text
    }
}

/// The risk-coverage curve of the pair on `answers`, and what the bundle's `thresholds` for the
/// paper's target coverages ([`PAPER_COVERAGES`]) and for `chosen_coverage` do on them (a bundle
/// may hold a threshold for every percent: a row each would bury the ones people compare).
pub fn labelled_selective(
    answers: &[LabelledAnswer],
    thresholds: &[CoverageThreshold],
    chosen_coverage: f64,
) -> Result<LabelledSelective, SelectiveError> {
    let shown = |coverage: f64| {
        PAPER_COVERAGES
            .iter()
            .chain([&chosen_coverage])
            .any(|&c| (c - coverage).abs() < 1e-9)
    };
    let mut thresholds: Vec<CoverageThreshold> = thresholds
        .iter()
        .copied()
        .filter(|t| shown(t.target_coverage))
        .collect();
    thresholds.sort_by(|a, b| a.target_coverage.total_cmp(&b.target_coverage));
    let confidences: Vec<f64> = answers.iter().map(|a| a.combined.confidence).collect();
    let correct: Vec<bool> = answers
        .iter()
        .map(|a| a.combined.prediction == a.label)
        .collect();
    let curve = risk_coverage_curve(&confidences, &correct)?;
    let at_thresholds = thresholds
        .iter()
        .map(|t| {
            Ok(CoverageOutcome {
                target_coverage: t.target_coverage,
                outcome: evaluate_at(&confidences, &correct, t.threshold)?,
            })
        })
        .collect::<Result<_, SelectiveError>>()?;
    Ok(LabelledSelective {
        curve: curve.for_display(),
        aurc: curve.aurc,
        e_aurc: curve.e_aurc,
        at_thresholds,
    })
}

/// Everything counted on labelled images: what `trainer-native predict --labelled` writes and
/// the page's "Download these tables" saves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelledReport {
    #[serde(flatten)]
    pub accuracy: LabelledEvaluation,
    pub selective: LabelledSelective,
}

impl LabelledReport {
    /// Both tables, as `trainer-native predict` prints them.
    pub fn markdown(&self) -> String {
        format!(
            "{}\n{}",
            self.accuracy.markdown(),
            self.selective.markdown()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selective::combined_confidence;

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn the_folder_holding_an_image_names_its_class() {
        let classes = names(&["not blond hair", "blond hair", "Cat"]);
        let class = |path| class_of_path(path, &classes);
        assert_eq!(class("test/blond hair/1.png"), Some(1));
        assert_eq!(class("celeba/test/Blond_Hair/002.jpg"), Some(1));
        assert_eq!(class("not-blond-hair/1.png"), Some(0));
        assert_eq!(class(r"C:\faces\not blond hair\1.png"), Some(0));
        assert_eq!(class("pets/cat/kitten.png"), Some(2));
        // The folder that holds the image, not one further up; no folder, no label.
        assert_eq!(class("blond hair/unsorted/1.png"), None);
        assert_eq!(class("1.png"), None);
        assert_eq!(class("/1.png"), None);
        assert_eq!(class("blondhair/1.png"), None);
    }

    #[test]
    fn an_exact_name_wins_and_an_ambiguous_loose_one_labels_nothing() {
        let classes = names(&["a_b", "a-b", "c"]);
        assert_eq!(class_of_path("x/a-b/1.png", &classes), Some(1));
        assert_eq!(class_of_path("x/A B/1.png", &classes), None);
    }

    #[test]
    fn counts_each_model_and_the_pair_on_what_it_accepts() {
        let classes = names(&["a", "b"]);
        // (label, ERM, MaskTune): ERM wrong on image 1, both wrong on image 3.
        let rows: [(usize, [f32; 2], [f32; 2]); 4] = [
            (0, [0.9, 0.1], [0.8, 0.2]),
            (0, [0.4, 0.6], [0.7, 0.3]),
            (1, [0.2, 0.8], [0.1, 0.9]),
            (1, [0.52, 0.48], [0.51, 0.49]),
        ];
        let answers: Vec<LabelledAnswer> = rows
            .iter()
            .map(|(label, erm, masktune)| LabelledAnswer {
                label: *label,
                erm_probabilities: erm,
                masktune_probabilities: masktune,
                combined: combined_confidence(erm, masktune).unwrap(),
            })
            .collect();
        // Accept the three images whose combined confidence is highest (all but image 3's).
        let confidences: Vec<f64> = answers.iter().map(|a| a.combined.confidence).collect();
        let threshold = confidences[..3].iter().copied().fold(f64::MAX, f64::min);
        assert!(confidences[3] < threshold);
        let evaluation = evaluate_labelled(&answers, &classes, (0.75, threshold)).unwrap();
        assert_eq!(evaluation.images(), 4);
        assert_eq!((evaluation.erm.correct, evaluation.erm.count), (2, 4));
        assert_eq!(
            (evaluation.masktune.correct, evaluation.masktune.count),
            (3, 4)
        );
        let accepted = &evaluation.accepted;
        assert_eq!((accepted.correct, accepted.count), (3, 3));
        assert_eq!(accepted.per_class[1].count, 1);
        assert_eq!(evaluation.erm.per_class[0].accuracy, Some(0.5));
        assert_eq!(
            evaluation.markdown(),
            "4 images whose folder names their class; the pair accepts 3 of them at the \
             threshold for 75% coverage.\n\n\
             | | all | worst class | a | b |\n|---|---|---|---|---|\n\
             | ERM | 50.00% (2 of 4) | a: 50.00% (1 of 2) | 50.00% (1 of 2) | 50.00% (1 of 2) |\n\
             | MaskTune | 75.00% (3 of 4) | b: 50.00% (1 of 2) | 100.00% (2 of 2) | 50.00% (1 of 2) |\n\
             | the pair, on what it accepts | 100.00% (3 of 3) | a: 100.00% (2 of 2) | \
             100.00% (2 of 2) | 100.00% (1 of 1) |\n"
        );
    }

    #[test]
    fn the_pairs_risk_coverage_on_labelled_images() {
        // (label, the pair's prediction, confidence), most confident first: wrong, right, right.
        let probabilities = [0.5_f32, 0.5];
        let answers: Vec<LabelledAnswer> = [(0, 1, 0.9), (0, 0, 0.8), (1, 1, 0.7)]
            .into_iter()
            .map(|(label, prediction, confidence)| LabelledAnswer {
                label,
                erm_probabilities: &probabilities,
                masktune_probabilities: &probabilities,
                combined: Combined {
                    prediction,
                    confidence,
                },
            })
            .collect();
        let at = |target_coverage, threshold| CoverageThreshold {
            target_coverage,
            threshold,
        };
        // Thresholds for 60% and 70% are left out: neither the paper's nor the chosen coverage.
        let thresholds = [at(1.0, 0.7), at(0.7, 0.71), at(0.5, 0.75), at(0.6, 0.74)];
        let selective = labelled_selective(&answers, &thresholds, 0.5).unwrap();
        assert_eq!(
            selective.curve,
            vec![[1.0 / 3.0, 1.0], [2.0 / 3.0, 0.5], [1.0, 1.0 / 3.0]]
        );
        // Risks 1, 1/2, 1/3 at 1, 2, 3 accepted; the best order would give 0, 0, 1/3.
        assert!((selective.aurc - (1.0 + 0.5 + 1.0 / 3.0) / 3.0).abs() < 1e-12);
        assert!((selective.e_aurc - (1.0 + 0.5) / 3.0).abs() < 1e-12);
        let counts: Vec<(usize, usize)> = selective
            .at_thresholds
            .iter()
            .map(|row| (row.outcome.accepted, row.outcome.errors))
            .collect();
        assert_eq!(counts, [(2, 1), (3, 1)]);
        assert_eq!(
            selective.markdown(),
            "The pair allowed to abstain on these images: AURC 0.6111 (E-AURC 0.5000).\n\n\
             | target coverage | coverage reached | selective accuracy |\n|---|---|---|\n\
             | 50% | 66.7% (2 of 3) | 50.00% (1 of 2) |\n\
             | 100% | 100.0% (3 of 3) | 66.67% (2 of 3) |\n"
        );
    }

    #[test]
    fn probabilities_of_another_class_count_are_refused() {
        let classes = names(&["a", "b", "c"]);
        let answers = [LabelledAnswer {
            label: 0,
            erm_probabilities: &[0.5, 0.5],
            masktune_probabilities: &[0.5, 0.5],
            combined: combined_confidence(&[0.5, 0.5], &[0.5, 0.5]).unwrap(),
        }];
        let error = evaluate_labelled(&answers, &classes, (0.9, 0.5)).unwrap_err();
        assert!(error.to_string().contains("expected 3"), "{error}");
    }
}
