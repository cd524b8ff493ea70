// The page's models in ONNX Runtime Web beside the page itself, in one run of Debian's headless
// Chromium, interleaved (each round measures every configuration once, in turn), by hand:
//
//     node run.mjs --dist DIST --models MODELS_DIR [--repeats 20] [--rounds 3] [--tasks ...]
//
// (run.sh prepares both.) Ours: the built page's own per-image timings (its worker's MaskTune
// forward pass, read back; and file -> decision shown, which includes XGradCAM and masking).
// ONNX Runtime Web 1.31 on the same weights (ONNX exported from PyTorch): its wasm EP with 1 and 2
// threads (the 2-thread page is served cross-origin isolated) and its WebGPU EP; forward pass of
// the MaskTune model, and file -> both models' probabilities. Prints JSON lines and a Markdown
// table of medians over the rounds.
import { parseArgs } from "node:util";
import { cp, mkdir, rm, symlink } from "node:fs/promises";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory, ISOLATION_HEADERS } from "../../e2e/support/server.js";
import { launchChromium, collectConsole } from "../../e2e/support/browser.js";
import { IMAGES, measure, median } from "../browser_latency/page_timings.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
const { values: options } = parseArgs({
  options: {
    dist: { type: "string", default: join(ROOT, "dist") },
    models: { type: "string" },
    repeats: { type: "string", default: "20" },
    rounds: { type: "string", default: "3" },
    tasks: { type: "string", default: "spurious-mnist,cifar10,celeba" },
  },
});
const repeats = Number(options.repeats);

// The ONNX Runtime page: its files, onnxruntime-web's dist, the models and the example images.
const stage = join(ROOT, "target", "bench-ort");
await rm(stage, { recursive: true, force: true });
await mkdir(join(stage, "images"), { recursive: true });
await cp(join(HERE, "page"), stage, { recursive: true });
await symlink(join(HERE, "node_modules", "onnxruntime-web", "dist"), join(stage, "ort"));
await symlink(options.models, join(stage, "models"));
for (const [task, path] of Object.entries(IMAGES)) await cp(path, join(stage, "images", `${task}.png`));

// Cross-origin isolated pages may run threads: ORT's wasm EP with 2, our threaded build.
const servers = {
  page: await serveDirectory(options.dist),
  pageIsolated: await serveDirectory(options.dist, { headers: ISOLATION_HEADERS }),
  ort: await serveDirectory(stage),
  ortIsolated: await serveDirectory(stage, { headers: ISOLATION_HEADERS }),
};

async function ortTimings(task, ep, threads) {
  const browser = await launchChromium({ webgpu: ep === "webgpu" });
  try {
    const page = await browser.newPage();
    const consoleLines = collectConsole(page);
    const server = threads > 1 ? servers.ortIsolated : servers.ort;
    await page.goto(`${server.url}?ep=${ep}&threads=${threads}`);
    await page.waitForFunction(() => window.benchReady, null, { timeout: 60_000 }).catch((error) => {
      throw new Error(`the ONNX Runtime page did not start: ${error.message}\n${consoleLines.join("\n")}`);
    });
    const result = await page.evaluate((args) => window.bench(args), { task, repeats, image: `images/${task}.png` });
    if (threads > 1 && !result.crossOriginIsolated) throw new Error("the 2-thread page is not cross-origin isolated");
    return result;
  } finally {
    await browser.close();
  }
}

const configurations = [
  { name: "CPU, 1 thread", ours: { webgpu: false }, ort: { ep: "wasm", threads: 1 } },
  { name: "CPU, 2 threads", ours: { webgpu: false, isolated: true }, ort: { ep: "wasm", threads: 2 } },
  { name: "WebGPU", ours: { webgpu: true }, ort: { ep: "webgpu", threads: 1 } },
];
const samples = [];
try {
  for (let round = 0; round < Number(options.rounds); round++) {
    for (const task of options.tasks.split(",")) {
      for (const config of configurations) {
        const sample = { round, task, config: config.name };
        if (config.ours) {
          const server = config.ours.isolated ? servers.pageIsolated : servers.page;
          const ours = await measure(server, task, config.ours.webgpu, repeats);
          if (config.ours.isolated && !/\d+ threads\)/.test(ours.backend_label)) {
            throw new Error(`our page did not run on threads: ${ours.backend_label}`);
          }
          sample.ours_forward_ms = ours.masktune_ms;
          sample.ours_end_to_end_ms = ours.end_to_end_ms;
        }
        const ort = await ortTimings(task, config.ort.ep, config.ort.threads);
        sample.ort_forward_ms = ort.forward_ms;
        sample.ort_end_to_end_ms = ort.end_to_end_ms;
        console.log(JSON.stringify(sample));
        samples.push(sample);
      }
    }
  }
} finally {
  for (const server of Object.values(servers)) server.close();
}

const ms = (v) => (v === undefined ? "–" : v.toFixed(2));
console.log(`\n| task | compute | forward, ours (ms) | forward, ORT (ms) | ORT / ours | end to end, ours (ms) | end to end, ORT (ms) |`);
console.log("|---|---|---:|---:|---:|---:|---:|");
for (const task of options.tasks.split(",")) {
  for (const config of configurations) {
    const rows = samples.filter((s) => s.task === task && s.config === config.name);
    const m = (key) => (rows[0][key] === undefined ? undefined : median(rows.map((r) => r[key])));
    const ratio = m("ours_forward_ms") ? (m("ort_forward_ms") / m("ours_forward_ms")).toFixed(2) : "–";
    console.log(`| ${task} | ${config.name} | ${ms(m("ours_forward_ms"))} | ${ms(m("ort_forward_ms"))} | ${ratio} | ${ms(m("ours_end_to_end_ms"))} | ${ms(m("ort_end_to_end_ms"))} |`);
  }
}
