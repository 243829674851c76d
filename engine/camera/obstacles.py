"""Per-scene tests of camera candidates against the objects' boxes, for the view sampler.

The arrays are built once per scene (:class:`Obstacles`) and every test is a few numpy calls on
them. Each test returns exactly what its plain formulation returns (same numpy operations on
the same arrays, so the same rounding): the sampler's accept/reject decisions, and so its
output, do not depend on these being fast.
"""

from __future__ import annotations

import numpy as np

from engine.camera.annotate import GeometryArrays, geometry_arrays
from engine.scene.graph import SceneObject

# u, v, z slack of the exact in-frustum bound, and the extra slack of its box-centre prefilter
# (pixels / metres; the prefilter's own rounding is ~1e-12, so it never drops a box the bound counts)
_SLACK = 1e-6
_CENTRE_SLACK = 1e-3


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

    def centres_in_frustum(self, K: np.ndarray, pose: np.ndarray, width: int, height: int, near: float) -> int:
        """A count >= :meth:`in_frustum_upper_bound` from the box centres alone (cheap).

        A box whose 8 corners pass the bound's test has its centre (their mean) inside the same
        convex frustum (all corners then have z > 0), so it passes the same test with a wider
        slack. Returns N (no information) when the near plane is too close to the camera for
        that argument (near <= ~1 mm).
        """
        n = len(self.centers)
        if not near - _SLACK > _CENTRE_SLACK or n == 0:
            return n
        c = (self.centers - pose[:3, 3]) @ pose[:3, :3]  # (N, 3) camera frame
        z = c[:, 2]
        ok = z >= near - _SLACK - _CENTRE_SLACK
        zs = np.where(ok, z, 1.0)
        u = K[0, 0] * c[:, 0] / zs + K[0, 2]
        v = K[1, 1] * c[:, 1] / zs + K[1, 2]
        lo, slack = -0.5 - _SLACK - _CENTRE_SLACK, _SLACK + _CENTRE_SLACK
        ok &= (u >= lo) & (u <= width - 0.5 + slack) & (v >= lo) & (v <= height - 0.5 + slack)
        return int(ok.sum())

    def inside_box(self, p: np.ndarray) -> bool:
        """True when ``p`` (3,) lies inside or on any inflated object box."""
        local = np.einsum("nij,ni->nj", self.rots, p - self.centers)
        return bool((np.abs(local) <= self.halves).all(axis=1).any())

    def above_footprint(self, p: np.ndarray) -> bool:
        """True when ``p``'s floor position (x, y) lies inside any inflated floor footprint."""
        local = np.einsum("nij,ni->nj", self.fp_rots, p - self.fp_centers)
        return bool((np.abs(local[:, :2]) <= self._fp_halves_xy).all(axis=1).any())
