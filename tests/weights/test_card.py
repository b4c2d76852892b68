"""A model card's defaults, resolved in one place (`weights.card_defaults`) and used by the colorizer."""

import pytest

from colorizekit.models import create_model
from colorizekit.weights import WeightsError, card_defaults, export_weights, load_weights


def default_vividness(weights):
    return card_defaults(weights).vividness


def default_saturation(weights):
    return card_defaults(weights).saturation


def default_size(weights):
    return card_defaults(weights).size


def test_without_weights_the_package_defaults_hold():
    from colorizekit.color import DEFAULT_SATURATION
    from colorizekit.color.bins import DEFAULT_VIVIDNESS
    from colorizekit.weights import DEFAULT_SIZE

    assert card_defaults(None, "lite-unet-bins").vividness == DEFAULT_VIVIDNESS
    assert card_defaults(None, "jkspnet-lab").vividness is None
    assert card_defaults(None).size == DEFAULT_SIZE and card_defaults(None).saturation == DEFAULT_SATURATION


def test_default_vividness_is_the_cards_else_the_package_default_and_none_without_bins(make_weights, tmp_path):
    from colorizekit.color.bins import DEFAULT_VIVIDNESS
    from colorizekit.infer.colorizer import Colorizer

    state = create_model("lite-unet-bins").state_dict()
    plain, measured, bad = (tmp_path / f"{n}.safetensors" for n in ("plain", "measured", "bad"))
    export_weights(plain, "lite-unet-bins", state)
    export_weights(measured, "lite-unet-bins", state, card={"default_vividness": 0.7})
    export_weights(bad, "lite-unet-bins", state, card={"default_vividness": "loud"})
    assert default_vividness(plain) == DEFAULT_VIVIDNESS
    assert default_vividness(measured) == 0.7 == default_vividness(load_weights(measured))
    assert default_vividness(make_weights("jkspnet-lab")) is None  # no vividness control
    with pytest.raises(WeightsError, match="bad.safetensors.*default_vividness 'loud'"):
        default_vividness(bad)
    assert Colorizer(weights=measured, device="cpu").vividness == 0.7  # the colorizer decodes at it
    assert Colorizer(weights=plain, device="cpu").vividness == DEFAULT_VIVIDNESS
    assert Colorizer(weights=measured, device="cpu", vividness=0.2).vividness == 0.2


def test_default_saturation_is_the_cards_else_one_for_every_model(make_weights, tmp_path):
    from colorizekit.infer.colorizer import Colorizer

    state = create_model("jkspnet-lab").state_dict()
    plain, measured, bad, high = (tmp_path / f"{n}.safetensors" for n in ("plain", "measured", "bad", "high"))
    export_weights(plain, "jkspnet-lab", state)
    export_weights(measured, "jkspnet-lab", state, card={"default_saturation": 1.3})
    export_weights(bad, "jkspnet-lab", state, card={"default_saturation": "loud"})
    export_weights(high, "jkspnet-lab", state, card={"default_saturation": 9})
    assert default_saturation(plain) == 1.0
    assert default_saturation(measured) == 1.3 == default_saturation(load_weights(measured))
    for path in (bad, high):
        with pytest.raises(WeightsError, match=f"{path.name}: the model card's default_saturation: saturation must be"):
            default_saturation(path)
    assert Colorizer(weights=measured, device="cpu").saturation == 1.3  # the colorizer colours at it
    assert Colorizer(weights=measured, device="cpu", saturation=0.8).saturation == 0.8


def test_default_size_is_the_cards_else_the_package_default(make_weights, tmp_path):
    from colorizekit.infer.colorizer import Colorizer
    from colorizekit.weights import DEFAULT_SIZE

    state = create_model("lite-unet-bins").state_dict()  # size multiple 32
    plain, measured = tmp_path / "plain.safetensors", tmp_path / "measured.safetensors"
    export_weights(plain, "lite-unet-bins", state)
    export_weights(measured, "lite-unet-bins", state, card={"default_size": 160})
    assert default_size(plain) == DEFAULT_SIZE and default_size(measured) == 160 == default_size(load_weights(measured))
    for value in (100, 0, "big", True):  # not a multiple of 32, not positive, not a number
        bad = tmp_path / "bad.safetensors"
        export_weights(bad, "lite-unet-bins", state, card={"default_size": value})
        with pytest.raises(WeightsError, match="bad.safetensors.*default_size"):
            default_size(bad)
    assert Colorizer(weights=measured, device="cpu").size == 160  # the colorizer works at it
    assert Colorizer(weights=plain, device="cpu").size == DEFAULT_SIZE
    assert Colorizer(weights=measured, device="cpu", size=64).size == 64
