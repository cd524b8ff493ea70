// How long the page takes to answer again after its compute worker stops (a panic, or running
// out of memory): from the stop until the new worker has started and until it has loaded the
// same models again, beside the page's first start. The stop is simulated as the end-to-end
// tests simulate it (an uncaught error in the worker). Medians over `loads` page loads, each
// stopping its worker once. Run by hand, not by the tests.
//
//     node bench/browser_latency/restart.mjs [--dist dist] [--tasks spurious-mnist,cifar10,celeba]
//         [--loads 5] [--webgpu]
import { parseArgs } from "node:util";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory } from "../../e2e/support/server.js";
import { launchChromium, pageUrl, stopComputeWorker } from "../../e2e/support/browser.js";
import { median } from "./page_timings.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const { values: options } = parseArgs({
  options: {
    dist: { type: "string", default: join(ROOT, "dist") },
    tasks: { type: "string", default: "spurious-mnist,cifar10,celeba" },
    loads: { type: "string", default: "5" },
    webgpu: { type: "boolean", default: false },
  },
});

// One page load: seconds from navigation to models ready, and from the stop to the new worker's
// report and to the models ready again.
async function load(browser, server, task) {
  const page = await browser.newPage();
  try {
    const modelsReady = page.locator("#model-status[data-state='ready']");
    const opened = performance.now();
    await page.goto(pageUrl(server.url, { webgpu: options.webgpu, fragment: task }));
    await modelsReady.waitFor({ timeout: 300_000 });
    const firstStart = performance.now() - opened;

    const stopped = performance.now();
    await stopComputeWorker(page);
    await page.locator("#worker-restarted").waitFor({ timeout: 120_000 });
    const workerReady = performance.now() - stopped;
    await modelsReady.waitFor({ timeout: 300_000 });
    const modelsAgain = performance.now() - stopped;
    return { firstStart, workerReady, modelsAgain };
  } finally {
    await page.close();
  }
}

const server = await serveDirectory(options.dist);
const browser = await launchChromium({ webgpu: options.webgpu });
try {
  const rows = [];
  for (const task of options.tasks.split(",")) {
    const runs = [];
    for (let i = 0; i < Number(options.loads); i++) runs.push(await load(browser, server, task));
    const seconds = (key) => (median(runs.map((run) => run[key])) / 1000).toFixed(2);
    rows.push(`| ${task} | ${seconds("firstStart")} | ${seconds("workerReady")} | ${seconds("modelsAgain")} |`);
  }
  console.log(`Medians over ${options.loads} page loads (${options.webgpu ? "WebGPU" : "CPU"} page), seconds:\n`);
  console.log("| task | first start: models ready | after a stop: new worker ready | after a stop: models ready again |");
  console.log("|---|---:|---:|---:|");
  for (const row of rows) console.log(row);
} finally {
  await browser.close();
  server.close();
}
