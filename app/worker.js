// The page's compute worker (app/src/worker). The page sends the URL of its JavaScript glue, its
// already compiled WebAssembly module, the backend the page asks for and the URLs of the WebGPU
// build (webgpu/, webgpu.html; scripts/lib.sh builds it), versioned as the page versions its files
// (scripts/stamp_assets.mjs). The page's module (app/loader.js picked it: the CPU build, or the
// threaded build on a cross-origin isolated page) starts here, sees that it runs in the compute
// worker, and answers the page's requests. Where the page asks for WebGPU, the WebGPU build runs
// here instead, fetched only then.

// The build to run: the WebGPU build, or the page's own module.
async function buildFor(backend, own, webgpu) {
  if (backend !== "webgpu") return own;
  const found = await fetch(webgpu.glue, { method: "HEAD" }).catch(() => null);
  if (!found?.ok) {
    throw new Error("this site has no WebGPU build (webgpu/app.js): open the page without ?backend=webgpu, or rebuild it with scripts/lib.sh's build_page");
  }
  return webgpu;
}

// An uncaught error ends the worker: its WebAssembly trapped (after a panic, which the module has
// reported itself, or when Rust aborts because memory ran out, which it has not). The page hears
// why in its protocol (Response::WorkerFailed); the module says whether an allocation failed.
function reportStops(bindings) {
  self.addEventListener("error", (event) => {
    event.preventDefault();
    let reason;
    try {
      reason = bindings.stopReason(event.message);
    } catch {
      reason = `the compute worker stopped: ${event.message}`;
    }
    self.postMessage({ WorkerFailed: reason });
  });
}

self.onmessage = async ({ data: { glue, module, backend, webgpuGlue, webgpuModule, threadsFailed } }) => {
  self.onmessage = null;
  // Why the page runs its own module though it is cross-origin isolated (app/loader.js).
  if (threadsFailed) self.masktuneThreadsFailed = threadsFailed;
  try {
    const build = await buildFor(backend, { glue, module }, { glue: webgpuGlue, module: webgpuModule });
    const bindings = await import(build.glue);
    reportStops(bindings);
    await bindings.default({ module_or_path: build.module });
  } catch (error) {
    // The page's protocol: Response::WorkerFailed.
    self.postMessage({ WorkerFailed: `the compute worker could not start: ${error?.message ?? error}` });
  }
};
