"""Outputs that would overwrite an input or another job's output, found without holding the listing.

`colorize_files` refuses them from the whole list of jobs (`refuse_clashes`). Here every job's two
file keys (its photo's and its output's) are hashed on the cluster to 64 bits; the driver gathers
only these hashes (16 bytes a job), finds the repeated ones with numpy, and brings the few jobs that
carry one to the driver, where `refuse_clashes` decides among them on the exact keys, in listing
order, exactly as it does for the local engine (a hash collision only brings an innocent job along,
which `refuse_clashes` then keeps). Each job kept is then given the prediction batch `colorize_files`
would put it in, so that workers batch photos as the local engine does: a photo's predicted colour may
differ in its last bits with the photos it is batched with.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from colorizekit.infer.files import refuse_clashes
from colorizekit.infer.ray import storage
from colorizekit.infer.ray.state import digests


class _Named(str):
    """A path as messages name it, carrying the key of the file it is."""

    key: str


class _Job:
    def __init__(self, row: dict) -> None:
        self.seq = row["seq"]
        self.source, self.output = _Named(row["source"]), _Named(row["output"])
        self.source.key, self.output.key = row["source_key"], row["target_key"]


def _hashes(keys: list[str]) -> pa.Array:
    return pa.array(pd.util.hash_array(np.array(keys, dtype=object)), pa.uint64())


def with_keys(batch: pa.Table) -> pa.Table:
    """Ray Data map: add the identities of each job's photo and output (`storage.identity`), their
    hashes, and the digest of its location (its key in the ledger)."""
    batch = batch.append_column("digest", digests(batch.column("location").to_pylist()))
    source_keys = [storage.identity(x) for x in batch.column("location").to_pylist()]
    target_keys = [storage.identity(x) for x in batch.column("target").to_pylist()]
    for name, keys in (("source_key", source_keys), ("target_key", target_keys)):
        batch = batch.append_column(name, pa.array(keys, pa.string()))
        batch = batch.append_column(name.replace("key", "hash"), _hashes(keys))
    return batch


def refuse(jobs, batch_size: int):  # (ray.data.Dataset from `with_keys`, materialized) -> (Dataset, problems)
    """The jobs less those `refuse_clashes` drops, each with the `batch` `colorize_files` would predict it
    in (its rank among the jobs kept // `batch_size`), and (source, reason) for the refused ones."""
    dropped, problems = _dropped(jobs)

    def keep(batch: pa.Table) -> pa.Table:
        batch = batch.filter(pc.invert(pc.is_in(batch["seq"], pa.array(dropped, pa.int64()))))
        seq = batch["seq"].to_numpy()
        rank = seq - np.searchsorted(dropped, seq)  # jobs kept before this one
        return batch.append_column("batch", pa.array(rank // batch_size, pa.int64()))

    return jobs.map_batches(keep, batch_format="pyarrow"), problems


def _dropped(jobs) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """The sorted seqs of the jobs `refuse_clashes` drops, and its problems."""
    none = np.zeros(0, np.int64)
    parts = [np.concatenate([b["source_hash"], b["target_hash"]])
             for b in jobs.select_columns(["source_hash", "target_hash"]).iter_batches(batch_format="numpy")]
    if not parts:
        return none, []
    values, counts = np.unique(np.concatenate(parts), return_counts=True)
    repeated = pa.array(values[counts > 1], pa.uint64())
    if len(repeated) == 0:
        return none, []

    def involved(batch: pa.Table) -> pa.Table:
        return batch.filter(pc.or_(pc.is_in(batch["source_hash"], repeated), pc.is_in(batch["target_hash"], repeated)))

    rows = sorted((_Job(r) for r in jobs.map_batches(involved, batch_format="pyarrow").take_all()),
                  key=lambda j: j.seq)
    kept, problems = refuse_clashes(rows, key=lambda named: named.key)
    return np.array(sorted({j.seq for j in rows} - {j.seq for j in kept}), np.int64), problems
