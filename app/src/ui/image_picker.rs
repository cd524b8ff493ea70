//! The ways to give images: the file picker (several at once), a folder (every image in it and
//! its subfolders), drag and drop, bundled examples.

use leptos::prelude::*;
use wasm_bindgen_futures::spawn_local;

use super::drop_zone::{DropZone, named_blobs};
use super::page_drop::give_files;
use super::state::PageState;
use crate::assets;

#[component]
pub fn ImagePicker() -> impl IntoView {
    let state = expect_context::<PageState>();
    let example_error = RwSignal::new(None::<String>);
    let folder_note = RwSignal::new(None::<String>);
    let on_files = move |files| give_files(state, named_blobs(files));

    view! {
        <DropZone class="images" on_files>
            <label for="file-input">"Drop images here, or choose files: "</label>
            <input id="file-input" type="file" accept="image/*" multiple
                disabled=move || !state.accepts_images()
                on:change=move |ev| {
                    let input: web_sys::HtmlInputElement = event_target(&ev);
                    on_files(input.files());
                    input.set_value("");
                } />
            <label for="folder-input">" or a folder: "</label>
            <input id="folder-input" type="file" prop:webkitdirectory=true multiple
                disabled=move || !state.accepts_images()
                on:change=move |ev| {
                    let input: web_sys::HtmlInputElement = event_target(&ev);
                    let (images, left_out) = folder_images(input.files());
                    folder_note.set(left_out_note(&left_out));
                    state.add_images(images);
                    input.set_value("");
                } />
            {move || folder_note.get().map(|note| view! { <p id="folder-note" class="fine-print">{note}</p> })}
            <Show when=move || !state.current_task().examples.is_empty()>
                <div class="examples" role="group" aria-label="Example images">
                    "Or try an example: "
                    {move || state.current_task().examples.iter().map(|example| {
                        let example = *example;
                        view! {
                            <button type="button" class="example" disabled=move || !state.accepts_images()
                                on:click=move |_| spawn_local(async move {
                                    match assets::fetch_blob(example.url).await {
                                        Ok(blob) => { example_error.set(None); state.add_images(vec![(example.label.to_string(), blob)]); }
                                        Err(message) => example_error.set(Some(message)),
                                    }
                                })>
                                <img src=example.url alt="" width="32" height="32" />
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

/// The images of a chosen folder, named by their path in it (so that equal names in two
/// subfolders stay apart), and the paths of the other files, which are left out: a folder of
/// photos often holds notes or thumbnails' databases too.
fn folder_images(files: Option<web_sys::FileList>) -> (Vec<(String, web_sys::Blob)>, Vec<String>) {
    let (mut images, mut left_out) = (Vec::new(), Vec::new());
    let Some(files) = files else {
        return (images, left_out);
    };
    for file in (0..files.length()).filter_map(|i| files.get(i)) {
        // The file's path in the chosen folder (web-sys binds no getter for it).
        let path = js_sys::Reflect::get(&file, &"webkitRelativePath".into())
            .ok()
            .and_then(|path| path.as_string())
            .filter(|path| !path.is_empty())
            .unwrap_or_else(|| file.name());
        if is_image(&file.type_(), &path) {
            images.push((path, file.into()));
        } else {
            left_out.push(path);
        }
    }
    left_out.sort();
    (images, left_out)
}

/// By its type, or by its extension where the system gave no type.
fn is_image(mime: &str, path: &str) -> bool {
    const EXTENSIONS: [&str; 7] = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "avif"];
    let extension = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    mime.starts_with("image/")
        || (mime.is_empty() && extension.is_some_and(|e| EXTENSIONS.contains(&e.as_str())))
}

/// What the page says of the files a folder held that are not images.
fn left_out_note(left_out: &[String]) -> Option<String> {
    const NAMED: usize = 5;
    let (named, more) = (
        left_out.iter().take(NAMED),
        left_out.len().saturating_sub(NAMED),
    );
    let mut names = named.cloned().collect::<Vec<_>>().join(", ");
    if more > 0 {
        names.push_str(&format!(" and {more} more"));
    }
    (!left_out.is_empty()).then(|| {
        let files = if left_out.len() == 1 { "file" } else { "files" };
        format!(
            "Left out {} {files} of the folder that are not images: {names}.",
            left_out.len()
        )
    })
}
