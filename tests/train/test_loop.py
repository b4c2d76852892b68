"""Training: the files a run writes, exact resume, torchrun equivalence, divergence, interruption.

Everything runs on the CPU with tiny synthetic photos (16 x 16, batch 4, 3 steps per epoch).
"""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch

from colorizekit import cli
from colorizekit.models import get_model_info, list_models
from colorizekit.train import TrainConfig, TrainingDiverged, train
from colorizekit.train.data import PhotoDataset
from colorizekit.train.stopping import Outcome
from colorizekit.weights import load_checkpoint, load_weights
from tests.train.test_data import make_photo_dir

REPO = Path(__file__).resolve().parents[2]


def small_config(data: Path, out: Path, model: str = "jkspnet-lab", **changes) -> TrainConfig:
    """15 colour photos -> 12 training (3 steps of 4) and 3 validation photos, deterministic; 16 x 16, or
    the model's size multiple when larger."""
    size = max(16, get_model_info(model).size_multiple) if model in list_models() else 16
    settings = dict(epochs=2, batch_size=4, image_size=size, workers=0, resize="squash", deterministic=True)
    settings.update(changes)
    return TrainConfig(str(data), model, str(out), **settings)


ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}  # for subprocesses (torchrun sets it by itself)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One intra-op thread: these tests are tiny, and on a shared 2-core machine two threads spinning
    against other processes made them 5x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return make_photo_dir(tmp_path_factory.mktemp("train") / "photos", n=15)


@pytest.fixture(scope="module")
def reference_runs(data_dir, tmp_path_factory):
    """Uninterrupted two-epoch runs, one per model, trained once for the whole module."""
    runs = {}

    def get(model: str):
        if model not in runs:
            out = tmp_path_factory.mktemp(model) / "run"
            runs[model] = train(small_config(data_dir, out, model), progress=False)
        return runs[model]

    return get


