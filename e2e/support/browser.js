// Debian's Chromium, headless, driven by playwright-core (which never downloads a browser).
import { chromium } from "playwright-core";
import { mkdir, readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const SCREENSHOT_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "target", "screenshots");

const QUIET_FLAGS = [
  "--no-sandbox",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

// webgpu: whether the browser may expose its (SwiftShader) WebGPU adapter. With `profile` (a
// folder), the browser keeps its profile there, its HTTP cache on disk as a person's browser does,
// and this returns its one context; without, a fresh browser whose contexts cache in memory only.
export async function launchChromium({ webgpu, profile }) {
  const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
  const options = {
    executablePath,
    headless: true,
    args: webgpu ? [...QUIET_FLAGS, "--enable-unsafe-webgpu"] : QUIET_FLAGS,
    timeout: 60_000,
  };
  try {
    return await (profile ? chromium.launchPersistentContext(profile, options) : chromium.launch(options));
  } catch (error) {
    throw new Error(`could not start Chromium at ${executablePath} (run scripts/setup.sh, or set CHROMIUM): ${error.message}`);
  }
}

export async function screenshot(page, name) {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

// Console errors are collected so a failing assertion can show what the page said.
export function collectConsole(page) {
  const lines = [];
  page.on("console", (message) => lines.push(`[${message.type()}] ${message.text()}`));
  page.on("pageerror", (error) => lines.push(`[pageerror] ${error.message}`));
  return lines;
}

// The page's address on `base`: `?backend=webgpu` where a test runs on WebGPU (the page runs on
// the CPU unless its address asks for WebGPU), then the fragment (a task or the Lab).
export function pageUrl(base, { webgpu = false, fragment = "" } = {}) {
  return `${base}${webgpu ? "?backend=webgpu" : ""}${fragment ? `#${fragment}` : ""}`;
}

// Types `value` into the input `selector` and lets the page know, as leaving the field would
// (Playwright's fill sends input events, not change).
export async function setField(page, selector, value) {
  await page.fill(selector, String(value));
  await page.locator(selector).dispatchEvent("change");
}

// The backend the page's compute worker runs on ("webgpu" or "cpu"), once it has started.
export async function computeBackend(page) {
  const status = page.locator("#backend-status:not([data-state='starting'])");
  await status.waitFor({ timeout: 120_000 });
  return status.getAttribute("data-backend");
}

// The message of the uncaught error that `stopComputeWorker` throws in the worker.
export const SIMULATED_STOP = "the compute worker stopped: Uncaught Error: simulated failure";

// Stops the page's compute worker as a panic or running out of memory would (its WebAssembly
// traps: an uncaught error), after `busyMs` of blocking work during which what the page sends
// waits. The page hears it as `SIMULATED_STOP`.
export function stopComputeWorker(page, { busyMs = 0 } = {}) {
  const worker = page.workers().filter((w) => new URL(w.url()).pathname.endsWith("/worker.js")).at(-1);
  if (!worker) throw new Error(`no compute worker among ${page.workers().map((w) => w.url())}`);
  return worker.evaluate((busyMs) => setTimeout(() => {
    for (const end = Date.now() + busyMs; Date.now() < end;);
    throw new Error("simulated failure");
  }), busyMs);
}

// Drops the files at `paths` on the element `target` (the image drop zone unless told), as a
// user dragging files would; a file's name is its own unless `names` gives another. Returns
// whether the page took the drop (cancelled it), which keeps the browser from opening the file
// in place of the page.
export async function dropFiles(page, paths, { target = ".picker.images", names = [] } = {}) {
  const files = await Promise.all(
    paths.map(async (path, i) => ({ name: names[i] ?? basename(path), bytes: [...(await readFile(path))] })),
  );
  return page.evaluate(
    ([files, target]) => {
      const transfer = new DataTransfer();
      for (const { name, bytes } of files) {
        // The type a browser gives a file by its extension (none for a bundle).
        const type = name.endsWith(".png") ? "image/png" : "";
        transfer.items.add(new File([new Uint8Array(bytes)], name, { type }));
      }
      const element = document.querySelector(target);
      const init = { dataTransfer: transfer, bubbles: true, cancelable: true };
      element.dispatchEvent(new DragEvent("dragover", init));
      const drop = new DragEvent("drop", init);
      element.dispatchEvent(drop);
      return drop.defaultPrevented;
    },
    [files, target],
  );
}

// Drops the folder at `path` (a real one: the page reads it through the browser's file system
// entries) on the middle of the element `target`, as a user dragging it from their files would.
// Only the browser's own input can carry a folder: Chromium's Input.dispatchDragEvent (CDP).
export async function dropFolder(page, path, { target = ".picker.images" } = {}) {
  const box = await page.locator(target).boundingBox();
  const at = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  const cdp = await page.context().newCDPSession(page);
  const data = { items: [], files: [path], dragOperationsMask: 1 };
  for (const type of ["dragEnter", "dragOver", "drop"]) {
    await cdp.send("Input.dispatchDragEvent", { type, ...at, data });
  }
  await cdp.detach();
}

// How far the page scrolls sideways on a 320 px wide screen (the narrowest phones; WCAG's reflow
// width), with the elements that stick out, for the message; 0 when nothing does. A wide table
// scrolls inside its own box (.wide-table), which is allowed.
export async function sidewaysOverflow(page) {
  await page.setViewportSize({ width: 320, height: 800 });
  return page.evaluate(() => ({
    px: document.documentElement.scrollWidth - window.innerWidth,
    outside: [...document.querySelectorAll("body *")]
      .filter((e) => !e.closest(".wide-table") && e.getBoundingClientRect().right > window.innerWidth + 0.5)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ""}`)
      .slice(0, 8),
  }));
}
