// What a first visit of each task downloads from the built page (dist/), gzipped as a static host
// sends it (gzip level 6, the common default): the page (HTML, CSS, JavaScript glue, worker script,
// wasm: the CPU build) and the task's two model bundles, plus the example images the task shows;
// the same visit on a cross-origin isolated page, whose loader fetches the threaded build instead
// of the page's own module; and on a page asked for WebGPU, whose compute worker fetches the
// WebGPU build as well. Prints a Markdown table; with --limit MB exits non-zero when a task's
// first visit (either of the first two) exceeds it. Exits non-zero too when the size of the
// WebGPU build that the page tells its users (app/src/ui/backend_choice.rs) is no longer right.
//
//     node bench/download_size/measure.mjs [--dist dist] [--limit 3]
import { parseArgs } from "node:util";
import { readFile, readdir } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const { values: options } = parseArgs({
  options: { dist: { type: "string", default: join(ROOT, "dist") }, limit: { type: "string" } },
});
const dist = options.dist;

async function sizes(path) {
  const bytes = await readFile(join(dist, path));
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 6 }).length };
}

async function total(paths) {
  const all = await Promise.all(paths.map(sizes));
  return all.reduce((sum, s) => ({ raw: sum.raw + s.raw, gzip: sum.gzip + s.gzip }), { raw: 0, gzip: 0 });
}

const top = await readdir(dist).catch(() => {
  throw new Error(`${dist} does not exist: build the page first (trunk build --release)`);
});
const pageFiles = top.filter((f) => /\.(html|css|js|wasm)$/.test(f));
if (!pageFiles.some((f) => f.endsWith(".wasm"))) throw new Error(`${dist} has no .wasm: is it a built page?`);
const page = await total(pageFiles);
const wasm = await total(pageFiles.filter((f) => f.endsWith(".wasm")));
// The page's own module and its glue (Trunk names them app-<hash>.js and app-<hash>_bg.wasm).
const ownModule = await total(pageFiles.filter((f) => /^app-.*\.(js|wasm)$/.test(f)));

// The tasks and their files, as the page's own table lists them (app/src/tasks.rs).
const tasksSource = await readFile(join(ROOT, "app", "src", "tasks.rs"), "utf8");
// The shipped tasks only: the user's own models are not downloaded.
// A task's examples are a list in place or the name of a shared one (`examples: DIGITS`).
const exampleUrls = (list) => [...list.matchAll(/url: "([^"]+)"/g)].map((m) => m[1]);
const sharedList = (name) => tasksSource.match(new RegExp(`const ${name}: &\\[Example\\] = &\\[([\\s\\S]*?)\\];`))?.[1] ?? "";
const tasks = [...tasksSource.matchAll(/id: "([^"]+)"[\s\S]*?models: Models::Shipped \{\s*erm: "([^"]+)",\s*masktune: "([^"]+)",\s*\},\s*examples: (?:&\[([\s\S]*?)\]|([A-Z_]+)),\s*\}/g)]
  .map(([, id, erm, masktune, list, shared]) => ({ id, bundles: [erm, masktune], examples: exampleUrls(list ?? sharedList(shared)) }));
if (tasks.length === 0) throw new Error("no tasks found in app/src/tasks.rs");

// A worker build's glue and wasm (scripts/lib.sh copies them into these folders), if built.
async function workerBuild(folder) {
  const files = await readdir(join(dist, folder)).catch(() => []);
  const built = files.filter((f) => /\.(js|wasm)$/.test(f)).map((f) => join(folder, f));
  return built.some((f) => f.endsWith(".wasm")) ? total(built) : null;
}
const threads = await workerBuild("threads");
const webgpu = await workerBuild("webgpu");

const mb = (bytes) => (bytes / 1e6).toFixed(2);
console.log(`page (${pageFiles.join(", ")}): ${mb(page.gzip)} MB gzipped (${mb(page.raw)} MB raw), of which wasm ${mb(wasm.gzip)} MB gzipped`);
for (const [name, build, when] of [["threads/", threads, "instead of the page's module on a cross-origin isolated page"], ["webgpu/", webgpu, "as well when the page is asked for WebGPU"]]) {
  console.log(build ? `${name}: ${mb(build.gzip)} MB gzipped (${mb(build.raw)} MB raw), fetched ${when}` : `${name}: not built`);
}
console.log("");
console.log("| task | page (MB gz) | two bundles (MB gz) | first visit: page + bundles (MB gz) | cross-origin isolated: threads/ for the page's module | asked for WebGPU: + webgpu/ | examples (MB gz) |");
console.log("|---|---:|---:|---:|---:|---:|---:|");
let over = [];
for (const task of tasks) {
  const bundles = await total(task.bundles);
  const examples = await total(task.examples);
  const first = page.gzip + bundles.gzip;
  const isolated = threads ? first - ownModule.gzip + threads.gzip : first;
  const withWebgpu = webgpu ? mb(first + webgpu.gzip) : "-";
  console.log(`| ${task.id} | ${mb(page.gzip)} | ${mb(bundles.gzip)} | ${mb(first)} | ${mb(isolated)} | ${withWebgpu} | ${mb(examples.gzip)} |`);
  const largest = Math.max(first, isolated);
  if (options.limit && largest > Number(options.limit) * 1e6) over.push(`${task.id} (${mb(largest)} MB)`);
}
if (over.length) {
  console.error(`\nover the ${options.limit} MB limit: ${over.join(", ")}`);
  process.exit(1);
}

// The page's link to WebGPU says how much more it downloads; that figure must stay true.
const choiceSource = await readFile(join(ROOT, "app", "src", "ui", "backend_choice.rs"), "utf8");
const stated = Number(choiceSource.match(/const WEBGPU_BUILD_MB: f64 = ([\d.]+);/)?.[1]);
if (!Number.isFinite(stated)) throw new Error("no WEBGPU_BUILD_MB found in app/src/ui/backend_choice.rs");
if (webgpu && Math.abs(webgpu.gzip / 1e6 - stated) > 0.25) {
  console.error(`\nthe page says the WebGPU build is about ${stated} MB, but it is ${mb(webgpu.gzip)} MB gzipped: set WEBGPU_BUILD_MB in app/src/ui/backend_choice.rs`);
  process.exit(1);
}
