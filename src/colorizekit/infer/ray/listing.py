"""Inputs -> one Parquet listing of jobs (photo in, file out), streamed in chunks, never held whole.

An input is a photo file, a folder (searched recursively, walked one directory at a time), a glob
pattern, or a manifest: a `.csv` or `.parquet` file with a `path` column (local paths, relative to the
manifest's folder, or URIs of any filesystem pyarrow understands) and optionally an `output` column
(the output's path relative to OUT; by default the photo's file name, as for files named on the
command line). Files, folders and globs name their outputs as `colorize_files` does (`output_for`).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from colorizekit.imageio.find import iter_input_images
from colorizekit.infer.files import output_for
from colorizekit.infer.ray import storage

MANIFEST_SUFFIXES = (".csv", ".parquet", ".pq")
JOB_SCHEMA = pa.schema([
    ("seq", pa.int64()),  # the job's place in the listing: where two outputs clash, the first wins
    ("source", pa.string()),  # the photo as the input named it (what messages say)
    ("location", pa.string()),  # where it is read: an absolute local path or a URI (the ledger's key)
    ("output", pa.string()),  # its output as messages name it: OUT as given / relative path
    ("target", pa.string()),  # where the output is written: an absolute local path or a URI
    ("format", pa.string()),  # the output's format (a Pillow name)
])
_CHUNK = 8192  # jobs per record batch written (and rows of a manifest read at a time)


def is_manifest(item: str) -> bool:
    """True for an input ending in .csv, .parquet or .pq: a list of photos, not a photo."""
    return item.lower().endswith(MANIFEST_SUFFIXES)


def iter_jobs(inputs: list[str], out_dir: str, format: str | None,
              problems: list[tuple[str, str]]) -> Iterator[tuple[str, str, str, str, str]]:
    """(source, location, output, target, format) for every photo the inputs name, in order.

    An input that names nothing, a manifest that cannot be read and a manifest row that cannot be
    used add (input, reason) to `problems` and the rest go on.
    """
    out_display = out_dir if storage.is_uri(out_dir) else str(Path(out_dir))
    out_target = out_dir if storage.is_uri(out_dir) else os.path.abspath(out_dir)
    for item in inputs:
        rows = _manifest_rows(item, problems) if is_manifest(item) else _input_rows(item, problems)
        for source, location, relative in rows:
            suffix_of = PurePosixPath(location if storage.is_uri(location) else Path(location).as_posix())
            rel, fmt = output_for(suffix_of, relative, PurePosixPath(), format)
            yield source, location, storage.join(out_display, str(rel)), storage.join(out_target, str(rel)), fmt


def _input_rows(item: str, problems: list[tuple[str, str]]) -> Iterator[tuple[str, str, PurePosixPath]]:
    messages: list[str] = []
    root = Path(item) if Path(item).is_dir() else None
    for path in iter_input_images(item, messages):
        relative = path.relative_to(root) if root is not None else Path(path.name)
        yield str(path), os.path.abspath(path), PurePosixPath(relative.as_posix())
    problems += [(item, m) for m in messages]


def _manifest_rows(item: str, problems: list[tuple[str, str]]) -> Iterator[tuple[str, str, PurePosixPath]]:
    """The rows of a manifest, read a chunk at a time; a bad manifest or row is a problem, not an error."""
    try:
        batches = _manifest_batches(item)
        folder = posixpath.dirname(item) if storage.is_uri(item) else os.path.dirname(os.path.abspath(item))
        row = 1
        for batch in batches:
            paths = batch.column("path").to_pylist()
            outputs = batch.column("output").to_pylist() if "output" in batch.schema.names else [None] * len(paths)
            for path, output in zip(paths, outputs):
                row += 1
                job = _manifest_job(item, row, folder, path, output, problems)
                if job is not None:
                    yield job
    except (OSError, ValueError) as exc:  # pyarrow's errors are OSError / ArrowInvalid (a ValueError)
        problems.append((item, f"{item}: cannot read this manifest: {' '.join(str(exc).split())}"))


def _manifest_job(item: str, row: int, folder: str, path: str | None, output: str | None,
                  problems: list[tuple[str, str]]) -> tuple[str, str, PurePosixPath] | None:
    if not path or not str(path).strip():
        problems.append((item, f"{item}: row {row} has an empty path"))
        return None
    path = str(path).strip()
    if storage.is_uri(path) or os.path.isabs(path):
        location = path
    elif storage.is_uri(folder):
        location = storage.join(folder, path)
    else:
        location = os.path.normpath(os.path.join(folder, path))
    relative = PurePosixPath(output.strip() if output and output.strip() else posixpath.basename(path.rstrip("/")))
    if relative.is_absolute() or ".." in relative.parts or not relative.name:
        problems.append((item, f"{item}: row {row}: output {str(output)!r} is not a relative path inside the "
                               "output folder"))
        return None
    return location, location, relative  # messages name it where it is read


def _manifest_batches(item: str) -> Iterator[pa.RecordBatch]:
    """A manifest's `path` (and `output`) columns, as strings, a record batch at a time."""
    fs, path = storage.resolve(item)
    if item.lower().endswith(".csv"):
        strings = {"path": pa.string(), "output": pa.string()}
        with fs.open_input_stream(path) as stream:
            reader = pacsv.open_csv(stream, read_options=pacsv.ReadOptions(block_size=1 << 20),
                                    convert_options=pacsv.ConvertOptions(column_types=strings))
            _check_columns(item, reader.schema.names)
            yield from reader
        return
    with fs.open_input_file(path) as file:
        parquet = pq.ParquetFile(file)
        names = parquet.schema_arrow.names
        _check_columns(item, names)
        yield from parquet.iter_batches(batch_size=_CHUNK, columns=[c for c in ("path", "output") if c in names])


def _check_columns(item: str, names: list[str]) -> None:
    if "path" not in names:
        raise ValueError(f"no 'path' column (it has: {', '.join(names) or 'no columns'})")


def write_listing(inputs: list[str], out_dir: str, format: str | None, location: str,
                  temp_folder: str) -> tuple[int, list[tuple[str, str]]]:
    """Write the jobs of `iter_jobs` to a Parquet file at `location` (atomically, a chunk at a time).
    Returns the number of jobs and the (input, reason) problems."""
    problems: list[tuple[str, str]] = []
    count = 0
    with storage.atomic_stream(location, temp_folder) as stream, pq.ParquetWriter(stream, JOB_SCHEMA) as writer:
        columns: list[list] = [[] for _ in JOB_SCHEMA.names]

        def flush() -> None:
            writer.write_batch(pa.record_batch(columns, schema=JOB_SCHEMA))
            for column in columns:
                column.clear()

        for count, job in enumerate(iter_jobs(inputs, out_dir, format, problems), start=1):
            for column, value in zip(columns, (count - 1, *job)):
                column.append(value)
            if len(columns[0]) == _CHUNK:
                flush()
        if columns[0] or count == 0:
            flush()
    return count, problems
