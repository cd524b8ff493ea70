// Where the built page spends its time while it analyses images, on its main thread or (--worker)
// in its compute worker, where the models run: a sampling CPU profile
// (Chromium's Profiler over CDP) of `count` images given one after the other on the CPU fallback
// (or WebGPU with --webgpu), after one warm-up image. Prints the self time per function, most
// first, and writes the whole profile (open it in Chromium's DevTools, Performance panel).
// Run by hand, not by the tests. Wasm functions have names only in a build that keeps the name
// section, in its own build folder (the setting rebuilds every dependency):
// CARGO_TARGET_DIR=target/wasm-names CARGO_PROFILE_WASM_RELEASE_STRIP=false trunk build --release --dist /tmp/dist-names
//
//     node bench/browser_latency/profile.mjs [--dist dist] [--task cifar10] [--image FILE]
//         [--count 6] [--webgpu] [--worker] [--out target/page.cpuprofile]
import { parseArgs } from "node:util";
import { writeFile } from "node:fs/promises";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory } from "../../e2e/support/server.js";
import { launchChromium, pageUrl } from "../../e2e/support/browser.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const { values: options } = parseArgs({
  options: {
    dist: { type: "string", default: join(ROOT, "dist") },
    task: { type: "string", default: "cifar10" },
    image: { type: "string", default: join(ROOT, "app", "assets", "examples", "cat-chelsea.png") },
    count: { type: "string", default: "6" },
    webgpu: { type: "boolean", default: false },
    worker: { type: "boolean", default: false },
    out: { type: "string", default: join(ROOT, "target", "page.cpuprofile") },
  },
});

// Gives the page the image and waits until its result card `shown` shows a decision.
async function analyse(page, shown) {
  await page.setInputFiles("#file-input", options.image);
  await page.waitForFunction((n) => document.querySelectorAll("article.result .decision").length === n, shown, {
    timeout: 120_000,
    polling: 5,
  });
}

// The compute worker's own DevTools session, reached through the page's (CDP's non-flat
// Target messages: Playwright's sessions do not address a worker's target).
async function workerSession(cdp) {
  const attached = new Promise((resolve) => cdp.on("Target.attachedToTarget", resolve));
  await cdp.send("Target.setAutoAttach", { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  const { sessionId, targetInfo } = await attached;
  if (targetInfo.type !== "worker") throw new Error(`attached to a ${targetInfo.type}, not the compute worker`);
  let nextId = 1;
  const pending = new Map();
  cdp.on("Target.receivedMessageFromTarget", ({ sessionId: from, message }) => {
    const reply = JSON.parse(message);
    if (from === sessionId && pending.has(reply.id)) {
      pending.get(reply.id)(reply);
      pending.delete(reply.id);
    }
  });
  return {
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, (reply) => (reply.error ? reject(new Error(reply.error.message)) : resolve(reply.result)));
        cdp.send("Target.sendMessageToTarget", { sessionId, message: JSON.stringify({ id, method, params }) });
      }),
  };
}

const server = await serveDirectory(options.dist);
const browser = await launchChromium({ webgpu: options.webgpu });
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(pageUrl(server.url, { webgpu: options.webgpu, fragment: options.task }));
  await page.locator("#model-status[data-state='ready']").waitFor({ timeout: 180_000 });
  await analyse(page, 1);
  const pageSession = await page.context().newCDPSession(page);
  const cdp = options.worker ? await workerSession(pageSession) : pageSession;
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
  await cdp.send("Profiler.start");
  for (let i = 0; i < Number(options.count); i++) await analyse(page, i + 2);
  const { profile } = await cdp.send("Profiler.stop");
  await writeFile(options.out, JSON.stringify(profile));

  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMs = new Map();
  profile.samples.forEach((id, i) => {
    const { functionName, url } = nodes.get(id).callFrame;
    const key = `${functionName || "(anonymous)"} ${url.split("/").pop()}`;
    selfMs.set(key, (selfMs.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  const total = [...selfMs.values()].reduce((a, b) => a + b, 0);
  const thread = options.worker ? "the compute worker" : "the page's main thread";
  console.log(`${options.count} images, ${total.toFixed(0)} ms sampled in ${thread}; self time per function:`);
  for (const [name, ms] of [...selfMs].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`${ms.toFixed(1).padStart(9)} ms  ${name}`);
  }
  console.log(`profile written to ${options.out}`);
} finally {
  await browser.close();
  await server.close();
}
