"""Pinhole intrinsics from an image size and a horizontal field of view."""

from __future__ import annotations

import math

import numpy as np


def make_intrinsics(width: int, height: int, fov_deg: float) -> np.ndarray:
    """(3, 3) OpenCV intrinsics K for a ``width`` x ``height`` image, square pixels.

    ``fov_deg`` is the horizontal field of view in degrees, measured between the outer edges of
    the image (u = -0.5 and u = width - 0.5, pixel centres at integers), so
    fx = fy = (width / 2) / tan(fov / 2) and the principal point is the image centre
    ((width - 1) / 2, (height - 1) / 2).
    """
    if not (isinstance(width, (int, np.integer)) and isinstance(height, (int, np.integer))) or width <= 0 or height <= 0:
        raise ValueError(f"make_intrinsics: width and height must be positive integers, got {width!r}, {height!r}")
    if not (0.0 < float(fov_deg) < 180.0):
        raise ValueError(f"make_intrinsics: fov_deg must be in (0, 180) degrees, got {fov_deg!r}")
    return intrinsics_unchecked(width, height, fov_deg)


def intrinsics_unchecked(width: int, height: int, fov_deg: float) -> np.ndarray:
    """:func:`make_intrinsics` without the argument checks, for callers that validated them once."""
    f = (width / 2.0) / math.tan(math.radians(float(fov_deg)) / 2.0)
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def vertical_fov_deg(K: np.ndarray, height: int) -> float:
    """Vertical field of view in degrees of intrinsics ``K`` for an image ``height`` pixels tall."""
    return math.degrees(2.0 * math.atan((height / 2.0) / float(np.asarray(K)[1, 1])))
