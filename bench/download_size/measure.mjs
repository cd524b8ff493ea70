// What a first visit of each task downloads from the built page (dist/), gzipped as a static host
// sends it (gzip level 6, the common default): the page (HTML, CSS, JavaScript glue, worker script,
// wasm) and the task's two model bundles, plus the example images the task shows. Prints a
// Markdown table; with --limit MB exits non-zero when a task's page + bundles exceed it.
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

// The tasks and their files, as the page's own table lists them (app/src/tasks.rs).
const tasksSource = await readFile(join(ROOT, "app", "src", "tasks.rs"), "utf8");
// The shipped tasks only: the user's own models are not downloaded.
const tasks = [...tasksSource.matchAll(/id: "([^"]+)"[\s\S]*?models: Models::Shipped \{\s*erm: "([^"]+)",\s*masktune: "([^"]+)",\s*\},\s*examples: &\[([\s\S]*?)\],\s*\}/g)]
  .map(([, id, erm, masktune, examples]) => ({ id, bundles: [erm, masktune], examples: [...examples.matchAll(/url: "([^"]+)"/g)].map((m) => m[1]) }));
if (tasks.length === 0) throw new Error("no tasks found in app/src/tasks.rs");

const mb = (bytes) => (bytes / 1e6).toFixed(2);
console.log(`page (${pageFiles.join(", ")}): ${mb(page.gzip)} MB gzipped (${mb(page.raw)} MB raw), of which wasm ${mb(wasm.gzip)} MB gzipped\n`);
console.log("| task | page (MB gz) | two bundles (MB gz) | page + bundles (MB gz) | examples (MB gz) |");
console.log("|---|---:|---:|---:|---:|");
let over = [];
for (const task of tasks) {
  const bundles = await total(task.bundles);
  const examples = await total(task.examples);
  const first = page.gzip + bundles.gzip;
  console.log(`| ${task.id} | ${mb(page.gzip)} | ${mb(bundles.gzip)} | ${mb(first)} | ${mb(examples.gzip)} |`);
  if (options.limit && first > Number(options.limit) * 1e6) over.push(`${task.id} (${mb(first)} MB)`);
}
if (over.length) {
  console.error(`\nover the ${options.limit} MB limit: ${over.join(", ")}`);
  process.exit(1);
}
