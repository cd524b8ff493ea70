// A redeployed page reaches the people who visited it before. Served as a host that reads the
// site's `_headers` file serves it (app/_headers: cross-origin isolated, every file but the HTML
// kept in the browser's cache for a year), a returning visitor's browser fetches again each file
// that a redeploy changed and keeps the others, because the build stamps the files the page
// fetches by a fixed name with a version of their content (scripts/stamp_assets.mjs): worker.js,
// loader.js, the threaded and WebGPU builds, the bundles, the examples.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { appendFile, cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory, hostHeaders, ISOLATION_HEADERS } from "./support/server.js";
import { launchChromium, collectConsole, pageUrl } from "./support/browser.js";
import { stamp, version } from "../scripts/stamp_assets.mjs";

const DIST = process.env.MASKTUNE_DIST ?? join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
const TASK = "spurious-mnist";

const servers = [];
after(() => servers.forEach((server) => server.close()));

async function serve(root, options) {
  const served = [];
  const server = await serveDirectory(root, { ...options, served });
  servers.push(server);
  return { ...server, served };
}

// Opens the task's page in `context` and waits for its models; `example` also analyses the task's
// first example image. Says whether the page was cross-origin isolated.
async function visit(context, url, { example = false } = {}) {
  const page = await context.newPage();
  const consoleLines = collectConsole(page);
  await page.goto(url);
  await page.locator("#model-status[data-state='ready']").waitFor({ timeout: 180_000 }).catch((error) => {
    throw new Error(`models never became ready: ${error.message}\n${consoleLines.join("\n")}`);
  });
  if (example) {
    await page.locator("button.example").first().click();
    await page.locator("article.result .decision").first().waitFor({ timeout: 120_000 });
  }
  const isolated = await page.evaluate(() => window.crossOriginIsolated);
  await page.close();
  return isolated;
}

const pathOf = (address) => new URL(address, "http://x").pathname.slice(1);
const versionOf = (address) => new URL(address, "http://x").searchParams.get("v");

test("every file the page fetches by a fixed name carries the version of its content", async () => {
  const isolated = await serve(DIST, { headers: ISOLATION_HEADERS });
  const plain = await serve(DIST);
  const browser = await launchChromium({ webgpu: true });
  try {
    // The threaded build (a cross-origin isolated page) with an example, then the WebGPU build.
    await visit(await browser.newContext(), `${isolated.url}#${TASK}`, { example: true });
    await visit(await browser.newContext(), pageUrl(plain.url, { webgpu: true, fragment: TASK }));
  } finally {
    await browser.close();
  }
  const fetched = [...isolated.served, ...plain.served].filter((address) => {
    const path = pathOf(address);
    // The HTML, which carries the versions, and wasm-bindgen's snippets, whose folder is named
    // after their crate and its version.
    return path !== "" && !path.endsWith(".html") && !path.includes("/snippets/");
  });
  for (const expected of ["loader.js", "worker.js", "threads/app.js", "threads/app_bg.wasm", "webgpu/app.js",
    "webgpu/app_bg.wasm", `assets/models/${TASK}-erm.mtb`, `assets/models/${TASK}-masktune.mtb`]) {
    assert.ok(fetched.some((address) => pathOf(address) === expected), `${expected} was not fetched: ${fetched}`);
  }
  assert.ok(fetched.some((address) => pathOf(address).startsWith("assets/examples/")), `no example fetched: ${fetched}`);
  for (const address of fetched) {
    assert.equal(versionOf(address), await version(join(DIST, pathOf(address))), `the version in ${address}`);
  }
});

test("served by its _headers file, the page is isolated, and a returning visitor gets the files a redeploy changed and keeps the others", async () => {
  const home = await mkdtemp(join(tmpdir(), "masktune-redeploy-"));
  const site = join(home, "site");
  try {
    await cp(DIST, site, { recursive: true });
    const server = await serve(site, { headers: await hostHeaders(site) });
    // A profile on disk: an in-memory cache keeps no file as large as the wasm.
    const context = await launchChromium({ webgpu: false, profile: join(home, "profile") });
    try {
      const url = `${server.url}#${TASK}`;
      assert.ok(await visit(context, url), "the _headers file makes the page cross-origin isolated");
      const firstVisit = server.served.splice(0);
      for (const path of ["worker.js", "threads/app_bg.wasm", `assets/models/${TASK}-erm.mtb`]) {
        assert.ok(firstVisit.some((address) => pathOf(address) === path), `the first visit fetched no ${path}: ${firstVisit}`);
      }

      // The redeploy changes the worker's script only.
      const before = await version(join(site, "worker.js"));
      await appendFile(join(site, "worker.js"), "\n// redeployed\n");
      const stamped = await stamp(site);
      assert.notEqual(stamped["worker.js"], before);

      await visit(context, url);
      const again = server.served.map(pathOf);
      assert.ok(
        server.served.includes(`/worker.js?v=${stamped["worker.js"]}`),
        `the changed worker.js was not fetched again: ${server.served}`,
      );
      for (const path of ["threads/app.js", "threads/app_bg.wasm", `assets/models/${TASK}-erm.mtb`, `assets/models/${TASK}-masktune.mtb`]) {
        assert.ok(!again.includes(path), `the unchanged ${path} was fetched again, not taken from the cache`);
      }
    } finally {
      await context.close();
    }
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test("stamping a page again replaces its earlier stamp and follows what changed", async () => {
  const site = await mkdtemp(join(tmpdir(), "masktune-stamp-"));
  try {
    await mkdir(join(site, "assets"));
    await writeFile(join(site, "loader.js"), "export const one = 1;\n");
    await writeFile(join(site, "assets", "model.mtb"), "weights");
    const html = '<html><head><script type="module">import { start } from "./loader.js"; await start();</script></head></html>';
    await writeFile(join(site, "index.html"), html);
    const manifest = (page) => JSON.parse(page.match(/<script type="application\/json" id="asset-versions">([^<]*)<\/script>/)[1]);

    const first = await stamp(site);
    assert.deepEqual(Object.keys(first), ["assets/model.mtb", "loader.js"], "every file but the HTML");
    const once = await readFile(join(site, "index.html"), "utf8");
    assert.deepEqual(manifest(once), first);
    assert.ok(once.includes(`from "./loader.js?v=${first["loader.js"]}"`), once);

    await stamp(site);
    assert.equal(await readFile(join(site, "index.html"), "utf8"), once, "a second stamp of the same files changes nothing");

    await writeFile(join(site, "loader.js"), "export const one = 2;\n");
    const second = await stamp(site);
    assert.notEqual(second["loader.js"], first["loader.js"]);
    assert.equal(second["assets/model.mtb"], first["assets/model.mtb"]);
    const again = await readFile(join(site, "index.html"), "utf8");
    assert.equal(again.match(/id="asset-versions"/g).length, 1, again);
    assert.ok(again.includes(`from "./loader.js?v=${second["loader.js"]}"`), again);
  } finally {
    await rm(site, { recursive: true, force: true });
  }
});
