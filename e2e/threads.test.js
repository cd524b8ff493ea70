// The CPU backend on threads: served with COOP/COEP (cross-origin isolated, as scripts/serve.sh
// serves it), the page and its compute worker run the threaded build (dist/threads/), the only
// module fetched, on one thread per core, say so, and answer as trainer-native does (also a
// compute worker that replaced a stopped one, its pool started again); served
// without those headers, as a static host that cannot send them would, the same files run the
// page's own module on one thread and say why, as they do where the threaded build cannot start.
// The Lab's fields, typed in one after the other
// on the threaded build, keep their values; a run stopped and continued there ends as the run
// without a stop; and a run too large for its memory is refused with a batch size that fits.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import { join, dirname, basename } from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { serveDirectory, ISOLATION_HEADERS } from "./support/server.js";
import { launchChromium, screenshot, collectConsole, setField, stopComputeWorker } from "./support/browser.js";
import { readCards, assertAgrees, trainerPredictions } from "./support/cards.js";
import { runEnded, runOutcome, writeExampleFolder } from "./support/lab.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const DIST = process.env.MASKTUNE_DIST ?? join(HERE, "..", "dist");
const FIXTURES = join(HERE, "fixtures");
const EXAMPLES = join(HERE, "..", "app", "assets", "examples");
const TRAINER = process.env.MASKTUNE_TRAINER ?? join(HERE, "..", "target", "debug", "trainer-native");
// The largest model (its products are the ones worth splitting) and the smallest, whose images
// go to a compute worker that replaced a stopped one (its pool of threads started again).
const TASKS = [
  { id: "celeba", side: 64, images: [join(FIXTURES, "face-astronaut-64.png"), join(EXAMPLES, "face-astronaut.png")] },
  { id: "spurious-mnist", side: 28, images: ["digit-3-square.png", "digit-8.png"].map((f) => join(EXAMPLES, f)), restart: true },
];

let isolated;
let plain;
before(async () => {
  isolated = await serveDirectory(DIST, { headers: ISOLATION_HEADERS });
  plain = await serveDirectory(DIST);
});
after(() => {
  isolated?.close();
  plain?.close();
});

// `prepare` (if given) runs on the page before it loads.
async function analyse(server, task, prepare = async () => {}) {
  const browser = await launchChromium({ webgpu: false });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await prepare(page);
    const consoleLines = collectConsole(page);
    const wasmFetched = [];
    page.on("request", (request) => {
      const path = new URL(request.url()).pathname;
      if (path.endsWith(".wasm")) wasmFetched.push(path);
    });
    await page.goto(`${server.url}#${task.id}`);
    const modelsReady = () => page.locator("#model-status[data-state='ready']").waitFor({ timeout: 180_000 }).catch((error) => {
      throw new Error(`models never became ready: ${error.message}\n${consoleLines.join("\n")}`);
    });
    await modelsReady();
    if (task.restart) {
      await stopComputeWorker(page);
      await page.locator("#worker-restarted").waitFor({ timeout: 60_000 });
      await modelsReady();
    }
    await page.setInputFiles("#file-input", task.images);
    await page.waitForFunction(
      (n) => document.querySelectorAll("article.result .decision, article.result .error").length === n,
      task.images.length,
      { timeout: 300_000 },
    );
    const status = page.locator("#backend-status");
    const result = {
      isolated: await page.evaluate(() => window.crossOriginIsolated),
      cores: await page.evaluate(() => navigator.hardwareConcurrency),
      backend: await status.getAttribute("data-backend"),
      state: await status.getAttribute("data-state"),
      label: await status.locator("strong").textContent(),
      status: await status.textContent(),
      restarted: await page.locator("#worker-restarted").count(),
      cards: await readCards(page),
      wasmFetched,
      console: consoleLines.join("\n"),
    };
    await screenshot(page, `threads-${task.id}-${result.isolated ? "isolated" : "plain"}`);
    return result;
  } finally {
    await browser.close();
  }
}

