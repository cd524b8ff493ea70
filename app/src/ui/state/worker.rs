//! The page's side of its compute worker: starting it, sending it requests (kept until it
//! listens), applying its answers, and replacing it when it stops.

use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

use leptos::prelude::*;

use super::{BackendState, ModelState, Outcome, PageState};
use crate::protocol::{ImageFile, Request, Response};
use crate::ui::backend_choice;
use crate::ui::compute_worker::ComputeWorker;

/// How many times the page starts a new compute worker after one that had started stopped: a
/// worker that keeps stopping (say, on the same model) is not started for ever.
const RESTARTS: u32 = 3;

impl PageState {
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
        // A new worker has none of the Lab's folder: a run started now waits for it.
        self.lab.handed.set(0);
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

    /// Sends `request` to the compute worker, or keeps it until the worker listens (a message
    /// sent before would be lost).
    pub(super) fn send(&self, request: Request) -> Result<(), String> {
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

    /// Whether the worker listens: what is sent now reaches it.
    pub(super) fn worker_listens(&self) -> bool {
        self.stopped.get_value().is_none()
            && matches!(self.backend.get_untracked(), BackendState::Ready(_))
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
                // Never through `unsent`, which goes in one task: a folder's thousands of files
                // would hold the page's thread for seconds.
                self.hand_folder_over();
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
                self.models_loaded(*meta, summary, *warm_up, warm_up_pictures)
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
             worker has started: try again"
        );
        self.fail_all(lost, &lost_note);
        if self.lab.running() {
            let next = match self.lab.checkpoint_epochs() {
                Some(epochs) => {
                    format!("continue the run after its epoch {epochs}, or start it again")
                }
                None => "start the run again".into(),
            };
            self.lab
                .failed(format!("{message}; a new worker has started: {next}"));
        }
        let generation = self.generation.get_value();
        let reloaded = self.reloaded.get_value() == Some(generation);
        match (self.models.get_untracked(), self.models_source.get_value()) {
            (ModelState::Loading { .. }, Some(_)) if reloaded => self.fail_models(format!(
                "the compute worker stopped twice while it loaded them ({message}); they may be \
                 what stops it"
            )),
            (state @ (ModelState::Ready { .. } | ModelState::Loading { .. }), Some(source)) => {
                let loading = matches!(state, ModelState::Loading { .. });
                self.reloaded.set_value(loading.then_some(generation));
                self.request_models(Ok(source.request(generation)));
            }
            // No models, or models that did not load: nothing to load again.
            _ => {}
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
}
