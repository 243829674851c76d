"""Per-object visibility from pixel statistics, and writing it into the view record.

Pixel boxes are integer and inclusive, [u0, v0, u1, v1] (u = column, v = row), or None when an
object covers no pixel. An object's amodal mask is its pixels as if nothing occluded it.
"""

from __future__ import annotations

import numpy as np

from engine.geometry.boxes import boxes_corners
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
    objs = scene.objects
    corners = boxes_corners(np.array([o.center for o in objs], dtype=float), np.array([o.size for o in objs], dtype=float),
                            np.array([o.rotation for o in objs])) if objs else None  # = each o.box.corners
    geometric = project_boxes(view.K, view.cam_to_world, corners, view.width, view.height, near=near)["truncated"] \
        if objs else []
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
    """Visible pixel counts and boxes per instance id >= 1 of an (H, W) integer id image.

    Returns ``{iid: {"visible": n, "bbox_visible": [u0, v0, u1, v1]}}`` for every id present, in
    increasing id order. Computed from the image's horizontal runs of one id (one comparison
    pass over the image, then arrays as long as the number of runs): a run's pixels add to its
    id's count, its row and end columns to its id's box."""
    ids = np.asarray(ids)
    if ids.size == 0 or int(ids.max()) < 1:
        return {}
    H, W = ids.shape
    start = np.empty((H, W), dtype=bool)  # a run begins here: first column, or another id than the left neighbour
    start[:, 0] = True
    np.not_equal(ids[:, 1:], ids[:, :-1], out=start[:, 1:])
    first = np.flatnonzero(start)  # runs in row-major order; no run crosses a row
    length = np.diff(first, append=ids.size)
    run_id = ids.reshape(-1)[first]
    keep = run_id >= 1
    first, length, run_id = first[keep], length[keep], run_id[keep]
    row, u0 = np.divmod(first, W)
    n = int(run_id.max()) + 1
    count = np.zeros(n, dtype=np.int64)
    np.add.at(count, run_id, length)
    umin, vmin = np.full(n, W, dtype=np.int64), np.full(n, H, dtype=np.int64)
    umax, vmax = np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)
    np.minimum.at(umin, run_id, u0)
    np.maximum.at(umax, run_id, u0 + length - 1)
    np.minimum.at(vmin, run_id, row)
    np.maximum.at(vmax, run_id, row)
    return {k: {"visible": int(count[k]), "bbox_visible": [int(umin[k]), int(vmin[k]), int(umax[k]), int(vmax[k])]}
            for k in np.flatnonzero(count).tolist()}


def bit_boxes(col_bits: np.ndarray, row_bits: np.ndarray) -> list[list[int] | None]:
    """Inclusive [u0, v0, u1, v1] pixel boxes from per-object column and row bit sets.

    Args:
        col_bits: (N, ceil(W / 32)) uint32; bit ``u % 32`` of word ``u // 32`` set when the
            object covers a pixel in column u. row_bits: (N, ceil(H / 32)) uint32, the same for rows.
    Returns one box per object, None where no bit is set."""
    def spans(words: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        bits = np.unpackbits(np.ascontiguousarray(words, dtype="<u4").view(np.uint8), axis=1, bitorder="little")
        any_ = bits.any(axis=1)
        return any_, bits.argmax(axis=1), bits.shape[1] - 1 - bits[:, ::-1].argmax(axis=1)

    has_c, u0, u1 = spans(col_bits)
    has_r, v0, v1 = spans(row_bits)
    return [[int(u0[k]), int(v0[k]), int(u1[k]), int(v1[k])] if has_c[k] and has_r[k] else None
            for k in range(len(col_bits))]


def box_union(a: list[int] | None, b: list[int] | None) -> list[int] | None:
    """The smallest inclusive [u0, v0, u1, v1] pixel box holding boxes ``a`` and ``b`` (either may be None)."""
    if a is None or b is None:
        return a if b is None else list(b)
    return [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]


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
