"""Colorize a photo with a model exported by `colorizekit export`, using only numpy, Pillow and onnxruntime.

    pip install numpy pillow onnxruntime
    python colorize_onnx.py model.onnx old_photo.jpg colour.png [--size S] [--saturation S] [--vividness V]

No PyTorch and no colorizekit: this file is the whole method, as colorizekit does it. The photo's
gray (the gray with each pixel's CIE L) is resized to a working size (short side about `--size`,
sides rounded to the model's size multiple), normalised as the file's metadata says, and the model
predicts CIE ab there; the ab is upsampled to the photo's full size and joined with the photo's own
full-resolution L, so the output has exactly the input's size and luminance. sRGB and CIE Lab (D65)
use scikit-image's constants, as colorizekit does. The predicted ab is multiplied by a saturation
(0 gray, 1 as predicted; the file's model card holds the measured default, else 1). Models with a
bins head take a `vividness` (0 muted ... 1 vivid); the file holds the default.

For simplicity this script reads 8-bit photos and writes an 8-bit RGB file without EXIF or ICC
profile; `colorizekit colorize --backend onnx` keeps those and 16-bit depth.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

RGB_TO_XYZ = np.array([[0.412453, 0.357580, 0.180423],  # linear sRGB -> CIE XYZ (D65)
                       [0.212671, 0.715160, 0.072169],
                       [0.019334, 0.119193, 0.950227]])
D65_WHITE = np.array([0.95047, 1.0, 1.08883])  # CIE XYZ of the D65 white
EPSILON, KAPPA_SLOPE, OFFSET = 0.008856, 7.787, 16.0 / 116.0  # CIE Lab's f(t)


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    return np.where(v > 0.04045, ((np.maximum(v, 0.04045) + 0.055) / 1.055) ** 2.4, v / 12.92)


def linear_to_srgb(v: np.ndarray) -> np.ndarray:
    return np.where(v > 0.0031308, 1.055 * np.maximum(v, 0.0031308) ** (1 / 2.4) - 0.055, v * 12.92)


def lab_f(t: np.ndarray) -> np.ndarray:
    return np.where(t > EPSILON, np.cbrt(np.maximum(t, EPSILON)), KAPPA_SLOPE * t + OFFSET)


def lab_f_inv(t: np.ndarray) -> np.ndarray:
    return np.where(t > EPSILON ** (1 / 3), t ** 3, (t - OFFSET) / KAPPA_SLOPE)


def gray_of(image: Image.Image) -> np.ndarray:
    """(H, W) gray in [0, 1]: the gray whose sRGB (g, g, g) has each pixel's CIE L."""
    if image.mode in ("L", "I;16", "I", "F"):
        return np.asarray(image.convert("L"), dtype=np.float64) / 255.0
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    return linear_to_srgb(srgb_to_linear(rgb) @ RGB_TO_XYZ[1])  # Y, the luminance, back to a gray


def lightness(gray: np.ndarray) -> np.ndarray:
    """Gray in [0, 1] -> CIE L in [0, 100]."""
    return 116.0 * lab_f(srgb_to_linear(gray)) - 16.0


def lab_to_rgb(lum: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """L (H, W) and ab (2, H, W) -> sRGB (H, W, 3) in [0, 1], out-of-gamut colours clipped."""
    fy = (lum + 16.0) / 116.0
    f = np.stack([fy + ab[0] / 500.0, fy, np.maximum(fy - ab[1] / 200.0, 0.0)], axis=-1)
    xyz = lab_f_inv(f) * D65_WHITE
    return np.clip(linear_to_srgb(xyz @ np.linalg.inv(RGB_TO_XYZ).T), 0.0, 1.0)


def resize(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of a float plane (antialiased when shrinking, as Pillow always does)."""
    image = Image.fromarray(plane.astype(np.float32), mode="F")
    return np.asarray(image.resize((width, height), Image.BILINEAR), dtype=np.float64)


def working_shape(height: int, width: int, size: int, multiple: int) -> tuple[int, int]:
    """Short side about `size`, aspect kept, sides rounded to the nearest multiple of `multiple`."""
    scale = size / min(height, width)
    return (max(multiple, round(height * scale / multiple) * multiple),
            max(multiple, round(width * scale / multiple) * multiple))


def colorize(session: ort.InferenceSession, image: Image.Image, size: int | None,
             vividness: float | None, saturation: float | None = None) -> Image.Image:
    meta = session.get_modelmeta().custom_metadata_map
    card = json.loads(meta.get("card", "{}"))
    if size is None:  # the working size the weights were measured best at, else 256
        size = int(card.get("default_size", 256))
    if saturation is None:  # the factor on the chroma measured best for the weights, else 1
        saturation = float(card.get("default_saturation", 1.0))
    norm = json.loads(meta["normalisation"])  # input = (X - center) / scale, X the gray or its L
    options = json.loads(meta["decode_inputs"])  # e.g. {"vividness": default}
    if vividness is not None and "vividness" in options:
        options["vividness"] = vividness
    gray = gray_of(ImageOps.exif_transpose(image))
    h, w = working_shape(*gray.shape, size, int(meta["size_multiple"]))
    small = resize(gray, h, w)
    x = lightness(small) if norm["input_from"] == "L" else small
    feed = {"input": ((x - norm["center"]) / norm["scale"]).astype(np.float32)[None, None]}
    feed.update({name: np.array([value], dtype=np.float32) for name, value in options.items()})
    ab = session.run(["ab"], feed)[0][0] * saturation  # (2, h / output_stride, w / output_stride), Lab units
    full_ab = np.stack([resize(channel, *gray.shape) for channel in ab])
    rgb = lab_to_rgb(lightness(gray), full_ab)
    return Image.fromarray(np.rint(rgb * 255.0).astype(np.uint8), mode="RGB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="a .onnx file from `colorizekit export`")
    ap.add_argument("photo", help="the photo to colorize")
    ap.add_argument("output", help="where to write the colour photo")
    ap.add_argument("--size", type=int, help="working size: short side, pixels (default: the weights' measured "
                    "size from the file's model card, else 256)")
    ap.add_argument("--saturation", type=float, help="factor on the predicted chroma: 0 gray, 1 as predicted "
                    "(default: the file's model card's, else 1)")
    ap.add_argument("--vividness", type=float, help="bins models: 0 (muted) to 1 (vivid) (default: the file's)")
    args = ap.parse_args()
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    with Image.open(args.photo) as image:
        colorize(session, image, args.size, args.vividness, args.saturation).save(args.output)
    print(f"{args.photo} -> {args.output}")


if __name__ == "__main__":
    main()
