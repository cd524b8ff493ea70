// The Lab's default run (or the settings given, a run on a folder of class subfolders, or one from
// a given ERM model's file) in the built page, in Debian's headless Chromium: the time of each
// step as the page shows it and the accuracies it reaches, run after run in one page per backend,
// so that "same seed, same backend: same numbers" is checked too. Run by hand
// (run.sh), not by the tests. Prints one JSON object per run and a Markdown table.
//
//     node bench/lab/lab.mjs [--dist dist] [--repeats 2] [--images 10000] [--epochs 1] [--seed 0]
//         [--backends cpu,cpu-threads,webgpu] [--folder DIR [--image-size 64]] [--erm FILE]
//
// --erm: the run starts from that ERM model, which also sets the image side (no --image-size).
//
// cpu-threads: the CPU fallback on a cross-origin isolated page (the threaded build).
import { parseArgs } from "node:util";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory, ISOLATION_HEADERS } from "../../e2e/support/server.js";
import { launchChromium } from "../../e2e/support/browser.js";
import { openLab, runLab, trainsOn } from "./drive.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const { values: options } = parseArgs({
  options: {
    dist: { type: "string", default: join(ROOT, "dist") },
    repeats: { type: "string", default: "2" },
    images: { type: "string" },
    epochs: { type: "string" },
    seed: { type: "string" },
    backends: { type: "string", default: "cpu,webgpu" },
    folder: { type: "string" },
    "image-size": { type: "string" },
    erm: { type: "string" },
  },
});

// Records, in the page, when the status line enters each step ("ERM training, epoch 1: ..." ->
// "ERM training, epoch 1") and when the run ends.
function watchSteps() {
  window.__labSteps = [];
  const status = () => document.querySelector("#lab-status");
  const observer = new MutationObserver(() => {
    const element = status();
    if (!element) return;
    const state = element.dataset.state;
    const step = state === "running" ? element.textContent.split(":")[0].trim() : state;
    const last = window.__labSteps.at(-1);
    if (!last || last.step !== step) window.__labSteps.push({ step, at: performance.now() });
  });
  observer.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
}

async function oneRun(page) {
  await page.evaluate(watchSteps);
  const start = await page.evaluate(() => performance.now());
  await runLab(page);
  const marks = await page.evaluate(() => window.__labSteps);
  const steps = {};
  for (let i = 0; i + 1 < marks.length; i++) {
    // Measuring accuracy after an ERM epoch counts with it; after the fine-tuning epoch, with
    // that; after the data or the memory measurement, it is a given ERM model's.
    const after = marks[i - 1]?.step ?? "";
    const given = /^(Reading|Downloading|Measuring the memory)/.test(after);
    const step = marks[i].step;
    const name = step.startsWith("Measuring accuracy") ? (given ? "ERM (yours) (measure)" : `${after} (measure)`) : step;
    steps[name] = (steps[name] ?? 0) + (marks[i + 1].at - marks[i].at) / 1000;
  }
  const table = await page.locator("#lab-results tbody tr").evaluateAll((rows) =>
    rows.map((r) => ({
      model: r.dataset.model,
      epoch: Number(r.dataset.epoch),
      // Spurious MNIST's two test sets, or a folder's one.
      ...Object.fromEntries(
        ["val", "original", "biased", "test"]
          .map((c) => [c, r.querySelector(`.${c}`)?.textContent])
          .filter(([, text]) => text !== undefined),
      ),
    })),
  );
  const worst = await page.locator("#lab-groups tbody tr").evaluateAll((rows) =>
    rows.map((r) => ({ set: r.dataset.set, model: r.dataset.model, worst: r.querySelector(".worst").textContent })),
  );
  return {
    total_s: ((await page.evaluate(() => performance.now())) - start) / 1000,
    steps,
    table,
    worst,
    effect: (await page.locator("#lab-effect").count()) ? await page.locator("#lab-effect").textContent() : null,
  };
}

const servers = {
  plain: await serveDirectory(options.dist),
  isolated: await serveDirectory(options.dist, { headers: ISOLATION_HEADERS }),
};
const results = [];
try {
  for (const backend of options.backends.split(",")) {
    if (!["cpu", "cpu-threads", "webgpu"].includes(backend)) throw new Error(`unknown backend ${backend}`);
    const server = backend === "cpu-threads" ? servers.isolated : servers.plain;
    const browser = await launchChromium({ webgpu: backend === "webgpu" });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const { images, epochs, seed, folder, erm } = options;
      const imageSize = options["image-size"];
      await openLab(page, server.url, { webgpu: backend === "webgpu", folder, erm, images, epochs, seed, imageSize });
      for (let repeat = 0; repeat < Number(options.repeats); repeat++) {
        const run = { backend, repeat, ...(await oneRun(page)), trains_on: await trainsOn(page) };
        console.log(JSON.stringify(run));
        results.push(run);
      }
    } finally {
      await browser.close();
    }
  }
} finally {
  Object.values(servers).forEach((server) => server.close());
}

const s = (v) => (v ?? 0).toFixed(1);
const tests = (row) => (row.test ? row.test : `${row.original} / ${row.biased}`);
const testsTitle = options.folder ? "test" : "orig / biased";
console.log(
  `\n| page backend | run | total (s) | data | memory check | ERM epochs (train + measure) | masking | fine-tuning (+ measure) | ERM ${testsTitle} | MaskTune ${testsTitle} |`,
);
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const r of results) {
  const sum = (f) => Object.entries(r.steps).filter(([k]) => f(k)).reduce((a, [, v]) => a + v, 0);
  const erm = r.table.filter((t) => t.model === "erm").at(-1);
  const mt = r.table.find((t) => t.model === "masktune");
  console.log(
    `| ${r.backend} | ${r.repeat + 1} | ${s(r.total_s)} | ${s(sum((k) => /^(Downloading|Handing|Reading)/.test(k)))} | ` +
      `${s(sum((k) => k.startsWith("Measuring the memory")))} | ` +
      `${s(sum((k) => k.startsWith("ERM")))} | ${s(sum((k) => k.startsWith("Masking")))} | ${s(sum((k) => k.startsWith("Fine-tuning")))} | ` +
      `${tests(erm)} | ${tests(mt)} |`,
  );
}
for (const backend of new Set(results.map((r) => r.backend))) {
  const runs = results.filter((r) => r.backend === backend).map((r) => JSON.stringify([r.table, r.worst]));
  console.log(`${backend}: ${runs.every((t) => t === runs[0]) ? "every run gave the same numbers" : "RUNS DIFFER"}`);
}
