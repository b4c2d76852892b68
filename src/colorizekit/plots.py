"""Pictures of a training run: the loss curve, as the design's notebooks drew it."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from colorizekit.atomic import atomic_path


def plot_loss_curve(history: Sequence[Mapping[str, float]], path: str | os.PathLike,
                    best_epoch: int | None = None, title: str | None = None, ylabel: str = "loss") -> None:
    """Write a PNG of training and validation loss per epoch, the best epoch marked.

    `history` rows need "epoch", "train_loss" and "val_loss" (as `colorizekit.train` records them).
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
