//! The images the user gives: their cards, sending them to the worker a slice at a time,
//! their answers and the pictures drawn once a card shows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use leptos::prelude::*;
use masktune::labelled::class_of_path;
use send_wrapper::SendWrapper;

use super::models::{NO_MODELS, models_failed};
use super::{Entry, ModelState, Outcome, PageState, Shown};
use crate::protocol::{AnalysedImage, ImageFile, Pictures, Request, ToDraw};
use crate::ui::card_filter::{CardFacts, CardFilter};

/// How many images go to the worker per message, one message per task: sending costs about 1.6
/// µs per image on the page's thread, so a folder of 17,000 sent at once held it for 28 ms.
const SEND_SLICE: usize = 1024;

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

fn ids_of(images: &[ImageFile]) -> impl Iterator<Item = u64> + '_ {
    images.iter().map(|image| image.id)
}

impl PageState {
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
    pub(super) fn analyse(self, images: Vec<ImageFile>) {
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

    pub(super) fn take_held(&self) -> Vec<ImageFile> {
        self.held
            .try_update_value(std::mem::take)
            .unwrap_or_default()
    }

    /// Ends the images `ids`, which could not be analysed, with `message` as their error.
    pub(super) fn fail_all(&self, ids: impl IntoIterator<Item = u64>, message: &str) {
        for id in ids {
            self.finish(id, |_| Outcome::NotAnalysed(message.to_string()));
        }
    }

    /// Gives again the image of card `id`, which could not be analysed, as a new card at the
    /// top (the page keeps its file): once the models it waited for are there, or after a
    /// worker that stopped before it answered.
    pub fn try_again(self, id: u64) {
        let mut given = None;
        self.entries.update(|entries| {
            let found = entries
                .iter()
                .position(|e| e.id == id && matches!(e.outcome, Outcome::NotAnalysed(_)));
            given = found.map(|index| entries.remove(index));
        });
        if let Some(entry) = given {
            self.uncount(1);
            self.add_images(vec![(entry.name, (*entry.file).clone())]);
        }
    }

    /// Ends the images held for models with `message` as their error.
    pub(super) fn fail_held(&self, message: &str) {
        self.fail_all(ids_of(&self.take_held()), message);
    }

    /// The images given that have no answer yet.
    pub(super) fn waiting_ids(&self) -> impl Iterator<Item = u64> {
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
        self.uncount(cleared);
    }

    /// Takes `finished` images that were taken away out of the progress.
    fn uncount(&self, finished: usize) {
        self.progress.update(|(done, total)| {
            *done -= finished.min(*done);
            *total -= finished.min(*total);
        });
    }

    /// Gives the image `id` its outcome, made from its name.
    pub(super) fn finish(&self, id: u64, outcome: impl FnOnce(&str) -> Outcome) {
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
    pub(super) fn ask_again_for_pictures(&self) {
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
    pub(super) fn draw(&self, id: u64, pictures: Result<Pictures, String>) {
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

    pub(super) fn show(&self, image: AnalysedImage, name: &str) -> Result<Shown, String> {
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
}
