"""Boxes from public layouts -> the engine's gravity-aligned boxes; support from box contact.

Frames: world Z-up, metres, floor at z = 0 (docs/conventions.md). The engine's objects are
gravity-aligned boxes (``center``, ``size`` [depth, width, height] along local x, y, z, ``yaw``
about +Z). A 9-DoF box whose rotation tilts its axes off the vertical is replaced by the smallest
gravity-aligned box that encloses it (counted as ``tilted_boxes``).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from engine.geometry.boxes import boxes_corners

TILT_TOL = 1e-6  # |sin| of the angle between a box axis and world +Z below which the box counts as upright


def euler_zxy_matrix(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """(3, 3) local-to-world rotation of an OpenSpatial / EmbodiedScan 9-DoF box:
    R = Rz(roll) @ Rx(pitch) @ Ry(yaw) (intrinsic Euler order z, x, y; radians)."""
    return Rotation.from_euler("ZXY", [roll, pitch, yaw]).as_matrix()


def gravity_aligned(center, size, rotation) -> tuple[list[float], list[float], float, bool]:
    """The gravity-aligned box of an oriented box.

    Args:
        center: (3,) world metres. size: (3,) full extents along the local axes, metres.
        rotation: (3, 3) local-to-world.

    Returns:
        (center, size [depth, width, height], yaw radians, tilted). When a local axis is vertical
        (within :data:`TILT_TOL`) the box is the same solid: its horizontal axes become depth and
        width (local x first) and yaw is the heading of the new depth axis. Otherwise (tilted) the
        box is the smallest one enclosing the 8 corners with yaw the heading of the most
        horizontal local axis; its center is the middle of that enclosure.
    """
    c = np.asarray(center, dtype=float)
    s = np.asarray(size, dtype=float)
    R = np.asarray(rotation, dtype=float)
    up = np.abs(R[2, :])  # |z component| of each local axis in world
    k = int(np.argmax(up))
    horiz = [i for i in range(3) if i != k]
    if abs(up[k] - 1.0) <= TILT_TOL:
        a = R[:, horiz[0]]
        yaw = float(np.arctan2(a[1], a[0]))
        return c.tolist(), [float(s[horiz[0]]), float(s[horiz[1]]), float(s[k])], yaw, False
    h = horiz[int(np.argmin(up[horiz]))]
    a = R[:, h]
    yaw = float(np.arctan2(a[1], a[0]))
    corners = boxes_corners(c[None], s[None], R[None])[0]
    ca, sa = np.cos(yaw), np.sin(yaw)
    local = np.stack([corners[:, 0] * ca + corners[:, 1] * sa, -corners[:, 0] * sa + corners[:, 1] * ca,
                      corners[:, 2]], axis=1)
    lo, hi = local.min(axis=0), local.max(axis=0)
    mid = (lo + hi) / 2
    world_mid = [mid[0] * ca - mid[1] * sa, mid[0] * sa + mid[1] * ca, mid[2]]
    return [float(v) for v in world_mid], [float(v) for v in hi - lo], yaw, True


def infer_support(centers: np.ndarray, sizes: np.ndarray, yaws: np.ndarray, ids: list[str],
                  tol: float) -> tuple[list[str], list[str]]:
    """Support strings for gravity-aligned boxes from contact.

    An object stands on the floor when its bottom is within ``tol`` metres of z = 0; else on the
    object whose top is within ``tol`` of its bottom and whose footprint (rotated rectangle)
    contains its centre (x, y), the nearest top first. Objects with neither are ``unknown``.

    Args:
        centers: (N, 3) m. sizes: (N, 3) m. yaws: (N,) rad. ids: object ids. tol: metres.

    Returns:
        (supports, unknown): per object ``floor`` or ``on:<id>`` (``floor`` as a placeholder for the
        unknown ones), and the ids whose support could not be inferred.
    """
    bottoms = centers[:, 2] - sizes[:, 2] / 2
    tops = centers[:, 2] + sizes[:, 2] / 2
    out, unknown = [], []
    for i in range(len(ids)):
        if bottoms[i] <= tol:
            out.append("floor")
            continue
        best, gap = None, None
        for j in range(len(ids)):
            if j == i or abs(tops[j] - bottoms[i]) > tol:
                continue
            d = centers[i, :2] - centers[j, :2]
            c, s = np.cos(yaws[j]), np.sin(yaws[j])
            lx, ly = d[0] * c + d[1] * s, -d[0] * s + d[1] * c
            if abs(lx) <= sizes[j, 0] / 2 and abs(ly) <= sizes[j, 1] / 2:
                g = abs(tops[j] - bottoms[i])
                if gap is None or g < gap:
                    best, gap = j, g
        if best is None:
            out.append("floor")
            unknown.append(ids[i])
        else:
            out.append(f"on:{ids[best]}")
    return out, unknown
