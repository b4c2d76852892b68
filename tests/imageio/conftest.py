"""Fixtures for the imageio tests."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import synthetic_rgb


@pytest.fixture
def rgb8() -> np.ndarray:
    return synthetic_rgb(12, 16)
