//! Selective classification with the ERM and MaskTune models (DESIGN.md, method step 5).
//!
//! * Combined confidence: `max_c softmax(p_ERM * p_MaskTune)_c`, the softmax taken over the
//!   elementwise product of the two probability vectors (as the authors'
//!   `test_selective_classification` does; not a renormalisation by the sum); the combined
//!   prediction is the argmax of the product (the same class: softmax is monotone). Computed in
//!   f64, where the product of two f32 is exact.
//! * Acceptance: a sample is accepted when `confidence >= threshold` ([`decide`]), everywhere.
//! * Threshold for a target coverage `c` on `n` validation samples: sort the confidences in
//!   descending order and take the one at index `k - 1`, `k = ceil(c * n)` (the fewest samples
//!   that reach `c`; `c * n` is shrunk by a relative 1e-12 first so that 0.8 * 200 gives 160, not
//!   161). Samples tied with the threshold are all accepted, so the coverage reached on
//!   validation is `>= c`; `c = 1` gives the minimum confidence. The authors index at
//!   `round(c * n)` instead, which accepts one sample more than needed.
//! * Risk-coverage curve: one point per distinct confidence (a tie group is accepted or rejected
//!   as a whole), from the highest confidence down.
//! * AURC (Geifman et al.): the mean of the selective risks at coverages k/n, k = 1..n. Inside a
//!   tie group the order is arbitrary, so the risk after j of its m members uses the expected
//!   error count under a uniformly random order, `E + j * e/m` (E errors before the group, e in
//!   it); without ties this is the usual definition.
//! * E-AURC = AURC - optimal AURC, the optimum computed exactly for the discrete ordering that puts
//!   every correct sample first (not the continuous `r + (1 - r) ln(1 - r)` approximation).

use serde::{Deserialize, Serialize};

use crate::metrics::{accuracy_text, argmax};

/// The paper's target coverages.
pub const PAPER_COVERAGES: [f64; 5] = [0.80, 0.85, 0.90, 0.95, 1.00];

/// Why selective classification could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SelectiveError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} has {got} entries, expected {expected}")]
    LengthMismatch {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("{what} has a non-finite value at index {index}")]
    NonFinite { what: &'static str, index: usize },
    #[error("{len} values do not split into rows of {classes} classes")]
    Ragged { len: usize, classes: usize },
    #[error("target coverage {0} is not in (0, 1]")]
    Coverage(f64),
    #[error("threshold is NaN")]
    NanThreshold,
}

/// The two models' joint answer for one input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Combined {
    pub prediction: usize,
    pub confidence: f64,
}

fn check_finite(
    what: &'static str,
    values: impl IntoIterator<Item = f64>,
) -> Result<(), SelectiveError> {
    match values.into_iter().position(|v| !v.is_finite()) {
        Some(index) => Err(SelectiveError::NonFinite { what, index }),
        None => Ok(()),
    }
}

fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), SelectiveError> {
    if expected == got {
        Ok(())
    } else {
        Err(SelectiveError::LengthMismatch {
            what,
            expected,
            got,
        })
    }
}

/// Combines one input's class probabilities from the ERM and the MaskTune model.
pub fn combined_confidence(p_erm: &[f32], p_masktune: &[f32]) -> Result<Combined, SelectiveError> {
    if p_erm.is_empty() {
        return Err(SelectiveError::Empty { what: "p_erm" });
    }
    check_len("p_masktune", p_erm.len(), p_masktune.len())?;
    check_finite("p_erm", p_erm.iter().map(|&p| f64::from(p)))?;
    check_finite("p_masktune", p_masktune.iter().map(|&p| f64::from(p)))?;
    let product: Vec<f64> = p_erm
        .iter()
        .zip(p_masktune)
        .map(|(&a, &b)| f64::from(a) * f64::from(b))
        .collect();
    let prediction = argmax(&product);
    let top = product[prediction];
    // The largest softmax entry is 1 / sum_c exp(q_c - q_max): no overflow, no tiny divisions.
    let confidence = 1.0 / product.iter().map(|&q| (q - top).exp()).sum::<f64>();
    Ok(Combined {
        prediction,
        confidence,
    })
}

/// The smallest and largest value [`combined_confidence`] can take with `classes` classes: `1/k`
/// when the probability products are all equal, `e / (e + k - 1)` when both models put all their
/// probability on one class. The softmax of products in `[0, 1]` keeps the range narrow (e.g.
/// `[0.5, 0.731]` for two classes), so thresholds are read against it, not against `[0, 1]`.
pub fn confidence_range(classes: usize) -> (f64, f64) {
    let k = classes.max(1) as f64;
    let e = std::f64::consts::E;
    (1.0 / k, e / (e + k - 1.0))
}

