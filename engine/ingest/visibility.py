"""Per-object pixel statistics of a user's view without our renderer: the objects' boxes are
ray-cast at every pixel centre, then the user's instance mask (exact) or the boxes' own z-buffer
(approximate, optionally corrected by the user's depth) says which pixels each object shows.

Pixel boxes are integer and inclusive [u0, v0, u1, v1] (u = column, v = row), as
engine.render.visibility; the output feeds :func:`engine.render.visibility.object_fields`.

Definitions (docs/ask.md):
- **box silhouette** of an object: the pixels whose centre ray meets its box at camera depth
  >= ``near`` (a slab test); its entry depth there is the camera-frame z where the ray enters.
- **without a mask** (approximate): an object's visible pixels are the pixels of its silhouette
  where its box is the nearest box (a z-buffer over box entry depths) and, when a depth image is
  given, where the measured depth is not more than ``depth_tol`` nearer than that entry (else
  something that is not a box hides it); amodal pixels are its silhouette. An object alone in view
  scores visible_fraction 1; a box is a coarse stand-in for the object's shape, so fractions of
  partly hidden objects are estimates.
- **with a mask** (exact visible pixels): visible pixels are those whose mask value is the
  object's instance id; amodal pixels are the visible ones plus the pixels of its silhouette whose
  mask shows another object whose box is nearer there (pixels showing background or a farther
  object are where the object's shape does not fill its box, not occlusion).
"""

from __future__ import annotations

import numpy as np

from engine.geometry.boxes import boxes_corners
from engine.geometry.projection import project_boxes
from engine.render.visibility import mask_stats

TINY = 1e-12


def box_entry_depths(K: np.ndarray, cam_to_world: np.ndarray, center, size, rotation, window: tuple[int, int, int, int],
                     near: float) -> np.ndarray:
    """Camera-frame z at which each pixel centre's ray enters a box, inf where it misses.

    Args:
        K: (3, 3) pixels. cam_to_world: (4, 4) OpenCV pose. center: (3,) m; size: (3,) full extents
            m; rotation: (3, 3) local-to-world. window: inclusive pixel rows/columns (u0, v0, u1, v1).
        near: rays count from camera depth ``near`` (m) on.

    Returns:
        (v1 - v0 + 1, u1 - u0 + 1) float: the entry depth (>= near) or inf.
    """
    u0, v0, u1, v1 = window
    us, vs = np.meshgrid(np.arange(u0, u1 + 1, dtype=float), np.arange(v0, v1 + 1, dtype=float))
    d_cam = np.stack([(us - K[0, 2]) / K[0, 0], (vs - K[1, 2]) / K[1, 1], np.ones_like(us)], axis=-1)
    pose = np.asarray(cam_to_world, dtype=float)
    R = np.asarray(rotation, dtype=float)
    d = d_cam @ pose[:3, :3].T @ R  # ray directions in box coordinates (camera z = ray parameter)
    o = R.T @ (pose[:3, 3] - np.asarray(center, dtype=float))
    half = np.asarray(size, dtype=float) / 2
    d = np.where(np.abs(d) < TINY, TINY, d)
    t1 = (-half - o) / d
    t2 = (half - o) / d
    t_in = np.minimum(t1, t2).max(axis=-1)
    t_out = np.maximum(t1, t2).min(axis=-1)
    entry = np.maximum(t_in, near)
    return np.where(t_out >= entry, entry, np.inf)


