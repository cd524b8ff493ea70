// The page's compute worker (app/src/worker). The page sends the URL of its JavaScript glue and
// its already compiled WebAssembly module; the same module then starts here, sees that it runs in
// a worker, and answers the page's requests.
self.onmessage = async ({ data: { glue, module } }) => {
  self.onmessage = null;
  try {
    const bindings = await import(glue);
    await bindings.default({ module_or_path: module });
  } catch (error) {
    // The page's protocol: Response::WorkerFailed.
    self.postMessage({ WorkerFailed: `the compute worker could not start: ${error?.message ?? error}` });
  }
};
