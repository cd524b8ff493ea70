// Inference latency per image in the built page, end to end (file given to the page -> decision
// shown: decode, crop and resize, ERM, XGradCAM + masking, MaskTune, drawing), in Debian's headless
// Chromium with WebGPU (SwiftShader here) and with the CPU fallback. Run by hand (run.sh), not by
// the tests. Prints one JSON object per line and a Markdown table of medians.
//
//     node bench/browser_latency/latency.mjs [--dist dist] [--repeats 10] [--tasks cifar10,celeba]
//         [--compute webgpu,cpu]
import { parseArgs } from "node:util";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory } from "../../e2e/support/server.js";
import { IMAGES, measure } from "./page_timings.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

const { values: options } = parseArgs({
  options: {
    dist: { type: "string", default: join(ROOT, "dist") },
    repeats: { type: "string", default: "10" },
    tasks: { type: "string", default: "cifar10,celeba" },
    compute: { type: "string", default: "webgpu,cpu" },
  },
});
const repeats = Number(options.repeats);

const server = await serveDirectory(options.dist);
const rows = [];
try {
  for (const task of options.tasks.split(",")) {
    if (!IMAGES[task]) throw new Error(`unknown task ${task}: one of ${Object.keys(IMAGES).join(", ")}`);
    for (const compute of options.compute.split(",")) {
      if (!["webgpu", "cpu"].includes(compute)) throw new Error(`unknown compute ${compute}: webgpu or cpu`);
      rows.push(await measure(server, task, compute === "webgpu", repeats));
    }
  }
} finally {
  server.close();
}
const ms = (v) => v.toFixed(1);
console.log(`\n| task | compute | masking | first image (ms) | end to end (ms, median of ${repeats}) | decode: first / median | ERM | XGradCAM + mask | MaskTune |`);
console.log("|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(`| ${r.task} | ${r.compute} | ${r.engine} | ${ms(r.first_ms)} | ${ms(r.end_to_end_ms)} | ${ms(r.first_decode_ms)} / ${ms(r.decode_ms)} | ${ms(r.erm_ms)} | ${ms(r.saliency_and_masking_ms)} | ${ms(r.masktune_ms)} |`);
}
