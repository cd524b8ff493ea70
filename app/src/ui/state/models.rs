//! The analysis view's models: where they come from (a task's shipped bundles, the user's own
//! files or the Lab's last pair), asking the worker for them, and what their arrival changes.

use std::collections::VecDeque;
use std::sync::Arc;

use leptos::prelude::*;
use masktune::bundle::{BundleMetadata, closest_threshold};

use super::{ModelState, Outcome, PageState, sorted_by_coverage};
use crate::assets;
use crate::protocol::{AnalysedImage, BundleFile, Pictures, Request};
use crate::tasks::{self, Models, TASKS};
use crate::ui::card_filter::CardFilter;
use crate::ui::result_card::{WARM_UP_NAME, rehearse};

/// Where the analysis view's models come from.
#[derive(Clone)]
pub(super) enum ModelSource {
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
    pub(super) fn request(&self, generation: u64) -> Request {
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

/// What an image given before the user chose their own models says.
pub(super) const NO_MODELS: &str = "not analysed: there are no models yet. Choose the two \
                                    bundle files of your run above, then try again.";

/// What the analysis view says when asked for the Lab's pair before a run has made one.
const NO_LAB_PAIR: &str = "no Lab run has finished yet: train a model pair in the Lab first";

/// What an image given for models that failed to load says.
pub(super) fn models_failed(message: &str) -> String {
    format!("not analysed: the models did not load ({message})")
}

impl PageState {
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
                self.forget_models(false);
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
        self.load(source, false);
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
        // The images given before them, which could not be analysed then, can be now.
        self.load(Ok(ModelSource::Files(files)), true);
    }

    /// Asks the worker for the models of `source`, new ones: what was shown for others goes
    /// ([`PageState::forget_models`]).
    fn load(&self, source: Result<ModelSource, String>, keep_not_analysed: bool) {
        let generation = self.forget_models(keep_not_analysed);
        self.models_source.set_value(source.as_ref().ok().cloned());
        self.request_models(source.map(|source| source.request(generation)));
    }

    /// Starts a new generation of models: the old ones and their results are gone; images held
    /// for models stay held, and, if `keep_not_analysed`, so do the images that could not be
    /// analysed, to be tried again.
    fn forget_models(&self, keep_not_analysed: bool) -> u64 {
        let generation = self.generation.get_value() + 1;
        self.generation.set_value(generation);
        // Images not yet sent were for the old models, and their entries go with them.
        self.outbox.set_value(VecDeque::new());
        let held: Vec<u64> = self
            .held
            .with_value(|held| held.iter().map(|i| i.id).collect());
        let mut not_analysed = 0;
        self.entries.update(|entries| {
            entries.retain(|entry| match entry.outcome {
                Outcome::NotAnalysed(_) if keep_not_analysed => {
                    not_analysed += 1;
                    true
                }
                _ => held.contains(&entry.id),
            })
        });
        self.progress.set((not_analysed, held.len() + not_analysed));
        self.card_filter.set(CardFilter::All);
        self.meta.set(None);
        generation
    }

    pub(super) fn request_models(&self, request: Result<Request, String>) {
        self.models.set(ModelState::Loading {
            received: 0,
            total: None,
        });
        if let Err(message) = request.and_then(|request| self.send(request)) {
            self.fail_models(message);
        }
    }

    /// The worker has the models ready, and its warm-up's answer: images held for them go.
    pub(super) fn models_loaded(
        self,
        meta: BundleMetadata,
        summary: String,
        warm_up: AnalysedImage,
        warm_up_pictures: Pictures,
    ) {
        // New models start the slider at 90% coverage, or the closest they offer; the same
        // models loaded again by a restarted worker keep it.
        if self.meta.with_untracked(Option::is_none) {
            let thresholds = sorted_by_coverage(&meta.selective_thresholds);
            self.coverage_index
                .set(closest_threshold(&thresholds, 0.9).map_or(0, |(index, _)| index));
        }
        self.meta.set(Some(Arc::new(meta)));
        if let Ok(shown) = self.show(warm_up, WARM_UP_NAME) {
            rehearse(self, shown, warm_up_pictures);
        }
        self.models.set(ModelState::Ready { summary });
        self.ask_again_for_pictures();
        self.analyse(self.take_held());
    }

    /// The models did not load: images held for them say so.
    pub(super) fn fail_models(&self, message: String) {
        self.fail_held(&models_failed(&message));
        self.models.set(ModelState::Failed(message));
    }
}
