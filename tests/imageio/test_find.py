"""Tests for colorizekit.imageio.find: files, folders and globs."""

from __future__ import annotations

from colorizekit.imageio import find_images

# ------------------------------------------------------------------------------------------ finding


def test_find_images_folders_globs_and_missing(tmp_path):
    (tmp_path / "a" / "deep").mkdir(parents=True)
    (tmp_path / "a" / ".hidden").mkdir()
    for rel in ("a/2.png", "a/1.JPG", "a/deep/3.tif", "a/notes.txt", "a/.secret.png", "a/.hidden/4.png",
                "b.webp", "c.gif"):
        (tmp_path / rel).write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    paths, problems = find_images([
        tmp_path / "a",
        str(tmp_path / "*.webp"),
        tmp_path / "a" / "2.png",  # duplicate
        tmp_path / "c.gif",
        tmp_path / "nope.png",
        str(tmp_path / "*.bmp"),
        tmp_path / "empty",
    ])
    rel = [p.relative_to(tmp_path).as_posix() for p in paths]
    assert rel == ["a/1.JPG", "a/2.png", "a/deep/3.tif", "b.webp", "c.gif"]
    assert len(problems) == 3
    assert "nope.png" in problems[0] and "no such file" in problems[0]
    assert "*.bmp" in problems[1] and "empty" in problems[2]
    assert all("\n" not in p for p in problems)
    recursive, _ = find_images([str(tmp_path / "**" / "*.tif")])
    assert [p.name for p in recursive] == ["3.tif"]
