"""Evaluation speed: photos per second at 1024 x 768, the share of each metric and of the model, and
the metrics before and after the speed work (issue 24, item 6), measured in one run.

Photos: the first N of `../shared/data/eval/kodak24` (or `$COLORIZEKIT_SHARED_DATA/eval/kodak24`)
resized to 1024 x 768 (bicubic), or synthetic
photos where that folder is missing (`--data` names another). Each is scored as `colorizekit evaluate`
scores it: the grayscale baseline and the model's colorization against the original, plus the
original's own CF, UCIQE and UIQM (photos of this size are scored one at a time, as evaluate groups
them up to 0.5 megapixels).

- `new`: what `evaluate` runs now (`metrics.prepare_reference` once per original, then
  `compute_metrics` for each row, in float32).
- `old`: the metrics module as it was before (commit a7d8f7a, read with `git show` into a temporary
  module; float64, the original duplicated for both rows and scored again alone), run on the same
  photos. The two are timed in turn, `--rounds` times, and medians are reported; the largest
  difference between their figures is printed for each metric.
- `model`: `Colorizer.colorize_gray` of the grayscale photos (`--model`, its shipped weights; random
  weights where none ship, since time does not depend on the values).

The per-metric shares time the steps of the new path one by one (the Lab conversions, which three
metrics share, are their own line). Run under `nice` on a busy machine and read the ratios.

    python benchmarks/evaluate_speed.py                          # 8 kodak24 photos, 3 rounds
    python benchmarks/evaluate_speed.py --photos 4 --rounds 5 --threads 1
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from colorizekit import color
from colorizekit.evaluate import metrics, uiqm
from colorizekit.infer.colorizer import Colorizer
from colorizekit.models import create_model
from colorizekit.weights import WeightsError, export_weights

ROOT = Path(__file__).resolve().parents[1]
OLD_COMMIT = "a7d8f7a"  # main before the speed work
# ../shared/data beside the project; COLORIZEKIT_SHARED_DATA points elsewhere (a git worktree in another folder)
SHARED = Path(os.environ.get("COLORIZEKIT_SHARED_DATA", ROOT.parent / "shared" / "data"))


def load_old_metrics():
    """The metrics module of OLD_COMMIT as a module object (it imports only torch and colorizekit.color)."""
    source = subprocess.run(["git", "show", f"{OLD_COMMIT}:src/colorizekit/metrics.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("old_metrics", loader=None))
    exec(compile(source, f"{OLD_COMMIT}:metrics.py", "exec"), module.__dict__)
    return module


def load_photos(data: Path, count: int, width: int, height: int) -> list[torch.Tensor]:
    """`count` photos (1, 3, height, width) float64 in [0, 1]: from `data` if it has enough, else synthetic."""
    paths = sorted(p for p in data.glob("*") if p.suffix.lower() in {".png", ".jpg", ".tif", ".tiff"})[:count]
    if len(paths) < count:
        print(f"{data}: fewer than {count} photos; using synthetic ones")
        rng = np.random.default_rng(0)
        arrays = [np.asarray(Image.fromarray(rng.uniform(0, 255, (height // 32, width // 32, 3)).astype(np.uint8))
                             .resize((width, height), Image.Resampling.BICUBIC)) for _ in range(count)]
    else:
        arrays = [np.asarray(Image.open(p).convert("RGB").resize((width, height), Image.Resampling.BICUBIC))
                  for p in paths]
    return [torch.from_numpy(a.astype(np.float64) / 255.0).permute(2, 0, 1)[None].contiguous() for a in arrays]


def make_colorizer(model: str, tmp: Path) -> Colorizer:
    """`model` with its shipped weights, or random ones where none ship."""
    try:
        return Colorizer(model=model, device="cpu")
    except WeightsError:
        torch.manual_seed(0)
        export_weights(tmp / "random.safetensors", model, create_model(model).state_dict())
        return Colorizer(model=model, weights=tmp / "random.safetensors", device="cpu")


def score_old(old, original, gray3, colorized):
    return (old.compute_metrics(torch.cat([gray3, colorized]), torch.cat([original, original])),
            old.compute_metrics(original))


def score_new(original, gray3, colorized):
    reference = metrics.prepare_reference(original)
    return metrics.compute_metrics(gray3, reference), metrics.compute_metrics(colorized, reference), reference


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def metric_steps(original: torch.Tensor, candidates: list[torch.Tensor]) -> dict[str, float]:
    """Seconds per metric of the new path for one photo (its original and its candidates), step by step."""
    m, spent = metrics, dict.fromkeys(["lab", *metrics.METRIC_NAMES], 0.0)

    def step(name, fn, *args):
        seconds, out = timed(fn, *args)
        spent[name] += seconds
        return out

    y = original.to(m.COMPUTE_DTYPE)
    lab_y = step("lab", color.rgb_to_lab, y)
    stats = step("ssim", m._ssim_reference_stats, y)
    cf_y = step("cf", m._colorfulness, y)
    step("uciqe", m._uciqe, lab_y)
    step("uiqm", lambda t: uiqm.uiqm_of_8bit(uiqm.to_8bit(t)), y)
    for candidate in candidates:
        x = candidate.to(m.COMPUTE_DTYPE)
        lab = step("lab", color.rgb_to_lab, x)
        step("psnr", m._psnr, x, y)
        step("ssim", m._ssim, x, y, stats)
        step("ciede2000", m._mean_ciede2000, lab, lab_y)
        step("auc", lambda: m._auc(m._accuracy_curve(lab, lab_y, m.AUC_MAX_THRESHOLD)))  # noqa: B023 (called at once)
        step("delta_cf", lambda: m._colorfulness(x) - cf_y)  # noqa: B023 (called at once)
        step("uciqe", m._uciqe, lab)
        step("uiqm", lambda t: uiqm.uiqm_of_8bit(uiqm.to_8bit(t)), x)
    return spent


def largest_differences(old_out, new_out) -> dict[str, float]:
    """Largest |old - new| per metric over the three rows of one photo."""
    (old_pairs, old_alone), (baseline, colorized, reference) = old_out, new_out
    worst = {}
    for name in metrics.METRIC_NAMES:
        pairs = [(getattr(old_alone, name), getattr(reference.metrics, name))]
        if getattr(old_pairs, name) is not None:
            pairs.append((getattr(old_pairs, name), torch.cat([getattr(baseline, name), getattr(colorized, name)])))
        diffs = [(a - b).abs() for a, b in pairs if a is not None]
        worst[name] = max(float(d[torch.isfinite(d)].max()) if torch.isfinite(d).any() else 0.0 for d in diffs)
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=SHARED / "eval" / "kodak24")
    ap.add_argument("--photos", type=int, default=8)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--height", type=int, default=768)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--model", default="lite-unet-bins")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    old = load_old_metrics()
    originals = load_photos(args.data, args.photos, args.width, args.height)
    grays = [color.l_to_gray(color.rgb_to_lab(o)[:, :1]) for o in originals]
    with tempfile.TemporaryDirectory() as tmp:
        colorizer = make_colorizer(args.model, Path(tmp))
        colorizer.colorize_gray([grays[0][0, 0].float().numpy()])  # warm-up
        model_s, outputs = timed(colorizer.colorize_gray, [g[0, 0].float().numpy() for g in grays])
    photos = [(o, g.expand(-1, 3, -1, -1), torch.from_numpy(c).permute(2, 0, 1)[None].double())
              for o, g, c in zip(originals, grays, outputs)]
    score_new(*photos[0])  # warm-up
    times = {"old": [], "new": []}
    worst = dict.fromkeys(metrics.METRIC_NAMES, 0.0)
    for round_ in range(args.rounds):
        for kind in ("old", "new"):
            run = (lambda p: score_old(old, *p)) if kind == "old" else (lambda p: score_new(*p))
            seconds, outs = zip(*(timed(run, p) for p in photos))
            times[kind].append(sum(seconds) / len(photos))
            if kind == "old":
                old_outs = outs
            else:
                for a, b in zip(old_outs, outs):
                    worst = {k: max(v, largest_differences(a, b)[k]) for k, v in worst.items()}
        print(f"round {round_ + 1}: metrics s/photo old {times['old'][-1]:.3f}, new {times['new'][-1]:.3f}")
    old_s, new_s = statistics.median(times["old"]), statistics.median(times["new"])
    model_per = model_s / len(photos)
    print(f"\n{len(photos)} photos of {args.width} x {args.height}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, medians of {args.rounds} rounds")
    print(f"metrics, old ({OLD_COMMIT}, float64): {old_s:.3f} s/photo = {1 / old_s:.2f} photos/s")
    print(f"metrics, new (float32, prepared reference): {new_s:.3f} s/photo = {1 / new_s:.2f} photos/s")
    print(f"speed-up of the metrics: {old_s / new_s:.2f}x")
    print(f"model ({args.model}, colorize_gray): {model_per:.3f} s/photo")
    print(f"model + metrics: old {1 / (old_s + model_per):.2f} photos/s, new {1 / (new_s + model_per):.2f} photos/s")
    print("largest |old - new| per figure: " + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))

    steps = [metric_steps(o, [g, c]) for o, g, c in photos]
    spent = {k: statistics.fmean(s[k] for s in steps) for k in steps[0]}
    spent = {"model": model_per, **spent}
    total = sum(spent.values())
    print(f"\nshare of time per photo, new path step by step (total {total:.3f} s):")
    for name, seconds in spent.items():
        print(f"  {name:<10}{seconds:8.4f} s {100 * seconds / total:6.1f} %")


if __name__ == "__main__":
    main()
