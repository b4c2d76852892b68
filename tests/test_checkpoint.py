"""Weights files: the model name read from a file, without or with its tensors."""

import pytest
import torch

from colorizekit.checkpoint import WeightsError, load_weights, save_checkpoint, weights_model_name
from colorizekit.models import create_model


def test_model_name_from_safetensors_and_checkpoint(make_weights, tmp_path):
    assert weights_model_name(make_weights("unet-rgb")) == "unet-rgb"
    ckpt = tmp_path / "last.pt"
    save_checkpoint(ckpt, "jkspnet-lab", {"state_dict": create_model("jkspnet-lab").state_dict(), "epoch": 1})
    assert weights_model_name(ckpt) == "jkspnet-lab"
    assert load_weights(ckpt).model_name == "jkspnet-lab"


@pytest.mark.parametrize("content", [b"", b"not a weights file", b"PK\x03\x04garbage"])
def test_model_name_of_bad_files(tmp_path, content):
    path = tmp_path / "w.safetensors"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match="w.safetensors"):
        weights_model_name(path)
    with pytest.raises(WeightsError, match="no such weights file"):
        weights_model_name(tmp_path / "missing.safetensors")


def test_safetensors_without_colorizekit_metadata(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(WeightsError, match="without colorizekit metadata"):
        weights_model_name(path)
