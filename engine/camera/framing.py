"""Framing of a candidate view, estimated before rendering by casting a coarse grid of rays.

A person photographing a room frames furniture, not bare wall. The sampler (engine/camera/
sampler.py) asks every candidate of a profile with a ``framing`` block (conf/camera/default.yaml,
docs/camera.md) for:

- at least ``min_seen_well`` objects *seen well*: visible fraction >= ``min_visible_fraction``
  and a visible share of the image >= ``min_pixel_share``;
- a *bare share* (rays that hit no object: only wall, floor, ceiling, the outdoor backdrop or
  nothing) <= ``max_bare_share``.

The estimate casts ``grid`` x ``grid`` rays through the pixel-grid cell centres against the
objects' oriented boxes (slab test in each box's frame); each ray's nearest box beyond the near
plane is what it sees. An object's visible fraction is (rays where it is nearest) / (rays that
hit its box at all). Boxes are the objects' bounds, so the estimate counts the air between a
chair's legs as chair: the rendered shares (``view.pixel_shares``, engine/render/framing.py) are
what the record reports.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from engine.scene.graph import SceneObject


class BoxCaster:
    """The oriented boxes of a scene's objects, ready for batched ray casts (world metres)."""

    def __init__(self, objects: list[SceneObject]):
        self.centers = np.array([o.center for o in objects], dtype=float).reshape(-1, 3)
        self.rots = np.array([o.rotation for o in objects], dtype=float).reshape(-1, 3, 3)
        self.halves = np.array([o.size for o in objects], dtype=float).reshape(-1, 3) / 2

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


def grid_rays(K: np.ndarray, pose: np.ndarray, width: int, height: int, grid: int) -> np.ndarray:
    """(grid*grid, 3) world directions (camera z = 1) through the centres of a grid x grid
    partition of the image (pixel centres at integer u, v; OpenCV cam_to_world ``pose``)."""
    u = (np.arange(grid) + 0.5) * width / grid - 0.5
    v = (np.arange(grid) + 0.5) * height / grid - 0.5
    uu, vv = np.meshgrid(u, v)
    cam = np.stack([(uu.ravel() - K[0, 2]) / K[0, 0], (vv.ravel() - K[1, 2]) / K[1, 1], np.ones(uu.size)], axis=1)
    return cam @ pose[:3, :3].T


def estimate_framing(caster: BoxCaster, K: np.ndarray, pose: np.ndarray, width: int, height: int,
                     near: float, cfg: Mapping) -> dict:
    """The framing estimate of one candidate view (see the module docstring).

    Args:
        caster: the scene's object boxes. K: (3, 3) intrinsics; pose: (4, 4) OpenCV cam_to_world.
        cfg: a profile's ``framing`` block (``grid``, ``min_visible_fraction``, ``min_pixel_share``).

    Returns {"seen_well": int, "bare_share": float in [0, 1]}.
    """
    g = int(cfg["grid"])
    hit, nearest = caster.cast(pose[:3, 3], grid_rays(K, pose, width, height, g), near)
    rays = g * g
    amodal = hit.sum(axis=1)
    visible = np.bincount(nearest[nearest >= 0], minlength=len(amodal)) if len(amodal) else np.zeros(0, int)
    frac = np.divide(visible, amodal, out=np.zeros(len(amodal)), where=amodal > 0)
    well = (frac >= float(cfg["min_visible_fraction"])) & (visible / rays >= float(cfg["min_pixel_share"]))
    return {"seen_well": int(well.sum()), "bare_share": float(np.count_nonzero(nearest < 0) / rays)}


def framing_ok(est: Mapping, cfg: Mapping) -> bool:
    """True when an estimate meets the profile's ``min_seen_well`` and ``max_bare_share``."""
    return est["seen_well"] >= int(cfg["min_seen_well"]) and est["bare_share"] <= float(cfg["max_bare_share"])


def framing_cfg_errors(c, where: str) -> None:
    """Add the checks of a profile's ``framing`` block at ``where`` to the Checker ``c``."""
    keys = ("grid", "min_seen_well", "min_visible_fraction", "min_pixel_share", "max_bare_share", "close_prob",
            "close_distance_m", "close_pitch_deg", "yaw_spread_deg", "relax_after")
    if not c.keys(where, keys, see="conf/camera/default.yaml and docs/camera.md"):
        return
    c.number(f"{where}.grid", 4, 256, integer=True)
    c.number(f"{where}.min_seen_well", 0, integer=True)
    for k in ("min_visible_fraction", "min_pixel_share", "max_bare_share", "close_prob"):
        c.number(f"{where}.{k}", 0.0, 1.0)
    c.pair(f"{where}.close_distance_m", 0.0, positive=True)
    c.pair(f"{where}.close_pitch_deg", -89.0, 89.0)
    c.number(f"{where}.yaw_spread_deg", 0.0, 180.0)
    c.number(f"{where}.relax_after", 0, integer=True)
