"""Lays out ../shared/data/celeba as a class-per-folder image set for the Lab's folder benchmark:
DIR/{train,val,test}/{blond,not_blond}/NNNNNN.jpg by CelebA's official partition and its
Blond_Hair attribute, as hard links to the JPEGs where the file system allows, else copies (an
internal copy, which CelebA's terms allow; keep DIR out of the repository's tracked files, e.g.
under target/). Not symbolic links: a browser's folder picker, as Playwright drives it, skips them.

    python3 bench/lab/celeba_folder.py DIR [--celeba ../shared/data/celeba]
"""

import argparse
import os
import shutil
from pathlib import Path

SPLITS = {"0": "train", "1": "val", "2": "test"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--celeba", type=Path, default=Path(__file__).parents[3] / "shared/data/celeba")
    args = parser.parse_args()
    celeba = args.celeba.resolve()
    partition = dict(line.split() for line in (celeba / "list_eval_partition.txt").read_text().splitlines())
    lines = (celeba / "list_attr_celeba.txt").read_text().splitlines()
    blond = lines[1].split().index("Blond_Hair")
    counts: dict[str, int] = {}
    for row in lines[2:]:
        name, *values = row.split()
        folder = args.out / SPLITS[partition[name]] / ("blond" if values[blond] == "1" else "not_blond")
        folder.mkdir(parents=True, exist_ok=True)
        link = folder / name
        if link.is_symlink():
            link.unlink()
        if not link.exists():
            try:
                os.link(celeba / "img_align_celeba" / name, link)
            except OSError:
                shutil.copyfile(celeba / "img_align_celeba" / name, link)
        key = f"{folder.parent.name}/{folder.name}"
        counts[key] = counts.get(key, 0) + 1
    for key in sorted(counts):
        print(f"{key}: {counts[key]}")


if __name__ == "__main__":
    main()
