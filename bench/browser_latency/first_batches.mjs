// The page on WebGPU given several images at once, twice in a row: how long until the models are
// ready, and the worker's own step times (ERM, XGradCAM + masking, MaskTune) for each batch, read
// from the cards. A first batch much slower than the second is work left to the user that the
// warm-up could do. In Debian's headless Chromium (SwiftShader's adapter here), by hand (not in
// the tests). Several `--dist` folders are measured in turn within each round, so that a busy
// machine slows them alike.
//
//     node bench/browser_latency/first_batches.mjs [--dist dist[,other-dist...]] [--rounds 2]
//         [--tasks spurious-mnist,cifar10,celeba] [--batches 2,2]
import { parseArgs } from "node:util";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory } from "../../e2e/support/server.js";
import { launchChromium, pageUrl } from "../../e2e/support/browser.js";
import { IMAGES } from "./page_timings.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const { values: options } = parseArgs({
  options: {
    dist: { type: "string", default: join(ROOT, "dist") },
    rounds: { type: "string", default: "2" },
    tasks: { type: "string", default: "spurious-mnist,cifar10,celeba" },
    batches: { type: "string", default: "2,2" },
  },
});
const batches = options.batches.split(",").map(Number);

// One page load: the milliseconds from opening the page until its models are ready, then each
// batch's step times (the images of one batch share them).
async function measure(browser, url, task) {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  try {
    const opened = Date.now();
    await page.goto(pageUrl(url, { webgpu: true, fragment: task }));
    await page.locator("#model-status[data-state='ready']").waitFor({ timeout: 180_000 });
    const readyMs = Date.now() - opened;
    const steps = [];
    let given = 0;
    for (const size of batches) {
      await page.setInputFiles("#file-input", Array(size).fill(IMAGES[task]));
      given += size;
      await page.waitForFunction((n) => document.querySelectorAll("article.result .decision").length === n, given, {
        timeout: 300_000,
      });
      // The newest card comes first.
      steps.push(
        await page.evaluate(() => {
          const { ermMs, maskingMs, masktuneMs } = document.querySelector("article.result .fine-print[data-erm-ms]").dataset;
          return { erm: Number(ermMs), masking: Number(maskingMs), masktune: Number(masktuneMs) };
        }),
      );
    }
    return { readyMs, steps };
  } finally {
    await page.close();
  }
}

const dists = options.dist.split(",");
const servers = await Promise.all(dists.map((dist) => serveDirectory(dist)));
const browser = await launchChromium({ webgpu: true });
const rows = [];
try {
  for (let round = 0; round < Number(options.rounds); round++) {
    for (const task of options.tasks.split(",")) {
      for (const [i, dist] of dists.entries()) {
        const result = await measure(browser, servers[i].url, task);
        console.log(JSON.stringify({ dist, task, ...result }));
        rows.push({ dist, task, ...result });
      }
    }
  }
} finally {
  await browser.close();
  servers.forEach((server) => server.close());
}

const ms = (value) => value.toFixed(0);
console.log(`\n| build | task | models ready (ms) | ${batches.map((size, n) => `batch ${n + 1} (${size}): ERM / masking / MaskTune (ms)`).join(" | ")} |`);
console.log(`|---|---|---|${batches.map(() => "---|").join("")}`);
for (const { dist, task, readyMs, steps } of rows) {
  const cells = steps.map((s) => `${ms(s.erm)} / ${ms(s.masking)} / ${ms(s.masktune)}`);
  console.log(`| ${dist} | ${task} | ${ms(readyMs)} | ${cells.join(" | ")} |`);
}
