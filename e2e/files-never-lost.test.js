// Files given at awkward times or places are never silently lost. Images given while the models
// download wait for them and are analysed once they are ready; with no models (failed, or not
// chosen yet) each card says why. A file dropped outside the drop zones is taken by the page
// (a browser would open it in place of the page, losing every result). A model file given to
// the Lab before the compute worker has started waits for it; a worker that stops is replaced,
// and what it had says so.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory } from "./support/server.js";
import { launchChromium, collectConsole, pageUrl, dropFiles, dropFolder, stopComputeWorker, SIMULATED_STOP } from "./support/browser.js";
import { readCards } from "./support/cards.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const DIST = process.env.MASKTUNE_DIST ?? join(HERE, "..", "dist");
const ASSETS = join(HERE, "..", "app", "assets");
const FIXTURES = join(HERE, "fixtures");
const DIGIT = join(ASSETS, "examples", "digit-3.png");
const dropDigit = (page, name, target) => dropFiles(page, [DIGIT], { names: [name], target });

// The shipped bundles (.mtb) are held until `release(true)` serves them, or `release(false)`
// answers "not found"; the WebGPU build until `webgpuReleased` resolves; every other file is
// served at once.
let server;
let release;
let bundlesReleased;
let webgpuReleased = Promise.resolve(true);
before(async () => {
  server = await serveDirectory(DIST, {
    gate: async (path) => {
      if (path.endsWith(".mtb")) return bundlesReleased;
      return path.includes("/webgpu/") ? webgpuReleased : true;
    },
  });
});
after(() => server?.close());

function holdBundles() {
  bundlesReleased = new Promise((resolve) => (release = resolve));
}

// Opens spurious MNIST's page in `browser` and waits until its models are `state` ("loading", as
// the page starts, or "ready", which may take a download and a warm-up); the console is
// collected from the start.
async function openMnist(browser, state) {
  const page = await browser.newPage();
  const consoleLines = collectConsole(page);
  await page.goto(pageUrl(server.url, { fragment: "spurious-mnist" }));
  await page.locator(`#model-status[data-state='${state}']`).waitFor(state === "ready" ? { timeout: 120_000 } : {});
  return { page, consoleLines };
}

const cardsDone = (page, n) =>
  page.waitForFunction(
    (n) => document.querySelectorAll("article.result .decision, article.result .error").length === n,
    n,
    { timeout: 120_000 },
  );

test("images given while the models download wait for them, then are analysed", async () => {
  holdBundles();
  const browser = await launchChromium({ webgpu: false });
  try {
    const { page, consoleLines } = await openMnist(browser, "loading");
    await page.setInputFiles("#file-input", [DIGIT]);
    await dropDigit(page, "dropped.png");
    const waiting = page.locator("article.result .waiting");
    await page.waitForFunction(() => document.querySelectorAll("article.result .waiting").length === 2);
    assert.deepEqual(await waiting.allTextContents(), Array(2).fill("Waiting for the models…"));
    assert.equal(await page.locator("#coverage-value").textContent(), "once the models are loaded");

    release(true);
    await page.locator("#model-status[data-state='ready']").waitFor({ timeout: 120_000 });
    await cardsDone(page, 2);
    const cards = await readCards(page);
    assert.deepEqual(cards.map((c) => c.name).sort(), ["digit-3.png", "dropped.png"]);
    for (const card of cards) {
      assert.equal(card.error, null, `${card.name}: ${card.error}\n${consoleLines.join("\n")}`);
      assert.ok(card.decision, `${card.name} has a decision`);
    }
  } finally {
    await browser.close();
  }
});

