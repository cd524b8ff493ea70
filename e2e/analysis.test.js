// A user's path through the page, in a real headless Chromium: load the shipped models, give images
// through the file input (good and bad ones), read predictions, heatmaps and decisions.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join, dirname, basename } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory } from "./support/server.js";
import { launchChromium, screenshot, collectConsole, pageUrl, computeBackend, dropFiles, sidewaysOverflow } from "./support/browser.js";
import { accessibilityViolations } from "./support/accessibility.js";
import { readCards, cardPicturesLoaded, assertAgrees, assertReportAgrees, trainerPredictions } from "./support/cards.js";
import { readFile } from "node:fs/promises";

const HERE = dirname(fileURLToPath(import.meta.url));
const DIST = process.env.MASKTUNE_DIST ?? join(HERE, "..", "dist");
const EXAMPLES = join(HERE, "..", "app", "assets", "examples");
const FIXTURES = join(HERE, "fixtures");

// Per task: the images the page and trainer-native must agree on (at the model's input size, and
// larger: both crop and resize with masktune::square_image; scripts/test.sh writes the trainer's
// answers to target/e2e/trainer-predictions-<task>.json), files that must get a clear message,
// valid but unusual files, and how the test reaches the task (the address, or the task menu).
const TASKS = [
  {
    id: "spurious-mnist",
    side: 28,
    agree: ["digit-3-square.png", "digit-3.png", "digit-8-square.png", "digit-8.png"].map((f) => join(EXAMPLES, f)),
    bad: { "notes.txt": /not an image/, "corrupt.png": /could not be decoded/, "tiny.png": /too small/ },
    unusual: ["cmyk.jpg", "gray.png"],
    open: "address",
  },
  {
    id: "cifar10",
    side: 32,
    agree: [
      ...["cat-chelsea-32.png", "rocket-32.png", "rocket-32-icc.png"].map((f) => join(FIXTURES, f)),
      join(EXAMPLES, "cat-chelsea.png"), // 256x256: the page's crop and resize are the trainer's
    ],
    bad: {},
    unusual: [],
    open: "address",
  },
  {
    id: "celeba",
    side: 64,
    agree: [
      ...["face-astronaut-64.png", "face-camera-64.png", "face-astronaut-turned.jpg"].map((f) => join(FIXTURES, f)),
      join(EXAMPLES, "face-astronaut.png"),
    ],
    bad: {},
    unusual: [],
    open: "menu",
  },
];

let server;
before(async () => {
  server = await serveDirectory(DIST);
});
after(() => server?.close());

// Opens the page on `task`, either through the address (#id) or by choosing it in the task menu.
async function openTask(page, task, webgpu) {
  if (task.open === "address") {
    await page.goto(pageUrl(server.url, { webgpu, fragment: task.id }));
  } else {
    await page.goto(pageUrl(server.url, { webgpu }));
    await page.selectOption("#task", task.id);
    assert.equal(new URL(page.url()).hash, `#${task.id}`, "choosing a task records it in the address");
  }
  assert.equal(await page.locator("#task").inputValue(), task.id);
}

