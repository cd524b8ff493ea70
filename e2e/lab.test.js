// The Lab in a real headless Chromium: a short run of the whole method (data, ERM, masking,
// fine-tuning, evaluation) trained in the page's worker, on both backends the page can pick (with
// a software WebGPU adapter the Lab trains on the CPU backend and says so); its model pair,
// downloaded and read by `trainer-native predict`, answers as the page's analysis view does; a
// run on a folder of the user's own images (class subfolders) placed as the trainer places it;
// a run from the user's own trained model; the stop button, and a worker that stops during a
// run (on the MNIST subset or the folder), each followed by a run that continues from the last
// epoch (in ERM, or after it in the fine-tuning); the worker's memory over three runs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFile, mkdir, readFile, rm } from "node:fs/promises";
import { join, dirname, basename } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { accessibilityViolations } from "./support/accessibility.js";
import { serveDirectory } from "./support/server.js";
import { runEnded, runOutcome, writeExampleFolder } from "./support/lab.js";
import { launchChromium, screenshot, collectConsole, pageUrl, setField, sidewaysOverflow, stopComputeWorker, SIMULATED_STOP } from "./support/browser.js";
import { readCards, assertAgrees } from "./support/cards.js";
import { version } from "../scripts/stamp_assets.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const DIST = process.env.MASKTUNE_DIST ?? join(ROOT, "dist");
// The trainer binary the downloaded bundles are checked with (scripts/test.sh sets it).
const TRAINER = process.env.MASKTUNE_TRAINER ?? join(ROOT, "target", "debug", "trainer-native");
const DIGITS = ["digit-3-square.png", "digit-3.png", "digit-8-square.png", "digit-8.png"].map((f) =>
  join(ROOT, "app", "assets", "examples", f),
);
// The example image folder (scripts/example-image-folder.mjs: 40 + 10 images of each of two
// classes, 32 px) and the trainer's run on it, both written by scripts/test.sh.
const SHAPES = join(ROOT, "target", "e2e", "own", "shapes");
const SHAPES_RUN = join(ROOT, "target", "e2e", "own", "runs", "shapes");
let server;
// The address of every file served (path and query).
const served = [];

before(async () => {
  server = await serveDirectory(DIST, { served });
});
after(() => server?.close());

async function openLab(browser, { webgpu = false } = {}) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const consoleLines = collectConsole(page);
  await page.goto(pageUrl(server.url, { webgpu, fragment: "lab" }));
  await page.locator("#backend-status:not([data-state='starting'])").waitFor({ timeout: 120_000 });
  return { page, consoleLines };
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
      const { page, consoleLines } = await openLab(browser, { webgpu });
      await setField(page, "#lab-images", 1000);
      await setField(page, "#lab-epochs", 1);
      await page.click("#lab-start");
      const { state, text } = await runEnded(page, consoleLines);
      await screenshot(page, `lab-${name}`);
      assert.equal(state, "finished", text);

      // It says what it trained on: the CPU backend here, also beside SwiftShader's adapter.
      const backend = page.locator("#lab-backend");
      assert.equal(await backend.getAttribute("data-backend"), "cpu");
      if (webgpu) assert.match(await backend.textContent(), /software/);
      assert.match(await page.locator("#lab-data").textContent(), /1000 training, 1000 validation and 1000 test images/);
      // The data's four files came by the versions the build stamped on them, so that a redeploy
      // with new data reaches people who ran the Lab before (scripts/stamp_assets.mjs).
      const data = served.map((address) => new URL(address, server.url)).filter((url) => url.pathname.startsWith("/assets/lab/"));
      assert.equal(new Set(data.map((url) => url.pathname)).size, 4, `the Lab's data: ${data}`);
      for (const url of data) {
        assert.equal(url.searchParams.get("v"), await version(join(DIST, url.pathname)), url.href);
      }

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
      // The pictures are the worker's PNG files, which load after the grid shows.
      await page.waitForFunction(() => [...document.querySelectorAll("#lab-masking img")].every((img) => img.complete));
      const decoded = await examples.locator("img").evaluateAll((imgs) => imgs.filter((i) => i.naturalWidth === 28).length);
      assert.equal(decoded, 8 * 4);

      await checkEvaluation(page);
      assert.deepEqual(await accessibilityViolations(page), [], "axe-core finds nothing to fix in the Lab");
      // On a phone the Lab's wide tables scroll in their boxes, never the page.
      const overflow = await sidewaysOverflow(page);
      await screenshot(page, `lab-${name}-narrow`);
      assert.ok(overflow.px <= 0, `at 320 px the Lab overflows by ${overflow.px}px: ${overflow.outside}`);
      await page.setViewportSize({ width: 1100, height: 900 });
      const ermNumbers = await numbers(erm);
      await checkModelPair(page, name, webgpu, { images: DIGITS, side: 28 });

      // The run's ERM bundle, given back to the Lab, is measured as the run measured it and is
      // fine-tuned again (here at another learning rate) without training ERM anew.
      if (!webgpu) {
        await page.click("#view-lab");
        await page.click("#lab-erm-given");
        await page.setInputFiles("#lab-erm-input", join(ROOT, "target", "e2e", "lab", name, "lab-seed0-erm.mtb"));
        await page.locator("#lab-erm[data-state='ready']").waitFor();
        assert.match(await page.locator("#lab-erm").textContent(), /^lab-seed0-erm\.mtb: MNIST CNN \(width 16\) trained on spurious_mnist; classes 0-4, 5-9; 28×28 px images\.$/);
        await setField(page, "#lab-lr", 0.005);
        await page.click("#lab-start");
        const again = await runEnded(page, consoleLines);
        assert.equal(again.state, "finished", again.text);
        const given = page.locator("#lab-results tr[data-model='erm']");
        assert.equal(await given.getAttribute("data-epoch"), "0");
        assert.deepEqual(await numbers(given), ermNumbers, "the same model on the same sets");
        assert.equal(await page.locator("#lab-results tr[data-model='masktune']").getAttribute("data-epoch"), "1");
        assert.match(await page.locator("#lab-effect").textContent(), /for ERM, .* for MaskTune/);
      }
    } finally {
      await browser.close();
    }
  });
}

