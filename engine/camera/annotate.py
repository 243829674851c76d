"""Per-object geometric annotations of a view (what the camera sampler knows without pixels)."""

from __future__ import annotations

import numpy as np
import shapely

from engine.geometry.boxes import boxes_corners, boxes_point_distance
from engine.geometry.projection import clip_box_to_near, project_boxes, world_to_camera
from engine.scene.annotations import NOT_IN_VIEW, ObjectInView
from engine.scene.graph import SceneGraph, SceneObject, View

GEOMETRY_FIELDS = ("in_frustum", "bbox_amodal_geom", "truncated_geom", "in_frame_fraction", "distance", "depth")
DEFAULT_NEAR_M = 1e-3  # used when a view does not record the sampler's ``near_m``


def boxes_in_frame_fraction(K: np.ndarray, cam_to_world: np.ndarray, corners: np.ndarray, width: int, height: int,
                            near: float = 1e-3) -> np.ndarray:
    """Share of each box's full projected area that lies inside the image, in [0, 1].

    The full projected area of a box is the convex hull of its projected vertices after
    clipping the box against the plane z = ``near`` (camera frame;
    :func:`engine.geometry.projection.clip_box_to_near`), so corners behind the camera never
    divide by a negative depth: a box crossing the near plane projects to a large region
    (unbounded as ``near`` -> 0), most of it outside the image. The image is the rectangle
    u in [-0.5, width - 0.5], v in [-0.5, height - 0.5] (pixel centres at integers). The share
    is area(hull and image) / area(hull), with shapely.

    Args:
        K: (3, 3) intrinsics, pixels. cam_to_world: (4, 4) OpenCV pose.
        corners: (N, 8, 3) world corners of the boxes (``OrientedBox.corners``), metres.
        width, height: image size, pixels. near: near plane, camera-frame z in metres.

    Returns:
        (N,) float: 1.0 for a box entirely in front of ``near`` whose 8 corners project inside
        the image; 0.0 for a box with no part in front of ``near``, a projection that misses the
        image, or a degenerate (zero-area) hull; else the area ratio.
    """
    K = np.asarray(K, dtype=float)
    corners = np.asarray(corners, dtype=float).reshape(-1, 8, 3)
    n = len(corners)
    out = np.zeros(n)
    if n == 0:
        return out
    pc = world_to_camera(cam_to_world, corners.reshape(-1, 3)).reshape(n, 8, 3)
    lo_u, lo_v, hi_u, hi_v = -0.5, -0.5, width - 0.5, height - 0.5
    front = np.all(pc[:, :, 2] >= near, axis=1)
    zs = np.where(front[:, None], pc[:, :, 2], 1.0)
    u = K[0, 0] * pc[:, :, 0] / zs + K[0, 2]
    v = K[1, 1] * pc[:, :, 1] / zs + K[1, 2]
    inside = front & np.all((u >= lo_u) & (u <= hi_u) & (v >= lo_v) & (v <= hi_v), axis=1)
    missed = front & ((u.max(axis=1) < lo_u) | (u.min(axis=1) > hi_u) | (v.max(axis=1) < lo_v) | (v.min(axis=1) > hi_v))
    out[inside] = 1.0
    # Boxes crossing the image border (all corners in front): their 8 projected corners.
    owner = np.flatnonzero(front & ~inside & ~missed)
    batch = np.stack([u[owner], v[owner]], axis=2)  # (k, 8, 2)
    # Boxes crossing the near plane: the vertices of the clipped solid, projected.
    clipped, clip_owner = [], []
    for i in np.flatnonzero(~front).tolist():
        verts = clip_box_to_near(pc[i], near)
        if len(verts) >= 3:
            clipped.append(np.stack([K[0, 0] * verts[:, 0] / verts[:, 2] + K[0, 2],
                                     K[1, 1] * verts[:, 1] / verts[:, 2] + K[1, 2]], axis=1))
            clip_owner.append(i)
    if clipped:
        # One (k, m, 2) batch: shorter vertex lists are padded with their first vertex, which
        # leaves each hull unchanged.
        m = max(8, max(len(c) for c in clipped))
        pad = lambda c: np.concatenate([c, np.repeat(c[:1], m - len(c), axis=0)])  # noqa: E731
        batch = np.concatenate([np.stack([pad(c) for c in batch]) if len(batch) else np.zeros((0, m, 2)),
                                np.stack([pad(c) for c in clipped])])
        owner = np.concatenate([owner, clip_owner]).astype(int)
    if len(owner):
        hulls = shapely.convex_hull(shapely.multipoints(batch))
        total = shapely.area(hulls)
        # A rectangle clip of a convex polygon is its intersection with the rectangle.
        inner = shapely.area(shapely.clip_by_rect(hulls, lo_u, lo_v, hi_u, hi_v))
        ok = total > 0
        frac = np.zeros(len(owner))
        frac[ok] = np.clip(inner[ok] / total[ok], 0.0, 1.0)
        out[owner] = frac
    return out


