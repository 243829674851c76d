"""Framing of a candidate view, estimated before rendering by casting a coarse grid of rays.

A person photographing a room frames furniture, not bare wall. The sampler (engine/camera/
sampler.py) asks every candidate of a profile with a ``framing`` block (conf/camera/default.yaml,
docs/camera.md) for:

- at least ``min_seen_well`` objects *seen well*: visible fraction >= ``min_visible_fraction``
  and a visible share of the image >= ``min_pixel_share``;
- a *bare share* (rays that hit no object: only wall, floor, ceiling, the outdoor backdrop or
  nothing) <= ``max_bare_share``;
- with ``max_screen_share`` (optional, with ``screen_distance_m``): a *screen share* <= it: the
  largest share of the rays that one *screen* takes, an object taller than the camera (its box's
  top above the camera centre: a wardrobe, a shower, a fridge) that stands within
  ``screen_distance_m`` of the camera (its box's nearest corner in camera depth). Low furniture
  close to the camera (a table, a counter under a close-up's objects) is no screen: the camera
  looks down on it. A view relaxed after ``relax_after`` candidates keeps this rule alone up to
  twice that many (:func:`screen_ok`).

The estimate casts ``grid`` x ``grid`` rays through the pixel-grid cell centres against the
objects' oriented boxes (slab test in each box's frame); each ray's nearest box beyond the near
plane is what it sees. An object's visible fraction is (rays where it is nearest) / (rays that
hit its box at all). Boxes are the objects' bounds, so the estimate counts the air between a
chair's legs as chair: the rendered shares (``view.pixel_shares``, engine/render/framing.py) are
what the record reports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from engine.camera.annotate import GeometryArrays, geometry_arrays
from engine.scene.graph import SceneObject

_CULL = 1e-6  # m: a box this far beyond a face of the rays' pyramid meets no ray (rounding is ~1e-12)


class BoxCaster:
    """The oriented boxes of a scene's objects, ready for batched ray casts (world metres)."""

    def __init__(self, objects: list[SceneObject], arrays: GeometryArrays | None = None):
        """``arrays``: ``engine.camera.annotate.geometry_arrays(objects)`` when the caller has them."""
        if arrays is None:
            arrays = geometry_arrays(objects)
        self.centers, self.rots, self.corners = arrays.centers, arrays.rots, arrays.corners
        self.halves = arrays.sizes / 2
        # local z = world z for every box (rotations about +Z only)
        self._upright = bool(np.all(self.rots[:, :, 2] == (0.0, 0.0, 1.0)) and np.all(self.rots[:, 2, :2] == 0.0))
        self._grids: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def cast(self, origin: np.ndarray, dirs: np.ndarray, near: float) -> tuple[np.ndarray, np.ndarray]:
        """Nearest hits of rays ``origin`` (3,) + t ``dirs`` (R, 3) with t >= ``near``.

        Returns (hit (N, R) bool: the ray meets box n at some t >= near, nearest (R,) int: the
        index of the nearest box per ray, -1 for none). ``t`` is in units of ``dirs``.
        """
        n, r = len(self.centers), len(dirs)
        if n == 0:
            return np.zeros((0, r), bool), np.full(r, -1)
        o = np.matmul((origin - self.centers)[:, None, :], self.rots)[:, 0, :]  # (N, 3) local origins: R^T (p - c)
        t_in = np.full((r, n), -np.inf)
        t_out = np.full((r, n), np.inf)
        for i in range(3):  # slab of local axis i; (R, N) arrays stay contiguous
            d = dirs @ self.rots[:, :, i].T
            d[np.abs(d) < 1e-12] = 1e-12  # a ray parallel to a slab: t -> +-1e12, the same verdict
            inv = 1.0 / d
            t1 = (-self.halves[:, i] - o[:, i]) * inv
            t2 = (self.halves[:, i] - o[:, i]) * inv
            np.maximum(t_in, np.minimum(t1, t2), out=t_in)
            np.minimum(t_out, np.maximum(t1, t2), out=t_out)
        hit = (t_in <= t_out) & (t_out >= near)
        t_hit = np.where(hit, np.maximum(t_in, near), np.inf)
        best = t_hit.argmin(axis=1)
        nearest = np.where(np.isfinite(t_hit[np.arange(r), best]), best, -1)
        hit = hit.T
        return hit, nearest


    def cast_view(self, K: np.ndarray, pose: np.ndarray, width: int, height: int, grid: int, near: float,
                  cam_corners: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`cast` of the :func:`grid_rays` of a view from its centre, bit for bit, cheaper.

        Args:
            K: (3, 3) intrinsics. pose: (4, 4) OpenCV cam_to_world. grid: rays per image side.
            near: metres. cam_corners: optional (N, 8, 3) box corners in the camera frame,
                ``(corners - pose[:3, 3]) @ pose[:3, :3]`` (the camera sampler has them).

        Returns (hit (N, R), nearest (R,)) as :meth:`cast` returns them.
        """
        n = len(self.centers)
        idx, ok, nearest = self._cast_grid(K, pose, width, height, grid, near, cam_corners)
        hit = np.zeros((n, grid * grid), bool)
        hit[idx] = ok.T
        return hit, nearest

    def _cast_grid(self, K: np.ndarray, pose: np.ndarray, width: int, height: int, grid: int, near: float,
                   cam_corners: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The work of :meth:`cast_view`: (idx (M,) boxes some ray may reach, ok (R, M) their
        hits, nearest (R,) box index or -1).

        Two shortcuts, neither changing a bit of the result:

        - A box whose 8 corners all lie beyond one face of the rays' pyramid (z < near, or past
          the plane through an outermost column or row of grid rays) by more than 1e-6 m meets
          no ray: its hits are all False and it is nobody's nearest, so only the other boxes'
          columns go through the slab arithmetic. The direction products are still taken over
          all boxes, as :meth:`cast` takes them (BLAS rounds them differently per shape).
        - For upright boxes (local z = world z, every object of the engine) the z-slab
          direction component is the ray's world z exactly (x*0 + y*0 + z*1 in any order), so
          that product is skipped.
        """
        n, r = len(self.centers), grid * grid
        dirs = self._grid_dirs(K, pose, width, height, grid)
        none = np.zeros(0, dtype=np.intp)
        if n == 0:
            return none, np.zeros((r, 0), bool), np.full(r, -1)
        if cam_corners is None:
            cam_corners = (self.corners - pose[:3, 3]) @ pose[:3, :3]
        idx = np.flatnonzero(self._reachable(K, cam_corners, width, height, grid, near))
        if len(idx) == 0:
            return none, np.zeros((r, 0), bool), np.full(r, -1)
        m = len(idx)
        o = np.matmul((pose[:3, 3] - self.centers)[:, None, :], self.rots)[:, 0, :][idx]  # local origins, as in cast
        lo, hi = (-self.halves[idx] - o).T[:, None, :], (self.halves[idx] - o).T[:, None, :]  # (3, 1, M) slab bounds
        d = np.empty((3, r, m))  # ray direction components along the boxes' local axes
        for i in range(2 if self._upright else 3):
            np.take(dirs @ self.rots[:, :, i].T, idx, axis=1, out=d[i])
        if self._upright:
            d[2] = dirs[:, 2:3]
        d[np.abs(d) < 1e-12] = 1e-12  # a ray parallel to a slab: t -> +-1e12, the same verdict
        np.divide(1.0, d, out=d)
        t1 = lo * d
        t2 = np.multiply(hi, d, out=d)
        near_t = np.minimum(t1, t2)
        far_t = np.maximum(t1, t2, out=t1)
        # cast folds the slabs in with max/min from -inf/inf: exact, so any grouping gives its values
        t_in = np.maximum(np.maximum(near_t[0], near_t[1]), near_t[2])
        t_out = np.minimum(np.minimum(far_t[0], far_t[1]), far_t[2])
        ok = (t_in <= t_out) & (t_out >= near)
        t_hit = np.where(ok, np.maximum(t_in, near), np.inf)
        best = t_hit.argmin(axis=1)
        nearest = np.where(np.isfinite(t_hit[np.arange(r), best]), idx[best], -1)
        return idx, ok, nearest

    def _grid_dirs(self, K: np.ndarray, pose: np.ndarray, width: int, height: int, grid: int) -> np.ndarray:
        """:func:`grid_rays`, with the pixel offsets from the principal point kept per image size."""
        key = (width, height, grid, float(K[0, 2]), float(K[1, 2]))
        if key not in self._grids:
            uu, vv = _grid_uv(width, height, grid)
            self._grids[key] = (uu - K[0, 2], vv - K[1, 2])
        du, dv = self._grids[key]
        cam = np.empty((len(du), 3))  # as grid_rays' np.stack: C order
        np.divide(du, K[0, 0], out=cam[:, 0])
        np.divide(dv, K[1, 1], out=cam[:, 1])
        cam[:, 2] = 1.0
        return cam @ pose[:3, :3].T

    def _reachable(self, K: np.ndarray, cam_corners: np.ndarray, width: int, height: int, grid: int,
                   near: float) -> np.ndarray:
        """(N,) bool: False for boxes beyond a face of the grid rays' pyramid (see _cast_grid)."""
        du, dv = self._grids[(width, height, grid, float(K[0, 2]), float(K[1, 2]))]
        x0, x1 = float(du[0]) / float(K[0, 0]), float(du[-1]) / float(K[0, 0])  # camera x / z of the outer columns
        y0, y1 = float(dv[0]) / float(K[1, 1]), float(dv[-1]) / float(K[1, 1])
        # inward normals of the pyramid's faces: left, right, top, bottom (through the centre), near
        faces = np.array([[1.0, -1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0, 0.0], [-x0, x1, -y0, y1, 1.0]])
        past = (cam_corners @ faces) < np.array([-_CULL, -_CULL, -_CULL, -_CULL, near - _CULL])  # (N, 8, 5)
        return ~past.all(axis=1).any(axis=1)


def _grid_uv(width: int, height: int, grid: int) -> tuple[np.ndarray, np.ndarray]:
    """(grid*grid,) u and v pixel coordinates of the grid cell centres, row by row."""
    uu, vv = np.meshgrid(_grid_centres(width, grid), _grid_centres(height, grid))
    return uu.ravel(), vv.ravel()


def grid_rays(K: np.ndarray, pose: np.ndarray, width: int, height: int, grid: int) -> np.ndarray:
    """(grid*grid, 3) world directions (camera z = 1) through the centres of a grid x grid
    partition of the image (pixel centres at integer u, v; OpenCV cam_to_world ``pose``)."""
    uu, vv = _grid_uv(width, height, grid)
    cam = np.stack([(uu - K[0, 2]) / K[0, 0], (vv - K[1, 2]) / K[1, 1], np.ones(uu.size)], axis=1)
    return cam @ pose[:3, :3].T


def estimate_framing(caster: BoxCaster, K: np.ndarray, pose: np.ndarray, width: int, height: int,
                     near: float, cfg: Mapping, cam_corners: np.ndarray | None = None) -> dict:
    """The framing estimate of one candidate view (see the module docstring).

    Args:
        caster: the scene's object boxes. K: (3, 3) intrinsics; pose: (4, 4) OpenCV cam_to_world.
        cfg: a profile's ``framing`` block (``grid``, ``min_visible_fraction``, ``min_pixel_share``).
        cam_corners: optional (N, 8, 3) corners of the caster's boxes in the camera frame (a
            shortcut; see :meth:`BoxCaster.cast_view`).

    Returns {"seen_well": int, "bare_share": float in [0, 1]}, and "screen_share" (float in
    [0, 1]) when ``cfg`` has ``max_screen_share``.
    """
    g = int(cfg["grid"])
    idx, ok, nearest = caster._cast_grid(K, pose, width, height, g, near, cam_corners)
    rays = g * g
    amodal = np.zeros(len(caster.centers), dtype=np.intp)  # rays meeting each box (hit.sum(axis=1) of cast)
    amodal[idx] = np.ascontiguousarray(ok.T).sum(axis=1)  # summing rows: ~4x faster than down columns
    visible = np.bincount(nearest[nearest >= 0], minlength=len(amodal)) if len(amodal) else np.zeros(0, int)
    frac = np.divide(visible, amodal, out=np.zeros(len(amodal)), where=amodal > 0)
    well = (frac >= float(cfg["min_visible_fraction"])) & (visible / rays >= float(cfg["min_pixel_share"]))
    est = {"seen_well": int(well.sum()), "bare_share": float(np.count_nonzero(nearest < 0) / rays)}
    if cfg.get("max_screen_share") is not None:
        est["screen_share"] = screen_share(caster, pose, visible, rays, float(cfg["screen_distance_m"]), cam_corners)
    return est


def screen_share(caster: BoxCaster, pose: np.ndarray, visible: np.ndarray, rays: int, distance_m: float,
                 cam_corners: np.ndarray | None = None) -> float:
    """The largest share of ``rays`` grid rays that one screen sees first (module docstring).

    Args:
        pose: (4, 4) OpenCV cam_to_world (world +Z up). visible: (N,) rays whose nearest box is box n.
        distance_m: a screen's nearest box corner is nearer than this in camera depth (metres).
        cam_corners: optional (N, 8, 3) box corners in the camera frame.
    """
    if len(visible) == 0:
        return 0.0
    depth = None if cam_corners is None else cam_corners[:, :, 2]
    seen = visible[screens(caster.corners, pose, distance_m, depth)]
    return float(seen.max() / rays) if seen.size else 0.0


def screens(corners: np.ndarray, pose: np.ndarray, distance_m: float, depth: np.ndarray | None = None) -> np.ndarray:
    """(N,) bool: which boxes are screens for a camera at ``pose`` (module docstring): the top of
    the box above the camera centre, its nearest corner within ``distance_m`` in camera depth.

    Args:
        corners: (N, 8, 3) world box corners (metres, +Z up). pose: (4, 4) OpenCV cam_to_world.
        depth: optional (N, 8) camera depth of the corners, when the caller has it.
    """
    if depth is None:
        depth = (corners - pose[:3, 3]) @ pose[:3, 2]
    return (corners[:, :, 2].max(axis=1) > pose[2, 3]) & (depth.min(axis=1) < distance_m)


def ray_cover(K: np.ndarray, width: int, height: int, near: float, grid: int,
              cam_corners: np.ndarray) -> tuple[np.ndarray, list[int]] | None:
    """Which grid rays may meet a box, and how many may meet each box, without casting.

    A ray meets a box (at t >= near) only through the projection of the box's part at
    z >= near, so only grid cells whose centre lies in a rectangle holding that projection may
    count it: the bounding rectangle of the projected corners for a box wholly in front, else
    the extremes of x / z and y / z over the box's camera-frame x, y ranges and z in
    [near - 1e-6, its top]; grown by 1e-6 px, and by 1e-9 of a cell for the index arithmetic
    (rounding is ~1e-11).

    Args:
        K: (3, 3) intrinsics. near: metres. grid: rays per image side.
        cam_corners: (N, 8, 3) box corners in the camera frame (metres).

    Returns:
        (rays (grid*grid,) bool: False for a ray that meets no box for sure, in grid_rays'
        order; cells: per box, how many rays may meet it), or None when near <= 1e-6 m (no
        verdict).
    """
    g = grid
    near_cut = near - _CULL
    if near_cut <= 0.0:
        return None
    fx, fy, cx, cy = float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2])
    z = cam_corners[:, :, 2]
    uv = cam_corners[:, :, :2] * (fx, fy) / np.maximum(z, near)[:, :, None] + (cx, cy)
    lo, hi = uv.min(axis=1).tolist(), uv.max(axis=1).tolist()  # [u, v] extremes, for boxes wholly in front
    su, sv = g / width, g / height  # cells per pixel; cell j's centre is at (j + 0.5) / su - 0.5
    covered = np.zeros((g, g), bool)
    cells = []
    for b, (zmin, zmax) in enumerate(zip(z.min(axis=1).tolist(), z.max(axis=1).tolist())):
        if zmax < near_cut:  # wholly behind the near plane: no ray meets it
            cells.append(0)
            continue
        if zmin >= near + _CULL:
            (u0, v0), (u1, v1) = lo[b], hi[b]
        else:  # its part at z >= near_cut lies in x/z, y/z between those of its x, y ranges at z = near_cut, zmax
            xs, ys, _ = zip(*cam_corners[b].tolist())
            u0 = fx * min(min(xs) / near_cut, min(xs) / zmax) + cx
            u1 = fx * max(max(xs) / near_cut, max(xs) / zmax) + cx
            v0 = fy * min(min(ys) / near_cut, min(ys) / zmax) + cy
            v1 = fy * max(max(ys) / near_cut, max(ys) / zmax) + cy
        j0 = max(0, math.ceil((u0 - _CULL + 0.5) * su - 0.5 - 1e-9))
        j1 = min(g, math.floor((u1 + _CULL + 0.5) * su - 0.5 + 1e-9) + 1)
        i0 = max(0, math.ceil((v0 - _CULL + 0.5) * sv - 0.5 - 1e-9))
        i1 = min(g, math.floor((v1 + _CULL + 0.5) * sv - 0.5 + 1e-9) + 1)
        if j0 >= j1 or i0 >= i1:
            cells.append(0)
            continue
        covered[i0:i1, j0:j1] = True
        cells.append((j1 - j0) * (i1 - i0))
    return covered.ravel(), cells


