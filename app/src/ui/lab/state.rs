//! What the page knows of the Lab: the settings in its controls, the run in progress and what
//! the worker has reported of it.

use std::sync::Arc;

use leptos::prelude::*;
use masktune::bundle::BundleMetadata;
use masktune::evaluation::EvaluationReport;
use masktune::training::masking_pass::GroupMasking;
use web_sys::Blob;

use super::folder::ChosenFolder;
use super::given_model::GivenModel;
use crate::object_url::ObjectUrl;
use crate::protocol::lab::{
    EpochPoint, LabBundles, LabCheckpoint, LabData, LabEvent, LabModel, LabSettings, LabStep,
    LabTask, MaskExample, WorkerMemory,
};
use crate::protocol::{BackendKind, Request};

/// Where the current (or last) run stands.
#[derive(Clone, Debug, PartialEq)]
pub enum RunState {
    Idle,
    Running,
    Stopping,
    Stopped,
    Finished,
    Failed(String),
}

/// What the Lab trains on: the shipped spurious MNIST, or the user's folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataChoice {
    SpuriousMnist,
    Folder,
}

impl DataChoice {
    /// The batch size of the data's recipe, which a run trains with unless the user sets one.
    pub fn recipe_batch_size(self) -> usize {
        let task = match self {
            DataChoice::SpuriousMnist => LabTask::SpuriousMnist,
            // The classes do not change the recipe's batch.
            DataChoice::Folder => LabTask::Folder {
                class_names: Vec::new(),
            },
        };
        task.recipe(&LabSettings::default(), None).recipe.batch_size
    }
}

/// Where the ERM model comes from: trained in the run, or the user's file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErmChoice {
    Train,
    Given,
}

/// The data the run trains on, as the worker built it.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSummary {
    pub train: usize,
    pub val: usize,
    /// Each test set's name (as the trainer's report names it) and size.
    pub tests: Vec<(String, usize)>,
    /// The training set's groups, or its classes where it has none, with counts.
    pub train_groups: Vec<(String, usize)>,
    /// Whether the worker kept these images from an earlier run rather than read them again.
    pub read_before: bool,
}

/// The masking pass's examples, their pictures the page's while this lives, and what it hid per
/// group.
#[derive(Debug)]
pub struct MaskedView {
    pub source_epoch: usize,
    pub examples: Vec<MaskExample>,
    pub groups: Vec<GroupMasking>,
}

/// The step in progress and how far it is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepProgress {
    pub step: LabStep,
    pub done: u64,
    pub of: u64,
}

/// A finished run's two bundles as object URLs the page's download links point at.
#[derive(Debug)]
pub struct Downloads {
    pub erm: Download,
    pub masktune: Download,
}

#[derive(Debug)]
pub struct Download {
    pub file_name: String,
    /// The bundle's address; the analysis view also loads the pair from its file.
    pub url: ObjectUrl,
    pub bytes: usize,
}

impl Downloads {
    fn new(bundles: &LabBundles) -> Result<Self, String> {
        let link = |bytes: &[u8], model: &str| -> Result<Download, String> {
            let failed = |e| format!("the {model} bundle could not be offered for download: {e:?}");
            Ok(Download {
                file_name: format!("lab-seed{}-{model}.mtb", bundles.seed),
                url: ObjectUrl::of_bytes(bytes, "application/octet-stream").map_err(failed)?,
                bytes: bytes.len(),
            })
        };
        Ok(Downloads {
            erm: link(&bundles.erm, "erm")?,
            masktune: link(&bundles.masktune, "masktune")?,
        })
    }

    /// The two bundles with their file names.
    pub fn files(&self) -> Vec<(String, Blob)> {
        [&self.erm, &self.masktune]
            .map(|d| (d.file_name.clone(), d.url.file().clone()))
            .into()
    }
}

