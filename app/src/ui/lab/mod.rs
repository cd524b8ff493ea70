//! The Lab: MaskTune itself, run in the page on spurious MNIST. The user sets a few numbers,
//! presses Start and watches the ERM model learn the red-square shortcut; the compute worker
//! trains (`crate::worker::lab`), this side only draws what it reports.

mod effect;
mod evaluation;
mod state;

use leptos::prelude::*;

use effect::Effect;
use evaluation::{EvaluationView, ModelsView};
pub use state::LabState;
use state::{RunState, StepProgress};

use super::line_chart::{Axis, LineChart, Series};
use super::state::PageState;
use super::wide_table::WideTable;
use crate::protocol::lab::{LabModel, LabSettings, LabStep};

#[component]
pub fn LabView() -> impl IntoView {
    let page = expect_context::<PageState>();
    let lab = page.lab;
    view! {
        // The page's main content while the Lab shows (the analysis view's <main> is hidden).
        <main id="lab" aria-label="MaskTune Lab">
            <h2>"MaskTune Lab: watch a model learn a shortcut"</h2>
            <p class="story">
                "Digits 0–4 are one class and 5–9 the other. In the training images a small red square "
                "sits in the corner of 99 % of the 0–4s and of 1 % of the 5–9s, so the square alone "
                "almost tells the class. A model trained as usual (ERM) learns that shortcut: on the "
                "biased test set, where every 5–9 carries the square, its accuracy falls. "
                "Everything trains here, in this page, with the same code as the native trainer."
            </p>
            <Settings />
            <div class="lab-actions">
                <button id="lab-start" on:click=move |_| page.start_lab()
                    disabled=move || lab.running() || !page.backend_ready()>"Start"</button>
                <button id="lab-stop" on:click=move |_| page.stop_lab()
                    disabled=move || lab.run_state.get() != RunState::Running>"Stop"</button>
                <RunStatus />
            </div>
            <DataSummaryView />
            <div class="lab-curves">
                <LossCurve />
                <AccuracyCurve />
            </div>
            <EpochTable />
            <Effect />
            <MaskGrid />
            <EvaluationView />
            <ModelsView />
            <p class="fine-print">
                "Data: the first 12,000 training and 2,000 test images of MNIST (Y. LeCun, C. Cortes, "
                "C. J. C. Burges), licensed CC BY-SA 3.0; the red squares are painted in the page."
            </p>
        </main>
    }
}

#[component]
fn Settings() -> impl IntoView {
    let lab = expect_context::<PageState>().lab;
    let field = move |id: &'static str,
                      label: &'static str,
                      step: &'static str,
                      get: fn(&LabSettings) -> String,
                      set: fn(&mut LabSettings, &str)| {
        // The field's own value only: a change to another field must not write this field again.
        // On the threaded build the page's effects run as tasks of their own, so such a write can
        // land after the user (or a test) typed here and undo it.
        let value = Memo::new(move |_| lab.settings.with(get));
        view! {
            <label for=id>{label}" "
                <input id=id type="number" step=step prop:value=value
                    disabled=move || lab.running()
                    on:change=move |ev| lab.settings.update(|s| set(s, &event_target_value(&ev))) />
            </label>
        }
    };
    view! {
        <fieldset class="lab-settings">
            <legend>"Settings"</legend>
            {field("lab-epochs", "ERM epochs", "1", |s| s.epochs.to_string(),
                |s, v| if let Ok(v) = v.parse() { s.epochs = v })}
            {field("lab-lr", "Learning rate", "0.001", |s| s.lr.to_string(),
                |s, v| if let Ok(v) = v.parse() { s.lr = v })}
            {field("lab-seed", "Seed", "1", |s| s.seed.to_string(),
                |s, v| if let Ok(v) = v.parse() { s.seed = v })}
            {field("lab-images", "Images per split (at most)", "100", |s| s.images.to_string(),
                |s, v| if let Ok(v) = v.parse() { s.images = v })}
            <small class="fine-print">
                "The authors' MNIST network and SGD (momentum 0.9, weight decay 1e-4, batches of 128), as "
                "trainer-native pipeline --experiment spurious-mnist --data app/assets/lab/mnist."
            </small>
        </fieldset>
    }
}

