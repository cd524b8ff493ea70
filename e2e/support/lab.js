// The Lab's runs as the tests see them: the example image folder they train on, when a run
// ends, and what a finished one shows and gives.
import { execFile } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "scripts", "example-image-folder.mjs");

// Writes the example image folder (scripts/example-image-folder.mjs) at `dir`, with `train` and
// `test` images of each class.
export async function writeExampleFolder(dir, { train, test }) {
  await promisify(execFile)("node", [SCRIPT, dir, "--train", String(train), "--test", String(test)]);
}

// Waits for the run to end (finished, failed or stopped), at most `timeout` ms; its state, and
// its status text with the page's console for an assertion's message.
export async function runEnded(page, consoleLines, { timeout = 300_000 } = {}) {
  const end = page.locator("#lab-status:is([data-state='finished'], [data-state='failed'], [data-state='stopped'])");
  await end.waitFor({ timeout });
  const state = await end.getAttribute("data-state");
  return { state, text: `${await end.textContent()}\n${consoleLines.join("\n")}` };
}

// What a finished run shows and gives: its epoch table, its evaluation and the SHA-256 of its two
// bundles (the weights, byte for byte).
export async function runOutcome(page) {
  const rows = await page.locator("#lab-results tr").evaluateAll((rows) => rows.map((r) => r.textContent));
  const evaluation = await page.locator("#lab-evaluation").textContent();
  const bundles = await page.evaluate(async () => {
    const digest = async (id) => {
      const bytes = await (await fetch(document.getElementById(id).href)).arrayBuffer();
      return [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
    };
    return [await digest("lab-download-erm"), await digest("lab-download-masktune")];
  });
  // The table's training times differ between runs: only its numbers of the models count.
  return { rows: rows.map((r) => r.replace(/\d+(\.\d+)? s\b/g, "")), evaluation, bundles };
}