def surely_poor(cover: tuple[np.ndarray, list[int]], cfg: Mapping) -> bool:
    """True only when :func:`estimate_framing` would certainly fail :func:`framing_ok`.

    From a :func:`ray_cover`: rays that may meet no box are bare for sure (a lower bound of the
    estimate's ``bare_share``), and a box that few rays may meet cannot be seen well (an upper
    bound of ``seen_well``). False: no verdict, cast.
    """
    rays, cells = cover
    n_rays = len(rays)
    if (n_rays - int(np.count_nonzero(rays))) / n_rays > float(cfg["max_bare_share"]):
        return True
    mvf, mps = float(cfg["min_visible_fraction"]), float(cfg["min_pixel_share"])
    # seen well needs visible / rays >= mps (visible <= rays meeting the box <= cells) and a
    # visible fraction >= mvf (0 for a box no ray meets, at most 1 otherwise)
    could = sum(1 for c in cells if c / n_rays >= mps and ((c > 0 and mvf <= 1.0) or mvf <= 0.0))
    return could < int(cfg["min_seen_well"])


def _grid_centres(size: int, grid: int) -> np.ndarray:
    """(grid,) pixel coordinates of the grid cell centres along an image side (as _grid_uv)."""
    return (np.arange(grid) + 0.5) * size / grid - 0.5