#[derive(Clone, Copy)]
pub struct LabState {
    pub settings: RwSignal<LabSettings>,
    pub data_choice: RwSignal<DataChoice>,
    /// The folder the user gave, kept while the page lives or until another is given.
    pub folder: RwSignal<Option<Arc<ChosenFolder>>>,
    /// How many folders were given: numbers them (the worker keeps the newest one's files).
    folders_given: StoredValue<u64>,
    /// How many of the folder's files the worker has: the page hands them over as soon as the
    /// folder is given.
    pub handed: RwSignal<usize>,
    /// A run started before the worker had all of its folder: its number and the request that
    /// starts it, sent once the worker has.
    waiting: StoredValue<Option<(u64, Request)>, LocalStorage>,
    pub erm_choice: RwSignal<ErmChoice>,
    /// The model file the user gave, kept while the page lives or until another is given.
    pub given_model: RwSignal<Option<Arc<GivenModel>>>,
    /// How many model files were given: numbers them.
    models_given: StoredValue<u64>,
    /// Where the current (or last) run's ERM model came from.
    run_erm: RwSignal<ErmChoice>,
    pub run_state: RwSignal<RunState>,
    pub data: RwSignal<Option<DataSummary>>,
    pub step: RwSignal<Option<StepProgress>>,
    /// What the run trains on: the backend's kind, label and detail.
    pub training_on: RwSignal<Option<(BackendKind, String, String)>>,
    /// Each batch's training loss against the epochs done (fractional), ERM then the
    /// fine-tuning epoch.
    pub loss_trace: RwSignal<Vec<(LabModel, [f64; 2])>>,
    pub epochs: RwSignal<Vec<EpochPoint>>,
    pub masked: RwSignal<Option<Arc<MaskedView>>>,
    pub evaluation: RwSignal<Option<Arc<EvaluationReport>>>,
    /// The run's bundles, offered while this holds them (a new run lets the browser free them).
    pub downloads: RwSignal<Option<Arc<Downloads>>>,
    /// The worker's memory when the last run finished.
    pub worker_memory: RwSignal<Option<WorkerMemory>>,
    /// Number of the current run; answers for older runs are ignored.
    run: StoredValue<u64>,
    /// What the current (or last) run trains on and with which settings, where it trains its
    /// ERM model: what a run continuing it must have too.
    run_inputs: StoredValue<Option<(LabData, LabSettings)>>,
    /// The current (or last) run's ERM training after its last epoch: a run that stopped or
    /// lost its worker continues from it.
    checkpoint: RwSignal<Option<Arc<LabCheckpoint>>>,
}

impl LabState {
    pub fn new() -> Self {
        Self {
            settings: RwSignal::new(LabSettings::default()),
            data_choice: RwSignal::new(DataChoice::SpuriousMnist),
            folder: RwSignal::new(None),
            folders_given: StoredValue::new(0),
            handed: RwSignal::new(0),
            waiting: StoredValue::new_local(None),
            erm_choice: RwSignal::new(ErmChoice::Train),
            given_model: RwSignal::new(None),
            models_given: StoredValue::new(0),
            run_erm: RwSignal::new(ErmChoice::Train),
            run_state: RwSignal::new(RunState::Idle),
            data: RwSignal::new(None),
            step: RwSignal::new(None),
            training_on: RwSignal::new(None),
            loss_trace: RwSignal::new(Vec::new()),
            epochs: RwSignal::new(Vec::new()),
            masked: RwSignal::new(None),
            evaluation: RwSignal::new(None),
            downloads: RwSignal::new(None),
            worker_memory: RwSignal::new(None),
            run: StoredValue::new(0),
            run_inputs: StoredValue::new(None),
            checkpoint: RwSignal::new(None),
        }
    }

    /// Takes a folder the user chose or dropped as the Lab's data; the worker has none of it yet.
    pub fn take_folder(&self, folder: ChosenFolder) {
        self.folders_given.update_value(|given| *given += 1);
        self.handed.set(0);
        self.folder.set(Some(Arc::new(folder)));
        self.data_choice.set(DataChoice::Folder);
    }

    /// The number of the folder given last.
    pub fn folder_number(&self) -> u64 {
        self.folders_given.get_value()
    }

    /// Whether the worker has every file of the folder given.
    pub fn folder_handed(&self) -> bool {
        self.folder.with(|folder| {
            folder
                .as_ref()
                .is_some_and(|folder| self.handed.get() == folder.file_count())
        })
    }

    /// Takes a model file the user chose or dropped as the run's ERM model; the worker describes
    /// it ([`LabState::described`]).
    pub fn take_given_model(&self, name: String, file: web_sys::Blob) -> Arc<GivenModel> {
        let id = self.models_given.get_value() + 1;
        self.models_given.set_value(id);
        let model = Arc::new(GivenModel::new(id, name, file));
        self.given_model.set(Some(model.clone()));
        self.erm_choice.set(ErmChoice::Given);
        model
    }