// A row's group cells: their text, and the counts they carry.
const groupCells = (row) =>
  row.locator("td.group").evaluateAll((cells) =>
    cells.map((c) => ({ text: c.textContent, correct: Number(c.dataset.correct), count: Number(c.dataset.count) })),
  );

// The trainer's evaluation: accuracy per group with counts (both test sets, ERM best and last,
// MaskTune) and the selective table with validation thresholds for each test set.
async function checkEvaluation(page) {
  const rows = page.locator("#lab-groups tbody tr");
  assert.equal(await rows.count(), 6, "two test sets x three models");
  for (const row of await rows.all()) {
    const cells = await groupCells(row);
    assert.equal(cells.length, 4, "four groups");
    for (const { text, correct, count } of cells) {
      assert.ok(correct <= count, text);
      assert.ok(count === 0 ? text === "no images" : text.endsWith(`% (${correct} of ${count})`), text);
    }
    assert.equal(cells.reduce((sum, c) => sum + c.count, 0), 1000, `every test image in one group: ${cells.map((c) => c.text)}`);
  }
  // The biased test's groups: the square on every 5-9 and on no 0-4.
  const biased = await groupCells(page.locator("#lab-groups tr[data-set='test_biased'][data-model='erm_best']"));
  assert.equal(biased[1].text, "no images", "no 0-4 with a square");
  assert.equal(biased[2].text, "no images", "no 5-9 without one");
  for (const set of ["test_original", "test_biased"]) {
    const table = page.locator(`#lab-evaluation figure.summary[data-set='${set}'] tbody tr`);
    assert.equal(await table.count(), 5, `${set}: 80, 85, 90, 95 and 100 % coverage`);
  }

  // The evaluation as a file (the format of `trainer-native evaluate --json`) holds the table's
  // numbers and a threshold for every whole percent of coverage from 50 to 100.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#lab-download-evaluation")]);
  assert.equal(download.suggestedFilename(), "masktune-lab-evaluation.json");
  const report = JSON.parse(await readFile(await download.path(), "utf8"));
  assert.equal(report.thresholds.length, 51);
  for (const row of await rows.all()) {
    const [set, model] = [await row.getAttribute("data-set"), await row.getAttribute("data-model")];
    const groups = report.sets.find((s) => s.set === set)?.models.find((m) => m.model === model)?.groups?.groups;
    assert.ok(groups, `${set} / ${model} is in the file`);
    const shown = (await groupCells(row)).map((c) => `${c.correct} of ${c.count}`);
    assert.deepEqual(groups.map((g) => `${g.correct} of ${g.count}`), shown, `${set} / ${model}`);
  }
}

