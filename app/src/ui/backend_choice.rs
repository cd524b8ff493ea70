//! Which backend the page asks the compute worker for. The CPU build is the page's own module
//! and answers first visits; the WebGPU build (Burn's WebGPU backend and cubecl's shader
//! compiler) loads only when the address asks for it (`?backend=webgpu`), which the backend badge
//! offers where the browser has an adapter.

use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::protocol::BackendKind;

/// What the WebGPU build adds to a visit, gzipped, in MB, as the backend badge tells the user.
/// `node bench/download_size/measure.mjs` (run by the tests) fails when the build's real size
/// has moved away from it.
pub const WEBGPU_BUILD_MB: f64 = 4.6;

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

/// The kind of WebGPU adapter the browser offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adapter {
    /// A GPU (or a browser that does not say).
    Hardware,
    /// The browser's software renderer (`isFallbackAdapter`, e.g. SwiftShader): the CPU build is
    /// over ten times faster per image than WebGPU there (docs/BENCHMARKS.md).
    Software,
}

impl Adapter {
    pub fn id(self) -> &'static str {
        match self {
            Adapter::Hardware => "hardware",
            Adapter::Software => "software",
        }
    }
}

/// The WebGPU adapter the browser offers this page (`navigator.gpu.requestAdapter()`), if any.
pub async fn webgpu_offered() -> Option<Adapter> {
    let gpu = js_sys::Reflect::get(&window().navigator(), &"gpu".into()).ok()?;
    let request = js_sys::Reflect::get(&gpu, &"requestAdapter".into())
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?;
    let promise = request.call0(&gpu).ok()?;
    let adapter = JsFuture::from(js_sys::Promise::resolve(&promise))
        .await
        .ok()
        .filter(|adapter| !adapter.is_null() && !adapter.is_undefined())?;
    // `adapter.info.isFallbackAdapter` (Chromium 136 on); before it, `adapter.isFallbackAdapter`.
    let fallback = |holder: &JsValue| {
        js_sys::Reflect::get(holder, &"isFallbackAdapter".into())
            .ok()
            .and_then(|flag| flag.as_bool())
    };
    let info = js_sys::Reflect::get(&adapter, &"info".into()).unwrap_or(JsValue::UNDEFINED);
    let software = fallback(&info).or_else(|| fallback(&adapter)) == Some(true);
    Some(if software {
        Adapter::Software
    } else {
        Adapter::Hardware
    })
}
