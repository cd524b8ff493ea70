// "Your own models": the two bundles of a trainer-native run on an image folder (scripts/test.sh
// makes them, as README's "MaskTune on your own images" does) are given to the page, which then
// answers as `trainer-native predict` does; a truncated, a mismatched and a same-kind pair each
// get their message.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile, mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, dirname, basename } from "node:path";
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

      // The shipped CelebA pair, whose MaskTune bundle is stored as its difference from the
      // ERM bundle's weights, given MaskTune's first.
      const shipped = join(ROOT, "app", "assets", "models");
      const celeba = await givePair(page, [join(shipped, "celeba-masktune.mtb"), join(shipped, "celeba-erm.mtb")]);
      assert.equal(celeba.state, "ready", celeba.text);
      assert.match(celeba.text, /64×64 input/);

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
      // Images named without their folders: no labels, so no filter by right and wrong.
      assert.equal(await page.locator("article.result p.label").count(), 0);
      assert.equal(await page.locator("label[data-filter='erm-wrong']").isVisible(), false);
      // The run's own thresholds and curves are shown.
      assert.ok(await page.locator("#selective figure.summary[data-set='test']").count() > 0, "the run's test set curve");
      assert.equal(await page.locator("#coverage").getAttribute("max"), "50", "the run's 51 thresholds");
    } finally {
      await browser.close();
    }
  });
}

// A folder whose subfolders are named after the classes (the run's test split): the page counts
// each model's accuracy per class, and the pair's on what it accepts, as `trainer-native predict
// --labelled` counts the same folder (scripts/test.sh writes its file).
test("a folder whose subfolders name the classes is counted per class as trainer-native counts it", async () => {
  const trainer = JSON.parse(await readFile(join(ROOT, "target", "e2e", "trainer-labelled-own-test.json"), "utf8"));
  const answers = await trainerPredictions("own-test");
  const browser = await launchChromium({ webgpu: false });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const consoleLines = collectConsole(page);
    await page.goto(pageUrl(server.url));
    await page.selectOption("#task", "own");
    await page.locator("#model-status[data-state='awaiting']").waitFor();
    const status = await givePair(page, [join(BUNDLES, "erm.bundle"), join(BUNDLES, "masktune.bundle")]);
    assert.equal(status.state, "ready", `${status.text}\n${consoleLines.join("\n")}`);
    assert.match(await page.locator("#labels-hint").textContent(), /folders named after the classes \(disc, square\)/);

    await page.setInputFiles("#folder-input", join(OWN, "shapes", "test"));
    const images = Object.keys(answers).length;
    await page.waitForFunction(
      (n) => document.querySelectorAll("article.result .decision, article.result .error").length === n,
      images,
      { timeout: 120_000 },
    );
    const table = page.locator("#labelled-accuracy");
    await page.waitForFunction((n) => document.querySelector("#labelled-accuracy-caption")?.textContent
      .startsWith(`Accuracy on the ${n} images whose folder names their class`), images);

    // Within 1e-3 of the threshold the page's and the trainer's decisions may differ (as on the cards).
    const threshold = Object.values(answers)[0].threshold;
    const nearThreshold = Object.values(answers).filter((a) => Math.abs(a.confidence - threshold) <= 1e-3).length;
    for (const [model, counts] of [["erm", trainer.erm], ["masktune", trainer.masktune], ["accepted", trainer.accepted]]) {
      const row = table.locator(`tr[data-model='${model}']`);
      const cells = await row.locator("td[data-count]").evaluateAll((tds) =>
        tds.map((td) => ({ class: td.dataset.class ?? "all", correct: Number(td.dataset.correct), count: Number(td.dataset.count) })));
      const expected = [{ class: "all", correct: counts.correct, count: counts.count },
        ...counts.per_class.map((c) => ({ class: c.name, correct: c.correct, count: c.count }))];
      if (model === "accepted" && nearThreshold > 0) {
        cells.forEach((cell, i) => assert.ok(Math.abs(cell.count - expected[i].count) <= nearThreshold, `${model} ${cell.class}`));
      } else {
        assert.deepEqual(cells, expected, model);
      }
    }
    assert.equal(trainer.erm.count, images, "every image of the split sits in a class folder");
    // The pair's risk-coverage on these images, drawn once all are answered: the trainer's. Its
    // curve and AURC exactly where page and trainer order the images alike by confidence, else
    // within what swapping near-equal ones can change (1/n each); each row exactly but for the
    // images within 1e-3 of its threshold.
    const figure = page.locator("#labelled-accuracy figure.summary[data-set='labelled']");
    await figure.waitFor();
    assert.equal(await page.locator("#labelled-curve-waiting").count(), 0);
    await screenshot(page, "labelled-accuracy");
    const [results] = await Promise.all([page.waitForEvent("download"), page.click("#download-results")]);
    const pageAnswers = JSON.parse(await readFile(await results.path(), "utf8"));
    const byConfidence = (all) => Object.entries(all).sort((a, b) => b[1].confidence - a[1].confidence)
      .map(([name]) => basename(name));
    const sameOrder = JSON.stringify(byConfidence(pageAnswers)) === JSON.stringify(byConfidence(answers));
    // Every answer in the results file names the class its folder names (disc/disc-000.png), as
    // the trainer's do.
    for (const [name, report] of Object.entries(pageAnswers)) {
      assert.equal(report.label, basename(name).split("-")[0], `${name}: the class its folder names`);
      assert.equal(report.label, answers[basename(name)].label, name);
    }
    const confidences = Object.values(answers).map((a) => a.confidence);
    const nearPairs = confidences.flatMap((a, i) => confidences.slice(i + 1).filter((b) => Math.abs(a - b) <= 1e-3)).length;
    const aurcSlack = sameOrder ? 1e-12 : nearPairs / images + 1e-12;
    const expected = trainer.selective;
    const rowCounts = (rows) => rows.map((r) => ({ coverage: r.coverage, accepted: r.accepted, errors: r.errors }));
    const shownRows = await figure.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => ({
      coverage: Number(tr.dataset.coverage), accepted: Number(tr.dataset.accepted), errors: Number(tr.dataset.errors),
    })));
    const assertSelectiveAgrees = (rows, aurc, what) => {
      assert.ok(Math.abs(aurc - expected.aurc) <= aurcSlack, `${what}: AURC ${aurc} vs ${expected.aurc}`);
      assert.equal(rows.length, expected.at_thresholds.length, `${what}: the paper's five coverages`);
      expected.at_thresholds.forEach(({ target_coverage, outcome }, i) => {
        const near = confidences.filter((c) => Math.abs(c - outcome.threshold) <= 1e-3).length;
        assert.equal(rows[i].coverage, target_coverage, what);
        assert.ok(Math.abs(rows[i].accepted - outcome.accepted) <= near, `${what} at ${target_coverage}: accepted`);
        assert.ok(Math.abs(rows[i].errors - outcome.errors) <= near, `${what} at ${target_coverage}: errors`);
      });
    };
    assertSelectiveAgrees(shownRows, Number(await figure.getAttribute("data-aurc")), "the figure");
    assert.equal(await figure.locator("tr.chosen").getAttribute("data-coverage"), String(trainer.target_coverage));

    // The tables as a file: what the trainer wrote.
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download-labelled")]);
    const saved = JSON.parse(await readFile(await download.path(), "utf8"));
    const compared = nearThreshold > 0 ? ["erm", "masktune"] : ["erm", "masktune", "accepted", "target_coverage", "threshold"];
    for (const key of compared) assert.deepEqual(saved[key], trainer[key], key);
    const savedRows = saved.selective.at_thresholds.map((r) => ({ ...r.outcome, coverage: r.target_coverage }));
    assertSelectiveAgrees(rowCounts(savedRows), saved.selective.aurc, "the file");
    if (sameOrder) assert.deepEqual(saved.selective.curve, expected.curve, "the curve");
    // This folder is the run's test split: the curve the trainer's evaluation shipped in the
    // bundle, drawn beside it, is the same line.
    const line = (series) => figure.locator(`path[data-series="${series}"]`).getAttribute("d");
    if (sameOrder) assert.equal(await line("these images"), await line("the run's test set"));

    // The cards say what their folder says, and a filter shows those ERM got wrong.
    assert.equal(await page.locator("article.result p.label").count(), images);
    const ermWrong = trainer.erm.count - trainer.erm.correct;
    const filter = page.locator("label[data-filter='erm-wrong']");
    assert.ok(await filter.isVisible(), "the filter is offered where images are labelled");
    assert.equal(Number(await filter.getAttribute("data-count")), ermWrong);
    await filter.locator("input").check();
    await page.waitForFunction((n) => document.querySelectorAll("article.result").length === n, ermWrong);
    for (const text of await page.locator("article.result p.label").allTextContents()) {
      assert.match(text, /^Its folder names its class: “(disc|square)”\. ERM is wrong, MaskTune is (right|wrong)\.$/);
    }
    assert.deepEqual(await accessibilityViolations(page), [], "axe-core finds nothing to fix in the table");

    // Cleared, the tables go; one class's folder given then is counted on its own.
    await page.click("#clear-results");
    await table.waitFor({ state: "detached" });
    await page.setInputFiles("#folder-input", join(OWN, "shapes", "test", "disc"));
    await page.waitForFunction(() => document.querySelector("#labelled-accuracy-caption")?.textContent
      .startsWith("Accuracy on the 10 images whose folder names their class"));
    await figure.waitFor();
    assert.equal(await table.locator("tr[data-model='erm'] td.all").getAttribute("data-count"), "10");
  } finally {
    await browser.close();
  }
});

