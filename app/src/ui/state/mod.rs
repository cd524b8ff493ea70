//! The page's state, shared by its components through the context, and how the compute worker's
//! answers change it. No model work happens here: it all runs in the worker. This file holds the
//! state and what the views read of it; what changes it lives beside it: the compute worker's
//! life (`worker`), the analysis view's models (`models`), the images given and their cards
//! (`images`), and the Lab's requests (`lab`).

mod images;
mod lab;
mod models;
mod worker;

use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use leptos::ev;
use leptos::prelude::*;
use masktune::bundle::{BundleMetadata, CoverageThreshold, SelectiveSummary};
use masktune::models::preprocess::DatasetKind;
use masktune::selective::{Decision, confidence_range, decide};
use send_wrapper::SendWrapper;

use self::models::ModelSource;
use super::backend_choice;
use super::card_filter::CardFilter;
use super::compute_worker::ComputeWorker;
use super::lab::LabState;
use crate::protocol::{AnalysedImage, BackendKind, BackendReport, ImageFile, Pictures, Request};
use crate::tasks::{self, Models, TASKS, Task};

/// The compute worker, as far as the page knows.
#[derive(Clone, Debug)]
pub enum BackendState {
    Starting,
    /// The worker stopped for the reason given, and the page starts another.
    Restarting(String),
    Ready(BackendReport),
    Failed(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum ModelState {
    /// The task's models are the user's own, and they have not given them yet.
    AwaitingFiles,
    Loading {
        received: u64,
        total: Option<u64>,
    },
    Ready {
        summary: String,
    },
    Failed(String),
}

/// One image the user gave, and how far its analysis got.
#[derive(Clone)]
pub struct Entry {
    pub id: u64,
    pub name: String,
    /// The file given, which the worker decodes again to draw the card's pictures if it no
    /// longer has the image. Wrapped because Leptos's lists want `Send` entries, and in the
    /// threaded build JavaScript values are not; entries never leave the page's thread.
    pub file: SendWrapper<web_sys::Blob>,
    pub outcome: Outcome,
}

#[derive(Clone)]
pub enum Outcome {
    Waiting,
    /// The worker could not analyse the image: why.
    Failed(String),
    /// The page could not have it analysed (no models, or a worker that stopped before it
    /// answered): why. Given again, it may be.
    NotAnalysed(String),
    Done(Arc<Shown>),
}

impl Entry {
    /// Changes when the entry must be drawn again.
    pub fn key(&self) -> String {
        let stage = match self.outcome {
            Outcome::Waiting => "waiting",
            Outcome::Failed(_) => "failed",
            Outcome::NotAnalysed(_) => "not-analysed",
            Outcome::Done(_) => "done",
        };
        format!("{}-{stage}", self.id)
    }
}

/// An analysis ready to draw: its numbers for the text, and the worker's pictures once they come
/// (linked as long as this lives) or why they could not be drawn.
pub struct Shown {
    pub numbers: AnalysedImage,
    pub pictures: ArcRwSignal<Option<Result<Pictures, String>>>,
    /// Whether the worker was asked for the pictures ([`PageState::ask_for_pictures`]).
    pub pictures_asked: AtomicBool,
    pub class_names: Arc<Vec<String>>,
    /// The class the folder holding the image names, if it names one (`masktune::labelled`).
    pub label: Option<usize>,
}

/// The page's two views.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// A task's model pair on the user's images.
    Analyse,
    /// The method itself, trained in the page.
    Lab,
}

/// The address fragment that opens the Lab (tasks use their ids).
const LAB_FRAGMENT: &str = "lab";

#[derive(Clone, Copy)]
pub struct PageState {
    pub view: RwSignal<View>,
    pub lab: LabState,
    pub task: RwSignal<String>,
    pub backend: RwSignal<BackendState>,
    /// The backend the address asks for ([`backend_choice`]).
    pub requested_backend: BackendKind,
    /// The WebGPU adapter the browser offers, if any (known shortly after start).
    pub webgpu_offered: RwSignal<Option<backend_choice::Adapter>>,
    pub models: RwSignal<ModelState>,
    /// Where the current models come from: a restarted worker loads them again.
    models_source: StoredValue<Option<ModelSource>, LocalStorage>,
    /// The generation of models a restarted worker was given while they were loading.
    reloaded: StoredValue<Option<u64>>,
    /// Metadata of the loaded MaskTune bundle (classes, input, thresholds).
    meta: RwSignal<Option<Arc<BundleMetadata>>>,
    worker: StoredValue<Option<Rc<ComputeWorker>>, LocalStorage>,
    /// How many compute workers the page started: numbers them, so that what a replaced one
    /// still says is ignored.
    workers_started: StoredValue<u32>,
    /// Whether a compute worker has started: the task's models load from then on.
    pub started: RwSignal<bool>,
    /// Requests made while the worker starts, which it could not hear yet: sent once it has.
    unsent: StoredValue<Vec<Request>, LocalStorage>,
    /// Why a compute worker stopped, the last time the page started another.
    pub restarted: RwSignal<Option<String>>,
    /// Why the compute worker stopped for good, once it has: it computes nothing more.
    stopped: StoredValue<Option<String>>,
    pub entries: RwSignal<Vec<Entry>, LocalStorage>,
    /// Index into the sorted coverage thresholds of the loaded models.
    pub coverage_index: RwSignal<usize>,
    /// Which result cards show.
    pub card_filter: RwSignal<CardFilter>,
    /// Heatmap opacity in percent.
    pub opacity: RwSignal<u32>,
    /// (images finished, images given) of the current work.
    pub progress: RwSignal<(usize, usize)>,
    /// What the page says of the files the last folder (chosen or dropped) held that are not
    /// images, or why it could not be read.
    pub folder_note: RwSignal<Option<String>>,
    next_id: StoredValue<u64>,
    /// Images given while models load: they go to the worker once models are ready, whichever
    /// the user settles on (the first load starts before the page has its worker).
    held: StoredValue<Vec<ImageFile>, LocalStorage>,
    /// Bumped on every model load, so that answers for older models are ignored.
    generation: StoredValue<u64>,
    /// Images on their way to the worker for the current models, sent a slice per task
    /// ([`PageState::send_outbox`]); whether that sending is under way.
    outbox: StoredValue<VecDeque<ImageFile>, LocalStorage>,
    sending: StoredValue<bool>,
    /// Bundle files the user gave while the worker was starting: they load with the task's
    /// models once it is ready ([`PageState::load_models`]), which would otherwise forget them.
    early_bundles: StoredValue<Option<Vec<(String, web_sys::Blob)>>, LocalStorage>,
}

impl PageState {
    pub fn new() -> Self {
        let (view, task) = match Address::read() {
            Address::Lab => (View::Lab, &TASKS[0]),
            Address::Task(task) => (View::Analyse, task),
        };
        Self {
            view: RwSignal::new(view),
            lab: LabState::new(),
            task: RwSignal::new(task.id.to_string()),
            backend: RwSignal::new(BackendState::Starting),
            requested_backend: backend_choice::requested(),
            webgpu_offered: RwSignal::new(None),
            models: RwSignal::new(ModelState::Loading {
                received: 0,
                total: None,
            }),
            models_source: StoredValue::new_local(None),
            reloaded: StoredValue::new(None),
            meta: RwSignal::new(None),
            worker: StoredValue::new_local(None),
            workers_started: StoredValue::new(0),
            started: RwSignal::new(false),
            unsent: StoredValue::new_local(Vec::new()),
            restarted: RwSignal::new(None),
            stopped: StoredValue::new(None),
            entries: RwSignal::new_local(Vec::new()),
            coverage_index: RwSignal::new(0),
            card_filter: RwSignal::new(CardFilter::All),
            opacity: RwSignal::new(50),
            progress: RwSignal::new((0, 0)),
            folder_note: RwSignal::new(None),
            next_id: StoredValue::new(0),
            held: StoredValue::new_local(Vec::new()),
            generation: StoredValue::new(0),
            outbox: StoredValue::new_local(VecDeque::new()),
            sending: StoredValue::new(false),
            early_bundles: StoredValue::new_local(None),
        }
    }

