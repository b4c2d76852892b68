"""`colorize --engine ray` on a real local Ray (2 CPUs, one cluster for the module): the local engine's
bytes, exactly once through a killed worker and a stopped driver, bad files reported and the rest done."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageCms

ray = pytest.importorskip("ray", reason="needs Ray Data: pip install 'colorizekit[ray]'")
pytest.importorskip("ray.data")

from colorizekit.imageio import save_image  # noqa: E402
from colorizekit.infer.colorizer import Colorizer  # noqa: E402
from colorizekit.infer.files import colorize_files  # noqa: E402
from colorizekit.infer.ray import OutputSettings, RayOptions, colorize_files_ray  # noqa: E402
from colorizekit.infer.ray.state import STATE_FOLDER  # noqa: E402
from tests.conftest import SHARED_DATA, synthetic_rgb  # noqa: E402

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]
MIXED = SHARED_DATA / "eval" / "mixed200"


@pytest.fixture(scope="module")
def cluster():
    """One local Ray for the module: 2 CPUs, a 200 MB object store; workers import this checkout."""
    src = str(ROOT / "src")
    os.environ["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [os.environ.get("PYTHONPATH")])])
    ray.init(num_cpus=2, object_store_memory=200 * 1024 ** 2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.environ["PYTHONPATH"]}})
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def colorizer():
    return Colorizer()  # the shipped lite-unet-bins


def _mixed(folder: Path, count: int) -> Path:
    if not MIXED.is_dir():
        pytest.skip(f"{MIXED} not present")
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(MIXED.iterdir())[::7][:count]:  # every 7th: all four kinds of scene
        shutil.copy(path, folder / path.name)
    return folder


def _outputs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and STATE_FOLDER not in p.parts}


def _ledger(out: Path) -> pa.Table:
    parts = sorted(out.glob(f"{STATE_FOLDER}/*/ledger/*.parquet"))
    return pa.concat_tables([pq.read_table(p) for p in parts]) if parts else pa.table({"location": []})


def _tricky(folder: Path) -> None:
    """A 16-bit PNG, a JPEG with EXIF and an ICC profile, a BMP (-> PNG), in a subfolder."""
    (folder / "sub").mkdir(parents=True)
    gray16 = (np.linspace(0, 65535, 40 * 56).reshape(40, 56)).astype(np.uint16)
    save_image(folder / "sub" / "deep.png", np.repeat(gray16[..., None], 3, axis=2), bit_depth=16)
    exif = Image.Exif()
    exif[0x013B] = "A. Photographer"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(synthetic_rgb(50, 70)).convert("L").convert("RGB").save(
        folder / "meta.jpg", exif=exif.tobytes(), icc_profile=icc)
    Image.fromarray(synthetic_rgb(30, 45, seed=3)).save(folder / "old.bmp")


def test_outputs_are_the_local_engines_byte_for_byte_and_a_rerun_redoes_nothing(cluster, colorizer, tmp_path):
    src = _mixed(tmp_path / "in", 6)
    _tricky(src)
    settings = OutputSettings(side_by_side_too=True)
    local = colorize_files(colorizer, [src], tmp_path / "local", side_by_side_too=True, progress=False)
    report = colorize_files_ray([src], tmp_path / "ray", settings=settings, options=RayOptions(photos_per_task=3))
    assert report.summary() == local.summary() == "9 done, 0 skipped, 0 failed"
    ours, theirs = _outputs(tmp_path / "ray"), _outputs(tmp_path / "local")
    assert sorted(ours) == sorted(theirs) and len(ours) == 18  # each photo and its side-by-side
    assert "sub/deep.png" in ours and "old.png" in ours
    assert [name for name in ours if ours[name] != theirs[name]] == []
    modes = {(tmp_path / "ray" / n).stat().st_mode for n in ours}
    assert modes == {(tmp_path / "local" / n).stat().st_mode for n in theirs}
    assert not list((tmp_path / "ray" / STATE_FOLDER / "tmp").iterdir())
    again = colorize_files_ray([src], tmp_path / "ray", settings=settings, options=RayOptions(photos_per_task=3))
    assert (again.done, again.skipped, again.failed, again.resumed) == (0, 0, [], 9)
    assert _ledger(tmp_path / "ray").num_rows == 9  # nothing was done twice


def test_manifest_with_missing_corrupt_and_clashing_files(cluster, tmp_path):
    src = _mixed(tmp_path / "in", 3)
    good = sorted(src.iterdir())
    (src / "truncated.jpg").write_bytes(good[0].read_bytes()[:2000])
    (src / "notes.png").write_text("not a photo")
    shutil.copy(good[1], src / "twin.jpg")
    rows = [f"in/{good[0].name}", str(good[1]), f"file://{good[2]}", "in/gone.jpg", "in/truncated.jpg",
            "in/notes.png", "in/twin.jpg"]
    outputs = ["box1/first.jpg", None, None, None, None, None, good[1].name]  # twin.jpg clashes with good[1]
    pacsv.write_csv(pa.table({"path": rows, "output": outputs}), tmp_path / "manifest.csv")
    out = f"file://{tmp_path / 'out'}"  # any filesystem pyarrow understands: the same code as s3:// takes
    told = []
    report = colorize_files_ray([tmp_path / "manifest.csv"], out, on_error=lambda s, r: told.append(r))
    assert (report.done, report.skipped, len(report.failed)) == (3, 0, 4)
    reasons = dict(report.failed)
    assert reasons[str(src / "gone.jpg")] == f"{src / 'gone.jpg'}: no such file"
    assert reasons[str(src / "truncated.jpg")].startswith(f"{src / 'truncated.jpg'}: ")
    assert "truncated" in reasons[str(src / "truncated.jpg")]
    assert reasons[str(src / "notes.png")].startswith(f"{src / 'notes.png'}: not an image")
    assert reasons[str(src / "twin.jpg")] == (f"output {out}/{good[1].name} is also the output of "
                                              f"{good[1].resolve()}")
    assert sorted(told) == sorted(reasons.values())
    assert sorted(_outputs(tmp_path / "out")) == sorted(["box1/first.jpg", good[1].name, good[2].name])
    failures = pacsv.read_csv(Path(report.state.removeprefix("file://")) / "failures.csv").to_pylist()
    assert {(f["source"], f["reason"]) for f in failures} == set(report.failed)
    (src / "gone.jpg").write_bytes(good[0].read_bytes())  # fixed: a rerun tries the failed photos again
    again = colorize_files_ray([tmp_path / "manifest.csv"], out)
    assert (again.done, again.resumed, len(again.failed)) == (1, 3, 3)


def test_a_worker_killed_mid_run_still_gives_every_photo_exactly_once(cluster, colorizer, tmp_path):
    src = _mixed(tmp_path / "in", 20)
    out = tmp_path / "out"
    killed: list[tuple[int, float]] = []

    def kill_a_worker() -> None:  # SIGKILL the actor that wrote the first ledger part, by its pid
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            parts = list(out.glob(f"{STATE_FOLDER}/*/ledger/*.parquet"))
            if parts:
                pid = int(pq.read_table(parts[0]).column("worker")[0].as_py().rsplit(":", 1)[1])
                os.kill(pid, signal.SIGKILL)
                killed.append((pid, time.time()))
            time.sleep(0.02)

    watcher = threading.Thread(target=kill_a_worker)
    watcher.start()
    report = colorize_files_ray([src], out, options=RayOptions(workers=2, photos_per_task=2))
    watcher.join()
    assert killed, "no ledger part appeared to find a worker by"
    pid, when = killed[0]
    ledger = _ledger(out)
    assert ledger.num_rows == 20 and len(set(ledger.column("location").to_pylist())) == 20  # each once
    assert max(ledger.column("finished").to_pylist()) > when  # the kill came before the end
    assert f":{pid}" not in " ".join(r for r, t in zip(ledger.column("worker").to_pylist(),
                                                      ledger.column("finished").to_pylist()) if t > when + 1)
    assert report.done + report.skipped == 20 and report.failed == []
    local = colorize_files(colorizer, [src], tmp_path / "local", progress=False)
    assert len(local.done) == 20 and _outputs(out) == _outputs(tmp_path / "local")
    assert not list((out / STATE_FOLDER / "tmp").iterdir())


def test_a_stopped_driver_resumes_where_it_stopped(cluster, colorizer, tmp_path):
    src = _mixed(tmp_path / "in", 16)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "colorizekit", "colorize", str(src), "-o", str(out), "--engine", "ray",
               "--address", cluster, "--workers", "1", "--photos-per-task", "2"]
    driver = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while time.time() < deadline and driver.poll() is None and len(_ledger(out)) < 2:
        time.sleep(0.05)
    driver.send_signal(signal.SIGINT)  # Ctrl-C
    try:
        _, err = driver.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        driver.kill()
        _, err = driver.communicate()
    assert driver.returncode == 130, err[-2000:]
    assert "run the same command again" in err
    first = _ledger(out).num_rows
    assert 2 <= first < 16
    time.sleep(2)  # the stopped job's actor goes with its driver
    report = colorize_files_ray([str(src)], str(out), options=RayOptions(photos_per_task=2))
    assert report.resumed >= first and report.done + report.skipped + report.resumed == 16
    ledger = _ledger(out)
    assert sorted(ledger.column("location").to_pylist()) == sorted(str(p) for p in src.iterdir())  # each once
    local = colorize_files(colorizer, [src], tmp_path / "local", progress=False)
    assert len(local.done) == 16 and _outputs(out) == _outputs(tmp_path / "local")
