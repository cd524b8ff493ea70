//! The page's state, shared by its components through the context, and how the compute worker's
//! answers change it. No model work happens here: it all runs in the worker.

use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use leptos::ev;
use leptos::prelude::*;
use masktune::bundle::{BundleMetadata, CoverageThreshold, SelectiveSummary, closest_threshold};
use masktune::labelled::class_of_path;
use masktune::models::preprocess::DatasetKind;
use masktune::selective::{Decision, confidence_range, decide};
use send_wrapper::SendWrapper;

use super::backend_choice;
use super::card_filter::{CardFacts, CardFilter};
use super::compute_worker::ComputeWorker;
use super::lab::{DataChoice, GivenModel, LabState};
use super::result_card::{WARM_UP_NAME, rehearse};
use crate::assets;
use crate::protocol::lab::{LabData, LabDataUrls, LabErm};
use crate::protocol::{
    AnalysedImage, BackendKind, BackendReport, BundleFile, ImageFile, Pictures, Request, Response,
    ToDraw,
};
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

/// How many times the page starts a new compute worker after one that had started stopped: a
/// worker that keeps stopping (say, on the same model) is not started for ever.
const RESTARTS: u32 = 3;

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

/// Where the analysis view's models come from.
#[derive(Clone)]
enum ModelSource {
    /// A task's shipped bundles.
    Shipped {
        erm_url: String,
        masktune_url: String,
    },
    /// Two bundle files: the user's own, or the Lab's last pair.
    Files(Vec<(String, web_sys::Blob)>),
}

impl ModelSource {
    /// What asks the worker to load them as the models of `generation`.
    fn request(&self, generation: u64) -> Request {
        match self {
            Self::Shipped {
                erm_url,
                masktune_url,
            } => Request::LoadModels {
                generation,
                erm_url: erm_url.clone(),
                masktune_url: masktune_url.clone(),
            },
            Self::Files(files) => Request::LoadBundles {
                generation,
                files: files
                    .iter()
                    .map(|(name, blob)| BundleFile {
                        name: name.clone(),
                        blob: blob.clone(),
                    })
                    .collect(),
            },
        }
    }
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
    Failed(String),
    Done(Arc<Shown>),
}

