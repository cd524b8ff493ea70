// The page never freezes: while its models load and 20 photos are analysed (in the compute
// worker), the main thread runs no task longer than 50 ms and the controls react
// (PerformanceObserver 'longtask'); nor while a folder, a model file or a Lab run's folder is given.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory, ISOLATION_HEADERS } from "./support/server.js";
import { launchChromium, screenshot, collectConsole, pageUrl } from "./support/browser.js";
import { writeExampleFolder } from "./support/lab.js";
import { observeLongTasks } from "./support/long_tasks.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const DIST = process.env.MASKTUNE_DIST ?? join(HERE, "..", "dist");
// The largest model (CelebA's 64 px VGG) on a 256x256 photo: decoding, crop and resize too.
const TASK = "celeba";
const PHOTO = join(HERE, "..", "app", "assets", "examples", "face-astronaut.png");
const IMAGES = 20;
// Issue 19's bound, on both backends. On the CPU fallback the notes of 2026-12-03 saw one-off
// main-thread tasks of 56-116 ms around the first results on a loaded 2-core machine; on
// 2026-12-04 five runs here (this build and the one before it) stayed under 50 ms, and a trace
// of the main thread showed its longest task at 26-34 ms (about 25 ms of work per result:
// the worker's message, three PNGs drawn, style, layout and paint).
const LONG_TASK_MS = 50;
// A run that sees a long task is repeated, up to this many runs in all: on a 2-core machine the
// worker's core and the main thread's are both busy, and a descheduled main thread makes a
// long task of the operating system's making. Every run seeing one fails.
const RUNS = 3;

// The tasks over the bound among `tasks`.
const over = (tasks) => tasks.filter((t) => t.duration > LONG_TASK_MS);
// The tasks of a run's main thread over the bound, while its models loaded too where it watched.
const longIn = (result) => over([...(result.loading?.longTasks ?? []), ...result.longTasks]);

// `measure()`'s result, run again while it sees a long task, up to RUNS runs in all.
async function measureQuietly(measure) {
  let result = await measure();
  for (let run = 2; run <= RUNS && longIn(result).length > 0; run++) {
    console.error(`run ${run - 1}: long tasks ${JSON.stringify(longIn(result))}; running again`);
    result = await measure();
  }
  return result;
}

// WebGPU, the CPU fallback, and the CPU fallback on threads (a cross-origin isolated page).
const CONFIGS = [
  { name: "WebGPU", webgpu: true, isolated: false, backend: "webgpu" },
  { name: "CPU fallback", webgpu: false, isolated: false, backend: "cpu" },
  { name: "CPU fallback, threads", webgpu: false, isolated: true, backend: "cpu" },
];

const servers = {};
before(async () => {
  servers.plain = await serveDirectory(DIST);
  servers.isolated = await serveDirectory(DIST, { headers: ISOLATION_HEADERS });
});
after(() => Object.values(servers).forEach((server) => server.close()));

// How long after the models are ready the page is still taking them in: it draws the warm-up's
// hidden result cards (app/src/ui/result_card.rs, `rehearse`), kept 2 s.
const SETTLING_MS = 2_500;