def framing_ok(est: Mapping, cfg: Mapping) -> bool:
    """True when an estimate meets the profile's ``min_seen_well``, ``max_bare_share`` and, when
    set, ``max_screen_share``."""
    return (_screen_fits(est, cfg) and est["seen_well"] >= int(cfg["min_seen_well"])
            and est["bare_share"] <= float(cfg["max_bare_share"]))


def screen_ok(est: Mapping, cfg: Mapping, attempts: int) -> bool:
    """A relaxed view's test (past ``relax_after`` candidates): the screen rule alone, kept until
    twice ``relax_after`` candidates, so a sparse room's plainer view is still not one object
    standing in front of the camera."""
    return attempts > 2 * int(cfg["relax_after"]) or _screen_fits(est, cfg)


def _screen_fits(est: Mapping, cfg: Mapping) -> bool:
    """True when the profile has no screen rule or the estimate's screen share is within it."""
    return cfg.get("max_screen_share") is None or est["screen_share"] <= float(cfg["max_screen_share"])


def framing_cfg_errors(c, where: str) -> None:
    """Add the checks of a profile's ``framing`` block at ``where`` to the Checker ``c``."""
    keys = ("grid", "min_seen_well", "min_visible_fraction", "min_pixel_share", "max_bare_share", "close_prob",
            "close_distance_m", "close_pitch_deg", "yaw_spread_deg", "relax_after")
    if not c.keys(where, keys, optional=("max_screen_share", "screen_distance_m"),
                  see="conf/camera/default.yaml and docs/camera.md"):
        return
    node = c.get(where)
    if node.get("max_screen_share") is not None:
        c.number(f"{where}.max_screen_share", 0.0, 1.0)
        if node.get("screen_distance_m") is None:
            c.err(f"{where}.screen_distance_m", "missing; fix: add it (metres) with max_screen_share, or set "
                                                 "max_screen_share: null")
        else:
            c.number(f"{where}.screen_distance_m", 0.0)
    c.number(f"{where}.grid", 4, 256, integer=True)
    c.number(f"{where}.min_seen_well", 0, integer=True)
    for k in ("min_visible_fraction", "min_pixel_share", "max_bare_share", "close_prob"):
        c.number(f"{where}.{k}", 0.0, 1.0)
    c.pair(f"{where}.close_distance_m", 0.0, positive=True)
    c.pair(f"{where}.close_pitch_deg", -89.0, 89.0)
    c.number(f"{where}.yaw_spread_deg", 0.0, 180.0)
    c.number(f"{where}.relax_after", 0, integer=True)
