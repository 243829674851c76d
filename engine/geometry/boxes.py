"""Oriented 3D boxes and closest-point distances.

A box is ``center`` (3,), ``size`` (3,) full extents along its local axes, and ``rotation``
(3x3, local to world). Objects sampled by the engine are gravity-aligned (rotation about +Z
only, angle ``yaw``); an object with a front faces along its local +X axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.optimize import lsq_linear
from shapely.geometry import Polygon

from engine.geometry.transforms import yaw_rotation

# Local corner signs, in a fixed order: index bits (x, y, z) with bit set meaning "+".
_CORNER_SIGNS = np.array([[(i >> 2) & 1, (i >> 1) & 1, i & 1] for i in range(8)], dtype=float) * 2 - 1


@dataclass(frozen=True, eq=False)
class OrientedBox:
    """An oriented box in world metres.

    Attributes:
        center: (3,) world position of the box centre.
        size: (3,) full extents along the local x, y, z axes (all > 0).
        rotation: (3, 3) local-to-world rotation; column i is local axis i in world.
    """

    center: np.ndarray
    size: np.ndarray
    rotation: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "center", np.asarray(self.center, dtype=float).reshape(3))
        object.__setattr__(self, "size", np.asarray(self.size, dtype=float).reshape(3))
        object.__setattr__(self, "rotation", np.asarray(self.rotation, dtype=float).reshape(3, 3))
        if np.any(self.size <= 0):
            raise ValueError(f"OrientedBox.size must be positive, got {self.size.tolist()}")

    @classmethod
    def from_yaw(cls, center, size, yaw: float) -> "OrientedBox":
        """Gravity-aligned box rotated by ``yaw`` radians about +Z."""
        return cls(center, size, yaw_rotation(yaw))

    @property
    def half(self) -> np.ndarray:
        """(3,) half extents."""
        return self.size / 2.0

    @cached_property
    def corners(self) -> np.ndarray:
        """(8, 3) world corners; corner i has local sign bits (x, y, z) = bits 2, 1, 0 of i."""
        return boxes_corners(self.center[None], self.size[None], self.rotation[None])[0]

    @property
    def is_gravity_aligned(self) -> bool:
        """True when the local z axis is world +Z (rotation about +Z only)."""
        return bool(np.allclose(self.rotation[:, 2], [0, 0, 1], atol=1e-9) and np.allclose(self.rotation[2, :2], 0, atol=1e-9))

    @property
    def z_range(self) -> tuple[float, float]:
        """(z_min, z_max) of the box in world metres."""
        zs = self.corners[:, 2]
        return float(zs.min()), float(zs.max())

    @property
    def volume(self) -> float:
        """Volume in cubic metres."""
        return float(np.prod(self.size))

    def to_local(self, points: np.ndarray) -> np.ndarray:
        """World points (N, 3) to the box's local frame (N, 3), origin at the centre."""
        return (np.asarray(points, dtype=float) - self.center) @ self.rotation

    def contains(self, points: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        """Boolean (N,) mask: which world points (N, 3) lie inside or on the box (within ``tol`` m)."""
        local = self.to_local(np.atleast_2d(points))
        return np.all(np.abs(local) <= self.half + tol, axis=1)

    def closest_point(self, point: np.ndarray) -> np.ndarray:
        """Closest point (3,) of the solid box to a world point (3,)."""
        local = np.clip(self.to_local(np.asarray(point, dtype=float)[None])[0], -self.half, self.half)
        return self.center + self.rotation @ local

    def footprint(self) -> Polygon:
        """The box's shadow on the floor plane: a shapely Polygon in world x, y (metres)."""
        if self.is_gravity_aligned:
            # Bottom corners (z bit clear) in counter-clockwise order.
            ring = self.corners[[0, 4, 6, 2], :2]
            return Polygon(ring)
        from shapely import MultiPoint

        return MultiPoint(self.corners[:, :2]).convex_hull


def boxes_corners(centers: np.ndarray, sizes: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """(N, 8, 3) world corners of N boxes, ordered as :attr:`OrientedBox.corners`.

    Args:
        centers: (N, 3) world metres. sizes: (N, 3) full extents, metres.
        rotations: (N, 3, 3) local-to-world rotations.
    """
    c, h, R = (np.asarray(a, dtype=float) for a in (centers, sizes, rotations))
    return c[:, None, :] + (_CORNER_SIGNS[None] * (h / 2.0)[:, None, :]) @ np.swapaxes(R, 1, 2)


def boxes_point_distance(centers: np.ndarray, sizes: np.ndarray, rotations: np.ndarray, point: np.ndarray) -> np.ndarray:
    """(N,) distances (m) from a world point (3,) to the closest points of N solid boxes (0 inside);
    arrays as in :func:`boxes_corners`. The batched form of :func:`box_point_distance`, with its
    arithmetic per box (``to_local``, clip, ``closest_point``, norm as a dot product and square
    root; numpy runs a stacked matmul slice by slice), so the results agree bit for bit."""
    c, R = np.asarray(centers, dtype=float), np.asarray(rotations, dtype=float)
    half = np.asarray(sizes, dtype=float) / 2.0
    p = np.asarray(point, dtype=float)
    local = ((p[None] - c)[:, None, :] @ R)[:, 0, :]  # box.to_local(point[None])[0]
    local = np.minimum(np.maximum(local, -half), half)  # np.clip(local, -half, half)
    d = p - (c + (R @ local[:, :, None])[:, :, 0])  # point - box.closest_point(point)
    return np.sqrt((d[:, None, :] @ d[:, :, None]).reshape(len(c)))


def box_point_distance(box: OrientedBox, point: np.ndarray) -> float:
    """Distance (m) from a world point (3,) to the closest point of the solid box; 0 inside."""
    return float(np.linalg.norm(np.asarray(point, dtype=float) - box.closest_point(point)))


def interval_gap(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Gap between closed intervals a=(lo, hi) and b=(lo, hi); 0 when they overlap or touch."""
    return max(0.0, a[0] - b[1], b[0] - a[1])


def box_box_distance(a: OrientedBox, b: OrientedBox) -> float:
    """Closest-point distance (m) between two solid boxes; 0 when they touch or overlap.

    Gravity-aligned boxes are prisms (footprint x z-interval), and the distance between two
    prisms is sqrt(d_xy^2 + d_z^2) with d_xy the footprint polygon distance and d_z the gap of
    the z-intervals (the Minkowski difference of prisms is a prism). Other boxes fall back to
    :func:`box_box_distance_lsq`.
    """
    if a.is_gravity_aligned and b.is_gravity_aligned:
        dxy = a.footprint().distance(b.footprint())
        dz = interval_gap(a.z_range, b.z_range)
        return float(np.hypot(dxy, dz))
    return box_box_distance_lsq(a, b)


def box_box_distance_lsq(a: OrientedBox, b: OrientedBox) -> float:
    """Closest-point distance via bounded least squares (works for any orientation).

    Minimises |(c_a + R_a u) - (c_b + R_b v)| over |u| <= h_a, |v| <= h_b, a convex problem
    solved exactly by scipy's BVLS. Used as the general path and as an independent check.
    """
    A = np.hstack([a.rotation, -b.rotation])
    rhs = b.center - a.center
    lo = np.concatenate([-a.half, -b.half])
    hi = np.concatenate([a.half, b.half])
    res = lsq_linear(A, rhs, bounds=(lo, hi), method="bvls", tol=1e-12)
    return float(np.linalg.norm(A @ res.x - rhs))