async function analyseTwenty({ webgpu, isolated }) {
  const server = isolated ? servers.isolated : servers.plain;
  const browser = await launchChromium({ webgpu });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const consoleLines = collectConsole(page);
    await page.addInitScript(observeLongTasks);
    await page.goto(pageUrl(server.url, { webgpu, fragment: TASK }));
    await page.locator("#model-status[data-state='ready']").waitFor({ timeout: 180_000 }).catch((error) => {
      throw new Error(`models never became ready: ${error.message}\n${consoleLines.join("\n")}`);
    });
    const backend = await page.locator("#backend-status").getAttribute("data-backend");
    const label = await page.locator("#backend-status strong").textContent();
    // The page's own start (its module and first drawing) comes before; from the models' loading
    // on, the page only takes in what the worker says.
    const loading = await page.evaluate(async (settlingMs) => {
      const { loading, ready } = window.modelsAt;
      await new Promise((resolve) => setTimeout(resolve, ready + settlingMs - performance.now()));
      return { since: loading, longTasks: window.longTasks.filter((t) => t.start >= loading) };
    }, SETTLING_MS);

    // The observer must see a long task when there is one, or its silence proves nothing.
    const probe = await page.evaluate(async () => {
      const seen = window.longTasks.length;
      // A real task of the page's event loop (code run by the test's evaluate is not one).
      setTimeout(() => {
        const start = performance.now();
        while (performance.now() - start < 120) {}
      }, 0);
      for (let waited = 0; waited < 2000 && window.longTasks.length === seen; waited += 50) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return window.longTasks.slice(seen).some((t) => t.duration >= 100);
    });

    // Files on disk, as a user picks them (in-memory payloads would be built by Playwright's own
    // script on the page's main thread, a long task of the test's making).
    const folder = await mkdtemp(join(tmpdir(), "masktune-photos-"));
    const files = [];
    for (let i = 1; i <= IMAGES; i++) {
      files.push(join(folder, `face-${String(i).padStart(2, "0")}.png`));
      await copyFile(PHOTO, files.at(-1));
    }
    const start = await page.evaluate(() => performance.now());
    await page.setInputFiles("#file-input", files);

    // While the worker computes, the opacity slider answers the keyboard at once.
    let reactedDuringWork = 0;
    await page.locator("#opacity").focus();
    for (let i = 0; i < 5; i++) {
      const finished = await page.locator("article.result .decision").count();
      const before = Number(await page.locator("#opacity").inputValue());
      await page.keyboard.press(before >= 100 ? "Home" : "ArrowRight");
      const after = Number(await page.locator("#opacity").inputValue());
      assert.notEqual(after, before, "the opacity slider did not move");
      if (finished < IMAGES && (await page.locator("article.result .decision").count()) < IMAGES) reactedDuringWork++;
    }

    await page.waitForFunction(
      (n) => document.querySelectorAll("article.result .decision, article.result .error").length === n,
      IMAGES,
      { timeout: 300_000 },
    );
    await screenshot(page, `responsive-${webgpu ? "webgpu" : "cpu"}${isolated ? "-threads" : ""}`);
    const result = await page.evaluate((since) => ({
      supported: window.longTasksSupported,
      longTasks: window.longTasks.filter((t) => t.start >= since),
      errors: [...document.querySelectorAll("article.result .error")].map((e) => e.textContent),
    }), start);
    return { backend, label, probe, reactedDuringWork, loading, ...result, console: consoleLines.join("\n") };
  } finally {
    await browser.close();
  }
}

for (const config of CONFIGS) {
  test(`no main-thread task over ${LONG_TASK_MS} ms while the models load and ${IMAGES} photos are analysed (${config.name})`, async () => {
    const result = await measureQuietly(() => analyseTwenty(config));
    assert.equal(result.backend, config.backend);
    // One thread unless the page is isolated (threads.test.js checks how many it has then).
    if (config.backend === "cpu") {
      assert.match(result.label, config.isolated ? /SIMD, \d+ threads?\)$/ : /SIMD, 1 thread\)$/);
    }
    assert.ok(result.supported, "this Chromium reports no long tasks");
    assert.ok(result.probe, "a deliberate 120 ms task was not reported: the observer does not work");
    assert.deepEqual(result.errors, [], result.console);
    assert.ok(result.reactedDuringWork > 0, "the slider was never tried while images were still being analysed");
    assert.ok(Number.isFinite(result.loading.since), "the models were never seen loading: the window of that check is empty");
    assert.deepEqual(over(result.loading.longTasks), [], `long tasks on the main thread while the models loaded:\n${result.console}`);
    assert.deepEqual(over(result.longTasks), [], `long tasks on the main thread during the analysis:\n${result.console}`);
  });
}

// A folder of thousands of images is taken in under the same bound: the page reads the files
// and sends them to the worker a slice per turn of its event loop (app/src/ui/file_lists.rs,
// app/src/ui/state.rs). Read and sent in one go, 17,000 files held the main thread for 46-70 ms
// in the file input's handler alone, 20,000 chosen as a folder 73-78 ms (2026-12-05).
const FOLDER_FILES = 20_000;
const DIGIT = join(HERE, "..", "app", "assets", "examples", "digit-3-square.png");

