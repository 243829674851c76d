"""What a rendered view's pixels show: the share of objects and of each bare room surface.

Every pixel falls in exactly one class (docs/record.md, ``view.pixel_shares``):

- ``object``: the id image holds an object (instance id >= 1);
- ``none``: nothing was hit (depth 0: the background colour, e.g. above an open scene), in a
  room without a ceiling; in a closed room (``room.architecture.ceiling``) such a pixel is the sky
  seen through a window and counts as ``outdoor``;
- the rest (id 0: room surfaces) by the world point the depth image puts there,
  ``p = C + depth * R [(u - cx) / fx, (v - cy) / fy, 1]`` (OpenCV camera, ``cam_to_world``
  = [R | C]): ``outdoor`` when p lies beyond the walls (more than the wall thickness + 2 cm
  outside the room rectangle: the backdrop seen through a window, the corridor behind a door),
  else ``floor`` when p.z <= 1 cm, ``ceiling`` when the room has a ceiling and p.z >= sz - 5 cm
  (the light fixtures included), else ``wall`` (walls, skirting, door, window frames).

``bare`` = 1 - ``object``: the share that shows only wall, floor, ceiling, outdoor or nothing.
"""

from __future__ import annotations

import numpy as np

from engine.scene.graph import SceneGraph, View

SHARE_KEYS = ("object", "wall", "floor", "ceiling", "outdoor", "none")
FLOOR_TOL = 0.01    # m
CEILING_TOL = 0.05  # m (the fixtures hang 3 cm below the ceiling)
OUTSIDE_TOL = 0.02  # m beyond the wall thickness


def _class_masks(scene: SceneGraph, view: View, ids: np.ndarray, depth: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """``(class index, (H, W) bool mask)`` pairs, highest priority first: a pixel belongs to the
    first class whose mask holds it, or to ``wall`` when none does (arguments as for
    :func:`surface_classes`)."""
    H, W = ids.shape
    K = np.asarray(view.K, dtype=np.float64)
    P = np.asarray(view.cam_to_world, dtype=np.float64)
    R, C = P[:3, :3], P[:3, 3]
    # world ray per pixel (camera z = 1) is linear in (u, v): d = R[:, 0] x' + R[:, 1] y' + R[:, 2]
    xs = ((np.arange(W) - K[0, 2]) / K[0, 0]).astype(np.float32)
    ys = ((np.arange(H) - K[1, 2]) / K[1, 1]).astype(np.float32)
    d = np.asarray(depth, dtype=np.float32)
    buf = np.empty((H, W), dtype=np.float32)

    def world(axis: int) -> np.ndarray:
        """World coordinate ``axis`` of every pixel's point, float32 (H, W), in ``buf``."""
        r0, r1, r2 = (float(x) for x in R[axis])
        np.add((ys * np.float32(r1) + np.float32(r2))[:, None], (xs * np.float32(r0))[None, :], out=buf)
        np.multiply(buf, d, out=buf)
        return np.add(buf, np.float32(C[axis]), out=buf)

    sx, sy, sz = (float(v) for v in scene.room.size)
    t = max((float(w.thickness) for w in scene.room.walls), default=0.0) + OUTSIDE_TOL
    has_ceiling = bool((getattr(scene.room, "architecture", None) or {}).get("ceiling")) and sz > 0
    masks = [(SHARE_KEYS.index("object"), ids >= 1),
             (SHARE_KEYS.index("outdoor" if has_ceiling else "none"), d <= 0)]
    if scene.room.walls:
        out = np.abs(world(0), out=buf) > sx / 2 + t
        out |= np.abs(world(1), out=buf) > sy / 2 + t
        masks.append((SHARE_KEYS.index("outdoor"), out))
    pz = world(2)
    masks.append((SHARE_KEYS.index("floor"), pz <= FLOOR_TOL))
    if has_ceiling:
        masks.append((SHARE_KEYS.index("ceiling"), pz >= sz - CEILING_TOL))
    return masks


def surface_classes(scene: SceneGraph, view: View, ids: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """(H, W) uint8 index into :data:`SHARE_KEYS` per pixel (see the module docstring).

    Args:
        scene: the scene (``room.size`` [sx, sy, sz] m, walls' thickness, ``room.architecture``).
        view: the view (K, cam_to_world OpenCV, world metres).
        ids: (H, W) int32 instance ids; depth: (H, W) float32 camera z in metres, 0 = no hit.
    """
    cls = np.full(ids.shape, SHARE_KEYS.index("wall"), dtype=np.uint8)
    for k, m in reversed(_class_masks(scene, view, ids, depth)):  # higher priorities written last
        cls[m] = k
    return cls


def pixel_shares(scene: SceneGraph, view: View, ids: np.ndarray, depth: np.ndarray) -> dict[str, float]:
    """Share of the view's pixels in each class of :data:`SHARE_KEYS` (floats summing to 1), as
    :func:`surface_classes` assigns them (counted mask by mask: no per-pixel class image)."""
    counts = np.zeros(len(SHARE_KEYS), dtype=np.int64)
    left = np.ones(ids.shape, dtype=bool)  # pixels no class has taken yet
    hit = np.empty(ids.shape, dtype=bool)
    for k, m in _class_masks(scene, view, ids, depth):
        counts[k] += np.count_nonzero(np.logical_and(m, left, out=hit))
        left ^= hit
    counts[SHARE_KEYS.index("wall")] += np.count_nonzero(left)
    n = float(ids.size)
    return {k: float(counts[i] / n) for i, k in enumerate(SHARE_KEYS)}
