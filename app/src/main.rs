//! Entry point of the MaskTune page (built by Trunk from the repository's index.html). The same
//! module runs twice: in the page, where it draws the DOM (`ui`), and in the compute worker that
//! the page starts (`worker`); `protocol` is what they say to each other.

use wasm_bindgen::JsCast;

mod assets;
mod object_url;
mod protocol;
mod tasks;
mod ui;
mod worker;

// Browser-only unit tests run in headless Chromium (see app/webdriver.json), in a dedicated
// worker as the page's compute does: long GPU work there (a training epoch on SwiftShader) never
// blocks the test page's main thread, which the test runner polls.
#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

// The static constructors of the dependencies (cubecl registers its kernels' parts through
// `inventory`). Unless the module calls this itself, the wasm linker takes it for a command run
// once and re-runs every constructor at the start of every exported function: every call from
// JavaScript into the page (event handlers, futures, callbacks) paid for all of them, most of
// the page's time per image on the CPU backend.
unsafe extern "C" {
    fn __wasm_call_ctors();
}

fn main() {
    let global = js_sys::global();
    let compute_worker = match global.dyn_ref::<web_sys::DedicatedWorkerGlobalScope>() {
        Some(scope) if scope.name() == ui::compute_worker::NAME => true,
        // A thread of the compute worker's pool (feature `threads`): it shares the compute
        // worker's memory, whose constructors have run, and only runs rayon's jobs.
        Some(_) => return,
        None => false,
    };
    // SAFETY: the linker's constructor function, called once per memory, before anything else
    // runs.
    unsafe { __wasm_call_ctors() };
    console_error_panic_hook::set_once();
    if compute_worker {
        worker::start();
    } else {
        leptos::mount::mount_to_body(ui::App);
    }
}