async function giveFolder() {
  const browser = await launchChromium({ webgpu: false });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const consoleLines = collectConsole(page);
    await page.addInitScript(observeLongTasks);
    await page.goto(pageUrl(servers.plain.url, { webgpu: false, fragment: "spurious-mnist" }));
    await page.locator("#model-status[data-state='ready']").waitFor({ timeout: 180_000 });
    // The files are made before the measured window: their making is the test's, not the page's.
    await page.evaluate(
      ([bytes, count]) => {
        const data = new Uint8Array(bytes);
        window.folderFiles = new DataTransfer();
        for (let i = 0; i < count; i++) window.folderFiles.items.add(new File([data], `digit-${i}.png`, { type: "image/png" }));
      },
      [[...(await readFile(DIGIT))], FOLDER_FILES],
    );
    const result = await page.evaluate(async () => {
      const since = performance.now();
      // Given from a task of the page's own, as a user's choice is.
      setTimeout(() => {
        const input = document.querySelector("#folder-input");
        input.files = window.folderFiles.files;
        input.dispatchEvent(new Event("change", { bubbles: true }));
      }, 0);
      // The window covers taking the files in and drawing the first answers.
      const answered = () => Number(document.querySelector(".card-filter label[data-filter='all']")?.dataset.count ?? 0);
      for (let waited = 0; answered() < 20 && waited < 60_000; waited += 50) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return {
        supported: window.longTasksSupported,
        longTasks: window.longTasks.filter((t) => t.start >= since),
        answered: answered(),
        progress: document.querySelector("#progress")?.textContent ?? "",
      };
    });
    return { ...result, console: consoleLines.join("\n") };
  } finally {
    await browser.close();
  }
}

test(`no main-thread task over ${LONG_TASK_MS} ms while a folder of ${FOLDER_FILES} images is given (CPU fallback)`, async () => {
  const result = await measureQuietly(giveFolder);
  assert.ok(result.supported, "this Chromium reports no long tasks");
  assert.ok(result.answered >= 20, `only ${result.answered} images answered within a minute\n${result.console}`);
  assert.match(result.progress, new RegExp(`of ${FOLDER_FILES}\\b`), "the page does not count every file given");
  assert.deepEqual(longIn(result), [], `long tasks on the main thread while the folder was taken in:\n${result.console}`);
});

// A model file given to the Lab is read by the worker, never on the page's thread: a 256 MB
// bundle whose checksum is wrong, so that all of it is read before it is refused. Read on the
// page's thread (as it was until 2026-12-07), copying it into the module's memory and checking
// its checksum would be one task of hundreds of milliseconds.
const MODEL_FILE_MB = 256;

// A bundle's framing (app's masktune::bundle: magic, version 1, metadata and weights lengths)
// around zeros, with a checksum of zero.
async function corruptBundle() {
  const bytes = Buffer.alloc(MODEL_FILE_MB * 2 ** 20);
  bytes.write("MTBUNDLE", 0, "latin1");
  bytes.writeUInt32LE(1, 8);
  bytes.writeUInt32LE(2, 12);
  bytes.writeBigUInt64LE(BigInt(bytes.length - 24 - 2 - 4), 16);
  bytes.write("{}", 24, "latin1");
  const file = join(await mkdtemp(join(tmpdir(), "masktune-model-")), "large-erm.mtb");
  await writeFile(file, bytes);
  return file;
}

// Opens the Lab on the CPU fallback in a browser of its own that records the page's long tasks,
// and runs `act` there, which returns when its window started (`since`) and what else it found;
// the long tasks since then and what the page logged come with it.
async function inLab(act) {
  const browser = await launchChromium({ webgpu: false });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const consoleLines = collectConsole(page);
    await page.addInitScript(observeLongTasks);
    await page.goto(pageUrl(servers.plain.url, { webgpu: false, fragment: "lab" }));
    await page.locator("#backend-status:not([data-state='starting'])").waitFor({ timeout: 120_000 });
    // The analysis task's models arrive after the backend is ready, and the page takes them in
    // tasks of its own (the analysis tests watch those): not what these tests measure.
    await page.locator("#model-status[data-state='ready']").waitFor({ state: "attached", timeout: 120_000 });
    const { since, ...found } = await act(page);
    const result = await page.evaluate((since) => ({
      supported: window.longTasksSupported,
      longTasks: window.longTasks.filter((t) => t.start >= since),
    }), since);
    return { ...result, ...found, console: consoleLines.join("\n") };
  } finally {
    await browser.close();
  }
}

