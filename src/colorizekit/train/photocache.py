"""Training photos in RAM: decoded and downscaled once per run, kept as uint8.

Training reads each photo every epoch but only needs its pixels at about the training size. The
cache decodes every photo once, with a pixels-only decode (`decode_pixels`: no signature sniffing,
EXIF, ICC or orientation handling, and JPEG's DCT-domain downscaling through `draft()`), shrinks it
so its short side is `short_side` (never enlarged), and keeps it as a uint8 array. Crops and flips
are then cut from the cached copy.

Memory: about 3 * short_side^2 * (mean aspect ratio) bytes per photo. The 13,026 photos of
../shared/data/train (short side at most 192) take 680 MiB at short side 128 (64 px training) and
1,317 MiB at 256 (128 px training, where they are kept at their own size).
Past `max_bytes` the remaining photos are not cached: they are decoded from disk each time they are
used, as without a cache (the run's log says how many).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

CACHE_SCALE = 2  # cached short side = CACHE_SCALE x the training size (room for random crops)
DEFAULT_CACHE_MB = 8192  # default memory limit of the cache


class PhotoReadError(OSError):
    """A training photo that could not be read; the message names the file and the problem."""


def decode_pixels(path: str | os.PathLike, short_side: int | None = None) -> Image.Image:
    """The RGB pixels of an image file, shrunk so that its short side is at most `short_side`.

    Training only: unlike `imageio.open_rgb`, no EXIF orientation, ICC profile or format sniffing.
    Raises PhotoReadError (one line naming the file) when the file is missing or cannot be decoded.
    """
    try:
        with Image.open(path) as img:
            if short_side is not None and img.format == "JPEG":
                scale = short_side / min(img.size)
                img.draft("RGB", (max(1, round(img.width * scale)), max(1, round(img.height * scale))))
            img.load()
            rgb = img.convert("RGB")
    except FileNotFoundError:
        raise PhotoReadError(f"{path}: the file is gone") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PhotoReadError(f"{path}: cannot be decoded ({exc})") from None
    if short_side is not None and min(rgb.size) > short_side:
        scale = short_side / min(rgb.size)
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)
    return rgb


class PhotoCache:
    """uint8 copies (H, W, 3) of photos, filled once by `fill`; `get(i)` returns a PIL image, from the
    cache when the photo is in it, else decoded from disk. Safe to read from several threads."""

    def __init__(self, paths: Sequence[str | os.PathLike], short_side: int, max_bytes: int) -> None:
        self.paths = [str(p) for p in paths]
        self.short_side = short_side
        self.max_bytes = max_bytes
        self.arrays: list[np.ndarray | None] = [None] * len(self.paths)
        self.nbytes = 0
        self.failed: dict[int, str] = {}  # index -> one-line reason, found while filling
        self._lock = threading.Lock()

    def fill(self, threads: int = 2, progress: bool = True) -> None:
        """Decode every photo once (on `threads` threads) until `max_bytes` is reached."""
        from tqdm import tqdm

        def load(i: int) -> None:
            if self.nbytes >= self.max_bytes:
                return
            try:
                arr = np.asarray(decode_pixels(self.paths[i], self.short_side))
            except PhotoReadError as exc:
                self.failed[i] = str(exc)
                return
            with self._lock:
                if self.nbytes + arr.nbytes <= self.max_bytes:
                    self.arrays[i] = arr
                    self.nbytes += arr.nbytes

        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            list(tqdm(pool.map(load, range(len(self.paths))), total=len(self.paths), desc="caching photos",
                      unit="img", disable=not progress, leave=False))

    @property
    def cached(self) -> int:
        """How many photos are in the cache."""
        return sum(a is not None for a in self.arrays)

    def describe(self) -> str:
        """One line: photos cached, memory, what happens to the rest."""
        rest = len(self.paths) - self.cached - len(self.failed)
        line = (f"cached {self.cached} of {len(self.paths)} photos at short side {self.short_side} in "
                f"{self.nbytes / 2**20:.0f} MiB")
        if rest:
            line += f"; {rest} past the {self.max_bytes / 2**20:.0f} MiB limit are decoded from disk each time"
        if self.failed:
            line += f"; {len(self.failed)} could not be read and are skipped"
        return line

    def get(self, index: int) -> Image.Image:
        """The photo `index` as an RGB PIL image (PhotoReadError when it cannot be read)."""
        arr = self.arrays[index]
        if arr is not None:
            return Image.fromarray(arr)
        if index in self.failed:
            raise PhotoReadError(self.failed[index])
        return decode_pixels(self.paths[index], self.short_side)
