"""The page's colour maths (src/colorizekit/web/page/static/colour.js), run in Node.js on the same inputs as
colorizekit's Python functions: the bins decoding, the resizes of colorize.py, Lab -> sRGB and the gray of
a colour pixel must agree. Skipped where `node` is not installed (the browser test runs the same code)."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from colorizekit import color
from colorizekit.color import bins
from colorizekit.color.join import resize
from colorizekit.infer.colorizer import working_shape
from colorizekit.web.page.build import STATIC_DIR
from colorizekit.web.page.constants import colour_constants

NODE = shutil.which("node")
SHAPES = [[322, 484, 128, 32], [64, 80, 64, 32]]  # (height, width, size, multiple); 80 / 32 = 2.5 rounds to even
pytestmark = pytest.mark.skipif(NODE is None, reason="needs Node.js (apt-get install nodejs) to run the page's JS")

_RUNNER = """
import * as c from %s;
let text = "";
for await (const chunk of process.stdin) text += chunk;
const job = JSON.parse(text), out = {};
const f32 = (a) => Float32Array.from(a);
const maths = c.colourMaths(job.constants);
if (job.logits) {
  const {centres, chroma_tilt, max_chroma_gain} = job.constants.bins, n = job.n, logits = f32(job.logits);
  const moments = c.binsMoments(logits, centres, n);
  out.decoded = job.vividness.map((v) => Array.from(
    c.decodeBins(logits, moments, n, v, job.saturation, chroma_tilt, max_chroma_gain)));
}
out.resized = Array.from(c.resize(f32(job.plane), ...job.from, ...job.to));
out.upsampled = Array.from(c.upsample(f32(job.plane), ...job.from, ...job.up));
const rgba = new Uint8ClampedArray(job.lab[0].length * 4);
maths.labToRgba(f32(job.lab[0]), f32(job.lab[1]), f32(job.lab[2]), rgba);
out.rgb = Array.from(rgba);
const [gray, lum] = maths.grayAndL(Uint8ClampedArray.from(job.rgba));
out.gray = Array.from(gray);
out.lum = Array.from(lum);
out.input = Array.from(maths.modelInput(gray));
out.shapes = job.shapes.map((s) => c.workingShape(...s));
console.log(JSON.stringify(out));
"""


def _run_js(job: dict) -> dict:
    script = _RUNNER % json.dumps((STATIC_DIR / "colour.js").as_uri())
    done = subprocess.run([NODE, "--input-type=module", "-e", script], input=json.dumps(job), capture_output=True,
                          text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def test_colour_js_agrees_with_python():
    rng = np.random.default_rng(0)
    q, h, w = bins.num_bins(), 3, 4
    logits = torch.from_numpy(rng.normal(0, 3, (1, q, h, w)).astype(np.float32))
    plane = torch.from_numpy(rng.uniform(0, 1, (1, 1, 9, 14)).astype(np.float32))
    lab = torch.stack([torch.linspace(0, 100, 50), torch.linspace(-90, 90, 50), torch.linspace(80, -100, 50)])
    rgba = rng.integers(0, 256, (40, 4), dtype=np.uint8)
    rgba[:10, 1] = rgba[:10, 2] = rgba[:10, 0]  # gray pixels too
    constants = {**colour_constants(), "input": {"input_from": "L", "center": 50.0, "scale": 100.0},
                 "bins": {"centres": bins.ab_bins().tolist(), "chroma_tilt": bins.CHROMA_TILT,
                          "max_chroma_gain": bins.MAX_CHROMA_GAIN}}
    vividness = [0.0, 0.3, 1.0]
    out = _run_js({"constants": constants, "logits": logits.flatten().tolist(), "n": h * w, "vividness": vividness,
                   "saturation": 1.5, "plane": plane.flatten().tolist(), "from": [9, 14], "to": [5, 6],
                   "up": [20, 31], "lab": lab.tolist(), "rgba": rgba.flatten().tolist(), "shapes": SHAPES})
    for v, decoded in zip(vividness, out["decoded"]):
        expected = bins.decode_bins(logits, v)[0] * 1.5
        assert np.allclose(np.array(decoded).reshape(2, h, w), expected.numpy(), atol=1e-3), v
    assert np.allclose(out["resized"], resize(plane, (5, 6)).flatten().numpy(), atol=1e-5)  # antialiased
    up = F.interpolate(plane, size=(20, 31), mode="bilinear", align_corners=False)
    assert np.allclose(out["upsampled"], up.flatten().numpy(), atol=1e-5)
    rgb = (color.lab_to_rgb(lab[:, :, None])[:, :, 0].T * 255).numpy()
    assert np.abs(np.array(out["rgb"]).reshape(-1, 4)[:, :3] - rgb).max() <= 0.5 + 1e-3
    pixels = torch.from_numpy(rgba[:, :3].T.astype(np.float32) / 255)[:, :, None]  # (3, 40, 1)
    lum = color.rgb_to_lab(pixels)[0, :, 0]
    assert np.allclose(out["lum"], lum.numpy(), atol=1e-3)
    assert np.allclose(out["gray"], color.l_to_gray(lum[None, :, None])[0, :, 0].numpy(), atol=1e-5)
    assert np.allclose(out["gray"][:10], rgba[:10, 0] / 255, atol=1e-5)  # a gray pixel's gray is itself
    assert np.allclose(out["input"], color.normalize_l(lum).numpy(), atol=1e-4)
    assert out["shapes"] == [list(working_shape(*shape)) for shape in SHAPES]
