"""Colour: CIE Lab conversions and the design's normalisation (`lab`), colour as a distribution over
ab bins (`bins`), and the join of predicted chroma with a photo's own luminance (`join`).

`colorizekit.color` re-exports `lab`'s names, so `color.rgb_to_lab(...)` reads as before. This
package imports nothing else of colorizekit's.
"""

from colorizekit.color.lab import (
    AB_NORM,
    D65_WHITE,
    DEFAULT_SATURATION,
    GRAY_WEIGHTS,
    LAB_EPSILON,
    LAB_KAPPA_SLOPE,
    LAB_OFFSET,
    L_CENTER,
    L_NORM,
    MAX_SATURATION,
    SATURATION_RANGE,
    SRGB_ENCODED_THRESHOLD,
    SRGB_GAMMA,
    SRGB_LINEAR_SLOPE,
    SRGB_LINEAR_THRESHOLD,
    SRGB_OFFSET,
    XYZ_FROM_RGB,
    check_saturation,
    denormalize_ab,
    denormalize_l,
    gray_to_l,
    l_to_gray,
    lab_to_rgb,
    linear_to_srgb,
    normalize_ab,
    normalize_l,
    rgb_to_gray,
    rgb_to_lab,
    saturate,
    saturate_rgb,
    srgb_to_linear,
)
