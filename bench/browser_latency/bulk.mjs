// How quickly the built page gets through many images given at once (a folder, say): the time
// until the summary counts every answer, per 50 images as the list grows, the main thread's long
// tasks meanwhile (and its longest script, from Chromium's long animation frames), and how large
// the page's own WebAssembly memory has grown by then (what the page keeps per answer; the
// threaded build's memory cannot grow past 1 GiB). In Debian's headless Chromium, by hand (not
// in the tests). Several `--dist` folders are measured in turn within each round, so that a busy
// machine slows them alike.
//
//     node bench/browser_latency/bulk.mjs [--dist dist[,other-dist...]] [--count 500]
//         [--rounds 2] [--tasks spurious-mnist,cifar10,celeba] [--webgpu] [--isolated]
//         [--input files|folder] [--labels CLASS,CLASS...]
//
// --labels puts the images in folders named after those classes in turn (`CLASS/image-N.png`, as
// a chosen folder names them), so that the page also counts them per class.
import { parseArgs } from "node:util";
import { readFile } from "node:fs/promises";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory, ISOLATION_HEADERS } from "../../e2e/support/server.js";
import { launchChromium, pageUrl } from "../../e2e/support/browser.js";
import { IMAGES, median } from "./page_timings.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const { values: options } = parseArgs({
  options: {
    dist: { type: "string", default: join(ROOT, "dist") },
    count: { type: "string", default: "500" },
    rounds: { type: "string", default: "2" },
    tasks: { type: "string", default: "spurious-mnist,cifar10,celeba" },
    webgpu: { type: "boolean", default: false },
    // Serve the page cross-origin isolated, so that it runs the threaded build.
    isolated: { type: "boolean", default: false },
    // The files through "choose files" or "or a folder".
    input: { type: "string", default: "files" },
    labels: { type: "string", default: "" },
  },
});
const count = Number(options.count);
const INPUTS = { files: "#file-input", folder: "#folder-input" };
const input = INPUTS[options.input];
if (!input) throw new Error(`--input is files or folder, not ${options.input}`);

// Gives the page `count` copies of the task's example image in one go, as a picked folder
// reaches it, and times them by the page's clock.
async function measure(server, task) {
  const browser = await launchChromium({ webgpu: options.webgpu });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(pageUrl(server.url, { webgpu: options.webgpu, fragment: task }));
    await page.locator("#model-status[data-state='ready']").waitFor({ timeout: 180_000 });
    const bytes = (await readFile(IMAGES[task])).toString("base64");
    // The files are made in a task of their own, so that their making is not one of the page's
    // long tasks.
    const labels = options.labels ? options.labels.split(",") : [];
    await page.evaluate(
      ([bytes, count, labels]) => {
        const data = Uint8Array.from(atob(bytes), (c) => c.charCodeAt(0));
        window.bulkFiles = new DataTransfer();
        for (let i = 0; i < count; i++) {
          const file = new File([data], `image-${i}.png`, { type: "image/png" });
          // A chosen folder's file knows its path in it; a made one is given it.
          if (labels.length) Object.defineProperty(file, "webkitRelativePath", { value: `images/${labels[i % labels.length]}/${file.name}` });
          window.bulkFiles.items.add(file);
        }
      },
      [bytes, count, labels],
    );
    const run = await page.evaluate(
      ([count, input, labelled]) =>
        new Promise((resolve, reject) => {
          const timeout = setTimeout(() => reject(new Error(`not done within 10 minutes`)), 600_000);
          const longTasks = [];
          new PerformanceObserver((list) => longTasks.push(...list.getEntries().map((e) => e.duration))).observe({
            type: "longtask",
          });
          // Long animation frames (over 50 ms, often of many short tasks) name their scripts.
          let longestScript = 0;
          new PerformanceObserver((list) => {
            for (const frame of list.getEntries()) longestScript = Math.max(longestScript, ...frame.scripts.map((s) => s.duration));
          }).observe({ type: "long-animation-frame" });
          // The summary's count of answered images (the page shows only some of the cards).
          const shown = () => Number(document.querySelector(".card-filter label[data-filter='all']")?.dataset.count ?? 0);
          const per50 = [];
          const start = performance.now();
          const observer = new MutationObserver(() => {
            const done = shown();
            while (per50.length < Math.floor(done / 50)) per50.push(performance.now() - start);
            // Labelled images are done when the pair's risk-coverage curve on them is drawn too.
            const curveDrawn = !labelled || document.querySelector("#labelled-accuracy figure.summary");
            if (done >= count && curveDrawn) {
              observer.disconnect();
              clearTimeout(timeout);
              resolve({ total: performance.now() - start, per50, longTasks, longestScript });
            }
          });
          // The count is an attribute and a text: both are watched, not only added elements.
          observer.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
          // Given from a task of the page's own, as a user's choice is.
          setTimeout(() => {
            const element = document.querySelector(input);
            element.files = window.bulkFiles.files;
            element.dispatchEvent(new Event("change", { bubbles: true }));
          }, 0);
        }),
      [count, input, labels.length > 0],
    );
    return { ...run, memory: await pageMemory(page) };
  } finally {
    await browser.close();
  }
}

