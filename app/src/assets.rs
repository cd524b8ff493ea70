//! Fetching static assets (model bundles in the worker, example images in the page) with
//! download progress. The browser's HTTP cache keeps them, so a second visit loads instantly,
//! and the versions the page's build stamps on their URLs make it fetch a file again once a
//! redeploy changed it (scripts/stamp_assets.mjs).

use std::collections::HashMap;

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStreamDefaultReader, Response};

/// Downloads `url` completely; `progress(received, total)` is called as bytes arrive (`total` is
/// known when the server sends a Content-Length).
pub async fn fetch_bytes(
    url: &str,
    progress: impl Fn(u64, Option<u64>),
) -> Result<Vec<u8>, String> {
    let response: Response = JsFuture::from(global_fetch(url))
        .await
        .map_err(|e| {
            format!(
                "{url} could not be fetched ({}): check the connection and reload",
                describe(&e)
            )
        })?
        .unchecked_into();
    if !response.ok() {
        return Err(format!(
            "{url} is missing on the server (HTTP {}): the page was deployed without its model files",
            response.status()
        ));
    }
    let total = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|length| length.parse::<u64>().ok());
    let body = response
        .body()
        .ok_or_else(|| format!("{url} has no body"))?;
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut bytes = Vec::with_capacity(total.unwrap_or(0) as usize);
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(|e| {
            format!(
                "the download of {url} broke off ({}): reload to retry",
                describe(&e)
            )
        })?;
        if Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            == Some(true)
        {
            break;
        }
        let value = Reflect::get(&chunk, &"value".into()).map_err(|e| describe(&e))?;
        bytes.extend(Uint8Array::new(&value).to_vec());
        progress(bytes.len() as u64, total);
    }
    Ok(bytes)
}

/// Downloads the page's file `path` as a `Blob` (example images go through the same decoder as
/// user files).
pub async fn fetch_blob(path: &str) -> Result<web_sys::Blob, String> {
    let bytes = fetch_bytes(&versioned(path), |_, _| ()).await?;
    let parts = js_sys::Array::of1(&Uint8Array::from(bytes.as_slice()));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime_of(path));
    web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
        .map_err(|e| describe(&e))
}

/// `fetch(url)` of the page or of the worker, whichever runs this.
fn global_fetch(url: &str) -> js_sys::Promise {
    let global = js_sys::global();
    match global.dyn_ref::<web_sys::Window>() {
        Some(window) => window.fetch_with_str(url),
        None => global
            .unchecked_into::<web_sys::WorkerGlobalScope>()
            .fetch_with_str(url),
    }
}

/// The id of the list of versions the build puts into index.html.
const VERSIONS_ID: &str = "asset-versions";

thread_local! {
    /// index.html's list of versions by the files' paths relative to the page (empty where the
    /// build stamped none), read once.
    static VERSIONS: HashMap<String, String> = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.get_element_by_id(VERSIONS_ID))
        .and_then(|list| list.text_content())
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default();
}

/// The page's file `path` (relative to the page) with the version the build stamped on it, so
/// that the browser's cache serves it only while it is unchanged; `path` itself where unstamped.
pub fn versioned(path: &str) -> String {
    VERSIONS.with(|versions| match versions.get(path) {
        Some(version) => format!("{path}?v={version}"),
        None => path.to_string(),
    })
}

/// The page's file `path`, versioned, as the absolute URL the worker fetches.
pub fn absolute_url(path: &str) -> Result<String, String> {
    let page = web_sys::window()
        .ok_or("no page to resolve addresses against")?
        .location()
        .href()
        .map_err(|e| describe(&e))?;
    web_sys::Url::new_with_base(&versioned(path), &page)
        .map(|url| url.href())
        .map_err(|e| format!("{path} is not a valid address: {}", describe(&e)))
}

fn mime_of(url: &str) -> &'static str {
    match url.rsplit('.').next() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        _ => "",
    }
}

fn describe(error: &JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .unwrap_or_else(|| format!("{error:?}"))
}
