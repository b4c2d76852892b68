"""Ray engine throughput: photos per second of the local engine and of `--engine ray` with 1 and 2
workers (or --workers ...), on the same photos, in one run, and where a photo's time goes.

The photos are copies of a folder's (by default ../shared/data/eval/kodak24, 768 x 512 PNG; else
synthetic 1024 x 768 JPEGs), repeated to `--photos`. Each engine colorizes all of them from files to
files into a fresh folder with the shipped `lite-unet-bins`:

- local: `colorize_files`, torch with its default threads (this machine's cores), then with one;
- ray N: `colorize_files_ray` on a local Ray started once beforehand (its start is reported apart),
  N workers of one CPU and one torch thread each. `end to end` counts everything a run does (listing,
  clash check, actors starting and loading the model); `steady` is the rate between the first and the
  last ledger part written, what a long run on a cluster approaches.

Then one photo's stages are timed in this process with one torch thread, what one worker does:
reading the file, decoding it, the model, the full-resolution join, encoding and writing.

    python benchmarks/ray_throughput.py                  # the README's figures
    python benchmarks/ray_throughput.py --photos 96 --workers 1 2 4 --from DIR
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from PIL import Image

from colorizekit.imageio import encode_image, find_images, load_image
from colorizekit.infer.colorizer import Colorizer
from colorizekit.infer.files import colorize_files, write_colorized
from colorizekit.infer.ray import RayOptions, colorize_files_ray
from colorizekit.infer.ray.state import STATE_FOLDER

SHARED = Path(os.environ.get("COLORIZEKIT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
DEFAULT_FROM = SHARED / "eval" / "kodak24"


def make_photos(folder: Path, source: Path | None, count: int) -> list[Path]:
    folder.mkdir(parents=True)
    originals = find_images([source])[0] if source is not None and source.is_dir() else []
    made = []
    for i in range(count):
        if originals:
            original = originals[i % len(originals)]
            made.append(folder / f"{i:04d}-{original.name}")
            shutil.copy(original, made[-1])
        else:
            rng = np.random.default_rng(i)
            coarse = rng.uniform(0, 255, size=(25, 33)).astype(np.float32)
            img = np.asarray(Image.fromarray(coarse).resize((1024, 768), Image.BICUBIC), dtype=np.float32)
            made.append(folder / f"{i:04d}.jpg")
            Image.fromarray(np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)).save(made[-1])
    return made


def steady_rate(out: Path) -> float:
    """Photos per second between the first and the last ledger part of a run."""
    table = pa.concat_tables([pq.read_table(p) for p in out.glob(f"{STATE_FOLDER}/*/ledger/*.parquet")])
    times = np.sort(np.asarray(table.column("finished")))
    return (len(times) - 1) / (times[-1] - times[0]) if times[-1] > times[0] else float("nan")


def stages(photos: list[Path], out: Path) -> dict[str, float]:
    """Seconds per photo in each stage, one torch thread (one worker's view)."""
    torch.set_num_threads(1)
    colorizer = Colorizer(batch_size=1)
    predict, spent = colorizer.backend.predict, {"read": 0.0, "decode": 0.0, "model": 0.0, "join": 0.0,
                                                  "encode+write": 0.0}

    def timed_predict(*args):
        start = time.perf_counter()
        result = predict(*args)
        spent["model"] += time.perf_counter() - start
        return result

    colorizer.backend.predict = timed_predict
    for i, path in enumerate(photos):
        t0 = time.perf_counter()
        data = path.read_bytes()
        t1 = time.perf_counter()
        image = load_image(data)
        t2 = time.perf_counter()
        model_before = spent["model"]
        rgb = colorizer.colorize_loaded([image])[0]
        t3 = time.perf_counter()
        write_colorized(path, out / f"{i}.png", "PNG" if path.suffix == ".png" else "JPEG", image, rgb,
                        save=lambda p, pixels, **kw: Path(p).write_bytes(encode_image(pixels, name=str(p), **kw)))
        t4 = time.perf_counter()
        spent["read"] += t1 - t0
        spent["decode"] += t2 - t1
        spent["join"] += (t3 - t2) - (spent["model"] - model_before)
        spent["encode+write"] += t4 - t3
    return {k: v / len(photos) for k, v in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=48)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--from", dest="source", type=Path, default=DEFAULT_FROM)
    parser.add_argument("--photos-per-task", type=int, default=8)
    args = parser.parse_args()
    import ray

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        photos = make_photos(root / "in", args.source, args.photos)
        w, h = Image.open(photos[0]).size
        print(f"{args.photos} photos of {w} x {h} ({photos[0].suffix}); {platform.processor() or platform.machine()}, "
              f"{torch.get_num_threads()} torch threads by default")
        default_threads = torch.get_num_threads()
        for threads in dict.fromkeys([default_threads, 1]):
            torch.set_num_threads(threads)
            start = time.perf_counter()
            colorize_files(Colorizer(), [root / "in"], root / f"local{threads}", progress=False)
            local = args.photos / (time.perf_counter() - start)
            print(f"local engine, {threads} torch thread(s)      {local:6.2f} photos/s")
        torch.set_num_threads(default_threads)
        start = time.perf_counter()
        ray.init(num_cpus=max(args.workers), include_dashboard=False, log_to_driver=False)
        print(f"ray start (once)                    {time.perf_counter() - start:6.1f} s")
        for n in args.workers:
            out = root / f"ray{n}"
            start = time.perf_counter()
            report = colorize_files_ray([root / "in"], out, progress=False,
                                        options=RayOptions(workers=n, photos_per_task=args.photos_per_task))
            seconds = time.perf_counter() - start
            assert report.done == args.photos, report.summary()
            print(f"ray, {n} worker(s)  end to end      {args.photos / seconds:6.2f} photos/s   "
                  f"steady {steady_rate(out):6.2f} photos/s")
        ray.shutdown()
        (root / "stages").mkdir()
        per_stage = stages(photos[:min(12, len(photos))], root / "stages")
        total = sum(per_stage.values())
        print("one photo, one thread: " + ", ".join(f"{k} {v * 1000:.0f} ms ({v / total:.0%})"
                                                     for k, v in per_stage.items())
              + f"; {1 / total:.2f} photos/s")


if __name__ == "__main__":
    main()