def read_history(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("model", list_models())
def test_two_epochs_write_every_file_and_learn(reference_runs, model):
    result = reference_runs(model)
    run = result.run_dir
    assert result.status is Outcome.FINISHED and result.epochs_run == 2
    for name in ("last.pt", "best.pt", "model.safetensors", "model_card.json", "history.csv", "loss_curve.png",
                 "split.json"):
        assert (run / name).is_file(), name
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no temporary files left behind
    rows = read_history(run)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert list(rows[0]) == ["epoch", "train_loss", "val_loss", "seconds", "images_per_s", "lr"]
    assert float(rows[1]["train_loss"]) < float(rows[0]["train_loss"])  # it learns
    assert (run / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    last = load_checkpoint(run / "last.pt")
    assert last["model"] == model and last["epoch"] == 2 and last["partial"] is None
    assert last["config"]["batch_size"] == 4 and last["config"]["model"] == model
    assert {"python", "numpy", "torch"} <= set(last["rng"]) and "optimizer" in last
    assert not any(k.startswith(("module.", "_orig_mod.")) for k in last["state_dict"])
    best = load_checkpoint(run / "best.pt")
    assert best["epoch"] == result.best_epoch

    card = json.loads((run / "model_card.json").read_text())
    assert card["model"] == model and card["color_mode"] == get_model_info(model).color_mode
    assert card["images"] == {"train": 12, "validation": 3, "skipped_grayscale": 1, "skipped_unreadable": 1}
    assert card["epochs_run"] == 2 and card["best_epoch"] == result.best_epoch
    assert card["best_val_loss"] == pytest.approx(result.best_val_loss)
    assert card["config"]["image_size"] == max(16, get_model_info(model).size_multiple)
    weights = load_weights(run / "model.safetensors", expected_model=model)
    assert weights.metadata["card"] == card
    for k, v in weights.state_dict.items():  # fp16 export of the best weights
        assert torch.allclose(v.float(), best["state_dict"][k].float(), rtol=1e-3, atol=1e-3), k


def test_interrupted_runs_resume_exactly(reference_runs, data_dir, tmp_path, monkeypatch):
    """Stopped after epoch 1, then in the middle of epoch 2 (after its first step), then after its last step
    but before its validation, then resumed to the end: the same weights, optimizer state and losses as the
    uninterrupted run."""
    reference = reference_runs("jkspnet-lab")
    out = tmp_path / "run"
    stop = threading.Event()

    first = train(small_config(data_dir, out), progress=False, stop=stop, on_epoch=lambda row: stop.set())
    assert first.status is Outcome.INTERRUPTED and first.epochs_run == 1
    assert load_checkpoint(out / "last.pt")["epoch"] == 1
    # a stopped run still leaves its best weights so far, ready to use
    assert first.weights_path == out / "model.safetensors" and load_weights(first.weights_path).model_name == "jkspnet-lab"
    assert json.loads((out / "model_card.json").read_text())["stopped"] == "interrupted"

    original = PhotoDataset.__getitem__

    def getitem(self, key):
        if self.train and isinstance(key, tuple) and key[0] == 2:
            stop.set()  # as a SIGTERM arriving while epoch 2's first batch loads
        return original(self, key)

    stop.clear()
    monkeypatch.setattr(PhotoDataset, "__getitem__", getitem)
    second = train(small_config(data_dir, out), resume=True, progress=False, stop=stop)
    assert second.status is Outcome.INTERRUPTED and second.epochs_run == 1
    saved = load_checkpoint(out / "last.pt")
    assert saved["epoch"] == 1 and saved["partial"]["step"] == 1 and saved["partial"]["photos"] == 4

    calls = []

    def getitem_late(self, key):
        calls.append(key)
        if self.train and len(calls) == 5:
            stop.set()  # while the last batch of epoch 2 loads: stop after training, before validation
        return original(self, key)

    stop.clear()
    monkeypatch.setattr(PhotoDataset, "__getitem__", getitem_late)
    third = train(small_config(data_dir, out), resume=True, progress=False, stop=stop)
    assert third.status is Outcome.INTERRUPTED
    saved = load_checkpoint(out / "last.pt")
    assert saved["epoch"] == 1 and saved["partial"]["step"] == 3 and len(saved["history"]) == 1

    monkeypatch.setattr(PhotoDataset, "__getitem__", original)
    fourth = train(small_config(data_dir, out), resume=True, progress=False)
    assert fourth.status is Outcome.FINISHED and fourth.epochs_run == 2

    a, b = load_checkpoint(reference.run_dir / "last.pt"), load_checkpoint(out / "last.pt")
    assert_same_state(a["state_dict"], b["state_dict"])
    for pa, pb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert_same_state(pa, pb)
    for ra, rb in zip(reference.history, fourth.history, strict=True):
        assert (ra["train_loss"], ra["val_loss"]) == (rb["train_loss"], rb["val_loss"])
    assert_same_state(load_weights(reference.run_dir / "model.safetensors").state_dict,
                      load_weights(out / "model.safetensors").state_dict)


def test_resume_refuses_another_model_or_changed_settings(reference_runs, data_dir, tmp_path, capsys):
    run = reference_runs("jkspnet-lab").run_dir
    with pytest.raises(ValueError, match="checkpoint for model 'jkspnet-lab', not 'unet-rgb'"):
        train(small_config(data_dir, run, "unet-rgb"), resume=True, progress=False)
    with pytest.raises(ValueError, match=r"cannot resume with different settings \(lr 0.001 -> 0.01\)"):
        train(small_config(data_dir, run, lr=0.01), resume=True, progress=False)
    with pytest.raises(ValueError, match="already holds a training run"):
        train(small_config(data_dir, run), progress=False)
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume"):
        train(small_config(data_dir, tmp_path / "none"), resume=True, progress=False)
    status = cli.main(["train", str(data_dir), "--model", "unet-rgb", "--out", str(run), "--resume"])
    assert status == 2 and "holds a run of model 'jkspnet-lab', not 'unet-rgb'" in capsys.readouterr().err


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(data_dir, tmp_path, monkeypatch):
    mode = get_model_info("jkspnet-lab").mode
    poisoned = threading.Event()
    target = mode.target_from_rgb
    monkeypatch.setattr(mode, "target_from_rgb", lambda rgb: target(rgb) * (math.nan if poisoned.is_set() else 1.0))
    out = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match="NaN or infinite in epoch 2") as exc:
        train(small_config(data_dir, out, epochs=3), progress=False, on_epoch=lambda row: poisoned.set())
    assert str(out / "last.pt") in str(exc.value) and "\n" not in str(exc.value)
    for name in ("last.pt", "best.pt"):
        ckpt = load_checkpoint(out / name)
        assert ckpt["epoch"] == 1
        assert all(v.isfinite().all() for v in ckpt["state_dict"].values() if v.is_floating_point())
    assert len(read_history(out)) == 1 and not (out / "model.safetensors").exists()


def test_divergence_before_any_checkpoint(data_dir, tmp_path, capsys):
    status = cli.main(["train", str(data_dir), "--model", "jkspnet-lab", "--out", str(tmp_path / "run"),
                       "--epochs", "1", "--batch-size", "4", "--image-size", "16", "--workers", "0",
                       "--lr", "1e30", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert status == 1 and "NaN or infinite" in err and "no checkpoint had been written yet" in err
    assert not (tmp_path / "run" / "last.pt").exists()


def test_ctrl_c_saves_and_resume_finishes(data_dir, tmp_path):
    """Ctrl-C to the whole process group (as a terminal sends it, loader workers included)."""
    out = tmp_path / "run"
    args = ["train", str(data_dir), "--model", "jkspnet-lab", "--out", str(out), "--batch-size", "4",
            "--image-size", "16", "--workers", "1", "--no-progress"]
    proc = subprocess.Popen([sys.executable, "-m", "colorizekit", *args, "--epochs", "50"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env=ONE_THREAD)
    try:
        deadline = time.monotonic() + 120
        while not (out / "history.csv").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "SIGINT received" in stderr and "Traceback" not in stderr
    assert "continue with --resume" in stdout
    saved = load_checkpoint(out / "last.pt")
    assert saved["epoch"] >= 1
    assert cli.main([*args, "--resume", "--epochs", "3"]) == 0
    assert [r["epoch"] for r in read_history(out)] == ["1", "2", "3"]
    assert (out / "model.safetensors").is_file()


# A BatchNorm-free model, registered in a launcher script, for the torchrun equivalence test. With
# BREAK_DDP=allreduce in its environment, every DistributedDataParallel forward runs under no_sync(): each
# rank then steps on its own half-batch gradient, which is what a missing gradient all-reduce looks like.
LAUNCHER = textwrap.dedent('''
    import os
    import sys
    from torch import nn
    from colorizekit.models import ModelInfo, register_model

    @register_model(ModelInfo(name="tiny-test", color_mode="lab", size_multiple=1, description="tests only"))
    def tiny():
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                             nn.Conv2d(8, 2, 3, padding=1))

    if os.environ.get("BREAK_DDP") == "allreduce":
        class NoAllReduce(nn.parallel.DistributedDataParallel):
            def forward(self, *args, **kwargs):
                with self.no_sync():  # gradients stay local to each rank
                    return super().forward(*args, **kwargs)

        nn.parallel.DistributedDataParallel = NoAllReduce

    from colorizekit.cli import main
    sys.exit(main(sys.argv[1:]))
''')


def run_cli(launcher: list[str], args: list[str], **env: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, *launcher, *args], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**ONE_THREAD, **env})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def one_and_two_processes(data_dir: Path, tmp_path: Path, **env: str) -> tuple[dict, dict, str]:
    """The same run as 1 process x 4 photos and as torchrun 2 ranks x 2 photos: both checkpoints, rank 0's log.

    fp32 and deterministic kernels: under --precision auto a CPU with AVX-512 BF16 trains in bf16, where a
    half batch rounds differently from a whole one (that made this comparison fail on such CPUs, by ~1e-4)."""
    launcher = tmp_path / "launch.py"
    launcher.write_text(LAUNCHER)
    common = ["train", str(data_dir), "--model", "tiny-test", "--epochs", "2", "--batch-size", "4",
              "--image-size", "16", "--device", "cpu", "--deterministic", "--precision", "fp32", "--no-progress",
              "--lr", "0.01"]
    run_cli([str(launcher)], [*common, "--out", str(tmp_path / "one"), "--workers", "0"])
    two = run_cli(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(launcher)],
                  [*common, "--out", str(tmp_path / "two"), "--workers", "1"], **env)
    return load_checkpoint(tmp_path / "one" / "last.pt"), load_checkpoint(tmp_path / "two" / "last.pt"), two.stdout


# fp32 sums of the same gradients in another order (two half-batch sums averaged by the all-reduce, against one
# sum) differ by a few float32 ulps per step; after the 6 Adam steps of these runs the weights agree to about
# 1e-7 (measured: max |difference| 6e-8). A rank that misses the all-reduce is off by far more (measured: 0.07).
DDP_RTOL, DDP_ATOL = 1e-5, 1e-6


def max_difference(a: dict, b: dict) -> float:
    return max((a[k] - b[k]).abs().max().item() for k in a)


@pytest.mark.slow
def test_torchrun_two_processes_match_one_process(data_dir, tmp_path):
    """DDP on gloo with 2 ranks x 2 photos equals 1 process x 4 photos: same global batches, averaged
    gradients, and a validation mean summed over ranks. The model has no BatchNorm: with BatchNorm, ranks
    normalise with their own half-batch statistics (DDP's default), which is not what one process computes
    (SyncBatchNorm, --sync-bn, would be, but torch runs it on CUDA only)."""
    a, b, log = one_and_two_processes(data_dir, tmp_path)
    assert "2 processes" in log and log.count("epoch 1/2:") == 1  # rank 0 alone logs
    assert b["world_size"] == 2 and b["epoch"] == 2
    for k in a["state_dict"]:
        assert torch.allclose(a["state_dict"][k], b["state_dict"][k], rtol=DDP_RTOL, atol=DDP_ATOL), k
    for ra, rb in zip(a["history"], b["history"]):
        assert ra["train_loss"] == pytest.approx(rb["train_loss"], rel=1e-5)
        assert ra["val_loss"] == pytest.approx(rb["val_loss"], rel=1e-5)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())


