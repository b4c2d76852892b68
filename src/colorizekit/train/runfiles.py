"""The files of a training run: the split, checkpoint state, history, loss curve, weights and card.

A run folder holds `split.json` (the photos of each side), `last.pt` / `best.pt` (checkpoints),
`history.csv` and `loss_curve.png` (rewritten after every epoch) and, when the run ends or its time
budget is spent, `model.safetensors` with `model_card.json`. Everything is written atomically.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from colorizekit.imageio.atomic import atomic_path, atomic_write_text
from colorizekit.train.distributed import Dist, all_gather_objects, broadcast_object, on_rank0

SPLIT_FORMAT = "colorizekit-split"  # marker of split.json
HISTORY_FIELDS = ("epoch", "train_loss", "val_loss", "seconds", "images_per_s", "lr")


# -- history and curve ------------------------------------------------------------------------------

def write_history(path: Path, history: list[dict[str, float]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (f"{row[k]:.8g}" if isinstance(row[k], float) else row[k]) for k in HISTORY_FIELDS})
    atomic_write_text(path, buf.getvalue())


def plot_loss_curve(history: Sequence[Mapping[str, float]], path: str | os.PathLike,
                    best_epoch: int | None = None, title: str | None = None, ylabel: str = "loss") -> None:
    """Write a PNG of training and validation loss per epoch, the best epoch marked.

    `history` rows need "epoch", "train_loss" and "val_loss" (as `colorizekit.train.loop` records them).
    Written atomically with matplotlib's Agg backend (no display needed).
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure  # a bare Figure: no pyplot global state, safe in threads

    epochs = [int(r["epoch"]) for r in history]
    fig = Figure(figsize=(7, 4.5), dpi=100)
    ax = fig.add_subplot()
    ax.plot(epochs, [r["train_loss"] for r in history], marker="o", markersize=3, label="training loss")
    ax.plot(epochs, [r["val_loss"] for r in history], marker="o", markersize=3, label="validation loss")
    if best_epoch is not None and best_epoch in epochs:
        best = history[epochs.index(best_epoch)]["val_loss"]
        ax.axvline(best_epoch, color="gray", linestyle="--", linewidth=1)
        ax.plot([best_epoch], [best], marker="*", markersize=12, color="red", linestyle="none",
                label=f"best: epoch {best_epoch}, {best:.5f}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if epochs:
        ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(True, alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def write_curve(path: Path, history: list[dict[str, float]], best_epoch: int, model: str, loss: str) -> None:
    plot_loss_curve(history, path, best_epoch=best_epoch or None, title=f"{model}: loss per epoch",
                    ylabel=f"loss ({loss})")


def write_card(run_dir: Path, card: dict[str, Any]) -> None:
    atomic_write_text(run_dir / "model_card.json", json.dumps(card, indent=2, sort_keys=True) + "\n")


# -- the split ------------------------------------------------------------------------------------

def prepare_split(data_dir: str, val_fraction: float, seed: int, run_dir: Path, resume: bool, ctx: Dist,
                  progress: bool, log: Callable[[str], None]) -> dict[str, Any]:
    """split.json's content on every rank: the saved one when resuming, else a new scan and split.

    The scan is shared out: each rank decodes every world_size-th photo, so a first start on a large
    data set (ImageNet) takes 1/world_size of the time. Errors are raised on every rank together.
    """
    split_path = run_dir / "split.json"
    saved = None
    if ctx.is_main and resume and split_path.is_file():
        saved = json.loads(split_path.read_text(encoding="utf-8"))
    saved = broadcast_object(saved, ctx)
    if saved is not None:
        log(f"data: the saved split of {split_path} ({len(saved['train'])} training, "
            f"{len(saved['val'])} validation photos)")
        return saved

    from colorizekit.train.data import check_photos, collect_scan, list_images, split_paths

    root = Path(data_dir)
    rel_paths = on_rank0(lambda: [p.relative_to(root).as_posix() for p in list_images(root)], ctx)
    candidates = [root / p for p in rel_paths]
    shards = all_gather_objects(check_photos(candidates[ctx.rank::ctx.world_size], progress=progress and ctx.is_main),
                                ctx)
    results: list[Any] = [None] * len(candidates)
    for rank, shard in enumerate(shards):
        results[rank::ctx.world_size] = shard

    def make_split() -> dict[str, Any]:
        scan = collect_scan(root, candidates, results)
        rel = [p.relative_to(root).as_posix() for p in scan.paths]
        log(f"data: {len(candidates)} image files in {root}: {len(scan.paths)} used, {len(scan.grayscale)} "
            f"grayscale skipped, {len(scan.unreadable)} unreadable skipped")
        for message in scan.unreadable[:5]:
            log(f"  skipped: {message}")
        if len(scan.unreadable) > 5:
            log(f"  ... and {len(scan.unreadable) - 5} more unreadable files")
        try:
            train_rel, val_rel = split_paths(rel, val_fraction, seed)
        except ValueError as exc:
            raise ValueError(f"{exc} ({len(scan.grayscale)} grayscale and {len(scan.unreadable)} unreadable "
                             f"files of {len(candidates)} were skipped)") from None
        log(f"data: split with seed {seed}: {len(train_rel)} training, {len(val_rel)} validation photos")
        split = {
            "format": SPLIT_FORMAT, "data_dir": str(root), "seed": seed, "val_fraction": val_fraction,
            "train": train_rel, "val": val_rel,
            "skipped_grayscale": [p.relative_to(root).as_posix() for p in scan.grayscale],
            "skipped_unreadable": list(scan.unreadable),
        }
        atomic_write_text(split_path, json.dumps(split, indent=1) + "\n")
        return split

    return on_rank0(make_split, ctx)
