"""The Ray engine's pieces that need no cluster: listing inputs and manifests, the CLI's guards."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

pytest.importorskip("pyarrow")

from colorizekit.cli.main import main  # noqa: E402
from colorizekit.infer.files import plan_outputs  # noqa: E402
from colorizekit.infer.ray.listing import iter_jobs, write_listing  # noqa: E402
from tests.conftest import synthetic_rgb  # noqa: E402


def _photos(folder: Path) -> None:
    (folder / "sub").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    for i, name in enumerate(["b.jpg", "a.PNG", "sub/c.bmp", "sub/d.tif", ".hidden/e.png", "notes.txt"]):
        if name.endswith(".txt"):
            (folder / name).write_text("not a photo")
        else:
            Image.fromarray(synthetic_rgb(16, 20, seed=i)).save(folder / name)


def test_folders_globs_and_files_are_named_as_the_local_engine_names_them(tmp_path):
    _photos(tmp_path / "in")
    inputs = [str(tmp_path / "in"), str(tmp_path / "in" / "sub" / "*.tif"), str(tmp_path / "in" / "b.jpg")]
    for fmt in (None, "webp"):
        local, _ = plan_outputs(inputs, tmp_path / "out", fmt)
        problems: list = []
        jobs = list(iter_jobs(inputs, str(tmp_path / "out"), fmt, problems))
        # the local engine drops the photos named twice; the listing keeps them for `clashes` to drop
        firsts = {}
        for source, location, output, _target, format in jobs:
            firsts.setdefault(location, (source, output, format))
        assert [(str(j.source), str(j.output), j.format) for j in local] == list(firsts.values())
        assert all(Path(t).is_absolute() and t.endswith(Path(o).name) for _, _, o, t, _ in jobs)
        assert problems == []


def test_missing_inputs_and_bad_manifest_rows_are_problems_not_errors(tmp_path):
    _photos(tmp_path / "in")
    manifest = tmp_path / "list.csv"
    manifest.write_text("path,output\nin/b.jpg,box1/0001.jpg\n,\nin/sub/c.bmp,../escape.png\n"
                        f"file://{tmp_path}/in/a.PNG,\n")
    no_path = tmp_path / "nopath.parquet"
    pq.write_table(pa.table({"file": ["x.png"]}), no_path)
    count, problems = write_listing([str(manifest), str(no_path), str(tmp_path / "nothing"), str(tmp_path / "*.gif")],
                                    str(tmp_path / "out"), None, str(tmp_path / "jobs.parquet"), str(tmp_path / "t"))
    table = pq.read_table(tmp_path / "jobs.parquet")
    assert count == table.num_rows == 2 and table.column("seq").to_pylist() == [0, 1]
    assert table.column("location").to_pylist() == [str(tmp_path / "in" / "b.jpg"), f"file://{tmp_path}/in/a.PNG"]
    assert table.column("output").to_pylist() == [str(tmp_path / "out" / "box1" / "0001.jpg"),
                                                  str(tmp_path / "out" / "a.PNG")]
    reasons = [r for _, r in problems]
    assert reasons == [f"{manifest}: row 3 has an empty path",
                       f"{manifest}: row 4: output '../escape.png' is not a relative path inside the output folder",
                       f"{no_path}: cannot read this manifest: no 'path' column (it has: file)",
                       f"{tmp_path / 'nothing'}: no such file or folder",
                       f"{tmp_path / '*.gif'}: no images match this pattern"]
    assert not list((tmp_path / "t").iterdir())  # the listing was moved into place


def test_manifest_is_read_a_chunk_at_a_time(tmp_path, monkeypatch):
    from colorizekit.infer.ray import listing

    monkeypatch.setattr(listing, "_CHUNK", 1000)
    paths = [f"/archive/box{i // 1000}/{i:06d}.tif" for i in range(5000)]
    pq.write_table(pa.table({"path": paths}), tmp_path / "m.parquet", row_group_size=1000)
    batches = list(listing._manifest_batches(str(tmp_path / "m.parquet")))
    assert [b.num_rows for b in batches] == [1000] * 5
    count, _ = write_listing([str(tmp_path / "m.parquet")], str(tmp_path / "out"), "png",
                             str(tmp_path / "jobs.parquet"), str(tmp_path / "t"))
    assert count == 5000 and pq.ParquetFile(tmp_path / "jobs.parquet").num_row_groups == 5
    assert pq.read_table(tmp_path / "jobs.parquet").column("output")[4999].as_py() == str(tmp_path / "out" / "004999.png")


def test_ray_options_need_the_ray_engine_and_a_missing_ray_says_which_extra(tmp_path, capsys, monkeypatch):
    Image.fromarray(synthetic_rgb()).save(tmp_path / "a.png")
    assert main(["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--workers", "2"]) == 2
    assert "--workers need(s) --engine ray" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    assert main(["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--engine", "ray"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["colorizekit colorize: error: --engine ray needs Ray Data: pip install 'colorizekit[ray]'"]
    assert not (tmp_path / "out").exists()