// The pair downloads as two bundles; trainer-native predict reads them and answers for `images`
// (of `side` px once read) exactly as the page's analysis view does with the same pair.
async function checkModelPair(page, name, webgpu, { images, side }) {
  const dir = join(ROOT, "target", "e2e", "lab", name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const saved = {};
  for (const model of ["erm", "masktune"]) {
    const [download] = await Promise.all([page.waitForEvent("download"), page.click(`#lab-download-${model}`)]);
    assert.equal(download.suggestedFilename(), `lab-seed0-${model}.mtb`);
    saved[model] = join(dir, download.suggestedFilename());
    await download.saveAs(saved[model]);
  }
  const out = join(dir, "trainer-predictions.json");
  await promisify(execFile)(TRAINER, ["predict", "--erm", saved.erm, "--masktune", saved.masktune, "--out", out, ...images])
    .catch((error) => assert.fail(`${TRAINER} predict on the downloaded bundles failed (set MASKTUNE_TRAINER?): ${error.message}`));
  const expected = JSON.parse(await readFile(out, "utf8"));

  await page.click("#lab-analyse");
  assert.equal(await page.locator("#view-analyse").getAttribute("aria-pressed"), "true");
  assert.equal(await page.inputValue("#task"), "lab-models");
  const status = page.locator("#model-status:not([data-state='loading'])");
  await status.waitFor({ timeout: 120_000 });
  assert.equal(await status.getAttribute("data-state"), "ready", await status.textContent());
  await page.setInputFiles("#file-input", images);
  await page.waitForFunction(
    (n) => document.querySelectorAll("article.result .decision, article.result .error").length === n,
    images.length,
    { timeout: 120_000 },
  );
  for (const card of await readCards(page)) {
    assert.equal(card.error, null, `${card.name}: ${card.error}`);
    assertAgrees(card, expected[card.name], { name: card.name, side, webgpu });
  }
  assert.deepEqual((await readCards(page)).map((c) => c.name).sort(), images.map((f) => basename(f)).sort());
}

test("a Lab run on a folder of the user's own images: placed as the trainer places it, per class", async () => {
  const browser = await launchChromium({ webgpu: false });
  try {
    const { page, consoleLines } = await openLab(browser);
    await page.click("#lab-data-folder");
    // Nothing to train on yet.
    assert.equal(await page.locator("#lab-start").isDisabled(), true);

    // What is dropped on the Lab is its data too: loose files name no class.
    await page.evaluate(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array([137, 80, 78, 71])], "a.png", { type: "image/png" }));
      const drop = new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true });
      document.querySelector("#lab").dispatchEvent(drop);
    });
    const note = page.locator("#lab-folder");
    await note.waitFor();
    assert.equal(await note.getAttribute("data-state"), "unusable");
    assert.match(await note.textContent(), /no class folder found/);

    // One class folder alone is named as unusable, and the run cannot start.
    await page.setInputFiles("#lab-folder-input", join(SHAPES, "train", "disc"));
    await page.locator("#lab-folder", { hasText: "only one class folder" }).waitFor();
    assert.equal(await note.getAttribute("data-state"), "unusable");
    assert.match(await note.textContent(), /only one class folder, disc\/: a classifier needs two or more/);
    assert.equal(await page.locator("#lab-start").isDisabled(), true);

    // A file that is not an image after all stops the run while the folder is read, named.
    const damaged = join(ROOT, "target", "e2e", "lab-damaged-folder");
    await rm(damaged, { recursive: true, force: true });
    for (const shape of ["disc", "square"]) {
      await mkdir(join(damaged, shape), { recursive: true });
      for (const i of [0, 1, 2]) {
        await copyFile(join(SHAPES, "train", shape, `${shape}-00${i}.png`), join(damaged, shape, `${shape}-00${i}.png`));
      }
    }
    await copyFile(join(ROOT, "e2e", "fixtures", "corrupt.png"), join(damaged, "square", "corrupt.png"));
    await page.setInputFiles("#lab-folder-input", damaged);
    await page.locator("#lab-folder[data-state='ready']").waitFor();
    await setField(page, "#lab-image-size", 32);
    await page.click("#lab-start");
    const failed = await runEnded(page, consoleLines);
    assert.equal(failed.state, "failed", failed.text);
    assert.match(
      await page.locator("#lab-status").textContent(),
      /square\/corrupt\.png could not be decoded: .*; remove or replace it in the folder/,
    );

    // The example folder: train/ and test/ with two classes; validation held out of train/.
    await page.setInputFiles("#lab-folder-input", SHAPES);
    await page.locator("#lab-folder[data-state='ready']").waitFor();
    assert.equal(
      await note.textContent(),
      "shapes: 2 classes, training images: disc (40), square (40). Validation: 10 % of the training images held out; test: 20 in test/.",
    );
    // Settings are checked against the folder's task: an image side the network cannot take.
    await setField(page, "#lab-image-size", 20);
    await page.click("#lab-start");
    // (The status says "failed" already, of the damaged folder's run: wait for the new message.)
    await page
      .locator("#lab-status[data-state='failed']", { hasText: "images of 20 px: choose a multiple of 8 from 16 to 128" })
      .waitFor({ timeout: 10_000 });

    await setField(page, "#lab-image-size", 32);
    await setField(page, "#lab-epochs", 2);
    await page.click("#lab-start");
    const { state, text } = await runEnded(page, consoleLines);
    await screenshot(page, "lab-folder");
    assert.equal(state, "finished", text);

    // The splits are the trainer's on the same folder and seed (its run in scripts/test.sh).
    const trainer = JSON.parse(await readFile(join(SHAPES_RUN, "report.json"), "utf8"));
    const size = (set) => trainer.evaluation.sets.find((s) => s.set === set).images;
    const data = (await page.locator("#lab-data").textContent()).match(
      /^(\d+) training, (\d+) validation and (\d+) test images\. Training classes: disc: (\d+) · square: (\d+)\.$/,
    );
    assert.ok(data, await page.locator("#lab-data").textContent());
    const [train, val, tests, discs, squares] = data.slice(1).map(Number);
    assert.deepEqual([train, val, tests], [80 - size("val"), size("val"), size("test")]);
    assert.equal(discs + squares, train);
    // Two ERM epochs and the fine-tuning epoch, measured on validation and the one test set.
    assert.equal(await page.locator("#lab-results tbody tr").count(), 3);
    for (const row of await page.locator("#lab-results tbody tr").all()) {
      for (const c of ["val", "test"]) {
        const value = parseFloat(await row.locator(`td.${c}`).textContent());
        assert.ok(value >= 0 && value <= 100, `${c}: ${value}`);
      }
    }
    assert.equal(await page.locator("#lab-effect").count(), 0, "no biased test, so no shortcut gap");

    // Masking examples take the classes in turn.
    for (const group of ["disc", "square"]) {
      assert.equal(await page.locator(`figure.mask-example[data-group='${group}']`).count(), 4, group);
    }
    // Accuracy per class with counts: the test split's 10 + 10 images, for each model.
    const rows = page.locator("#lab-groups tbody tr");
    assert.equal(await rows.count(), 3, "one test set x three models");
    for (const row of await rows.all()) {
      const cells = await groupCells(row);
      assert.deepEqual(cells.map((c) => c.count), [10, 10], cells.map((c) => c.text).join(", "));
    }
    assert.match(await page.locator("#lab-evaluation h3").first().textContent(), /per class/);
    assert.deepEqual(await accessibilityViolations(page), [], "axe-core finds nothing to fix in the Lab");

    // A run on the same folder and settings takes the images the last run read, and trains the
    // same models from them.
    const epochRows = async () => {
      const rows = await page.locator("#lab-results tbody tr").all();
      // All but the time each epoch took.
      return Promise.all(rows.map(async (row) => (await row.locator("td").allTextContents()).slice(0, -1)));
    };
    const firstRun = await epochRows();
    await page.click("#lab-start");
    assert.equal((await runEnded(page, consoleLines)).state, "finished");
    const readBefore = " The images as the last run read them: same folder, seed, images per split and image side.";
    assert.equal(await page.locator("#lab-data").textContent(), `${data[0]}${readBefore}`);
    assert.deepEqual(await epochRows(), firstRun);

    // The pair answers as trainer-native predict does with the downloaded bundles.
    const images = ["disc", "square"].flatMap((shape) =>
      [0, 1].map((i) => join(SHAPES, "test", shape, `${shape}-00${i}.png`)),
    );
    await checkModelPair(page, "folder", false, { images, side: 32 });
    // The digits are no examples for models of the user's folder.
    assert.equal(await page.locator(".examples button").count(), 0);

    // Another seed places the folder's images otherwise: it is read again.
    await page.click("#view-lab");
    await setField(page, "#lab-seed", 1);
    await page.click("#lab-start");
    assert.equal((await runEnded(page, consoleLines)).state, "finished");
    assert.match(await page.locator("#lab-data").textContent(), /square: \d+\.$/);

    // A worker that replaces a stopped one has none of the folder: the page hands it over again
    // once the new worker listens, and a run reads it.
    await stopComputeWorker(page);
    await page.locator("#lab-folder[data-handed='false']").waitFor({ timeout: 10_000 });
    await page.locator("#lab-folder[data-handed='true']").waitFor({ timeout: 60_000 });
    await page.click("#lab-start");
    assert.equal((await runEnded(page, consoleLines)).state, "finished");
    assert.match(await page.locator("#lab-data").textContent(), /square: \d+\.$/);

    // A worker that stops during a run on a folder is replaced and handed the folder again; the
    // run continues from its last epoch and ends as the run that never stopped. (The example
    // folder with 400 images of each class, so that an epoch lasts long enough to stop in.)
    const larger = join(ROOT, "target", "e2e", "lab-larger-folder");
    await rm(larger, { recursive: true, force: true });
    await writeExampleFolder(larger, { train: 400, test: 5 });
    await page.setInputFiles("#lab-folder-input", larger);
    await page.locator("#lab-folder[data-state='ready']", { hasText: "disc (400), square (400)" }).waitFor();
    await setField(page, "#lab-epochs", 3);
    await page.click("#lab-start");
    const whole = await runEnded(page, consoleLines);
    assert.equal(whole.state, "finished", whole.text);
    const unstopped = await runOutcome(page);
    await page.click("#lab-start");
    await page.locator("#lab-status[data-state='running']", { hasText: "epoch 2" }).waitFor({ timeout: 60_000 });
    await stopComputeWorker(page);
    await page.locator("#lab-folder[data-handed='false']").waitFor({ timeout: 10_000 });
    const stopped = await runEnded(page, consoleLines);
    assert.equal(stopped.state, "failed", stopped.text);
    assert.match(stopped.text, /continue the run after its epoch 1,/);
    await page.locator("#lab-folder[data-handed='true']").waitFor({ timeout: 60_000 });
    const resume = page.locator("#lab-continue");
    assert.equal(await resume.textContent(), "Continue from epoch 2");
    await resume.click();
    const continued = await runEnded(page, consoleLines);
    assert.equal(continued.state, "finished", continued.text);
    assert.deepEqual(await runOutcome(page), unstopped, "the folder's run continued in a new worker is the run that never stopped");
  } finally {
    await browser.close();
  }
});

