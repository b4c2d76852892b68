"""The state folder inside OUT (`OUT/.colorizekit-ray/`): what a run has finished, so the next one resumes.

    OUT/.colorizekit-ray/<job>/jobs.parquet    the listing of this run (every photo in, file out)
    OUT/.colorizekit-ray/<job>/ledger/part-*.parquet   one part per task: each photo's outcome
    OUT/.colorizekit-ray/<job>/failures.csv    the photos that failed in the last run, with the reason
    OUT/.colorizekit-ray/<job>/job.json        the inputs and settings the job's key stands for
    OUT/.colorizekit-ray/tmp/                  files being written (cleared when a run starts)

`<job>` is `config.job_fingerprint`: runs with the same inputs and settings share a ledger. A part is
written atomically after its photos' outputs, and named after the photos it covers, so a task that
Ray retries (its worker died) finds its own part and does not do its photos twice.
"""

from __future__ import annotations

import enum
import hashlib
import io
import json
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from colorizekit.infer.ray import storage

STATE_FOLDER = ".colorizekit-ray"  # hidden: a later run over OUT as an input does not see it


class RowStatus(enum.StrEnum):
    """How one photo ended."""

    DONE = "done"  # its output was written
    SKIPPED = "skipped"  # its output existed already and was kept (no overwrite)
    FAILED = "failed"  # it could not be read or written; the reason says why


FINISHED = (RowStatus.DONE, RowStatus.SKIPPED)  # what a later run of the job does not redo
DIGEST = pa.binary(16)  # a photo's key in the ledger, as the driver holds it: blake2b-128 of its location
LEDGER_SCHEMA = pa.schema([
    ("location", pa.string()),  # the photo read (the listing's `location`)
    ("source", pa.string()),  # the photo as its input named it
    ("output", pa.string()),  # its output as messages name it
    ("status", pa.string()),  # a RowStatus
    ("reason", pa.string()),  # for FAILED: one line naming the file and the problem; else null
    ("worker", pa.string()),  # host:pid of the actor that did it
    ("finished", pa.float64()),  # when, in seconds since the epoch
])


def digests(locations: list[str]) -> pa.Array:
    """128-bit digests of locations: 16 bytes a photo on the driver instead of its path (two different
    locations share one with a probability of about n^2 / 2^129, 3e-27 for a million photos)."""
    return pa.array([hashlib.blake2b(x.encode(), digest_size=16).digest() for x in locations], DIGEST)


def finished_digests(batch: pa.Table) -> pa.Table:
    """Ray Data map over ledger parts: the digests of the photos they finished."""
    done = batch.filter(pc.is_in(batch["status"], pa.array([str(s) for s in FINISHED])))
    return pa.table({"digest": digests(done.column("location").to_pylist())})


@dataclass(frozen=True)
class JobState:
    """The state folder of one job in `out_dir` (a local path or a URI)."""

    out_dir: str  # the run's output folder
    key: str  # the job's fingerprint

    @property
    def root(self) -> str:
        return storage.join(self.out_dir, STATE_FOLDER)

    @property
    def folder(self) -> str:
        return storage.join(self.root, self.key)

    @property
    def temp(self) -> str:
        return storage.join(self.root, "tmp")

    @property
    def listing(self) -> str:
        return storage.join(self.folder, "jobs.parquet")

    @property
    def ledger(self) -> str:
        return storage.join(self.folder, "ledger")

    def part_for(self, locations: list[str]) -> str:
        """The ledger part of the task that does these photos."""
        digest = hashlib.sha256("\0".join(locations).encode()).hexdigest()[:24]
        return storage.join(self.ledger, f"part-{digest}.parquet")

    def write_part(self, part: str, rows: pa.Table) -> None:
        storage.write_parquet(part, rows, self.temp)

    def read_part(self, part: str) -> pa.Table:
        return pq.read_table(io.BytesIO(storage.read_bytes(part))).cast(LEDGER_SCHEMA)

    def ledger_parts(self) -> list[str]:
        """The locations of the parts written so far."""
        return storage.list_files(self.ledger, ".parquet")

    def write_record(self, record: dict) -> None:
        storage.write_atomic(storage.join(self.folder, "job.json"),
                             json.dumps(record, indent=2, sort_keys=True).encode(), self.temp)

    def write_failures(self, failures: list[tuple[str, str]]) -> str:
        """failures.csv (source, reason), atomically; returns its location."""
        location = storage.join(self.folder, "failures.csv")
        table = pa.table({"source": [s for s, _ in failures], "reason": [r for _, r in failures]},
                         schema=pa.schema([("source", pa.string()), ("reason", pa.string())]))
        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer)
        storage.write_atomic(location, buffer.getvalue(), self.temp)
        return location
