// The page boots in a real headless Chromium, picks its compute backend and proves it computes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory } from "./support/server.js";
import { launchChromium, screenshot, collectConsole, pageUrl } from "./support/browser.js";

const DIST = process.env.MASKTUNE_DIST ?? join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
let server;

before(async () => {
  server = await serveDirectory(DIST);
});
after(() => server?.close());

// adapter: whether the browser offers its (SwiftShader) WebGPU adapter; ask: whether the
// address asks for WebGPU.
async function bootedStatus({ adapter, ask }) {
  const browser = await launchChromium({ webgpu: adapter });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
    const consoleLines = collectConsole(page);
    const wasmFetched = [];
    page.on("request", (request) => {
      const path = new URL(request.url()).pathname;
      if (path.endsWith(".wasm")) wasmFetched.push(path);
    });
    await page.goto(pageUrl(server.url, { webgpu: ask }));
    const status = page.locator("#backend-status:not([data-state='starting'])");
    await status.waitFor({ timeout: 120_000 }).catch((error) => {
      throw new Error(`the page never reported its backend: ${error.message}\n${consoleLines.join("\n")}`);
    });
    // The switch appears once the page knows whether the browser has an adapter.
    const switchLink = page.locator("#backend-switch");
    if (adapter || ask) await switchLink.waitFor({ timeout: 30_000 });
    await screenshot(page, `boot-${adapter ? "adapter" : "no-adapter"}${ask ? "-webgpu" : ""}`);
    const href = async () => ((await switchLink.count()) ? switchLink.getAttribute("href") : null);
    const switchHref = await href();
    // The link keeps up with the task the user picks.
    await page.selectOption("#task", "celeba");
    const switchHrefAfterTask = await href();
    return {
      backend: await status.getAttribute("data-backend"),
      state: await status.getAttribute("data-state"),
      check: await page.locator("#self-check").textContent(),
      switchTo: (await switchLink.count()) ? await switchLink.getAttribute("data-backend") : null,
      switchAdapter: (await switchLink.count()) ? await switchLink.getAttribute("data-adapter") : null,
      switchText: (await switchLink.count()) ? await switchLink.textContent() : null,
      switchHref,
      switchHrefAfterTask,
      wasmFetched,
      console: consoleLines.join("\n"),
    };
  } finally {
    await browser.close();
  }
}

function assertComputesExactly(result) {
  assert.equal(result.state, "ready", result.check);
  assert.match(result.check, /\[19\.0, 22\.0, 43\.0, 50\.0\]/);
}

test("by default the page computes on the CPU, fetches only its own module, and offers WebGPU", async () => {
  const result = await bootedStatus({ adapter: true, ask: false });
  assert.equal(result.backend, "cpu", `page said: ${result.check}\n${result.console}`);
  assertComputesExactly(result);
  assert.ok(!result.wasmFetched.some((path) => path.includes("/webgpu/")), `fetched: ${result.wasmFetched}`);
  assert.equal(result.switchTo, "webgpu", "a browser with an adapter is offered WebGPU");
  // This machine's adapter is Chromium's software renderer (SwiftShader), and the link says so.
  assert.equal(result.switchAdapter, "software");
  assert.match(result.switchText, /in software only, without a GPU: run on it anyway \(much slower than the CPU here; about \d\.\d MB more/);
  assert.equal(new URL(result.switchHref).searchParams.get("backend"), "webgpu");
  assert.equal(new URL(result.switchHrefAfterTask).hash, "#celeba", result.switchHrefAfterTask);
});

test("asked for WebGPU (?backend=webgpu), the page computes on WebGPU, exactly", async () => {
  const result = await bootedStatus({ adapter: true, ask: true });
  assert.equal(result.backend, "webgpu", `expected WebGPU; page said: ${result.check}\n${result.console}`);
  assertComputesExactly(result);
  assert.ok(result.wasmFetched.some((path) => path.includes("/webgpu/")), `fetched: ${result.wasmFetched}`);
  assert.equal(result.switchTo, "cpu", "the page on WebGPU links back to the CPU");
});

test("without a WebGPU adapter the page computes on the CPU and offers no switch", async () => {
  const result = await bootedStatus({ adapter: false, ask: false });
  assert.equal(result.backend, "cpu", `page said: ${result.check}\n${result.console}`);
  assertComputesExactly(result);
  assert.equal(result.switchTo, null);
});

test("Back and Forward follow the views and tasks the page recorded in its address", async () => {
  const browser = await launchChromium({ webgpu: false });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
    const consoleLines = collectConsole(page);
    await page.goto(pageUrl(server.url, { fragment: "cifar10" }));
    const modelsFor = (task) =>
      page.locator(`#model-status[data-state='ready']`, { hasText: `on ${task} (` }).waitFor({ timeout: 120_000 });
    await modelsFor("cifar10");
    await page.selectOption("#task", "celeba");
    await modelsFor("celeba");
    await page.click("#view-lab");
    await page.locator("#lab").waitFor();

    // Where each step lands: the address, the view shown, the task chosen and its models.
    const landsOn = async (fragment, task) => {
      await page.waitForFunction((f) => location.hash === `#${f}`, fragment);
      if (task === null) {
        await page.locator("#lab").waitFor();
        assert.ok(await page.locator("main#analyse").isHidden(), "the Lab hides the analysis view");
      } else {
        await page.locator("#lab").waitFor({ state: "detached" });
        assert.ok(await page.locator("main#analyse").isVisible(), `#${fragment} shows the analysis view`);
        assert.equal(await page.locator("#task").inputValue(), task);
        await modelsFor(task);
      }
    };
    await page.goBack();
    await landsOn("celeba", "celeba");
    await page.goBack();
    await landsOn("cifar10", "cifar10");
    await page.goForward();
    await landsOn("celeba", "celeba");
    await page.goForward();
    await landsOn("lab", null);
    assert.deepEqual(consoleLines.filter((line) => line.startsWith("[error]") || line.startsWith("[pageerror]")), []);
  } finally {
    await browser.close();
  }
});
