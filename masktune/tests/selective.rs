//! Selective classification and metrics against the numpy reference
//! (tests/fixtures/make_selective_fixture.py), plus property tests of the rules in
//! `masktune::selective`.
//!
//! Tolerance against the reference: 1e-10 relative on computed f64 values (the two sides sum in
//! different orders, and serde_json's default float parsing may be an ulp off Python's repr),
//! coverages are exact ratios of counts; counts and predictions must match exactly.

use masktune::metrics::{GroupId, classification_report, group_report};
use masktune::selective::{
    Decision, PAPER_COVERAGES, combine_batch, coverage, coverage_threshold, decide, evaluate_at,
    risk_coverage_curve, selective_table,
};
use proptest::prelude::*;
use serde::Deserialize;

const REL_TOL: f64 = 1e-10;

#[derive(Deserialize)]
struct Reference {
    classes: usize,
    coverages: Vec<f64>,
    validation: Split,
    test: Split,
    table: Vec<RefRow>,
    curve: RefCurve,
    metrics: RefMetrics,
}

#[derive(Deserialize)]
struct Split {
    p_erm: Vec<Vec<f32>>,
    p_masktune: Vec<Vec<f32>>,
    labels: Vec<usize>,
    #[serde(default)]
    attributes: Vec<usize>,
    confidence: Vec<f64>,
    prediction: Vec<usize>,
}

#[derive(Deserialize)]
struct RefRow {
    target_coverage: f64,
    threshold: f64,
    validation_coverage: f64,
    accepted: usize,
    errors: usize,
    coverage: f64,
    risk: Option<f64>,
}

#[derive(Deserialize)]
struct RefPoint {
    threshold: f64,
    accepted: usize,
    errors: usize,
}

#[derive(Deserialize)]
struct RefCurve {
    points: Vec<RefPoint>,
    aurc: f64,
    optimal_aurc: f64,
    e_aurc: f64,
    errors: usize,
}

#[derive(Deserialize)]
struct RefMetrics {
    erm_prediction: Vec<usize>,
    accuracy: f64,
    confusion: Vec<Vec<usize>>,
    attribute_values: usize,
    groups: Vec<(usize, usize)>,
    mean_group_accuracy: f64,
    worst_group_accuracy: f64,
    worst_group: (usize, usize),
}

fn reference() -> Reference {
    serde_json::from_str(include_str!("fixtures/selective_reference.json")).expect("fixture parses")
}

fn assert_close(got: f64, want: f64, what: &str) {
    let err = (got - want).abs() / want.abs().max(1e-300);
    assert!(
        err <= REL_TOL,
        "{what}: got {got}, want {want} (relative error {err:e})"
    );
}

fn flat(rows: &[Vec<f32>]) -> Vec<f32> {
    rows.concat()
}

fn correctness(predictions: &[usize], labels: &[usize]) -> Vec<bool> {
    predictions
        .iter()
        .zip(labels)
        .map(|(p, l)| p == l)
        .collect()
}

#[test]
fn combined_confidence_matches_numpy() {
    let r = reference();
    for split in [&r.validation, &r.test] {
        let combined =
            combine_batch(&flat(&split.p_erm), &flat(&split.p_masktune), r.classes).unwrap();
        assert_eq!(combined.len(), split.confidence.len());
        for (i, (c, &want)) in combined.iter().zip(&split.confidence).enumerate() {
            assert_eq!(c.prediction, split.prediction[i], "prediction {i}");
            assert_close(c.confidence, want, &format!("confidence {i}"));
        }
    }
}