// The size of the page's WebAssembly memory: its glue module, imported again, is the same
// instance, and its init function gives the instance's exports.
async function pageMemory(page) {
  return page.evaluate(async () => {
    const glue = performance
      .getEntriesByType("resource")
      .map((entry) => entry.name)
      .find((name) => /\/(app-[0-9a-f]+|threads\/app)\.js$/.test(name));
    const exports = await (await import(glue)).default();
    return exports.memory.buffer.byteLength;
  });
}

const dists = options.dist.split(",");
const tasks = options.tasks.split(",");
const headers = options.isolated ? ISOLATION_HEADERS : {};
const servers = await Promise.all(dists.map((dist) => serveDirectory(dist, { headers })));
const runs = new Map();
try {
  for (let round = 0; round < Number(options.rounds); round++) {
    for (const task of tasks) {
      for (const [i, server] of servers.entries()) {
        const run = await measure(server, task);
        const key = JSON.stringify([dists[i], task]);
        runs.set(key, [...(runs.get(key) ?? []), run]);
        console.log(JSON.stringify({ dist: dists[i], task, total_ms: Math.round(run.total), long_tasks: run.longTasks.length, page_memory_mb: mb(run.memory) }));
      }
    }
  }
} finally {
  for (const server of servers) server.close();
}

const ms = (v) => v.toFixed(1);
function mb(bytes) {
  return Math.round(bytes / 2 ** 20);
}
console.log(`\n${count} images given at once (${options.input}), ${options.webgpu ? "WebGPU" : "CPU"}; medians over ${options.rounds} page load(s):\n`);
console.log("| build | task | all done (s) | per image (ms) | per image, first 50 / last 50 (ms) | long tasks over 50 ms (longest, ms) | longest script in a long frame (ms) | page's wasm memory (MiB) |");
console.log("|---|---|---:|---:|---:|---|---:|---:|");
for (const [key, rows] of runs) {
  const [dist, task] = JSON.parse(key);
  const total = median(rows.map((r) => r.total));
  const first = median(rows.map((r) => r.per50[0] / 50));
  const last = median(rows.map((r) => (r.per50.at(-1) - r.per50.at(-2)) / 50));
  const longTasks = median(rows.map((r) => r.longTasks.length));
  const longest = Math.max(0, ...rows.flatMap((r) => r.longTasks));
  const memory = median(rows.map((r) => r.memory));
  const longestScript = Math.max(...rows.map((r) => r.longestScript));
  console.log(`| ${dist} | ${task} | ${(total / 1000).toFixed(1)} | ${ms(total / count)} | ${ms(first)} / ${ms(last)} | ${longTasks} (${Math.round(longest)}) | ${Math.round(longestScript)} | ${mb(memory)} |`);
}