    /// The worker's description of the model file `id`, if that file is still the one given and
    /// was not described yet.
    pub fn described(&self, id: u64, meta: Result<BundleMetadata, String>) {
        let waiting = self.given_model.with_untracked(|given| {
            given
                .as_ref()
                .is_some_and(|model| model.id == id && model.meta.is_none())
        });
        if waiting {
            self.given_model.update(|given| {
                if let Some(model) = given {
                    *model = Arc::new(model.described(meta));
                }
            });
        }
    }

    /// The worker will not describe the model file it was reading: says why.
    pub fn reading_failed(&self, message: &str) {
        if let Some(model) = self.given_model.get_untracked() {
            self.described(model.id, Err(message.to_string()));
        }
    }

    /// What the chosen data makes a run train, or why it cannot be trained on.
    pub fn task(&self) -> Result<LabTask, String> {
        match self.data_choice.get() {
            DataChoice::SpuriousMnist => Ok(LabTask::SpuriousMnist),
            DataChoice::Folder => self.folder.with(|folder| match folder {
                Some(folder) => folder.task(),
                None => Err("choose or drop a folder of images first".into()),
            }),
        }
    }

    /// The given model, if the run starts from one, and whether it fits the chosen data.
    pub fn given(&self) -> Result<Option<Arc<GivenModel>>, String> {
        if self.erm_choice.get() == ErmChoice::Train {
            return Ok(None);
        }
        let given = self
            .given_model
            .get()
            .ok_or("choose your ERM model's file first")?;
        given.fitting(&self.task())?;
        Ok(Some(given))
    }

    /// Whether a run can start: the chosen data can be trained on, and a given model fits it.
    pub fn ready(&self) -> bool {
        self.task().is_ok() && self.given().is_ok()
    }

    pub fn running(&self) -> bool {
        matches!(self.run_state.get(), RunState::Running | RunState::Stopping)
    }

    /// Keeps run `run`'s `start` request until the worker has the run's folder.
    pub fn wait_for_folder(&self, run: u64, start: Request) {
        self.waiting.set_value(Some((run, start)));
    }

    /// The run waiting for its folder, if it still wants to start.
    pub fn waiting_run(&self) -> Option<u64> {
        self.waiting
            .with_value(|waiting| waiting.as_ref().map(|(run, _)| *run))
            .filter(|&run| self.starts(run))
    }

    /// The request that starts the run waiting for its folder, if that run still wants to start.
    pub fn take_waiting(&self) -> Option<Request> {
        let (run, start) = self.waiting.try_update_value(Option::take).flatten()?;
        self.starts(run).then_some(start)
    }

    fn starts(&self, run: u64) -> bool {
        run == self.run.get_value() && self.run_state.get_untracked() == RunState::Running
    }

    /// Numbers a new run on `data` with `settings` and forgets the last one; a run that
    /// continues the last keeps its ERM epochs up to `continues`' and its checkpoint.
    pub fn begin_run(
        &self,
        data: &LabData,
        settings: &LabSettings,
        continues: Option<&LabCheckpoint>,
    ) -> u64 {
        let run = self.run.get_value() + 1;
        self.run.set_value(run);
        self.run_state.set(RunState::Running);
        self.run_erm.set(self.erm_choice.get_untracked());
        let trains = self.erm_choice.get_untracked() == ErmChoice::Train;
        self.run_inputs
            .set_value(trains.then(|| (data.clone(), settings.clone())));
        self.data.set(None);
        self.step.set(None);
        self.training_on.set(None);
        // Epochs after the checkpoint's, and the fine-tuning's, are trained again.
        let kept = continues.map_or(0, |checkpoint| checkpoint.epochs);
        self.loss_trace.update(|trace| {
            trace.retain(|(model, [epochs, _])| *model == LabModel::Erm && *epochs <= kept as f64)
        });
        self.epochs.update(|points| {
            points.retain(|point| point.model == LabModel::Erm && point.epoch <= kept)
        });
        if continues.is_none() {
            self.checkpoint.set(None);
        }
        self.masked.set(None);
        self.evaluation.set(None);
        self.downloads.set(None);
        run
    }

