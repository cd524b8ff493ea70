//! How the loaded models do when they may abstain: the risk-coverage curve and the selective
//! classification table the trainer measured (thresholds from validation, risk on test data).

use leptos::prelude::*;
use masktune::bundle::SelectiveSummary;
use masktune::selective::CoverageOutcome;

use super::line_chart::{Axis, LineChart, Series};
use super::state::PageState;
use super::wide_table::WideTable;

#[component]
pub fn SelectivePanel() -> impl IntoView {
    let state = expect_context::<PageState>();
    view! {
        <section id="selective" aria-label="Selective classification of the loaded models">
            <h2>"When the models may abstain"</h2>
            <p>
                "An input is accepted when the combined confidence — the largest softmax of the product of "
                "the ERM and MaskTune probabilities — reaches the threshold for the chosen coverage. "
                "Disagreement between the models lowers it, so those inputs are rejected first."
            </p>
            <div class="summaries">
                {move || state.summaries().into_iter().map(|summary| view! { <Summary summary /> }).collect_view()}
            </div>
        </section>
    }
}

/// What the trainer measured on one of the run's test sets.
#[component]
pub fn Summary(summary: SelectiveSummary) -> impl IntoView {
    view! {
        <SelectiveFigure set=summary.test_set.clone() title=summary.test_set.replace('_', " ")
            curve=summary.curve aurc=summary.aurc e_aurc=summary.e_aurc
            rows=summary.table.test_outcomes() chosen=None reference=None />
    }
}

/// The pair allowed to abstain on the images of `title`: its risk-coverage curve (beside the
/// `reference` curve, named, where one is given), and a row per validation threshold (the one at
/// `chosen` target coverage marked).
#[component]
pub fn SelectiveFigure(
    set: String,
    title: String,
    curve: Vec<[f64; 2]>,
    aurc: f64,
    e_aurc: f64,
    rows: Vec<CoverageOutcome>,
    chosen: Option<f64>,
    reference: Option<(String, Vec<[f64; 2]>)>,
) -> impl IntoView {
    let rows = rows
        .into_iter()
        .map(|row| {
            let is_chosen = chosen.is_some_and(|c| (c - row.target_coverage).abs() < 1e-9);
            view! {
                <tr class:chosen=is_chosen data-coverage=row.target_coverage
                    data-accepted=row.outcome.accepted data-errors=row.outcome.errors>
                    <td>{format!("{:.0}%", row.target_coverage * 100.0)}{is_chosen.then_some(" (chosen)")}</td>
                    <td>{row.outcome.coverage_text()}</td>
                    <td>{row.outcome.accuracy_text()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <figure class="summary" data-set=set data-aurc=aurc>
            <figcaption>{format!("{title}: AURC {aurc:.4} (E-AURC {e_aurc:.4})")}</figcaption>
            <Curve points=curve reference label=title.clone() />
            <WideTable label=format!("Selective accuracy at each target coverage on {title}")>
                <table>
                    <caption class="fine-print">"Thresholds chosen on validation, measured on " {title}</caption>
                    <thead><tr>
                        <th scope="col">"Target coverage"</th>
                        <th scope="col">"Coverage reached"</th>
                        <th scope="col">"Selective accuracy"</th>
                    </tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </WideTable>
        </figure>
    }
}

/// Selective risk (y) against coverage (x), both in [0, 1]; the `reference` curve dashed.
#[component]
fn Curve(
    points: Vec<[f64; 2]>,
    reference: Option<(String, Vec<[f64; 2]>)>,
    label: String,
) -> impl IntoView {
    let mut series = vec![Series {
        name: label.clone(),
        class: "risk",
        points,
    }];
    series.extend(reference.map(|(name, points)| Series {
        name,
        class: "reference",
        points,
    }));
    let max_risk = series
        .iter()
        .flat_map(|s| &s.points)
        .map(|p| p[1])
        .fold(0.0_f64, f64::max)
        .max(0.01);
    let x = Axis {
        min: 0.0,
        max: 1.0,
        name: "coverage",
        percent: false,
    };
    let y = Axis {
        min: 0.0,
        max: max_risk,
        name: "risk",
        percent: true,
    };
    let label = format!("risk-coverage curve on {label}: selective risk rises with coverage");
    view! { <LineChart series x y label /> }
}
