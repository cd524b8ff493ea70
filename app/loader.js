// Starts the page (Trunk.toml's pattern_script calls it with the page's own glue and module).
// The page's own module is the CPU build. On a cross-origin isolated page the compute worker runs
// the threaded build (threads/, threads.html) instead, so the page starts that one too: the same
// code, so the visit downloads one module, not two. Where there is none, or it cannot start, the
// page's own starts.
const THREADED = { glue: "threads/app.js", wasm: "threads/app_bg.wasm" };

// The versions the build stamped on the page's files (scripts/stamp_assets.mjs).
const VERSIONS = JSON.parse(document.getElementById("asset-versions")?.textContent ?? "{}");

// `path` with its version, so that a redeploy that changed the file is fetched, not taken from the
// browser's cache.
function versioned(path) {
  return VERSIONS[path] ? `./${path}?v=${VERSIONS[path]}` : `./${path}`;
}

export async function start(glue, wasm) {
  const threaded = self.crossOriginIsolated ? await import(versioned(THREADED.glue)).catch(() => null) : null;
  if (threaded) {
    try {
      await threaded.default({ module_or_path: versioned(THREADED.wasm) });
      return;
    } catch (error) {
      // A damaged module, or a browser that cannot reserve its shared memory: the page's own
      // module runs instead, on one thread, and the compute worker says why
      // (app/src/worker/threads.rs reads this).
      self.masktuneThreadsFailed = `the threaded build could not start (${error?.message ?? error})`;
      console.warn(self.masktuneThreadsFailed);
    }
  }
  const bindings = await import(glue);
  await bindings.default({ module_or_path: wasm });
}
