//! Accuracy per class where the images' folders name their classes: a test folder laid out as
//! `<class>/<image>` (an image folder's test split) is counted as `trainer-native predict
//! --labelled` counts it (`masktune::labelled`): ERM and MaskTune on every such image, and the
//! pair on those it accepts at the coverage the slider selects.

use gloo_timers::callback::Timeout;
use leptos::prelude::*;
use masktune::labelled::{LabelledAnswer, LabelledEvaluation, evaluate_labelled, worst_class_text};
use masktune::metrics::accuracy_text;

use super::file_download::JsonDownload;
use super::state::{Outcome, PageState};
use super::wide_table::WideTable;

/// How often, at most, the table is counted again while answers come in (in milliseconds).
const RECOUNT_MS: u32 = 250;

#[component]
pub fn LabelledAccuracy() -> impl IntoView {
    let state = expect_context::<PageState>();
    let settled = Memo::new(move |_| {
        let (done, given) = state.progress.get();
        done >= given
    });
    // Counting every answer again as each comes in made the last of 20,000 labelled images
    // take 5x longer: while answers come in the table is counted a few times a second, and
    // at once when the last one is in.
    let recount = recount_clock(state);
    let evaluation = Memo::new(move |_| {
        recount.track();
        settled.track();
        labelled(state)
    });
    let json = move || match evaluation.get_untracked() {
        Some(Ok(labelled)) => serde_json::to_string_pretty(&labelled.evaluation)
            .map_err(|error| format!("the table could not be written: {error}")),
        _ => Err("no image is labelled by its folder".to_string()),
    };
    move || {
        evaluation.get().map(|result| match result {
            Ok(labelled) => view! {
                {table(labelled)}
                <JsonDownload id="download-labelled" label="Download this table (JSON)"
                    file_name="masktune-labelled.json" contents=json>
                    "As " <code>"trainer-native predict --labelled"</code> " writes it (which adds the pair's risk-coverage on these images)."
                </JsonDownload>
            }
            .into_any(),
            Err(message) => view! {
                <p id="labelled-accuracy" class="error" role="alert">
                    "The images labelled by their folders could not be counted: " {message}
                </p>
            }
            .into_any(),
        })
    }
}

/// Ticks `RECOUNT_MS` after the cards change, once for all the changes meanwhile.
fn recount_clock(state: PageState) -> ReadSignal<u64> {
    let (clock, set_clock) = signal(0_u64);
    let scheduled = StoredValue::new(false);
    Effect::new(move |_| {
        state.entries.track();
        if !scheduled.get_value() {
            scheduled.set_value(true);
            Timeout::new(RECOUNT_MS, move || {
                scheduled.set_value(false);
                set_clock.update(|tick| *tick += 1);
            })
            .forget();
        }
    });
    clock
}

/// The evaluation of the answered images whose folder names a class, and how many answered
/// images it leaves out; nothing while no answered image is labelled.
#[derive(Clone, PartialEq)]
struct Labelled {
    evaluation: LabelledEvaluation,
    unlabelled: usize,
}

fn labelled(state: PageState) -> Option<Result<Labelled, String>> {
    let threshold = state.threshold()?;
    // Read without subscribing: the recount clock says when to count again.
    state.entries.with_untracked(|entries| {
        // Without a labelled answer (the usual case) this stops at the search.
        let shown = || {
            entries.iter().filter_map(|entry| match &entry.outcome {
                Outcome::Done(shown) => Some(shown),
                _ => None,
            })
        };
        let class_names = shown().find(|s| s.label.is_some())?.class_names.clone();
        let answers: Vec<LabelledAnswer> = shown()
            .filter(|s| s.class_names == class_names)
            .filter_map(|s| {
                Some(LabelledAnswer {
                    label: s.label?,
                    erm_probabilities: &s.numbers.erm_probabilities,
                    masktune_probabilities: &s.numbers.masktune_probabilities,
                    combined: s.numbers.combined,
                })
            })
            .collect();
        let target = (threshold.target_coverage, threshold.threshold);
        Some(
            evaluate_labelled(&answers, &class_names, target)
                .map(|evaluation| Labelled {
                    unlabelled: shown().count() - answers.len(),
                    evaluation,
                })
                .map_err(|error| error.to_string()),
        )
    })
}

fn table(
    Labelled {
        evaluation,
        unlabelled,
    }: Labelled,
) -> impl IntoView {
    let classes: Vec<String> = evaluation
        .erm
        .per_class
        .iter()
        .map(|c| c.name.clone().unwrap_or_default())
        .collect();
    let others = match unlabelled {
        0 => String::new(),
        1 => format!(
            " The other image is not in a folder named after a class ({}).",
            classes.join(", ")
        ),
        n => format!(
            " The other {n} images are not in a folder named after a class ({}).",
            classes.join(", ")
        ),
    };
    let rows = evaluation.rows().map(|(id, name, report)| {
        let cells = report.per_class.iter().map(|c| {
            view! {
                <td class="class" data-class=c.name.clone() data-correct=c.correct data-count=c.count>
                    {accuracy_text(c.correct, c.count)}
                </td>
            }
        });
        view! {
            <tr data-model=id>
                <th scope="row">{name}</th>
                <td class="all" data-correct=report.correct data-count=report.count>
                    {accuracy_text(report.correct, report.count)}
                </td>
                <td class="worst">{worst_class_text(report)}</td>
                {cells.collect_view()}
            </tr>
        }
    });
    view! {
        <section id="labelled-accuracy" aria-labelledby="labelled-accuracy-caption">
            <p id="labelled-accuracy-caption">{format!("Accuracy on the {}{others}", evaluation.caption())}</p>
            <WideTable label="Accuracy per class of the labelled images">
                <table>
                    <thead>
                        <tr>
                            <th scope="col">"Model"</th>
                            <th scope="col">"all"</th>
                            <th scope="col">"worst class"</th>
                            {classes.into_iter().map(|name| view! { <th scope="col">{name}</th> }).collect_view()}
                        </tr>
                    </thead>
                    <tbody>{rows.into_iter().collect_view()}</tbody>
                </table>
            </WideTable>
        </section>
    }
}
