//! What the Lab asks of the worker: a run, a stop, the description of a model file given to
//! it; and showing its last pair in the analysis view.

use leptos::prelude::*;

use super::{PageState, View};
use crate::assets;
use crate::protocol::Request;
use crate::protocol::lab::{LabData, LabDataUrls, LabErm};
use crate::tasks;
use crate::ui::lab::{DataChoice, GivenModel};

/// The folder of the Lab's data, relative to the page (scripts/make_lab_data.py writes it).
const LAB_DATA: &str = "assets/lab/mnist/";

impl PageState {
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
