"""Training data: find the photos in a folder, split them reproducibly, and load fixed-size crops.

- `scan_images` walks a folder recursively and keeps the colour photos; unreadable files and
  grayscale photos (`imageio.pixels.is_grayscale`: they teach no colour) are skipped and counted.
- `split_paths` is the design's split: sort, shuffle with `random.Random(seed)` (the notebooks'
  `random.seed(44)`), first 80 % train. Paths are sorted by their path relative to the data folder,
  so the split is the same on every run and every machine.
- `PhotoDataset` crops and resizes photos, from a `PhotoCache` in RAM or decoded from disk (pixels
  only) in DataLoader workers, and returns uint8 tensors (3, S, S); colour conversion and
  normalisation happen later, on the training device, for a whole batch. A photo that cannot be read
  (moved, deleted, damaged during a run) is skipped with one warning line; `collate_photos` drops it
  from its batch and counts it.
- `ShardSampler` orders samples for one epoch and one rank (shuffled like DistributedSampler,
  sharded across ranks, resumable in the middle of an epoch).

Random augmentation draws from a generator seeded by (seed, epoch, sample index) alone, so a sample
gets the same crop whatever the number of workers or ranks, and a resumed run sees the same crops.
"""

from __future__ import annotations

import math
import os
import random
import signal
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler

from colorizekit.imageio import IMAGE_SUFFIXES, ImageError, find_images, open_rgb
from colorizekit.imageio.pixels import is_grayscale
from colorizekit.train.photocache import CACHE_SCALE, PhotoCache, PhotoReadError, decode_pixels

RESIZE_MODES = ("crop", "squash")  # see PhotoDataset
CROP_SCALE = (0.25, 1.0)  # random crop: area as a fraction of the photo's area
CROP_RATIO = (3 / 4, 4 / 3)  # random crop: width / height before it is resized to a square
CROP_ATTEMPTS = 10  # random crop: draws before falling back to a central crop
RESAMPLE = Image.Resampling.BILINEAR  # filter for every resize (antialiased when shrinking)


# ----------------------------------------------------------------------------------------------
# Finding the photos


@dataclass(frozen=True)
class ScanResult:
    """What `scan_images` found in a data folder."""

    root: Path  # the folder that was scanned
    paths: tuple[Path, ...]  # usable colour photos, sorted by their path relative to `root`
    grayscale: tuple[Path, ...]  # fully grayscale photos, skipped
    unreadable: tuple[str, ...]  # one "<file>: <problem>" line per file that could not be read, skipped


def _check_photo(path: Path) -> tuple[str, str | None]:
    """("ok" | "gray" | "bad", message) for one file."""
    try:
        img = open_rgb(path)
    except ImageError as exc:
        return "bad", str(exc)
    except OSError as exc:  # e.g. a file that vanished during the scan
        return "bad", f"{path}: {exc.strerror or exc}"
    return ("gray" if is_grayscale(np.asarray(img.convert("RGB"))) else "ok"), None


def _relative_key(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def list_images(data_dir: str | os.PathLike) -> list[Path]:
    """The image files under `data_dir` (recursively, by suffix), sorted by their path relative to it.

    Raises FileNotFoundError when `data_dir` does not exist and ValueError (one line) when it is not
    a folder or holds no image file.
    """
    root = Path(data_dir)
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such data folder")
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder (expected a folder of photos)")
    found, _messages = find_images([root])
    if not found:
        raise ValueError(f"{root}: no images found (looked recursively for {', '.join(sorted(IMAGE_SUFFIXES))})")
    return sorted((Path(p) for p in found), key=lambda p: _relative_key(p, root))


def check_photos(paths: Sequence[Path], *, threads: int | None = None,
                 progress: bool = True) -> list[tuple[str, str | None]]:
    """Decode each file once (on `threads` threads, default: all cores): ("ok", None), ("gray", None)
    or ("bad", "<file>: <problem>") per path, in order."""
    from tqdm import tqdm

    with ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 1) as pool:
        return list(tqdm(pool.map(_check_photo, paths), total=len(paths), desc="scanning", unit="img",
                         disable=not progress, leave=False))


def collect_scan(root: Path, candidates: Sequence[Path], results: Sequence[tuple[str, str | None]]) -> ScanResult:
    """A ScanResult from `check_photos`' results; ValueError (one line) when no photo is usable."""
    ok = [p for p, (kind, _) in zip(candidates, results) if kind == "ok"]
    gray = [p for p, (kind, _) in zip(candidates, results) if kind == "gray"]
    bad = [message for kind, message in results if kind == "bad"]
    if not ok:
        raise ValueError(f"{root}: no usable colour photos among {len(candidates)} image files "
                         f"({len(gray)} grayscale, {len(bad)} unreadable)")
    return ScanResult(root=root, paths=tuple(ok), grayscale=tuple(gray), unreadable=tuple(bad))