    /// Switches to task `id` and records it in the address (`#cifar10`), so a link or a reload
    /// opens the same task.
    pub fn select_task(&self, id: String) {
        // The address is a convenience: if it cannot be set, the switch still happens.
        let _ = location().set_hash(&id);
        self.task.set(id);
    }

    /// Shows `view`, recorded in the address as the task's id or `#lab`.
    pub fn show_view(self, view: View) {
        let fragment = match view {
            View::Analyse => self.task.get_untracked(),
            View::Lab => LAB_FRAGMENT.to_string(),
        };
        let _ = location().set_hash(&fragment);
        self.switch_view(view);
    }

    /// Leaving the Lab stops its run (what finished stays shown when the user comes back).
    fn switch_view(self, view: View) {
        if view != View::Lab {
            self.stop_lab();
        }
        self.view.set(view);
    }

    /// Follows the address when it changes under the page: Back and Forward through the views
    /// and tasks the page recorded there, a followed link, an edited address.
    pub fn follow_address(self) {
        let _ = window_event_listener(ev::hashchange, move |_| match Address::read() {
            Address::Lab => self.switch_view(View::Lab),
            Address::Task(task) => {
                // The page's own switches land here too, with the task already chosen: setting
                // it again would reload its models.
                if self.task.get_untracked() != task.id {
                    self.task.set(task.id.to_string());
                }
                self.switch_view(View::Analyse);
            }
        });
    }

