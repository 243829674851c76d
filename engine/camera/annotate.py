"""Per-object geometric annotations of a view (what the camera sampler knows without pixels)."""

from __future__ import annotations

import numpy as np

from engine.geometry.boxes import boxes_corners, boxes_point_distance
from engine.geometry.projection import project_boxes, world_to_camera
from engine.scene.graph import SceneGraph, SceneObject, View

GEOMETRY_FIELDS = ("in_frustum", "bbox_amodal_geom", "truncated_geom", "distance", "depth")
DEFAULT_NEAR_M = 1e-3  # used when a view does not record the sampler's ``near_m``


def objects_geometry(objects: list[SceneObject], K: np.ndarray, cam_to_world: np.ndarray, width: int, height: int,
                     near: float = 1e-3) -> dict[str, dict]:
    """Geometric fields of every object seen by a pinhole camera, by object id.

    Args:
        objects: the objects (oriented boxes in world metres).
        K: (3, 3) intrinsics, pixels. cam_to_world: (4, 4) OpenCV pose. width, height: pixels.
        near: plane (camera-frame z, m) in front of which corners count as "in front".

    Returns, per object id:
        ``in_frustum``: all 8 box corners have z >= near and project inside the image
        (u in [-0.5, width - 0.5], v in [-0.5, height - 0.5]);
        ``bbox_amodal_geom``: [u0, v0, u1, v1] pixels of the projected (near-clipped) box,
        clipped to the image, or None when no part of the box is in the image;
        ``truncated_geom``: the box is partly in the image and crosses its border or the near
        plane (False when it is entirely outside);
        ``distance``: camera centre to the closest point of the box, m;
        ``depth``: camera-frame z of the box centre, m (negative behind the camera).
    """
    if not objects:
        return {}
    pose = np.asarray(cam_to_world, dtype=float)
    centers, sizes, rots = (np.array([getattr(o, k) for o in objects], dtype=float) for k in ("center", "size", "rotation"))
    proj = project_boxes(K, pose, boxes_corners(centers, sizes, rots), width, height, near=near)
    depth = world_to_camera(pose, centers[:, None, :])[:, 0, 2]  # (1, 3) products per object, as for one
    dist = boxes_point_distance(centers, sizes, rots, pose[:3, 3])
    return {o.id: {
        "in_frustum": bool(proj["in_front"][i] and not proj["truncated"][i]),
        "bbox_amodal_geom": [float(x) for x in proj["bbox"][i]] if proj["hit"][i] else None,
        "truncated_geom": bool(proj["truncated"][i]),
        "distance": float(dist[i]),
        "depth": float(depth[i]),
    } for i, o in enumerate(objects)}


def object_geometry(obj: SceneObject, K: np.ndarray, cam_to_world: np.ndarray, width: int, height: int,
                    near: float = 1e-3) -> dict:
    """The geometric fields of one object (see :func:`objects_geometry`)."""
    return objects_geometry([obj], K, cam_to_world, width, height, near)[obj.id]


def annotate_geometry(scene: SceneGraph, view: View) -> None:
    """Fill ``view.objects[obj.id]`` with the geometric fields for every object of ``scene``.

    The near plane is ``view.params["near_m"]`` (written by the sampler), else 1 mm.
    Existing per-object entries (e.g. renderer pixel counts) are kept; only the keys in
    :data:`GEOMETRY_FIELDS` are (re)written. See :func:`objects_geometry` for their meaning.
    Occlusion is not known here: ``in_frustum`` is purely geometric.
    """
    near = float(view.params.get("near_m", DEFAULT_NEAR_M))
    K = np.asarray(view.K, dtype=float)
    pose = np.asarray(view.cam_to_world, dtype=float)
    for oid, fields in objects_geometry(scene.objects, K, pose, view.width, view.height, near).items():
        view.objects.setdefault(oid, {}).update(fields)
