// The page's own timings of one task: `repeats + 1` copies of the task's example image given to
// the built page one after the other (latency.mjs and bench/vs_onnxruntime use it).
import { readFile } from "node:fs/promises";
import { basename, join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium, collectConsole, pageUrl } from "../../e2e/support/browser.js";

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

// Readies the task's image in the page for giveImage. The image is handed over by the page's own
// script, as a picked file reaches it (a File on the input, then its change event), and timed by
// the page's clock from just before that until the result is in the DOM. Playwright's
// setInputFiles would add its own work on the page's thread to the first image (its injected
// script, ~100 ms).
export async function prepareImage(page, task, format = "png") {
  const bytes = (await readFile(IMAGES[task])).toString("base64");
  await page.evaluate(async ({ bytes, name, format }) => {
    const data = Uint8Array.from(atob(bytes), (c) => c.charCodeAt(0));
    window.benchFile = new File([data], name, { type: "image/png" });
    if (format !== "png") {
      const bitmap = await createImageBitmap(window.benchFile);
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      canvas.getContext("2d").drawImage(bitmap, 0, 0);
      const type = `image/${format}`;
      const converted = await canvas.convertToBlob({ type, quality: 1 });
      if (converted.type !== type) throw new Error(`this browser cannot write ${type}`);
      window.benchFile = new File([converted], name.replace(/png$/, format), { type });
    }
    window.shownAt = [];
    const count = () => document.querySelectorAll("article.result .decision, article.result .error").length;
    new MutationObserver(() => {
      while (window.shownAt.length < count()) window.shownAt.push(performance.now());
      window.onShown?.();
    }).observe(document.body, { subtree: true, childList: true });
  }, { bytes, name: basename(IMAGES[task]), format });
}

// Gives the page its image (prepareImage) for the `n`th time (from 0) and resolves with the
// milliseconds until its result shows. Marks the moment it is given in the page's timeline
// (`image-n-given`), for a trace of the run (first_image_trace.mjs).
export async function giveImage(page, n) {
  return page.evaluate(
    (n) =>
      new Promise((resolve, reject) => {
        const timeout = setTimeout(() => reject(new Error(`no result ${n + 1} within 120 s`)), 120_000);
        const input = document.querySelector("#file-input");
        const files = new DataTransfer();
        files.items.add(window.benchFile);
        performance.mark(`image-${n}-given`);
        const start = performance.now();
        window.onShown = () => {
          if (window.shownAt.length > n) {
            clearTimeout(timeout);
            resolve(window.shownAt[n] - start);
          }
        };
        input.files = files.files;
        input.dispatchEvent(new Event("change", { bubbles: true }));
      }),
    n,
  );
}

// Gives the page `repeats + 1` copies of the image one after the other, each once the previous
// result is shown; the first (shader compilation, first allocations) is reported apart. The first
// comes `pauseMs` after the models are ready (0: at once, sooner than a person could give one).
// `format` other than "png" gives the image as that format instead (the browser's encoder at its
// highest quality): "webp" takes the page's path for the formats the browser decodes.
export async function measure(server, task, webgpu, repeats, pauseMs = 0, format = "png") {
  const browser = await launchChromium({ webgpu });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const consoleLines = collectConsole(page);
    await page.goto(pageUrl(server.url, { webgpu, fragment: task }));
    await page.locator("#model-status[data-state='ready']").waitFor({ timeout: 180_000 }).catch((error) => {
      throw new Error(`${task}: models never became ready: ${error.message}\n${consoleLines.join("\n")}`);
    });
    await prepareImage(page, task, format);
    await page.waitForTimeout(pauseMs);
    const runs = [];
    for (let i = 0; i <= repeats; i++) {
      const wall = await giveImage(page, i);
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
    // What is neither decoding nor the models: messages, answering, drawing, the page's handlers.
    for (const run of runs) run.rest = run.wall - run.decode - run.erm - run.masking - run.masktune;
    const [first, ...rest] = runs;
    const row = {
      task,
      compute: webgpu ? "WebGPU" : "CPU fallback",
      backend_label: await page.locator("#backend-status strong").textContent(),
      engine: first.engine,
      repeats,
      pause_ms: pauseMs,
      first_ms: first.wall,
      first_decode_ms: first.decode,
      decode_ms: median(rest.map((r) => r.decode)),
      end_to_end_ms: median(rest.map((r) => r.wall)),
      first_models_ms: first.erm + first.masking + first.masktune,
      models_ms: median(rest.map((r) => r.erm + r.masking + r.masktune)),
      first_rest_ms: first.rest,
      rest_ms: median(rest.map((r) => r.rest)),
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