async function analyseInPage(task, { webgpu }) {
  const browser = await launchChromium({ webgpu });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const consoleLines = collectConsole(page);
    await openTask(page, task, webgpu);
    await page.locator("#model-status[data-state='ready']").waitFor({ timeout: 180_000 }).catch(async (error) => {
      const status = await page.locator("#model-status").textContent().catch(() => "(none)");
      throw new Error(`models never became ready (${status}): ${error.message}\n${consoleLines.join("\n")}`);
    });
    assert.equal(await computeBackend(page), webgpu ? "webgpu" : "cpu");
    const paths = inputPaths(task);
    await page.setInputFiles("#file-input", paths);
    // Also the other two ways in: drag and drop, and an example button.
    await dropFiles(page, [task.agree[0]], { names: ["dropped.png"] });
    await page.locator("button.example").first().click();
    const total = paths.length + 2;
    await page.waitForFunction(
      (n) => document.querySelectorAll("article.result .decision, article.result .error").length === n,
      total,
      { timeout: 300_000 },
    );
    const shot = `analysis-${task.id}-${webgpu ? "webgpu" : "cpu"}`;
    await screenshot(page, shot);
    const cards = await readCards(page);
    const accessibility = await accessibilityViolations(page);
    const counts = { text: await page.locator("#results-counts").textContent() };
    for (const label of await page.locator(".card-filter label").all()) {
      counts[await label.getAttribute("data-filter")] = await label.getAttribute("data-count");
    }
    // Each filter shows the cards it counts.
    for (const filter of ["abstained", "failed", "all"]) {
      await page.check(`.card-filter input[value='${filter}']`);
      await page.waitForFunction(
        ([n, filter]) => document.querySelectorAll("article.result").length === n
          && (filter !== "abstained" || [...document.querySelectorAll("article.result .decision")].every((d) => d.dataset.decision === "abstain")),
        [Number(counts[filter]), filter],
      );
    }
    // "Download the results", at the slider's first coverage (90 %, the trainer's default).
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download-results")]);
    const report = { fileName: download.suggestedFilename(), entries: JSON.parse(await readFile(await download.path(), "utf8")) };
    // The cards' pictures are files the worker made, which the page links and lets go of with
    // the cards (it keeps no pixels of its own, however many images it is given).
    const pictures = await page.locator("article.result img").evaluateAll((imgs) => imgs.map((img) => img.src));
    const readable = (urls) => page.evaluate(
      (urls) => Promise.all(urls.map((url) => fetch(url).then(() => url, () => null))).then((read) => read.filter(Boolean)),
      urls,
    );
    const picturesShown = await readable(pictures);
    // Nothing the page asked for failed to load: its cards' pictures, its warm-up's unseen
    // rehearsal's, its icon.
    const failedLoads = consoleLines.filter((line) => line.includes("Failed to load resource"));
    // Clearing removes the cards and their summary; an image given then starts a new summary.
    await page.click("#clear-results");
    await page.locator("#results-summary").waitFor({ state: "hidden" });
    assert.equal(await page.locator("article.result").count(), 0, "no cards after clearing");
    const picturesKept = await readable(pictures);
    await page.locator("button.example").first().click();
    await page.locator("#results-counts", { hasText: /^1 image at/ }).waitFor();
    // The coverage slider works from the keyboard: End selects the largest coverage.
    await page.locator("#coverage").focus();
    await page.keyboard.press("End");
    const coverageText = await page.locator("#coverage-value").textContent();
    // A narrow screen (a phone) still shows everything without sideways scrolling.
    const overflow = await sidewaysOverflow(page);
    await screenshot(page, `${shot}-narrow`);
    return { cards, accessibility, counts, report, pictures, picturesShown, picturesKept, failedLoads, coverageText, overflow, console: consoleLines.join("\n") };
  } finally {
    await browser.close();
  }
}

for (const task of TASKS) {
  for (const webgpu of [true, false]) {
    test(`${task.id}: images are analysed in the page (${webgpu ? "WebGPU" : "CPU fallback"})`, async () => {
      const result = await analyseInPage(task, { webgpu });
      const byName = Object.fromEntries(result.cards.map((c) => [c.name, c]));
      const expected = await trainerPredictions(task.id);
      for (const name of task.agree.map((f) => basename(f))) {
        const card = byName[name];
        assert.ok(card, `no result card for ${name}`);
        assert.equal(card.error, null, `${name} failed: ${card.error}\n${result.console}`);
        // WebGPU masks with the project's WGSL kernels, the CPU fallback with Burn tensor ops.
        assertAgrees(card, expected[name], { name, side: task.side, webgpu });
      }
      for (const [name, message] of Object.entries(task.bad)) {
        assert.match(byName[name]?.error ?? "", message, `${name} gets a clear message`);
        assert.match(result.report.entries[name]?.error ?? "", message, `${name}: its message in the results file`);
      }
      // The summary over the cards: decisions at 90 % coverage, disagreements, failures.
      const done = result.cards.filter((c) => c.error === null);
      const count = (keep) => String(done.filter(keep).length);
      assert.deepEqual(
        [result.counts.all, result.counts.accepted, result.counts.abstained, result.counts.disagree, result.counts.failed],
        [String(result.cards.length), count((c) => c.decision === "accept"), count((c) => c.decision === "abstain"),
          count((c) => c.ermClass !== c.masktuneClass), String(result.cards.length - done.length)],
        result.counts.text,
      );
      assert.match(result.counts.text, /^\d+ images at 90% coverage: the pair accepts \d+ and abstains on \d+/);
      assert.equal(result.report.fileName, "masktune-results.json");
      assert.equal(Object.keys(result.report.entries).length, result.cards.length, "one entry per card in the results file");
      for (const name of task.agree.map((f) => basename(f))) {
        assertReportAgrees(result.report.entries[name], expected[name], { name, side: task.side });
      }
      for (const name of task.unusual) {
        assert.equal(byName[name]?.error, null, `${name} (an unusual but valid image) is analysed`);
      }
      const dropped = byName["dropped.png"];
      assert.ok(dropped, "a dropped file is analysed");
      assert.equal(dropped.error, null, `the dropped file failed: ${dropped.error}`);
      const given = ["dropped.png", ...inputPaths(task).map((p) => basename(p))];
      const example = result.cards.find((c) => !given.includes(c.name));
      assert.ok(example && example.error === null && example.decision, "an example button gives a result");
      assert.ok(result.pictures.length >= 3 * done.length, `${result.pictures.length} pictures on ${done.length} cards`);
      assert.deepEqual(result.pictures.filter((url) => !url.startsWith("blob:")), [], "every picture is a file the page links");
      assert.deepEqual(result.picturesShown, result.pictures, "the pictures of the cards shown can be read");
      assert.deepEqual(result.picturesKept, [], "the pictures of cleared cards are let go of");
      assert.deepEqual(result.failedLoads, [], "nothing the page asked for failed to load");
      assert.match(result.coverageText, /^100%/, "End moves the coverage slider to 100%");
      assert.deepEqual(result.accessibility, [], "axe-core finds nothing to fix on the page with its cards");
      assert.ok(result.overflow.px <= 0, `at 320 px the page overflows by ${result.overflow.px}px: ${result.overflow.outside}`);
    });
  }
}

