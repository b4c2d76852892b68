"""Weights files: the model name read from a file, without or with its tensors."""

import pytest
import torch

from colorizekit.models import create_model
from colorizekit.weights import (
    WeightsError,
    export_weights,
    load_weights,
    resolve_weights,
    save_checkpoint,
    weights_by_model,
    weights_model_name,
)


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


def test_resolve_weights_reads_the_model_from_the_file_and_names_the_flag_when_none_ship(make_weights, monkeypatch,
                                                                                       tmp_path):
    from colorizekit.weights import DEFAULT_MODEL, default_weights_path, resolve

    assert resolve_weights(None, None) == (DEFAULT_MODEL, default_weights_path(DEFAULT_MODEL))  # shipped
    monkeypatch.setattr(resolve, "WEIGHTS_DIR", tmp_path)  # from here on, no model ships weights
    path = make_weights("unet-rgb")
    assert resolve_weights(None, path) == ("unet-rgb", path)
    assert resolve_weights("unet-rgb", str(path)) == ("unet-rgb", path)
    with pytest.raises(WeightsError, match="are for model 'unet-rgb', not 'jkspnet-lab'"):
        resolve_weights("jkspnet-lab", path)
    with pytest.raises(WeightsError, match=r"jkspnet-lab.*pass --weights FILE \(CLI\) or weights=FILE \(Python\)"):
        resolve_weights("jkspnet-lab", None)
    with pytest.raises(ValueError, match="available models"):
        resolve_weights("nope", None)


def test_weights_by_model_takes_bare_files_name_file_items_and_mappings(make_weights):
    unet, jk = make_weights("unet-rgb"), make_weights("jkspnet-lab")
    expected = {"unet-rgb": unet, "jkspnet-lab": jk}
    assert weights_by_model([unet, f"jkspnet-lab={jk}"]) == expected
    assert weights_by_model({"unet-rgb": str(unet), "jkspnet-lab": jk}) == expected
    assert weights_by_model(str(unet)) == {"unet-rgb": unet} and weights_by_model(None) == {}
    with pytest.raises(WeightsError, match="a second weights file for model 'unet-rgb'"):
        weights_by_model([unet, f"unet-rgb={unet}"])
    with pytest.raises(ValueError, match="available models"):
        weights_by_model({"nope": unet})


def test_export_keeps_values_fp16_cannot_hold_in_fp32(tmp_path):
    """A BatchNorm running variance beyond fp16's 65504 would load as inf and wreck the model's output."""
    from safetensors import safe_open

    model = create_model("jkspnet-lab")
    state = model.state_dict()
    key = next(k for k in state if k.endswith("running_var"))
    state[key] = torch.full_like(state[key], 3.0e5)
    path = tmp_path / "w.safetensors"
    export_weights(path, "jkspnet-lab", state)
    loaded = load_weights(path).state_dict
    assert torch.equal(loaded[key], state[key])  # kept in fp32, so exact
    with safe_open(str(path), "pt") as f:
        assert f.get_tensor(key).dtype == torch.float32
        others = [f.get_tensor(k).dtype for k in f.keys() if k != key and state[k].is_floating_point()]
    assert others and set(others) == {torch.float16}