def scan_images(data_dir: str | os.PathLike, *, threads: int | None = None, progress: bool = True) -> ScanResult:
    """Find the usable colour photos under `data_dir` (recursively): `list_images`, then `check_photos`
    to skip unreadable and fully grayscale files. Errors as `list_images` and `collect_scan`."""
    candidates = list_images(data_dir)
    return collect_scan(Path(data_dir), candidates, check_photos(candidates, threads=threads, progress=progress))


def split_paths(paths: Sequence[str], val_fraction: float = 0.2, seed: int = 44) -> tuple[list[str], list[str]]:
    """The design's split: shuffle (a sorted copy of) `paths` with `random.Random(seed)`; the first
    1 - val_fraction go to training, the rest to validation. Raises ValueError if either is empty."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"validation fraction must be between 0 and 1 (exclusive); got {val_fraction}")
    order = sorted(paths)
    random.Random(seed).shuffle(order)
    n_val = round(len(order) * val_fraction)
    n_train = len(order) - n_val
    if n_train < 1 or n_val < 1:
        raise ValueError(f"{len(order)} photos cannot be split {1 - val_fraction:.0%}/{val_fraction:.0%} "
                         f"into non-empty training and validation sets")
    return order[:n_train], order[n_train:]


# ----------------------------------------------------------------------------------------------
# Transforms (PIL, in DataLoader workers)


def squash(img: Image.Image, size: int) -> Image.Image:
    """The design's resize: the whole photo to size x size, aspect ratio not kept."""
    return img.resize((size, size), RESAMPLE)


def center_crop(img: Image.Image, size: int) -> Image.Image:
    """The central square of the photo, resized to size x size (resize short side, then centre crop)."""
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) / 2, (h - side) / 2
    return img.resize((size, size), RESAMPLE, box=(left, top, left + side, top + side))


def random_crop_box(width: int, height: int, rng: random.Random, scale: tuple[float, float] = CROP_SCALE,
                    ratio: tuple[float, float] = CROP_RATIO) -> tuple[int, int, int, int]:
    """A (left, top, right, bottom) crop covering `scale` of the area with aspect ratio in `ratio`
    (as torchvision's RandomResizedCrop); falls back to a central crop after CROP_ATTEMPTS draws."""
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(CROP_ATTEMPTS):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            left = rng.randint(0, width - w)
            top = rng.randint(0, height - h)
            return left, top, left + w, top + h
    aspect = width / height
    if aspect < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif aspect > ratio[1]:
        w, h = round(height * ratio[1]), height
    else:
        w, h = width, height
    left, top = (width - w) // 2, (height - h) // 2
    return left, top, left + w, top + h


def random_crop(img: Image.Image, size: int, rng: random.Random) -> Image.Image:
    """Training augmentation: a random crop at a random scale and aspect, resized to size x size,
    flipped left-right half the time."""
    out = img.resize((size, size), RESAMPLE, box=random_crop_box(img.width, img.height, rng))
    if rng.random() < 0.5:
        out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return out


def to_uint8_tensor(img: Image.Image) -> torch.Tensor:
    """An RGB PIL image -> uint8 tensor (3, H, W)."""
    return torch.from_numpy(np.array(img.convert("RGB"), dtype=np.uint8)).permute(2, 0, 1).contiguous()


def sample_rng(seed: int, epoch: int, index: int) -> random.Random:
    """The augmentation generator of one sample in one epoch (independent of workers and ranks)."""
    return random.Random((seed * 1_000_003 + epoch) * 1_000_003 + index)


class PhotoDataset(Dataset):
    """Photos as uint8 tensors (3, size, size), RGB in 0-255.

    resize "squash": the whole photo squashed to a square (the design; deterministic).
    resize "crop": for training, `random_crop` (random area 25-100 %, aspect 3/4-4/3, left-right
    flip); for validation, `center_crop`.
    Items are looked up by index or by (epoch, index); the epoch only seeds the augmentation.
    Photos come from `cache` when given, else are decoded from disk at CACHE_SCALE x `image_size`.
    An item whose photo cannot be read is None (one warning line names it).
    """

    def __init__(self, paths: Sequence[str | os.PathLike], image_size: int, *, train: bool,
                 resize: str = "crop", seed: int = 44, cache: PhotoCache | None = None) -> None:
        if resize not in RESIZE_MODES:
            raise ValueError(f"unknown resize mode {resize!r}; expected one of {', '.join(RESIZE_MODES)}")
        if image_size < 1:
            raise ValueError(f"image size must be positive; got {image_size}")
        self.paths = [str(p) for p in paths]
        self.image_size = image_size
        self.train = train
        self.resize = resize
        self.seed = seed
        self.cache = cache

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: int | tuple[int, int]) -> torch.Tensor | None:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        try:
            if self.cache is not None:
                img = self.cache.get(index)
            else:
                img = decode_pixels(self.paths[index], CACHE_SCALE * self.image_size)
        except PhotoReadError as exc:
            print(f"warning: skipped a training photo: {exc}", file=sys.stderr, flush=True)
            return None
        if self.resize == "squash":
            out = squash(img, self.image_size)
        elif self.train:
            out = random_crop(img, self.image_size, sample_rng(self.seed, epoch, index))
        else:
            out = center_crop(img, self.image_size)
        return to_uint8_tensor(out)  # (3, S, S) uint8


