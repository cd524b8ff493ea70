//! What the Lab asks of the worker: a run (or the last one continued), a stop, a folder handed
//! over, the description of a model file given to it; and showing its last pair in the
//! analysis view.

use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;

use super::{PageState, View};
use crate::assets;
use crate::protocol::Request;
use crate::protocol::lab::{
    LabCheckpoint, LabData, LabDataUrls, LabErm, LabEvent, LabFile, LabStep,
};
use crate::tasks;
use crate::ui::lab::{ChosenFolder, DataChoice, GivenModel};

/// The folder of the Lab's data, relative to the page (scripts/make_lab_data.py writes it).
const LAB_DATA: &str = "assets/lab/mnist/";
/// Files of a folder handed to the worker in one message: the browser clones each file's
/// handle on the page's thread as it sends it, about 0.25 ms a file the first time.
const HAND_OVER_SLICE: usize = 32;
/// How long one task of the page hands files over before it lets the page draw and answer
/// input (long tasks start at 50 ms).
const HAND_OVER_TASK_MS: f64 = 20.0;

impl PageState {
    /// Asks the worker to run the Lab on its chosen data with the settings in its controls; a run
    /// on a folder the worker does not have all of yet waits for the rest.
    pub fn start_lab(self) {
        self.run_lab(false);
    }

    /// Asks the worker to continue the last run, which stopped or lost its worker, from its
    /// last ERM epoch (the same data and settings).
    pub fn continue_lab(self) {
        self.run_lab(true);
    }

    fn run_lab(self, continuing: bool) {
        let lab = self.lab;
        let settings = lab.settings.get_untracked();
        let request = untrack(|| {
            let task = lab.task()?;
            let given = lab.given()?;
            settings.check(&task, given.as_deref().and_then(GivenModel::description))?;
            let data = self.lab_data()?;
            let waits = matches!(data, LabData::Folder { .. }) && !lab.folder_handed();
            let erm = match (given, continuing) {
                (Some(given), _) => LabErm::Given(given.lab_file()),
                (None, false) => LabErm::Train,
                (None, true) => {
                    let checkpoint = lab
                        .checkpoint_for(&data, &settings)
                        .ok_or("the run to continue is gone: start it again")?;
                    LabErm::Continue(Box::new(LabCheckpoint::clone(&checkpoint)))
                }
            };
            Ok::<_, String>((data, erm, waits))
        });
        let (data, erm, waits) = match request {
            Ok(request) => request,
            Err(message) => return lab.failed(message),
        };
        let continues = match &erm {
            LabErm::Continue(checkpoint) => Some(checkpoint.as_ref()),
            _ => None,
        };
        let run = lab.begin_run(&data, &settings, continues);
        let start = Request::StartLab {
            run,
            data,
            erm,
            settings,
        };
        let sent = match self.stopped.get_value() {
            Some(why) => Err(why),
            None if waits => {
                lab.wait_for_folder(run, start);
                Ok(())
            }
            None => self.send(start),
        };
        if let Err(message) = sent {
            lab.failed(message);
        }
    }

    /// What the Lab's chosen data is, as a run asks the worker for it.
    pub fn lab_data(self) -> Result<LabData, String> {
        let lab = self.lab;
        Ok(match lab.data_choice.get() {
            DataChoice::SpuriousMnist => {
                LabData::SpuriousMnist(LabDataUrls::in_folder(LAB_DATA, assets::absolute_url)?)
            }
            DataChoice::Folder => LabData::Folder {
                folder: lab.folder_number(),
                files: lab.folder.get().map_or(0, |folder| folder.file_count()),
            },
        })
    }

    /// ERM epochs of the last run that a run with the data and settings chosen now can
    /// continue from, where that run stopped or lost its worker.
    pub fn continuable_epochs(self) -> Option<usize> {
        self.lab_data()
            .ok()
            .and_then(|data| self.lab.continuable(&data))
    }

    /// Takes a folder the user chose or dropped as the Lab's data, and hands it to the worker.
    pub fn give_lab_folder(self, folder: ChosenFolder) {
        self.lab.take_folder(folder);
        self.hand_folder_over();
    }

    /// Hands the Lab's folder to the worker from its first file, in short tasks of the page's
    /// thread so that a folder of thousands never freezes the page, while the user sets the run
    /// up; a run started meanwhile waits, and says how far the hand-over is. A newer folder or a
    /// new worker ends it: a new worker is handed the folder once it listens.
    pub(super) fn hand_folder_over(self) {
        let lab = self.lab;
        // (`handed` is 0 here: a new folder and a new worker each set it so.)
        // A folder that cannot be trained on is never read.
        let Some(folder) = lab.folder.get_untracked().filter(|f| f.layout.is_ok()) else {
            return;
        };
        let number = lab.folder_number();
        let worker = self.workers_started.get_value();
        let current = move || {
            lab.folder_number() == number
                && self.workers_started.get_value() == worker
                && self.worker_listens()
        };
        if !current() {
            return;
        }
        leptos::task::spawn_local(async move {
            let of = folder.file_count();
            let mut files = folder.lab_files().into_iter().peekable();
            let mut done = 0;
            while files.peek().is_some() {
                // A task of its own, the first one too (not the chooser's).
                TimeoutFuture::new(0).await;
                if !current() {
                    return;
                }
                let began = js_sys::Date::now();
                while files.peek().is_some() && js_sys::Date::now() - began < HAND_OVER_TASK_MS {
                    let files: Vec<LabFile> = files.by_ref().take(HAND_OVER_SLICE).collect();
                    done += files.len();
                    if self
                        .send(Request::LabFiles {
                            folder: number,
                            files,
                        })
                        .is_err()
                    {
                        // The page stopped its worker, and said so.
                        return;
                    }
                }
                lab.handed.set(done);
                if let Some(run) = lab.waiting_run() {
                    let progress = LabEvent::Progress {
                        step: LabStep::Handing,
                        done: done as u64,
                        of: of as u64,
                        batch_loss: None,
                        running_accuracy: None,
                    };
                    lab.receive(run, progress);
                }
            }
            if let Some(start) = lab.take_waiting()
                && let Err(message) = self.send(start)
            {
                lab.failed(message);
            }
        });
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

    /// Asks the worker to stop the Lab's run after its current batch (a run waiting for its
    /// folder stops at once).
    pub fn stop_lab(self) {
        if let Some(run) = self.lab.stopping()
            && let Err(message) = self.send(Request::StopLab { run })
        {
            self.lab.failed(message);
        }
    }
}
