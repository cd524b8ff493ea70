//! The user's own model pair: the two bundle files of one run, picked or dropped, read in the
//! compute worker (they never leave the page).

use leptos::prelude::*;

use super::drop_zone::{DropZone, named_blobs};
use super::state::PageState;

#[component]
pub fn BundlePicker() -> impl IntoView {
    let state = expect_context::<PageState>();
    let on_files = move |files| state.load_bundles(named_blobs(files));
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
