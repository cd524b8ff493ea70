//! Accuracy per class where the images' folders name their classes: a test folder laid out as
//! `<class>/<image>` (an image folder's test split) is counted as `trainer-native predict
//! --labelled` counts it (`masktune::labelled`): ERM and MaskTune on every such image, the pair
//! on those it accepts at the coverage the slider selects, and the pair's risk-coverage curve.

use gloo_timers::callback::Timeout;
use leptos::prelude::*;
use masktune::labelled::{
    LabelledAnswer, LabelledEvaluation, LabelledReport, LabelledSelective, evaluate_labelled,
    labelled_selective, worst_class_text,
};
use masktune::metrics::accuracy_text;

use super::file_download::JsonDownload;
use super::selective_panel::SelectiveFigure;
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
    // The curve sorts every answer: it waits until nothing is waiting.
    let selective = Memo::new(move |_| {
        recount.track();
        settled.get().then(|| selective(state)).flatten()
    });
    let json = move || {
        let report = untrack(|| report(state))
            .ok_or_else(|| "no image is labelled by its folder".to_string())??;
        serde_json::to_string_pretty(&report)
            .map_err(|error| format!("the table could not be written: {error}"))
    };
    move || {
        evaluation.get().map(|result| match result {
            Ok(labelled) => view! {
                <section id="labelled-accuracy" aria-labelledby="labelled-accuracy-caption">
                    {table(labelled)}
                    {move || curve(selective.get(), state)}
                    <JsonDownload id="download-labelled" label="Download these tables (JSON)"
                        file_name="masktune-labelled.json" contents=json>
                        "In the format of " <code>"trainer-native predict --labelled"</code> "."
                    </JsonDownload>
                </section>
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
/// images it leaves out.
#[derive(Clone, PartialEq)]
struct Labelled {
    evaluation: LabelledEvaluation,
    unlabelled: usize,
}

/// Hands `count` the answered images whose folder names a class, the class names, and how many
/// answered images are not labelled; nothing while no answered image is labelled. Reading them
/// does not subscribe: the recount clock says when to count again.
fn with_labelled<R>(
    state: PageState,
    count: impl FnOnce(&[LabelledAnswer], &[String], usize) -> R,
) -> Option<R> {
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
        let unlabelled = shown().count() - answers.len();
        Some(count(&answers, &class_names, unlabelled))
    })
}

fn labelled(state: PageState) -> Option<Result<Labelled, String>> {
    let threshold = state.threshold()?;
    with_labelled(state, |answers, class_names, unlabelled| {
        let target = (threshold.target_coverage, threshold.threshold);
        evaluate_labelled(answers, class_names, target)
            .map(|evaluation| Labelled {
                evaluation,
                unlabelled,
            })
            .map_err(|error| error.to_string())
    })
}

fn selective(state: PageState) -> Option<Result<LabelledSelective, String>> {
    let chosen = state.threshold()?.target_coverage;
    let thresholds = state.thresholds();
    with_labelled(state, |answers, _, _| {
        labelled_selective(answers, &thresholds, chosen).map_err(|error| error.to_string())
    })
}

/// Both tables, as `trainer-native predict --labelled` writes them.
fn report(state: PageState) -> Option<Result<LabelledReport, String>> {
    let accuracy = labelled(state)?.map(|labelled| labelled.evaluation);
    let selective = selective(state)?;
    Some(accuracy.and_then(|accuracy| {
        Ok(LabelledReport {
            accuracy,
            selective: selective?,
        })
    }))
}

/// The pair's risk-coverage curve on the labelled images, once every image is answered.
fn curve(selective: Option<Result<LabelledSelective, String>>, state: PageState) -> AnyView {
    match selective {
        Some(Ok(selective)) => {
            // The run's own test set, for comparison: is the pair as sure of itself here?
            let reference = state.summaries().into_iter().next().map(|summary| {
                let name = format!("the run's {} set", summary.test_set.replace('_', " "));
                (name, summary.curve)
            });
            view! {
                <p>
                    "When the pair may abstain on these images: its selective risk (the share of "
                    "wrong answers among those accepted) as it accepts more of them, the most "
                    "confident first."
                </p>
                <SelectiveFigure set="labelled".to_string() title="these images".to_string()
                    curve=selective.curve aurc=selective.aurc e_aurc=selective.e_aurc
                    rows=selective.at_thresholds
                    chosen=state.threshold().map(|t| t.target_coverage) reference />
            }
            .into_any()
        }
        Some(Err(message)) => view! {
            <p class="error" role="alert">"The risk-coverage curve could not be drawn: " {message}</p>
        }
        .into_any(),
        None => view! {
            <p class="fine-print" id="labelled-curve-waiting">
                "The pair's risk-coverage curve on these images is drawn once every image is answered."
            </p>
        }
        .into_any(),
    }
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
    }
}
