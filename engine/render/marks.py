"""Set-of-mark visual prompts: numbered circles or coloured boxes drawn on a copy of an image.

Questions can then refer to "mark 2" instead of describing the object. Pixel coordinates are
image (u, v) = (column, row) with pixel centres at integers (docs/conventions.md); boxes are
the view's inclusive ``bbox_visible`` [u0, v0, u1, v1].
"""

from __future__ import annotations

from functools import lru_cache
from typing import Mapping

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy.ndimage import distance_transform_edt

from engine.scene.graph import View

STYLES = ("number", "box")
# Distinct, readable mark colours (sRGB), after Sasha Trubetskoy's list of 20 distinct colours.
PALETTE = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
           (240, 50, 230), (210, 245, 60), (255, 225, 25), (0, 128, 128), (170, 110, 40), (128, 0, 0),
           (250, 190, 212), (170, 255, 195), (128, 128, 0), (0, 0, 128), (220, 190, 255), (255, 215, 180))


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def mark_radius(width: int, height: int) -> int:
    """Radius in pixels of a numbered mark for an image of ``width`` x ``height``."""
    return max(7, int(round(0.028 * min(width, height))))


def _mark_bounds(r: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) (u, v) limits of a mark centre whose disc of radius ``r`` stays inside the image."""
    return np.array([r, r], float), np.array([width - 1 - r, height - 1 - r], float)


def _in_image(cands: np.ndarray, r: int, width: int, height: int) -> np.ndarray:
    """The (K, 2) candidates whose mark of radius ``r`` stays inside the image, in order; when
    there are none, every candidate clamped into the image."""
    lo, hi = _mark_bounds(r, width, height)
    inside = np.all((cands >= lo) & (cands <= hi), axis=1)
    return cands[inside] if inside.any() else np.clip(cands, lo, hi)


# Objects whose visible box holds more pixels than this are searched on every other row and
# column: the most interior pixel is then found to within a pixel, at a quarter of the cost.
SUBSAMPLE_ABOVE_PX = 4096


class _RankedPixels:
    """An object's candidate mark centres in the id image: its pixels whose mark stays inside
    the image (all of them clamped when none does), most interior first (largest Euclidean
    distance to a pixel outside the object, the image border counting as outside; ties by v,
    then u). Ordered lazily: the first ``head`` exactly, the rest only when asked for.
    ``step`` > 1 takes every step-th row and column of ``mask`` (pixels (u0, v0) + step * k)."""

    def __init__(self, mask: np.ndarray, u0: int, v0: int, r: int, width: int, height: int, head: int = 256,
                 step: int = 1):
        vs, us = np.nonzero(mask[::step, ::step])  # (v, u) order
        dist = distance_transform_edt(np.pad(mask[::step, ::step], 1))[1:-1, 1:-1][vs, us]
        pts = np.stack([us * step + u0, vs * step + v0], 1).astype(float)
        lo, hi = _mark_bounds(r, width, height)  # as _in_image, keeping the distances in step
        inside = np.all((pts >= lo) & (pts <= hi), axis=1)
        if inside.any():
            pts, dist = pts[inside], dist[inside]
        else:
            pts = np.clip(pts, lo, hi)
        self.pts = pts
        self.neg = -dist
        self.head = head
        self._chunks: list[np.ndarray] = []

    def chunks(self):
        """Yield (k, 2) float (u, v) arrays: the candidates in rank order, head first."""
        n = len(self.neg)
        if not self._chunks:
            if n <= self.head:
                self._chunks.append(self.pts[np.argsort(self.neg, kind="stable")])
            else:  # everything at or above the head-th largest distance, ties in (v, u) order
                kth = np.partition(self.neg, self.head - 1)[self.head - 1]
                top = np.flatnonzero(self.neg <= kth)
                self._top = top[np.argsort(self.neg[top], kind="stable")]
                self._chunks.append(self.pts[self._top])
        yield self._chunks[0]
        if len(self._chunks) == 1 and n > len(self._chunks[0]):
            rest = np.ones(n, bool)
            rest[self._top] = False
            idx = np.flatnonzero(rest)
            self._chunks.append(self.pts[idx[np.argsort(self.neg[idx], kind="stable")]])
        yield from self._chunks[1:]


def _ranked_in_ids(ids: np.ndarray, bbox, oid: str, instance_id: int, r: int) -> _RankedPixels:
    """The ranked candidate mark centres of ``instance_id`` in the (H, W) id image; the
    object's pixels all lie in its visible ``bbox``."""
    bu0, bv0, bu1, bv1 = (int(x) for x in bbox)
    mask = ids[bv0:bv1 + 1, bu0:bu1 + 1] == instance_id
    if not mask.any():
        raise ValueError(f"ids: object {oid!r} (instance {instance_id}) has no pixel in the id image")
    step = 2 if mask.size > SUBSAMPLE_ABOVE_PX and mask[::2, ::2].any() else 1
    return _RankedPixels(mask, bu0, bv0, r, ids.shape[1], ids.shape[0], step=step)