def box_visibility(K: np.ndarray, cam_to_world: np.ndarray, width: int, height: int, boxes: list[tuple],
                   instance_ids: list[int], near: float, mask: np.ndarray | None = None,
                   depth: np.ndarray | None = None, depth_tol: float = 0.05) -> tuple[dict[int, dict], np.ndarray]:
    """Pixel statistics of every box in one view (definitions in the module doc).

    Args:
        K, cam_to_world, width, height: the view (pixels; OpenCV pose). boxes: per object
            (center (3,), size (3,), rotation (3, 3)), world metres. instance_ids: per object, >= 1.
        near: camera-frame z (m) below which rays do not count.
        mask: optional (H, W) int instance ids (exact visible pixels). depth: optional (H, W)
            float camera-frame z in metres, 0 = no reading (used only without a mask).
        depth_tol: metres a depth reading may lie in front of the box entry and still show the box.

    Returns:
        (stats, ids): per instance id ``visible`` / ``amodal`` pixel counts and ``bbox_visible`` /
        ``bbox_amodal`` inclusive boxes (or None), as engine.render.visibility.object_fields reads
        them; and the (H, W) int32 id image the statistics came from (the mask, or the z-buffer's
        winners).
    """
    K = np.asarray(K, dtype=float)
    corners = boxes_corners(np.array([b[0] for b in boxes], dtype=float).reshape(-1, 3),
                            np.array([b[1] for b in boxes], dtype=float).reshape(-1, 3),
                            np.array([b[2] for b in boxes], dtype=float).reshape(-1, 3, 3))
    proj = project_boxes(K, cam_to_world, corners, width, height, near=near)
    zbuf = np.full((height, width), np.inf)
    winner = np.zeros((height, width), dtype=np.int32)
    entries: dict[int, tuple[tuple[int, int, int, int], np.ndarray]] = {}
    for (c, s, R), iid, hit, bb in zip(boxes, instance_ids, proj["hit"], proj["bbox"]):
        if not hit:
            continue
        u0, v0 = max(0, int(np.floor(bb[0]))), max(0, int(np.floor(bb[1])))
        u1, v1 = min(width - 1, int(np.ceil(bb[2]))), min(height - 1, int(np.ceil(bb[3])))
        if u1 < u0 or v1 < v0:
            continue
        t = box_entry_depths(K, cam_to_world, c, s, R, (u0, v0, u1, v1), near)
        entries[iid] = ((u0, v0, u1, v1), t)
        sub = zbuf[v0:v1 + 1, u0:u1 + 1]
        closer = t < sub
        sub[closer] = t[closer]
        winner[v0:v1 + 1, u0:u1 + 1][closer] = iid
    stats: dict[int, dict] = {}
    if mask is None:
        ids = winner.copy()
        if depth is not None:
            d = np.asarray(depth, dtype=float)
            ids[(d > 0) & (d < zbuf - depth_tol)] = 0
        for iid, ((u0, v0, u1, v1), t) in entries.items():
            amodal = np.zeros((height, width), dtype=bool)
            amodal[v0:v1 + 1, u0:u1 + 1] = np.isfinite(t)
            stats[iid] = _stats(ids == iid, amodal)
        return stats, ids
    ids = np.asarray(mask).astype(np.int32)
    owner_t = np.full((height, width), np.inf)  # entry depth of the box of the object the mask shows
    for iid, ((u0, v0, u1, v1), t) in entries.items():
        sub = ids[v0:v1 + 1, u0:u1 + 1] == iid
        owner_t[v0:v1 + 1, u0:u1 + 1][sub] = t[sub]
    for iid in instance_ids:
        visible = ids == iid
        amodal = visible.copy()
        if iid in entries:
            (u0, v0, u1, v1), t = entries[iid]
            win = ids[v0:v1 + 1, u0:u1 + 1]
            hidden = np.isfinite(t) & (win != 0) & (win != iid) & (owner_t[v0:v1 + 1, u0:u1 + 1] < t)
            amodal[v0:v1 + 1, u0:u1 + 1] |= hidden
        stats[iid] = _stats(visible, amodal)
    return stats, ids


def _stats(visible: np.ndarray, amodal: np.ndarray) -> dict:
    n_vis, box_vis = mask_stats(visible)
    n_amo, box_amo = mask_stats(amodal)
    return {"visible": n_vis, "amodal": n_amo, "bbox_visible": box_vis, "bbox_amodal": box_amo}
