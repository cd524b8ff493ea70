// Driving the built page's Lab in headless Chromium, for the benches that time it (lab.mjs,
// ../vs_tfjs/run.mjs).
import { pageUrl, setField } from "../../e2e/support/browser.js";

// Opens the Lab at `base` (on WebGPU when asked) once its compute worker is up, gives it `folder`
// (a folder of class subfolders) and `erm` (a trained ERM model's file to start from) where they
// are named, and sets the Lab's fields that `settings` gives ({ images, epochs, seed, imageSize };
// undefined ones keep the page's).
export async function openLab(page, base, { webgpu = false, folder, erm, images, epochs, seed, imageSize } = {}) {
  await page.goto(pageUrl(base, { webgpu, fragment: "lab" }));
  await page.locator("#backend-status:not([data-state='starting'])").waitFor({ timeout: 120_000 });
  if (folder) await give(page, "folder", folder, "#lab-data-folder", 300_000);
  if (erm) await give(page, "erm", erm, "#lab-erm-given", 60_000);
  const fields = [["#lab-images", images], ["#lab-epochs", epochs], ["#lab-seed", seed], ["#lab-image-size", imageSize]];
  for (const [field, value] of fields) {
    if (value === undefined) continue;
    await setField(page, field, value);
  }
}

// Chooses `radio`, gives `path` to the Lab's #lab-<what>-input and waits for its note
// (#lab-<what>) to say the Lab can use it; throws with the note's words if it cannot.
async function give(page, what, path, radio, timeout) {
  await page.click(radio);
  await page.setInputFiles(`#lab-${what}-input`, path);
  const note = page.locator(`#lab-${what}`);
  await note.waitFor({ timeout });
  if ((await note.getAttribute("data-state")) !== "ready") throw new Error(await note.textContent());
}

// Starts a run and waits for it to finish; throws with the page's message if it failed.
export async function runLab(page) {
  await page.click("#lab-start");
  const end = page.locator("#lab-status:is([data-state='finished'], [data-state='failed'])");
  await end.waitFor({ timeout: 1_800_000 });
  if ((await end.getAttribute("data-state")) !== "finished") throw new Error(await end.textContent());
}

// What the Lab says it trains on ("Training on CPU (WebAssembly, SIMD, 2 threads) — ...").
export async function trainsOn(page) {
  return (await page.locator("#lab-backend").textContent()).replace(/\s+/g, " ").trim();
}
