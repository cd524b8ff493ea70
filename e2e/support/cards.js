// The result cards of the page as plain data, trainer-native's answers for the same images, and
// the check that a card agrees with them.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

// Where scripts/test.sh writes trainer-native's answers (`predict --out`), one file per task.
const TRAINER_PREDICTIONS = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "target", "e2e");

// trainer-native's answers for task `id`, by image file name.
export async function trainerPredictions(id) {
  return JSON.parse(await readFile(join(TRAINER_PREDICTIONS, `trainer-predictions-${id}.json`), "utf8"));
}

// Every card's pictures have their address and have loaded. They come after the card's answer:
// the worker draws them (PNG files) once the card shows.
export function cardPicturesLoaded(page) {
  return page.waitForFunction(() =>
    [...document.querySelectorAll("article.result img")].every((img) => img.getAttribute("src") && img.complete));
}

export async function readCards(page) {
  await cardPicturesLoaded(page);
  return page.locator("article.result").evaluateAll((articles) =>
    articles.map((a) => {
      const d = a.querySelector(".decision");
      return {
        name: a.dataset.name,
        error: a.querySelector(".error")?.textContent ?? null,
        decision: d?.dataset.decision ?? null,
        ermClass: d?.dataset.ermClass ?? null,
        masktuneClass: d?.dataset.masktuneClass ?? null,
        confidence: d ? Number(d.dataset.confidence) : null,
        maskedPixels: d ? Number(d.dataset.maskedPixels) : null,
        maskingEngine: d?.dataset.maskingEngine ?? null,
        images: [...a.querySelectorAll("img")].map((img) => img.naturalWidth),
      };
    }),
  );
}

// The page and `trainer-native predict` agree on one image: classes, confidence, masked pixels
// (within 1 % of the image: pixels at the threshold may flip between engines). WebGPU masks with
// the project's WGSL kernels, the CPU fallback with Burn tensor ops.
export function assertAgrees(card, trainer, { name, side, webgpu }) {
  assert.match(card.decision, /^(accept|abstain)$/);
  assert.deepEqual(card.images.length, 3, "input, heatmap and masked image are shown");
  assert.equal(card.maskingEngine, webgpu ? "WGSL kernels" : "Burn tensor ops", `${name}: masking engine`);
  assert.ok(card.images.every((w) => w > 0), `${name}: every image is drawn`);
  assertSameAnswer(card, trainer, { name, side });
}

// The page's "Download the results" file and `trainer-native predict --out` (the same format,
// the same default coverage) agree on one image, as its card does, and on the decision.
export function assertReportAgrees(report, trainer, { name, side }) {
  assert.equal(report.error, undefined, `${name} failed in the page: ${report.error}`);
  const answer = { ermClass: report.erm_class, masktuneClass: report.masktune_class, confidence: report.confidence, maskedPixels: report.masked_pixels };
  assertSameAnswer(answer, trainer, { name, side });
  assert.equal(report.combined_class, trainer.combined_class, `${name}: combined class`);
  assert.equal(report.label, trainer.label, `${name}: the class its folder names`);
  assert.deepEqual([report.threshold, report.target_coverage], [trainer.threshold, trainer.target_coverage], `${name}: threshold`);
  if (Math.abs(trainer.confidence - trainer.threshold) > 1e-3) {
    assert.equal(report.decision, trainer.decision, `${name}: decision`);
  }
}

function assertSameAnswer(page, trainer, { name, side }) {
  assert.ok(trainer, `trainer-native has no prediction for ${name}`);
  assert.equal(page.ermClass, trainer.erm_class, `${name}: ERM class`);
  assert.equal(page.masktuneClass, trainer.masktune_class, `${name}: MaskTune class`);
  assert.ok(Math.abs(page.confidence - trainer.confidence) < 1e-3, `${name}: confidence ${page.confidence} vs ${trainer.confidence}`);
  assert.ok(Math.abs(page.maskedPixels - trainer.masked_pixels) <= 0.01 * side * side,
    `${name}: masked ${page.maskedPixels} px in the page, ${trainer.masked_pixels} px in the trainer`);
}
