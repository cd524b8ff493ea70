// Inference latency per image in the built page, end to end (file given to the page -> decision
// shown: decode, crop and resize, ERM, XGradCAM + masking, MaskTune, drawing), in Debian's headless
// Chromium with WebGPU (SwiftShader here) and with the CPU fallback. Run by hand (run.sh), not by
// the tests. Prints one JSON object per page load and a Markdown table of medians.
//
//     node bench/browser_latency/latency.mjs [--dist dist[,other-dist...]] [--repeats 10]
//         [--loads 1] [--tasks cifar10,celeba] [--compute webgpu,cpu] [--pause 0[,1000...]]
//         [--format png|webp]
//
// Each page load times its first image apart (the cost of everything done once) and then
// `repeats` more. With `--loads N` every task is loaded N times, so that the first image, a single
// sample per load, gets a median of its own; several `--dist` folders (builds to compare) are
// measured in turn within each load round, so that a busy machine slows them alike. `--pause`
// gives the first image that many milliseconds after the models are ready (several values are
// measured in turn like builds): at once (0) is sooner than a person can pick a file, while the
// browser may still be optimising the code the warm-up ran. `--format webp` gives the task's
// image as WebP, which the browser decodes for the page (PNG and JPEG the page decodes itself).
import { parseArgs } from "node:util";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory } from "../../e2e/support/server.js";
import { IMAGES, measure, median } from "./page_timings.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

const { values: options } = parseArgs({
  options: {
    dist: { type: "string", default: join(ROOT, "dist") },
    repeats: { type: "string", default: "10" },
    loads: { type: "string", default: "1" },
    tasks: { type: "string", default: "cifar10,celeba" },
    compute: { type: "string", default: "webgpu,cpu" },
    pause: { type: "string", default: "0" },
    format: { type: "string", default: "png" },
  },
});
const repeats = Number(options.repeats);
const tasks = options.tasks.split(",");
const computes = options.compute.split(",");
for (const task of tasks) {
  if (!IMAGES[task]) throw new Error(`unknown task ${task}: one of ${Object.keys(IMAGES).join(", ")}`);
}
for (const compute of computes) {
  if (!["webgpu", "cpu"].includes(compute)) throw new Error(`unknown compute ${compute}: webgpu or cpu`);
}

const pauses = options.pause.split(",").map(Number);
if (pauses.some((p) => !(p >= 0))) throw new Error(`--pause takes milliseconds, not ${options.pause}`);
const dists = options.dist.split(",");
const servers = await Promise.all(dists.map((dist) => serveDirectory(dist)));
// Page loads per (build, task, compute, pause), in the order of the table.
const loads = new Map();
try {
  for (let round = 0; round < Number(options.loads); round++) {
    for (const task of tasks) {
      for (const compute of computes) {
        for (const pause of pauses) {
          for (const [i, server] of servers.entries()) {
            const row = await measure(server, task, compute === "webgpu", repeats, pause, options.format);
            const key = JSON.stringify([dists[i], task, compute, pause]);
            loads.set(key, [...(loads.get(key) ?? []), row]);
          }
        }
      }
    }
  }
} finally {
  for (const server of servers) server.close();
}

const ms = (v) => v.toFixed(1);
const of = (rows, field) => median(rows.map((r) => r[field]));
const build = dists.length > 1 ? "build | " : "";
console.log(`\nMedians over ${options.loads} page load(s) of ${repeats} images after the first:\n`);
console.log(`| ${build}task | compute | masking | pause before the first (ms) | first image (ms) | end to end (ms) | first / end to end | decode: first / median | models: first / median | the rest: first / median | ERM | XGradCAM + mask | MaskTune |`);
console.log(`|${build ? "---|" : ""}---|---|---|---|---|---|---|---|---|---|---|`);
for (const [key, rows] of loads) {
  const [dist] = JSON.parse(key);
  const r = rows[0];
  const ratio = median(rows.map((row) => row.first_ms / row.end_to_end_ms));
  console.log(
    `| ${build ? `${dist} | ` : ""}${r.task} | ${r.compute} | ${r.engine} | ${r.pause_ms} | ${ms(of(rows, "first_ms"))} | ${ms(of(rows, "end_to_end_ms"))} | ${ratio.toFixed(2)} | ${ms(of(rows, "first_decode_ms"))} / ${ms(of(rows, "decode_ms"))} | ${ms(of(rows, "first_models_ms"))} / ${ms(of(rows, "models_ms"))} | ${ms(of(rows, "first_rest_ms"))} / ${ms(of(rows, "rest_ms"))} | ${ms(of(rows, "erm_ms"))} | ${ms(of(rows, "saliency_and_masking_ms"))} | ${ms(of(rows, "masktune_ms"))} |`,
  );
}