fn check_table(r: &Reference, val_conf: &[f64], test_conf: &[f64]) {
    let correct = correctness(&r.test.prediction, &r.test.labels);
    let table = selective_table(val_conf, test_conf, &correct, &r.coverages).unwrap();
    assert_eq!(table.rows.len(), r.table.len());
    for (got, want) in table.rows.iter().zip(&r.table) {
        let what = format!("coverage {}", want.target_coverage);
        assert_eq!(got.target_coverage, want.target_coverage);
        assert_close(got.threshold, want.threshold, &what);
        assert_eq!(got.validation_coverage, want.validation_coverage, "{what}");
        assert_eq!(
            (got.test.accepted, got.test.errors),
            (want.accepted, want.errors),
            "{what}"
        );
        assert_eq!(got.test.coverage, want.coverage, "{what}");
        assert_eq!(got.test.risk.is_some(), want.risk.is_some(), "{what}");
        if let (Some(g), Some(w)) = (got.test.risk, want.risk) {
            assert_close(g, w, &what);
        }
    }
}

#[test]
fn table_matches_numpy_on_its_confidences() {
    let r = reference();
    assert_eq!(r.coverages, PAPER_COVERAGES);
    check_table(&r, &r.validation.confidence, &r.test.confidence);
}

#[test]
fn table_matches_numpy_end_to_end() {
    // The fixture keeps distinct confidences > 1e-9 apart, so ulp differences cannot reorder them.
    let r = reference();
    let conf = |s: &Split| -> Vec<f64> {
        combine_batch(&flat(&s.p_erm), &flat(&s.p_masktune), r.classes)
            .unwrap()
            .iter()
            .map(|c| c.confidence)
            .collect()
    };
    check_table(&r, &conf(&r.validation), &conf(&r.test));
}

#[test]
fn curve_and_aurc_match_numpy() {
    let r = reference();
    let correct = correctness(&r.test.prediction, &r.test.labels);
    let curve = risk_coverage_curve(&r.test.confidence, &correct).unwrap();
    assert_eq!(curve.total, r.test.labels.len());
    assert_eq!(curve.errors, r.curve.errors);
    assert_eq!(
        curve.points.len(),
        r.curve.points.len(),
        "one point per distinct confidence"
    );
    assert!(curve.points.len() < curve.total, "the fixture has ties");
    for (got, want) in curve.points.iter().zip(&r.curve.points) {
        assert_eq!(got.threshold, want.threshold);
        assert_eq!((got.accepted, got.errors), (want.accepted, want.errors));
    }
    assert_close(curve.aurc, r.curve.aurc, "aurc");
    assert_close(curve.optimal_aurc, r.curve.optimal_aurc, "optimal aurc");
    assert_close(curve.e_aurc, r.curve.e_aurc, "e-aurc");
}

#[test]
fn metrics_match_numpy() {
    let r = reference();
    let m = &r.metrics;
    let report = classification_report(&m.erm_prediction, &r.test.labels, r.classes, None).unwrap();
    assert_close(report.accuracy.unwrap(), m.accuracy, "accuracy");
    assert_eq!(report.confusion.counts, m.confusion);
    for (class, row) in report.per_class.iter().zip(&m.confusion) {
        assert_eq!(class.count, row.iter().sum::<usize>());
        assert_eq!(class.correct, row[class.class]);
    }
    let groups = group_report(
        &m.erm_prediction,
        &r.test.labels,
        &r.test.attributes,
        r.classes,
        m.attribute_values,
    )
    .unwrap();
    let counts: Vec<_> = groups.groups.iter().map(|g| (g.count, g.correct)).collect();
    assert_eq!(counts, m.groups);
    assert!(counts.contains(&(0, 0)), "the fixture has an empty group");
    assert_close(
        groups.mean_group_accuracy.unwrap(),
        m.mean_group_accuracy,
        "mean group",
    );
    assert_close(
        groups.worst_group_accuracy.unwrap(),
        m.worst_group_accuracy,
        "worst group",
    );
    let (label, attribute) = m.worst_group;
    assert_eq!(groups.worst_group, Some(GroupId { label, attribute }));
}

/// Confidences from a small set of values, so ties are common.
fn confidences() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec((0u8..12).prop_map(|v| f64::from(v) / 11.0), 1..40)
}