test("images given when there are no models say why, on their card", async () => {
  holdBundles();
  const browser = await launchChromium({ webgpu: false });
  try {
    const { page } = await openMnist(browser, "loading");
    // Given while loading, then the download fails.
    await dropDigit(page, "early.png");
    release(false);
    await page.locator("#model-status[data-state='failed']").waitFor({ timeout: 60_000 });
    // Given after the failure.
    await dropDigit(page, "late.png");
    await cardsDone(page, 2);
    for (const card of await readCards(page)) {
      assert.match(card.error ?? "", /^not analysed: the models did not load \(.+\)$/, card.name);
    }

    // The task of one's own models, before its bundle files are chosen.
    await page.selectOption("#task", "own");
    await page.locator("#model-status[data-state='awaiting']").waitFor();
    await dropDigit(page, "no-models.png");
    await cardsDone(page, 1);
    const [card] = await readCards(page);
    assert.match(card.error ?? "", /there are no models yet\. Choose the two bundle files/);

    // Once the models are chosen, the image is given again from its card, its file kept.
    bundlesReleased = Promise.resolve(true);
    await page.setInputFiles("#bundle-input", ["erm", "masktune"].map((m) => join(ASSETS, "models", `spurious-mnist-${m}.mtb`)));
    await page.locator("#model-status[data-state='ready']").waitFor({ timeout: 60_000 });
    await page.click("article.result[data-name='no-models.png'] button.try-again");
    await page.locator("article.result[data-name='no-models.png'] .decision").waitFor({ timeout: 60_000 });
    const [again] = await readCards(page);
    assert.equal(again.error, null);
  } finally {
    await browser.close();
  }
});

test("files dropped anywhere are taken by the page, not opened in its place; bundles load as a pair", async () => {
  bundlesReleased = Promise.resolve(true);
  const browser = await launchChromium({ webgpu: false });
  try {
    const { page, consoleLines } = await openMnist(browser, "ready");
    // On the analysis view an image dropped on the page's title is analysed.
    assert.equal(await dropDigit(page, "on-title.png", "header h1"), true, "the page takes the drop");
    await cardsDone(page, 1);
    const [card] = await readCards(page);
    assert.equal(card.name, "on-title.png");
    assert.ok(card.decision, `${card.error}\n${consoleLines.join("\n")}`);

    // "Your own models": two bundles dropped on the image zone load as the pair.
    await page.selectOption("#task", "own");
    await page.locator("#model-status[data-state='awaiting']").waitFor();
    const models = ["erm", "masktune"].map((kind) => join(ASSETS, "models", `spurious-mnist-${kind}.mtb`));
    assert.equal(await dropFiles(page, models), true);
    await page.locator("#model-status[data-state='ready']").waitFor({ timeout: 60_000 });

    // The Lab takes no files: the drop is taken and the Lab stays as it was.
    await page.click("#view-lab");
    assert.equal(await dropDigit(page, "on-lab.png", "#lab"), true);
    assert.equal(new URL(page.url()).hash, "#lab");
    assert.equal(await page.locator("article.result[data-name='on-lab.png']").count(), 0);
  } finally {
    await browser.close();
  }
});

