// What the page's first images cost that later ones do not, from a Chromium trace (categories
// devtools.timeline, v8, v8.wasm) of `count` images given one after the other to the CPU page,
// each once the previous one shows. Per image: the time until its decision shows; how long the
// page's main thread and the workers ran tasks meanwhile; and how long V8 spent compiling wasm
// functions there on their first call (V8 compiles a module's functions lazily, so code that first
// runs for a user's first image is compiled then). With a build that keeps wasm names
// (profile.mjs says how to make one) it also names the functions whose first compile took longest.
// Run by hand, not by the tests.
//
//     node bench/browser_latency/first_image_trace.mjs [--dist dist] [--task spurious-mnist]
//         [--count 3] [--pause 0] [--out target/first-images.trace.json]
import { parseArgs } from "node:util";
import { readFile, readdir } from "node:fs/promises";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory } from "../../e2e/support/server.js";
import { launchChromium, pageUrl } from "../../e2e/support/browser.js";
import { IMAGES, giveImage, prepareImage } from "./page_timings.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const { values: options } = parseArgs({
  options: {
    dist: { type: "string", default: join(ROOT, "dist") },
    task: { type: "string", default: "spurious-mnist" },
    count: { type: "string", default: "3" },
    pause: { type: "string", default: "0" },
    out: { type: "string", default: join(ROOT, "target", "first-images.trace.json") },
  },
});
if (!IMAGES[options.task]) throw new Error(`unknown task ${options.task}: one of ${Object.keys(IMAGES).join(", ")}`);

const CATEGORIES = ["toplevel", "devtools.timeline", "v8", "v8.wasm", "blink.user_timing"];
const MAIN_THREAD = "CrRendererMain";
const WORKER_THREAD = "DedicatedWorker thread";
// A thread's tasks, each one event at the top of its stack.
const TASK = "ThreadControllerImpl::RunTask";
const LAZY_COMPILE = "wasm.CompileLazy";

// Function index -> name, from the "name" custom section of a wasm module (empty when stripped).
function wasmFunctionNames(bytes) {
  let at = 8;
  const leb = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  const text = (length) => new TextDecoder().decode(bytes.subarray(at, (at += length)));
  const names = new Map();
  while (at < bytes.length) {
    const id = bytes[at++];
    const end = leb() + at;
    if (id === 0 && text(leb()) === "name") {
      while (at < end) {
        const sub = bytes[at++];
        const subEnd = leb() + at;
        if (sub === 1) for (let count = leb(); count > 0; count--) names.set(leb(), text(leb()));
        at = subEnd;
      }
    }
    at = end;
  }
  return names;
}

// The page's module (the CPU page runs one module on its main thread and in its worker).
async function pageModuleNames(dist) {
  const file = (await readdir(dist)).find((name) => /^app-[0-9a-f]+_bg\.wasm$/.test(name));
  return file ? wasmFunctionNames(await readFile(join(dist, file))) : new Map();
}

async function traceImages(server) {
  const browser = await launchChromium({ webgpu: false });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(pageUrl(server.url, { fragment: options.task }));
    await page.locator("#model-status[data-state='ready']").waitFor({ timeout: 180_000 });
    await prepareImage(page, options.task);
    await page.waitForTimeout(Number(options.pause));
    await browser.startTracing(page, { path: options.out, categories: CATEGORIES });
    const walls = [];
    for (let i = 0; i < Number(options.count); i++) walls.push(await giveImage(page, i));
    const trace = JSON.parse(await browser.stopTracing());
    return { walls, events: trace.traceEvents ?? trace };
  } finally {
    await browser.close();
  }
}

const server = await serveDirectory(options.dist);
let traced;
try {
  traced = await traceImages(server);
} finally {
  server.close();
}
const { walls, events } = traced;
const names = await pageModuleNames(options.dist);
const threadName = new Map(
  events.filter((e) => e.name === "thread_name").map((e) => [`${e.pid}:${e.tid}`, e.args.name]),
);
const threadOf = (event) => threadName.get(`${event.pid}:${event.tid}`);
const given = new Map(
  events.filter((e) => /^image-\d+-given$/.test(e.name)).map((e) => [Number(e.name.split("-")[1]), e.ts]),
);

// Milliseconds of `events` (complete events) inside [start, end] µs, clipped to it.
const within = (list, start, end) =>
  list.reduce((sum, e) => sum + Math.max(0, Math.min(e.ts + e.dur, end) - Math.max(e.ts, start)), 0) / 1000;
const complete = events.filter((e) => e.ph === "X" && e.dur !== undefined);
const on = (thread, name) => complete.filter((e) => threadOf(e) === thread && e.name === name);

console.log(`\n${options.task}, CPU page, images given ${options.pause} ms after the models were ready:\n`);
console.log("| image | shown after (ms) | main thread: busy / first compiles (ms) | workers: busy / first compiles (ms) |");
console.log("|---:|---:|---:|---:|");
const compiledFirst = [];
walls.forEach((wall, i) => {
  const start = given.get(i);
  if (start === undefined) throw new Error(`the trace has no mark for image ${i + 1}`);
  const end = start + wall * 1000;
  const row = [MAIN_THREAD, WORKER_THREAD].map((thread) => {
    const compiles = on(thread, LAZY_COMPILE).filter((e) => e.ts >= start && e.ts <= end);
    if (i === 0) compiledFirst.push(...compiles.map((e) => ({ thread, ...e })));
    return `${within(on(thread, TASK), start, end).toFixed(1)} / ${within(compiles, start, end).toFixed(1)}`;
  });
  console.log(`| ${i + 1} | ${wall.toFixed(1)} | ${row.join(" | ")} |`);
});

console.log("\nThe first image's longest first compiles:");
for (const e of compiledFirst.sort((a, b) => b.dur - a.dur).slice(0, 12)) {
  const name = names.get(e.args.func_index) ?? `function ${e.args.func_index} (a build without names)`;
  console.log(`${(e.dur / 1000).toFixed(2).padStart(7)} ms  ${e.thread === MAIN_THREAD ? "main  " : "worker"}  ${name.slice(0, 140)}`);
}
console.log(`\nTrace written to ${options.out} (open it in Chromium's DevTools, Performance panel).`);
