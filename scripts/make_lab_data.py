#!/usr/bin/env python3
"""Writes the Lab's MNIST subset: app/assets/lab/mnist/, four gzipped idx files in MNIST's own
format (the page and `trainer-native --data app/assets/lab/mnist` read the same files).

The first 12,000 training images (the page holds out 2,000 of them for validation, by the seed)
and the first 2,000 test images of MNIST, in file order. MNIST (LeCun, Cortes, Burges) is
distributed under CC BY-SA 3.0; the page and the README credit it. Deterministic: the gzip
headers carry no time stamp, so a rerun writes the same bytes.

    python3 scripts/make_lab_data.py [--mnist ../shared/data/mnist] [--out app/assets/lab/mnist]
"""
import argparse
import gzip
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAIN, TEST = 12_000, 2_000
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", TRAIN),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", TEST),
}


def read_idx(path):
    data = gzip.decompress(path.read_bytes())
    magic, count = struct.unpack(">II", data[:8])
    dims = {0x803: 3, 0x801: 1}.get(magic)
    if dims is None:
        raise SystemExit(f"{path}: magic {magic:#x} is not an idx image or label file")
    shape = struct.unpack(f">{dims}I", data[4 : 4 + 4 * dims])
    return magic, shape, data[4 + 4 * dims :]


def write_subset(source, target, n):
    magic, shape, body = read_idx(source)
    record = 1
    for d in shape[1:]:
        record *= d
    if shape[0] < n:
        raise SystemExit(f"{source} holds {shape[0]} records, fewer than {n}")
    header = struct.pack(f">I{len(shape)}I", magic, n, *shape[1:])
    target.write_bytes(gzip.compress(header + body[: n * record], compresslevel=9, mtime=0))
    print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}: {n} records, "
          f"{target.stat().st_size / 1e6:.2f} MB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, default=ROOT.parent / "shared" / "data" / "mnist")
    parser.add_argument("--out", type=Path, default=ROOT / "app" / "assets" / "lab" / "mnist")
    args = parser.parse_args()
    if not args.mnist.is_dir():
        raise SystemExit(f"{args.mnist} does not exist: give --mnist DIR with MNIST's four .gz files")
    args.out.mkdir(parents=True, exist_ok=True)
    for images, labels, n in FILES.values():
        for name in (images, labels):
            write_subset(args.mnist / f"{name}.gz", args.out / f"{name}.gz", n)


if __name__ == "__main__":
    main()
