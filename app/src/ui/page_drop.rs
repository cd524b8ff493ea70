//! Files dropped outside the drop zones. A browser opens such a file in place of the page, which
//! would lose every result and any Lab run; the page takes the drop instead. On the analysis view
//! the files are what its zones would take (the two bundles of "Your own models", else images);
//! on the Lab, a model file dropped alone is the ERM model to start from, a dropped folder (or
//! several class folders) the data to train on.

use leptos::ev;
use leptos::prelude::*;
use wasm_bindgen_futures::spawn_local;

use super::folders::{self, Dropped};
use super::lab::{ChosenFolder, is_model_file};
use super::state::{PageState, View};
use crate::tasks::Models;

/// Listens for drops on the whole window for as long as the page lives.
pub fn catch_page_drops(state: PageState) {
    // Cancelling dragover is what lets a drop land on the page at all.
    let _ = window_event_listener(ev::dragover, |event| {
        if carries_files(&event) {
            event.prevent_default();
        }
    });
    let _ = window_event_listener(ev::drop, move |event| {
        // Text dragged into a field is the browser's to drop; a drop zone's drop is the zone's.
        if !carries_files(&event) || event.default_prevented() {
            return;
        }
        event.prevent_default();
        let Some(transfer) = event.data_transfer() else {
            return;
        };
        match state.view.get_untracked() {
            View::Analyse => give_drop(state, &transfer),
            View::Lab if !state.lab.running() => give_lab_drop(state, &transfer),
            View::Lab => {}
        }
    });
}

/// A drop on the Lab: the folders dropped are its data (files dropped alone are taken with
/// their names, which name no class).
fn give_lab_drop(state: PageState, transfer: &web_sys::DataTransfer) {
    let dropped = Dropped::take(transfer);
    // A model file alone is the ERM model to start from; anything else is the data.
    if let Some((name, file)) = dropped.one_file().filter(|(name, _)| is_model_file(name)) {
        state.give_lab_model(name.clone(), file.clone());
        return;
    }
    spawn_local(async move {
        match dropped.read(|_| {}).await {
            Ok((files, left_out)) => state.give_lab_folder(ChosenFolder::new(files, left_out.len())),
            Err(error) => state.lab.failed(format!(
                "the dropped folder could not be read ({error:?}): choose it with the folder button instead"
            )),
        }
    });
}

/// A drop on the analysis view, on its image zone or anywhere else: its files, and the images
/// in the folders dropped (read after the event, as the browser lists a folder on request).
pub fn give_drop(state: PageState, transfer: &web_sys::DataTransfer) {
    let dropped = match Dropped::take(transfer).files_only() {
        Ok(files) => return give_files(state, files),
        Err(with_folders) => with_folders,
    };
    spawn_local(async move {
        let listed = |count: usize| {
            state.folder_note.set(Some(format!(
                "Reading the dropped folder: {count} files so far…"
            )))
        };
        match dropped.read(listed).await {
            Ok((files, left_out)) => {
                state.folder_note.set(folders::left_out_note(&left_out));
                give_files(state, files);
            }
            Err(error) => state.folder_note.set(Some(format!(
                "The dropped folder could not be read ({error:?}): choose it with \"or a folder\" instead."
            ))),
        }
    });
}

/// Files dropped on the analysis view, on its image zone or anywhere else: the two bundles of
/// "Your own models" when that is the task, else images.
pub fn give_files(state: PageState, files: Vec<(String, web_sys::Blob)>) {
    let own_models = state
        .task
        .with_untracked(|task| crate::tasks::find(task).is_some_and(|t| t.models == Models::Own));
    if own_models && !files.is_empty() && files.iter().all(|(name, _)| is_bundle(name)) {
        state.load_bundles(files);
    } else {
        state.add_images(files);
    }
}

fn carries_files(event: &web_sys::DragEvent) -> bool {
    event
        .data_transfer()
        .is_some_and(|transfer| transfer.types().includes(&"Files".into(), 0))
}

/// A bundle file by its name, as the bundle picker's `accept` lists them.
fn is_bundle(name: &str) -> bool {
    name.ends_with(".mtb") || name.ends_with(".bundle")
}