    /// The checkpoint a run on `data` with `settings` would continue from: the last run's, if
    /// it trained its ERM model on the same data with the same settings.
    pub fn checkpoint_for(
        &self,
        data: &LabData,
        settings: &LabSettings,
    ) -> Option<Arc<LabCheckpoint>> {
        let same = self.run_inputs.with_value(|inputs| {
            inputs
                .as_ref()
                .is_some_and(|(d, s)| d == data && s == settings)
        });
        let checkpoint = self.checkpoint.get();
        (same && self.erm_choice.get() == ErmChoice::Train)
            .then_some(checkpoint)
            .flatten()
    }

    /// ERM epochs of the current (or last) run's checkpoint.
    pub fn checkpoint_epochs(&self) -> Option<usize> {
        self.checkpoint
            .with_untracked(|checkpoint| checkpoint.as_ref().map(|c| c.epochs))
    }

    /// ERM epochs done by the last run, which ended before it finished and which a run with
    /// the settings and data chosen now can continue.
    pub fn continuable(&self, data: &LabData) -> Option<usize> {
        if !matches!(
            self.run_state.get(),
            RunState::Stopped | RunState::Failed(_)
        ) {
            return None;
        }
        let settings = self.settings.get();
        self.checkpoint_for(data, &settings)
            .map(|checkpoint| checkpoint.epochs)
    }

    /// The run to stop in the worker, if one is going there; a run still waiting for its folder
    /// stops here, since the worker has not started it.
    pub fn stopping(&self) -> Option<u64> {
        if self.run_state.get_untracked() != RunState::Running {
            return None;
        }
        if self.take_waiting().is_some() {
            self.end(RunState::Stopped);
            return None;
        }
        self.run_state.set(RunState::Stopping);
        Some(self.run.get_value())
    }

    pub fn failed(&self, message: String) {
        self.run_state.set(RunState::Failed(message));
    }

    /// Applies what the worker reported of run `run`.
    pub fn receive(&self, run: u64, event: LabEvent) {
        if run != self.run.get_value() {
            return;
        }
        match event {
            LabEvent::Progress {
                step,
                done,
                of,
                batch_loss,
                ..
            } => {
                self.step.set(Some(StepProgress { step, done, of }));
                let done_share = done as f64 / of.max(1) as f64;
                let at = match step {
                    LabStep::Erm { epoch } => Some((LabModel::Erm, (epoch - 1) as f64)),
                    LabStep::Finetune => Some((LabModel::MaskTune, self.erm_epochs() as f64)),
                    _ => None,
                };
                if let (Some((model, start)), Some(loss)) = (at, batch_loss) {
                    let point = [start + done_share, loss];
                    self.loss_trace.update(|trace| trace.push((model, point)));
                }
            }
            LabEvent::Training {
                kind,
                label,
                detail,
            } => self.training_on.set(Some((kind, label, detail))),
            LabEvent::DataReady {
                train,
                val,
                tests,
                train_groups,
                read_before,
            } => self.data.set(Some(DataSummary {
                train,
                val,
                tests,
                train_groups,
                read_before,
            })),
            LabEvent::Epoch(point) => self.epochs.update(|points| points.push(point)),
            LabEvent::Checkpoint(checkpoint) => self.checkpoint.set(Some(Arc::from(checkpoint))),
            LabEvent::Masked {
                source_epoch,
                examples,
                groups,
            } => self.masked.set(Some(Arc::new(MaskedView {
                source_epoch,
                examples,
                groups,
            }))),
            LabEvent::Evaluated(report) => self.evaluation.set(Some(Arc::from(report))),
            LabEvent::Bundles(bundles) => match Downloads::new(&bundles) {
                Ok(downloads) => self.downloads.set(Some(Arc::new(downloads))),
                Err(message) => self.failed(message),
            },
            LabEvent::Stopped => self.end(RunState::Stopped),
            LabEvent::Finished { worker_memory } => {
                self.worker_memory.set(Some(worker_memory));
                // A failure on the page's side (the downloads) stays shown.
                if !matches!(self.run_state.get_untracked(), RunState::Failed(_)) {
                    self.end(RunState::Finished);
                }
            }
            LabEvent::Failed(message) => self.end(RunState::Failed(message)),
        }
    }

