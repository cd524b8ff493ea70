// The page's models in ONNX Runtime Web beside the page itself, in one run of Debian's headless
// Chromium, interleaved (each round measures every configuration once, in turn), by hand:
//
//     node run.mjs --dist DIST[,DIST...] --models MODELS_DIR [--repeats 20] [--rounds 3] [--tasks ...]
//         [--computes cpu-1,cpu-2,webgpu]
//
// (run.sh prepares both.) Several built pages (e.g. before and after a change, each `trunk build`
// into its own folder) are measured in turn within each round, beside the same ORT runs. Ours:
// the built page's own per-image timings (its worker's MaskTune forward pass, read back; and file -> decision shown, which includes XGradCAM and masking).
// ONNX Runtime Web 1.31 on the same weights (ONNX exported from PyTorch): its wasm EP with 1 and 2
// threads (the 2-thread page is served cross-origin isolated) and its WebGPU EP; forward pass of
// the MaskTune model, and file -> both models' probabilities. Prints JSON lines and a Markdown
// table of medians over the rounds.
import { parseArgs } from "node:util";
import { cp, mkdir, rm, symlink } from "node:fs/promises";
import { join, dirname, basename } from "node:path";
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
    computes: { type: "string", default: "cpu-1,cpu-2,webgpu" },
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

// Each build is named by its folder in the table, so the names must differ.
const distFolders = options.dist.split(",");
if (new Set(distFolders.map((dist) => basename(dist))).size < distFolders.length) {
  throw new Error("--dist: give each build a folder of its own name (the table tells them apart by it)");
}
// Cross-origin isolated pages may run threads: ORT's wasm EP with 2, our threaded build.
const builds = await Promise.all(
  distFolders.map(async (dist) => ({
    name: basename(dist),
    page: await serveDirectory(dist),
    pageIsolated: await serveDirectory(dist, { headers: ISOLATION_HEADERS }),
  })),
);
const servers = {
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
  { key: "cpu-1", name: "CPU, 1 thread", ours: { webgpu: false }, ort: { ep: "wasm", threads: 1 } },
  { key: "cpu-2", name: "CPU, 2 threads", ours: { webgpu: false, isolated: true }, ort: { ep: "wasm", threads: 2 } },
  { key: "webgpu", name: "WebGPU", ours: { webgpu: true }, ort: { ep: "webgpu", threads: 1 } },
].filter((config) => options.computes.split(",").includes(config.key));
const samples = [];
try {
  for (let round = 0; round < Number(options.rounds); round++) {
    for (const task of options.tasks.split(",")) {
      for (const config of configurations) {
        const sample = { round, task, config: config.name, ours: {} };
        for (const build of builds) {
          const server = config.ours.isolated ? build.pageIsolated : build.page;
          const ours = await measure(server, task, config.ours.webgpu, repeats);
          if (config.ours.isolated && !/\d+ threads\)/.test(ours.backend_label)) {
            throw new Error(`our page (${build.name}) did not run on threads: ${ours.backend_label}`);
          }
          sample.ours[build.name] = { forward_ms: ours.masktune_ms, end_to_end_ms: ours.end_to_end_ms };
        }
        const ort = await ortTimings(task, config.ort.ep, config.ort.threads);
        sample.ort = { forward_ms: ort.forward_ms, end_to_end_ms: ort.end_to_end_ms };
        console.log(JSON.stringify(sample));
        samples.push(sample);
      }
    }
  }
} finally {
  for (const server of Object.values(servers)) server.close();
  for (const build of builds) [build.page, build.pageIsolated].forEach((server) => server.close());
}

const ms = (v) => v.toFixed(2);
// A column naming the build only when there are several.
const several = builds.length > 1;
console.log(`\n| task | compute |${several ? " build |" : ""} forward, ours (ms) | forward, ORT (ms) | ORT / ours | end to end, ours (ms) | end to end, ORT (ms) |`);
console.log(`|---|---|${several ? "---|" : ""}---:|---:|---:|---:|---:|`);
for (const task of options.tasks.split(",")) {
  for (const config of configurations) {
    const rows = samples.filter((s) => s.task === task && s.config === config.name);
    const ort = (key) => median(rows.map((r) => r.ort[key]));
    for (const build of builds) {
      const ours = (key) => median(rows.map((r) => r.ours[build.name][key]));
      const ratio = (ort("forward_ms") / ours("forward_ms")).toFixed(2);
      const label = several ? ` ${build.name} |` : "";
      console.log(`| ${task} | ${config.name} |${label} ${ms(ours("forward_ms"))} | ${ms(ort("forward_ms"))} | ${ratio} | ${ms(ours("end_to_end_ms"))} | ${ms(ort("end_to_end_ms"))} |`);
    }
  }
}
