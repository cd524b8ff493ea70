//! What the page hears when the compute worker stops, as `Response::WorkerFailed`. A panic ends
//! it: WebAssembly cannot unwind, so the module traps and the page would only hear
//! "unreachable"; before that, the panic hook says what went wrong (e.g. wgpu's validation error
//! for a buffer larger than the device allows). Running out of memory aborts without a panic:
//! app/worker.js hears the trap and asks [`stop_reason`], which knows the allocation that failed.

use std::panic::PanicHookInfo;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::DedicatedWorkerGlobalScope;

use super::memory;
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
        "the compute worker stopped on an error it cannot recover from ({})",
        what.trim()
    )
}

/// Why the worker stopped on the uncaught error `error` (a trap, for the module): it ran out of
/// memory if an allocation failed, else the error itself.
#[wasm_bindgen(js_name = stopReason)]
pub fn stop_reason(error: &str) -> String {
    match memory::failed_allocation() {
        Some(asked) => out_of_memory(asked as u64, memory::now().allocated_bytes),
        None => format!("the compute worker stopped: {error}"),
    }
}

fn out_of_memory(asked: u64, held: u64) -> String {
    let mb = |bytes: u64| format!("{:.0} MB", bytes as f64 / 1e6);
    format!(
        "the compute worker ran out of memory: it asked for {} more while it held {}, and {}",
        mb(asked),
        mb(held),
        memory::LIMIT_REASON
    )
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::{out_of_memory, stop_reason};

    #[wasm_bindgen_test]
    fn an_error_without_a_failed_allocation_is_named_as_it_is() {
        assert_eq!(
            stop_reason("Uncaught RuntimeError: unreachable"),
            "the compute worker stopped: Uncaught RuntimeError: unreachable"
        );
    }

    #[wasm_bindgen_test]
    fn running_out_of_memory_says_how_much_was_asked_for_and_held() {
        assert_eq!(
            out_of_memory(1_250_000_000, 2_900_000_000),
            "the compute worker ran out of memory: it asked for 1250 MB more while it held \
             2900 MB, and WebAssembly's memory stops at 4 GiB"
        );
    }
}
