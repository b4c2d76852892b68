"""Temporal consistency: histogram distance, optical flow, reliability, propagation and cuts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from colorizekit.infer.video.temporal import (
    FlowEstimator,
    Propagator,
    TemporalConfig,
    flow_reliability,
    histogram_distance,
    to_uint8_gray,
    warp,
)


def _gray(rgb: np.ndarray) -> np.ndarray:
    return to_uint8_gray(rgb.astype(np.float32).mean(axis=2) / 255)


def test_histogram_distance_bounds(photos):
    a, b = _gray(photos[0]), _gray(photos[2])
    assert histogram_distance(a, a) == pytest.approx(0, abs=1e-6)
    assert histogram_distance(np.zeros((8, 8), np.uint8), np.full((8, 8), 255, np.uint8)) == pytest.approx(1)
    assert 0 < histogram_distance(a, b) == pytest.approx(histogram_distance(b, a))


def test_flow_follows_a_shift_and_flags_the_uncovered_edge(photos):
    frame = _gray(photos[1])[40:136, 40:200]
    moved = _gray(photos[1])[40:136, 43:203]  # the camera moved 3 px right: content moves 3 px left
    flow = FlowEstimator("medium")
    backward, forward = flow(moved, frame), flow(frame, moved)
    inner = (slice(10, -10), slice(10, -10))
    assert np.median(backward[inner][..., 0]) == pytest.approx(3, abs=0.3)
    assert np.abs(warp(frame, backward)[inner].astype(int) - moved[inner]).mean() < 3
    trust = flow_reliability(backward, forward, moved, frame)
    assert trust[inner].mean() > 0.7
    assert trust[:, -2:].mean() < 0.3  # columns that were outside the previous frame


def test_propagation_smooths_jitter_and_resets_at_cuts(photos):
    rng = np.random.default_rng(0)
    still = _gray(photos[1])[:64, :96]
    other = _gray(photos[3])[:64, :96]
    propagator = Propagator(TemporalConfig(method="flow"))
    truth = torch.full((2, 64, 96), 20.0)
    outputs, cuts = [], []
    for t in range(12):
        gray = still if t < 8 else other
        prediction = truth + torch.from_numpy(rng.normal(0, 5, (2, 64, 96)).astype(np.float32))
        out, cut = propagator.step(gray, prediction)
        outputs.append((out, prediction))
        cuts.append(cut)
    assert cuts == [True] + [False] * 7 + [True] + [False] * 3
    assert propagator.cuts == [0, 8]
    torch.testing.assert_close(outputs[8][0], outputs[8][1])  # a cut starts from the new prediction
    jitter_out = torch.stack([o for o, _ in outputs[1:8]]).diff(dim=0).abs().mean()
    jitter_in = torch.stack([p for _, p in outputs[1:8]]).diff(dim=0).abs().mean()
    assert jitter_out < 0.4 * jitter_in


def test_frame_by_frame_passes_predictions_through(photos):
    propagator = Propagator(TemporalConfig(method="none"))
    prediction = torch.randn(2, 8, 8)
    out, cut = propagator.step(_gray(photos[0])[:8, :8], prediction)
    assert out is prediction and cut


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "median"}, "unknown temporal method 'median'; expected one of flow, none"),
    ({"blend": 1.0}, "blend must be in"),
    ({"flow_tolerance": 0}, "tolerances must be positive"),
    ({"cut_threshold": 0}, "cut_threshold must be in"),
])
def test_config_refuses_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TemporalConfig(**kwargs)