for (const task of TASKS) {
  const replaced = task.restart ? ", also in a worker that replaced a stopped one" : "";
  test(`${task.id}: cross-origin isolated, the CPU backend runs on one thread per core and agrees with the trainer${replaced}`, async () => {
    const result = await analyse(isolated, task);
    assert.ok(result.isolated, "COOP/COEP make the page cross-origin isolated");
    assert.equal(result.restarted, task.restart ? 1 : 0);
    assert.equal(result.backend, "cpu", result.console);
    assert.equal(result.state, "ready", result.status);
    const threads = result.cores > 1 ? `${result.cores} threads` : "1 thread";
    assert.equal(result.label, `CPU (WebAssembly, SIMD, ${threads})`, `${result.status}\n${result.console}`);
    assert.deepEqual(result.wasmFetched, ["/threads/app_bg.wasm"], "the page fetches one module, the threaded one");
    const expected = await trainerPredictions(task.id);
    const byName = Object.fromEntries(result.cards.map((c) => [c.name, c]));
    for (const name of task.images.map((f) => basename(f))) {
      assert.equal(byName[name]?.error, null, `${name}: ${byName[name]?.error}\n${result.console}`);
      assertAgrees(byName[name], expected[name], { name, side: task.side, webgpu: false });
    }
  });
}

test("not cross-origin isolated, the same page runs on one thread and says why", async () => {
  const result = await analyse(plain, TASKS[1]);
  assert.equal(result.isolated, false);
  assert.equal(result.label, "CPU (WebAssembly, SIMD, 1 thread)", result.status);
  assert.match(result.status, /one thread: the page is not cross-origin isolated/);
  assert.ok(result.wasmFetched.length === 1 && !result.wasmFetched[0].startsWith("/threads/"), `fetched: ${result.wasmFetched}`);
  assert.ok(result.cards.every((c) => c.error === null && c.decision), result.console);
});

test("cross-origin isolated, a threaded build that cannot start leaves the page on its own module, one thread, saying why", async () => {
  const damaged = (page) =>
    page.route("**/threads/app_bg.wasm*", (route) =>
      route.fulfill({ contentType: "application/wasm", body: "not a WebAssembly module" }),
    );
  const result = await analyse(isolated, TASKS[1], damaged);
  assert.ok(result.isolated);
  assert.equal(result.label, "CPU (WebAssembly, SIMD, 1 thread)", result.status);
  assert.match(result.status, /one thread: the threaded build could not start \(.*WebAssembly.*\)/, result.status);
  assert.deepEqual(result.wasmFetched.map((path) => path.startsWith("/threads/")), [true, false], `fetched: ${result.wasmFetched}`);
  assert.ok(result.cards.every((c) => c.error === null && c.decision), result.console);
});

// On the threaded build the page's effects run as tasks of their own, after the event that
// caused them. A field's change once rewrote every Lab field from the settings, which could
// land after the next field had been typed in and undo it (this test failed on every run before
// each field read its own value).
test("cross-origin isolated, the Lab's fields keep what is typed in them one after the other", async () => {
  const browser = await launchChromium({ webgpu: false });
  try {
    for (let load = 0; load < 4; load++) {
      const page = await browser.newPage();
      await page.goto(`${isolated.url}#lab`);
      await page.locator("#backend-status:not([data-state='starting'])").waitFor({ timeout: 120_000 });
      for (let round = 1; round <= 5; round++) {
        const typed = {
          "#lab-images": 1000 + round,
          "#lab-epochs": round,
          "#lab-lr": round / 100,
          "#lab-seed": 10 + round,
          "#lab-batch-size": 8 + round,
        };
        for (const [field, value] of Object.entries(typed)) await setField(page, field, value);
        await page.waitForTimeout(50);
        for (const [field, value] of Object.entries(typed)) {
          assert.equal(Number(await page.inputValue(field)), value, `${field}, page load ${load + 1}, round ${round}`);
        }
      }
      await page.close();
    }
  } finally {
    await browser.close();
  }
});