impl Entry {
    /// Changes when the entry must be drawn again.
    pub fn key(&self) -> String {
        let stage = match self.outcome {
            Outcome::Waiting => "waiting",
            Outcome::Failed(_) => "failed",
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

/// The folder of the Lab's data, relative to the page (scripts/make_lab_data.py writes it).
const LAB_DATA: &str = "assets/lab/mnist/";

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
    /// Images on their way to the worker for the current models, sent [`SEND_SLICE`] per task
    /// ([`PageState::send_outbox`]); whether that sending is under way.
    outbox: StoredValue<VecDeque<ImageFile>, LocalStorage>,
    sending: StoredValue<bool>,
    /// Bundle files the user gave while the worker was starting: they load with the task's
    /// models once it is ready ([`PageState::load_models`]), which would otherwise forget them.
    early_bundles: StoredValue<Option<Vec<(String, web_sys::Blob)>>, LocalStorage>,
}

/// How many images go to the worker per message, one message per task: sending costs about 1.6
/// µs per image on the page's thread, so a folder of 17,000 sent at once held it for 28 ms.
const SEND_SLICE: usize = 1024;

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

    /// Starts the compute worker; its answers update the state from then on.
    pub fn start_worker(self) {
        leptos::task::spawn_local(async move {
            self.webgpu_offered
                .set(backend_choice::webgpu_offered().await);
        });
        self.launch_worker();
    }

    /// Starts a compute worker, which replaces (and ends) the one before, if any.
    fn launch_worker(self) {
        let number = self.workers_started.get_value() + 1;
        self.workers_started.set_value(number);
        let started = ComputeWorker::start(self.requested_backend, move |response| {
            if number == self.workers_started.get_value() {
                self.receive(response)
            }
        });
        match started {
            Ok(worker) => self.worker.set_value(Some(Rc::new(worker))),
            Err(message) => self.stop(message),
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

    /// Asks the worker to run the Lab on its chosen data with the settings in its controls.
    pub fn start_lab(self) {
        let lab = self.lab;
        let settings = lab.settings.get_untracked();
        let request = untrack(|| {
            let task = lab.task()?;
            let given = lab.given()?;
            settings.check(&task, given.as_deref().and_then(GivenModel::description))?;
            let data = match lab.data_choice.get() {
                DataChoice::SpuriousMnist => {
                    LabData::SpuriousMnist(LabDataUrls::in_folder(LAB_DATA, assets::absolute_url)?)
                }
                DataChoice::Folder => LabData::Folder(
                    lab.folder
                        .get()
                        .expect("a folder task has its folder")
                        .lab_files(),
                ),
            };
            let erm = given.map_or(LabErm::Train, |g| LabErm::Given(g.lab_file()));
            Ok::<_, String>((data, erm))
        });
        let (data, erm) = match request {
            Ok(request) => request,
            Err(message) => return lab.failed(message),
        };
        let run = lab.begin_run();
        let request = self.send(Request::StartLab {
            run,
            data,
            erm,
            settings,
        });
        if let Err(message) = request {
            lab.failed(message);
        }
    }

    /// Takes a model file the user chose or dropped as the Lab's ERM model, and asks the worker
    /// what it holds (the page's thread never reads a model's bytes).
    pub fn give_lab_model(self, name: String, file: web_sys::Blob) {
        let model = self.lab.take_given_model(name, file);
        self.describe(&model);
    }

    /// Asks the worker what the model file `model` holds.
    fn describe(&self, model: &GivenModel) {
        let request = Request::DescribeModel {
            id: model.id,
            file: model.lab_file(),
        };
        if let Err(message) = self.send(request) {
            self.lab.described(model.id, Err(message));
        }
    }

    /// Shows the Lab's last model pair in the analysis view.
    pub fn analyse_lab_models(self) {
        self.select_task(tasks::LAB_MODELS.to_string());
        self.show_view(View::Analyse);
    }

    /// Asks the worker to stop the Lab's run after its current batch.
    pub fn stop_lab(self) {
        if let Some(run) = self.lab.stopping()
            && let Err(message) = self.send(Request::StopLab { run })
        {
            self.lab.failed(message);
        }
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

    /// The first `limit` of the entries the card filter keeps, the newest images first.
    pub fn shown_entries(&self, limit: usize) -> Vec<Entry> {
        let keeps = self.card_filter_keeps();
        self.entries.with(|entries| {
            entries
                .iter()
                .filter(|entry| keeps(entry))
                .take(limit)
                .cloned()
                .collect()
        })
    }

    /// How many entries the card filter keeps.
    pub fn shown_count(&self) -> usize {
        let keeps = self.card_filter_keeps();
        self.entries
            .with(|entries| entries.iter().filter(|entry| keeps(entry)).count())
    }

    /// Whether the card filter keeps an entry (all of them while the models have no thresholds
    /// to decide with).
    fn card_filter_keeps(&self) -> impl Fn(&Entry) -> bool {
        let filter = self.card_filter.get();
        let threshold = self.threshold();
        move |entry| threshold.is_none_or(|t| filter.keeps(CardFacts::of(entry, t.threshold)))
    }

    pub fn decision(&self, confidence: f64) -> Option<Decision> {
        self.threshold().map(|t| decide(confidence, t.threshold))
    }

    /// Asks the worker for the task's two shipped bundles, the Lab's last pair, or waits for the
    /// user's own; what was shown for other models goes.
    pub fn load_models(self, task_id: String) {
        let task = tasks::find(&task_id).unwrap_or(&TASKS[0]);
        let early_bundles = self.early_bundles.try_update_value(Option::take).flatten();
        let source = match task.models {
            Models::Shipped { erm, masktune } => assets::absolute_url(erm).and_then(|erm_url| {
                Ok(ModelSource::Shipped {
                    erm_url,
                    masktune_url: assets::absolute_url(masktune)?,
                })
            }),
            Models::Own => {
                if let Some(files) = early_bundles {
                    return self.load_bundles(files);
                }
                self.forget_models();
                self.models.set(ModelState::AwaitingFiles);
                return self.fail_held(NO_MODELS);
            }
            Models::Lab => self
                .lab
                .downloads
                .with_untracked(|pair| pair.as_ref().map(|pair| pair.files()))
                .map(ModelSource::Files)
                .ok_or_else(|| NO_LAB_PAIR.to_string()),
        };
        self.load(source);
    }

    /// Asks the worker to load the user's two bundle files.
    pub fn load_bundles(self, files: Vec<(String, web_sys::Blob)>) {
        // Until then the task's own load would forget them.
        if !self.started.get_untracked() {
            self.early_bundles.set_value(Some(files));
            self.models.set(ModelState::Loading {
                received: 0,
                total: None,
            });
            return;
        }
        self.load(Ok(ModelSource::Files(files)));
    }

    /// Asks the worker for the models of `source`, new ones: what was shown for others goes.
    fn load(&self, source: Result<ModelSource, String>) {
        let generation = self.forget_models();
        self.models_source.set_value(source.as_ref().ok().cloned());
        self.request_models(source.map(|source| source.request(generation)));
    }

    /// Starts a new generation of models: the old ones and their results are gone; images held
    /// for models stay held.
    fn forget_models(&self) -> u64 {
        let generation = self.generation.get_value() + 1;
        self.generation.set_value(generation);
        // Images not yet sent were for the old models, and their entries go with them.
        self.outbox.set_value(VecDeque::new());
        let held: Vec<u64> = self
            .held
            .with_value(|held| held.iter().map(|i| i.id).collect());
        self.entries
            .update(|entries| entries.retain(|entry| held.contains(&entry.id)));
        self.progress.set((0, held.len()));
        self.card_filter.set(CardFilter::All);
        self.meta.set(None);
        generation
    }

    fn request_models(&self, request: Result<Request, String>) {
        self.models.set(ModelState::Loading {
            received: 0,
            total: None,
        });
        if let Err(message) = request.and_then(|request| self.send(request)) {
            self.fail_models(message);
        }
    }

    /// The models did not load: images held for them say so.
    fn fail_models(&self, message: String) {
        self.fail_held(&models_failed(&message));
        self.models.set(ModelState::Failed(message));
    }

    /// Whether images can be given now: the models are ready, or loading (the images then wait).
    pub fn accepts_images(&self) -> bool {
        matches!(
            self.models.get(),
            ModelState::Loading { .. } | ModelState::Ready { .. }
        )
    }

    /// Queues files (picked, dropped or examples) for the worker to analyse. Given while the
    /// models load, they wait for them; given when there are no models, each says so.
    pub fn add_images(self, files: Vec<(String, web_sys::Blob)>) {
        let mut images = Vec::new();
        let mut added = Vec::new();
        for (name, blob) in files {
            let id = self.next_id.get_value();
            self.next_id.set_value(id + 1);
            added.push(Entry {
                id,
                name: name.clone(),
                file: SendWrapper::new(blob.clone()),
                outcome: Outcome::Waiting,
            });
            images.push(ImageFile { id, name, blob });
        }
        // The newest files first, each batch in the order given (and analysed), so that a
        // folder's cards fill in from the top.
        self.entries.update(|entries| {
            entries.splice(0..0, added);
        });
        self.progress.update(|(done, total)| {
            if *done >= *total {
                (*done, *total) = (0, 0);
            }
            *total += images.len();
        });
        match self.models.get_untracked() {
            ModelState::Ready { .. } => self.analyse(images),
            ModelState::Loading { .. } => self.held.update_value(|held| held.extend(images)),
            ModelState::AwaitingFiles => self.fail_all(ids_of(&images), NO_MODELS),
            ModelState::Failed(message) => self.fail_all(ids_of(&images), &models_failed(&message)),
        }
    }

    /// Sends images to the worker for the current models, after those already on their way.
    fn analyse(self, images: Vec<ImageFile>) {
        // Models becoming ready often have no images waiting for them.
        if images.is_empty() {
            return;
        }
        self.outbox.update_value(|outbox| outbox.extend(images));
        if !self.sending.get_value() {
            self.sending.set_value(true);
            leptos::task::spawn_local(self.send_outbox());
        }
    }

    /// Sends the outbox to the worker a slice at a time, each after the page has had a turn:
    /// the first in the task that filled it, so that one image goes at once.
    async fn send_outbox(self) {
        loop {
            let slice: Vec<ImageFile> = self
                .outbox
                .try_update_value(|outbox| {
                    let count = outbox.len().min(SEND_SLICE);
                    outbox.drain(..count).collect()
                })
                .unwrap_or_default();
            if slice.is_empty() {
                break;
            }
            let ids: Vec<u64> = ids_of(&slice).collect();
            let request = Request::Analyse {
                generation: self.generation.get_value(),
                images: slice,
            };
            if let Err(message) = self.send(request) {
                self.fail_all(ids, &message);
            }
            // The next slice after the page's next turn (it draws and answers input there).
            gloo_timers::future::TimeoutFuture::new(0).await;
        }
        self.sending.set_value(false);
    }

    fn take_held(&self) -> Vec<ImageFile> {
        self.held
            .try_update_value(std::mem::take)
            .unwrap_or_default()
    }

    /// Ends the images `ids` with `message` as their error.
    fn fail_all(&self, ids: impl IntoIterator<Item = u64>, message: &str) {
        for id in ids {
            self.finish(id, |_| Outcome::Failed(message.to_string()));
        }
    }

    /// Ends the images held for models with `message` as their error.
    fn fail_held(&self, message: &str) {
        self.fail_all(ids_of(&self.take_held()), message);
    }

    /// Sends `request` to the compute worker, or keeps it until the worker listens (a message
    /// sent before would be lost).
    fn send(&self, request: Request) -> Result<(), String> {
        if let Some(why) = self.stopped.get_value() {
            return Err(why);
        }
        if !matches!(self.backend.get_untracked(), BackendState::Ready(_)) {
            self.unsent.update_value(|unsent| unsent.push(request));
            return Ok(());
        }
        match self.worker.get_value() {
            Some(worker) => worker.send(&request),
            None => Err("the compute worker is not running: reload the page".into()),
        }
    }

    /// Applies one answer of the worker.
    fn receive(self, response: Response) {
        let current = |generation| generation == self.generation.get_value();
        match response {
            Response::Backend(report) => {
                self.backend.set(BackendState::Ready(report));
                if !self.started.get_untracked() {
                    self.started.set(true);
                }
                let unsent = self.unsent.try_update_value(std::mem::take);
                for request in unsent.unwrap_or_default() {
                    if let Err(message) = self.send(request) {
                        return self.worker_failed(message);
                    }
                }
            }
            Response::LoadProgress {
                generation,
                received,
                total,
            } if current(generation) => self.models.set(ModelState::Loading { received, total }),
            Response::ModelsReady {
                generation,
                meta,
                summary,
                warm_up,
                warm_up_pictures,
            } if current(generation) => {
                // New models start the slider at 90% coverage, or the closest they offer; the
                // same models loaded again by a restarted worker keep it.
                if self.meta.with_untracked(Option::is_none) {
                    let thresholds = sorted_by_coverage(&meta.selective_thresholds);
                    self.coverage_index
                        .set(closest_threshold(&thresholds, 0.9).map_or(0, |(index, _)| index));
                }
                self.meta.set(Some(Arc::new(*meta)));
                if let Ok(shown) = self.show(*warm_up, WARM_UP_NAME) {
                    rehearse(self, shown, warm_up_pictures);
                }
                self.models.set(ModelState::Ready { summary });
                self.ask_again_for_pictures();
                self.analyse(self.take_held());
            }
            Response::ModelsFailed {
                generation,
                message,
            } if current(generation) => self.fail_models(message),
            Response::Analysed { id, result } => self.finish(id, |name| match result {
                Ok(image) => self
                    .show(*image, name)
                    .map_or_else(Outcome::Failed, |shown| Outcome::Done(Arc::new(shown))),
                Err(message) => Outcome::Failed(message),
            }),
            Response::Drawn { id, pictures } => self.draw(id, pictures),
            Response::ModelDescribed { id, meta } => self.lab.described(id, meta.map(|meta| *meta)),
            Response::Lab { run, event } => self.lab.receive(run, event),
            Response::WorkerFailed(message) => self.worker_failed(message),
            // Answers about models the page has since replaced.
            Response::LoadProgress { .. }
            | Response::ModelsReady { .. }
            | Response::ModelsFailed { .. } => {}
        }
    }

    /// The compute worker stopped: a worker that had started is replaced by a new one, up to
    /// [`RESTARTS`] times; else nothing more will be computed.
    fn worker_failed(self, message: String) {
        // The first report says why; the trap that ends a panicking worker adds nothing.
        if self.stopped.get_value().is_some() {
            return;
        }
        let restarts = self.workers_started.get_value() - 1;
        match self.backend.get_untracked() {
            BackendState::Ready(_) if restarts < RESTARTS => self.restart(message),
            BackendState::Ready(_) => self.stop(format!(
                "{message}; it had stopped {restarts} times before, and the page started a new \
                 one each time: reload the page"
            )),
            _ => self.stop(message),
        }
    }

    /// Starts a new compute worker in place of one that stopped, which loads the same models;
    /// models that were loading when two workers stopped may be what stops them, and are not
    /// loaded a third time. What the stopped one was doing is lost: the images it had and the
    /// Lab's run say so.
    fn restart(self, message: String) {
        self.restarted.set(Some(message.clone()));
        self.backend.set(BackendState::Restarting(message.clone()));
        // Images not yet sent go to the new worker once its models are ready.
        let unsent: Vec<ImageFile> = self
            .outbox
            .try_update_value(|outbox| outbox.drain(..).collect())
            .unwrap_or_default();
        self.held.update_value(|held| held.extend(unsent));
        let held: Vec<u64> = self
            .held
            .with_value(|held| held.iter().map(|image| image.id).collect());
        let lost: Vec<u64> = self.waiting_ids().filter(|id| !held.contains(id)).collect();
        let lost_note = format!(
            "not analysed: the compute worker stopped before it answered ({message}); a new \
             worker has started: give this image again"
        );
        self.fail_all(lost, &lost_note);
        if self.lab.running() {
            self.lab.failed(format!(
                "{message}; a new worker has started: start the run again"
            ));
        }
        let generation = self.generation.get_value();
        let loading = matches!(self.models.get_untracked(), ModelState::Loading { .. });
        let reloaded = self.reloaded.get_value() == Some(generation);
        match self.models_source.get_value() {
            Some(_) if loading && reloaded => self.fail_models(format!(
                "the compute worker stopped twice while it loaded them ({message}); they may be \
                 what stops it"
            )),
            Some(source) => {
                self.reloaded.set_value(loading.then_some(generation));
                self.request_models(Ok(source.request(generation)));
            }
            None => {}
        }
        if let Some(model) = self.lab.given_model.get_untracked()
            && model.meta.is_none()
        {
            self.describe(&model);
        }
        self.launch_worker();
    }

    /// Nothing more will be computed: everything still waiting says so.
    fn stop(&self, message: String) {
        self.stopped.set_value(Some(message.clone()));
        self.unsent.set_value(Vec::new());
        self.held.set_value(Vec::new());
        self.outbox.set_value(VecDeque::new());
        // The backend badge says why, on every view.
        self.backend.set(BackendState::Failed(message.clone()));
        if !self.models_ready() {
            self.models.set(ModelState::Failed(message.clone()));
        }
        if self.lab.running() {
            self.lab.failed(message.clone());
        }
        self.lab.reading_failed(&message);
        let waiting: Vec<u64> = self.waiting_ids().collect();
        self.fail_all(waiting, &message);
    }

    /// The images given that have no answer yet.
    fn waiting_ids(&self) -> impl Iterator<Item = u64> {
        self.entries.with_untracked(|entries| {
            entries
                .iter()
                .filter(|e| matches!(e.outcome, Outcome::Waiting))
                .map(|e| e.id)
                .collect::<Vec<_>>()
                .into_iter()
        })
    }

    /// Removes the cards that have their answer or error; images still waiting stay.
    pub fn clear_results(&self) {
        // A filter by right and wrong may have no labelled image left to offer it.
        self.card_filter.set(CardFilter::All);
        let mut cleared = 0;
        self.entries.update(|entries| {
            let before = entries.len();
            entries.retain(|e| matches!(e.outcome, Outcome::Waiting));
            cleared = before - entries.len();
        });
        self.progress.update(|(done, total)| {
            *done -= cleared.min(*done);
            *total -= cleared.min(*total);
        });
    }

    /// Gives the image `id` its outcome, made from its name.
    fn finish(&self, id: u64, outcome: impl FnOnce(&str) -> Outcome) {
        let mut found = false;
        self.entries.update(|entries| {
            if let Some(entry) = entries.iter_mut().find(|e| e.id == id) {
                entry.outcome = outcome(&entry.name);
                found = true;
            }
        });
        if found {
            self.progress.update(|(done, _)| *done += 1);
        }
    }

    /// Asks the worker for the pictures of `entry`'s answer `shown`, the first time its card
    /// shows: the answers of a folder whose cards are not shown are never drawn.
    pub fn ask_for_pictures(&self, entry: &Entry, shown: &Shown) {
        // While a restarted worker loads the models, they are asked for once it has.
        if shown.pictures_asked.swap(true, Ordering::Relaxed) || !self.models_ready_untracked() {
            return;
        }
        self.draw_pictures(vec![to_draw(entry, shown)]);
    }

    /// Asks again for the pictures asked of a worker that stopped before it drew them.
    fn ask_again_for_pictures(&self) {
        let undrawn = self.entries.with_untracked(|entries| {
            entries
                .iter()
                .filter_map(|entry| match &entry.outcome {
                    Outcome::Done(shown)
                        if shown.pictures_asked.load(Ordering::Relaxed)
                            && shown.pictures.with_untracked(Option::is_none) =>
                    {
                        Some(to_draw(entry, shown))
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
        });
        if !undrawn.is_empty() {
            self.draw_pictures(undrawn);
        }
    }

    fn draw_pictures(&self, images: Vec<ToDraw>) {
        let ids: Vec<u64> = images.iter().map(|image| image.file.id).collect();
        let request = Request::Draw {
            generation: self.generation.get_value(),
            images,
        };
        if let Err(message) = self.send(request) {
            for id in ids {
                self.draw(id, Err(message.clone()));
            }
        }
    }

    /// Gives the answer for image `id` its pictures; those of an image no longer shown are let go.
    fn draw(&self, id: u64, pictures: Result<Pictures, String>) {
        self.entries.with_untracked(|entries| {
            let shown = entries.iter().find_map(|entry| match &entry.outcome {
                Outcome::Done(shown) if entry.id == id => Some(shown),
                _ => None,
            });
            if let Some(shown) = shown {
                shown.pictures.set(Some(pictures));
            }
        });
    }

    fn show(&self, image: AnalysedImage, name: &str) -> Result<Shown, String> {
        let class_names = self
            .meta
            .with_untracked(|meta| meta.as_ref().map(|m| Arc::new(m.class_names.clone())))
            .ok_or("the models changed before this image could be shown")?;
        Ok(Shown {
            numbers: image,
            pictures: ArcRwSignal::new(None),
            pictures_asked: AtomicBool::new(false),
            label: class_of_path(name, &class_names),
            class_names,
        })
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

/// What an image given before the user chose their own models says.
const NO_MODELS: &str = "not analysed: there are no models yet. Choose the two bundle files of \
                         your run above, then give the image again.";

/// What the worker needs to draw the pictures of `entry`'s answer `shown`.
fn to_draw(entry: &Entry, shown: &Shown) -> ToDraw {
    ToDraw {
        file: ImageFile {
            id: entry.id,
            name: entry.name.clone(),
            blob: (*entry.file).clone(),
        },
        saliency: shown.numbers.saliency.clone(),
    }
}

/// What the analysis view says when asked for the Lab's pair before a run has made one.
const NO_LAB_PAIR: &str = "no Lab run has finished yet: train a model pair in the Lab first";

/// What an image given for models that failed to load says.
fn models_failed(message: &str) -> String {
    format!("not analysed: the models did not load ({message})")
}

fn ids_of(images: &[ImageFile]) -> impl Iterator<Item = u64> + '_ {
    images.iter().map(|image| image.id)
}
