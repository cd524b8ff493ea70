//! The Lab: MaskTune itself, run in the page on spurious MNIST or on the user's own folder of
//! images. The user sets a few numbers, presses Start and watches the ERM model learn (on spurious
//! MNIST, the red-square shortcut), the masks and the fine-tuning; the compute worker trains
//! (`crate::worker::lab`), this side only draws what it reports.

mod effect;
mod evaluation;
mod folder;
mod given_model;
mod state;

use leptos::prelude::*;
use leptos::task::spawn_local;
use masktune::data::image_folder;

use effect::Effect;
use evaluation::{EvaluationView, ModelsView};
pub use folder::ChosenFolder;
use given_model::MODEL_FILE_ENDINGS;
pub use given_model::{GivenModel, is_model_file};
use state::ErmChoice;
pub use state::{DataChoice, LabState};
use state::{RunState, StepProgress};

use super::line_chart::{Axis, LineChart, Series};
use super::state::PageState;
use super::wide_table::WideTable;
use crate::protocol::lab::{EpochPoint, LabModel, LabSettings, LabStep};
use crate::ui::{file_lists, folders};

#[component]
pub fn LabView() -> impl IntoView {
    let page = expect_context::<PageState>();
    let lab = page.lab;
    view! {
        // The page's main content while the Lab shows (the analysis view's <main> is hidden).
        <main id="lab" aria-label="MaskTune Lab">
            <h2>"MaskTune Lab: watch a model learn a shortcut"</h2>
            <Story />
            <DataPicker />
            <ErmPicker />
            <Settings />
            <div class="lab-actions">
                <button id="lab-start" on:click=move |_| page.start_lab()
                    disabled=move || lab.running() || !page.backend_ready() || !lab.ready()>"Start"</button>
                <button id="lab-stop" on:click=move |_| page.stop_lab()
                    disabled=move || lab.run_state.get() != RunState::Running>"Stop"</button>
                <ContinueButton />
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
            <Show when=move || lab.data_choice.get() == DataChoice::SpuriousMnist>
                <p class="fine-print">
                    "Data: the first 12,000 training and 2,000 test images of MNIST (Y. LeCun, C. Cortes, "
                    "C. J. C. Burges), licensed CC BY-SA 3.0; the red squares are painted in the page."
                </p>
            </Show>
        </main>
    }
}

#[component]
fn Story() -> impl IntoView {
    let lab = expect_context::<PageState>().lab;
    move || match lab.data_choice.get() {
        DataChoice::SpuriousMnist => view! {
            <p class="story">
                "Digits 0–4 are one class and 5–9 the other. In the training images a small red square "
                "sits in the corner of 99 % of the 0–4s and of 1 % of the 5–9s, so the square alone "
                "almost tells the class. A model trained as usual (ERM) learns that shortcut: on the "
                "biased test set, where every 5–9 carries the square, its accuracy falls. "
                "Everything trains here, in this page, with the same code as the native trainer."
            </p>
        },
        DataChoice::Folder => view! {
            <p class="story">
                "Your own images, one folder per class: an ERM model learns them, its XGradCAM maps "
                "show what it looks at in every training image, MaskTune hides that and fine-tunes "
                "once, and the pair is evaluated per class and for abstaining. Everything trains "
                "here, in this page, with the same code as the native trainer; the images never "
                "leave it."
            </p>
        },
    }
}

/// A radio button of the group `name` that sets `choice` to `value`; no changes while a run goes.
fn radio_choice<T: Copy + PartialEq + Send + Sync + 'static>(
    lab: LabState,
    choice: RwSignal<T>,
    name: &'static str,
    value: T,
    id: &'static str,
    label: &'static str,
) -> impl IntoView {
    view! {
        <label for=id>
            <input type="radio" id=id name=name
                prop:checked=move || choice.get() == value
                disabled=move || lab.running()
                on:change=move |_| choice.set(value) />
            " " {label}
        </label>
    }
}

