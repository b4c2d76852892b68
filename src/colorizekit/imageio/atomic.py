"""Atomic file writes: write to a temporary file beside the target, then rename over it.

A reader never sees a half-written checkpoint or image, and an interrupted write leaves the old file
(if any) intact. A new file gets the permissions any new file gets (0666 less the umask, usually
0644); a file that is replaced keeps its own.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

_TEMP_ATTEMPTS = 100  # names tried before giving up (a clash needs a 32-bit random collision)


def _create_temp(target: Path) -> Path:
    """A new empty file beside `target`, named after it, created as `open()` creates files (0666 & ~umask).

    `tempfile.mkstemp` would make it 0600, and the rename would then hand that mode to the output.
    """
    for _ in range(_TEMP_ATTEMPTS):
        tmp = target.parent / f".{target.stem}.{secrets.token_hex(4)}.tmp{target.suffix}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"{target.parent}: could not create a temporary file for {target.name}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it to `path`, else delete it.

    The temporary name keeps the target's suffix, so libraries that pick a format from the file name
    (Pillow, matplotlib) still do the right thing.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _create_temp(target)
    new_mode = stat.S_IMODE(tmp_path.stat().st_mode)  # 0666 & ~umask
    try:
        yield tmp_path
        try:
            mode = stat.S_IMODE(target.stat().st_mode)  # a replaced file keeps its mode
        except FileNotFoundError:
            mode = new_mode  # writers that recreate the file (safetensors) may have made it 0600
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))
