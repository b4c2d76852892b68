"""Temporal consistency: the colour of a point follows it along the optical flow, and starts afresh
at a scene cut.

Method (at the working resolution, on the frames' gray as the model sees it):
1. Dense optical flow between consecutive frames with OpenCV's DIS (Kroeger et al. 2016), both
   ways: `backward` maps each pixel of frame t to where it was in frame t-1, `forward` the reverse.
2. Reliability per pixel, in [0, 1]: 1 - (forward-backward error / FLOW_TOLERANCE px), times
   1 - (|gray_t - warped gray_t-1| / MATCH_TOLERANCE), clipped at 0, and 0 where the flow leaves
   the frame. Occluded and newly uncovered pixels fail the round trip; lighting changes and
   flow errors fail the match.
3. The previous frame's output chroma (CIE ab) is warped onto frame t and blended with the new
   prediction: ab_t = pred_t + blend x reliability x (warped ab_t-1 - pred_t). Where the flow is
   reliable the colour is an exponential moving average of the predictions along the point's
   trajectory (blend 0.9: a half-life of 6.6 frames; for independent frame-to-frame jitter it
   cuts the frame-to-frame change to sqrt(0.1 / 1.9) = 0.23), elsewhere the new prediction. The
   blend and FLOW_TOLERANCE were chosen with `benchmarks/video_temporal.py --blends` (README):
   from 0.5 to 0.95 the warped |Δab| falls steadily while the per-frame ΔE00 against the
   originals does not rise, and 2 px propagates more than 1 px at no cost in ΔE00; 0.9 keeps a
   model's change of mind from taking more than about a third of a second to show at 25 fps.
4. Scene cuts: frame t starts a new shot, and is colorized on its own, where the gray histograms
   of frames t-1 and t differ by more than CUT_THRESHOLD (Hellinger distance of 32-bin
   histograms, `histogram_distance`), or where the flow explains less than CUT_RELIABILITY of
   frame t (mean reliability). Measured by `benchmarks/video_temporal.py --cuts` on clips made
   from the 24 kodak24 photos (320 x 180, working size 128, noise 3): within shots (pans, tilts,
   zooms; 2,208 frame pairs) the histogram distance is at most 0.104 and the mean reliability at
   least 0.35; at the 552 cuts between two of the photos the distance is at least 0.128 and the
   reliability at most 0.035. Either test alone separates them (the histogram one only just:
   0.11 to 0.12 make no error); the reliability test holds with a wide margin, and catches cuts
   between shots of similar tones that histograms cannot tell apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

TEMPORAL_METHODS = ("flow", "none")  # flow: propagate along optical flow; none: frame by frame
DEFAULT_TEMPORAL = "flow"
BLEND = 0.9  # weight of the propagated colour where the flow is fully reliable
FLOW_TOLERANCE = 2.0  # forward-backward error (working-resolution pixels) at which a pixel's reliability is 0
MATCH_TOLERANCE = 0.1  # |gray difference| (0..1) after warping at which a pixel's reliability is 0
CUT_THRESHOLD = 0.12  # Hellinger distance of consecutive frames' gray histograms above which a new shot starts
CUT_RELIABILITY = 0.1  # mean flow reliability below which a new shot starts (method "flow")
HISTOGRAM_BINS = 32


@dataclass(frozen=True)
class TemporalConfig:
    """How colour is kept consistent from frame to frame (see the module docstring)."""

    method: str = DEFAULT_TEMPORAL  # one of TEMPORAL_METHODS
    blend: float = BLEND  # weight of the propagated colour where the flow is fully reliable, [0, 1)
    flow_tolerance: float = FLOW_TOLERANCE  # px at the working resolution
    match_tolerance: float = MATCH_TOLERANCE  # gray units, 0..1
    cut_threshold: float = CUT_THRESHOLD  # histogram distance starting a new shot, (0, 1]
    cut_reliability: float = CUT_RELIABILITY  # mean reliability below which a new shot starts, [0, 1)

    def __post_init__(self) -> None:
        if self.method not in TEMPORAL_METHODS:
            raise ValueError(f"unknown temporal method {self.method!r}; expected one of {', '.join(TEMPORAL_METHODS)}")
        if not 0 <= self.blend < 1:
            raise ValueError(f"blend must be in [0, 1), got {self.blend}")
        if self.flow_tolerance <= 0 or self.match_tolerance <= 0:
            raise ValueError(f"tolerances must be positive, got {self.flow_tolerance} and {self.match_tolerance}")
        if not 0 < self.cut_threshold <= 1 or not 0 <= self.cut_reliability < 1:
            raise ValueError(f"cut_threshold must be in (0, 1] and cut_reliability in [0, 1), got "
                             f"{self.cut_threshold} and {self.cut_reliability}")


def to_uint8_gray(gray: np.ndarray) -> np.ndarray:
    """(h, w) float gray in [0, 1] -> uint8, as the flow and histograms take it."""
    return np.clip(np.rint(gray * 255), 0, 255).astype(np.uint8)


def histogram_distance(a: np.ndarray, b: np.ndarray, bins: int = HISTOGRAM_BINS) -> float:
    """Hellinger distance sqrt(1 - sum sqrt(p q)) of two uint8 gray images' `bins`-bin histograms:
    0 for equal histograms, 1 for disjoint ones."""
    p, q = (np.bincount((x.ravel().astype(np.int64) * bins) >> 8, minlength=bins) for x in (a, b))
    coefficient = float(np.sqrt(p / p.sum() * q / q.sum()).sum())
    return float(np.sqrt(max(0.0, 1.0 - coefficient)))


class FlowEstimator:
    """DIS optical flow (OpenCV) between uint8 gray images; `preset` is "fast" or "medium"."""

    def __init__(self, preset: str = "fast") -> None:
        import cv2

        presets = {"fast": cv2.DISOPTICAL_FLOW_PRESET_FAST, "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
        if preset not in presets:
            raise ValueError(f"unknown DIS preset {preset!r}; expected one of {', '.join(presets)}")
        self._dis = cv2.DISOpticalFlow_create(presets[preset])

    def __call__(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Flow (h, w, 2) float32, (dx, dy) per pixel of `source`: where it is in `target`."""
        return self._dis.calc(np.ascontiguousarray(source), np.ascontiguousarray(target), None)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """`image` (h, w) or (h, w, C) sampled at each pixel x at x + flow(x), bilinear, edges replicated."""
    import cv2

    h, w = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def flow_reliability(backward: np.ndarray, forward: np.ndarray, gray: np.ndarray, previous: np.ndarray,
                     flow_tolerance: float = FLOW_TOLERANCE,
                     match_tolerance: float = MATCH_TOLERANCE) -> np.ndarray:
    """Per pixel of frame t, in [0, 1]: how far to trust `backward` (t -> t-1) given `forward`
    (t-1 -> t), the frames' uint8 grays `gray` (t) and `previous` (t-1). See the module docstring."""
    h, w = gray.shape
    round_trip = backward + warp(forward, backward)  # ~0 where the two flows agree
    error = np.hypot(round_trip[..., 0], round_trip[..., 1])
    trust = np.clip(1 - error / flow_tolerance, 0, 1)
    mismatch = np.abs(gray.astype(np.float32) - warp(previous, backward).astype(np.float32)) / 255
    trust *= np.clip(1 - mismatch / match_tolerance, 0, 1)
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    x, y = grid_x + backward[..., 0], grid_y + backward[..., 1]
    trust[(x < 0) | (x > w - 1) | (y < 0) | (y > h - 1)] = 0
    return trust.astype(np.float32)


