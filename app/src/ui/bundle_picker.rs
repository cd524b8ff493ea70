//! The user's own model pair: the two bundle files of one run, picked or dropped, read in the
//! compute worker (they never leave the page).

use leptos::prelude::*;
use wasm_bindgen_futures::spawn_local;

use super::drop_zone::DropZone;
use super::file_lists;
use super::state::PageState;

#[component]
pub fn BundlePicker() -> impl IntoView {
    let state = expect_context::<PageState>();
    let on_files = move |files| {
        let files = file_lists::all(files);
        spawn_local(async move { state.load_bundles(file_lists::named_blobs(&files).await) });
    };
    view! {
        <DropZone class="bundles" on_drop=move |transfer: web_sys::DataTransfer| on_files(transfer.files())>
            <label for="bundle-input">
                "Drop the two bundles of one run here (the ERM and the MaskTune bundle, e.g. "
                <code>"runs/<name>/bundles/*.bundle"</code> "), or choose them: "
            </label>
            <input id="bundle-input" type="file" accept=".mtb,.bundle" multiple
                on:change=move |ev| {
                    let input: web_sys::HtmlInputElement = event_target(&ev);
                    on_files(input.files());
                    input.set_value("");
                } />
        </DropZone>
    }
}
