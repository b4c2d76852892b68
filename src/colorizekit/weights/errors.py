"""The error every weights reader raises, and the first check of any weights file."""

from __future__ import annotations

from pathlib import Path


class WeightsError(ValueError):
    """A weights or checkpoint file that cannot be used; the message names the file and the problem."""


def check_file(path: Path) -> None:
    """WeightsError naming `path` when it is missing, not a file, or empty."""
    if not path.exists():
        raise WeightsError(f"{path}: no such weights file")
    if not path.is_file():
        raise WeightsError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise WeightsError(f"{path}: empty file")
