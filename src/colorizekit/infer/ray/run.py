"""`colorize_files_ray`: the driver of a batch run on Ray Data.

1. List the inputs into the job's `jobs.parquet`, a chunk at a time (`listing`);
2. read it as a Ray dataset, refuse clashing outputs (`clashes`), leave out the photos the job's
   ledger has finished (by the digests of their locations, `state.digests`: no shuffle);
3. stream the rest through a pool of `ColorizeWorker` actors, one model each (Ray Data restarts an
   actor that dies, a killed process or a lost node, and retries its task: `worker` makes that safe);
4. follow the small rows they return: a tqdm bar over finished photos, each failure told as it comes;
5. write failures.csv and return a report whose summary is `colorize_files`' line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from colorizekit.infer.ray import clashes, storage
from colorizekit.infer.ray.config import ColorizerSpec, OutputSettings, RayOptions, job_fingerprint
from colorizekit.infer.ray.listing import write_listing
from colorizekit.infer.ray.state import DIGEST, JobState, RowStatus, finished_digests
from colorizekit.infer.ray.worker import ColorizeWorker

_READ_BLOCKS = 64  # at most this many blocks when reading the listing and the ledger
RAY_MISSING = "--engine ray needs Ray Data: pip install 'colorizekit[ray]'"


@dataclass
class RayColorizeReport:
    """What a Ray run did (counts: a run may cover millions of photos)."""

    done: int = 0  # outputs written by this run
    skipped: int = 0  # outputs that existed already and were kept (no overwrite)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (input, one-line reason)
    resumed: int = 0  # photos an earlier run of the same job finished, not redone
    state: str = ""  # the job's state folder (ledger, failures.csv)

    def summary(self) -> str:
        """One line: done, skipped, failed (as `ColorizeReport.summary`), and what was done earlier."""
        line = f"{self.done} done, {self.skipped} skipped, {len(self.failed)} failed"
        return line + (f", {self.resumed} done by an earlier run" if self.resumed else "")


def require_ray():
    """The `ray` module; ValueError saying which extra to install when Ray Data is missing."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ValueError(RAY_MISSING) from None
    return ray


@contextlib.contextmanager
def ray_session(address: str | None) -> Iterator[object]:
    """Ray, connected: to `address`, else to the Ray this process is connected to, else to a new local
    one (shut down at the end, as is a connection made here)."""
    ray = require_ray()
    started = not ray.is_initialized()
    if started:
        extra = {} if address else {"include_dashboard": False}
        ray.init(address=address, log_to_driver=True, logging_level=logging.WARNING, **extra)
    data_logger = logging.getLogger("ray.data")
    level = data_logger.level
    data_logger.setLevel(logging.WARNING)  # no line per dataset executed
    context = ray.data.DataContext.get_current()
    saved = context.enable_progress_bars, context.print_on_execution_start
    context.enable_progress_bars, context.print_on_execution_start = False, False  # the driver shows one bar
    try:
        yield ray
    finally:
        context.enable_progress_bars, context.print_on_execution_start = saved
        data_logger.setLevel(level)
        if started:
            ray.shutdown()


