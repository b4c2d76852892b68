"""Finding photos (and other files by suffix, such as videos): files, folders (searched recursively) and
glob patterns, in order, without duplicates.

`find_images` / `find_files` return the whole list; `iter_input_images` yields one input's files lazily
(a folder is walked one directory at a time, in the same order), for listings too long to hold.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from colorizekit.imageio.formats import IMAGE_SUFFIXES


def iter_folder_images(folder: Path, suffixes: frozenset[str] = IMAGE_SUFFIXES) -> Iterator[Path]:
    """The photos under `folder`, recursively, in sorted path order, one directory read at a time.

    Files with an image suffix (any case) are kept; hidden files and folders are skipped and symbolic
    links to folders are not followed (as `Path.rglob` does). Sorting each directory's names gives the
    order of sorting the full paths.
    """
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = folder / entry.name
        if entry.is_dir() and not entry.is_symlink():
            yield from iter_folder_images(path, suffixes)
        elif Path(entry.name).suffix.lower() in suffixes and entry.is_file():
            yield path


def iter_input_images(item: str | os.PathLike, problems: list[str], suffixes: frozenset[str] = IMAGE_SUFFIXES,
                      what: str = "images") -> Iterator[Path]:
    """The photos one input names (a file, a folder searched recursively or a glob pattern), lazily.

    A file named explicitly is kept whatever its suffix (reading it will say if it is no image). When
    the input does not exist or matches no images, one line saying so is appended to `problems` once
    the iteration ends. A pattern's matches are listed at once, sorted; folders are walked lazily.
    """
    text = os.fspath(item)
    candidate = Path(text)
    found = False
    if candidate.is_dir():
        for found, path in enumerate(iter_folder_images(candidate, suffixes), start=1):  # noqa: B007 (read after)
            yield path
        if not found:
            problems.append(f"{text}: no {what} in this folder ({', '.join(sorted(suffixes))})")
    elif candidate.is_file():
        yield candidate
    elif glob.has_magic(text):
        for match in sorted(glob.glob(text, recursive=True)):
            p = Path(match)
            if p.is_dir():
                for found, path in enumerate(iter_folder_images(p, suffixes), start=1):  # noqa: B007 (read after)
                    yield path
            elif p.is_file() and p.suffix.lower() in suffixes:
                found = True
                yield p
        if not found:
            problems.append(f"{text}: no {what} match this pattern")
    else:
        problems.append(f"{text}: no such file or folder")


def find_images(inputs: Sequence[str | os.PathLike]) -> tuple[list[Path], list[str]]:
    """Expand files, folders and glob patterns into image paths, in order, without duplicates.

    Each input as `iter_input_images` expands it; the second item holds one line per input that does
    not exist or matched no images.
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
        for p in iter_input_images(item, problems, suffixes, what):
            key = os.path.normcase(str(p.resolve()))
            if key not in seen:
                seen.add(key)
                found.append(p)
    return found, problems
