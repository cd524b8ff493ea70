//! The CPU backend's threads: with the feature `threads` (a build with wasm atomics), rayon's
//! pool runs on web workers (wasm-bindgen-rayon) that share the compute worker's memory. Shared
//! memory needs a cross-origin isolated page (COOP/COEP headers); elsewhere the CPU backend runs
//! on the compute worker alone.

/// How many threads the CPU backend runs on, and why only one when that is so.
#[derive(Clone, Debug)]
pub struct ThreadPool {
    pub threads: usize,
    pub single_because: Option<String>,
}

/// Starts one rayon thread per logical core where the build and the page allow it.
pub async fn start() -> ThreadPool {
    match start_workers().await {
        Ok(threads) => ThreadPool {
            threads,
            single_because: None,
        },
        Err(reason) => ThreadPool {
            threads: 1,
            single_because: Some(reason),
        },
    }
}

const NOT_ISOLATED: &str = "the page is not cross-origin isolated (no COOP/COEP headers)";

/// Whether the worker may share memory with others (`crossOriginIsolated`).
fn cross_origin_isolated() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"crossOriginIsolated".into())
        .is_ok_and(|value| value.is_truthy())
}

#[cfg(feature = "threads")]
async fn start_workers() -> Result<usize, String> {
    use wasm_bindgen::JsCast;
    if !cross_origin_isolated() {
        return Err(NOT_ISOLATED.into());
    }
    let cores = js_sys::global()
        .unchecked_into::<web_sys::WorkerGlobalScope>()
        .navigator()
        .hardware_concurrency() as usize;
    let threads = cores.max(1);
    wasm_bindgen_futures::JsFuture::from(wasm_bindgen_rayon::init_thread_pool(threads))
        .await
        .map_err(|error| format!("the thread pool did not start: {error:?}"))?;
    Ok(threads)
}

/// The page's own build: app/loader.js starts the threaded build instead where it can.
#[cfg(not(feature = "threads"))]
async fn start_workers() -> Result<usize, String> {
    use crate::ui::compute_worker::THREADS_FAILED;
    if !cross_origin_isolated() {
        return Err(NOT_ISOLATED.into());
    }
    let failed = js_sys::Reflect::get(&js_sys::global(), &THREADS_FAILED.into());
    Err(failed
        .ok()
        .and_then(|reason| reason.as_string())
        .unwrap_or_else(|| "the threaded build is not next to the page (threads/)".into()))
}

/// Runs `work`'s future, CPU work whose reads are ready at once (the CPU backend's), on one of
/// rayon's threads; `None` if it waited. From the compute worker, which is not one of them, every
/// op that splits over the pool hands its job across and blocks until a pool thread has run it;
/// on a pool thread a split is cheap work-stealing. One image through the MNIST network took
/// 0.38 ms on two threads that way against 0.25 ms on one (docs/BENCHMARKS.md).
#[cfg(feature = "threads")]
pub fn on_pool<F: Future>(work: impl FnOnce() -> F + Send) -> Option<F::Output>
where
    F::Output: Send,
{
    use std::task::{Context, Poll, Waker};
    rayon::scope(|_| {
        let future = std::pin::pin!(work());
        match future.poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        }
    })
}