/// What the Lab trains on: the shipped spurious MNIST or a folder of the user's, chosen or
/// dropped on the Lab, with what the trainer's layout rule makes of it.
#[component]
fn DataPicker() -> impl IntoView {
    let page = expect_context::<PageState>();
    let lab = page.lab;
    let choice = move |value, id, label| {
        radio_choice(lab, lab.data_choice, "lab-data-choice", value, id, label)
    };
    let chosen = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let files = file_lists::all(input.files());
        input.set_value("");
        spawn_local(async move {
            let (images, left_out) = folders::chosen(&files).await;
            page.give_lab_folder(ChosenFolder::new(images, left_out.len()));
        });
    };
    // `data-handed`: whether the worker has all of the folder's files.
    let handed = move || lab.folder_handed().to_string();
    let folder_note = move || {
        lab.folder.get().map(|folder| match &folder.layout {
            Ok(_) => view! {
                <p id="lab-folder" class="fine-print" data-state="ready" data-handed=handed>
                    {folder.summary()}
                </p>
            },
            Err(error) => view! {
                <p id="lab-folder" class="error" data-state="unusable" data-handed=handed>
                    {format!("This folder cannot be trained on: {error}.")}
                </p>
            },
        })
    };
    view! {
        <fieldset class="lab-data">
            <legend>"Data"</legend>
            {choice(DataChoice::SpuriousMnist, "lab-data-mnist", "Spurious MNIST (shipped with the page)")}
            {choice(DataChoice::Folder, "lab-data-folder", "Your images: a folder with one subfolder per class")}
            <Show when=move || lab.data_choice.get() == DataChoice::Folder>
                <label for="lab-folder-input">"Choose the folder (or drop it on the Lab): "
                    <input id="lab-folder-input" type="file" prop:webkitdirectory=true multiple
                        disabled=move || lab.running() on:change=chosen />
                </label>
                <small class="fine-print">
                    {format!(
                        "One subfolder per class holding its images (PNG, JPEG, BMP or WebP), \
                         optionally under train/, val/ and test/, as trainer-native --experiment \
                         folder reads it. Where val/ or test/ is missing, {:.0} % of the training \
                         images are held out for it.",
                        image_folder::HOLDOUT * 100.0
                    )}
                </small>
                {folder_note}
            </Show>
        </fieldset>
    }
}

/// Where the ERM model comes from: trained in the run, or the user's own trained model (a bundle
/// or a safetensors file), described and checked against the data before a run.
#[component]
fn ErmPicker() -> impl IntoView {
    let page = expect_context::<PageState>();
    let lab = page.lab;
    let choice = move |value, id, label| {
        radio_choice(lab, lab.erm_choice, "lab-erm-choice", value, id, label)
    };
    let chosen = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let file = input.files().and_then(|files| files.get(0));
        input.set_value("");
        if let Some(file) = file {
            page.give_lab_model(file.name(), file.into());
        }
    };
    let model_note = move || {
        lab.given_model
            .get()
            .map(|model| match model.summary(&lab.task()) {
                _ if model.meta.is_none() => view! {
                    <p id="lab-erm" class="fine-print" data-state="reading">
                        {format!("Reading {}…", model.name)}
                    </p>
                },
                Ok(summary) => {
                    view! { <p id="lab-erm" class="fine-print" data-state="ready">{summary}</p> }
                }
                Err(error) => view! {
                    <p id="lab-erm" class="error" data-state="unusable">
                        {format!("{}: this model cannot be fine-tuned here: {error}.", model.name)}
                    </p>
                },
            })
    };
    view! {
        <fieldset class="lab-data">
            <legend>"ERM model"</legend>
            {choice(ErmChoice::Train, "lab-erm-train", "Train it here")}
            {choice(ErmChoice::Given, "lab-erm-given", "Yours, already trained: mask with it and fine-tune it")}
            <Show when=move || lab.erm_choice.get() == ErmChoice::Given>
                <label for="lab-erm-input">"Choose the model file: "
                    <input id="lab-erm-input" type="file" accept=MODEL_FILE_ENDINGS.join(",")
                        disabled=move || lab.running() on:change=chosen />
                </label>
                <small class="fine-print">
                    "A bundle written by trainer-native or the Lab (or drop it on the Lab), or a \
                     .safetensors file that describes its model: from trainer-native export \
                     --format safetensors, or saved from PyTorch by save() in \
                     pytorch/masktune_models.py. Its classes must be the data's, in the same \
                     order; a folder is read at the model's image side, with its normalisation."
                </small>
                {model_note}
            </Show>
        </fieldset>
    }
}

