"""Pinhole projection in the OpenCV convention.

``K`` = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]; ``cam_to_world`` is a 4x4 pose with camera
+X right, +Y down, +Z forward. Pixel centres sit at integer coordinates (OpenCV), so an image
of ``width`` x ``height`` pixels covers u in [-0.5, width - 0.5], v in [-0.5, height - 0.5].
"""

from __future__ import annotations

import numpy as np

from engine.geometry.boxes import OrientedBox
from engine.geometry.transforms import invert_pose, transform_points

# Box edges as pairs of corner indices (corner index bits: x=4, y=2, z=1).
BOX_EDGES = np.array(
    [[i, i | bit] for i in range(8) for bit in (4, 2, 1) if not i & bit],
    dtype=int,
)


def world_to_camera(cam_to_world: np.ndarray, points: np.ndarray) -> np.ndarray:
    """World points (N, 3) into the camera frame (N, 3), metres."""
    return transform_points(invert_pose(cam_to_world), points)


def project_points(K: np.ndarray, cam_to_world: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project world points (N, 3).

    Returns:
        uv: (N, 2) pixel coordinates; NaN where the point is not in front of the camera.
        depth: (N,) camera-frame z in metres (negative behind the camera).
    """
    K = np.asarray(K, dtype=float)
    pc = world_to_camera(cam_to_world, np.atleast_2d(points))
    z = pc[:, 2]
    uv = np.full((len(pc), 2), np.nan)
    front = z > 0
    uv[front, 0] = K[0, 0] * pc[front, 0] / z[front] + K[0, 2]
    uv[front, 1] = K[1, 1] * pc[front, 1] / z[front] + K[1, 2]
    return uv, z


def backproject(K: np.ndarray, cam_to_world: np.ndarray, uv: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Pixels (N, 2) with camera-frame z depths (N,) in metres back to world points (N, 3)."""
    K = np.asarray(K, dtype=float)
    uv = np.atleast_2d(np.asarray(uv, dtype=float))
    z = np.asarray(depth, dtype=float).reshape(-1)
    x = (uv[:, 0] - K[0, 2]) / K[0, 0] * z
    y = (uv[:, 1] - K[1, 2]) / K[1, 1] * z
    pose = np.asarray(cam_to_world, dtype=float)
    return transform_points(pose, np.stack([x, y, z], axis=1))


def clip_box_to_near(cam_points: np.ndarray, near: float) -> np.ndarray:
    """Vertices (M, 3) of a box (corners (8, 3) in camera frame) intersected with z >= near.

    The intersection of a convex polytope with a half-space is convex; its vertices are the
    kept corners plus the crossings of edges with the plane z = near. M may be 0.
    """
    z = cam_points[:, 2]
    keep = [cam_points[z >= near]]
    a, b = cam_points[BOX_EDGES[:, 0]], cam_points[BOX_EDGES[:, 1]]
    za, zb = a[:, 2], b[:, 2]
    cross = (za - near) * (zb - near) < 0
    if np.any(cross):
        t = (near - za[cross]) / (zb[cross] - za[cross])
        keep.append(a[cross] + t[:, None] * (b[cross] - a[cross]))
    return np.concatenate(keep, axis=0)


def clip_boxes_to_near(cam_points: np.ndarray, near: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`clip_box_to_near` for N boxes at once, as candidate vertices and a mask.

    Args:
        cam_points: (N, 8, 3) box corners in the camera frame (metres).

    Returns:
        (N, 20, 3) candidates (the 8 corners, then one point per edge of :data:`BOX_EDGES`) and
        an (N, 20) mask: row i's masked candidates, in order, are ``clip_box_to_near(
        cam_points[i], near)`` value for value (the same arithmetic, element by element).
    """
    pc = np.asarray(cam_points, dtype=float).reshape(-1, 8, 3)
    a, b = pc[:, BOX_EDGES[:, 0]], pc[:, BOX_EDGES[:, 1]]  # (N, 12, 3)
    za, zb = a[..., 2], b[..., 2]
    cross = (za - near) * (zb - near) < 0
    t = np.divide(near - za, zb - za, out=np.zeros_like(za), where=cross)
    cand = np.concatenate([pc, a + t[..., None] * (b - a)], axis=1)
    return cand, np.concatenate([pc[..., 2] >= near, cross], axis=1)


def project_clipped(K: np.ndarray, cand: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel (u, v) of the masked candidates of :func:`clip_boxes_to_near`, (N, 20) each, as
    ``project_box`` computes them (u = fx * x / z + cx); unmasked entries hold junk."""
    z = np.where(mask, cand[..., 2], 1.0)
    return K[0, 0] * cand[..., 0] / z + K[0, 2], K[1, 1] * cand[..., 1] / z + K[1, 2]


def project_box(
    K: np.ndarray,
    cam_to_world: np.ndarray,
    box: OrientedBox,
    width: int,
    height: int,
    near: float = 1e-3,
) -> dict | None:
    """Image-space extent of a box, correct for boxes partly behind the camera.

    The box is clipped against the plane z = ``near`` before projecting (no division by
    negative depth), so the result is the exact 2D bounding box of the visible-side solid.

    Returns:
        None when no part of the box is in front of the camera or the projection misses the
        image; otherwise a dict with ``bbox`` [u0, v0, u1, v1] clipped to the image (pixels,
        float), ``bbox_unclipped`` (same, before clipping to the image), ``truncated`` (True
        when the box crosses the image border or the near plane) and ``in_front`` (True when
        all 8 corners have z >= near).
    """
    return project_camera_box(K, world_to_camera(cam_to_world, box.corners), width, height, near)


def project_camera_box(K, pc: np.ndarray, width: int, height: int, near: float) -> dict | None:
    """:func:`project_box` for a box given by its (8, 3) corners in the camera frame (metres)."""
    in_front = bool(np.all(pc[:, 2] >= near))
    verts = clip_box_to_near(pc, near)
    if len(verts) == 0:
        return None
    K = np.asarray(K, dtype=float)
    u = K[0, 0] * verts[:, 0] / verts[:, 2] + K[0, 2]
    v = K[1, 1] * verts[:, 1] / verts[:, 2] + K[1, 2]
    raw = np.array([u.min(), v.min(), u.max(), v.max()])
    lo_u, lo_v, hi_u, hi_v = -0.5, -0.5, width - 0.5, height - 0.5
    if raw[2] < lo_u or raw[0] > hi_u or raw[3] < lo_v or raw[1] > hi_v:
        return None
    clipped = np.array([max(raw[0], lo_u), max(raw[1], lo_v), min(raw[2], hi_u), min(raw[3], hi_v)])
    truncated = (not in_front) or bool(np.any(clipped != raw))
    return {
        "bbox": clipped.tolist(),
        "bbox_unclipped": raw.tolist(),
        "truncated": truncated,
        "in_front": in_front,
    }


def project_boxes(K: np.ndarray, cam_to_world: np.ndarray, corners: np.ndarray, width: int, height: int,
                  near: float = 1e-3) -> dict[str, np.ndarray]:
    """:func:`project_box` for N boxes at once.

    Args:
        corners: (N, 8, 3) world corners of the boxes (``OrientedBox.corners``), metres.

    Returns:
        ``hit`` (N,) bool: project_box would not return None; ``bbox`` (N, 4) [u0, v0, u1, v1]
        clipped to the image, pixels (NaN where not hit); ``truncated`` and ``in_front`` (N,)
        bool as in project_box (False where not hit). Boxes with every corner in front of the
        near plane are projected together; the others go through project_box's clipping.
    """
    corners = np.asarray(corners, dtype=float).reshape(-1, 8, 3)
    n = len(corners)
    pc = world_to_camera(cam_to_world, corners.reshape(-1, 3)).reshape(n, 8, 3)
    return project_camera_boxes(K, pc, width, height, near)


def project_camera_boxes(K: np.ndarray, pc: np.ndarray, width: int, height: int, near: float = 1e-3) -> dict[str, np.ndarray]:
    """:func:`project_boxes` for N boxes given by their (N, 8, 3) camera-frame corners (metres)."""
    K = np.asarray(K, dtype=float)
    n = len(pc)
    out = {"hit": np.zeros(n, dtype=bool), "bbox": np.full((n, 4), np.nan),
           "truncated": np.zeros(n, dtype=bool), "in_front": np.zeros(n, dtype=bool)}
    front = np.all(pc[:, :, 2] >= near, axis=1)
    lo_u, lo_v, hi_u, hi_v = -0.5, -0.5, width - 0.5, height - 0.5
    if front.any():
        f = pc[front]
        u = K[0, 0] * f[:, :, 0] / f[:, :, 2] + K[0, 2]
        v = K[1, 1] * f[:, :, 1] / f[:, :, 2] + K[1, 2]
        raw = np.stack([u.min(axis=1), v.min(axis=1), u.max(axis=1), v.max(axis=1)], axis=1)
        hit = ~((raw[:, 2] < lo_u) | (raw[:, 0] > hi_u) | (raw[:, 3] < lo_v) | (raw[:, 1] > hi_v))
        clipped = np.stack([np.maximum(raw[:, 0], lo_u), np.maximum(raw[:, 1], lo_v),
                            np.minimum(raw[:, 2], hi_u), np.minimum(raw[:, 3], hi_v)], axis=1)
        idx = np.flatnonzero(front)[hit]
        out["hit"][idx] = True
        out["in_front"][idx] = True
        out["bbox"][idx] = clipped[hit]
        out["truncated"][idx] = np.any(clipped[hit] != raw[hit], axis=1)
    back = np.flatnonzero(~front & (pc[:, :, 2] >= near).any(axis=1))  # wholly behind: no vertex, not hit
    if len(back):  # boxes crossing the near plane: project_camera_box of each, batched
        cand, mask = clip_boxes_to_near(pc[back], near)
        u, v = project_clipped(K, cand, mask)
        raw = np.stack([np.where(mask, u, np.inf).min(axis=1), np.where(mask, v, np.inf).min(axis=1),
                        np.where(mask, u, -np.inf).max(axis=1), np.where(mask, v, -np.inf).max(axis=1)], axis=1)
        hit = mask.any(axis=1) & ~((raw[:, 2] < lo_u) | (raw[:, 0] > hi_u) | (raw[:, 3] < lo_v) | (raw[:, 1] > hi_v))
        idx = back[hit]
        out["hit"][idx] = True
        out["truncated"][idx] = True  # a box crossing the near plane is truncated
        out["bbox"][idx] = np.stack([np.maximum(raw[hit, 0], lo_u), np.maximum(raw[hit, 1], lo_v),
                                     np.minimum(raw[hit, 2], hi_u), np.minimum(raw[hit, 3], hi_v)], axis=1)
    return out


def pixel_ray_box_depths(K: np.ndarray, cam_corners: np.ndarray, uv: np.ndarray, near: float = 1e-3) -> np.ndarray:
    """Where the rays through pixels enter and leave boxes, as camera-frame depths.

    The ray through pixel (u, v) is t * ((u - cx) / fx, (v - cy) / fy, 1), t > 0, so its
    parameter t is the camera-frame z (the renderer's depth) of the point it reaches. Each box
    is cut to z >= ``near``. Slab test per local axis.

    Args:
        K: (3, 3) intrinsics (OpenCV, no skew).
        cam_corners: (M, 8, 3) corners of M boxes in the camera frame (metres), or (8, 3) for one,
            ordered as :attr:`engine.geometry.boxes.OrientedBox.corners` (corner i has local sign
            bits x, y, z = bits 2, 1, 0 of i).
        uv: (P, 2) pixel coordinates (pixel centres sit at integers), shared by the boxes, or
            (M, P, 2), one set per box.
        near: near plane (m, > 0).

    Returns:
        (M, P, 2) [z_in, z_out] metres ((P, 2) for one box); z_in > z_out where a ray misses.
    """
    K = np.asarray(K, dtype=float)
    pc = np.asarray(cam_corners, dtype=float)
    one = pc.ndim == 2
    pc = pc.reshape(-1, 8, 3)
    uv = np.asarray(uv, dtype=float)
    per_box = uv.ndim == 3
    d = np.empty(uv.shape[:-1] + (3,))
    d[..., 0] = (uv[..., 0] - K[0, 2]) / K[0, 0]
    d[..., 1] = (uv[..., 1] - K[1, 2]) / K[1, 1]
    d[..., 2] = 1.0
    center = pc.mean(axis=1)  # (M, 3)
    axes = np.stack([pc[:, 4] - pc[:, 0], pc[:, 2] - pc[:, 0], pc[:, 1] - pc[:, 0]], axis=1) / 2  # (M, 3, 3) rows
    half = np.linalg.norm(axes, axis=2)  # (M, 3)
    n = axes / half[:, :, None]  # unit local axes in the camera frame
    nc = np.einsum("mkj,mj->mk", n, center)[:, None, :]  # (M, 1, 3)
    nd = np.einsum("mpj,mkj->mpk" if per_box else "pj,mkj->mpk", d, n)  # (M, P, 3)
    par = np.abs(nd) < 1e-12  # ray parallel to a slab: inside it for every t, or never
    safe = np.where(par, 1.0, nd)
    h = half[:, None, :]
    t1, t2 = (nc - h) / safe, (nc + h) / safe
    lo, hi = np.minimum(t1, t2), np.maximum(t1, t2)
    inside = np.abs(nc) <= h  # per axis, for parallel rays
    lo = np.where(par, np.where(inside, -np.inf, np.inf), lo)
    hi = np.where(par, np.where(inside, np.inf, -np.inf), hi)
    out = np.stack([np.maximum(lo.max(axis=2), near), hi.min(axis=2)], axis=2)
    return out[0] if one else out