def objects_geometry(objects: list[SceneObject], K: np.ndarray, cam_to_world: np.ndarray, width: int, height: int,
                     near: float = 1e-3) -> dict[str, ObjectInView]:
    """Geometric fields of every object seen by a pinhole camera, by object id.

    Args:
        objects: the objects (oriented boxes in world metres).
        K: (3, 3) intrinsics, pixels. cam_to_world: (4, 4) OpenCV pose. width, height: pixels.
        near: plane (camera-frame z, m) in front of which corners count as "in front".

    Returns, per object id, an ObjectInView holding just these fields:
        ``in_frustum``: all 8 box corners have z >= near and project inside the image
        (u in [-0.5, width - 0.5], v in [-0.5, height - 0.5]);
        ``bbox_amodal_geom``: [u0, v0, u1, v1] pixels of the projected (near-clipped) box,
        clipped to the image, or None when no part of the box is in the image;
        ``truncated_geom``: the box is partly in the image and crosses its border or the near
        plane (False when it is entirely outside);
        ``in_frame_fraction``: share (0..1) of the box's full projected area (convex hull of the
        projected vertices of the box clipped at ``near``) inside the image rectangle: 1.0 when
        ``in_frustum``, 0.0 when no part of the box is in front of ``near`` or in the image
        (:func:`boxes_in_frame_fraction`);
        ``distance``: camera centre to the closest point of the box, m;
        ``depth``: camera-frame z of the box centre, m (negative behind the camera).
    """
    if not objects:
        return {}
    pose = np.asarray(cam_to_world, dtype=float)
    centers, sizes, rots = (np.array([getattr(o, k) for o in objects], dtype=float) for k in ("center", "size", "rotation"))
    corners = boxes_corners(centers, sizes, rots)
    proj = project_boxes(K, pose, corners, width, height, near=near)
    in_frame = boxes_in_frame_fraction(K, pose, corners, width, height, near=near)
    depth = world_to_camera(pose, centers[:, None, :])[:, 0, 2]  # (1, 3) products per object, as for one
    dist = boxes_point_distance(centers, sizes, rots, pose[:3, 3])
    return {o.id: ObjectInView.from_dict({
        "in_frustum": bool(proj["in_front"][i] and not proj["truncated"][i]),
        "bbox_amodal_geom": [float(x) for x in proj["bbox"][i]] if proj["hit"][i] else None,
        "truncated_geom": bool(proj["truncated"][i]),
        "in_frame_fraction": float(in_frame[i]),
        "distance": float(dist[i]),
        "depth": float(depth[i]),
    }) for i, o in enumerate(objects)}


def object_geometry(obj: SceneObject, K: np.ndarray, cam_to_world: np.ndarray, width: int, height: int,
                    near: float = 1e-3) -> ObjectInView:
    """The geometric fields of one object (see :func:`objects_geometry`)."""
    return objects_geometry([obj], K, cam_to_world, width, height, near)[obj.id]


def annotate_geometry(scene: SceneGraph, view: View) -> None:
    """Fill ``view.objects[obj.id]`` with the geometric fields for every object of ``scene``.

    The near plane is ``view.params["near_m"]`` (written by the sampler), else 1 mm.
    Existing per-object fields (e.g. renderer pixel counts) are kept; only those in
    :data:`GEOMETRY_FIELDS` are (re)written. See :func:`objects_geometry` for their meaning.
    Occlusion is not known here: ``in_frustum`` is purely geometric.
    """
    near = float(view.params.get("near_m", DEFAULT_NEAR_M))
    K = np.asarray(view.K, dtype=float)
    pose = np.asarray(view.cam_to_world, dtype=float)
    for oid, fields in objects_geometry(scene.objects, K, pose, view.width, view.height, near).items():
        view.objects[oid] = view.objects.get(oid, NOT_IN_VIEW).updated(fields)
