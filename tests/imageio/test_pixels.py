"""Tests for colorizekit.imageio.pixels: floats back to integers, one way everywhere."""

from __future__ import annotations

import numpy as np

from colorizekit.imageio import to_uint8
from colorizekit.imageio.pixels import to_uint16


def test_to_uint8_clips_and_rounds_to_the_nearest():
    values = np.array([-0.5, 0.0, 0.4 / 255, 0.6 / 255, 0.5, 1.0, 1.7], dtype=np.float32)
    assert to_uint8(values).tolist() == [0, 0, 0, 1, 128, 255, 255]
    assert to_uint8(np.zeros((2, 3, 3))).dtype == np.uint8


def test_to_uint16_keeps_every_step():
    steps = np.arange(65536, dtype=np.float64) / 65535
    assert np.array_equal(to_uint16(steps), np.arange(65536, dtype=np.uint16))
