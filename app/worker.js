// The page's compute worker (app/src/worker). The page sends the URL of its JavaScript glue and
// its already compiled WebAssembly module; the same module then starts here, sees that it runs in
// the compute worker, and answers the page's requests. Where the page is cross-origin isolated,
// the browser offers no WebGPU adapter and the threaded build sits in threads/ (threads.html),
// that build runs here instead: the same code with wasm atomics and without WebGPU, whose CPU
// backend runs on a pool of workers.
const THREADED = { glue: "./threads/app.js", wasm: "./threads/app_bg.wasm" };

async function threadedBuild() {
  if (!self.crossOriginIsolated) return null;
  const adapter = await navigator.gpu?.requestAdapter().catch(() => null);
  if (adapter) return null;
  const found = await fetch(THREADED.glue, { method: "HEAD" }).catch(() => null);
  return found?.ok ? { glue: new URL(THREADED.glue, self.location.href).href, module: THREADED.wasm } : null;
}

self.onmessage = async ({ data: { glue, module } }) => {
  self.onmessage = null;
  try {
    const build = (await threadedBuild()) ?? { glue, module };
    const bindings = await import(build.glue);
    await bindings.default({ module_or_path: build.module });
  } catch (error) {
    // The page's protocol: Response::WorkerFailed.
    self.postMessage({ WorkerFailed: `the compute worker could not start: ${error?.message ?? error}` });
  }
};