// A compute worker that stops (a panic or running out of memory traps its WebAssembly, and the
// browser reports an uncaught error) is replaced by a new one, which loads the same models: the
// answers shown stay, with the coverage chosen, the image the stopped worker had says so, and
// images given afterwards are answered. After three such restarts the page stops starting new
// ones: it says why where it names the backend, and what is given afterwards is refused with
// that reason instead of waiting for an answer that cannot come. A stop is simulated by an
// uncaught error in the worker, which the page hears the same way.
test("a compute worker that stops is replaced with the same models, three times, then the page says why", async () => {
  bundlesReleased = Promise.resolve(true);
  const browser = await launchChromium({ webgpu: false });
  try {
    const { page, consoleLines } = await openMnist(browser, "ready");
    const stopped = SIMULATED_STOP;
    const ready = page.locator("#backend-status[data-state='ready']");

    await dropDigit(page, "before.png");
    await cardsDone(page, 1);
    await page.locator("#coverage").focus();
    await page.keyboard.press("End");
    const coverage = await page.locator("#coverage-value").textContent();
    const [before] = await readCards(page);
    assert.equal(before.error, null, consoleLines.join("\n"));

    // An image given while the worker is busy reaches it, which stops before it answers.
    await stopComputeWorker(page, { busyMs: 1500 });
    await dropDigit(page, "in-flight.png");
    await page.locator("#worker-restarted").waitFor({ timeout: 30_000 });
    await page.locator("#model-status[data-state='ready']").waitFor({ timeout: 60_000 });
    await ready.waitFor();
    assert.equal(await page.locator("#worker-restarted").textContent(),
      `Earlier, ${stopped}; a new worker took its place and loaded the same models again.`);
    await dropDigit(page, "after.png");
    await cardsDone(page, 3);
    const cards = Object.fromEntries((await readCards(page)).map((card) => [card.name, card]));
    assert.deepEqual(cards["before.png"], before, "the answer shown before the stop stays");
    const stillThere = await page.locator("article.result[data-name='before.png'] img").evaluateAll((images) =>
      Promise.all(images.map((image) => fetch(image.src).then((response) => response.ok, () => false))));
    assert.deepEqual(stillThere, [true, true, true], "its pictures outlive the worker that drew them");
    assert.equal(cards["in-flight.png"].error,
      `not analysed: the compute worker stopped before it answered (${stopped}); a new worker has started: try again`);
    const { name, ...answer } = cards["after.png"];
    assert.deepEqual({ ...answer, name: "before.png" }, before, "the new worker answers with the same models");
    await page.click("article.result[data-name='in-flight.png'] button.try-again");
    await page.locator("article.result[data-name='in-flight.png'] .decision").waitFor({ timeout: 60_000 });
    const again = (await readCards(page)).find((card) => card.name === "in-flight.png");
    assert.deepEqual({ ...again, name: "before.png" }, before, "given again, it is answered");
    assert.equal(await page.locator("#coverage-value").textContent(), coverage, "the coverage chosen stays");

    // Two more restarts; the fourth stop is the last.
    for (let restart = 2; restart <= 3; restart++) {
      const newWorker = page.waitForEvent("worker");
      await stopComputeWorker(page);
      await newWorker;
      await ready.waitFor({ timeout: 30_000 });
      await page.locator("#model-status[data-state='ready']").waitFor({ timeout: 60_000 });
    }
    await stopComputeWorker(page);
    const status = page.locator("#backend-status[data-state='failed']");
    await status.waitFor({ timeout: 10_000 });
    const final = `${stopped}; it had stopped 3 times before, and the page started a new one each time: reload the page`;
    assert.equal(await status.textContent(), `Compute: not available — ${final}`);

    await dropDigit(page, "after-the-stop.png");
    await cardsDone(page, 4);
    const card = (await readCards(page)).find((c) => c.name === "after-the-stop.png");
    assert.equal(card.error, final, consoleLines.join("\n"));
    assert.equal(await page.locator("button.try-again").count(), 0, "a stopped worker would refuse it again");

    await page.click("#view-lab");
    await page.click("#lab-erm-given");
    await page.setInputFiles("#lab-erm-input", join(ASSETS, "models", "spurious-mnist-erm.mtb"));
    const note = page.locator("#lab-erm[data-state='unusable']");
    await note.waitFor({ timeout: 10_000 });
    assert.equal(await note.textContent(), `spurious-mnist-erm.mtb: this model cannot be fine-tuned here: ${final}.`);
    assert.equal(await page.locator("#lab-start").isDisabled(), true);
  } finally {
    await browser.close();
  }
});

// Models that were loading when two workers stopped may be what stops them: the page does not
// load them a third time, and the images waiting for them say so.
test("models loading while two compute workers stop are not loaded a third time", async () => {
  holdBundles();
  const browser = await launchChromium({ webgpu: false });
  try {
    const { page, consoleLines } = await openMnist(browser, "loading");
    const ready = page.locator("#backend-status[data-state='ready']");
    await ready.waitFor({ timeout: 60_000 });
    await dropDigit(page, "waiting.png");
    const newWorker = page.waitForEvent("worker");
    await stopComputeWorker(page);
    await newWorker;
    await ready.waitFor({ timeout: 30_000 });
    assert.equal(await page.locator("#model-status").getAttribute("data-state"), "loading", "loaded again once");
    await stopComputeWorker(page);
    const failed = page.locator("#model-status[data-state='failed']");
    await failed.waitFor({ timeout: 30_000 });
    const why = `the compute worker stopped twice while it loaded them (${SIMULATED_STOP}); they may be what stops it`;
    assert.equal(await failed.textContent(), why);
    release(true);
    await cardsDone(page, 1);
    const [card] = await readCards(page);
    assert.equal(card.error, `not analysed: the models did not load (${why})`, consoleLines.join("\n"));
  } finally {
    release?.(true);
    await browser.close();
  }
});

