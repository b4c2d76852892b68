"""Finding photos (and other files by suffix): files, folders (searched recursively) and glob patterns,
in order, without duplicates."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

from colorizekit.imageio.formats import IMAGE_SUFFIXES


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _files_in_folder(folder: Path, suffixes: frozenset[str]) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*")
        if p.suffix.lower() in suffixes and not _is_hidden(p, folder) and p.is_file()
    )


def find_images(inputs: Sequence[str | os.PathLike]) -> tuple[list[Path], list[str]]:
    """Expand files, folders and glob patterns into image paths, in order, without duplicates.

    Folders are searched recursively, sorted, keeping files with an image suffix (any case) and
    skipping hidden files and folders. A file named explicitly is kept whatever its suffix (reading
    it will say if it is no image). The second item holds one line per input that does not exist or
    matched no images.
    """
    return find_files(inputs, IMAGE_SUFFIXES, "images")


def find_files(inputs: Sequence[str | os.PathLike], suffixes: frozenset[str],
               what: str) -> tuple[list[Path], list[str]]:
    """`find_images` for files with any of `suffixes` (lower case, with the dot); `what` names them in
    messages ("images", "photos or videos")."""
    found: list[Path] = []
    seen: set[str] = set()
    problems: list[str] = []
    for item in inputs:
        text = os.fspath(item)
        candidate = Path(text)
        if candidate.is_dir():
            paths = _files_in_folder(candidate, suffixes)
            if not paths:
                problems.append(f"{text}: no {what} in this folder ({', '.join(sorted(suffixes))})")
        elif candidate.is_file():
            paths = [candidate]
        elif glob.has_magic(text):
            paths = []
            for match in sorted(glob.glob(text, recursive=True)):
                p = Path(match)
                if p.is_dir():
                    paths.extend(_files_in_folder(p, suffixes))
                elif p.is_file() and p.suffix.lower() in suffixes:
                    paths.append(p)
            if not paths:
                problems.append(f"{text}: no {what} match this pattern")
        else:
            problems.append(f"{text}: no such file or folder")
            continue
        for p in paths:
            key = os.path.normcase(str(p.resolve()))
            if key not in seen:
                seen.add(key)
                found.append(p)
    return found, problems
