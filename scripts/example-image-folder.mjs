// Writes a small image folder in the layout `trainer-native --experiment folder` reads: one
// subfolder per class under train/ and test/ (validation is held out of train/). Two classes of
// 32x32 PNGs, a bright square or a bright disc on noise, in random places and colours: the
// README's "MaskTune on your own images" and the tests start from it. Deterministic.
//
//     node scripts/example-image-folder.mjs DIR [--train 40] [--test 10]
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { deflateSync } from "node:zlib";

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: { train: { type: "string", default: "40" }, test: { type: "string", default: "10" } },
});
if (positionals.length !== 1) {
  console.error("usage: node scripts/example-image-folder.mjs DIR [--train N] [--test N]");
  process.exit(2);
}
const SIDE = 32;

// mulberry32: a small seeded generator, so that the folder is the same everywhere.
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

// An 8-bit RGB PNG of `rgb` (SIDE x SIDE x 3 bytes).
function png(rgb) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(SIDE, 0);
  header.writeUInt32BE(SIDE, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const rows = Buffer.alloc(SIDE * (1 + SIDE * 3));
  for (let y = 0; y < SIDE; y++) rgb.copy(rows, y * (1 + SIDE * 3) + 1, y * SIDE * 3, (y + 1) * SIDE * 3);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

function picture(shape, next) {
  const rgb = Buffer.alloc(SIDE * SIDE * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = Math.floor(next() * 90);
  const colour = [0, 1, 2].map(() => 150 + Math.floor(next() * 105));
  const radius = 4 + Math.floor(next() * 5);
  const cx = radius + Math.floor(next() * (SIDE - 2 * radius));
  const cy = radius + Math.floor(next() * (SIDE - 2 * radius));
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const inside = shape === "square"
        ? Math.abs(x - cx) <= radius && Math.abs(y - cy) <= radius
        : (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2;
      if (inside) rgb.set(colour, (y * SIDE + x) * 3);
    }
  }
  return png(rgb);
}

const next = random(7);
for (const [split, count] of [["train", Number(options.train)], ["test", Number(options.test)]]) {
  for (const shape of ["disc", "square"]) {
    const folder = join(positionals[0], split, shape);
    mkdirSync(folder, { recursive: true });
    for (let i = 0; i < count; i++) writeFileSync(join(folder, `${shape}-${String(i).padStart(3, "0")}.png`), picture(shape, next));
  }
}
console.log(`wrote ${positionals[0]}: train/ and test/, classes disc and square, ${options.train} + ${options.test} images each`);
