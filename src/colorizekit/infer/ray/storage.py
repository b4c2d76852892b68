"""Files on local disks and on any filesystem pyarrow understands (`s3://`, `gs://`, `hdfs://`, `file://`...).

A location is a string: a local path (relative to the current folder, or absolute) or a URI. Writes
go to a temporary file in a folder of the same filesystem and are then moved into place, so a reader
never sees half a file and a killed writer leaves its debris in that folder only (which the next run
clears).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import posixpath
import secrets
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq


def is_uri(location: str) -> bool:
    """True for `scheme://...` locations (a Windows drive letter is no scheme)."""
    return "://" in location and len(location.split("://", 1)[0]) > 1


@functools.lru_cache(maxsize=256)
def _folder(location: str) -> tuple[pafs.FileSystem, str]:
    try:
        return pafs.FileSystem.from_uri(location)
    except (ValueError, OSError) as exc:  # pyarrow.ArrowInvalid is a ValueError
        raise ValueError(f"{location}: not a location pyarrow can open ({exc})") from None


def resolve(location: str) -> tuple[pafs.FileSystem, str]:
    """(filesystem, its path) of a location; local paths are made absolute. ValueError for a URI pyarrow
    does not understand. Filesystems are made once per folder (an S3 client is not free)."""
    if not is_uri(location):
        return pafs.LocalFileSystem(), os.path.abspath(location).replace(os.sep, "/")
    head, name = location.rstrip("/").rsplit("/", 1)
    if head.endswith(":/"):  # scheme://name: no folder to share
        return _folder(location)
    fs, folder = _folder(head)
    return fs, posixpath.join(folder, name)


def identity(location: str) -> str:
    """A key equal for two locations of the same file: the real path for local files (links
    followed, as `Path.resolve` does), else the filesystem's kind and path."""
    fs, path = resolve(location)
    if isinstance(fs, pafs.LocalFileSystem):
        return os.path.realpath(path)
    return f"{fs.type_name}://{path}"


def join(location: str, relative: str) -> str:
    """`relative` (posix) under the folder `location`."""
    if is_uri(location):
        return location.rstrip("/") + "/" + relative
    return os.path.join(location, *relative.split("/"))


def exists(location: str) -> bool:
    fs, path = resolve(location)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def read_bytes(location: str) -> bytes:
    fs, path = resolve(location)
    with fs.open_input_stream(path) as stream:
        return stream.read()


@contextlib.contextmanager
def atomic_stream(location: str, temp_folder: str) -> Iterator[pa.NativeFile]:
    """A stream to write `location` through: a new file in `temp_folder` (on the same filesystem),
    moved into place (a rename on local disks) when the block ends without error, deleted otherwise.
    The folders are made as needed."""
    fs, path = resolve(location)
    temp_fs, temp_dir = resolve(temp_folder)
    temp = posixpath.join(temp_dir, f"{secrets.token_hex(8)}-{posixpath.basename(path)}")
    fs.create_dir(posixpath.dirname(path), recursive=True)
    temp_fs.create_dir(temp_dir, recursive=True)
    try:
        with temp_fs.open_output_stream(temp) as stream:
            yield stream
        fs.move(temp, path)
    except BaseException:
        if temp_fs.get_file_info(temp).type != pafs.FileType.NotFound:
            temp_fs.delete_file(temp)
        raise


def write_atomic(location: str, data: bytes, temp_folder: str) -> None:
    """Write `data` to `location` atomically (`atomic_stream`)."""
    with atomic_stream(location, temp_folder) as stream:
        stream.write(data)


def write_parquet(location: str, table: pa.Table, temp_folder: str) -> None:
    """`table` as one Parquet file at `location`, atomically."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    write_atomic(location, buffer.getvalue(), temp_folder)


def clear_folder(location: str) -> None:
    """Delete a folder's contents (the temporary files a killed writer left), if it exists."""
    fs, path = resolve(location)
    if fs.get_file_info(path).type == pafs.FileType.Directory:
        fs.delete_dir_contents(path)


def list_files(location: str, suffix: str) -> list[str]:
    """The locations of the files directly in a folder whose names end with `suffix`, skipping names
    that start with '.' or '_'; [] when the folder does not exist."""
    fs, path = resolve(location)
    if fs.get_file_info(path).type != pafs.FileType.Directory:
        return []
    infos = fs.get_file_info(pafs.FileSelector(path))
    return sorted(join(location, i.base_name) for i in infos
                  if i.is_file and i.base_name.endswith(suffix) and not i.base_name.startswith((".", "_")))


def parquet_pieces(locations: list[str]) -> list[dict]:
    """{"location", "group"} for every row group of these Parquet files: what `read_pieces` reads."""
    pieces = []
    for location in locations:
        fs, path = resolve(location)
        with fs.open_input_file(path) as file:
            groups = pq.ParquetFile(file).num_row_groups
        pieces += [{"location": location, "group": g} for g in range(groups)]
    return pieces


def read_pieces(batch: pa.Table, columns: list[str] | None = None) -> pa.Table:
    """Ray Data map over `parquet_pieces` rows: their rows, concatenated (Ray Data's own Parquet reader
    is not used: it stumbles over some fsspec installs, and the pieces are known already)."""
    tables = []
    for location, group in zip(batch["location"].to_pylist(), batch["group"].to_pylist()):
        fs, path = resolve(location)
        with fs.open_input_file(path) as file:
            tables.append(pq.ParquetFile(file).read_row_group(group, columns=columns))
    return pa.concat_tables(tables)