const giveModel = (file) =>
  inLab(async (page) => {
    await page.click("#lab-erm-given");
    const since = await page.evaluate(() => performance.now());
    await page.setInputFiles("#lab-erm-input", file);
    const note = page.locator("#lab-erm[data-state='unusable']");
    await note.waitFor({ timeout: 60_000 });
    return { since, note: await note.textContent() };
  });

test(`no main-thread task over ${LONG_TASK_MS} ms while a ${MODEL_FILE_MB} MB model file is given to the Lab (CPU fallback)`, async () => {
  const file = await corruptBundle();
  try {
    const result = await measureQuietly(() => giveModel(file));
    assert.ok(result.supported, "this Chromium reports no long tasks");
    assert.match(result.note, /^large-erm\.mtb: this model cannot be fine-tuned here: bundle is corrupt \(checksum [0-9a-f]{8}, expected 00000000\): fetch or export it again\.$/);
    assert.deepEqual(longIn(result), [], `long tasks on the main thread while the model file was read:\n${result.console}`);
  } finally {
    await rm(dirname(file), { recursive: true, force: true });
  }
});

// A large folder given to the Lab never freezes the page: the browser clones each file's handle
// when the page hands the folder to the worker (about 0.25 ms a file the first time; a folder of
// 14,440 in one message held the page's thread for 3.4 s), so the page hands it over in short
// tasks as soon as the folder is given. A run started before the worker has it all waits and
// says how far the hand-over is (a stop meanwhile ends it at once: the worker has not started
// it); one started after starts at once.
const LAB_FOLDER_FILES = 5_000;

const startLabOnFolder = (folder) =>
  inLab(async (page) => {
    await page.click("#lab-data-folder");
    // The browser's own listing of the folder is one long task of its making, before the page
    // hears of the files: the window starts once the page has placed them.
    await page.setInputFiles("#lab-folder-input", folder);
    await page.locator("#lab-folder[data-state='ready']").waitFor({ timeout: 120_000 });
    const since = await page.evaluate(() => {
      window.labSteps = [];
      new MutationObserver(() => {
        const step = document.querySelector("#lab-status")?.textContent.split(":")[0];
        if (step && window.labSteps.at(-1) !== step) window.labSteps.push(step);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
      return performance.now();
    });
    // A run stopped while the folder is handed over, then one stopped once the worker reads it.
    const stopAt = async (step) => {
      await page.click("#lab-start");
      await page.locator("#lab-status", { hasText: step }).waitFor({ timeout: 120_000 });
      await page.click("#lab-stop");
      await page.locator("#lab-status[data-state='stopped']").waitFor({ timeout: 60_000 });
    };
    await stopAt("Handing your folder to the worker");
    await page.locator("#lab-folder[data-handed='true']").waitFor({ timeout: 120_000 });
    await stopAt("Reading your images");
    return { since, steps: await page.evaluate(() => window.labSteps) };
  });

test(`no main-thread task over ${LONG_TASK_MS} ms while a folder of ${LAB_FOLDER_FILES} files is given to the Lab and runs start on it (CPU fallback)`, async () => {
  const folder = join(await mkdtemp(join(tmpdir(), "masktune-lab-folder-")), "shapes");
  try {
    await writeExampleFolder(folder, { train: LAB_FOLDER_FILES / 2 - 5, test: 5 });
    const result = await measureQuietly(() => startLabOnFolder(folder));
    assert.ok(result.supported, "this Chromium reports no long tasks");
    const stopped = "Stopped. What finished is kept below.";
    assert.deepEqual(result.steps, [
      "Starting…", "Handing your folder to the worker", stopped,
      "Starting…", "Reading your images", "Stopping after this batch…", stopped,
    ], result.console);
    assert.deepEqual(longIn(result), [], `long tasks on the main thread while the run started:\n${result.console}`);
  } finally {
    await rm(dirname(folder), { recursive: true, force: true });
  }
});