#[component]
fn RunStatus() -> impl IntoView {
    let lab = expect_context::<PageState>().lab;
    move || {
        let (state, text) = match lab.run_state.get() {
            RunState::Idle => ("idle", "Press Start to train.".to_string()),
            RunState::Running => (
                "running",
                lab.step.get().map_or("Starting…".into(), step_text),
            ),
            RunState::Stopping => ("stopping", "Stopping after this batch…".into()),
            RunState::Stopped => ("stopped", "Stopped. What finished is kept below.".into()),
            RunState::Finished => ("finished", "Done.".into()),
            RunState::Failed(message) => ("failed", message),
        };
        let bar = lab
            .step
            .get()
            .filter(|_| lab.running())
            .map(|p| view! { <progress max=p.of.max(1) value=p.done></progress> });
        view! {
            <p id="lab-status" data-state=state role="status">{text} {bar}</p>
        }
    }
}

fn step_text(progress: StepProgress) -> String {
    let StepProgress { step, done, of } = progress;
    match step {
        LabStep::Data => format!(
            "Downloading the Lab's MNIST subset: {:.1} of {:.1} MB",
            done as f64 / 1e6,
            of as f64 / 1e6
        ),
        LabStep::Erm { epoch } => format!("ERM training, epoch {epoch}: {done} of {of} images"),
        LabStep::Measuring => format!("Measuring accuracy: {done} of {of} held-out images"),
        LabStep::Masking => format!("Masking with XGradCAM: {done} of {of} training images"),
        LabStep::Finetune => format!("Fine-tuning on the masked images: {done} of {of}"),
    }
}

#[component]
fn DataSummaryView() -> impl IntoView {
    let lab = expect_context::<PageState>().lab;
    let training_on = move || {
        lab.training_on.get().map(|(kind, label, detail)| {
            view! {
                <p id="lab-backend" data-backend=kind.id()>
                    "Training on " <strong>{label}</strong> " — " {detail}
                </p>
            }
        })
    };
    let data = move || {
        lab.data.get().map(|data| {
            let groups = data
                .train_groups
                .iter()
                .map(|(name, count)| format!("{name}: {count}"))
                .collect::<Vec<_>>()
                .join(" · ");
            view! {
                <p id="lab-data">
                    {format!(
                        "{} training, {} validation and {} test images (each test set). Training groups: {groups}.",
                        data.train, data.val, data.test
                    )}
                </p>
            }
        })
    };
    view! { {training_on} {data} }
}

/// ERM's epochs, then the fine-tuning epoch.
fn epochs_axis(lab: &LabState) -> Axis {
    Axis {
        min: 0.0,
        max: lab.settings.with(|s| s.epochs) as f64 + 1.0,
        name: "epochs",
        percent: false,
    }
}

#[component]
fn LossCurve() -> impl IntoView {
    let lab = expect_context::<PageState>().lab;
    move || {
        let trace = lab.loss_trace.get();
        let max = trace.iter().map(|(_, p)| p[1]).fold(0.1_f64, f64::max);
        let of = |model| {
            trace
                .iter()
                .filter(|(m, _)| *m == model)
                .map(|(_, p)| *p)
                .collect()
        };
        let series = vec![
            Series {
                name: "ERM".into(),
                class: "loss",
                points: of(LabModel::Erm),
            },
            Series {
                name: "fine-tuning (masked)".into(),
                class: "finetune",
                points: of(LabModel::MaskTune),
            },
        ];
        let y = Axis {
            min: 0.0,
            max,
            name: "loss",
            percent: false,
        };
        let label = "training loss of each batch against epochs: ERM, then fine-tuning".to_string();
        view! { <figure id="lab-loss"><LineChart series x=epochs_axis(&lab) y label /></figure> }
    }
}

