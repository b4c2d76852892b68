"""Batch colorization on Ray Data: one archive, many machines (`colorizekit colorize --engine ray`).

The local engine (`colorizekit.infer.files.colorize_files`) does one machine; this package spreads the
same per-file pipeline over a Ray cluster (or a local Ray on this machine) with Ray Data: the
photos' paths stream in blocks through a pool of actors, each holding one model, that read, colorize
and write their photos themselves, so decoded photos never travel to the driver. Outputs are the
local engine's byte for byte, with the same names and the same refusal to overwrite.

- `config`: how each worker builds its colorizer, how outputs are written, the cluster (frozen dataclasses);
- `storage`: local paths and any filesystem pyarrow understands; atomic writes;
- `listing`: folders, globs and manifests (CSV or Parquet with a `path` column) -> a Parquet listing of jobs;
- `state`: the state folder inside OUT: the listing, the ledger of finished photos, the failures;
- `clashes`: outputs that would overwrite an input or another output, found on the cluster;
- `worker`: the actor: one colorizer, one batch of photos at a time;
- `run`: `colorize_files_ray`, the driver.

Ray is an optional dependency (`pip install 'colorizekit[ray]'`); nothing here imports it until a
run starts, so colorizekit works without it.
"""

from colorizekit.infer.ray.config import ColorizerSpec, OutputSettings, RayOptions
from colorizekit.infer.ray.run import RayColorizeReport, colorize_files_ray

__all__ = ["ColorizerSpec", "OutputSettings", "RayColorizeReport", "RayOptions", "colorize_files_ray"]
