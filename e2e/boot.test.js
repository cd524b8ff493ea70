// The page boots in a real headless Chromium, picks its compute backend and proves it computes.
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

async function bootedStatus({ webgpu }) {
  const browser = await launchChromium({ webgpu });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
    const consoleLines = collectConsole(page);
    await page.goto(server.url);
    const status = page.locator("#backend-status:not([data-state='starting'])");
    await status.waitFor({ timeout: 120_000 }).catch((error) => {
      throw new Error(`the page never reported its backend: ${error.message}\n${consoleLines.join("\n")}`);
    });
    await screenshot(page, webgpu ? "boot-webgpu" : "boot-cpu-fallback");
    return {
      backend: await status.getAttribute("data-backend"),
      state: await status.getAttribute("data-state"),
      check: await page.locator("#self-check").textContent(),
      console: consoleLines.join("\n"),
    };
  } finally {
    await browser.close();
  }
}

test("with a WebGPU adapter the page computes on WebGPU, exactly", async () => {
  const result = await bootedStatus({ webgpu: true });
  assert.equal(result.backend, "webgpu", `expected WebGPU; page said: ${result.check}\n${result.console}`);
  assert.equal(result.state, "ready", result.check);
  assert.match(result.check, /\[19\.0, 22\.0, 43\.0, 50\.0\]/);
});

test("without WebGPU the page falls back to the CPU and computes exactly", async () => {
  const result = await bootedStatus({ webgpu: false });
  assert.equal(result.backend, "cpu", `expected the CPU fallback; page said: ${result.check}\n${result.console}`);
  assert.equal(result.state, "ready", result.check);
  assert.match(result.check, /\[19\.0, 22\.0, 43\.0, 50\.0\]/);
});