@pytest.mark.slow
def test_the_torchrun_comparison_fails_without_the_gradient_all_reduce(data_dir, tmp_path):
    """The comparison above is sharp enough to see DDP broken: with the gradient all-reduce dropped, rank 0's
    weights are far outside its tolerance."""
    a, b, _ = one_and_two_processes(data_dir, tmp_path, BREAK_DDP="allreduce")
    assert not all(torch.allclose(a["state_dict"][k], b["state_dict"][k], rtol=DDP_RTOL, atol=DDP_ATOL)
                   for k in a["state_dict"])
    assert max_difference(a["state_dict"], b["state_dict"]) > 1e-3  # 1000x the tolerance


@pytest.mark.slow
def test_torchrun_with_batchnorm_model(data_dir, tmp_path):
    """A design model (BatchNorm inside) trains under torchrun with per-rank statistics and rank 0's
    running statistics in the checkpoint."""
    proc = run_cli(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "colorizekit"],
                   ["train", str(data_dir), "--model", "jkspnet-lab", "--out", str(tmp_path / "run"), "--epochs", "1",
                    "--batch-size", "4", "--image-size", "8", "--workers", "0", "--device", "cpu", "--no-progress"])
    assert "per-rank BatchNorm statistics" in proc.stdout
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")
    assert ckpt["world_size"] == 2 and all(v.isfinite().all() for v in ckpt["state_dict"].values()
                                           if v.is_floating_point())
    assert (tmp_path / "run" / "model.safetensors").is_file()


