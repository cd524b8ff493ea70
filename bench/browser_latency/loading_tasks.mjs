// The page's main-thread long tasks (PerformanceObserver 'longtask', over 50 ms) from its start
// until 3 s after its models are ready, each with its start relative to the moment
// `#model-status` said "ready", as is the moment it said "loading", over `loads` page loads per
// task. Run by hand, not by the tests.
//
//     node bench/browser_latency/loading_tasks.mjs [--dist dist] [--tasks spurious-mnist,cifar10,celeba]
//         [--loads 5] [--webgpu]
import { parseArgs } from "node:util";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory } from "../../e2e/support/server.js";
import { launchChromium, pageUrl } from "../../e2e/support/browser.js";
import { observeLongTasks } from "../../e2e/support/long_tasks.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const { values: options } = parseArgs({
  options: {
    dist: { type: "string", default: join(ROOT, "dist") },
    tasks: { type: "string", default: "spurious-mnist,cifar10,celeba" },
    loads: { type: "string", default: "5" },
    webgpu: { type: "boolean", default: false },
  },
});

const server = await serveDirectory(options.dist);
const browser = await launchChromium({ webgpu: options.webgpu });
try {
  console.log("| task | load | models loading from (ms) | long tasks: start (ms): duration (ms) |");
  console.log("|---|---:|---:|---|");
  for (const task of options.tasks.split(",")) {
    for (let load = 1; load <= Number(options.loads); load++) {
      const page = await browser.newPage();
      await page.addInitScript(observeLongTasks);
      await page.goto(pageUrl(server.url, { webgpu: options.webgpu, fragment: task }));
      await page.locator("#model-status[data-state='ready']").waitFor({ timeout: 300_000 });
      await page.waitForTimeout(3_000);
      const { longTasks, modelsAt } = await page.evaluate(() => ({ longTasks: window.longTasks, modelsAt: window.modelsAt }));
      const listed = longTasks.map((t) => `${(t.start - modelsAt.ready).toFixed(0)}: ${t.duration.toFixed(0)}`).join(", ");
      console.log(`| ${task} | ${load} | ${(modelsAt.loading - modelsAt.ready).toFixed(0)} | ${listed || "none"} |`);
      await page.close();
    }
  }
} finally {
  await browser.close();
  server.close();
}
