// The Lab's training in the page beside TensorFlow.js training the same network on the same data,
// in one run of Debian's headless Chromium, interleaved (each round runs every configuration once,
// in turn), by hand:
//
//     node run.mjs --dist DIST [--images 10000] [--tfjs-images 1000] [--epochs 2] [--rounds 2]
//         [--computes ours-1,ours-2,tfjs-cpu,tfjs-wasm,tfjs-webgl]
//
// (run.sh prepares both.) Ours: the Lab's default run with `--epochs` ERM epochs on `--images`
// images (TensorFlow.js trains on `--tfjs-images`: it is about 100x slower, so the two are
// compared in images per second); each ERM epoch's training time as the page's table reports it (data-train-ms), on one
// thread (a plain page) and on two (cross-origin isolated). TensorFlow.js 4.22: model.fit of the
// same network (page/bench.js) on its CPU (JavaScript), wasm and WebGL (SwiftShader here)
// backends. Prints JSON lines and a Markdown table of medians over the rounds: the first epoch
// (with its warm-up, e.g. shader compilation) and the later ones apart.
import { parseArgs } from "node:util";
import { mkdir, rm, symlink, cp } from "node:fs/promises";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory, ISOLATION_HEADERS } from "../../e2e/support/server.js";
import { launchChromium, collectConsole } from "../../e2e/support/browser.js";
import { openLab, runLab, trainsOn } from "../lab/drive.mjs";
import { median } from "../browser_latency/page_timings.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
const { values: options } = parseArgs({
  options: {
    dist: { type: "string", default: join(ROOT, "dist") },
    images: { type: "string", default: "10000" },
    "tfjs-images": { type: "string", default: "1000" },
    epochs: { type: "string", default: "2" },
    rounds: { type: "string", default: "2" },
    computes: { type: "string", default: "ours-1,ours-2,tfjs-cpu,tfjs-wasm,tfjs-webgl" },
  },
});
const images = Number(options.images);
const tfjsImages = Number(options["tfjs-images"]);
const epochs = Number(options.epochs);

// The TensorFlow.js page: its files, the packages' dist folders and the Lab's MNIST subset.
const stage = join(ROOT, "target", "bench-tfjs");
await rm(stage, { recursive: true, force: true });
await mkdir(stage, { recursive: true });
await cp(join(HERE, "page"), stage, { recursive: true });
await symlink(join(HERE, "node_modules", "@tensorflow", "tfjs", "dist"), join(stage, "tfjs"));
await symlink(join(HERE, "node_modules", "@tensorflow", "tfjs-backend-wasm", "dist"), join(stage, "tfjs-wasm"));
await symlink(join(ROOT, "app", "assets", "lab", "mnist"), join(stage, "data"));

const servers = {
  page: await serveDirectory(options.dist),
  pageIsolated: await serveDirectory(options.dist, { headers: ISOLATION_HEADERS }),
  tfjs: await serveDirectory(stage),
};

async function inChromium(webgpu, work) {
  const browser = await launchChromium({ webgpu });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const consoleLines = collectConsole(page);
    return await work(page).catch((error) => {
      throw new Error(`${error.message}\n${consoleLines.join("\n")}`);
    });
  } finally {
    await browser.close();
  }
}

// The Lab's run; its ERM epochs' training times and what it trained on.
async function ours(isolated) {
  return inChromium(false, async (page) => {
    const server = isolated ? servers.pageIsolated : servers.page;
    await openLab(page, server.url, { images, epochs });
    await runLab(page);
    const rows = await page.locator("#lab-results tbody tr[data-model='erm']").evaluateAll((rows) =>
      rows.map((row) => Number(row.dataset.trainMs) / 1000),
    );
    // A run with other settings must not be timed as this one (on the cross-origin isolated
    // page the Lab's fields once lost values typed in quick succession; fixed, and tested by
    // e2e/threads.test.js).
    if (rows.length !== epochs) throw new Error(`the Lab trained ${rows.length} ERM epochs, not ${epochs}`);
    const trainedOn = await trainsOn(page);
    if (isolated && !/\d+ threads\)/.test(trainedOn)) throw new Error(`the Lab did not train on threads: ${trainedOn}`);
    return { images, epoch_s: rows, trains_on: trainedOn };
  });
}

async function tfjs(backend) {
  return inChromium(false, async (page) => {
    await page.goto(servers.tfjs.url);
    await page.waitForFunction(() => window.benchReady, null, { timeout: 60_000 });
    const result = await page.evaluate((args) => window.trainEpochs(args), { backend, images: tfjsImages, epochs });
    return { images: tfjsImages, ...result };
  });
}

const configurations = [
  { key: "ours-1", name: "ours, CPU (wasm SIMD), 1 thread", run: () => ours(false) },
  { key: "ours-2", name: "ours, CPU (wasm SIMD), 2 threads", run: () => ours(true) },
  { key: "tfjs-cpu", name: "TF.js, cpu (JavaScript)", run: () => tfjs("cpu") },
  { key: "tfjs-wasm", name: "TF.js, wasm (SIMD)", run: () => tfjs("wasm") },
  { key: "tfjs-webgl", name: "TF.js, webgl (SwiftShader)", run: () => tfjs("webgl") },
].filter((config) => options.computes.split(",").includes(config.key));
const samples = [];
try {
  for (let round = 0; round < Number(options.rounds); round++) {
    for (const config of configurations) {
      const sample = { round, config: config.name, ...(await config.run()) };
      console.log(JSON.stringify(sample));
      samples.push(sample);
    }
  }
} finally {
  Object.values(servers).forEach((server) => server.close());
}

const s = (v) => (Number.isFinite(v) ? v.toFixed(2) : "–");
console.log(`\nMedians over ${options.rounds} rounds:\n`);
console.log("| training | images per epoch | first epoch (s) | later epochs (s) | images/s, later epochs | ours (1 thread) faster by |");
console.log("|---|---:|---:|---:|---:|---:|");
const rowsOf = (config) => samples.filter((r) => r.config === config.name);
const perSecond = (config) => median(rowsOf(config).filter((r) => !r.error).map((r) => r.images / median(r.epoch_s.slice(1))));
const reference = configurations.find((c) => c.key === "ours-1");
for (const config of configurations) {
  const rows = rowsOf(config);
  const failed = rows.find((r) => r.error);
  if (failed) {
    console.log(`| ${config.name} | ${failed.images} | fails: ${failed.error.replace(/\|/g, "/")} | | | |`);
    continue;
  }
  const speed = perSecond(config);
  const ratio = reference ? s(perSecond(reference) / speed) : "–";
  console.log(
    `| ${config.name} | ${rows[0].images} | ${s(median(rows.map((r) => r.epoch_s[0])))} | ` +
      `${s(median(rows.map((r) => median(r.epoch_s.slice(1)))))} | ${Math.round(speed)} | ${ratio} |`,
  );
}
