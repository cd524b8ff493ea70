// Inference latency per image in the built page, end to end (file given to the page -> decision
// shown: decode, crop and resize, ERM, XGradCAM + masking, MaskTune, drawing), in Debian's headless
// Chromium with WebGPU (SwiftShader here) and with the CPU fallback. Run by hand (run.sh), not by
// the tests. Prints one JSON object per line and a Markdown table of medians.
//
//     node bench/browser_latency/latency.mjs [--dist dist] [--repeats 10] [--tasks cifar10,celeba]
import { parseArgs } from "node:util";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory } from "../../e2e/support/server.js";
import { launchChromium, collectConsole } from "../../e2e/support/browser.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const EXAMPLES = join(ROOT, "app", "assets", "examples");
// One image per task, larger than the model's input so that the crop and resize are measured too.
const IMAGES = {
  "spurious-mnist": join(EXAMPLES, "digit-3-square.png"),
  cifar10: join(EXAMPLES, "cat-chelsea.png"),
  celeba: join(EXAMPLES, "face-astronaut.png"),
};

const { values: options } = parseArgs({
  options: {
    dist: { type: "string", default: join(ROOT, "dist") },
    repeats: { type: "string", default: "10" },
    tasks: { type: "string", default: "cifar10,celeba" },
  },
});
const repeats = Number(options.repeats);

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// Gives the page `repeats + 1` copies of the image one after the other, each once the previous
// result is shown; the first (shader compilation, first allocations) is reported apart.
async function measure(server, task, webgpu) {
  const browser = await launchChromium({ webgpu });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const consoleLines = collectConsole(page);
    await page.goto(`${server.url}#${task}`);
    await page.locator("#model-status[data-state='ready']").waitFor({ timeout: 180_000 }).catch((error) => {
      throw new Error(`${task}: models never became ready: ${error.message}\n${consoleLines.join("\n")}`);
    });
    // Timed by the page's own clock: when each result appears (a MutationObserver), from just
    // before the file is given. (Timing from here would add Playwright's own first-call costs,
    // ~100 ms, to the first image.)
    await page.evaluate(() => {
      window.shownAt = [];
      const count = () => document.querySelectorAll("article.result .decision, article.result .error").length;
      new MutationObserver(() => {
        while (window.shownAt.length < count()) window.shownAt.push(performance.now());
      }).observe(document.body, { subtree: true, childList: true });
    });
    const runs = [];
    for (let i = 0; i <= repeats; i++) {
      const start = await page.evaluate(() => performance.now());
      await page.setInputFiles("#file-input", IMAGES[task]);
      await page.waitForFunction(
        (n) => document.querySelectorAll("article.result .decision, article.result .error").length === n,
        i + 1,
        { timeout: 120_000, polling: 5 },
      );
      const wall = (await page.evaluate((n) => window.shownAt[n], i)) - start;
      // The page shows the newest result first.
      const steps = await page.locator("article.result").first().evaluate((card) => {
        const error = card.querySelector(".error");
        const times = card.querySelector(".fine-print")?.dataset ?? {};
        return {
          error: error?.textContent ?? null,
          engine: card.querySelector(".decision")?.dataset.maskingEngine,
          decode: Number(times.decodeMs),
          erm: Number(times.ermMs),
          masking: Number(times.maskingMs),
          masktune: Number(times.masktuneMs),
        };
      });
      if (steps.error) throw new Error(`${task}: the page reported ${steps.error}`);
      runs.push({ wall, ...steps });
    }
    const [first, ...rest] = runs;
    const row = {
      task,
      compute: webgpu ? "WebGPU" : "CPU fallback",
      engine: first.engine,
      repeats,
      first_ms: first.wall,
      first_decode_ms: first.decode,
      decode_ms: median(rest.map((r) => r.decode)),
      end_to_end_ms: median(rest.map((r) => r.wall)),
      erm_ms: median(rest.map((r) => r.erm)),
      saliency_and_masking_ms: median(rest.map((r) => r.masking)),
      masktune_ms: median(rest.map((r) => r.masktune)),
    };
    console.log(JSON.stringify(row));
    return row;
  } finally {
    await browser.close();
  }
}

const server = await serveDirectory(options.dist);
const rows = [];
try {
  for (const task of options.tasks.split(",")) {
    if (!IMAGES[task]) throw new Error(`unknown task ${task}: one of ${Object.keys(IMAGES).join(", ")}`);
    for (const webgpu of [true, false]) rows.push(await measure(server, task, webgpu));
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
