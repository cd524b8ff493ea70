//! How the loaded models do when they may abstain: the risk-coverage curve and the selective
//! classification table the trainer measured (thresholds from validation, risk on test data).

use leptos::prelude::*;
use masktune::bundle::SelectiveSummary;

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

#[component]
pub fn Summary(summary: SelectiveSummary) -> impl IntoView {
    let title = summary.test_set.replace('_', " ");
    view! {
        <figure class="summary" data-set=summary.test_set.clone()>
            <figcaption>{format!("{title}: AURC {:.4} (E-AURC {:.4})", summary.aurc, summary.e_aurc)}</figcaption>
            <Curve points=summary.curve.clone() label=title.clone() />
            <WideTable label=format!("Selective accuracy at each target coverage on {title}")>
                <table>
                    <caption class="fine-print">"Thresholds chosen on validation, measured on " {title}</caption>
                    <thead><tr>
                        <th scope="col">"Target coverage"</th>
                        <th scope="col">"Coverage reached"</th>
                        <th scope="col">"Selective accuracy"</th>
                    </tr></thead>
                    <tbody>
                        {summary.table.rows.iter().map(|row| view! {
                            <tr>
                                <td>{format!("{:.0}%", row.target_coverage * 100.0)}</td>
                                <td>{format!("{:.1}%", row.test.coverage * 100.0)}</td>
                                <td>{row.test.accuracy.map_or("–".to_string(), |a| format!("{:.2}%", a * 100.0))}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </WideTable>
        </figure>
    }
}

/// Selective risk (y) against coverage (x), both in [0, 1].
#[component]
fn Curve(points: Vec<[f64; 2]>, label: String) -> impl IntoView {
    let max_risk = points
        .iter()
        .map(|p| p[1])
        .fold(0.0_f64, f64::max)
        .max(0.01);
    let series = vec![Series {
        name: "selective risk".into(),
        class: "risk",
        points,
    }];
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