test("the Lab masks with and fine-tunes the user's own trained model, as after trainer-native import", async () => {
  // The trainer's ERM model of the example folder, as a PyTorch state dict with its description.
  const dir = join(ROOT, "target", "e2e", "lab", "given");
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const weights = join(dir, "shapes-erm.safetensors");
  await promisify(execFile)(TRAINER, [
    "convert-bundle", join(SHAPES_RUN, "bundles", "erm.bundle"), weights, "--format", "safetensors",
  ]);
  const browser = await launchChromium({ webgpu: false });
  try {
    const { page, consoleLines } = await openLab(browser);
    await page.click("#lab-data-folder");
    await page.setInputFiles("#lab-folder-input", SHAPES);
    await page.locator("#lab-folder[data-state='ready']").waitFor();
    await page.click("#lab-erm-given");
    assert.equal(await page.locator("#lab-start").isDisabled(), true, "no model given yet");
    assert.equal(await page.locator("#lab-epochs").count(), 0, "a given model trains no ERM epoch");
    await page.click("#lab-erm-train");

    // A model file dropped on the Lab is the model to start from.
    const bytes = [...(await readFile(weights))];
    await page.evaluate((bytes) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(bytes)], "dropped.safetensors"));
      const drop = new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true });
      document.querySelector("#lab").dispatchEvent(drop);
    }, bytes);
    const note = page.locator("#lab-erm");
    await page.locator("#lab-erm[data-state='ready']", { hasText: "dropped.safetensors" }).waitFor();
    assert.equal(await page.locator("#lab-erm-given").isChecked(), true);
    assert.equal(await page.locator("#lab-start").isDisabled(), false);

    // A file that is no model, and a model of other classes, are named; Start waits.
    await page.setInputFiles("#lab-erm-input", DIGITS[0]);
    await page.locator("#lab-erm[data-state='unusable']").waitFor();
    assert.match(await note.textContent(), /digit-3-square\.png: .*neither a MaskTune bundle \(\.mtb\) nor a safetensors file/);
    await page.setInputFiles("#lab-erm-input", join(ROOT, "app", "assets", "models", "cifar10-erm.mtb"));
    await page.locator("#lab-erm[data-state='unusable']", { hasText: "cifar10-erm.mtb" }).waitFor();
    assert.match(await note.textContent(), /the model's classes are airplane, .*, the data's disc, square/);
    assert.equal(await page.locator("#lab-start").isDisabled(), true);

    await page.setInputFiles("#lab-erm-input", weights);
    await page.locator("#lab-erm[data-state='ready']").waitFor();
    assert.equal(
      await note.textContent(),
      "shapes-erm.safetensors: VGG-11 (width 4) trained on folder; classes disc, square; 32×32 px images.",
    );
    await page.click("#lab-start");
    const { state, text } = await runEnded(page, consoleLines);
    await screenshot(page, "lab-given-model");
    assert.equal(state, "finished", text);

    // The given model is epoch 0, measured as the trainer measured it on the same sets; then
    // the fine-tuning epoch.
    const rows = page.locator("#lab-results tbody tr");
    assert.equal(await rows.count(), 2);
    const given = rows.first();
    assert.equal(await given.locator("td").first().textContent(), "ERM (yours)");
    assert.equal(await given.getAttribute("data-epoch"), "0");
    assert.equal(await rows.nth(1).getAttribute("data-model"), "masktune");
    const trainer = JSON.parse(await readFile(join(SHAPES_RUN, "report.json"), "utf8"));
    for (const [set, cell] of [["val", "val"], ["test", "test"]]) {
      const models = trainer.evaluation.sets.find((s) => s.set === set).models;
      const expected = 100 * models.find((m) => m.model === "erm_best").accuracy.accuracy;
      const shown = parseFloat(await given.locator(`td.${cell}`).textContent());
      assert.ok(Math.abs(shown - expected) < 0.01, `${set}: the page ${shown} %, the trainer ${expected} %`);
    }
    assert.equal(
      await page.locator("#lab-masking h3").textContent(),
      "What your ERM model looks at, and the masks",
    );
    assert.match(await page.locator("#lab-evaluation p.fine-print").first().textContent(), /ERM \(best\) and ERM \(last\) are your model/);
    // The pair answers as trainer-native predict does with the downloaded bundles.
    const images = ["disc", "square"].flatMap((shape) => [0, 1].map((i) => join(SHAPES, "test", shape, `${shape}-00${i}.png`)));
    await checkModelPair(page, "given", false, { images, side: 32 });
  } finally {
    await browser.close();
  }
});

