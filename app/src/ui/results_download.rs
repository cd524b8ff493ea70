//! "Download the results": every analysed image's answer at the selected coverage, as JSON in the
//! format `trainer-native predict --out` writes (`masktune::image_report`), so that a person can
//! keep what the page found, or compare it with the trainer's answers.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::state::PageState;

/// The name the browser saves the file under.
const FILE_NAME: &str = "masktune-results.json";

#[component]
pub fn ResultsDownload() -> impl IntoView {
    let state = expect_context::<PageState>();
    let error = RwSignal::new(None::<String>);
    view! {
        <Show when=move || state.has_results() && state.threshold().is_some()>
            <p class="results-download">
                <button id="download-results" type="button"
                    on:click=move |_| error.set(save(state).err())>
                    "Download the results (JSON)"
                </button>
                " "
                <span class="fine-print">
                    "Every image's answer at this coverage, in the format of "
                    <code>"trainer-native predict --out"</code> "."
                </span>
            </p>
        </Show>
        {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
    }
}

/// Hands the results to the browser as a file download.
fn save(state: PageState) -> Result<(), String> {
    let json = state.results_json()?;
    let failed = |error| format!("the results could not be offered for download: {error:?}");
    let parts = js_sys::Array::of1(&json.into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/json");
    let blob =
        web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).map_err(failed)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(failed)?;
    let link: web_sys::HtmlAnchorElement = document()
        .create_element("a")
        .map_err(failed)?
        .unchecked_into();
    link.set_href(&url);
    link.set_download(FILE_NAME);
    link.click();
    // Some browsers read the file after the click returns: free it a minute later.
    gloo_timers::callback::Timeout::new(60_000, move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    })
    .forget();
    Ok(())
}