/// [`combined_confidence`] for every row of two flat row-major `[n, classes]` probability slices.
pub fn combine_batch(
    p_erm: &[f32],
    p_masktune: &[f32],
    classes: usize,
) -> Result<Vec<Combined>, SelectiveError> {
    check_len("p_masktune", p_erm.len(), p_masktune.len())?;
    if classes == 0 || !p_erm.len().is_multiple_of(classes) {
        return Err(SelectiveError::Ragged {
            len: p_erm.len(),
            classes,
        });
    }
    p_erm
        .chunks_exact(classes)
        .zip(p_masktune.chunks_exact(classes))
        .map(|(a, b)| combined_confidence(a, b))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    Accept,
    Abstain,
}

impl Decision {
    /// The decision as reports and the page's markup write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Accept => "accept",
            Decision::Abstain => "abstain",
        }
    }
}

/// Accept when the confidence reaches the threshold; the one acceptance rule of this module.
pub fn decide(confidence: f64, threshold: f64) -> Decision {
    if confidence >= threshold {
        Decision::Accept
    } else {
        Decision::Abstain
    }
}

fn check_confidences(confidences: &[f64]) -> Result<(), SelectiveError> {
    if confidences.is_empty() {
        return Err(SelectiveError::Empty {
            what: "confidences",
        });
    }
    check_finite("confidences", confidences.iter().copied())
}

/// The fewest of `n` samples whose share reaches `target` (see the module doc).
fn samples_needed(n: usize, target: f64) -> Result<usize, SelectiveError> {
    if !(target > 0.0 && target <= 1.0) {
        return Err(SelectiveError::Coverage(target));
    }
    let k = (target * n as f64 * (1.0 - 1e-12)).ceil() as usize;
    Ok(k.clamp(1, n))
}

/// The validation threshold for a target coverage in (0, 1].
pub fn coverage_threshold(confidences: &[f64], target: f64) -> Result<f64, SelectiveError> {
    check_confidences(confidences)?;
    let k = samples_needed(confidences.len(), target)?;
    let mut sorted = confidences.to_vec();
    let (_, kth, _) = sorted.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    Ok(*kth)
}

fn accepted_count(confidences: &[f64], threshold: f64) -> usize {
    confidences
        .iter()
        .filter(|&&c| decide(c, threshold) == Decision::Accept)
        .count()
}

/// Fraction of the samples accepted at `threshold`.
pub fn coverage(confidences: &[f64], threshold: f64) -> Result<f64, SelectiveError> {
    check_confidences(confidences)?;
    if threshold.is_nan() {
        return Err(SelectiveError::NanThreshold);
    }
    Ok(accepted_count(confidences, threshold) as f64 / confidences.len() as f64)
}

/// What a threshold does on a labelled split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectiveOutcome {
    pub threshold: f64,
    pub total: usize,
    pub accepted: usize,
    /// Wrong predictions among the accepted samples.
    pub errors: usize,
    pub coverage: f64,
    /// Selective risk: `errors / accepted`; `None` when nothing is accepted.
    pub risk: Option<f64>,
    /// Selective accuracy: `1 - risk`.
    pub accuracy: Option<f64>,
}

impl SelectiveOutcome {
    /// The share of samples accepted, with the counts: "75.0% (15 of 20)".
    pub fn coverage_text(&self) -> String {
        format!(
            "{:.1}% ({} of {})",
            self.coverage * 100.0,
            self.accepted,
            self.total
        )
    }

    /// The accuracy on the accepted samples, with the counts ("no images" when none is).
    pub fn accuracy_text(&self) -> String {
        accuracy_text(self.accepted - self.errors, self.accepted)
    }
}

fn check_scored(confidences: &[f64], correct: &[bool]) -> Result<(), SelectiveError> {
    check_confidences(confidences)?;
    check_len("correct", confidences.len(), correct.len())
}

