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

from engine.geometry.geos import distances, polygon

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

    Placed boxes are kept as plain float tuples and tested one by one in float arithmetic (the
    elementwise operations a numpy formulation would apply, so the same verdicts), which beats
    array calls for the few dozen boxes of a scene; footprints that pass the AABB screen go to
    one vectorised shapely distance call.
    """

    def __init__(self, gap_table: np.ndarray, group_gap: float, half_x: float, half_y: float,
                 ceiling: float | None, capacity: int = 64):
        self.gap_table = np.asarray(gap_table, dtype=float)
        self._gap_rows = self.gap_table.tolist()
        self.group_gap = float(group_gap)
        self.half_x, self.half_y = float(half_x), float(half_y)
        self.ceiling = ceiling
        self.n = 0
        # per placed box: (xmin, ymin, xmax, ymax, z_lo, z_hi, class, group)
        self._boxes: list[tuple[float, float, float, float, float, float, int, int]] = []
        self._polys: list = []  # shapely footprint per box, made on first use
        self._corners: list[list[list[float]]] = []  # per box: its corners, as added
        self._last: tuple[np.ndarray, object] | None = None  # (corners, polygon) of the last check

    def check(self, corners: np.ndarray, z_lo: float, z_hi: float, cls: int, group: int = -1,
              inside: bool = True) -> str | None:
        """None when the candidate fits, else the rejection reason.

        Args:
            corners: (4, 2) footprint corners (world x, y metres, counter-clockwise).
            z_lo, z_hi: the box's z-interval (m). cls: placement class. group: furniture group
                (-1: none). inside: require the footprint inside the floor rectangle.

        Reasons: ``outside_room`` (a corner beyond the floor rectangle), ``ceiling`` (top above
        the ceiling), ``doorway`` (blocks the door zone), ``overlap`` (footprints intersect where
        the z-intervals overlap), ``clearance`` (closer than the pair's gap).
        """
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = corners.tolist()
        if inside and (max(abs(x0), abs(x1), abs(x2), abs(x3)) > self.half_x + TOL or
                       max(abs(y0), abs(y1), abs(y2), abs(y3)) > self.half_y + TOL):
            return "outside_room"
        if self.ceiling is not None and z_hi > self.ceiling:
            return "ceiling"
        if self.n == 0:
            return None
        lo_x, lo_y, hi_x, hi_y = min(x0, x1, x2, x3), min(y0, y1, y2, y3), max(x0, x1, x2, x3), max(y0, y1, y2, y3)
        gap_row, group_gap = self._gap_rows[cls], self.group_gap
        near, gaps = [], []
        for j, (bx0, by0, bx1, by1, zl, zh, cj, gj) in enumerate(self._boxes):
            # z-intervals overlap: min(z_hi) - max(z_lo) > 0 (conditionals: cheaper than min/max calls)
            if not (zh if zh < z_hi else z_hi) - (zl if zl > z_lo else z_lo) > 0.0:
                continue
            gap = group_gap if group >= 0 and gj == group else gap_row[cj]
            # AABB distance, a lower bound of the footprints': dx = max(bx0 - hi_x, lo_x - bx1, 0)
            dx = bx0 - hi_x if bx0 - hi_x > lo_x - bx1 else lo_x - bx1
            dy = by0 - hi_y if by0 - hi_y > lo_y - by1 else lo_y - by1
            if dx <= 0.0:
                dx = 0.0
            if dy <= 0.0:
                dy = 0.0
            if dx * dx + dy * dy < gap * gap:
                near.append(j)
                gaps.append(gap)
        if not near:
            return None
        poly = polygon(corners)
        self._last = (corners, poly)
        polys = self._polys
        for j in near:  # footprints become polygons when first needed
            if polys[j] is None:
                polys[j] = polygon(np.array(self._corners[j]))
        dist = distances(poly, [polys[j] for j in near]).tolist()
        bad = [(j, d) for j, d, gap in zip(near, dist, gaps) if d < gap]
        if not bad:
            return None
        if any(self._boxes[j][6] == DOOR for j, _ in bad):
            return "doorway"
        return "overlap" if any(d <= 0.0 for _, d in bad) else "clearance"

    def add(self, corners: np.ndarray, z_lo: float, z_hi: float, cls: int, group: int = -1) -> int:
        """Record a placed footprint ((4, 2) corners, z-interval, class, group); returns its slot index."""
        xy = corners.tolist()
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = xy
        self._boxes.append((min(x0, x1, x2, x3), min(y0, y1, y2, y3), max(x0, x1, x2, x3), max(y0, y1, y2, y3),
                            float(z_lo), float(z_hi), int(cls), int(group)))
        last = self._last
        self._polys.append(last[1] if last is not None and last[0] is corners else None)
        self._corners.append(xy)
        self._last = None
        self.n += 1
        return self.n - 1
