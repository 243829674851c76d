"""Per-object geometric annotations of a view (what the camera sampler knows without pixels)."""

from __future__ import annotations

import numpy as np

from engine.geometry import box_point_distance, project_box
from engine.geometry.projection import world_to_camera
from engine.scene.graph import SceneGraph, SceneObject, View

GEOMETRY_FIELDS = ("in_frustum", "bbox_amodal_geom", "truncated_geom", "distance", "depth")
DEFAULT_NEAR_M = 1e-3  # used when a view does not record the sampler's ``near_m``


def object_geometry(obj: SceneObject, K: np.ndarray, cam_to_world: np.ndarray, width: int, height: int,
                    near: float = 1e-3) -> dict:
    """Geometric fields of one object seen by a pinhole camera.

    Args:
        obj: the object (its oriented box in world metres).
        K: (3, 3) intrinsics, pixels. cam_to_world: (4, 4) OpenCV pose. width, height: pixels.
        near: plane (camera-frame z, m) in front of which corners count as "in front".

    Returns:
        ``in_frustum``: all 8 box corners have z >= near and project inside the image
        (u in [-0.5, width - 0.5], v in [-0.5, height - 0.5]);
        ``bbox_amodal_geom``: [u0, v0, u1, v1] pixels of the projected (near-clipped) box,
        clipped to the image, or None when no part of the box is in the image;
        ``truncated_geom``: the box is partly in the image and crosses its border or the near
        plane (False when it is entirely outside);
        ``distance``: camera centre to the closest point of the box, m;
        ``depth``: camera-frame z of the box centre, m (negative behind the camera).
    """
    box = obj.box
    pose = np.asarray(cam_to_world, dtype=float)
    proj = project_box(K, pose, box, width, height, near=near)
    depth = float(world_to_camera(pose, box.center[None])[0, 2])
    return {
        "in_frustum": bool(proj is not None and proj["in_front"] and not proj["truncated"]),
        "bbox_amodal_geom": None if proj is None else [float(x) for x in proj["bbox"]],
        "truncated_geom": bool(proj is not None and proj["truncated"]),
        "distance": box_point_distance(box, pose[:3, 3]),
        "depth": depth,
    }


def annotate_geometry(scene: SceneGraph, view: View) -> None:
    """Fill ``view.objects[obj.id]`` with the geometric fields for every object of ``scene``.

    The near plane is ``view.params["near_m"]`` (written by the sampler), else 1 mm.
    Existing per-object entries (e.g. renderer pixel counts) are kept; only the keys in
    :data:`GEOMETRY_FIELDS` are (re)written. See :func:`object_geometry` for their meaning.
    Occlusion is not known here: ``in_frustum`` is purely geometric.
    """
    near = float(view.params.get("near_m", DEFAULT_NEAR_M))
    K = np.asarray(view.K, dtype=float)
    pose = np.asarray(view.cam_to_world, dtype=float)
    for obj in scene.objects:
        view.objects.setdefault(obj.id, {}).update(object_geometry(obj, K, pose, view.width, view.height, near))
