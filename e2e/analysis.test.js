// A user's path through the page, in a real headless Chromium: load the shipped models, give images
// through the file input (good and bad ones), read predictions, heatmaps and decisions.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory } from "./support/server.js";
import { launchChromium, screenshot, collectConsole } from "./support/browser.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const DIST = process.env.MASKTUNE_DIST ?? join(HERE, "..", "dist");
const EXAMPLES = join(HERE, "..", "app", "assets", "examples");
const FIXTURES = join(HERE, "fixtures");
// What trainer-native computed for the same images with the same bundles (scripts/test.sh writes it).
const TRAINER_PREDICTIONS = join(HERE, "..", "target", "e2e", "trainer-predictions.json");

const GOOD = ["digit-3-square.png", "digit-3.png", "digit-8-square.png", "digit-8.png"];
const BAD = {
  "notes.txt": /not an image/,
  "corrupt.png": /could not be decoded/,
  "tiny.png": /too small/,
};
const UNUSUAL = ["cmyk.jpg", "gray.png"];

let server;
before(async () => {
  server = await serveDirectory(DIST);
});
after(() => server?.close());

async function analyseInPage({ webgpu }) {
  const browser = await launchChromium({ webgpu });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const consoleLines = collectConsole(page);
    await page.goto(server.url);
    await page.locator("#model-status[data-state='ready']").waitFor({ timeout: 180_000 }).catch(async (error) => {
      const status = await page.locator("#model-status").textContent().catch(() => "(none)");
      throw new Error(`models never became ready (${status}): ${error.message}\n${consoleLines.join("\n")}`);
    });
    const files = [...GOOD.map((f) => join(EXAMPLES, f)), ...[...Object.keys(BAD), ...UNUSUAL].map((f) => join(FIXTURES, f))];
    await page.setInputFiles("#file-input", files);
    const total = GOOD.length + Object.keys(BAD).length + UNUSUAL.length;
    await page.waitForFunction(
      (n) => document.querySelectorAll("article.result .decision, article.result .error").length === n,
      total,
      { timeout: 300_000 },
    );
    await screenshot(page, webgpu ? "analysis-webgpu" : "analysis-cpu");
    const cards = await page.locator("article.result").evaluateAll((articles) =>
      articles.map((a) => {
        const d = a.querySelector(".decision");
        return {
          name: a.dataset.name,
          error: a.querySelector(".error")?.textContent ?? null,
          decision: d?.dataset.decision ?? null,
          ermClass: d?.dataset.ermClass ?? null,
          masktuneClass: d?.dataset.masktuneClass ?? null,
          confidence: d ? Number(d.dataset.confidence) : null,
          maskedPixels: d ? Number(d.dataset.maskedPixels) : null,
          images: [...a.querySelectorAll("img")].map((img) => img.naturalWidth),
        };
      }),
    );
    // The coverage slider works from the keyboard: End selects the largest coverage.
    await page.locator("#coverage").focus();
    await page.keyboard.press("End");
    const coverageText = await page.locator("#coverage-value").textContent();
    // A narrow screen (a phone) still shows everything without sideways scrolling.
    await page.setViewportSize({ width: 380, height: 800 });
    await screenshot(page, webgpu ? "analysis-narrow-webgpu" : "analysis-narrow-cpu");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    return { cards, coverageText, overflow, console: consoleLines.join("\n") };
  } finally {
    await browser.close();
  }
}

async function trainerPredictions() {
  return JSON.parse(await readFile(TRAINER_PREDICTIONS, "utf8"));
}

for (const webgpu of [true, false]) {
  test(`images are analysed in the page (${webgpu ? "WebGPU" : "CPU fallback"})`, async () => {
    const result = await analyseInPage({ webgpu });
    const byName = Object.fromEntries(result.cards.map((c) => [c.name, c]));
    const expected = await trainerPredictions();
    for (const name of GOOD) {
      const card = byName[name];
      assert.ok(card, `no result card for ${name}`);
      assert.equal(card.error, null, `${name} failed: ${card.error}\n${result.console}`);
      assert.match(card.decision, /^(accept|abstain)$/);
      assert.deepEqual(card.images.length, 3, "input, heatmap and masked image are shown");
      assert.ok(card.images.every((w) => w > 0), `${name}: every image is drawn`);
      // The page and trainer-native agree on the same bundle and image.
      const trainer = expected[name];
      assert.ok(trainer, `trainer-native has no prediction for ${name}`);
      assert.equal(card.ermClass, trainer.erm_class, `${name}: ERM class`);
      assert.equal(card.masktuneClass, trainer.masktune_class, `${name}: MaskTune class`);
      assert.ok(Math.abs(card.confidence - trainer.confidence) < 1e-3, `${name}: confidence ${card.confidence} vs ${trainer.confidence}`);
      const pixels = 28 * 28;
      assert.ok(Math.abs(card.maskedPixels - trainer.masked_pixels) <= 0.01 * pixels,
        `${name}: masked ${card.maskedPixels} px in the page, ${trainer.masked_pixels} px in the trainer`);
    }
    for (const [name, message] of Object.entries(BAD)) {
      assert.match(byName[name]?.error ?? "", message, `${name} gets a clear message`);
    }
    for (const name of UNUSUAL) {
      assert.equal(byName[name]?.error, null, `${name} (an unusual but valid image) is analysed`);
    }
    assert.match(result.coverageText, /^100%/, "End moves the coverage slider to 100%");
    assert.ok(result.overflow <= 0, `the narrow layout overflows by ${result.overflow}px`);
  });
}