@pytest.fixture
def tiny_model(monkeypatch) -> str:
    """A BatchNorm-free model registered for one test only (the registry is restored afterwards)."""
    from torch import nn

    from colorizekit.models import ModelInfo, registry

    def build():
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 2, 3, padding=1))

    info = ModelInfo(name="tiny-test", color_mode="lab", size_multiple=1, description="tests only")
    monkeypatch.setitem(registry._REGISTRY, info.name, (info, build))
    return info.name


def test_restart_from_best_reloads_the_best_weights(data_dir, tmp_path, tiny_model):
    """The design notebook's behaviour: after an epoch without improvement, training goes on from the best
    weights (min_delta 1 makes every epoch after the first a non-improving one)."""
    result = train(small_config(data_dir, tmp_path / "run", tiny_model, epochs=3, min_delta=1.0,
                                restart_from_best=True, lr=0.01), progress=False)
    assert result.best_epoch == 1 and result.epochs_run == 3
    last, best = load_checkpoint(tmp_path / "run" / "last.pt"), load_checkpoint(tmp_path / "run" / "best.pt")
    assert_same_state(last["state_dict"], best["state_dict"])  # epoch 3's weights were dropped for epoch 1's
    plain = train(small_config(data_dir, tmp_path / "plain", tiny_model, epochs=3, min_delta=1.0, lr=0.01),
                  progress=False)
    assert plain.best_epoch == 1
    last = load_checkpoint(tmp_path / "plain" / "last.pt")["state_dict"]
    assert not torch.equal(last["0.weight"], best["state_dict"]["0.weight"])  # standard early stopping keeps going


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_bf16_channels_last_compile(data_dir, tmp_path):
    result = train(small_config(data_dir, tmp_path / "run", epochs=1, device="cuda", deterministic=False,
                                compile=True, workers=2), progress=False)
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")
    assert result.status is Outcome.FINISHED and "cuda" in ckpt["rng"]
    assert not any(k.startswith(("module.", "_orig_mod.")) for k in ckpt["state_dict"])
    assert all(v.isfinite().all() for v in ckpt["state_dict"].values() if v.is_floating_point())