#[component]
fn Settings() -> impl IntoView {
    let lab = expect_context::<PageState>().lab;
    let field = move |id: &'static str,
                      label: &'static str,
                      step: &'static str,
                      get: fn(&LabSettings) -> String,
                      set: fn(&mut LabSettings, &str),
                      placeholder: fn(DataChoice) -> String| {
        // The field's own value only: a change to another field must not write this field again.
        // On the threaded build the page's effects run as tasks of their own, so such a write can
        // land after the user (or a test) typed here and undo it.
        let value = Memo::new(move |_| lab.settings.with(get));
        view! {
            <label for=id>{label}" "
                <input id=id type="number" step=step prop:value=value
                    placeholder=move || placeholder(lab.data_choice.get())
                    disabled=move || lab.running()
                    on:change=move |ev| lab.settings.update(|s| set(s, &event_target_value(&ev))) />
            </label>
        }
    };
    view! {
        <fieldset class="lab-settings">
            <legend>"Settings"</legend>
            <Show when=move || lab.erm_choice.get() == ErmChoice::Train>
                {field("lab-epochs", "ERM epochs", "1", |s| s.epochs.to_string(),
                    |s, v| if let Ok(v) = v.parse() { s.epochs = v }, no_placeholder)}
            </Show>
            {field("lab-lr", "Learning rate", "0.001", |s| s.lr.to_string(),
                |s, v| if let Ok(v) = v.parse() { s.lr = v }, no_placeholder)}
            {field("lab-seed", "Seed", "1", |s| s.seed.to_string(),
                |s, v| if let Ok(v) = v.parse() { s.seed = v }, no_placeholder)}
            {field("lab-images", "Images per split (at most)", "100", |s| s.images.to_string(),
                |s, v| if let Ok(v) = v.parse() { s.images = v }, no_placeholder)}
            // Empty: the recipe's, shown as the placeholder.
            {field("lab-batch-size", "Batch size", "1",
                |s| s.batch_size.map(|b| b.to_string()).unwrap_or_default(),
                |s, v| s.batch_size = v.trim().parse().ok(),
                |data| data.recipe_batch_size().to_string())}
            <Show when=move || {
                lab.data_choice.get() == DataChoice::Folder && lab.erm_choice.get() == ErmChoice::Train
            }>
                {field("lab-image-size", "Image side (px)", "8", |s| s.image_size.to_string(),
                    |s, v| if let Ok(v) = v.parse() { s.image_size = v }, no_placeholder)}
            </Show>
            <small class="fine-print">{move || recipe_text(lab.data_choice.get(), lab.erm_choice.get())}</small>
        </fieldset>
    }
}

/// A field that shows nothing while it is empty.
fn no_placeholder(_: DataChoice) -> String {
    String::new()
}

/// The recipe a run follows, and the trainer's command that trains the same way.
fn recipe_text(data: DataChoice, erm: ErmChoice) -> &'static str {
    match (data, erm) {
        (_, ErmChoice::Given) => {
            "Your model is measured, masks the training images with its XGradCAM maps and is \
             fine-tuned for one epoch on them at the learning rate (SGD, momentum 0.9, weight \
             decay 1e-4, a fresh optimizer state), as trainer-native import --weights <file> \
             --epochs 1 --lr <rate> [--batch-size <size>], then mask, finetune and evaluate."
        }
        (DataChoice::SpuriousMnist, ErmChoice::Train) => {
            "The authors' MNIST network and SGD (momentum 0.9, weight decay 1e-4, batches of 128 \
             unless set), as trainer-native pipeline --experiment spurious-mnist --data \
             app/assets/lab/mnist."
        }
        (DataChoice::Folder, ErmChoice::Train) => {
            "VGG-11 at a quarter width from scratch, SGD (momentum 0.9, weight decay 1e-4, batches \
             of 64 unless set), random crops and flips, ImageNet's normalisation, as trainer-native \
             pipeline --experiment folder --data <your folder> --image-size <side> --subset \
             <images>. From scratch a model needs many epochs (the trainer's default is 20); one \
             shows the steps."
        }
    }
}

/// Continues the last run from its last ERM epoch, where it stopped or lost its worker and the
/// data and settings are still its own.
#[component]
fn ContinueButton() -> impl IntoView {
    let page = expect_context::<PageState>();
    move || {
        page.continuable_epochs().map(|done| {
            let text = if done < page.lab.settings.with(|s| s.epochs) {
                format!("Continue from epoch {}", done + 1)
            } else {
                "Continue: mask and fine-tune".into()
            };
            view! {
                <button id="lab-continue" data-epochs=done on:click=move |_| page.continue_lab()
                    disabled=move || !page.backend_ready()>{text}</button>
            }
        })
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
        LabStep::Handing => format!("Handing your folder to the worker: {done} of {of} files"),
        LabStep::Reading => format!("Reading your images: {done} of {of}"),
        LabStep::Memory => "Measuring the memory a training batch takes".into(),
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
            let tests = match data.tests.as_slice() {
                [(_, test)] => format!("{test} test images"),
                tests => format!("{} test images (each test set)", tests[0].1),
            };
            let kind = match lab.data_choice.get_untracked() {
                DataChoice::SpuriousMnist => "groups",
                DataChoice::Folder => "classes",
            };
            // Reading is the step a run on the same folder skips: say why it took no time.
            let read_before = if data.read_before {
                " The images as the last run read them: same folder, seed, images per split and \
                 image side."
            } else {
                ""
            };
            let text = format!(
                "{} training, {} validation and {tests}. Training {kind}: {groups}.{read_before}",
                data.train, data.val
            );
            view! { <p id="lab-data">{text}</p> }
        })
    };
    view! { {training_on} {data} }
}