#[component]
fn AccuracyCurve() -> impl IntoView {
    let lab = expect_context::<PageState>().lab;
    move || {
        let epochs = lab.epochs.get();
        let line =
            |name: &str, class, value: fn(&crate::protocol::lab::EpochPoint) -> f64| Series {
                name: name.into(),
                class,
                points: epochs.iter().map(|p| [p.epoch as f64, value(p)]).collect(),
            };
        let series = vec![
            line("original test", "original", |p| p.test_original),
            line("biased test", "biased", |p| p.test_biased),
            line("validation", "validation", |p| p.val_accuracy),
        ];
        let y = Axis {
            min: 0.0,
            max: 1.0,
            name: "accuracy",
            percent: true,
        };
        let label = "accuracy on the original test, the biased test and validation after each ERM \
                     epoch and after the fine-tuning epoch"
            .to_string();
        view! { <figure id="lab-accuracy"><LineChart series x=epochs_axis(&lab) y label /></figure> }
    }
}

#[component]
fn EpochTable() -> impl IntoView {
    let lab = expect_context::<PageState>().lab;
    let percent = |v: f64| format!("{:.2}%", v * 100.0);
    move || {
        let epochs = lab.epochs.get();
        (!epochs.is_empty()).then(|| {
            view! {
                <WideTable label="Each epoch's loss and accuracies">
                    <table id="lab-results">
                        <thead><tr>
                            <th scope="col">"Model"</th>
                            <th scope="col">"Epoch"</th>
                            <th scope="col">"Loss"</th>
                            <th scope="col">"Train acc."</th>
                            <th scope="col">"Validation"</th>
                            <th scope="col">"Original test"</th>
                            <th scope="col">"Biased test"</th>
                            <th scope="col">"Time"</th>
                        </tr></thead>
                        <tbody>
                            {epochs.into_iter().map(|p| view! {
                                <tr data-epoch=p.epoch data-model=model_id(p.model) data-train-ms=p.train_ms>
                                    <td>{model_name(p.model)}</td>
                                    <td>{p.epoch}</td>
                                    <td>{p.train_loss.map_or("–".into(), |l| format!("{l:.4}"))}</td>
                                    <td>{p.train_accuracy.map_or("–".into(), percent)}</td>
                                    <td class="val">{percent(p.val_accuracy)}</td>
                                    <td class="original">{percent(p.test_original)}</td>
                                    <td class="biased">{percent(p.test_biased)}</td>
                                    <td>{p.train_ms.map_or("–".into(), |ms| format!("{:.1} s", ms / 1e3))}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </WideTable>
            }
        })
    }
}

fn model_id(model: LabModel) -> &'static str {
    match model {
        LabModel::Erm => "erm",
        LabModel::MaskTune => "masktune",
    }
}

fn model_name(model: LabModel) -> &'static str {
    match model {
        LabModel::Erm => "ERM",
        LabModel::MaskTune => "MaskTune",
    }
}

/// Training images as ERM saw them, its XGradCAM map, and masked: like the trainer's
/// `mask_examples.png`.
#[component]
fn MaskGrid() -> impl IntoView {
    let lab = expect_context::<PageState>().lab;
    move || {
        lab.masked.get().map(|masked| {
            let groups = masked
                .groups
                .iter()
                .map(|g| format!("{}: {:.1} % hidden, {} of {} untouched", g.group,
                    g.mean_masked_fraction * 100.0, g.unmasked_images, g.images))
                .collect::<Vec<_>>()
                .join(" · ");
            view! {
                <section id="lab-masking" aria-label="Masking examples">
                    <h3>{format!("What the epoch-{} ERM model looks at, and the masks", masked.source_epoch)}</h3>
                    <p class="fine-print">{groups}</p>
                    <div class="mask-grid">
                        {masked.examples.iter().map(|e| view! {
                            <figure class="mask-example" data-group=e.group.clone()>
                                <img src=e.pictures.input.as_str().to_owned() alt="training image" />
                                <div class="overlay small">
                                    <img src=e.pictures.input.as_str().to_owned() alt="" aria-hidden="true" />
                                    <img class="heat" src=e.pictures.heatmap.as_str().to_owned() alt="XGradCAM heatmap over the image" />
                                </div>
                                <img src=e.pictures.masked.as_str().to_owned() alt="masked image" />
                                <figcaption>{format!("{}: {:.1} % hidden", e.group, e.masked_fraction * 100.0)}</figcaption>
                            </figure>
                        }).collect_view()}
                    </div>
                </section>
            }
        })
    }
}