# -- CPU training: hard stops, budgets, progressive resumes, bad photos, precision --------------------

# A launcher that slows photo loading down (0.1 s a photo), so that a test can act while a run trains.
SLOW_LAUNCHER = textwrap.dedent('''
    import sys, time
    from colorizekit.train.data import PhotoDataset
    original = PhotoDataset.__getitem__
    def slow(self, key):
        time.sleep(0.1)
        return original(self, key)
    PhotoDataset.__getitem__ = slow
    from colorizekit.cli import main
    sys.exit(main(sys.argv[1:]))
''')

SMALL_ARGS = ["--epochs", "2", "--batch-size", "4", "--image-size", "16", "--workers", "0", "--resize", "squash",
              "--deterministic", "--no-progress"]


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)


def kill_9_after_a_mid_epoch_save(proc: subprocess.Popen, out: Path, after_an_epoch: bool = False) -> None:
    """SIGKILL the training process `proc` (kill -9: no handler runs, nothing more is saved) once its
    out/last.pt holds a mid-epoch state (after the first epoch's history too, if `after_an_epoch`)."""

    def saved_mid_epoch() -> bool:
        if after_an_epoch and not (out / "history.csv").exists():
            return False
        try:
            partial = load_checkpoint(out / "last.pt")["partial"]
        except Exception:  # not written yet
            return False
        return partial is not None and partial["step"] >= 1

    try:
        _wait_for(saved_mid_epoch, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_kill_9_after_a_mid_epoch_save_then_resume_gives_the_same_weights(reference_runs, data_dir, tmp_path):
    reference = reference_runs("jkspnet-lab")
    launcher = tmp_path / "slow.py"
    launcher.write_text(SLOW_LAUNCHER)
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, str(launcher), "train", str(data_dir), "--model", "jkspnet-lab", "--out",
                             str(out), *SMALL_ARGS, "--save-every", "0.005"], cwd=REPO, env=ONE_THREAD,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    kill_9_after_a_mid_epoch_save(proc, out, after_an_epoch=True)
    assert proc.returncode == -signal.SIGKILL
    saved = load_checkpoint(out / "last.pt")
    assert saved["epoch"] == 1 and 1 <= saved["partial"]["step"] < 3
    result = train(small_config(data_dir, out), resume=True, progress=False)
    assert result.status is Outcome.FINISHED
    assert_same_state(load_checkpoint(reference.run_dir / "last.pt")["state_dict"],
                      load_checkpoint(out / "last.pt")["state_dict"])


def test_time_budget_stops_saves_and_exports(data_dir, tmp_path, monkeypatch, capsys):
    original = PhotoDataset.__getitem__

    def slow(self, key):
        time.sleep(0.05)
        return original(self, key)

    monkeypatch.setattr(PhotoDataset, "__getitem__", slow)
    out = tmp_path / "run"
    status = cli.main(["train", str(data_dir), "--model", "jkspnet-lab", "--out", str(out), "--batch-size", "4",
                       "--image-size", "16", "--workers", "0", "--epochs", "1000", "--schedule", "cosine",
                       "--time-budget", "0.1", "--no-progress"])
    logged = capsys.readouterr().out
    assert status == 0 and "time budget of 0.1 minutes spent" in logged and "--resume" in logged
    card = json.loads((out / "model_card.json").read_text())
    assert card["stopped"] == "budget_spent" and (out / "model.safetensors").is_file()
    saved = load_checkpoint(out / "last.pt")
    assert saved["schedule"]["kind"] == "cosine" and not saved["schedule"]["timed"]  # the next run restarts it
    assert saved["epoch"] < 1000  # stopped by the budget, not by the epochs