/// ERM's epochs, then the fine-tuning epoch.
fn epochs_axis(lab: &LabState) -> Axis {
    Axis {
        min: 0.0,
        max: lab.erm_epochs() as f64 + 1.0,
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
        let names = test_names(&epochs);
        let mut series: Vec<Series> = names
            .iter()
            .enumerate()
            .map(|(i, name)| Series {
                name: test_title(name),
                class: test_class(name),
                points: epochs
                    .iter()
                    .map(|p| [p.epoch as f64, p.tests[i].1])
                    .collect(),
            })
            .collect();
        series.push(Series {
            name: "validation".into(),
            class: "validation",
            points: epochs
                .iter()
                .map(|p| [p.epoch as f64, p.val_accuracy])
                .collect(),
        });
        let y = Axis {
            min: 0.0,
            max: 1.0,
            name: "accuracy",
            percent: true,
        };
        let label = format!(
            "accuracy on {} and validation after each ERM epoch and after the fine-tuning epoch",
            names
                .iter()
                .map(|n| test_title(n))
                .collect::<Vec<_>>()
                .join(", ")
        );
        view! { <figure id="lab-accuracy"><LineChart series x=epochs_axis(&lab) y label /></figure> }
    }
}

#[component]
fn EpochTable() -> impl IntoView {
    let lab = expect_context::<PageState>().lab;
    let percent = |v: f64| format!("{:.2}%", v * 100.0);
    move || {
        let epochs = lab.epochs.get();
        let names = test_names(&epochs);
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
                            {names.iter().map(|name| view! { <th scope="col">{capitalised(&test_title(name))}</th> }).collect_view()}
                            <th scope="col">"Time"</th>
                        </tr></thead>
                        <tbody>
                            {epochs.into_iter().map(|p| view! {
                                <tr data-epoch=p.epoch data-model=model_id(p.model) data-train-ms=p.train_ms>
                                    <td>{model_name(p.model, p.epoch)}</td>
                                    <td>{p.epoch}</td>
                                    <td>{p.train_loss.map_or("–".into(), |l| format!("{l:.4}"))}</td>
                                    <td>{p.train_accuracy.map_or("–".into(), percent)}</td>
                                    <td class="val">{percent(p.val_accuracy)}</td>
                                    {p.tests.iter().map(|(name, value)| view! {
                                        <td class=test_class(name)>{percent(*value)}</td>
                                    }).collect_view()}
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

/// The run's test sets by name, in the order every epoch reports them.
fn test_names(epochs: &[EpochPoint]) -> Vec<String> {
    epochs
        .first()
        .map(|p| p.tests.iter().map(|(name, _)| name.clone()).collect())
        .unwrap_or_default()
}

/// A test set's name as the page writes it ("test_biased": "biased test").
fn test_title(name: &str) -> String {
    match name.strip_prefix("test_") {
        Some(kind) => format!("{kind} test"),
        None => name.replace('_', " "),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or(String::new(), |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// The style class of a test set's line and cells.
fn test_class(name: &str) -> &'static str {
    match name {
        "test_original" => "original",
        "test_biased" => "biased",
        _ => "test",
    }
}

fn model_id(model: LabModel) -> &'static str {
    match model {
        LabModel::Erm => "erm",
        LabModel::MaskTune => "masktune",
    }
}

/// The model's name in the table: a given ERM model is its epoch 0.
fn model_name(model: LabModel, epoch: usize) -> &'static str {
    match (model, epoch) {
        (LabModel::Erm, 0) => "ERM (yours)",
        (LabModel::Erm, _) => "ERM",
        (LabModel::MaskTune, _) => "MaskTune",
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
                    <h3>{match masked.source_epoch {
                        0 => "What your ERM model looks at, and the masks".to_string(),
                        epoch => format!("What the epoch-{epoch} ERM model looks at, and the masks"),
                    }}</h3>
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
