// The Lab in a real headless Chromium: a short run of the whole method (data, ERM, masking,
// fine-tuning) trained in the page's worker, on both backends the page can pick (with a software
// WebGPU adapter the Lab trains on the CPU backend and says so), and the stop button.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory } from "./support/server.js";
import { launchChromium, screenshot, collectConsole } from "./support/browser.js";

const DIST = process.env.MASKTUNE_DIST ?? join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
let server;

before(async () => {
  server = await serveDirectory(DIST);
});
after(() => server?.close());

async function openLab(browser) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const consoleLines = collectConsole(page);
  await page.goto(`${server.url}#lab`);
  await page.locator("#backend-status:not([data-state='starting'])").waitFor({ timeout: 120_000 });
  return { page, consoleLines };
}

async function setField(page, id, value) {
  await page.fill(id, String(value));
  await page.locator(id).dispatchEvent("change");
}

async function finished(page, consoleLines) {
  const end = page.locator("#lab-status:is([data-state='finished'], [data-state='failed'], [data-state='stopped'])");
  await end.waitFor({ timeout: 300_000 });
  const state = await end.getAttribute("data-state");
  return { state, text: `${await end.textContent()}\n${consoleLines.join("\n")}` };
}

const numbers = async (row) =>
  Object.fromEntries(
    await Promise.all(
      ["val", "original", "biased"].map(async (c) => [c, parseFloat(await row.locator(`td.${c}`).textContent())]),
    ),
  );

for (const webgpu of [false, true]) {
  const name = webgpu ? "webgpu" : "cpu-fallback";
  test(`a short Lab run trains, masks and fine-tunes in the page (${name})`, async () => {
    const browser = await launchChromium({ webgpu });
    try {
      const { page, consoleLines } = await openLab(browser);
      await setField(page, "#lab-images", 1000);
      await setField(page, "#lab-epochs", 1);
      await page.click("#lab-start");
      const { state, text } = await finished(page, consoleLines);
      await screenshot(page, `lab-${name}`);
      assert.equal(state, "finished", text);

      // It says what it trained on: the CPU backend here, also beside SwiftShader's adapter.
      const backend = page.locator("#lab-backend");
      assert.equal(await backend.getAttribute("data-backend"), "cpu");
      if (webgpu) assert.match(await backend.textContent(), /software/);
      assert.match(await page.locator("#lab-data").textContent(), /1000 training, 1000 validation and 1000 test images/);

      // The curves: one loss point per batch of 128 (8 batches), ERM then fine-tuning; one
      // accuracy point per epoch per held-out set.
      const points = async (figure, series) =>
        Number(await page.locator(`${figure} path[data-series='${series}']`).getAttribute("data-points"));
      assert.equal(await points("#lab-loss", "ERM"), 8);
      assert.equal(await points("#lab-loss", "fine-tuning (masked)"), 8);
      for (const series of ["original test", "biased test", "validation"]) {
        assert.equal(await points("#lab-accuracy", series), 2, series);
      }

      // The table: ERM's epoch, then MaskTune's, each with accuracies in [0, 100].
      const erm = page.locator("#lab-results tr[data-model='erm']");
      const masktune = page.locator("#lab-results tr[data-model='masktune']");
      assert.equal(await erm.count(), 1);
      assert.equal(await masktune.count(), 1);
      assert.equal(await masktune.getAttribute("data-epoch"), "2");
      for (const row of [erm, masktune]) {
        for (const [set, value] of Object.entries(await numbers(row))) {
          assert.ok(value >= 0 && value <= 100, `${set}: ${value}`);
        }
      }
      assert.match(await page.locator("#lab-effect").textContent(), /for ERM, .* for MaskTune/);

      // The masking grid: eight examples taking the four groups in turn (so the rare ones, about
      // five images in 1000, are shown too), with their pictures decoded.
      const examples = page.locator("#lab-masking figure.mask-example");
      assert.equal(await examples.count(), 8);
      for (const group of ["0-4, no square", "0-4, square", "5-9, no square", "5-9, square"]) {
        assert.ok(await page.locator(`figure.mask-example[data-group='${group}']`).count() >= 1, group);
      }
      const decoded = await examples.locator("img").evaluateAll((imgs) => imgs.filter((i) => i.naturalWidth === 28).length);
      assert.equal(decoded, 8 * 4);
    } finally {
      await browser.close();
    }
  });
}

test("the Lab stops on request, keeps what finished and runs again", async () => {
  const browser = await launchChromium({ webgpu: false });
  try {
    const { page, consoleLines } = await openLab(browser);
    // Settings are checked before anything runs.
    await setField(page, "#lab-images", 10);
    await page.click("#lab-start");
    await page.locator("#lab-status[data-state='failed']").waitFor({ timeout: 10_000 });
    assert.match(await page.locator("#lab-status").textContent(), /10 images: choose 100 to 10000/);

    await setField(page, "#lab-images", 2000);
    await setField(page, "#lab-epochs", 3);
    await page.click("#lab-start");
    // Stop during the second ERM epoch: the first is kept.
    await page.locator("#lab-results tr[data-model='erm'][data-epoch='1']").waitFor({ timeout: 120_000 });
    await page.locator("#lab-status[data-state='running']", { hasText: "epoch 2" }).waitFor({ timeout: 60_000 });
    await page.click("#lab-stop");
    const { state, text } = await finished(page, consoleLines);
    assert.equal(state, "stopped", text);
    assert.equal(await page.locator("#lab-results tr").count(), 2, "the header and epoch 1");
    assert.equal(await page.locator("#lab-masking").count(), 0, "no masking after a stop");

    // The worker is free again: a short run completes.
    await setField(page, "#lab-images", 200);
    await setField(page, "#lab-epochs", 1);
    await page.click("#lab-start");
    assert.equal((await finished(page, consoleLines)).state, "finished");
  } finally {
    await browser.close();
  }
});
