"""Where "grayscale" ends: the statistic `imageio.pixels.colour_spread` on real gray JPEGs and real colour
photos, and the threshold `GRAY_MAX_SPREAD` chosen between them.

The statistic: the photo is box-averaged to at most GRAY_CHECK_SIZE (64) pixels across (each cell the
mean of a block of pixels, which averages JPEG's chroma noise away), and the largest max-min spread
of R, G and B over the cells is taken, in 8-bit levels (0-255). A photo is gray when it is at most
GRAY_MAX_SPREAD.

Sets (from ../shared/data, never committed):
- gray JPEGs: colour photos (every evaluation photo and TRAIN_SAMPLE training photos) made gray
  (Pillow's "L"), saved as RGB JPEG at quality 75, 90 and 95 (4:2:0): clean ("gray"), with
  Gaussian noise of PIXEL_NOISE levels added to each channel of each pixel ("gray+noise": JPEG's
  chroma quantisation removes most of it; less than about 4 levels is removed entirely), and with
  noise of BLOTCH_NOISE levels in blotches of BLOTCH_SIZE pixels ("gray+blotches", a scanner's
  low-frequency colour noise: reported, not used to choose the threshold);
- colour photos: the evaluation sets (kodak24, mcmaster18, mixed200);
- the training set, whose lowest spreads are its near-gray photos (look at them: `--sheet FILE`).

Run: .venv/bin/python benchmarks/grayscale_threshold.py [--data ../shared/data] [--sheet lowest.png]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from colorizekit.imageio.pixels import GRAY_MAX_SPREAD, colour_spread

QUALITIES = (75, 90, 95)  # JPEG qualities of the gray copies
PIXEL_NOISE = 6.0  # "gray+noise": standard deviation, in 8-bit levels, of per-pixel noise on each channel
BLOTCH_NOISE, BLOTCH_SIZE = 3.0, 4  # "gray+blotches": the same on blocks of BLOTCH_SIZE x BLOTCH_SIZE pixels
TRAIN_SAMPLE = 60  # training photos made gray (beside every evaluation photo)
SEED = 0


def gray_jpeg(path: str, quality: int, noise: float, size: int = 1) -> np.ndarray:
    """The photo at `path` made gray, with per-channel noise of `noise` levels on blocks of `size` pixels,
    saved as an RGB JPEG and decoded."""
    gray = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
    rgb = np.repeat(gray[..., None], 3, axis=2)
    if noise:
        rng = np.random.default_rng(zlib.crc32(f"{path}:{quality}:{size}".encode()))
        h, w = gray.shape
        blocks = rng.normal(0.0, noise, (-(-h // size), -(-w // size), 3))
        rgb = rgb + np.repeat(np.repeat(blocks, size, axis=0), size, axis=1)[:h, :w]
    buffer = io.BytesIO()
    Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8), "RGB").save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def measure(job: tuple[str, str, int, float, int]) -> tuple[str, str, float]:
    kind, path, quality, noise, size = job
    if kind.startswith("gray"):
        pixels = gray_jpeg(path, quality, noise, size)
    else:
        pixels = np.asarray(Image.open(path).convert("RGB"))
    return kind, path, colour_spread(pixels)


def describe(values: list[float]) -> str:
    v = np.asarray(values)
    return (f"n {len(v):5d}  min {v.min():6.1f}  p1 {np.percentile(v, 1):6.1f}  p5 {np.percentile(v, 5):6.1f}  "
            f"median {np.median(v):6.1f}  max {v.max():6.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    parser.add_argument("--sheet", help="write the training photos with the lowest spreads to this PNG")
    args = parser.parse_args()
    data = Path(args.data)
    evaluation = sorted(str(p) for p in (data / "eval").rglob("*") if p.suffix.lower() in (".jpg", ".png", ".tif"))
    train = sorted(str(p) for p in (data / "train").rglob("*.jpg"))
    if not evaluation or not train:
        print(f"{data}: no eval/ or train/ photos", file=sys.stderr)
        return 1
    sources = evaluation + random.Random(SEED).sample(train, TRAIN_SAMPLE)
    jobs = [("colour", p, 0, 0.0, 1) for p in evaluation] + [("train", p, 0, 0.0, 1) for p in train]
    jobs += [("gray", p, q, 0.0, 1) for q in QUALITIES for p in sources]
    jobs += [("gray+noise", p, q, PIXEL_NOISE, 1) for q in QUALITIES for p in sources]
    jobs += [("gray+blotches", p, q, BLOTCH_NOISE, BLOTCH_SIZE) for q in QUALITIES for p in sources]
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        results = list(pool.map(measure, jobs, chunksize=32))
    by_kind: dict[str, list[tuple[str, float]]] = {}
    for kind, path, spread in results:
        by_kind.setdefault(kind, []).append((path, spread))
    print(f"colour spread (8-bit levels) of a copy at most 64 px across; gray when <= {GRAY_MAX_SPREAD:g}\n")
    for kind in ("gray", "gray+noise", "gray+blotches", "colour", "train"):
        spreads = [s for _, s in by_kind[kind]]
        above = sum(s > GRAY_MAX_SPREAD for s in spreads)
        print(f"{kind:13s} {describe(spreads)}  above the threshold: {above}")
    lowest = sorted(by_kind["train"], key=lambda r: r[1])
    print("\ntraining photos with the lowest spreads (look at them: the near-gray ones):")
    for path, spread in lowest[:24]:
        print(f"  {spread:5.1f}  {Path(path).name}")
    gray_max = max(s for kind in ("gray", "gray+noise") for _, s in by_kind[kind])
    colour_min = min(s for _, s in by_kind["colour"])
    skipped = sum(s <= GRAY_MAX_SPREAD for _, s in by_kind["train"])
    print(f"\nlargest gray JPEG spread {gray_max:.1f}; smallest colour photo spread {colour_min:.1f}; "
          f"threshold GRAY_MAX_SPREAD = {GRAY_MAX_SPREAD:g}: {skipped} of {len(train)} training photos count as gray")
    if args.sheet:
        write_sheet(args.sheet, lowest[:48])
    ok = gray_max <= GRAY_MAX_SPREAD < colour_min
    print("the threshold separates the gray JPEGs from the colour photos" if ok else "it does NOT separate them")
    return 0 if ok else 1


def write_sheet(path: str, rows: list[tuple[str, float]], cell: int = 160) -> None:
    """A contact sheet of the photos in `rows`, each captioned with its spread."""
    from PIL import ImageDraw

    sheet = Image.new("RGB", (8 * cell, -(-len(rows) // 8) * (cell + 14)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (photo, spread) in enumerate(rows):
        image = Image.open(photo).convert("RGB")
        image.thumbnail((cell, cell))
        x, y = (i % 8) * cell, (i // 8) * (cell + 14)
        sheet.paste(image, (x, y))
        draw.text((x + 2, y + cell), f"{spread:.1f}", fill="black")
    sheet.save(path)


if __name__ == "__main__":
    sys.exit(main())
