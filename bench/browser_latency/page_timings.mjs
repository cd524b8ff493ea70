// The page's own timings of one task: `repeats + 1` copies of the task's example image given to
// the built page one after the other (latency.mjs and bench/vs_onnxruntime use it).
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium, collectConsole } from "../../e2e/support/browser.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const EXAMPLES = join(ROOT, "app", "assets", "examples");
// One image per task, larger than the model's input so that the crop and resize are measured too.
export const IMAGES = {
  "spurious-mnist": join(EXAMPLES, "digit-3-square.png"),
  cifar10: join(EXAMPLES, "cat-chelsea.png"),
  celeba: join(EXAMPLES, "face-astronaut.png"),
};

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// Gives the page `repeats + 1` copies of the image one after the other, each once the previous
// result is shown; the first (shader compilation, first allocations) is reported apart.
export async function measure(server, task, webgpu, repeats) {
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