def _candidates_from_bbox(bbox, step: float) -> np.ndarray:
    """(K, 2) float (u, v) points of a box: its centre first, then a grid by distance to it."""
    u0, v0, u1, v1 = (float(x) for x in bbox)
    cu, cv = (u0 + u1) / 2, (v0 + v1) / 2
    gu = np.arange(u0, u1 + 1e-9, step) if u1 > u0 else np.array([cu])
    gv = np.arange(v0, v1 + 1e-9, step) if v1 > v0 else np.array([cv])
    G = np.stack(np.meshgrid(gu, gv, indexing="xy"), -1).reshape(-1, 2)
    d = np.hypot(G[:, 0] - cu, G[:, 1] - cv)
    G = G[np.lexsort((G[:, 0], G[:, 1], d))]
    return np.vstack([[cu, cv], G])


def _place(chunks, placed: list[np.ndarray], r: int) -> np.ndarray:
    """The first candidate (over ``chunks``, ordered (k, 2) arrays of in-image candidates) that
    clears the placed marks; else the first of those farthest from them."""
    if not placed:
        return next(iter(chunks))[0].astype(float)
    P = np.asarray(placed)
    # Chunked so a large mask (thousands of candidates) stops at the first that clears; the
    # result equals scanning all candidates at once.
    best, best_gap = None, -1.0
    for pts in chunks:
        for s in range(0, len(pts), 512):
            gap = np.min(np.linalg.norm(pts[s:s + 512, None, :] - P[None], axis=2), axis=1)
            ok = np.nonzero(gap >= 2 * r + 2)[0]
            if len(ok):
                return pts[s + ok[0]].astype(float)
            j = int(np.argmax(gap))
            if gap[j] > best_gap:
                best, best_gap = pts[s + j], float(gap[j])
    return best.astype(float)


def _text_color(rgb) -> tuple[int, int, int]:
    lum = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return (0, 0, 0) if lum > 150 else (255, 255, 255)


def draw_marks(rgb: np.ndarray, view: View, object_ids: list[str], style: str = "number",
               rng: np.random.Generator | None = None, ids: np.ndarray | None = None,
               instance_ids: Mapping[str, int] | None = None,
               candidates: dict | None = None) -> tuple[np.ndarray, list[dict]]:
    """Draw set-of-mark prompts for ``object_ids`` on a copy of ``rgb``: :func:`draw_marks_image`
    with the image as an (H, W, 3) uint8 array."""
    out, records = draw_marks_image(rgb, view, object_ids, style, rng, ids, instance_ids, candidates)
    return np.asarray(out), records


