"""Per-scene tests of camera candidates against the objects' boxes, for the view sampler.

The arrays are built once per scene (:class:`Obstacles`) and every test is a few numpy calls on
them. Each test returns exactly what its plain formulation returns (same numpy operations on
the same arrays, so the same rounding): the sampler's accept/reject decisions, and so its
output, do not depend on these being fast.
"""

from __future__ import annotations

import math

import numpy as np

from engine.camera.annotate import GeometryArrays, geometry_arrays
from engine.scene.graph import SceneObject

_SLACK = 1e-6  # pixels and metres: the in-frustum bound's slack
_MIN_NEAR = 1e-3  # m: in_frustum_at_least's shortcut needs near - _SLACK above this (corners not surely out have z > 0)
_BLOCK_EPS = 1e-9  # m: points this close to a box side go to the exact (einsum) tests


class Obstacles:
    """Point-in-inflated-box, footprint and in-frustum tests for all objects of a scene.

    Args:
        objects: the scene's objects (oriented boxes, world metres).
        margin: metres every box is inflated by on each side for :meth:`inside_box` and
            :meth:`above_footprint`.
        footprint_objects: the objects whose floor footprints :meth:`above_footprint` tests.
        arrays: ``engine.camera.annotate.geometry_arrays(objects)`` when the caller has them.
    """

    def __init__(self, objects: list[SceneObject], margin: float, footprint_objects: list[SceneObject],
                 arrays: GeometryArrays | None = None):
        if arrays is None:
            arrays = geometry_arrays(objects)
        self.centers, self.rots, self.corners = arrays.centers, arrays.rots, arrays.corners
        self.halves = arrays.sizes / 2 + margin
        where = {id(o): i for i, o in enumerate(objects)}
        fp = [where.get(id(f)) for f in footprint_objects]  # rows of the footprint objects
        if None in fp:  # not all among objects: their own arrays
            fp, arrays = slice(None), geometry_arrays(footprint_objects)
        self.fp_centers, self.fp_rots = arrays.centers[fp], arrays.rots[fp]
        self.fp_halves = arrays.sizes[fp] / 2 + margin
        self._fp_halves_xy = self.fp_halves[:, :2].copy()
        self._rows = self._upright_rows(fp) if isinstance(fp, list) else None
        self._flat_corners = self.corners.reshape(-1, 3)

    def _upright_rows(self, fp: list[int]) -> list[tuple] | None:
        """Per box, the floats :meth:`blocked` reads (None unless every box is upright): centre,
        the local x and y axes' xy components, inflated half extents, the squared radius
        beyond which a point is outside the inflated footprint, and whether it is a footprint."""
        r = self.rots
        if not (np.all(r[:, :, 2] == (0.0, 0.0, 1.0)) and np.all(r[:, 2, :2] == 0.0)):
            return None
        fps = set(fp)
        rows = []
        for i, ((cx, cy, cz), (hx, hy, hz)) in enumerate(zip(self.centers.tolist(), self.halves.tolist())):
            reach = math.hypot(hx, hy) + _BLOCK_EPS
            rows.append((cx, cy, cz, float(r[i, 0, 0]), float(r[i, 1, 0]), float(r[i, 0, 1]), float(r[i, 1, 1]),
                         hx, hy, hz, reach * reach, i in fps))
        return rows

    def in_frustum_upper_bound(self, K: np.ndarray, pose: np.ndarray, width: int, height: int, near: float) -> int:
        """How many objects may be fully inside the frustum: a count >= the exact one.

        One batched projection of all corners with a 1e-6 slack (pixels and metres), so the
        sampler can skip the exact per-object geometry of hopeless candidates.

        Args:
            K: (3, 3) intrinsics, pixels. pose: (4, 4) OpenCV cam_to_world. near: metres.
        """
        return self.count_in_frustum(self.camera_corners(pose), K, width, height, near)

    def camera_corners(self, pose: np.ndarray) -> np.ndarray:
        """(N, 8, 3) box corners in the camera frame of the OpenCV cam_to_world ``pose`` (m)."""
        return (self.corners - pose[:3, 3]) @ pose[:3, :3]

    def count_in_frustum(self, cam_corners: np.ndarray, K: np.ndarray, width: int, height: int, near: float) -> int:
        """:meth:`in_frustum_upper_bound` from the :meth:`camera_corners` of the pose."""
        z = cam_corners[..., 2]
        ok = z >= near - _SLACK
        zs = np.where(ok, z, 1.0)
        u = K[0, 0] * cam_corners[..., 0] / zs + K[0, 2]
        v = K[1, 1] * cam_corners[..., 1] / zs + K[1, 2]
        ok &= (u >= -0.5 - _SLACK) & (u <= width - 0.5 + _SLACK) & (v >= -0.5 - _SLACK) & (v <= height - 0.5 + _SLACK)
        return int(ok.all(axis=1).sum())

    def blocked(self, x: float, y: float, z: float, footprints: bool) -> str | None:
        """Why a camera centre (x, y, z) is refused: ``inside_object`` when :meth:`inside_box`,
        else ``above_footprint`` when ``footprints`` and :meth:`above_footprint`, else None.

        Upright boxes are tested in plain float arithmetic, box by box, skipping the boxes whose
        inflated footprint circle is far; a box's local x, y (a rotated difference) may differ
        from the einsum's in the last bits, so a point within 1e-9 m of a box side is handed to
        the einsum tests, and every verdict is theirs. Local z is the world z difference exactly.
        """
        rows = self._rows
        if rows is None:
            return self._blocked_exact(np.array([x, y, z]), footprints)
        over_fp = False
        for cx, cy, cz, ax, ay, bx, by, hx, hy, hz, reach2, fp in rows:
            dx, dy = x - cx, y - cy
            if dx * dx + dy * dy > reach2:
                continue
            lx, ly = abs(ax * dx + ay * dy), abs(bx * dx + by * dy)
            if lx > hx + _BLOCK_EPS or ly > hy + _BLOCK_EPS:
                continue
            if lx >= hx - _BLOCK_EPS or ly >= hy - _BLOCK_EPS:  # on a side: let the exact tests decide
                return self._blocked_exact(np.array([x, y, z]), footprints)
            if abs(z - cz) <= hz:
                return "inside_object"
            over_fp |= fp
        return "above_footprint" if footprints and over_fp else None

    def _blocked_exact(self, p: np.ndarray, footprints: bool) -> str | None:
        if self.inside_box(p):
            return "inside_object"
        return "above_footprint" if footprints and self.above_footprint(p) else None

    def in_frustum_at_least(self, k: int, K: np.ndarray, pose: np.ndarray, width: int, height: int,
                            near: float) -> bool:
        """``in_frustum_upper_bound(K, pose, width, height, near) >= k``, usually without it.

        The bound's test of a corner (camera z >= near - 1e-6, u and v within the image plus
        1e-6) is, for z > 0, five linear inequalities in the world corner: one small matmul for
        all corners. A corner farther than a margin (1e-6 px*m per focal pixel, 1e-9 m for z;
        rounding differences are ~1e-11) from every plane is classified for sure; a box is in
        when all 8 corners are, out when one is; only when the margins leave the count's side
        of k open is the bound itself computed. Needs near > ~1 mm (then every corner not
        surely out has z > 0); else the bound is computed.
        """
        if k <= 0:
            return True
        n = len(self.corners)
        if n < k:
            return False
        if not near - _SLACK > _MIN_NEAR:
            return self.in_frustum_upper_bound(K, pose, width, height, near) >= k
        fx, fy, cx, cy = float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2])
        lo, hu, hv = -0.5 - _SLACK, width - 0.5 + _SLACK, height - 0.5 + _SLACK
        e, ez = 1e-6 * max(fx, fy, 1.0), 1e-9
        # columns: u >= lo, u <= hu, v >= lo, v <= hv, z >= near - slack (camera frame), each / its margin
        planes = np.array([[fx / e, -fx / e, 0.0, 0.0, 0.0],
                           [0.0, 0.0, fy / e, -fy / e, 0.0],
                           [(cx - lo) / e, (hu - cx) / e, (cy - lo) / e, (hv - cy) / e, 1.0 / ez]])
        m = pose[:3, :3] @ planes  # world -> plane values, after subtracting the camera centre
        off = pose[:3, 3] @ m
        off[4] += (near - _SLACK) / ez
        g = self._flat_corners @ m
        g -= off
        worst = g.reshape(n, 40).min(axis=1)  # per box: its worst corner and plane
        surely_in = np.count_nonzero(worst > 1.0)
        if surely_in >= k:
            return True
        if np.count_nonzero(worst >= -1.0) < k:  # surely in + undecided
            return False
        return self.in_frustum_upper_bound(K, pose, width, height, near) >= k

    def inside_box(self, p: np.ndarray) -> bool:
        """True when ``p`` (3,) lies inside or on any inflated object box."""
        local = np.einsum("nij,ni->nj", self.rots, p - self.centers)
        return bool((np.abs(local) <= self.halves).all(axis=1).any())

    def above_footprint(self, p: np.ndarray) -> bool:
        """True when ``p``'s floor position (x, y) lies inside any inflated floor footprint."""
        local = np.einsum("nij,ni->nj", self.fp_rots, p - self.fp_centers)
        return bool((np.abs(local[:, :2]) <= self._fp_halves_xy).all(axis=1).any())