fn scored() -> impl Strategy<Value = (Vec<f64>, Vec<bool>)> {
    confidences().prop_flat_map(|c| {
        let n = c.len();
        (Just(c), prop::collection::vec(any::<bool>(), n))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn coverage_does_not_grow_with_the_threshold(
        c in confidences(), a in 0.0..1.0f64, b in 0.0..1.0f64,
    ) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(coverage(&c, hi).unwrap() <= coverage(&c, lo).unwrap());
    }

    #[test]
    fn validation_coverage_reaches_the_target(c in confidences(), target in 0.01..=1.0f64) {
        let t = coverage_threshold(&c, target).unwrap();
        let reached = coverage(&c, t).unwrap();
        prop_assert!(reached >= target - 1e-12, "target {} reached {}", target, reached);
        // The threshold is the highest that does so: the next distinct confidence above misses.
        if let Some(&above) = c.iter().filter(|&&x| x > t).min_by(|a, b| a.total_cmp(b)) {
            prop_assert!(coverage(&c, above).unwrap() < target - 1e-12);
        }
    }

    #[test]
    fn aurc_is_bounded_by_the_optimum((c, ok) in scored()) {
        let curve = risk_coverage_curve(&c, &ok).unwrap();
        prop_assert!(curve.aurc >= curve.optimal_aurc - 1e-12);
        prop_assert!(curve.e_aurc >= -1e-12);
        prop_assert!(curve.aurc <= 1.0 + 1e-12);
        let last = curve.points.last().unwrap();
        prop_assert_eq!((last.accepted, last.coverage), (c.len(), 1.0));
    }

    #[test]
    fn perfect_classifier_has_zero_aurc(c in confidences()) {
        let curve = risk_coverage_curve(&c, &vec![true; c.len()]).unwrap();
        prop_assert_eq!((curve.aurc, curve.optimal_aurc, curve.e_aurc), (0.0, 0.0, 0.0));
    }

    #[test]
    fn decisions_agree_with_the_threshold((c, ok) in scored(), target in 0.01..=1.0f64) {
        let t = coverage_threshold(&c, target).unwrap();
        let o = evaluate_at(&c, &ok, t).unwrap();
        let accepted: Vec<usize> =
            (0..c.len()).filter(|&i| decide(c[i], t) == Decision::Accept).collect();
        prop_assert_eq!(o.accepted, accepted.len());
        prop_assert_eq!(o.errors, accepted.iter().filter(|&&i| !ok[i]).count());
        prop_assert!(accepted.iter().all(|&i| c[i] >= t));
        prop_assert!((0..c.len()).all(|i| accepted.contains(&i) || c[i] < t));
    }

    #[test]
    fn curve_threshold_equals_direct_threshold((c, ok) in scored(), target in 0.01..=1.0f64) {
        let curve = risk_coverage_curve(&c, &ok).unwrap();
        let direct = coverage_threshold(&c, target).unwrap();
        prop_assert_eq!(curve.threshold_for_coverage(target).unwrap(), direct);
    }
}

#[test]
fn thinned_curve_keeps_curve_points_in_order_and_the_full_coverage_end() {
    let n = 1000;
    let confidences: Vec<f64> = (0..n).map(|i| 1.0 - i as f64 / n as f64).collect();
    let correct: Vec<bool> = (0..n).map(|i| i % 7 != 0).collect();
    let curve = risk_coverage_curve(&confidences, &correct).unwrap();
    let thin = curve.thinned(50);
    assert!(
        thin.len() <= 51 && thin.len() >= 45,
        "{} points",
        thin.len()
    );
    assert!(
        thin.windows(2).all(|w| w[0][0] < w[1][0]),
        "coverage increases"
    );
    let last = curve.points.last().unwrap();
    assert_eq!(*thin.last().unwrap(), [last.coverage, last.risk]);
    for [coverage, risk] in &thin {
        assert!(
            curve
                .points
                .iter()
                .any(|p| p.coverage == *coverage && p.risk == *risk)
        );
    }
}