// A model file given to the Lab while the compute worker starts (here: while it downloads the
// WebGPU build) is read once the worker listens: a request sent before would be lost.
test("a model file given to the Lab while the compute worker starts is read once it has started", async () => {
  bundlesReleased = Promise.resolve(true);
  let startWorker;
  webgpuReleased = new Promise((resolve) => (startWorker = resolve));
  const browser = await launchChromium({ webgpu: true });
  try {
    const page = await browser.newPage();
    const consoleLines = collectConsole(page);
    await page.goto(pageUrl(server.url, { webgpu: true, fragment: "lab" }));
    await page.click("#lab-erm-given");
    await page.setInputFiles("#lab-erm-input", join(ASSETS, "models", "spurious-mnist-erm.mtb"));
    await page.locator("#lab-erm[data-state='reading']").waitFor();
    assert.equal(await page.locator("#backend-status").getAttribute("data-state"), "starting");
    startWorker(true);
    const note = page.locator("#lab-erm[data-state='ready']");
    await note.waitFor({ timeout: 120_000 }).catch((error) => {
      throw new Error(`${error.message}\n${consoleLines.join("\n")}`);
    });
    assert.match(await note.textContent(), /^spurious-mnist-erm\.mtb: MNIST CNN \(width \d+\) trained on spurious_mnist;/);
    assert.equal(await page.locator("#backend-status").getAttribute("data-backend"), "webgpu");
  } finally {
    webgpuReleased = Promise.resolve(true);
    await browser.close();
  }
});

// Chosen with "or a folder", dropped on the image zone, or dropped anywhere else on the page.
const GIVE_FOLDER = {
  chosen: (page) => page.setInputFiles("#folder-input", FIXTURES),
  "dropped on the image zone": (page) => dropFolder(page, FIXTURES),
  "dropped outside the zone": (page) => dropFolder(page, FIXTURES, { target: "header" }),
};

for (const [how, giveFolder] of Object.entries(GIVE_FOLDER)) {
  test(`a folder ${how} gives every image in it, named by its path; the other files are named as left out`, async () => {
    bundlesReleased = Promise.resolve(true);
    const browser = await launchChromium({ webgpu: false });
    try {
      const { page } = await openMnist(browser, "ready");
      await giveFolder(page);
      const entries = await readdir(FIXTURES);
      const images = entries.filter((f) => /\.(png|jpg)$/.test(f));
      await cardsDone(page, images.length);
      const cards = Object.fromEntries((await readCards(page)).map((c) => [c.name, c]));
      assert.deepEqual(Object.keys(cards).sort(), images.map((f) => `fixtures/${f}`).sort());
      assert.match(cards["fixtures/corrupt.png"].error, /could not be decoded/);
      assert.ok(cards["fixtures/gray.png"].decision, "a good image of the folder is analysed");
      const others = entries.filter((f) => !images.includes(f)).map((f) => `fixtures/${f}`).sort();
      assert.equal(
        await page.locator("#folder-note").textContent(),
        `Left out ${others.length} files of the folder that are not images: ${others.join(", ")}.`,
      );
    } finally {
      await browser.close();
    }
  });
}

// A dropped folder of thousands of files takes the browser a second or more to list: the page
// says how far it got meanwhile, then takes every image in.
test("a large dropped folder says how many files it has listed so far, then gives every image", async () => {
  const count = 3000;
  const folder = join(await mkdtemp(join(tmpdir(), "masktune-folder-")), "digits");
  await mkdir(folder);
  for (let i = 0; i < count; i++) await copyFile(DIGIT, join(folder, `digit-${i}.png`));
  bundlesReleased = Promise.resolve(true);
  const browser = await launchChromium({ webgpu: false });
  try {
    const { page, consoleLines } = await openMnist(browser, "ready");
    await page.evaluate(() => {
      window.folderNotes = [];
      new MutationObserver(() => {
        const note = document.querySelector("#folder-note")?.textContent;
        if (note && note !== window.folderNotes.at(-1)) window.folderNotes.push(note);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await dropFolder(page, folder);
    await page.locator("#progress", { hasText: new RegExp(`of ${count}\\b`) }).waitFor({ timeout: 60_000 });
    const notes = await page.evaluate(() => window.folderNotes);
    assert.ok(notes.length > 0, `the page said nothing while it listed the folder\n${consoleLines.join("\n")}`);
    for (const note of notes) assert.match(note, /^Reading the dropped folder: \d+ files so far…$/);
    const listed = notes.map((note) => Number(note.match(/\d+/)[0]));
    assert.deepEqual(listed, [...listed].sort((a, b) => a - b), "the count only grows");
    assert.ok(listed.at(-1) <= count);
    assert.equal(await page.locator("#folder-note").count(), 0, "a folder of images only leaves no note");
  } finally {
    await browser.close();
  }
});
