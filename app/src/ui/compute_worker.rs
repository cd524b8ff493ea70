//! The page's handle on the compute worker (`crate::worker`): starts it on this same module and
//! carries typed requests to it and typed responses back.

use std::rc::Rc;

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, MessageEvent, Worker, WorkerOptions, WorkerType};

use crate::assets;
use crate::protocol::{self, BackendKind, Request, Response};

#[wasm_bindgen]
extern "C" {
    /// The URL of this module's JavaScript glue (`import.meta.url` inside it): the worker
    /// imports the same glue.
    #[wasm_bindgen(thread_local_v2, js_namespace = ["import", "meta"], js_name = url)]
    static GLUE_URL: String;
}

/// The worker script Trunk copies next to the page (app/worker.js).
const WORKER_SCRIPT: &str = "worker.js";
/// The WebGPU build's glue and module (webgpu.html; scripts/lib.sh builds it), which the worker
/// script runs instead of this module where the page asks for WebGPU.
const WEBGPU_BUILD: [(&str, &str); 2] = [
    ("webgpuGlue", "webgpu/app.js"),
    ("webgpuModule", "webgpu/app_bg.wasm"),
];
/// The compute worker's name, which tells it from the threads of its pool (`main`).
pub const NAME: &str = "masktune-compute";
/// The global in which app/loader.js says why the threaded build could not start on a
/// cross-origin isolated page; the worker script (app/worker.js) sets it in the worker too.
pub const THREADS_FAILED: &str = "masktuneThreadsFailed";

pub struct ComputeWorker {
    worker: Worker,
}

impl ComputeWorker {
    /// Starts the worker on the build of `backend` (app/worker.js picks it); `on_response`
    /// receives everything it says, its failures included.
    pub fn start(
        backend: BackendKind,
        on_response: impl Fn(Response) + 'static,
    ) -> Result<Self, String> {
        let failed = |error: JsValue| format!("the compute worker could not start: {error:?}");
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        options.set_name(NAME);
        let worker = Worker::new_with_options(&assets::versioned(WORKER_SCRIPT), &options)
            .map_err(failed)?;

        let on_response = Rc::new(on_response);
        let on_message = {
            let on_response = on_response.clone();
            Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
                on_response(protocol::decode(event.data()).unwrap_or_else(|error| {
                    Response::WorkerFailed(format!("the page could not read the worker: {error}"))
                }))
            })
        };
        let on_error = Closure::<dyn Fn(ErrorEvent)>::new(move |event: ErrorEvent| {
            on_response(Response::WorkerFailed(format!(
                "the compute worker stopped: {}",
                event.message()
            )))
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        // Both live as long as the page: they may be running when the page replaces the worker
        // (a few small closures per worker, and the page starts a few at most).
        on_message.forget();
        on_error.forget();

        // The compiled module itself: the worker instantiates it without fetching or compiling.
        let start = Object::new();
        Reflect::set(&start, &"glue".into(), &GLUE_URL.with(String::clone).into())
            .map_err(failed)?;
        Reflect::set(&start, &"module".into(), &wasm_bindgen::module()).map_err(failed)?;
        Reflect::set(&start, &"backend".into(), &backend.id().into()).map_err(failed)?;
        let threads_failed =
            Reflect::get(&js_sys::global(), &THREADS_FAILED.into()).map_err(failed)?;
        Reflect::set(&start, &"threadsFailed".into(), &threads_failed).map_err(failed)?;
        for (key, path) in WEBGPU_BUILD {
            let url = assets::absolute_url(path)?;
            Reflect::set(&start, &key.into(), &url.into()).map_err(failed)?;
        }
        worker.post_message(&start).map_err(failed)?;
        Ok(Self { worker })
    }

    pub fn send(&self, request: &Request) -> Result<(), String> {
        let encoded = protocol::encode(request).map_err(|error| error.to_string())?;
        self.worker
            .post_message_with_transfer(&encoded.value, &encoded.transfer)
            .map_err(|error| format!("the compute worker could not be reached: {error:?}"))
    }
}

/// A worker the page replaced ends at once.
impl Drop for ComputeWorker {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}