    /// ERM epochs the run trains: its settings', none from a given model.
    pub fn erm_epochs(&self) -> usize {
        match self.run_erm.get() {
            ErmChoice::Train => self.settings.with(|s| s.epochs),
            ErmChoice::Given => 0,
        }
    }

    fn end(&self, state: RunState) {
        self.step.set(None);
        self.run_state.set(state);
    }
}

#[cfg(test)]
mod tests {
    use leptos::prelude::*;
    use masktune::training::{RngState, training_rng};
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::{LabState, RunState};
    use crate::protocol::lab::{
        EpochPoint, LabCheckpoint, LabData, LabEvent, LabModel, LabSettings, LabStep,
    };

    fn point(model: LabModel, epoch: usize) -> EpochPoint {
        EpochPoint {
            model,
            epoch,
            train_loss: Some(0.5),
            train_accuracy: Some(0.8),
            val_accuracy: 0.7,
            tests: Vec::new(),
            train_ms: Some(1.0),
        }
    }

    fn checkpoint(epochs: usize) -> Box<LabCheckpoint> {
        Box::new(LabCheckpoint {
            epochs,
            model: vec![1],
            optimizer: vec![2],
            rng: RngState::capture(&training_rng(0)),
            best_epoch: 1,
            best_val_accuracy: 0.7,
            best_model: vec![3],
        })
    }

    /// A batch of ERM epoch `epoch` (1-based), `share` of the way through it.
    fn batch(epoch: usize, share: u64) -> LabEvent {
        LabEvent::Progress {
            step: LabStep::Erm { epoch },
            done: share,
            of: 4,
            batch_loss: Some(0.5),
            running_accuracy: None,
        }
    }

    fn epochs_shown(lab: &LabState) -> Vec<(LabModel, usize)> {
        lab.epochs
            .get_untracked()
            .iter()
            .map(|p| (p.model, p.epoch))
            .collect()
    }

    #[wasm_bindgen_test]
    fn a_run_continues_from_its_last_checkpoint_with_its_own_data_and_settings_only() {
        let owner = Owner::new();
        owner.set();
        let lab = LabState::new();
        let data = LabData::Folder {
            folder: 1,
            files: 10,
        };
        let settings = LabSettings {
            epochs: 3,
            ..LabSettings::default()
        };
        lab.settings.set(settings.clone());
        let run = lab.begin_run(&data, &settings, None);
        for epoch in 1..=2 {
            lab.receive(run, batch(epoch, 4));
            lab.receive(run, LabEvent::Epoch(point(LabModel::Erm, epoch)));
            lab.receive(run, LabEvent::Checkpoint(checkpoint(epoch)));
        }
        // Epoch 3 is reported, its checkpoint is not: the worker stopped in between.
        lab.receive(run, batch(3, 2));
        lab.receive(run, LabEvent::Epoch(point(LabModel::Erm, 3)));
        assert_eq!(lab.continuable(&data), None, "the run is going");
        lab.failed("the worker stopped".into());
        assert_eq!(lab.continuable(&data), Some(2));
        let other = LabData::Folder {
            folder: 2,
            files: 10,
        };
        assert_eq!(lab.continuable(&other), None, "another folder");
        lab.settings.update(|s| s.lr = 0.5);
        assert_eq!(lab.continuable(&data), None, "another learning rate");
        lab.settings.set(settings.clone());

        let from = lab.checkpoint_for(&data, &settings).unwrap();
        let run = lab.begin_run(&data, &settings, Some(&from));
        assert_eq!(
            epochs_shown(&lab),
            [(LabModel::Erm, 1), (LabModel::Erm, 2)],
            "the checkpoint's epochs stay, epoch 3 is trained again"
        );
        let trace: Vec<f64> = lab
            .loss_trace
            .get_untracked()
            .iter()
            .map(|(_, [x, _])| *x)
            .collect();
        assert_eq!(trace, [1.0, 2.0]);
        // Stopped before its first epoch, it continues from the same checkpoint.
        lab.receive(run, LabEvent::Stopped);
        assert_eq!(lab.run_state.get_untracked(), RunState::Stopped);
        assert_eq!(lab.continuable(&data), Some(2));

        // A new run forgets it.
        let run = lab.begin_run(&data, &settings, None);
        assert!(epochs_shown(&lab).is_empty());
        lab.receive(run, LabEvent::Stopped);
        assert_eq!(lab.continuable(&data), None);
    }
}
