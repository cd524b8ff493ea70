//! The end of a Lab run: the trainer's evaluation of the pair (accuracy per group, or per class,
//! with counts on the test sets, the selective table with thresholds from validation, all of it
//! as a file), and the pair itself to download or to try on the user's own images.

use std::sync::Arc;

use leptos::prelude::*;
use masktune::evaluation::{EvaluationReport, SetEvaluation};
use masktune::metrics::accuracy_text;

use super::state::Download;
use crate::ui::file_download::JsonDownload;
use crate::ui::selective_panel::Summary;
use crate::ui::state::PageState;
use crate::ui::wide_table::WideTable;

#[component]
pub fn EvaluationView() -> impl IntoView {
    let lab = expect_context::<PageState>().lab;
    move || {
        lab.evaluation.get().map(|report| {
            let by_group = report.sets.iter().any(|set| set.group_counts.is_some());
            let (heading, parts) = if by_group {
                ("Accuracy per group on the test sets", "Groups are (class, red square)")
            } else {
                ("Accuracy per class on the test set", "Your folder names no groups, so each class is one")
            };
            let models = if lab.erm_epochs() == 0 {
                "ERM (best) and ERM (last) are your model, which made the masks; MaskTune is it \
                 after one epoch on the masked images."
            } else {
                "ERM (best) is the epoch with the best validation accuracy, which made the masks; \
                 MaskTune is the last ERM epoch after one epoch on the masked images."
            };
            view! {
                <section id="lab-evaluation" aria-label="Evaluation of the Lab's models">
                    <h3>{heading}</h3>
                    // One string: the view drops the space between two expressions.
                    <p class="fine-print">{format!("{models} {parts}; counts in brackets.")}</p>
                    <GroupTable report=report.clone() />
                    <h3>"When the pair may abstain"</h3>
                    <p class="fine-print">
                        "Confidence: the largest softmax of the product of the ERM (best) and MaskTune "
                        "probabilities; thresholds chosen on the validation split for each target coverage."
                    </p>
                    <div class="summaries">
                        {report.selective_summaries().into_iter().map(|summary| view! { <Summary summary /> }).collect_view()}
                    </div>
                    <EvaluationDownload report />
                </section>
            }
        })
    }
}

/// The evaluation as a file, in the format `trainer-native evaluate --json` writes.
#[component]
fn EvaluationDownload(report: Arc<EvaluationReport>) -> impl IntoView {
    let contents = move || {
        serde_json::to_string_pretty(&*report)
            .map_err(|e| format!("the evaluation could not be written: {e}"))
    };
    view! {
        <JsonDownload id="lab-download-evaluation" label="Download the evaluation (JSON)"
            file_name="masktune-lab-evaluation.json" contents>
            "Every number above and the thresholds for each coverage, in the format of "
            <code>"trainer-native evaluate --json"</code> "."
        </JsonDownload>
    }
}

/// One row per test set and model: overall, each group's accuracy (each class's, where the sets
/// have no groups), the worst of them.
#[component]
fn GroupTable(report: Arc<EvaluationReport>) -> impl IntoView {
    let tests: Vec<SetEvaluation> = report.sets.iter().skip(1).cloned().collect();
    let group_names: Vec<String> = tests
        .first()
        .and_then(|set| set.group_counts.as_ref())
        .map(|counts| counts.iter().map(|(name, _)| name.clone()).collect())
        .unwrap_or_else(|| report.class_names.clone());
    let worst = if tests.iter().any(|set| set.group_counts.is_some()) {
        "Worst group"
    } else {
        "Worst class"
    };
    view! {
        <WideTable label="Accuracy per group">
            <table id="lab-groups">
                <thead><tr>
                    <th scope="col">"Test set"</th>
                    <th scope="col">"Model"</th>
                    <th scope="col">"Overall"</th>
                    {group_names.into_iter().map(|name| view! { <th scope="col">{name}</th> }).collect_view()}
                    <th scope="col">{worst}</th>
                </tr></thead>
                <tbody>
                    {tests.into_iter().flat_map(|set| {
                        let title = set.set.replace('_', " ");
                        set.models.into_iter().map(move |m| {
                            let cell = |correct: usize, count: usize| view! {
                                <td class="group" data-correct=correct data-count=count>{accuracy_text(correct, count)}</td>
                            };
                            let (cells, worst) = match &m.groups {
                                Some(groups) => (
                                    groups.groups.iter().map(|g| cell(g.correct, g.count)).collect_view(),
                                    groups.worst_group_accuracy,
                                ),
                                None => (
                                    m.accuracy.per_class.iter().map(|c| cell(c.correct, c.count)).collect_view(),
                                    m.accuracy.worst_class().and_then(|c| c.accuracy),
                                ),
                            };
                            view! {
                                <tr data-set=set.set.clone() data-model=m.model.clone()>
                                    <td>{title.clone()}</td>
                                    <td>{model_name(&m.model)}</td>
                                    <td class="overall">{percent(m.accuracy.accuracy)}</td>
                                    {cells}
                                    <td class="worst">{percent(worst)}</td>
                                </tr>
                            }
                        }).collect::<Vec<_>>()
                    }).collect_view()}
                </tbody>
            </table>
        </WideTable>
    }
}

fn percent(accuracy: Option<f64>) -> String {
    accuracy.map_or("–".to_string(), |v| format!("{:.2}%", v * 100.0))
}

fn model_name(model: &str) -> String {
    match model {
        "erm_best" => "ERM (best)".into(),
        "erm_last" => "ERM (last)".into(),
        "masktune" => "MaskTune".into(),
        other => other.into(),
    }
}

/// The finished run's pair: download both bundles, or analyse images with them.
#[component]
pub fn ModelsView() -> impl IntoView {
    let page = expect_context::<PageState>();
    let lab = page.lab;
    move || {
        lab.downloads.get().map(|downloads| {
            let link = |d: &Download, id: &'static str| view! {
                <a id=id href=d.url.as_str().to_owned() download=d.file_name.clone()>
                    {format!("{} ({:.0} kB)", d.file_name, d.bytes as f64 / 1e3)}
                </a>
            };
            let memory = lab.worker_memory.get().map(|memory| view! {
                <span
                    id="lab-memory"
                    data-allocated=memory.allocated_bytes.to_string()
                    data-linear=memory.linear_memory_bytes.to_string()
                >
                    {format!(
                        "The worker holds {:.0} MB in a linear memory of {:.0} MB.",
                        memory.allocated_bytes as f64 / 1e6,
                        memory.linear_memory_bytes as f64 / 1e6,
                    )}
                </span>
            });
            view! {
                <section id="lab-models" aria-label="The trained models">
                    <h3>"Your model pair"</h3>
                    <p>
                        <button id="lab-analyse" on:click=move |_| page.analyse_lab_models()>
                            "Analyse images with these models"
                        </button>
                        " or download the bundles: " {link(&downloads.erm, "lab-download-erm")} " · "
                        {link(&downloads.masktune, "lab-download-masktune")}
                    </p>
                    <p class="fine-print">
                        "trainer-native predict --erm <ERM bundle> --masktune <MaskTune bundle> IMAGES… answers "
                        "exactly as this page does. " {memory}
                    </p>
                </section>
            }
        })
    }
}