def test_progressive_resume_changes_image_size_and_batch(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    first = train(small_config(data_dir, out, epochs=1), progress=False)
    assert first.status is Outcome.FINISHED
    resumed = TrainConfig.from_run(out, epochs=2, image_size=32, batch_size=2)
    second = train(resumed, resume=True, progress=False)
    assert second.status is Outcome.FINISHED and second.epochs_run == 2
    saved = load_checkpoint(out / "last.pt")
    assert saved["config"]["image_size"] == 32 and saved["config"]["batch_size"] == 2
    logged = capsys.readouterr().out
    assert "resuming with batch 4 -> 2, image size 16 -> 32" in logged
    # a loss at another size is not comparable: the first epoch at the new size is the best whatever its loss
    assert "start over (was epoch 1)" in logged and second.best_epoch == 2
    exported, last = load_weights(out / "model.safetensors").state_dict, saved["state_dict"]
    assert all(torch.allclose(exported[k].float(), last[k].float(), atol=1e-3) for k in exported)  # epoch 2's weights


def test_init_from_starts_a_new_run_from_weights(reference_runs, data_dir, tmp_path, capsys):
    weights = reference_runs("jkspnet-lab").run_dir / "model.safetensors"
    result = train(small_config(data_dir, tmp_path / "run", epochs=1, lr=1e-12, init_from=str(weights)),
                   progress=False)
    assert result.status is Outcome.FINISHED and f"initialised from {weights}" in capsys.readouterr().out
    start = load_weights(weights).state_dict
    trained = load_checkpoint(tmp_path / "run" / "last.pt")["state_dict"]
    for name, _ in create_model_params("jkspnet-lab"):
        assert torch.allclose(trained[name], start[name], atol=1e-3), name
    with pytest.raises(ValueError, match="not 'unet-rgb'"):
        train(small_config(data_dir, tmp_path / "other", "unet-rgb", init_from=str(weights)), progress=False)


def create_model_params(name: str):
    from colorizekit.models import create_model

    return list(create_model(name).named_parameters())


def test_photos_removed_during_a_run_are_skipped_and_reported(data_dir, tmp_path, capsys):
    import shutil

    photos = tmp_path / "photos"
    shutil.copytree(data_dir, photos)
    split_run = tmp_path / "run"

    def remove_two(row):
        if row["epoch"] == 1:
            train_photos = json.loads((split_run / "split.json").read_text())["train"]
            for name in train_photos[:2]:
                (photos / name).unlink()

    result = train(small_config(photos, split_run, epochs=2, cache_mb=0), progress=False, on_epoch=remove_two)
    assert result.status is Outcome.FINISHED and result.epochs_run == 2
    captured = capsys.readouterr()
    assert "2 photos skipped (unreadable)" in captured.out
    assert captured.err.count("warning: skipped a training photo") == 2 and "the file is gone" in captured.err


def test_a_run_whose_photos_all_vanish_exits_with_an_error(data_dir, tmp_path):
    import shutil

    photos = tmp_path / "photos"
    shutil.copytree(data_dir, photos)
    launcher = tmp_path / "slow.py"
    launcher.write_text(SLOW_LAUNCHER)
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, str(launcher), "train", str(photos), "--model", "jkspnet-lab", "--out",
                             str(out), "--epochs", "50", "--batch-size", "4", "--image-size", "16", "--workers", "1",
                             "--cache-mb", "0", "--no-progress"], cwd=REPO, env=ONE_THREAD,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: (out / "history.csv").exists(), proc)
        shutil.rmtree(photos)
        gone = time.monotonic()
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1 and time.monotonic() - gone < 30
    assert "could not be read" in stderr.strip().splitlines()[-1]


def test_bf16_training_reaches_the_fp32_validation_loss(data_dir, tmp_path, tiny_model):
    """bf16 autocast (forced here; native where the CPU has AMX or AVX512-BF16) ends within 5 % of fp32's
    validation loss on a small model."""
    losses = {}
    for precision in ("fp32", "bf16"):
        result = train(small_config(data_dir, tmp_path / precision, tiny_model, epochs=3, lr=0.01,
                                    precision=precision, deterministic=False), progress=False)
        losses[precision] = result.history[-1]["val_loss"]
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=0.05)