class Propagator:
    """Carries colour from frame to frame (`TemporalConfig.method` "flow") or not ("none").

    `step(gray, ab)` takes frame t's gray at the working resolution ((h, w) uint8) and the model's
    ab for it ((2, h, w) float, Lab units) and returns the ab to use and whether frame t starts a
    new shot. The first frame starts one; `cuts` lists the frames that did.
    """

    def __init__(self, config: TemporalConfig = TemporalConfig()) -> None:
        self.config = config
        self._flow = FlowEstimator("fast") if config.method == "flow" else None
        self._gray: np.ndarray | None = None
        self._ab: np.ndarray | None = None  # (h, w, 2) float32: the previous output
        self.frame = 0
        self.cuts: list[int] = []
        self.last_reliability: float | None = None  # mean reliability of the last frame (None at a cut)

    def step(self, gray: np.ndarray, ab: torch.Tensor) -> tuple[torch.Tensor, bool]:
        cfg = self.config
        cut = self._gray is None or histogram_distance(self._gray, gray) > cfg.cut_threshold
        out = ab
        self.last_reliability = None
        if self._flow is not None:
            result = ab.float().permute(1, 2, 0).numpy()  # (h, w, 2): the prediction
            if not cut:
                backward, forward = self._flow(gray, self._gray), self._flow(self._gray, gray)
                trust = flow_reliability(backward, forward, gray, self._gray, cfg.flow_tolerance, cfg.match_tolerance)
                self.last_reliability = float(trust.mean())
                cut = self.last_reliability < cfg.cut_reliability
                if not cut:
                    result = result + (cfg.blend * trust)[..., None] * (warp(self._ab, backward) - result)
            self._ab = np.ascontiguousarray(result, dtype=np.float32)
            out = torch.from_numpy(self._ab).permute(2, 0, 1)
        if cut:
            self.cuts.append(self.frame)
        self._gray = gray
        self.frame += 1
        return out, cut
