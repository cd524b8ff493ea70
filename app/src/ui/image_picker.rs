//! The ways to give images: the file picker (several at once), drag and drop, bundled examples.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;

use super::state::PageState;
use crate::assets;

#[component]
pub fn ImagePicker() -> impl IntoView {
    let state = expect_context::<PageState>();
    let dragging = RwSignal::new(false);
    let example_error = RwSignal::new(None::<String>);

    let on_files = move |files: Option<web_sys::FileList>| {
        let Some(files) = files else { return };
        let blobs = (0..files.length())
            .filter_map(|i| files.get(i))
            .map(|file| (file.name(), file.unchecked_into::<web_sys::Blob>()))
            .collect();
        state.add_images(blobs);
    };

    view! {
        <div class="picker" class:dragging=move || dragging.get()
            on:dragover=move |ev: web_sys::DragEvent| { ev.prevent_default(); dragging.set(true); }
            on:dragleave=move |_| dragging.set(false)
            on:drop=move |ev: web_sys::DragEvent| {
                ev.prevent_default();
                dragging.set(false);
                on_files(ev.data_transfer().and_then(|d| d.files()));
            }>
            <label for="file-input">"Drop images here, or choose files: "</label>
            <input id="file-input" type="file" accept="image/*" multiple
                disabled=move || !state.models_ready()
                on:change=move |ev| {
                    let input: web_sys::HtmlInputElement = event_target(&ev);
                    on_files(input.files());
                    input.set_value("");
                } />
            <div class="examples" role="group" aria-label="Example images">
                "Or try an example: "
                {move || state.current_task().examples.iter().map(|example| {
                    let example = *example;
                    view! {
                        <button type="button" class="example" disabled=move || !state.models_ready()
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
            {move || example_error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        </div>
    }
}