// The files the test gives through the file input.
function inputPaths(task) {
  return [...task.agree, ...[...Object.keys(task.bad), ...task.unusual].map((f) => join(FIXTURES, f))];
}

// Gives the first task's page `count` copies of a digit at once, named image-0.png on (numbered
// to one width), and hands the page to `check` once the summary counts every answer, with a
// function that says how many pictures the compute worker has made since the models were ready.
async function withManyImages(count, check) {
  const browser = await launchChromium({ webgpu: false });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await openTask(page, TASKS[0], false);
    await page.locator("#model-status[data-state='ready']").waitFor({ timeout: 180_000 });
    const picturesMade = await countPicturesMade(page);
    const digits = String(count - 1).length;
    const names = Array.from({ length: count }, (_, i) => `image-${String(i).padStart(digits, "0")}.png`);
    await dropFiles(page, names.map(() => TASKS[0].agree[0]), { names });
    await page.locator("#results-counts", { hasText: new RegExp(`^${count} images at`) }).waitFor({ timeout: 180_000 });
    await check(page, names, picturesMade);
  } finally {
    await browser.close();
  }
}

// Counts, from now on, the object URLs the compute worker makes: one per picture it draws.
async function countPicturesMade(page) {
  const worker = page.workers().find((w) => new URL(w.url()).pathname.endsWith("/worker.js"));
  assert.ok(worker, `no compute worker among ${page.workers().map((w) => w.url())}`);
  await worker.evaluate(() => {
    const make = URL.createObjectURL;
    self.picturesMade = 0;
    URL.createObjectURL = (blob) => {
      self.picturesMade += 1;
      return make.call(URL, blob);
    };
  });
  return () => worker.evaluate(() => self.picturesMade);
}

// The bytes of the pictures of the card of image `name`, as base64, input to masked.
function cardPictures(page, name) {
  return page.locator(`article.result[data-name="${name}"]`).evaluate(async (card) =>
    Promise.all([...card.querySelectorAll("img")].map(async (img) => {
      const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
      return btoa(String.fromCharCode(...bytes));
    })));
}

// The results file the summary's download gives, by image name.
async function downloadedResults(page) {
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download-results")]);
  return JSON.parse(await readFile(await download.path(), "utf8"));
}

// A folder of many images: the cards come a page at a time, in the order the files were given,
// while the summary and the download count every image.
// Only the cards shown have pictures drawn (three PNG files each), when they show.
test("many images at once: the first 48 cards, then more on request (CPU fallback)", () =>
  withManyImages(60, async (page, names, picturesMade) => {
    const shown = () => page.locator("article.result").evaluateAll((cards) => cards.map((c) => c.dataset.name));
    assert.deepEqual(await shown(), names.slice(0, 48), "the first 48 files' cards, in the order given");
    assert.match(await page.locator("#more-cards").textContent(), /^12 more cards are not shown\. Show 12 more$/);
    await cardPicturesLoaded(page);
    assert.equal(await picturesMade(), 48 * 3, "pictures for the cards shown, and only for them");
    await page.click("#more-cards button");
    await page.locator("#more-cards").waitFor({ state: "detached" });
    assert.deepEqual(await shown(), names, "every card once asked for");
    await cardPicturesLoaded(page);
    assert.equal(await picturesMade(), 60 * 3, "the cards shown later have theirs drawn then");
    const entries = await downloadedResults(page);
    assert.deepEqual(Object.keys(entries).sort(), names, "the download has every image, shown or not");
  }));

// The page sends its worker the images of a large folder a slice per task (app/src/ui/state.rs,
// `SEND_SLICE`, 1,024): across the slices every image is answered, once.
test("more images than one message to the worker carries: every one is answered, once (CPU fallback)", () =>
  withManyImages(1100, async (page, names, picturesMade) => {
    const entries = await downloadedResults(page);
    assert.deepEqual(Object.keys(entries).sort(), names, "every image, each once");
    const errors = Object.entries(entries).filter(([, entry]) => entry.error);
    assert.deepEqual(errors, [], "no image failed");
    assert.equal(await page.locator("#progress").count(), 0, "the progress bar still shows images waiting");
    // The next cards' images were answered long before: the worker no longer has their inputs
    // and decodes their files again, to the same pictures.
    await page.click("#more-cards button");
    await cardPicturesLoaded(page);
    assert.equal(await picturesMade(), 96 * 3, "pictures for the 96 cards shown, and only for them");
    assert.deepEqual(await cardPictures(page, names[95]), await cardPictures(page, names[0]));
  }));
