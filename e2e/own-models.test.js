// "Your own models": the two bundles of a trainer-native run on an image folder (scripts/test.sh
// makes them, as README's "MaskTune on your own images" does) are given to the page, which then
// answers as `trainer-native predict` does; a truncated, a mismatched and a same-kind pair each
// get their message.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile, mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory } from "./support/server.js";
import { launchChromium, screenshot, collectConsole, pageUrl, computeBackend } from "./support/browser.js";
import { accessibilityViolations } from "./support/accessibility.js";
import { readCards, assertAgrees, trainerPredictions } from "./support/cards.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..");
const DIST = process.env.MASKTUNE_DIST ?? join(ROOT, "dist");
const OWN = join(ROOT, "target", "e2e", "own");
const BUNDLES = join(OWN, "runs", "shapes", "bundles");
const SIDE = 32;

let server;
before(async () => {
  server = await serveDirectory(DIST);
});
after(() => server?.close());

async function givePair(page, files) {
  await page.setInputFiles("#bundle-input", files);
  const status = page.locator("#model-status:not([data-state='loading']):not([data-state='awaiting'])");
  await status.waitFor({ timeout: 120_000 });
  return { state: await status.getAttribute("data-state"), text: await status.textContent() };
}

for (const webgpu of [true, false]) {
  test(`your own models: a folder run's bundles answer as trainer-native does (${webgpu ? "WebGPU" : "CPU fallback"})`, async () => {
    const expected = await trainerPredictions("own");
    const images = [];
    for (const shape of ["disc", "square"]) {
      const folder = join(OWN, "shapes", "test", shape);
      images.push(...(await readdir(folder)).filter((f) => Object.hasOwn(expected, f)).map((f) => join(folder, f)));
    }
    assert.ok(images.length >= 4, "scripts/test.sh predicted some of the folder's test images");
    const erm = join(BUNDLES, "erm.bundle");
    const masktune = join(BUNDLES, "masktune.bundle");
    const scratch = await mkdtemp(join(tmpdir(), "masktune-bundles-"));
    const truncated = join(scratch, "masktune-cut.bundle");
    const bytes = await readFile(masktune);
    await writeFile(truncated, bytes.subarray(0, bytes.length >> 1));

    const browser = await launchChromium({ webgpu });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const consoleLines = collectConsole(page);
      await page.goto(pageUrl(server.url, { webgpu }));
      assert.equal(await computeBackend(page), webgpu ? "webgpu" : "cpu");
      await page.selectOption("#task", "own");
      await page.locator("#model-status[data-state='awaiting']").waitFor();
      assert.deepEqual(await accessibilityViolations(page), [], "axe-core finds nothing to fix in the bundle picker");
      assert.ok(await page.locator("#file-input").isDisabled(), "no images before models");

      // Each bad pair says what is wrong, naming the file where one is at fault.
      for (const [files, message] of [
        [[erm, truncated], /masktune-cut\.bundle: bundle is truncated/],
        [[erm, erm], /both ERM bundles/],
        [[erm, join(ROOT, "app", "assets", "models", "spurious-mnist-masktune.mtb")], /different inputs or classes/],
        [[erm], /choose two files, the ERM and the MaskTune bundle of one run \(1 given\)/],
      ]) {
        const status = await givePair(page, files);
        assert.equal(status.state, "failed", `${files.join(", ")}: ${status.text}`);
        assert.match(status.text, message);
      }

      // The good pair, MaskTune's first: the page tells which is which.
      const status = await givePair(page, [masktune, erm]);
      assert.equal(status.state, "ready", `${status.text}\n${consoleLines.join("\n")}`);
      assert.match(status.text, /on folder \(2 classes, 32×32 input\)/);
      await page.setInputFiles("#file-input", images);
      await page.waitForFunction(
        (n) => document.querySelectorAll("article.result .decision, article.result .error").length === n,
        images.length,
        { timeout: 120_000 },
      );
      await screenshot(page, `own-models-${webgpu ? "webgpu" : "cpu"}`);
      const cards = Object.fromEntries((await readCards(page)).map((c) => [c.name, c]));
      for (const name of Object.keys(cards)) {
        assert.equal(cards[name].error, null, `${name}: ${cards[name].error}`);
        assertAgrees(cards[name], expected[name], { name, side: SIDE, webgpu });
      }
      // The run's own thresholds and curves are shown.
      assert.ok(await page.locator("#selective figure.summary[data-set='test']").count() > 0, "the run's test set curve");
      assert.equal(await page.locator("#coverage").getAttribute("max"), "50", "the run's 51 thresholds");
    } finally {
      await browser.close();
    }
  });
}