    pub fn current_task(&self) -> &'static Task {
        tasks::find(&self.task.get()).unwrap_or(&TASKS[0])
    }

    /// The examples to offer: the task's, except for the Lab's pair when it was trained on the
    /// user's folder, which the digits are not of.
    pub fn examples(&self) -> &'static [tasks::Example] {
        let task = self.current_task();
        let on_digits = self.meta.with(|meta| {
            meta.as_ref()
                .is_none_or(|meta| meta.dataset == DatasetKind::SpuriousMnist.name())
        });
        match task.models {
            Models::Lab if !on_digits => &[],
            _ => task.examples,
        }
    }

    pub fn backend_ready(&self) -> bool {
        matches!(self.backend.get(), BackendState::Ready(_))
    }

    pub fn models_ready(&self) -> bool {
        matches!(self.models.get(), ModelState::Ready { .. })
    }

    fn models_ready_untracked(&self) -> bool {
        matches!(self.models.get_untracked(), ModelState::Ready { .. })
    }

    /// The validation thresholds of the loaded models, by increasing coverage.
    pub fn thresholds(&self) -> Vec<CoverageThreshold> {
        self.meta.with(|meta| {
            meta.as_ref()
                .map_or_else(Vec::new, |m| sorted_by_coverage(&m.selective_thresholds))
        })
    }

    /// The loaded models' class names (none while no models are loaded).
    pub fn class_names(&self) -> Vec<String> {
        self.meta
            .with(|meta| meta.as_ref().map(|m| m.class_names.clone()))
            .unwrap_or_default()
    }

    /// How the loaded pair did on each test set when allowed to abstain (measured by the trainer).
    pub fn summaries(&self) -> Vec<SelectiveSummary> {
        self.meta.with(|meta| {
            meta.as_ref()
                .map(|m| m.selective_summaries.clone())
                .unwrap_or_default()
        })
    }

    pub fn threshold_count(&self) -> usize {
        self.thresholds().len()
    }

    /// The threshold the coverage slider selects.
    pub fn threshold(&self) -> Option<CoverageThreshold> {
        let thresholds = self.thresholds();
        let index = self
            .coverage_index
            .get()
            .min(thresholds.len().saturating_sub(1));
        thresholds.get(index).copied()
    }

    pub fn coverage_text(&self) -> String {
        match self.threshold() {
            Some(t) => format!(
                "{:.0}%: accept when the combined confidence is at least {:.4}",
                t.target_coverage * 100.0,
                t.threshold
            ),
            None if self.models_ready() => "no thresholds in these models".into(),
            None => "once the models are loaded".into(),
        }
    }

    /// Where the combined confidence can lie for the loaded models' classes.
    pub fn confidence_range_text(&self) -> Option<String> {
        let classes = self
            .meta
            .with(|meta| meta.as_ref().map(|m| m.class_names.len()))?;
        let (low, high) = confidence_range(classes);
        Some(format!(
            "With {classes} classes the combined confidence lies between {low:.3} (the models know nothing) \
             and {high:.3} (both are certain of one class)."
        ))
    }

    pub fn decision(&self, confidence: f64) -> Option<Decision> {
        self.threshold().map(|t| decide(confidence, t.threshold))
    }
}

/// What the address's fragment asks for.
enum Address {
    Lab,
    /// A task's analysis: the task the fragment names, else the first.
    Task(&'static Task),
}

impl Address {
    fn read() -> Self {
        match location_hash() {
            Some(fragment) if fragment == LAB_FRAGMENT => Address::Lab,
            fragment => Address::Task(fragment.and_then(|f| tasks::find(&f)).unwrap_or(&TASKS[0])),
        }
    }
}

fn sorted_by_coverage(thresholds: &[CoverageThreshold]) -> Vec<CoverageThreshold> {
    let mut sorted = thresholds.to_vec();
    sorted.sort_by(|a, b| a.target_coverage.total_cmp(&b.target_coverage));
    sorted
}