// The threaded build trains on a pool of threads: a run stopped and continued must still end as
// the run without a stop, to the byte (the pool may split a product differently, never its sums).
test("cross-origin isolated, a Lab run stopped and continued ends as the run without a stop", async () => {
  const browser = await launchChromium({ webgpu: false });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const consoleLines = collectConsole(page);
    await page.goto(`${isolated.url}#lab`);
    await page.locator("#backend-status[data-state='ready']").waitFor({ timeout: 120_000 });
    assert.match(await page.locator("#backend-status strong").textContent(), /threads\)$/);
    await setField(page, "#lab-images", 1000);
    await setField(page, "#lab-epochs", 2);
    await page.click("#lab-start");
    const whole = await runEnded(page, consoleLines);
    assert.equal(whole.state, "finished", whole.text);
    const unstopped = await runOutcome(page);

    await page.click("#lab-start");
    await page.locator("#lab-status[data-state='running']", { hasText: "epoch 2" }).waitFor({ timeout: 120_000 });
    await page.click("#lab-stop");
    const stopped = await runEnded(page, consoleLines);
    assert.equal(stopped.state, "stopped", stopped.text);
    await page.click("#lab-continue");
    const continued = await runEnded(page, consoleLines);
    assert.equal(continued.state, "finished", continued.text);
    assert.deepEqual(await runOutcome(page), unstopped, "the stopped run, continued, is the run that never stopped");
  } finally {
    await browser.close();
  }
});

// A run's batches must fit in the threaded build's memory (4 GiB at most, as the other builds'):
// wasm cannot recover from running out of it. The Lab measures steps of a few images first and
// says what fits.
test("cross-origin isolated, a Lab run too large for the threaded build's memory is refused with a batch size that fits, which then trains", async () => {
  // 270 training images (the example folder's shapes, more of them) at 128 px through a VGG-11
  // at half width, trained by the trainer on two images (its weights do not matter here): about
  // 20 MB of activations an image in a training step, over 5 GB for a batch of all of them.
  const runs = join(HERE, "..", "target", "e2e", "lab", "memory");
  const folder = join(runs, "shapes");
  await rm(runs, { recursive: true, force: true });
  await writeExampleFolder(folder, { train: 150, test: 5 });
  await promisify(execFile)(TRAINER, [
    "pipeline", "--experiment", "folder", "--data", folder, "--image-size", "128", "--model", "vgg",
    "--width", "32", "--epochs", "1", "--subset", "2", "--batch-size", "2", "--runs-dir", runs, "--name", "large",
  ]);
  const browser = await launchChromium({ webgpu: false });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const consoleLines = collectConsole(page);
    await page.goto(`${isolated.url}#lab`);
    await page.locator("#backend-status:not([data-state='starting'])").waitFor({ timeout: 120_000 });
    await page.click("#lab-data-folder");
    await page.setInputFiles("#lab-folder-input", folder);
    await page.locator("#lab-folder[data-state='ready']").waitFor();
    await page.click("#lab-erm-given");
    await page.setInputFiles("#lab-erm-input", join(runs, "large", "bundles", "erm.bundle"));
    await page.locator("#lab-erm[data-state='ready']").waitFor();
    assert.equal(await page.getAttribute("#lab-batch-size", "placeholder"), "64", "the recipe's batch");
    // Batches larger than the training set are batches of all of it.
    await setField(page, "#lab-batch-size", 512);

    await page.click("#lab-start");
    await runEnded(page, consoleLines);
    const refused = await page.locator("#lab-status").textContent();
    const found = refused.match(
      /^Training VGG-11 \(width 32\) on 128 px images in batches of 270 would take about (\d+) MB of memory here, and the page has about (\d+) MB left for it \(WebAssembly's memory stops at 4 GiB\): set the batch size to (\d+) or less, or train it with trainer-native\.$/,
    );
    assert.ok(found, `${refused}\n${consoleLines.join("\n")}`);
    const [needed, left, fits] = found.slice(1).map(Number);
    assert.ok(needed > left && left > 1074 && left < 4295, `${needed} MB needed, ${left} MB left`);
    assert.ok(fits >= 64 && fits < 270, `batches of ${fits}`);
    assert.equal(await page.locator("#lab-results tbody tr").count(), 0, "nothing trained");

    // The batch size named: the whole run trains, masks and fine-tunes in the threaded build.
    await setField(page, "#lab-batch-size", fits);
    await page.click("#lab-start");
    await page.locator("#lab-status[data-state='running']").waitFor({ timeout: 10_000 });
    const { state, text } = await runEnded(page, consoleLines, { timeout: 600_000 });
    assert.equal(state, "finished", text);
    const linear = Number(await page.locator("#lab-memory").getAttribute("data-linear"));
    console.log(`batches of ${fits}: ${needed} MB needed at 270, ${left} MB left; linear memory after the run ${(linear / 2 ** 20).toFixed(0)} MiB`);
    await screenshot(page, "lab-memory-threads");
  } finally {
    await browser.close();
  }
});
