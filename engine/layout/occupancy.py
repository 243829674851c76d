"""Footprint bookkeeping for placement: what is placed, and whether a new box fits.

Boxes are gravity-aligned: a footprint (4 corners in world x, y metres, counter-clockwise) plus
a z-interval [z_lo, z_hi]. Two boxes conflict when their z-intervals overlap with positive
length AND their footprints are closer than the pair's required gap (a gap > 0, so a conflict
includes every positive-area overlap). Gaps come from a class-by-class table, with one
override for members of the same furniture group (a table and its chairs). Candidates are
screened with a numpy AABB distance (a lower bound of the polygon distance) before the exact
shapely polygon distance.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

# Placement classes (rows/columns of the gap table).
FREE, WALL_FURNITURE, WALL_OBJECT, SMALL, DOOR, PRIMITIVE = range(6)
N_CLASSES = 6
TOL = 1e-9  # metres; slack for corners computed with cos/sin on a wall line


def rect_corners(cx: float, cy: float, hx: float, hy: float, yaw: float) -> np.ndarray:
    """(4, 2) world corners of a rectangle centred at (cx, cy) with half extents (hx, hy) along
    its local x, y axes, rotated by ``yaw`` rad; order (-,-), (+,-), (+,+), (-,+) in local signs
    (counter-clockwise, the order of ``OrientedBox.footprint``)."""
    c, s = math.cos(yaw), math.sin(yaw)
    ax, ay = hx * c, hx * s  # local +x half axis in world
    bx, by = -hy * s, hy * c  # local +y half axis in world
    return np.array([
        [cx - ax - bx, cy - ay - by],
        [cx + ax - bx, cy + ay - by],
        [cx + ax + bx, cy + ay + by],
        [cx - ax + bx, cy - ay + by],
    ])


def rotated_half_extent(hx: float, hy: float, rel_yaw: float) -> tuple[float, float]:
    """Half extents (ex, ey) along a frame's axes of a rectangle (hx, hy) turned by ``rel_yaw``."""
    c, s = abs(math.cos(rel_yaw)), abs(math.sin(rel_yaw))
    return hx * c + hy * s, hx * s + hy * c


class Occupancy:
    """Placed footprints with their z-intervals, classes and groups; checks new candidates.

    Args:
        gap_table: (N_CLASSES, N_CLASSES) required footprint gap in metres per class pair.
        group_gap: gap (m) between members of the same furniture group (group id >= 0).
        half_x, half_y: the floor spans x in [-half_x, half_x], y in [-half_y, half_y].
        ceiling: highest allowed box top (m), or None for no limit.
    """

    def __init__(self, gap_table: np.ndarray, group_gap: float, half_x: float, half_y: float,
                 ceiling: float | None, capacity: int = 64):
        self.gap_table = np.asarray(gap_table, dtype=float)
        self.group_gap = float(group_gap)
        self.half_x, self.half_y = float(half_x), float(half_y)
        self.ceiling = ceiling
        self.n = 0
        self.aabb = np.empty((capacity, 4))  # xmin, ymin, xmax, ymax
        self.z = np.empty((capacity, 2))
        self.cls = np.empty(capacity, dtype=np.int64)
        self.group = np.empty(capacity, dtype=np.int64)
        self.polys = np.empty(capacity, dtype=object)

    def _grow(self) -> None:
        cap = 2 * len(self.cls)
        for name in ("aabb", "z", "cls", "group", "polys"):
            old = getattr(self, name)
            new = np.empty((cap,) + old.shape[1:], dtype=old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)

    def check(self, corners: np.ndarray, z_lo: float, z_hi: float, cls: int, group: int = -1,
              inside: bool = True) -> str | None:
        """None when the candidate fits, else the rejection reason.

        Reasons: ``outside_room`` (a corner beyond the floor rectangle), ``ceiling`` (top above
        the ceiling), ``doorway`` (blocks the door zone), ``overlap`` (footprints intersect where
        the z-intervals overlap), ``clearance`` (closer than the pair's gap).
        """
        if inside and (np.abs(corners[:, 0]).max() > self.half_x + TOL or np.abs(corners[:, 1]).max() > self.half_y + TOL):
            return "outside_room"
        if self.ceiling is not None and z_hi > self.ceiling:
            return "ceiling"
        n = self.n
        if n == 0:
            return None
        lo = corners.min(axis=0)
        hi = corners.max(axis=0)
        z = self.z[:n]
        zover = (np.minimum(z[:, 1], z_hi) - np.maximum(z[:, 0], z_lo)) > 0.0
        if not zover.any():
            return None
        gaps = self.gap_table[cls, self.cls[:n]]
        if group >= 0:
            gaps = np.where(self.group[:n] == group, self.group_gap, gaps)
        box = self.aabb[:n]
        dx = np.maximum(np.maximum(box[:, 0] - hi[0], lo[0] - box[:, 2]), 0.0)
        dy = np.maximum(np.maximum(box[:, 1] - hi[1], lo[1] - box[:, 3]), 0.0)
        near = zover & (dx * dx + dy * dy < gaps * gaps)
        if not near.any():
            return None
        idx = np.flatnonzero(near)
        dist = shapely.distance(shapely.polygons(corners), self.polys[idx])  # polygons(): no per-call wrapper overhead
        bad = dist < gaps[idx]
        if not bad.any():
            return None
        hit = idx[bad]
        if (self.cls[hit] == DOOR).any():
            return "doorway"
        return "overlap" if (dist[bad] <= 0.0).any() else "clearance"

    def add(self, corners: np.ndarray, z_lo: float, z_hi: float, cls: int, group: int = -1) -> int:
        """Record a placed footprint; returns its slot index."""
        if self.n == len(self.cls):
            self._grow()
        i = self.n
        self.aabb[i, :2] = corners.min(axis=0)
        self.aabb[i, 2:] = corners.max(axis=0)
        self.z[i] = (z_lo, z_hi)
        self.cls[i] = cls
        self.group[i] = group
        self.polys[i] = shapely.polygons(corners)
        self.n += 1
        return i
