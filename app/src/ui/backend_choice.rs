//! Which backend the page asks the compute worker for. The CPU build is the page's own module
//! and answers first visits; the WebGPU build (Burn's WebGPU backend and cubecl's shader
//! compiler) loads only when the address asks for it (`?backend=webgpu`), which the backend badge
//! offers where the browser has an adapter.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::protocol::BackendKind;

/// What the WebGPU build adds to a visit, gzipped, in MB, as the backend badge tells the user.
/// `node bench/download_size/measure.mjs` (run by the tests) fails when the build's real size
/// has moved away from it.
pub const WEBGPU_BUILD_MB: f64 = 4.3;

/// The address's query parameter that names the backend.
const PARAMETER: &str = "backend";

/// The backend the address asks for (`?backend=webgpu` or `?backend=cpu`); the CPU otherwise.
pub fn requested() -> BackendKind {
    current_url()
        .and_then(|url| url.search_params().get(PARAMETER))
        .and_then(|id| BackendKind::from_id(&id))
        .unwrap_or(BackendKind::Cpu)
}

/// This page's address with the backend set to `kind` (the fragment, so the task, is kept).
pub fn address_for(kind: BackendKind) -> Option<String> {
    let url = current_url()?;
    url.search_params().set(PARAMETER, kind.id());
    Some(url.href())
}

fn current_url() -> Option<web_sys::Url> {
    web_sys::Url::new(&location().href().ok()?).ok()
}

/// Whether the browser offers this page a WebGPU adapter (`navigator.gpu.requestAdapter()`).
pub async fn webgpu_offered() -> bool {
    let Ok(gpu) = js_sys::Reflect::get(&window().navigator(), &"gpu".into()) else {
        return false;
    };
    let request = js_sys::Reflect::get(&gpu, &"requestAdapter".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    let Some(request) = request else {
        return false;
    };
    let Ok(promise) = request.call0(&gpu) else {
        return false;
    };
    match JsFuture::from(js_sys::Promise::resolve(&promise)).await {
        Ok(adapter) => !adapter.is_null() && !adapter.is_undefined(),
        Err(_) => false,
    }
}
