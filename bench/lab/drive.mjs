// Driving the built page's Lab in headless Chromium, for the benches that time it (lab.mjs,
// ../vs_tfjs/run.mjs).
import { pageUrl, setField } from "../../e2e/support/browser.js";

// Opens the Lab at `base` (on WebGPU when asked) once its compute worker is up, and sets the
// Lab's fields that `settings` gives ({ images, epochs, seed }; undefined ones keep the page's).
export async function openLab(page, base, { webgpu = false, images, epochs, seed } = {}) {
  await page.goto(pageUrl(base, { webgpu, fragment: "lab" }));
  await page.locator("#backend-status:not([data-state='starting'])").waitFor({ timeout: 120_000 });
  for (const [field, value] of [["#lab-images", images], ["#lab-epochs", epochs], ["#lab-seed", seed]]) {
    if (value === undefined) continue;
    await setField(page, field, value);
  }
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