test("the Lab stops on request, or when its worker stops, keeps what finished and continues to the run that never stopped", async () => {
  const browser = await launchChromium({ webgpu: false });
  try {
    const { page, consoleLines } = await openLab(browser);
    // Settings are checked before anything runs.
    await setField(page, "#lab-images", 10);
    await page.click("#lab-start");
    await page.locator("#lab-status[data-state='failed']").waitFor({ timeout: 10_000 });
    assert.match(await page.locator("#lab-status").textContent(), /10 images: choose 100 to 10000/);

    // The run without a stop.
    await setField(page, "#lab-images", 2000);
    await setField(page, "#lab-epochs", 3);
    await page.click("#lab-start");
    const whole = await runEnded(page, consoleLines);
    assert.equal(whole.state, "finished", whole.text);
    assert.equal(await page.locator("#lab-continue").count(), 0, "nothing to continue");
    const unstopped = await runOutcome(page);

    // Stop during the second ERM epoch: the first is kept, and the run continues from it.
    await page.click("#lab-start");
    await page.locator("#lab-results tr[data-model='erm'][data-epoch='1']").waitFor({ timeout: 120_000 });
    await page.locator("#lab-status[data-state='running']", { hasText: "epoch 2" }).waitFor({ timeout: 60_000 });
    await page.click("#lab-stop");
    const { state, text } = await runEnded(page, consoleLines);
    assert.equal(state, "stopped", text);
    assert.equal(await page.locator("#lab-results tr").count(), 2, "the header and epoch 1");
    assert.equal(await page.locator("#lab-masking").count(), 0, "no masking after a stop");
    // Only with the run's own settings.
    const resume = page.locator("#lab-continue");
    assert.equal(await resume.textContent(), "Continue from epoch 2");
    await setField(page, "#lab-epochs", 4);
    await page.locator("#lab-continue").waitFor({ state: "detached" });
    await setField(page, "#lab-epochs", 3);
    await resume.click();
    const continued = await runEnded(page, consoleLines);
    assert.equal(continued.state, "finished", continued.text);
    assert.deepEqual(await runOutcome(page), unstopped, "the stopped run, continued, is the run that never stopped");

    // A worker that stops during a run is replaced; the run says so, keeps what finished and
    // continues in the new worker.
    await page.click("#lab-start");
    await page.locator("#lab-status[data-state='running']", { hasText: "epoch 3" }).waitFor({ timeout: 120_000 });
    await stopComputeWorker(page);
    await page.locator("#lab-status[data-state='failed']").waitFor({ timeout: 10_000 });
    assert.equal(await page.locator("#lab-status").textContent(),
      `${SIMULATED_STOP}; a new worker has started: continue the run after its epoch 2, or start it again`);
    assert.equal(await page.locator("#lab-results tr").count(), 3, "the header and epochs 1 and 2");
    await page.locator("#backend-status[data-state='ready']").waitFor({ timeout: 60_000 });
    assert.equal(await resume.textContent(), "Continue from epoch 3");
    await resume.click();
    const again = await runEnded(page, consoleLines);
    assert.equal(again.state, "finished", again.text);
    assert.deepEqual(await runOutcome(page), unstopped, "the run continued in a new worker is the run that never stopped");

    // A stop after the last ERM epoch (here in the fine-tuning) keeps ERM's epochs; the run
    // continues with the masking and the fine-tuning, from the last epoch's model and optimizer.
    await page.click("#lab-start");
    await page.locator("#lab-status[data-state='running']", { hasText: "Fine-tuning on the masked images" })
      .waitFor({ timeout: 120_000 });
    await page.click("#lab-stop");
    const late = await runEnded(page, consoleLines);
    assert.equal(late.state, "stopped", late.text);
    assert.equal(await page.locator("#lab-results tr").count(), 4, "the header and ERM's three epochs");
    assert.equal(await resume.textContent(), "Continue: mask and fine-tune");
    await resume.click();
    const masked = await runEnded(page, consoleLines);
    assert.equal(masked.state, "finished", masked.text);
    assert.deepEqual(await runOutcome(page), unstopped, "the run stopped in its fine-tuning, continued, is the run that never stopped");
  } finally {
    await browser.close();
  }
});

