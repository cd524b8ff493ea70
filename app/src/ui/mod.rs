//! The page: pick a task, give images, see attention, masking and the accept/abstain decision.
//! This is the DOM side only; the models run in the compute worker (`crate::worker`).

mod backend_badge;
mod backend_choice;
mod bundle_picker;
mod card_filter;
mod card_list;
pub(crate) mod compute_worker;
mod drop_zone;
mod file_download;
mod file_lists;
mod folders;
mod heat_key;
mod image_picker;
mod lab;
mod labelled_accuracy;
mod line_chart;
mod page_drop;
mod result_card;
mod results_summary;
mod selective_panel;
mod state;
mod wide_table;

use leptos::prelude::*;

use crate::tasks::{Models, TASKS};
use backend_badge::BackendBadge;
use bundle_picker::BundlePicker;
use card_list::CardList;
use heat_key::HeatKey;
use image_picker::ImagePicker;
use lab::LabView;
use results_summary::ResultsSummary;
use selective_panel::SelectivePanel;
use state::{ModelState, PageState, View};

#[component]
pub fn App() -> impl IntoView {
    let state = PageState::new();
    provide_context(state);
    state.start_worker();
    state.follow_address();
    page_drop::catch_page_drops(state);

    // (Re)load the task's models whenever the task changes, once a worker has started (one
    // started again after a stop loads the models it had itself).
    Effect::new(move |_| {
        let task = state.task.get();
        if state.started.get() {
            state.load_models(task);
        }
    });

    view! {
        <header>
            <h1>"MaskTune"</h1>
            <p class="tagline">
                "See what a classifier looks at, hide it, and let two models decide when to abstain. "
                "Everything runs in this page: your images never leave your machine."
            </p>
            <BackendBadge />
            <nav class="views" aria-label="Views">
                <button id="view-analyse" aria-pressed=move || (state.view.get() == View::Analyse).to_string()
                    on:click=move |_| state.show_view(View::Analyse)>"Analyse images"</button>
                <button id="view-lab" aria-pressed=move || (state.view.get() == View::Lab).to_string()
                    on:click=move |_| state.show_view(View::Lab)>"Lab: train it yourself"</button>
            </nav>
        </header>
        <Show when=move || state.view.get() == View::Lab>
            <LabView />
        </Show>
        <main id="analyse" hidden=move || state.view.get() != View::Analyse>
            <section class="controls" aria-label="Task and images">
                <label for="task">"Task "</label>
                <select id="task" on:change=move |ev| state.select_task(event_target_value(&ev))
                    prop:value=move || state.task.get()>
                    {TASKS.iter().map(|t| view! { <option value=t.id>{t.label}</option> }).collect_view()}
                </select>
                <p class="story">{move || state.current_task().story}</p>
                <Show when=move || state.current_task().models == Models::Own>
                    <BundlePicker />
                </Show>
                <ModelStatus />
                <ImagePicker />
                <Sliders />
            </section>
            <Progress />
            <ResultsSummary />
            <CardList />
            <SelectivePanel />
        </main>
    }
}

#[component]
fn ModelStatus() -> impl IntoView {
    let state = expect_context::<PageState>();
    move || {
        match state.models.get() {
        ModelState::AwaitingFiles => view! {
            <p id="model-status" data-state="awaiting">"Choose the two bundle files of your run above."</p>
        }
        .into_any(),
        ModelState::Loading { received, total } => {
            let percent = total.map(|t| received as f64 * 100.0 / t.max(1) as f64);
            view! {
                <p id="model-status" data-state="loading">
                    "Loading the models… " {format!("{:.1} MB", received as f64 / 1e6)}
                    <progress max="100" value=percent.unwrap_or(0.0)></progress>
                </p>
            }
            .into_any()
        }
        ModelState::Ready { summary } => {
            view! { <p id="model-status" data-state="ready">{summary}</p> }.into_any()
        }
        ModelState::Failed(message) => {
            view! { <p id="model-status" data-state="failed" role="alert">{message}</p> }.into_any()
        }
    }
    }
}

#[component]
fn Sliders() -> impl IntoView {
    let state = expect_context::<PageState>();
    view! {
        <div class="sliders">
            <label>
                "Coverage "
                <input id="coverage" type="range" min="0" step="1"
                    max=move || state.threshold_count().saturating_sub(1)
                    prop:value=move || state.coverage_index.get()
                    on:input=move |ev| state.coverage_index.set(event_target_value(&ev).parse().unwrap_or(0))
                    aria-describedby="coverage-help" />
                <output id="coverage-value">{move || state.coverage_text()}</output>
            </label>
            <small id="coverage-help">
                "The share of inputs the two models should answer; the rest they abstain on. "
                "Thresholds were chosen on validation data by the trainer. "
                {move || state.confidence_range_text()}
            </small>
            <label>
                "Heatmap opacity "
                <input id="opacity" type="range" min="0" max="100" step="5"
                    prop:value=move || state.opacity.get()
                    on:input=move |ev| state.opacity.set(event_target_value(&ev).parse().unwrap_or(50)) />
            </label>
            <HeatKey />
        </div>
    }
}

#[component]
fn Progress() -> impl IntoView {
    let state = expect_context::<PageState>();
    move || {
        let (done, total) = state.progress.get();
        (total > 0 && done < total).then(|| {
            view! {
                <p id="progress" role="status">
                    {format!("Analysing images: {done} of {total}")}
                    <progress max=total value=done></progress>
                </p>
            }
        })
    }
}
