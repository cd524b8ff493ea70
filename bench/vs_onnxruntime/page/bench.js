// ONNX Runtime Web on the page's models, as its users call it: `?ep=wasm&threads=N` imports the
// default build (wasm EP), `?ep=webgpu` the WebGPU build. run.mjs calls window.bench().
const params = new URLSearchParams(location.search);
const ep = params.get("ep") ?? "wasm";
const ort = await import(ep === "webgpu" ? "./ort/ort.webgpu.min.mjs" : "./ort/ort.min.mjs");
ort.env.wasm.wasmPaths = new URL("./ort/", location.href).href;
ort.env.wasm.numThreads = Number(params.get("threads") ?? 1);

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function softmax(logits) {
  const max = Math.max(...logits);
  const exp = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  return exp.map((v) => v / sum);
}

// The file -> the model's input as the page prepares it: centre crop to a square, resize to the
// input side, RGB scaled to [0, 1] and normalised per channel, NCHW.
async function preprocess(blob, side, { mean, std }) {
  const bitmap = await createImageBitmap(blob);
  const crop = Math.min(bitmap.width, bitmap.height);
  const canvas = new OffscreenCanvas(side, side);
  const context = canvas.getContext("2d");
  context.drawImage(bitmap, (bitmap.width - crop) / 2, (bitmap.height - crop) / 2, crop, crop, 0, 0, side, side);
  const { data } = context.getImageData(0, 0, side, side);
  const plane = side * side;
  const input = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) input[c * plane + i] = (data[4 * i + c] / 255 - mean[c]) / std[c];
  }
  return new ort.Tensor("float32", input, [1, 3, side, side]);
}

// Times `repeats + 1` forward passes of the MaskTune model on one prepared image (the first
// apart: session warm-up, shader compilation), then `repeats + 1` images end to end: file ->
// prepared input -> ERM and MaskTune -> probabilities (no saliency: ONNX Runtime has none).
window.bench = async ({ task, repeats, image }) => {
  const models = await (await fetch("models/models.json")).json();
  const erm = models[`${task}-erm`];
  const masktune = models[`${task}-masktune`];
  const options = { executionProviders: [ep], graphOptimizationLevel: "all" };
  const sessions = {
    erm: await ort.InferenceSession.create(`models/${erm.file}`, options),
    masktune: await ort.InferenceSession.create(`models/${masktune.file}`, options),
  };
  const blob = await (await fetch(image)).blob();
  const input = await preprocess(blob, erm.side, erm.normalization);
  const forward = [];
  for (let i = 0; i <= repeats; i++) {
    const start = performance.now();
    const { logits } = await sessions.masktune.run({ input });
    await logits.getData();
    forward.push(performance.now() - start);
  }
  const endToEnd = [];
  for (let i = 0; i <= repeats; i++) {
    const start = performance.now();
    const x = await preprocess(blob, erm.side, erm.normalization);
    const probabilities = [];
    for (const session of [sessions.erm, sessions.masktune]) {
      const { logits } = await session.run({ input: x });
      probabilities.push(softmax(await logits.getData()));
    }
    endToEnd.push(performance.now() - start);
  }
  return {
    crossOriginIsolated,
    first_forward_ms: forward[0],
    forward_ms: median(forward.slice(1)),
    first_end_to_end_ms: endToEnd[0],
    end_to_end_ms: median(endToEnd.slice(1)),
  };
};
window.benchReady = true;
