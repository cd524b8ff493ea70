// The Lab's network (the MaskTune authors' MNIST CNN, masktune/src/models/mnist_cnn.rs) trained
// by TensorFlow.js as its users train: layers API, model.fit, batches of 128, SGD with momentum
// 0.9 at lr 0.01 and weight decay 1e-4 (as L2 on the kernels), on the Lab's data as the Lab uses
// it: spurious MNIST's first images (0-4 vs 5-9, a 4x4 red square in the top-left corner of
// 99 % of 0-4s and 1 % of 5-9s), normalised as the Lab normalises. run.mjs calls
// window.trainEpochs({ backend, images, epochs }).
/* global tf */
tf.wasm.setWasmPaths(new URL("./tfjs-wasm/", location.href).href);

const MEAN = 0.1307;
const STD = 0.3081;
const SIDE = 28;
const SQUARE = 4;

async function gunzip(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const stream = response.body.pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// The first `count` training images as RGB floats, NHWC, with the squares, and their labels.
async function spuriousMnist(count) {
  const images = await gunzip("data/train-images-idx3-ubyte.gz");
  const digits = await gunzip("data/train-labels-idx1-ubyte.gz");
  const labels = Int32Array.from(digits.subarray(8, 8 + count), (digit) => (digit >= 5 ? 1 : 0));
  // Deterministic choice of the squared images: every 100th of class 1, all but every 100th of
  // class 0 (the Lab draws them at random in the same proportions).
  const seen = [0, 0];
  const pixels = new Float32Array(count * SIDE * SIDE * 3);
  for (let n = 0; n < count; n++) {
    const label = labels[n];
    const k = seen[label]++;
    const squared = label === 0 ? k % 100 !== 99 : k % 100 === 99;
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const grey = images[16 + n * SIDE * SIDE + y * SIDE + x];
        const rgb = squared && y < SQUARE && x < SQUARE ? [255, 0, 0] : [grey, grey, grey];
        for (let c = 0; c < 3; c++) pixels[((n * SIDE + y) * SIDE + x) * 3 + c] = (rgb[c] / 255 - MEAN) / STD;
      }
    }
  }
  return { x: tf.tensor4d(pixels, [count, SIDE, SIDE, 3]), y: tf.tensor1d(labels, "float32") };
}

function mnistCnn() {
  const l2 = () => tf.regularizers.l2({ l2: 5e-5 });
  const convBn = (filters, first) => [
    tf.layers.conv2d({
      filters,
      kernelSize: 3,
      padding: "valid",
      useBias: false,
      kernelRegularizer: l2(),
      ...(first ? { inputShape: [SIDE, SIDE, 3] } : {}),
    }),
    tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }),
    tf.layers.reLU(),
  ];
  const layers = [
    ...convBn(16, true),
    ...convBn(16),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    ...convBn(32),
    ...convBn(32),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.flatten(),
    tf.layers.dense({ units: 256, kernelRegularizer: l2() }),
    tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }),
    tf.layers.reLU(),
    tf.layers.dense({ units: 2, activation: "softmax", kernelRegularizer: l2() }),
  ];
  const model = tf.sequential({ layers });
  model.compile({
    optimizer: tf.train.momentum(0.01, 0.9),
    loss: "sparseCategoricalCrossentropy",
    metrics: ["accuracy"],
  });
  return model;
}

// Seconds per epoch of model.fit, with the training loss and accuracy it reports; or the error
// the backend gives (its message, as a user would see it).
window.trainEpochs = async ({ backend, images, epochs }) => {
  if (!(await tf.setBackend(backend))) throw new Error(`TensorFlow.js could not start its ${backend} backend`);
  await tf.ready();
  const { x, y } = await spuriousMnist(images);
  const model = mnistCnn();
  const epochSeconds = [];
  const logs = [];
  let start;
  try {
    await model.fit(x, y, {
      batchSize: 128,
      epochs,
      shuffle: true,
      callbacks: {
        onEpochBegin: async () => {
          start = performance.now();
        },
        onEpochEnd: async (_, log) => {
          epochSeconds.push((performance.now() - start) / 1000);
          logs.push({ loss: log.loss, accuracy: log.acc });
        },
      },
    });
  } catch (error) {
    return { backend: tf.getBackend(), error: String(error.message ?? error) };
  }
  return {
    backend: tf.getBackend(),
    threads: backend === "wasm" ? tf.wasm.getThreadsCount?.() : undefined,
    epoch_s: epochSeconds,
    logs,
  };
};
window.benchReady = true;
