"""Per-object visibility from pixel statistics, and writing it into the view record.

Pixel boxes are integer and inclusive, [u0, v0, u1, v1] (u = column, v = row), or None when an
object covers no pixel. An object's amodal mask is its pixels as if nothing occluded it.
"""

from __future__ import annotations

import numpy as np

from engine.geometry.projection import project_boxes
from engine.render.framing import pixel_shares
from engine.render.protocol import RENDER_FIELDS
from engine.render.types import Frame
from engine.scene.annotations import NOT_IN_VIEW
from engine.scene.graph import SceneGraph, View


def _bbox(b) -> list[int] | None:
    return None if b is None else [int(x) for x in b]


def object_fields(scene: SceneGraph, view: View, stats: dict[int, dict], near: float) -> dict[str, dict]:
    """The renderer fields of docs/record.md for every object of ``scene`` in ``view``.

    Args:
        stats: per instance id: ``visible`` and ``amodal`` pixel counts and ``bbox_visible`` /
            ``bbox_amodal`` inclusive pixel boxes (or None); missing ids count as unseen.
        near: the renderer's near plane (m), used by project_box for the geometric truncation.

    ``truncated`` is True when the amodal mask touches the image border or the projected box
    (engine.geometry.project_box) crosses the border or the near plane.
    """
    geometric = project_boxes(view.K, view.cam_to_world, np.array([o.box.corners for o in scene.objects]),
                              view.width, view.height, near=near)["truncated"] if scene.objects else []
    out = {}
    for obj, geo in zip(scene.objects, geometric):
        s = stats.get(obj.instance_id, {})
        vis, amo = int(s.get("visible", 0)), int(s.get("amodal", 0))
        ba = s.get("bbox_amodal")
        touches = ba is not None and (ba[0] <= 0 or ba[1] <= 0 or ba[2] >= view.width - 1 or ba[3] >= view.height - 1)
        truncated = touches or bool(geo)
        out[obj.id] = {
            "visible_pixels": vis,
            "amodal_pixels": amo,
            "visible_fraction": float(vis / amo) if amo > 0 else 0.0,
            "truncated": bool(truncated),
            "bbox_visible": _bbox(s.get("bbox_visible")),
            "bbox_amodal": _bbox(ba),
        }
    return out


def mask_stats(mask: np.ndarray) -> tuple[int, list[int] | None]:
    """Pixel count and inclusive [u0, v0, u1, v1] box of a boolean (H, W) mask (None if empty)."""
    n = int(np.count_nonzero(mask))
    if n == 0:
        return 0, None
    cols = np.flatnonzero(mask.any(axis=0))
    rows = np.flatnonzero(mask.any(axis=1))
    return n, [int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])]


def id_stats(ids: np.ndarray) -> dict[int, dict]:
    """Visible pixel counts and boxes per instance id >= 1 of an (H, W) int32 id image."""
    out = {}
    counts = np.bincount(ids.ravel(), minlength=1)
    for iid in np.flatnonzero(counts[1:]) + 1:
        n, box = mask_stats(ids == iid)
        out[int(iid)] = {"visible": n, "bbox_visible": box}
    return out


def annotate_visibility(view: View, frame: Frame, scene: SceneGraph | None = None) -> None:
    """Write the renderer fields (docs/record.md) of ``frame.objects`` into ``view.objects[id]``,
    and, when ``scene`` is given, ``view.pixel_shares`` (engine.render.framing.pixel_shares).

    Other fields of each entry (the camera sampler's geometric fields) are kept.
    """
    if scene is not None:
        view.pixel_shares = pixel_shares(scene, view, frame.ids, frame.depth)
    for oid in sorted(frame.objects):
        fields = frame.objects[oid]
        missing = [k for k in RENDER_FIELDS if k not in fields]
        if missing:
            raise KeyError(f"frame.objects[{oid!r}] lacks {missing}; fix: render the frame with engine.render")
        view.objects[oid] = view.objects.get(oid, NOT_IN_VIEW).updated({k: fields[k] for k in RENDER_FIELDS})
