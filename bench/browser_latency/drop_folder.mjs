// How long the built page takes to list a dropped folder: `count` copies of the spurious-MNIST
// example in a new folder, dropped on the page as a user drags it from their files (CDP
// Input.dispatchDragEvent, as e2e's dropFolder), timed until the progress bar counts every
// image. Several `--dist` folders are measured in turn within each round. By hand, not in the
// tests.
//
//     node bench/browser_latency/drop_folder.mjs [--dist dist[,other-dist...]] [--count 5000] [--rounds 2]
import { parseArgs } from "node:util";
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serveDirectory } from "../../e2e/support/server.js";
import { launchChromium, pageUrl, dropFolder } from "../../e2e/support/browser.js";
import { IMAGES } from "./page_timings.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const { values: options } = parseArgs({
  options: {
    dist: { type: "string", default: join(ROOT, "dist") },
    count: { type: "string", default: "5000" },
    rounds: { type: "string", default: "2" },
  },
});
const count = Number(options.count);

const parent = await mkdtemp(join(tmpdir(), "masktune-drop-"));
const folder = join(parent, "digits");
await mkdir(folder);
for (let i = 0; i < count; i++) await copyFile(IMAGES["spurious-mnist"], join(folder, `digit-${i}.png`));

async function measure(server) {
  const browser = await launchChromium({ webgpu: false });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(pageUrl(server.url, { fragment: "spurious-mnist" }));
    await page.locator("#model-status[data-state='ready']").waitFor({ timeout: 180_000 });
    const start = Date.now();
    await dropFolder(page, folder);
    await page.locator("#progress", { hasText: new RegExp(`of ${count}\\b`) }).waitFor({ timeout: 600_000 });
    return Date.now() - start;
  } finally {
    await browser.close();
  }
}

const dists = options.dist.split(",");
const servers = await Promise.all(dists.map((dist) => serveDirectory(dist)));
try {
  for (let round = 0; round < Number(options.rounds); round++) {
    for (const [i, server] of servers.entries()) {
      console.log(`${dists[i]}: ${count} files dropped, all counted after ${await measure(server)} ms`);
    }
  }
} finally {
  for (const server of servers) server.close();
  await rm(parent, { recursive: true });
}