# ----------------------------------------------------------------------------------------------
# Sampling and loading


class ShardSampler(Sampler):
    """The (epoch, index) keys one rank loads in one epoch.

    Training (shuffle=True, drop_last=True): a permutation drawn as DistributedSampler draws it
    (torch.randperm seeded with seed + epoch), cut to whole global batches, and dealt to the ranks
    in turn (rank r takes positions r, r + world, ...), so global step k covers the same photos as
    step k of a single process with the same global batch. `set_epoch(epoch, start_step)` skips the
    steps already done when a run resumes mid-epoch.
    Validation (shuffle=False, drop_last=False): every photo exactly once across the ranks, with no
    padding (ranks may get one photo fewer), so summed losses give the exact single-process mean.
    Unlike torch's DistributedSampler it never repeats samples and can start mid-epoch.
    """

    def __init__(self, num_samples: int, *, global_batch: int, rank: int = 0, world_size: int = 1,
                 shuffle: bool = True, drop_last: bool = True, seed: int = 44) -> None:
        if global_batch % world_size:
            raise ValueError(f"batch size {global_batch} does not divide evenly across {world_size} processes")
        self.num_samples = num_samples
        self.global_batch = global_batch
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.epoch = 0
        self.start_step = 0

    @property
    def steps_per_epoch(self) -> int:
        """Global steps (batches) in a whole epoch."""
        if self.drop_last:
            return self.num_samples // self.global_batch
        return math.ceil(self.num_samples / self.global_batch)

    def set_epoch(self, epoch: int, start_step: int = 0) -> None:
        """Select the epoch (seeds the shuffle and the augmentation) and the first global step to load."""
        self.epoch = epoch
        self.start_step = start_step

    def _positions(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.num_samples, generator=g).tolist()
        else:
            order = list(range(self.num_samples))
        if self.drop_last:
            order = order[: self.steps_per_epoch * self.global_batch]
        order = order[self.start_step * self.global_batch:]
        return order[self.rank::self.world_size]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter([(self.epoch, i) for i in self._positions()])

    def __len__(self) -> int:
        total = self.steps_per_epoch * self.global_batch if self.drop_last else self.num_samples
        remaining = max(0, total - self.start_step * self.global_batch)
        return len(range(self.rank, remaining, self.world_size))


def _worker_init(worker_id: int) -> None:
    """DataLoader workers leave Ctrl-C and SIGTERM to the main process, which stops training
    cleanly and shuts them down (Python's `random` and torch are already seeded per worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def collate_photos(items: Sequence[torch.Tensor | None]) -> tuple[torch.Tensor | None, int]:
    """(uint8 batch (B, 3, S, S) of the photos that could be read, or None if none could; how many
    could not)."""
    good = [t for t in items if t is not None]
    return (torch.stack(good) if good else None), len(items) - len(good)


def close_loader(loader: DataLoader) -> None:
    """Shut a DataLoader's persistent worker processes down now (a run that stops on an error would
    otherwise wait for them at interpreter exit)."""
    iterator = getattr(loader, "_iterator", None)
    if iterator is not None and hasattr(iterator, "_shutdown_workers"):
        iterator._shutdown_workers()
    loader._iterator = None


def make_loader(dataset: PhotoDataset, sampler: ShardSampler, *, batch_size: int, workers: int,
                pin_memory: bool = False, seed: int = 44) -> DataLoader:
    """A DataLoader yielding (uint8 batch (B, 3, S, S) or None, photos skipped): `workers` persistent
    worker processes (0: load in the main process), seeded from `seed`, optionally pinned for fast
    copies to a GPU."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=pin_memory,
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers > 0 else None,
        worker_init_fn=_worker_init if workers > 0 else None,
        generator=torch.Generator().manual_seed(seed),
        drop_last=False,  # the sampler already hands out whole batches
        collate_fn=collate_photos,
    )