@pytest.fixture
def clean_registries():
    """Registrations made by a test are removed afterwards."""
    from colorizekit.models import registry
    from colorizekit.train import losses

    models, loss_fns = dict(registry._REGISTRY), dict(losses._LOSSES.entries)
    yield
    for table, saved in ((registry._REGISTRY, models), (losses._LOSSES.entries, loss_fns)):
        table.clear()
        table.update(saved)


def test_a_toy_loss_and_a_toy_model_with_a_config_train_save_and_load(data_dir, tmp_path, clean_registries):
    from torch import nn

    from colorizekit.models import ModelInfo, register_model
    from colorizekit.train.losses import register_loss
    from colorizekit.weights import build_model

    @register_loss("l1-test")
    def l1(output, target, **options):
        return (output - target).abs().sum(), target.numel()

    @register_model(ModelInfo(name="toy-test", color_mode="lab", size_multiple=1, description="tests only"))
    def toy(width: int = 4):
        return nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, 2, 3, padding=1))

    out = tmp_path / "run"
    result = train(small_config(data_dir, out, "toy-test", epochs=1, loss="l1-test", model_config={"width": 6}),
                   progress=False)
    assert result.status is Outcome.FINISHED
    assert json.loads((out / "model_card.json").read_text())["loss"] == "l1-test"
    weights = load_weights(out / "model.safetensors", expected_model="toy-test")
    assert weights.model_config == {"width": 6}
    model = build_model(weights)
    assert model[0].out_channels == 6 and torch.allclose(model[0].weight, weights.state_dict["0.weight"])
    assert load_checkpoint(out / "last.pt")["model_config"] == {"width": 6}


@pytest.fixture(scope="module")
def many_steps_dir(tmp_path_factory) -> Path:
    """Photos for runs long enough (44 steps of 2 per epoch) that the schedule is recalibrated after a resume
    (it is first after 2 x SYNC_EVERY steps of the resumed process)."""
    return make_photo_dir(tmp_path_factory.mktemp("many") / "photos", n=110, size=20, gray=False, corrupt=False)


@pytest.mark.slow
@pytest.mark.parametrize("schedule", ["constant", "cosine"])
@pytest.mark.parametrize("budget", [None, "5"])
def test_kill_9_mid_epoch_then_resume_finishes_and_exports(many_steps_dir, tmp_path, schedule, budget):
    """The issue's sequence, in a real subprocess: train with timed saves, SIGKILL once a mid-epoch last.pt
    exists, run the same command with --resume. It must finish its epochs and export model.safetensors;
    a time budget continues with what was left of it (not a new one, and not infinity)."""
    from colorizekit.train.loop import SYNC_EVERY

    out = tmp_path / "run"
    args = [sys.executable, "-m", "colorizekit", "train", str(many_steps_dir), "--out", str(out), "--model",
            "jkspnet-lab", "--epochs", "3", "--batch-size", "2", "--image-size", "16", "--device", "cpu",
            "--workers", "0", "--schedule", schedule, "--save-every", "0.002", "--no-progress",
            *(["--time-budget", budget] if budget else [])]
    proc = subprocess.Popen(args, cwd=REPO, env=ONE_THREAD, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    kill_9_after_a_mid_epoch_save(proc, out)
    killed = load_checkpoint(out / "last.pt")
    steps_left = 3 * 44 - killed["global_step"]
    assert steps_left >= 2 * SYNC_EVERY + 25  # the resumed process reaches the recalibration
    assert not (out / "model.safetensors").exists()
    resumed = subprocess.run([*args, "--resume"], cwd=REPO, env=ONE_THREAD, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    final = load_checkpoint(out / "last.pt")
    assert final["epoch"] == 3 and final["partial"] is None and (out / "model.safetensors").is_file()
    card = json.loads((out / "model_card.json").read_text())
    assert card["stopped"] == "finished" and card["epochs_run"] == 3
    if budget:
        assert "continuing the time budget" in resumed.stdout
        assert final["clock"]["budget_s"] == 300.0
        assert killed["clock"]["spent_s"] < final["clock"]["spent_s"] < 300.0  # the same budget, counted on
    else:
        assert "continuing the time budget" not in resumed.stdout and final["clock"]["budget_s"] is None
