"""Per-object geometric annotations of a view (what the camera sampler knows without pixels)."""

from __future__ import annotations

import numpy as np

from typing import NamedTuple

from engine.geometry.boxes import boxes_corners, boxes_point_distance
from engine.geometry.geos import hull_areas
from engine.geometry.projection import clip_boxes_to_near, project_clipped, world_to_camera
from engine.geometry.transforms import invert_pose, transform_points
from engine.scene.annotations import NOT_IN_VIEW, ObjectInView
from engine.scene.graph import SceneGraph, SceneObject, View

GEOMETRY_FIELDS = ("in_frustum", "bbox_amodal_geom", "truncated_geom", "in_frame_fraction", "distance", "depth")
DEFAULT_NEAR_M = 1e-3  # used when a view does not record the sampler's ``near_m``
_NO_BOX = frozenset({"bbox_amodal_geom"})  # ObjectInView.nulls of an object with no box in the image


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
    corners = np.asarray(corners, dtype=float).reshape(-1, 8, 3)
    n = len(corners)
    if n == 0:
        return np.zeros(0)
    pc = world_to_camera(cam_to_world, corners.reshape(-1, 3)).reshape(n, 8, 3)
    return camera_boxes_in_frame_fraction(K, pc, width, height, near)


def camera_boxes_in_frame_fraction(K: np.ndarray, pc: np.ndarray, width: int, height: int, near: float) -> np.ndarray:
    """:func:`boxes_in_frame_fraction` for boxes given by their (N, 8, 3) camera-frame corners (m)."""
    K = np.asarray(K, dtype=float)
    n = len(pc)
    out = np.zeros(n)
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
    # Boxes crossing the near plane: the vertices of the clipped solid (kept corners, then edge
    # crossings), projected; those with at least 3.
    back = np.flatnonzero(~front & (pc[:, :, 2] >= near).any(axis=1))  # a box wholly behind has no vertex
    if len(back):
        cand, mask = clip_boxes_to_near(pc[back], near)
        cu, cv = project_clipped(K, cand, mask)
        count = mask.sum(axis=1)
        sel = count >= 3
        back, mask, count, clipped = back[sel], mask[sel], count[sel], np.stack([cu[sel], cv[sel]], axis=2)
    if len(back):
        batch, owner = _with_clipped(batch, owner, back, mask, count, clipped)
    if len(owner):
        out[owner] = _hull_fractions(batch, lo_u, lo_v, hi_u, hi_v)
    return out