def draw_marks_image(rgb: np.ndarray, view: View, object_ids: list[str], style: str = "number",
                     rng: np.random.Generator | None = None, ids: np.ndarray | None = None,
                     instance_ids: Mapping[str, int] | None = None,
                     candidates: dict | None = None) -> tuple[Image.Image, list[dict]]:
    """Draw set-of-mark prompts for ``object_ids`` on a copy of ``rgb``; the copy is a PIL image
    (encoders take it as it is).

    Args:
        rgb: (H, W, 3) uint8 image of ``view`` (left unchanged).
        view: the view; ``view.objects[id]["bbox_visible"]`` ([u0, v0, u1, v1] inclusive
            pixels) locates each object.
        object_ids: objects to mark, in order; mark numbers are 1..n in this order.
        style: ``number`` (a filled circle with the number at a visible point of the object) or
            ``box`` (a coloured outline of the visible box with its number in a corner).
        rng: only to shuffle the mark numbers (a random permutation of 1..n); None keeps order.
        ids: optional (H, W) int instance-id image of the view: numbered marks are then placed
            on the object's most interior visible pixel instead of its box centre.
        instance_ids: object id -> instance id; required with ``ids``.
        candidates: optional memo owned by the caller, object id -> that object's ranked
            candidate mark centres in ``ids``; pass one dict per (view, ids image) to reuse the
            search across calls on the same view (it depends on nothing else).

    Returns:
        (image, records): the marked copy (PIL RGB image, H x W) and, sorted by mark number,
        ``{"mark", "object_id", "xy": [u, v] (mark centre, pixels), "bbox": [u0, v0, u1, v1],
        "color": [r, g, b] (sRGB 0-255), "radius": px}``. Marks stay inside the image and do
        not overlap each other unless there is no room.
    """
    img = np.asarray(rgb)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"rgb: must be an (H, W, 3) uint8 image, got shape {img.shape} dtype {img.dtype}")
    if style not in STYLES:
        raise ValueError(f"style: {style!r} is not one of {STYLES}")
    if len(set(object_ids)) != len(object_ids):
        raise ValueError(f"object_ids: duplicates in {object_ids}; fix: mark each object once")
    H, W = img.shape[:2]
    r = mark_radius(W, H)
    if W < 2 * r + 1 or H < 2 * r + 1:
        raise ValueError(f"rgb: a {W}x{H} image is too small for marks of radius {r}")
    if ids is not None:
        if instance_ids is None:
            raise ValueError("instance_ids: required with ids (object id -> instance id); fix: pass "
                             "{o.id: o.instance_id for o in scene.objects}")
        if np.shape(ids) != (H, W):
            raise ValueError(f"ids: shape {np.shape(ids)} differs from the image's {(H, W)}")
    numbers = np.arange(1, len(object_ids) + 1)
    if rng is not None:
        numbers = rng.permutation(numbers)
    out = Image.fromarray(img.copy())
    draw = ImageDraw.Draw(out)
    font = _font(max(8, int(round(r * 1.25))))
    boxes = []
    for oid in object_ids:
        info = view.objects.get(oid)
        bbox = None if info is None else info.get("bbox_visible")
        if bbox is None:
            raise ValueError(f"view {view.id}: object {oid!r} has no visible pixels (bbox_visible is null or the "
                             "object is not in view.objects); fix: mark only visible objects")
        boxes.append(bbox)
    if style == "box":  # outlines first, so no outline is drawn over a label
        for bbox, num in zip(boxes, numbers.tolist()):
            draw.rectangle([float(x) for x in bbox], outline=PALETTE[(num - 1) % len(PALETTE)], width=max(2, r // 4))
    placed: list[np.ndarray] = []
    records = []
    for oid, bbox, num in zip(object_ids, boxes, numbers.tolist()):
        color = PALETTE[(num - 1) % len(PALETTE)]
        if style == "number":
            if ids is not None:
                if oid not in instance_ids:
                    raise ValueError(f"instance_ids: no entry for {oid!r}")
                ranked = None if candidates is None else candidates.get(oid)
                if ranked is None:
                    ranked = _ranked_in_ids(np.asarray(ids), bbox, oid, int(instance_ids[oid]), r)
                    if candidates is not None:
                        candidates[oid] = ranked
                chunks = ranked.chunks()
            else:
                chunks = [_in_image(_candidates_from_bbox(bbox, max(2.0, r / 2)), r, W, H)]
        else:
            u0, v0, u1, v1 = (float(x) for x in bbox)
            chunks = [_in_image(np.array([[u0 + r, v0 + r], [u1 - r, v0 + r], [u0 + r, v1 - r], [u1 - r, v1 - r],
                                          [u0 - r - 1, v0 - r - 1], [u1 + r + 1, v0 - r - 1]]), r, W, H)]
        xy = np.round(_place(chunks, placed, r))
        placed.append(xy)
        u, v = float(xy[0]), float(xy[1])
        draw.ellipse([u - r, v - r, u + r, v + r], fill=color, outline=(255, 255, 255), width=max(1, r // 6))
        draw.text((u, v), str(num), fill=_text_color(color), font=font, anchor="mm")
        records.append({"mark": int(num), "object_id": oid, "xy": [int(xy[0]), int(xy[1])],
                        "bbox": [int(x) for x in bbox], "color": list(color), "radius": r})
    records.sort(key=lambda rec: rec["mark"])
    return out, records