/// Coverage and selective risk at `threshold`; `correct[i]` says whether sample i is right.
pub fn evaluate_at(
    confidences: &[f64],
    correct: &[bool],
    threshold: f64,
) -> Result<SelectiveOutcome, SelectiveError> {
    check_scored(confidences, correct)?;
    if threshold.is_nan() {
        return Err(SelectiveError::NanThreshold);
    }
    let total = confidences.len();
    let (accepted, right) = confidences
        .iter()
        .zip(correct)
        .filter(|&(&c, _)| decide(c, threshold) == Decision::Accept)
        .fold((0, 0), |(a, r), (_, &ok)| (a + 1, r + usize::from(ok)));
    let risk = (accepted > 0).then(|| (accepted - right) as f64 / accepted as f64);
    Ok(SelectiveOutcome {
        threshold,
        total,
        accepted,
        errors: accepted - right,
        coverage: accepted as f64 / total as f64,
        risk,
        accuracy: risk.map(|r| 1.0 - r),
    })
}

/// What the threshold chosen for a target coverage does on a labelled split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageOutcome {
    pub target_coverage: f64,
    pub outcome: SelectiveOutcome,
}

/// One target coverage: the threshold chosen on validation and what it does on test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectiveRow {
    pub target_coverage: f64,
    pub threshold: f64,
    pub validation_coverage: f64,
    pub test: SelectiveOutcome,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectiveTable {
    pub rows: Vec<SelectiveRow>,
}

impl SelectiveTable {
    /// What each row's threshold does on the test split.
    pub fn test_outcomes(&self) -> Vec<CoverageOutcome> {
        self.rows
            .iter()
            .map(|row| CoverageOutcome {
                target_coverage: row.target_coverage,
                outcome: row.test.clone(),
            })
            .collect()
    }
}

