"""Colorizing photos at their full resolution: the `Colorizer` API (batch colorizing of files is in `files`).

Method (as richzhang/colorization and other full-resolution colorizers do): resize the grayscale
photo to a working size (`size` on the short side, rounded to what the model needs), predict the
chroma (CIE ab) there, upsample the chroma to the photo's full size, and join it with the photo's
own full-resolution luminance. The output therefore has exactly the input's width, height and CIE L;
colours outside the sRGB gamut are clipped.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from colorizekit import color
from colorizekit.color.join import join_luminance, resize
from colorizekit.imageio import LoadedImage, load_image, to_uint8
from colorizekit.infer.backends import DEFAULT_BACKEND, load_backend
from colorizekit.models import get_model_info

# colorizekit's own files (.../colorizekit/): warnings name the first caller outside them
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__))) + os.sep

ImageInput = Image.Image | np.ndarray | str | os.PathLike | bytes


def working_shape(height: int, width: int, size: int, multiple: int) -> tuple[int, int]:
    """The (h, w) at which a photo of `height` x `width` is predicted: short side about `size`,
    aspect ratio kept, both sides rounded to the nearest multiple of `multiple` (at least one)."""
    if height < 1 or width < 1:
        raise ValueError(f"image has no pixels ({width} x {height})")
    if size < multiple:
        raise ValueError(f"working size {size} is smaller than the model's size multiple {multiple}")
    scale = size / min(height, width)
    return (max(multiple, round(height * scale / multiple) * multiple),
            max(multiple, round(width * scale / multiple) * multiple))


class Colorizer:
    """Colorize grayscale photos with a trained model.

    `Colorizer(model=None, weights=None, device=None, size=None, batch_size=4, precision="auto",
    vividness=None, saturation=None, backend="torch")`:
    - model: registry name; None means the model the weights file is for, or `DEFAULT_MODEL`;
    - weights: a `model.safetensors` exported by `colorizekit train` or a training checkpoint (or, for the
      onnx backend, a `.onnx` file from `colorizekit export`); None means the weights that ship with
      colorizekit for `model` (WeightsError when none ship). A file for another model than `model` is
      refused (`weights.resolve_weights` decides);
    - device: "cpu", "cuda", ...; None picks CUDA when present (the onnx backend runs on the CPU);
    - size: working size (short side) at which colour is predicted; None: the weights' measured default
      (their model card's `default_size`), else `weights.DEFAULT_SIZE`;
    - batch_size: photos predicted together;
    - precision: "auto" (bf16 autocast where the hardware runs it natively, else fp32), "bf16" or "fp32".
      Colour conversions always run in fp32; only the network runs in bf16;
    - vividness: for models with a bins head, from 0 (muted: the predicted distribution's mean) to 1
      (vivid: the mean's hue, more chroma; more vividness never less colour); None: the weights' measured default, else
      `color.bins.DEFAULT_VIVIDNESS`. Other models refuse a vividness (ValueError);
    - saturation: for every model, a factor on the predicted chroma (CIE ab), keeping hue: 0 gives gray,
      1 the colour as predicted, up to `color.MAX_SATURATION`; None: the weights' measured default
      (their model card's `default_saturation`), else 1;
    - backend: "torch" (PyTorch) or "onnx" (onnxruntime on the CPU, in fp32; needs `colorizekit[onnx]`;
      weights that are not `.onnx` are exported on first use into a cache). See `colorizekit.infer.backends`.

    Call it on a PIL image, a numpy array or a path; it returns an RGB PIL image of the same size.
    """

    def __init__(self, model: str | None = None, weights: str | os.PathLike | None = None,
                 device: str | torch.device | None = None, size: int | None = None, batch_size: int = 4,
                 precision: str = "auto", vividness: float | None = None, saturation: float | None = None,
                 backend: str = DEFAULT_BACKEND) -> None:
        self.backend = load_backend(backend, model, weights, device, precision)
        self.model_name: str = self.backend.model_name
        self.info = get_model_info(self.model_name)
        self.mode = self.info.mode
        self.weights_path: Path = self.backend.weights_path
        self.metadata = self.backend.metadata
        if vividness is None:
            vividness = self.backend.defaults.vividness
        self.vividness: float | None = vividness  # the vividness used (bins models); None for other models
        self.decode_options = self.mode.decode_options(vividness)  # e.g. the bins model's vividness
        if saturation is None:
            saturation = self.backend.defaults.saturation
        self.saturation: float = color.check_saturation(saturation)  # the factor on the predicted chroma
        self.device = self.backend.device
        self.model = self.backend.model  # the PyTorch module (torch backend), else None
        self.dtype, self.precision_reason = self.backend.dtype, self.backend.precision_reason
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if size is None:
            size = self.backend.defaults.size
        working_shape(size, size, size, self.info.size_multiple)  # validates size
        self.size: int = size
        self.batch_size = batch_size
        self._told_about_colour = False

    def __repr__(self) -> str:
        return (f"Colorizer(model={self.model_name!r}, weights='{self.weights_path}', backend={self.backend.name!r}, "
                f"device='{self.device}', size={self.size}, precision={str(self.dtype).removeprefix('torch.')})")

    # -- core -------------------------------------------------------------------------------------

    @torch.inference_mode()
    def predict_ab(self, gray: torch.Tensor, vividness: float | None = None) -> torch.Tensor:
        """Gray (N, 1, h, w) in [0, 1] at a working size the model accepts -> ab (N, 2, h', w') in Lab
        units, at the model's output resolution (h / output_stride). `vividness` overrides the
        colorizer's for this call (bins models)."""
        options = self.decode_options if vividness is None else self.mode.decode_options(vividness)
        return self.backend.predict(self.mode.input_from_gray(gray.to(self.device, torch.float32)), options)

    def colorize_gray(self, grays: Sequence[np.ndarray], vividness: float | None = None,
                      saturation: float | None = None) -> list[np.ndarray]:
        """Colorize grayscale photos.

        Each input is (H, W) float in [0, 1], read as the sRGB gray (g, g, g); each output is
        (H, W, 3) float32 sRGB in [0, 1] of the same size whose CIE L equals the input's.
        Photos sharing a working size are predicted in batches of `batch_size`. `vividness`
        (bins models; others refuse it) and `saturation` override the colorizer's for this call.
        """
        saturation = self.saturation if saturation is None else color.check_saturation(saturation)
        arrays = [self._check_gray(g, i) for i, g in enumerate(grays)]
        shapes = [working_shape(*a.shape, self.size, self.info.size_multiple) for a in arrays]
        results: list[np.ndarray | None] = [None] * len(arrays)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, s in enumerate(shapes):
            groups.setdefault(s, []).append(i)
        for members in groups.values():
            for start in range(0, len(members), self.batch_size):
                chunk = members[start:start + self.batch_size]
                _, ab = self.predict_chroma([arrays[i] for i in chunk], vividness, saturation)
                for j, i in enumerate(chunk):
                    results[i] = join_luminance(arrays[i], ab[j])
        return results  # type: ignore[return-value]

    def predict_chroma(self, grays: Sequence[np.ndarray], vividness: float | None = None,
                       saturation: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Gray photos of one size, (H, W) float32 in [0, 1], predicted together -> (their gray at the
        working size, (N, 1, h, w), and the predicted chroma, (N, 2, h', w') in Lab units at the model's
        output resolution, saturation applied), on the CPU. `join_luminance` makes a photo of each."""
        saturation = self.saturation if saturation is None else color.check_saturation(saturation)
        shape = working_shape(*grays[0].shape, self.size, self.info.size_multiple)
        small = torch.cat([resize(torch.from_numpy(g)[None, None], shape) for g in grays])
        return small, color.saturate(self.predict_ab(small, vividness).cpu(), saturation)

    def colorize_loaded(self, images: Sequence[LoadedImage], vividness: float | None = None,
                        saturation: float | None = None) -> list[np.ndarray]:
        """`colorize_gray` on loaded images (their luminance); tells the user once when a photo had colour."""
        if any(im.is_color for im in images) and not self._told_about_colour:
            self._told_about_colour = True
            first = next(im.name for im in images if im.is_color)
            warnings.warn(f"{first}: a colour photo; only its luminance is used (reported once)", UserWarning,
                          stacklevel=_outside_stacklevel())
        return self.colorize_gray([im.gray for im in images], vividness, saturation)

    def __call__(self, image: ImageInput, vividness: float | None = None,
                 saturation: float | None = None) -> Image.Image:
        """Colorize one photo (PIL image, numpy array, path or encoded bytes) -> 8-bit RGB PIL image, same
        size; `vividness` and `saturation` override the colorizer's for this call."""
        loaded = load_image(image)
        rgb = self.colorize_loaded([loaded], vividness, saturation)[0]
        return Image.fromarray(to_uint8(rgb), mode="RGB")

    @staticmethod
    def join(gray: np.ndarray, ab: torch.Tensor) -> np.ndarray:
        """The full-resolution join: gray (H, W) in [0, 1] and predicted ab (2, h, w) -> RGB (H, W, 3)
        float32 in [0, 1] with the gray's CIE L (`join_luminance`)."""
        return join_luminance(gray, ab)

    # -- video (colorizekit.infer.video; needs the `video` extra) ----------------------------------------

    def colorize_video(self, source: str | os.PathLike, output: str | os.PathLike, *, temporal: str = "flow",
                       crf: int | None = None, vividness: float | None = None, saturation: float | None = None,
                       progress: bool = True):
        """Colorize the video file `source` into `output`: same size, frame rate, frame count and duration,
        audio copied; `temporal` "flow" (consistent colour along optical flow) or "none" (frame by frame).
        Returns a `VideoResult`; see `colorizekit.infer.video.pipeline.colorize_video`."""
        from colorizekit.infer.video.files import DEFAULT_CRF
        from colorizekit.infer.video.pipeline import colorize_video

        return colorize_video(self, source, output, temporal=temporal, crf=DEFAULT_CRF if crf is None else crf,
                              vividness=vividness, saturation=saturation, progress=progress)

    @staticmethod
    def _check_gray(g: np.ndarray, index: int) -> np.ndarray:
        a = np.asarray(g)
        if a.ndim != 2:
            raise ValueError(f"gray image {index}: expected shape (H, W), got {a.shape}")
        if a.shape[0] < 1 or a.shape[1] < 1:
            raise ValueError(f"gray image {index}: image has no pixels ({a.shape[1]} x {a.shape[0]})")
        return np.ascontiguousarray(a, dtype=np.float32)


def _outside_stacklevel() -> int:
    """The `stacklevel` at which a warning raised by the function calling this names the first caller
    outside colorizekit (the user's script, not colorizekit's own lines), however deep the call came from.
    (Python 3.12's `warnings.warn(skip_file_prefixes=...)` does this; colorizekit supports 3.11.)"""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and os.path.realpath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level
