//! How the loaded models do when they may abstain: the risk-coverage curve and the selective
//! classification table the trainer measured (thresholds from validation, risk on test data).

use leptos::prelude::*;
use masktune::bundle::SelectiveSummary;

use super::state::PageState;

/// Size of the curve's drawing area, in SVG units.
const PLOT: (f64, f64) = (320.0, 180.0);
const MARGIN: f64 = 36.0;

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
fn Summary(summary: SelectiveSummary) -> impl IntoView {
    let title = summary.test_set.replace('_', " ");
    view! {
        <figure class="summary" data-set=summary.test_set.clone()>
            <figcaption>{format!("{title}: AURC {:.4} (E-AURC {:.4})", summary.aurc, summary.e_aurc)}</figcaption>
            <Curve points=summary.curve.clone() label=title.clone() />
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
        </figure>
    }
}

/// Selective risk (y) against coverage (x), both in [0, 1], as a small SVG plot.
#[component]
fn Curve(points: Vec<[f64; 2]>, label: String) -> impl IntoView {
    let (width, height) = PLOT;
    let max_risk = points
        .iter()
        .map(|p| p[1])
        .fold(0.0_f64, f64::max)
        .max(0.01);
    let x = move |coverage: f64| MARGIN + coverage * width;
    let y = move |risk: f64| MARGIN / 2.0 + height - risk / max_risk * height;
    let path: String = points
        .iter()
        .enumerate()
        .map(|(i, [c, r])| {
            format!(
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { " L" },
                x(*c),
                y(*r)
            )
        })
        .collect();
    let view_box = format!("0 0 {} {}", width + MARGIN * 1.5, height + MARGIN * 1.6);
    view! {
        <svg class="curve" viewBox=view_box role="img"
            aria-label=format!("risk-coverage curve on {label}: selective risk rises with coverage")>
            <line x1=x(0.0) y1=y(0.0) x2=x(1.0) y2=y(0.0) class="axis" />
            <line x1=x(0.0) y1=y(0.0) x2=x(0.0) y2=y(max_risk) class="axis" />
            <text x=x(0.5) y=y(0.0) + 30.0 text-anchor="middle">"coverage"</text>
            <text x=x(0.0) y=y(0.0) + 14.0 text-anchor="middle">"0"</text>
            <text x=x(1.0) y=y(0.0) + 14.0 text-anchor="middle">"1"</text>
            <text x=x(0.0) - 4.0 y=y(max_risk) + 4.0 text-anchor="end">{format!("{:.0}%", max_risk * 100.0)}</text>
            <text x=x(0.0) - 4.0 y=y(0.0) text-anchor="end">"0%"</text>
            <text x=12.0 y=y(max_risk / 2.0) transform=format!("rotate(-90 12 {})", y(max_risk / 2.0)) text-anchor="middle">"risk"</text>
            <path d=path class="line" />
        </svg>
    }
}