// Bundles given while the compute worker is still starting are kept: the task's models load once
// it is ready (they were forgotten then, and the page waited for bundles it had been given). The
// worker's messages are held back until the bundles are in, so that the test does not depend on
// how fast the worker starts.
test("bundles given while the compute worker starts load once it is ready", async () => {
  const browser = await launchChromium({ webgpu: false });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.addInitScript(() => {
      window.heldMessages = [];
      window.Worker = class extends window.Worker {
        set onmessage(handler) {
          super.onmessage = (event) => (window.heldMessages ? window.heldMessages.push(() => handler(event)) : handler(event));
        }
      };
      window.releaseWorker = () => {
        const held = window.heldMessages;
        window.heldMessages = null;
        held.forEach((deliver) => deliver());
      };
    });
    await page.goto(pageUrl(server.url, { fragment: "own" }));
    await page.setInputFiles("#bundle-input", [join(BUNDLES, "erm.bundle"), join(BUNDLES, "masktune.bundle")]);
    assert.equal(await page.locator("#backend-status").getAttribute("data-state"), "starting");
    await page.evaluate(() => window.releaseWorker());
    const status = page.locator("#model-status:not([data-state='loading'])");
    await status.waitFor({ timeout: 120_000 });
    assert.equal(await status.getAttribute("data-state"), "ready", await status.textContent());
    assert.match(await status.textContent(), /on folder \(2 classes, 32×32 input\)/);
  } finally {
    await browser.close();
  }
});