test("the worker's memory does not grow over three Lab runs in one page", async () => {
  const browser = await launchChromium({ webgpu: false });
  try {
    const { page, consoleLines } = await openLab(browser);
    await setField(page, "#lab-images", 1000);
    await setField(page, "#lab-epochs", 1);
    const allocated = [];
    const linear = [];
    for (let run = 0; run < 3; run++) {
      await page.click("#lab-start");
      await page.locator("#lab-status[data-state='running']").waitFor({ timeout: 10_000 });
      const { state, text } = await runEnded(page, consoleLines);
      assert.equal(state, "finished", text);
      const memory = page.locator("#lab-memory");
      allocated.push(Number(await memory.getAttribute("data-allocated")));
      linear.push(Number(await memory.getAttribute("data-linear")));
    }
    const kib = (bytes) => bytes.map((b) => (b / 2 ** 10).toFixed(0)).join(", ");
    console.log(`worker memory after each run: allocated ${kib(allocated)} KiB; linear ${kib(linear)} KiB`);
    // After a run the worker holds its Lab data and the last run's bundles, nothing of earlier
    // runs: a run that kept its data sets (about 10 MB at 1000 images per split), models or
    // bundles (about 1 MB) would raise the bytes still allocated.
    for (const run of [1, 2]) {
      assert.ok(
        Math.abs(allocated[run] - allocated[0]) <= 64 * 2 ** 10,
        `run ${run + 1} ended with ${allocated[run]} bytes allocated, run 1 with ${allocated[0]}`,
      );
    }
    // Linear memory (logged above) is not checked: it never shrinks, and how far a run raises it
    // depends on where the allocator's free lists place its buffers. Seen after run 1 -> run 3:
    // +4.6 to +22 MiB in CI runs, with the bytes allocated equal to the KiB.
  } finally {
    await browser.close();
  }
});
