//! The ways to give images: the file picker (several at once), a folder (every image in it and
//! its subfolders, `folders`), drag and drop (files or folders), bundled examples.

use leptos::prelude::*;
use wasm_bindgen_futures::spawn_local;

use super::drop_zone::DropZone;
use super::file_lists;
use super::folders;
use super::page_drop::{give_drop, give_files};
use super::state::PageState;
use crate::assets;

#[component]
pub fn ImagePicker() -> impl IntoView {
    let state = expect_context::<PageState>();
    let example_error = RwSignal::new(None::<String>);

    view! {
        <DropZone class="images" on_drop=move |transfer: web_sys::DataTransfer| give_drop(state, &transfer)>
            <label for="file-input">"Drop images here, or choose files: "</label>
            <input id="file-input" type="file" accept="image/*" multiple
                disabled=move || !state.accepts_images()
                on:change=move |ev| {
                    let input: web_sys::HtmlInputElement = event_target(&ev);
                    let files = file_lists::all(input.files());
                    input.set_value("");
                    spawn_local(async move { give_files(state, file_lists::named_blobs(&files).await) });
                } />
            <label for="folder-input">" or a folder: "</label>
            <input id="folder-input" type="file" prop:webkitdirectory=true multiple
                disabled=move || !state.accepts_images()
                on:change=move |ev| {
                    let input: web_sys::HtmlInputElement = event_target(&ev);
                    let files = file_lists::all(input.files());
                    input.set_value("");
                    spawn_local(async move {
                        let (images, left_out) = folders::chosen(&files).await;
                        state.folder_note.set(folders::left_out_note(&left_out));
                        state.add_images(images);
                    });
                } />
            {move || state.folder_note.get().map(|note| view! { <p id="folder-note" class="fine-print">{note}</p> })}
            {move || class_list(&state.class_names()).map(|names| view! {
                <p id="labels-hint" class="fine-print">
                    "Images in folders named after the classes (" {names} ") are also counted: \
                     accuracy per class, as " <code>"trainer-native predict --labelled"</code> " counts it."
                </p>
            })}
            <Show when=move || !state.examples().is_empty()>
                <div class="examples" role="group" aria-label="Example images">
                    "Or try an example: "
                    {move || state.examples().iter().map(|example| {
                        let example = *example;
                        view! {
                            <button type="button" class="example" disabled=move || !state.accepts_images()
                                on:click=move |_| spawn_local(async move {
                                    match assets::fetch_blob(example.url).await {
                                        Ok(blob) => { example_error.set(None); state.add_images(vec![(example.label.to_string(), blob)]); }
                                        Err(message) => example_error.set(Some(message)),
                                    }
                                })>
                                <img src=assets::versioned(example.url) alt="" width="32" height="32" />
                                {example.label}
                            </button>
                        }
                    }).collect_view()}
                </div>
            </Show>
            {move || example_error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        </DropZone>
    }
}

/// The classes a folder's subfolders may be named after for the page to count accuracy
/// (`labelled_accuracy`), the first ten of them; none while no models are loaded.
fn class_list(class_names: &[String]) -> Option<String> {
    const SHOWN: usize = 10;
    let mut names = class_names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if class_names.len() > SHOWN {
        names.push_str(", …");
    }
    (!class_names.is_empty()).then_some(names)
}