/// The selective classification table: a row per target coverage (e.g. [`PAPER_COVERAGES`]).
pub fn selective_table(
    validation_confidences: &[f64],
    test_confidences: &[f64],
    test_correct: &[bool],
    targets: &[f64],
) -> Result<SelectiveTable, SelectiveError> {
    check_scored(test_confidences, test_correct)?;
    let rows = targets
        .iter()
        .map(|&target| {
            let threshold = coverage_threshold(validation_confidences, target)?;
            Ok(SelectiveRow {
                target_coverage: target,
                threshold,
                validation_coverage: coverage(validation_confidences, threshold)?,
                test: evaluate_at(test_confidences, test_correct, threshold)?,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(SelectiveTable { rows })
}

/// The state after accepting every sample with confidence `>= threshold`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub threshold: f64,
    pub accepted: usize,
    pub errors: usize,
    pub coverage: f64,
    pub risk: f64,
}

/// Points a curve keeps where it is drawn or shipped (reports, bundles, the page).
const DISPLAY_POINTS: usize = 100;

/// Risk-coverage curve (points by decreasing threshold, increasing coverage) and its AURC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskCoverageCurve {
    pub total: usize,
    pub errors: usize,
    pub points: Vec<CurvePoint>,
    pub aurc: f64,
    pub optimal_aurc: f64,
    /// `aurc - optimal_aurc`, >= 0 up to rounding.
    pub e_aurc: f64,
}

impl RiskCoverageCurve {
    /// The threshold [`coverage_threshold`] would pick on the samples this curve was built from,
    /// so a shipped validation curve lets the app choose a threshold for any coverage.
    pub fn threshold_for_coverage(&self, target: f64) -> Result<f64, SelectiveError> {
        let k = samples_needed(self.total, target)?;
        // The last point has accepted == total >= k, so the search always succeeds.
        let i = self.points.partition_point(|p| p.accepted < k);
        Ok(self.points[i].threshold)
    }

    /// About `max_points` (at most one more) `[coverage, risk]` pairs of the curve, evenly spread
    /// over coverage and always including the full-coverage end: enough to draw, small to ship.
    pub fn thinned(&self, max_points: usize) -> Vec<[f64; 2]> {
        let step = 1.0 / max_points.max(1) as f64;
        let mut next = 0.0;
        let mut out = Vec::new();
        for (i, p) in self.points.iter().enumerate() {
            if p.coverage >= next || i + 1 == self.points.len() {
                out.push([p.coverage, p.risk]);
                next = p.coverage + step;
            }
        }
        out
    }

    /// The curve thinned as reports and bundles keep it.
    pub fn for_display(&self) -> Vec<[f64; 2]> {
        self.thinned(DISPLAY_POINTS)
    }
}

/// Builds the curve; `correct[i]` says whether sample i's prediction is right.
pub fn risk_coverage_curve(
    confidences: &[f64],
    correct: &[bool],
) -> Result<RiskCoverageCurve, SelectiveError> {
    check_scored(confidences, correct)?;
    let n = confidences.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| confidences[b].total_cmp(&confidences[a]));
    let (mut points, mut risk_sum) = (Vec::new(), 0.0);
    let (mut accepted, mut errors, mut start) = (0, 0, 0);
    while start < n {
        let threshold = confidences[order[start]];
        let size = order[start..]
            .iter()
            .take_while(|&&i| confidences[i] == threshold)
            .count();
        let group_errors = order[start..start + size]
            .iter()
            .filter(|&&i| !correct[i])
            .count();
        let per_member = group_errors as f64 / size as f64;
        for j in 1..=size {
            risk_sum += (errors as f64 + j as f64 * per_member) / (accepted + j) as f64;
        }
        accepted += size;
        errors += group_errors;
        points.push(CurvePoint {
            threshold,
            accepted,
            errors,
            coverage: accepted as f64 / n as f64,
            risk: errors as f64 / accepted as f64,
        });
        start += size;
    }
    let aurc = risk_sum / n as f64;
    let optimal_aurc = optimal_aurc(n, errors);
    Ok(RiskCoverageCurve {
        total: n,
        errors,
        points,
        aurc,
        optimal_aurc,
        e_aurc: aurc - optimal_aurc,
    })
}

/// AURC of the ordering that accepts all `n - errors` correct samples first.
fn optimal_aurc(n: usize, errors: usize) -> f64 {
    let right = n - errors;
    (right + 1..=n)
        .map(|k| (k - right) as f64 / k as f64)
        .sum::<f64>()
        / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1e-300)
    }

    #[test]
    fn confidence_range_is_reached_by_certain_and_uniform_models() {
        for k in [2usize, 3, 10] {
            let (low, high) = confidence_range(k);
            let uniform = vec![1.0 / k as f32; k];
            let mut certain = vec![0.0; k];
            certain[k - 1] = 1.0;
            assert!(
                (combined_confidence(&uniform, &uniform).unwrap().confidence - low).abs() < 1e-12
            );
            assert!(
                (combined_confidence(&certain, &certain).unwrap().confidence - high).abs() < 1e-12
            );
        }
        assert!((confidence_range(2).1 - 0.731_058_578_630_005).abs() < 1e-12);
    }

    #[test]
    fn combined_confidence_is_softmax_of_the_product() {
        let c = combined_confidence(&[0.5, 0.25, 0.25], &[0.5, 0.5, 0.0]).unwrap();
        // product (0.25, 0.125, 0): softmax max = e^0.25 / (e^0.25 + e^0.125 + 1)
        let e = |x: f64| x.exp();
        assert_eq!(c.prediction, 0);
        assert!(close(c.confidence, e(0.25) / (e(0.25) + e(0.125) + 1.0)));
    }

    #[test]
    fn disagreement_lowers_confidence() {
        let agree = combined_confidence(&[0.9, 0.1], &[0.9, 0.1]).unwrap();
        let disagree = combined_confidence(&[0.9, 0.1], &[0.1, 0.9]).unwrap();
        assert!(disagree.confidence < agree.confidence);
        assert!(close(disagree.confidence, 0.5));
    }

    #[test]
    fn bad_probabilities_are_errors() {
        assert_eq!(
            combined_confidence(&[], &[]),
            Err(SelectiveError::Empty { what: "p_erm" })
        );
        assert!(matches!(
            combined_confidence(&[1.0], &[0.5, 0.5]),
            Err(SelectiveError::LengthMismatch { .. })
        ));
        assert_eq!(
            combined_confidence(&[0.5, f32::NAN], &[0.5, 0.5]),
            Err(SelectiveError::NonFinite {
                what: "p_erm",
                index: 1
            })
        );
        assert_eq!(
            combine_batch(&[0.5; 3], &[0.5; 3], 2),
            Err(SelectiveError::Ragged { len: 3, classes: 2 })
        );
    }

    #[test]
    fn batch_matches_rows() {
        let (a, b) = ([0.7, 0.3, 0.2, 0.8], [0.6, 0.4, 0.5, 0.5]);
        let batch = combine_batch(&a, &b, 2).unwrap();
        assert_eq!(batch[1], combined_confidence(&a[2..], &b[2..]).unwrap());
        assert_eq!(
            batch.iter().map(|c| c.prediction).collect::<Vec<_>>(),
            vec![0, 1]
        );
    }

    #[test]
    fn threshold_tie_rule() {
        let conf = [0.9, 0.8, 0.8, 0.7, 0.6];
        assert_eq!(coverage_threshold(&conf, 0.2).unwrap(), 0.9); // k = 1
        assert_eq!(coverage_threshold(&conf, 0.4).unwrap(), 0.8); // k = 2, tie accepted too
        assert_eq!(coverage(&conf, 0.8).unwrap(), 0.6);
        assert_eq!(coverage_threshold(&conf, 0.61).unwrap(), 0.7); // k = ceil(3.05) = 4
        assert_eq!(coverage_threshold(&conf, 1.0).unwrap(), 0.6);
        assert_eq!(coverage_threshold(&conf, 0.01).unwrap(), 0.9);
        assert_eq!(
            coverage_threshold(&conf, 0.0),
            Err(SelectiveError::Coverage(0.0))
        );
        assert!(coverage_threshold(&conf, 1.5).is_err());
        assert!(coverage_threshold(&[], 0.5).is_err());
    }

    #[test]
    fn float_products_do_not_overshoot_the_count() {
        // 0.8 * 200 = 160.00000000000003 in f64; 160 samples are enough.
        let conf: Vec<f64> = (0..200).map(|i| f64::from(200 - i)).collect();
        assert_eq!(coverage_threshold(&conf, 0.8).unwrap(), 41.0);
        assert_eq!(coverage(&conf, 41.0).unwrap(), 0.8);
    }

    #[test]
    fn hand_computed_outcome() {
        let conf = [0.9, 0.8, 0.7, 0.6];
        let correct = [true, false, true, false];
        let o = evaluate_at(&conf, &correct, 0.7).unwrap();
        assert_eq!((o.accepted, o.errors, o.coverage), (3, 1, 0.75));
        assert!(close(o.risk.unwrap(), 1.0 / 3.0) && close(o.accuracy.unwrap(), 2.0 / 3.0));
        let none = evaluate_at(&conf, &correct, 0.95).unwrap();
        assert_eq!((none.accepted, none.risk, none.accuracy), (0, None, None));
        assert_eq!(
            evaluate_at(&conf, &correct, f64::NAN),
            Err(SelectiveError::NanThreshold)
        );
    }

    #[test]
    fn hand_computed_curve_without_ties() {
        // Order: right, wrong, right, wrong -> risks 0, 1/2, 1/3, 1/2.
        let c = risk_coverage_curve(&[0.9, 0.8, 0.7, 0.6], &[true, false, true, false]).unwrap();
        assert!(close(c.aurc, (0.0 + 0.5 + 1.0 / 3.0 + 0.5) / 4.0));
        // Optimal: right, right, wrong, wrong -> 0, 0, 1/3, 1/2.
        assert!(close(c.optimal_aurc, (1.0 / 3.0 + 0.5) / 4.0));
        assert!(close(c.e_aurc, 0.5 / 4.0));
        let pts: Vec<_> = c.points.iter().map(|p| (p.accepted, p.errors)).collect();
        assert_eq!(pts, vec![(1, 0), (2, 1), (3, 1), (4, 2)]);
    }

    #[test]
    fn ties_form_one_point_with_expected_risk() {
        // A tie group of 2 (one wrong) after one right sample: expected errors 0.5 then 1.
        let c = risk_coverage_curve(&[0.9, 0.5, 0.5], &[true, false, true]).unwrap();
        assert_eq!(c.points.len(), 2);
        assert_eq!(
            (
                c.points[1].accepted,
                c.points[1].errors,
                c.points[1].threshold
            ),
            (3, 1, 0.5)
        );
        assert!(close(c.aurc, (0.0 + 0.5 / 2.0 + 1.0 / 3.0) / 3.0));
        assert_eq!(c.threshold_for_coverage(0.5).unwrap(), 0.5);
        assert_eq!(c.threshold_for_coverage(1.0 / 3.0).unwrap(), 0.9);
    }

    #[test]
    fn table_rows_follow_the_targets() {
        let val = [0.9, 0.8, 0.7, 0.6, 0.5];
        let t = selective_table(&val, &[0.85, 0.55], &[true, false], &[0.4, 1.0]).unwrap();
        assert_eq!(t.rows.len(), 2);
        assert_eq!(
            (t.rows[0].threshold, t.rows[0].validation_coverage),
            (0.8, 0.4)
        );
        assert_eq!(
            (t.rows[0].test.accepted, t.rows[0].test.risk),
            (1, Some(0.0))
        );
        assert_eq!((t.rows[1].threshold, t.rows[1].test.risk), (0.5, Some(0.5)));
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<SelectiveTable>(&json).unwrap(), t);
    }
}
