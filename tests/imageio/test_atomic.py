"""Atomic writes: the old file survives a failed write; outputs get ordinary permissions."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from colorizekit.imageio.atomic import atomic_path, atomic_write_text

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")


@pytest.fixture
def umask():
    """Set the process umask for one test, restoring it afterwards."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_new_file_gets_0666_less_the_umask(tmp_path, umask, mask):
    umask(mask)
    atomic_write_text(tmp_path / "new.txt", "hello")
    assert _mode(tmp_path / "new.txt") == 0o666 & ~mask


def test_replaced_file_keeps_its_mode(tmp_path, umask):
    target = tmp_path / "kept.txt"
    target.write_text("old")
    target.chmod(0o640)
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and _mode(target) == 0o640


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("disk on fire")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_saved_image_is_readable_by_others(tmp_path, umask):
    import numpy as np

    from colorizekit.imageio import save_image

    save_image(tmp_path / "out.png", np.zeros((2, 2, 3), np.uint8))
    assert _mode(tmp_path / "out.png") == 0o644


def test_a_writer_that_recreates_the_file_still_leaves_ordinary_permissions(tmp_path):
    import os
    import stat

    from colorizekit.imageio.atomic import atomic_path

    target = tmp_path / "weights.bin"
    with atomic_path(target) as tmp:
        tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # as some libraries write
        os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