def _worker_count(ray, options: RayOptions) -> int:
    if options.workers is not None:
        return options.workers
    resources = ray.cluster_resources()
    if options.gpus_per_worker > 0:
        return max(1, int(resources.get("GPU", 0) // options.gpus_per_worker))
    return max(1, int(resources.get("CPU", 1) // options.cpus_per_worker))


def _parquet(ray, locations: list[str], columns: list[str] | None = None):
    """Parquet files as a dataset, a block per few row groups, read on the cluster."""
    pieces = storage.parquet_pieces(locations)
    items = ray.data.from_items(pieces, override_num_blocks=max(1, min(len(pieces), _READ_BLOCKS)))
    return items.map_batches(storage.read_pieces, batch_size=None, batch_format="pyarrow",
                             fn_kwargs={"columns": columns})


def _todo(ray, state: JobState, batch_size: int, report: RayColorizeReport, fail: Callable[[str, str], None]):
    """The listing as a dataset, less clashes and less what the ledger has finished (materialized)."""
    jobs = _parquet(ray, [state.listing]).map_batches(clashes.with_keys, batch_format="pyarrow").materialize()
    jobs, refused = clashes.refuse(jobs, batch_size)
    for source, reason in refused:
        fail(source, reason)
    parts = state.ledger_parts()
    if not parts:
        return jobs
    jobs = jobs.materialize()
    ledger = _parquet(ray, parts, columns=["location", "status"])
    finished = [b["digest"] for b in ledger.map_batches(finished_digests, batch_format="pyarrow")
                .iter_batches(batch_format="pyarrow")]  # 16 bytes a photo
    if not finished:
        return jobs
    done = pa.chunked_array(finished, DIGEST).combine_chunks().unique()

    def left_to_do(batch: pa.Table) -> pa.Table:
        return batch.filter(pc.invert(pc.is_in(batch["digest"], done)))

    todo = jobs.map_batches(left_to_do, batch_format="pyarrow").materialize()
    report.resumed = jobs.count() - todo.count()
    return todo


def colorize_files_ray(inputs: Sequence[str | os.PathLike], out_dir: str | os.PathLike = "colorized", *,
                       spec: ColorizerSpec = ColorizerSpec(), settings: OutputSettings = OutputSettings(),
                       options: RayOptions = RayOptions(), progress: bool | None = None,
                       on_error: Callable[[str, str], None] | None = None) -> RayColorizeReport:
    """Colorize photos to files in `out_dir` on Ray Data, as `colorize_files` does on this machine.

    `inputs`: photo files, folders, glob patterns and manifests (`.csv` / `.parquet` with a `path`
    column; see `listing`); `out_dir`: a local folder or a URI pyarrow understands. Each worker builds
    its colorizer from `spec`; outputs are `colorize_files`' byte for byte, named and refused alike.
    The job's state goes to `out_dir/.colorizekit-ray/`: run the same job again and it does only what
    is not finished (photos that failed are tried again). `on_error(input, reason)` is called for each
    failure as it comes, with the progress bar cleared.
    """
    from tqdm import tqdm

    require_ray()  # before anything is written
    inputs, out = [os.fspath(i) for i in inputs], os.fspath(out_dir)
    if settings.format is not None:
        from colorizekit.imageio import output_format

        output_format(None, settings.format)  # ValueError naming the output formats
    if not 1 <= settings.quality <= 100:
        raise ValueError(f"quality must be between 1 and 100, got {settings.quality}")
    spec.build(device="cpu")  # bad weights, models or options: one line here, not one per worker
    state = JobState(out, job_fingerprint(inputs, out, spec, settings))
    report = RayColorizeReport(state=state.folder)

    def fail(source: str, reason: str) -> None:
        report.failed.append((source, reason))
        if on_error is not None:
            with tqdm.external_write_mode(file=sys.stderr):
                on_error(source, reason)

    storage.clear_folder(state.temp)  # what writers killed in an earlier run left
    state.write_record({"inputs": inputs, "out": out, "spec": dataclasses.asdict(spec),
                        "settings": dataclasses.asdict(settings)})
    count, problems = write_listing(inputs, out, settings.format, state.listing, state.temp)
    for source, reason in problems:
        fail(source, reason)
    if count:
        with ray_session(options.address) as ray:
            _run(ray, state, spec, settings, options, report, fail, progress)
    state.write_failures(report.failed)
    return report


def _run(ray, state: JobState, spec: ColorizerSpec, settings: OutputSettings, options: RayOptions,
         report: RayColorizeReport, fail: Callable[[str, str], None], progress: bool | None) -> None:
    from tqdm import tqdm

    todo = _todo(ray, state, spec.batch_size, report, fail)
    total = todo.count()
    if total == 0:
        return
    per_task = -(-options.photos_per_task // spec.batch_size) * spec.batch_size  # whole prediction batches
    workers = min(_worker_count(ray, options), -(-total // per_task))  # no worker without work
    # blocks of exactly `per_task` jobs, so that the prediction batches are whole (on a fresh run), made
    # now: once the actors hold every CPU, no other task could run
    todo = todo.repartition(target_num_rows_per_block=per_task, strict=True).materialize()
    results = todo.map_batches(
        ColorizeWorker, batch_size=per_task, batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=workers),
        fn_constructor_kwargs={"spec": spec, "settings": settings, "state": state,
                               "threads": options.threads_per_worker},
        num_cpus=options.cpus_per_worker, num_gpus=options.gpus_per_worker or None)
    show = progress if progress is not None else total > 3
    with tqdm(total=total, unit="photo", disable=not show, desc=f"colorizing on {workers} Ray worker(s)") as bar:
        for batch in results.iter_batches(batch_size=None, batch_format="pyarrow"):
            for status, source, reason in zip(*(batch.column(c).to_pylist() for c in ("status", "source", "reason"))):
                if status == RowStatus.DONE:
                    report.done += 1
                elif status == RowStatus.SKIPPED:
                    report.skipped += 1
                else:
                    fail(source, reason)
            bar.update(batch.num_rows)
