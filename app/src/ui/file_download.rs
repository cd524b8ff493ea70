//! Files the page offers for download, made in memory: a Blob, handed to the browser through an
//! object URL.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::object_url::ObjectUrl;

/// A button that saves the JSON `contents` makes as `file_name`, the `children` (what the file
/// holds) beside it, and the message if the file could not be made.
#[component]
pub fn JsonDownload(
    id: &'static str,
    label: &'static str,
    file_name: &'static str,
    contents: impl Fn() -> Result<String, String> + 'static,
    children: Children,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let save_file = move |_| {
        let saved =
            contents().and_then(|json| save(file_name, json.as_bytes(), "application/json"));
        error.set(saved.err());
    };
    view! {
        <p>
            <button id=id type="button" on:click=save_file>{label}</button>
            " "
            <span class="fine-print">{children()}</span>
        </p>
        {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
    }
}

/// Starts the download of a file of `bytes` named `file_name`, as a click on a link would.
fn save(file_name: &str, bytes: &[u8], mime: &str) -> Result<(), String> {
    let failed = |error| format!("{file_name} could not be offered for download: {error:?}");
    let url = ObjectUrl::of_bytes(bytes, mime).map_err(failed)?;
    let link: web_sys::HtmlAnchorElement = document()
        .create_element("a")
        .map_err(failed)?
        .unchecked_into();
    link.set_href(url.as_str());
    link.set_download(file_name);
    link.click();
    // Some browsers read the file after the click returns: free it a minute later.
    gloo_timers::callback::Timeout::new(60_000, move || drop(url)).forget();
    Ok(())
}
