//! A panic ends the compute worker: WebAssembly cannot unwind, so the module traps and the page
//! would only hear "unreachable". Before that, the page hears what went wrong (e.g. wgpu's
//! validation error for a buffer larger than the device allows) as `Response::WorkerFailed`.

use std::panic::PanicHookInfo;

use wasm_bindgen::JsCast;
use web_sys::DedicatedWorkerGlobalScope;

use crate::protocol::{self, Response};
use crate::ui::compute_worker::NAME;

/// Reports every panic of the compute worker's thread to the page, after logging it as
/// `console_error_panic_hook` does.
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        // The pool's threads (feature `threads`) talk to the compute worker, not to the page.
        let scope = js_sys::global()
            .dyn_into::<DedicatedWorkerGlobalScope>()
            .ok()
            .filter(|scope| scope.name() == NAME);
        if let Some(scope) = scope
            && let Ok(encoded) = protocol::encode(&Response::WorkerFailed(message(info)))
        {
            let _ = scope.post_message(&encoded.value);
        }
    }));
}

/// What the page says: the panic's own message, without the source location.
fn message(info: &PanicHookInfo) -> String {
    let payload = info.payload();
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    format!(
        "the compute worker stopped on an error it cannot recover from ({}): reload the page",
        what.trim()
    )
}