def _with_clipped(batch: np.ndarray, owner: np.ndarray, back: np.ndarray, mask: np.ndarray, count: np.ndarray,
                  clipped: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One (k, m, 2) batch of the (k0, 8, 2) projected corners ``batch`` of boxes ``owner`` and
    the projected clipped vertices of boxes ``back`` (``clipped`` (k1, 20, 2) candidates, ``mask``
    which are vertices, ``count`` how many, each >= 3): shorter vertex lists are padded with
    their first vertex, which leaves each hull unchanged."""
    m = max(8, int(count.max()))
    order = np.argsort(~mask, axis=1, kind="stable")  # each row: its vertices first, in order
    slot = np.arange(m)
    pick = np.where(slot < count[:, None], order[:, np.minimum(slot, mask.shape[1] - 1)], order[:, :1])
    clipped = np.take_along_axis(clipped, pick[:, :, None], axis=1)
    batch = np.concatenate([np.concatenate([batch, np.repeat(batch[:, :1], m - 8, axis=1)], axis=1), clipped])
    return batch, np.concatenate([owner, back]).astype(int)


def _hull_fractions(batch: np.ndarray, lo_u: float, lo_v: float, hi_u: float, hi_v: float) -> np.ndarray:
    """Per row of ``batch`` (k, m, 2) pixel points: area(hull and image) / area(hull), 0 for a
    degenerate hull."""
    # A rectangle clip of a convex polygon is its intersection with the rectangle.
    total, inner = hull_areas(batch, lo_u, lo_v, hi_u, hi_v)
    ok = total > 0
    frac = np.zeros(len(batch))
    frac[ok] = np.clip(inner[ok] / total[ok], 0.0, 1.0)
    return frac


def objects_geometry(objects: list[SceneObject], K: np.ndarray, cam_to_world: np.ndarray, width: int, height: int,
                     near: float = 1e-3, arrays: GeometryArrays | None = None) -> dict[str, ObjectInView]:
    """Geometric fields of every object seen by a pinhole camera, by object id.

    Args:
        objects: the objects (oriented boxes in world metres).
        K: (3, 3) intrinsics, pixels. cam_to_world: (4, 4) OpenCV pose. width, height: pixels.
        near: plane (camera-frame z, m) in front of which corners count as "in front".
        arrays: :func:`geometry_arrays` of ``objects`` when the caller keeps them (else built here).

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
    if arrays is None:
        arrays = geometry_arrays(objects)
    centers, sizes, rots, corners = arrays
    pose = np.asarray(cam_to_world, dtype=float)
    K = np.asarray(K, dtype=float)
    n = len(corners)
    to_cam = invert_pose(pose)
    pc = transform_points(to_cam, corners.reshape(-1, 3)).reshape(n, 8, 3)  # world_to_camera
    whole, bbox, truncated, in_frame = _box_fields(K, pc, width, height, near)
    depth = transform_points(to_cam, centers[:, None, :])[:, 0, 2].tolist()  # (1, 3) products per object, as for one
    dist = boxes_point_distance(centers, sizes, rots, pose[:3, 3]).tolist()
    out = {}
    for i, o in enumerate(objects):
        box = bbox[i]
        out[o.id] = ObjectInView(whole[i], box, truncated[i], in_frame[i], dist[i], depth[i],
                                 nulls=_NO_BOX if box is None else frozenset())
    return out


def _box_fields(K: np.ndarray, pc: np.ndarray, width: int, height: int, near: float) -> tuple[list, list, list, list]:
    """Per box (camera-frame corners ``pc`` (N, 8, 3)): in_frustum, the clipped bbox or None,
    truncated, in_frame_fraction, as :func:`engine.geometry.projection.project_camera_boxes` and
    :func:`camera_boxes_in_frame_fraction` give them (the same arithmetic, shared)."""
    lo, hi = (-0.5, -0.5), (width - 0.5, height - 0.5)
    f, c = (K[0, 0], K[1, 1]), (K[0, 2], K[1, 2])
    z = pc[:, :, 2]
    front = np.all(z >= near, axis=1)
    zs = np.where(front[:, None], z, 1.0)
    uv = pc[:, :, :2] * f / zs[:, :, None] + c  # (N, 8, 2): u = fx * x / z + cx, v likewise
    mn, mx = uv.min(axis=1), uv.max(axis=1)  # (N, 2) raw bbox corners [u0, v0], [u1, v1]
    meets = (mx >= lo).all(axis=1) & (mn <= hi).all(axis=1)
    inside = (mn >= lo).all(axis=1) & (mx <= hi).all(axis=1)
    hit = front & meets
    whole = hit & inside  # every corner in front and in the image: in_frustum, in_frame_fraction 1
    truncated = hit & ~inside  # a front box's clipped bbox differs from its raw one
    in_frame = whole.astype(float)
    owner = np.flatnonzero(truncated)  # in front, crossing the image border: their 8 projected corners
    batch = uv[owner]
    # crossing the near plane: the clipped solid's vertices, projected (project_clipped); a box
    # wholly behind it (no corner at z >= near) has none: no bbox, not truncated, in-frame 0
    back = np.flatnonzero(~front & (z >= near).any(axis=1))
    if len(back):
        cand, mask = clip_boxes_to_near(pc[back], near)
        cuv = cand[:, :, :2] * f / np.where(mask, cand[:, :, 2], 1.0)[:, :, None] + c
        inner = mask[:, :, None]
        bmn, bmx = np.where(inner, cuv, np.inf).min(axis=1), np.where(inner, cuv, -np.inf).max(axis=1)
        mn[back], mx[back] = bmn, bmx
        hit[back] = truncated[back] = mask.any(axis=1) & (bmx >= lo).all(axis=1) & (bmn <= hi).all(axis=1)
        count = mask.sum(axis=1)
        sel = count >= 3
        if sel.any():
            batch, owner = _with_clipped(batch, owner, back[sel], mask[sel], count[sel], cuv[sel])
    if len(owner):
        in_frame[owner] = _hull_fractions(batch, *lo, *hi)
    bbox = np.concatenate([np.maximum(mn, lo), np.minimum(mx, hi)], axis=1).tolist()
    return whole.tolist(), [b if h else None for b, h in zip(bbox, hit.tolist())], truncated.tolist(), in_frame.tolist()


class GeometryArrays(NamedTuple):
    """The objects' boxes as arrays (world metres): ``centers`` (N, 3), ``sizes`` (N, 3) full
    extents, ``rots`` (N, 3, 3) local-to-world, ``corners`` (N, 8, 3) (``OrientedBox.corners``)."""

    centers: np.ndarray
    sizes: np.ndarray
    rots: np.ndarray
    corners: np.ndarray


def geometry_arrays(objects: list[SceneObject]) -> GeometryArrays:
    """The arrays :func:`objects_geometry` works on, built once per scene by callers that ask
    for many views of the same objects."""
    centers = np.array([o.center for o in objects], dtype=float).reshape(-1, 3)
    sizes = np.array([o.size for o in objects], dtype=float).reshape(-1, 3)
    rots = np.array([o.rotation for o in objects], dtype=float).reshape(-1, 3, 3)
    # batched corners equal OrientedBox.corners object by object (numpy runs the stacked matmul slice by slice)
    return GeometryArrays(centers, sizes, rots, boxes_corners(centers, sizes, rots))


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
