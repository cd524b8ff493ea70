//! What the Lab asks of the worker: a run, a stop, the description of a model file given to
//! it; and showing its last pair in the analysis view.

use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;

use super::{PageState, View};
use crate::assets;
use crate::protocol::Request;
use crate::protocol::lab::{LabData, LabDataUrls, LabErm, LabEvent, LabFile, LabStep};
use crate::tasks;
use crate::ui::lab::{DataChoice, GivenModel};

/// The folder of the Lab's data, relative to the page (scripts/make_lab_data.py writes it).
const LAB_DATA: &str = "assets/lab/mnist/";
/// Files of a folder handed to the worker in one message: the browser clones each file's
/// handle on the page's thread as it sends it, about 0.25 ms a file the first time.
const HAND_OVER_SLICE: usize = 32;
/// How long one task of the page hands files over before it lets the page draw and answer
/// input (long tasks start at 50 ms).
const HAND_OVER_TASK_MS: f64 = 20.0;

impl PageState {
    /// Asks the worker to run the Lab on its chosen data with the settings in its controls.
    pub fn start_lab(self) {
        let lab = self.lab;
        let settings = lab.settings.get_untracked();
        let request = untrack(|| {
            let task = lab.task()?;
            let given = lab.given()?;
            settings.check(&task, given.as_deref().and_then(GivenModel::description))?;
            let (data, files) = match lab.data_choice.get() {
                DataChoice::SpuriousMnist => (
                    LabData::SpuriousMnist(LabDataUrls::in_folder(LAB_DATA, assets::absolute_url)?),
                    Vec::new(),
                ),
                DataChoice::Folder => {
                    let folder = lab.folder.get().expect("a folder task has its folder");
                    let files = folder.lab_files();
                    (LabData::Folder { files: files.len() }, files)
                }
            };
            let erm = given.map_or(LabErm::Train, |g| LabErm::Given(g.lab_file()));
            Ok::<_, String>((data, files, erm))
        });
        let (data, files, erm) = match request {
            Ok(request) => request,
            Err(message) => return lab.failed(message),
        };
        let run = lab.begin_run();
        leptos::task::spawn_local(async move {
            let request = match self.hand_over(run, files).await {
                Ok(true) => self.send(Request::StartLab {
                    run,
                    data,
                    erm,
                    settings,
                }),
                Ok(false) => Ok(()),
                Err(message) => Err(message),
            };
            if let Err(message) = request {
                lab.failed(message);
            }
        });
    }

    /// Hands a folder's `files` to the worker for run `run`, in short tasks of the page's thread
    /// so that a folder of thousands never freezes the page; whether the run still wants to
    /// start (a stop, or a worker that stopped, ends it meanwhile).
    async fn hand_over(self, run: u64, files: Vec<LabFile>) -> Result<bool, String> {
        let of = files.len() as u64;
        let mut files = files.into_iter().peekable();
        let mut done = 0;
        while files.peek().is_some() {
            // A task of its own, the first one too (not the Start button's).
            TimeoutFuture::new(0).await;
            if !self.lab.still_starting(run) {
                return Ok(false);
            }
            let began = js_sys::Date::now();
            while files.peek().is_some() && js_sys::Date::now() - began < HAND_OVER_TASK_MS {
                let slice: Vec<LabFile> = files.by_ref().take(HAND_OVER_SLICE).collect();
                done += slice.len() as u64;
                self.send(Request::LabFiles { run, files: slice })?;
            }
            self.lab.receive(
                run,
                LabEvent::Progress {
                    step: LabStep::Handing,
                    done,
                    of,
                    batch_loss: None,
                    running_accuracy: None,
                },
            );
        }
        Ok(self.lab.still_starting(run))
    }

    /// Takes a model file the user chose or dropped as the Lab's ERM model, and asks the worker
    /// what it holds (the page's thread never reads a model's bytes).
    pub fn give_lab_model(self, name: String, file: web_sys::Blob) {
        let model = self.lab.take_given_model(name, file);
        self.describe(&model);
    }

    /// Asks the worker what the model file `model` holds.
    pub(super) fn describe(&self, model: &GivenModel) {
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
}
