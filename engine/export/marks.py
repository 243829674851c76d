"""Set-of-mark visual prompts: numbered circles or coloured boxes drawn on a copy of an image.

Questions can then refer to "mark 2" instead of describing the object. Pixel coordinates are
image (u, v) = (column, row) with pixel centres at integers (docs/conventions.md); boxes are
the view's inclusive ``bbox_visible`` [u0, v0, u1, v1].

A mark never hides the object it names: the pixels a call draws (discs, digits, leader lines)
cover at most ``max_cover`` of any marked object's visible pixels (its pixels in the id image;
without one, its visible box). A mark sits inside its object when it fits under that share;
else it shrinks (down to :func:`min_mark_radius`); else it goes beside the object, clear of
its visible pixels, with a one-pixel leader line to the object's most interior visible pixel.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Mapping

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy.ndimage import distance_transform_edt

from engine.scene.graph import View

STYLES = ("number", "box")
DEFAULT_MAX_COVER = 0.5  # the default of qa.refer.mark_max_cover (conf/qa/default.yaml)
# Distinct, readable mark colours (sRGB), after Sasha Trubetskoy's list of 20 distinct colours.
PALETTE = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
           (240, 50, 230), (210, 245, 60), (255, 225, 25), (0, 128, 128), (170, 110, 40), (128, 0, 0),
           (250, 190, 212), (170, 255, 195), (128, 128, 0), (0, 0, 128), (220, 190, 255), (255, 215, 180))


LEADER_MIN_PX = 6  # a mark beside its object leaves at least this much leader line visible


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def mark_radius(width: int, height: int) -> int:
    """Radius in pixels of a numbered mark for an image of ``width`` x ``height``."""
    return max(7, int(round(0.028 * min(width, height))))


def min_mark_radius(width: int, height: int) -> int:
    """Smallest radius (pixels) a mark shrinks to so as not to hide a small object: 1.2% of the
    shorter side, at least 6 px (a 13 px disc whose digits are drawn 8 px high), at most
    :func:`mark_radius` (6 at 512 x 512, where marks are 14)."""
    return min(mark_radius(width, height), max(6, int(round(0.012 * min(width, height)))))


def _font_size(r: int) -> int:
    """Font size (px) of the number on a mark of radius ``r``."""
    return max(8, int(round(r * 1.25)))


@lru_cache(maxsize=512)
def _stamp(r: int, text: str) -> tuple[np.ndarray, int, int]:
    """Every pixel a numbered mark of radius ``r`` showing ``text`` may change (disc, outline and
    digits, which may spill over a small disc): (mask (h, w) bool, du, dv), mask[0, 0] lying at
    (du, dv) from the mark centre. Drawn once on a blank canvas; PIL draws the same pixels at
    any integer centre."""
    R = 3 * r + 16
    im = Image.new("L", (2 * R + 1, 2 * R + 1), 0)
    draw = ImageDraw.Draw(im)
    draw.ellipse([R - r, R - r, R + r, R + r], fill=255, outline=255, width=max(1, r // 6))
    draw.text((R, R), text, fill=255, font=_font(_font_size(r)), anchor="mm")
    a = np.asarray(im) > 0
    vs, us = np.nonzero(a)
    v0, v1, u0, u1 = vs.min(), vs.max(), us.min(), us.max()
    mask = a[v0:v1 + 1, u0:u1 + 1].copy()
    mask.flags.writeable = False
    return mask, int(u0) - R, int(v0) - R


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
    ``step`` > 1 takes every step-th row and column of ``mask`` (pixels (u0, v0) + step * k).
    ``core``: (2,) the most interior of those pixels before the image-border filter (the end of
    a leader line); ``region``: the object's pixels (:class:`_Region`, set by _ranked_in_ids)."""

    def __init__(self, mask: np.ndarray, u0: int, v0: int, r: int, width: int, height: int, head: int = 256,
                 step: int = 1):
        sub = mask[::step, ::step]
        h, w = sub.shape
        padded = np.zeros((h + 2, w + 2), bool)  # np.pad(sub, 1): the border counts as outside
        padded[1:-1, 1:-1] = sub
        vs, us = np.nonzero(sub)  # (v, u) order
        dist = distance_transform_edt(padded)[vs + 1, us + 1]
        pu, pv = us * step + u0, vs * step + v0
        j = int(np.argmax(dist)) if len(dist) else -1  # first maximum: (v, u) ties
        self.core = np.array([pu[j], pv[j]], float) if j >= 0 else None
        # As _in_image, keeping the distances in step: the mark stays inside the image when its
        # centre lies in [r, width - 1 - r] x [r, height - 1 - r] (integer pixels here).
        if not (u0 >= r and v0 >= r and u0 + step * (w - 1) <= width - 1 - r and v0 + step * (h - 1) <= height - 1 - r):
            inside = (pu >= r) & (pu <= width - 1 - r) & (pv >= r) & (pv <= height - 1 - r)
            if inside.any():
                pu, pv, dist = pu[inside], pv[inside], dist[inside]
                pts = np.stack([pu, pv], 1).astype(float)
            else:
                lo, hi = _mark_bounds(r, width, height)
                pts = np.clip(np.stack([pu, pv], 1).astype(float), lo, hi)
        else:
            pts = np.stack([pu, pv], 1).astype(float)
        self.pts = pts
        self.neg = -dist
        self.head = head
        self._chunks: list[np.ndarray] = []
        self.region: _Region | None = None

    def first(self) -> np.ndarray:
        """(2,) the first candidate of :meth:`chunks` (the most interior; ties: first in (v, u)
        order), without ranking the rest."""
        if self._chunks:
            return self._chunks[0][0]
        return self.pts[int(np.argmin(self.neg))]  # first minimum, as a stable sort puts it first

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
    ranked = _RankedPixels(mask, bu0, bv0, r, ids.shape[1], ids.shape[0], step=step)
    ranked.region = _Region(mask, bu0, bv0)
    return ranked


class _Region:
    """The pixels a mark must not hide: ``mask`` (h, w) bool with its top-left pixel at (u0, v0);
    ``n`` pixels. Keeps the object's beside-the-object candidates (per radius) once found."""

    def __init__(self, mask: np.ndarray, u0: int, v0: int):
        self.mask, self.u0, self.v0 = mask, int(u0), int(v0)
        self.h, self.w = mask.shape
        self.n = int(np.count_nonzero(mask))
        self.beside: dict[tuple[int, bool], np.ndarray] = {}

    def hits(self, us: np.ndarray, vs: np.ndarray) -> np.ndarray:
        """(K,) bool: which of the pixels (us, vs) (int arrays) belong to the region."""
        lu, lv = us - self.u0, vs - self.v0
        out = (lu >= 0) & (lu < self.w) & (lv >= 0) & (lv < self.h)
        out[out] = self.mask[lv[out], lu[out]]
        return out


class _BoxTarget:
    """Without an id image: the visible box stands in for the object's pixels (a superset of
    them, so a budget kept on the box is kept on the object); candidates as given."""

    def __init__(self, bbox, cands: np.ndarray):
        u0, v0, u1, v1 = (int(round(float(x))) for x in bbox)
        self.region = _Region(np.ones((v1 - v0 + 1, u1 - u0 + 1), bool), u0, v0)
        self.core = np.array([(u0 + u1) // 2, (v0 + v1) // 2], float)
        self._cands = cands

    def first(self) -> np.ndarray:
        return self._cands[0]

    def chunks(self):
        yield self._cands


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
        for s, e in _blocks(len(pts)):
            # = np.min(np.linalg.norm(d, axis=2), axis=1): norm squares and adds the two
            # coordinates, and the square root keeps the order, so the least is the same
            d = pts[s:e, None, :] - P[None]
            gap = np.sqrt((d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1]).min(axis=1))
            ok = np.nonzero(gap >= 2 * r + 2)[0]
            if len(ok):
                return pts[s + ok[0]].astype(float)
            j = int(np.argmax(gap))
            if gap[j] > best_gap:
                best, best_gap = pts[s + j], float(gap[j])
    return best.astype(float)


def _blocks(n: int) -> list[tuple[int, int]]:
    """[start, end) blocks covering 0..n: 16 first (the top candidates mostly clear the placed
    marks), then 512 at a time."""
    return ([(0, min(n, 16))] if n else []) + [(s, min(n, s + 512)) for s in range(16, n, 512)]


def _text_color(rgb) -> tuple[int, int, int]:
    lum = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return (0, 0, 0) if lum > 150 else (255, 255, 255)


def _beside_candidates(region: _Region, target: np.ndarray, r: int, width: int, height: int,
                       whole: bool) -> np.ndarray:
    """(K, 2) float mark centres whose disc of radius ``r`` stays inside the image and at least
    r + 1 + ``LEADER_MIN_PX`` px from every pixel of ``region`` (so the leader line shows) (searched within 2r + 4 px of the region's box, or
    over the whole image when ``whole``), nearest to ``target`` first (ties by v, then u)."""
    key = (r, whole)
    if key in region.beside:
        return region.beside[key]
    m = max(width, height) if whole else 2 * r + 4 + LEADER_MIN_PX
    wu0, wv0 = max(0, region.u0 - m), max(0, region.v0 - m)
    wu1, wv1 = min(width - 1, region.u0 + region.w - 1 + m), min(height - 1, region.v0 + region.h - 1 + m)
    local = np.zeros((wv1 - wv0 + 1, wu1 - wu0 + 1), bool)
    local[region.v0 - wv0:region.v0 - wv0 + region.h, region.u0 - wu0:region.u0 - wu0 + region.w] = region.mask
    far = distance_transform_edt(~local) >= r + 1 + LEADER_MIN_PX  # the region's pixels all lie in the window
    far[:max(0, r - wv0), :] = False  # keep the disc inside the image
    far[:, :max(0, r - wu0)] = False
    far[max(0, height - r - wv0):, :] = False
    far[:, max(0, width - r - wu0):] = False
    vs, us = np.nonzero(far)
    us, vs = us + wu0, vs + wv0
    d2 = (us - target[0]) ** 2 + (vs - target[1]) ** 2
    order = np.lexsort((us, vs, d2))
    out = region.beside[key] = np.stack([us[order], vs[order]], 1).astype(float)
    return out


def _leader(xy: np.ndarray, target: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """(us, vs) int pixels of a one-pixel line from just outside the disc at ``xy`` (radius
    ``r``) to ``target``, in order from the disc; empty when the target lies under the disc."""
    d = target - xy
    length = float(np.hypot(*d))
    if length <= r + 1:
        return np.zeros(0, int), np.zeros(0, int)
    start = xy + d / length * (r + 1)
    n = int(np.ceil(2 * (length - r - 1))) + 1
    pts = np.rint(start + (target - start) * np.linspace(0.0, 1.0, n)[:, None]).astype(int)
    keep = np.ones(len(pts), bool)
    keep[1:] = np.any(pts[1:] != pts[:-1], axis=1)
    pts = pts[keep]
    return pts[:, 0], pts[:, 1]


class _Piece:
    """Pixels a mark draws, as a bool ``mask`` (h, w) whose [0, 0] is image pixel (u0, v0); all
    inside the image."""

    __slots__ = ("mask", "u0", "v0")

    def __init__(self, mask: np.ndarray, u0: int, v0: int):
        self.mask, self.u0, self.v0 = mask, u0, v0

    @classmethod
    def disc(cls, xy: np.ndarray, r: int, text: str, width: int, height: int) -> "_Piece":
        """The pixels of a mark of radius ``r`` showing ``text`` centred at ``xy``, cut to the image."""
        m, du, dv = _stamp(r, text)
        u0, v0 = int(xy[0]) + du, int(xy[1]) + dv
        h, w = m.shape
        a, b = max(0, -u0), max(0, -v0)
        m = m[b:max(b, min(h, height - v0)), a:max(a, min(w, width - u0))]
        return cls(m, u0 + a, v0 + b)

    @classmethod
    def pixels(cls, us: np.ndarray, vs: np.ndarray) -> "_Piece":
        """Pixels (us, vs) (int arrays, in the image; at least one) as a piece."""
        u0, v0 = int(us.min()), int(vs.min())
        m = np.zeros((int(vs.max()) - v0 + 1, int(us.max()) - u0 + 1), bool)
        m[vs - v0, us - u0] = True
        return cls(m, u0, v0)

    def covers(self, us: np.ndarray, vs: np.ndarray) -> np.ndarray:
        """(K,) bool: which of the pixels (us, vs) (int arrays) the piece draws."""
        h, w = self.mask.shape
        lu, lv = us - self.u0, vs - self.v0
        out = (lu >= 0) & (lu < w) & (lv >= 0) & (lv < h)
        out[out] = self.mask[lv[out], lu[out]]
        return out

    def count(self, g: _Region, where: np.ndarray | None = None) -> int:
        """Pixels of region ``g`` under the piece (only where ``where``, a mask like the piece's, is true)."""
        h, w = self.mask.shape
        a0, a1 = max(self.u0, g.u0), min(self.u0 + w, g.u0 + g.w)
        b0, b1 = max(self.v0, g.v0), min(self.v0 + h, g.v0 + g.h)
        if a0 >= a1 or b0 >= b1:
            return 0
        m = (self.mask if where is None else where)[b0 - self.v0:b1 - self.v0, a0 - self.u0:a1 - self.u0]
        return int(np.count_nonzero(m & g.mask[b0 - g.v0:b1 - g.v0, a0 - g.u0:a1 - g.u0]))


class _Budget:
    """What the marks drawn so far cover of each marked object's pixels, and what each may cover
    (``max_cover`` x its pixel count)."""

    def __init__(self, regions: list[_Region], max_cover: float, height: int, width: int):
        self.regions = regions
        self.limit = np.array([max_cover * g.n for g in regions], float)
        self.used = np.zeros(len(regions), int)
        self.drawn = np.zeros((height, width), bool)

    def _fresh(self, p: _Piece) -> np.ndarray:
        h, w = p.mask.shape
        return p.mask & ~self.drawn[p.v0:p.v0 + h, p.u0:p.u0 + w]

    def gains(self, *pieces: _Piece, fresh: np.ndarray | None = None) -> np.ndarray:
        """(n_regions,) pixels of each region that drawing ``pieces`` (disjoint) would newly cover;
        ``fresh``: ``_fresh(pieces[0])`` when the caller has it (one piece)."""
        out = np.zeros(len(self.regions), int)
        for p in pieces:
            if fresh is None or len(pieces) > 1:
                fresh = self._fresh(p)
            for k, g in enumerate(self.regions):
                out[k] += p.count(g, fresh)
        return out

    def fits(self, gains: np.ndarray) -> bool:
        """True when adding ``gains`` keeps every region within its limit."""
        return bool((self.used + gains <= self.limit + 1e-9).all())

    def own_fits(self, k: int, p: _Piece, fresh: np.ndarray | None = None) -> bool:
        """True when ``p`` alone keeps region ``k`` within its limit (a quick first test);
        ``fresh``: ``_fresh(p)`` when the caller has it."""
        return self.used[k] + p.count(self.regions[k], self._fresh(p) if fresh is None else fresh) \
            <= self.limit[k] + 1e-9

    def take(self, gains: np.ndarray, *pieces: _Piece) -> None:
        self.used += gains
        for p in pieces:
            h, w = p.mask.shape
            self.drawn[p.v0:p.v0 + h, p.u0:p.u0 + w] |= p.mask


def _beside(target_obj, k: int, text: str, placed: list[np.ndarray], r: int, budget: _Budget, width: int,
            height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A mark of radius ``r`` beside object ``k``: (xy, leader us, leader vs) or None, the
    budget updated.

    The first candidate of :func:`_beside_candidates` (near search, then the whole image) whose
    disc covers none of the object's pixels, whose disc and leader keep every marked object
    within its budget, and that clears the placed marks by 2r + 2 px; failing that, the same
    search without the clearance, farthest from the placed marks first. The leader ends at the
    object's most interior pixel, or earlier where the object's own budget runs out."""
    region, core = budget.regions[k], np.asarray(target_obj.core, float)
    P = np.asarray(placed, float).reshape(-1, 2)

    def attempt(xy):
        disc = _Piece.disc(xy, r, text, width, height)
        if disc.count(region):
            return None
        g = budget.gains(disc)
        if not budget.fits(g):
            return None
        lu, lv = _leader(xy, core, r)
        keep = ~disc.covers(lu, lv)  # the line starts at the disc's rim
        lu, lv = lu[keep], lv[keep]
        own = region.hits(lu, lv) & ~budget.drawn[lv, lu]
        room = int(np.floor(budget.limit[k] - budget.used[k] - g[k] + 1e-9))
        if int(own.sum()) > room:  # too small an object even for the line: stop it at the budget
            cut = int(np.searchsorted(np.cumsum(own), room, side="right"))
            lu, lv = lu[:cut], lv[:cut]
        pieces = (disc,) if not len(lu) else (disc, _Piece.pixels(lu, lv))
        g = budget.gains(*pieces)
        if not budget.fits(g):
            return None
        budget.take(g, *pieces)
        return xy, lu, lv

    def positions():
        """Candidate centres in the order they are tried (computed lazily)."""
        for whole in (False, True):
            cands = _beside_candidates(region, core, r, width, height, whole)
            gaps = []
            for s in range(0, len(cands), 512):  # in rank order, those clear of the placed marks
                chunk = cands[s:s + 512]
                gap = (np.min(np.linalg.norm(chunk[:, None, :] - P[None], axis=2), axis=1) if len(P)
                       else np.full(len(chunk), np.inf))
                gaps.append(gap)
                for j in np.flatnonzero(gap >= 2 * r + 2).tolist():
                    yield chunk[j]
            if len(P) and len(cands):  # nothing clears the placed marks: farthest from them first
                gap = np.concatenate(gaps)
                for j in np.argsort(-gap, kind="stable").tolist():
                    if gap[j] < 2 * r + 2:
                        yield cands[j]

    for tries, xy in enumerate(positions()):
        if tries >= 2000:
            return None
        found = attempt(xy)
        if found is not None:
            return found
    return None


def draw_marks(rgb: np.ndarray, view: View, object_ids: list[str], style: str = "number",
               rng: np.random.Generator | None = None, ids: np.ndarray | None = None,
               instance_ids: Mapping[str, int] | None = None,
               candidates: dict | None = None, max_cover: float = DEFAULT_MAX_COVER) -> tuple[np.ndarray, list[dict]]:
    """Draw set-of-mark prompts for ``object_ids`` on a copy of ``rgb``: :func:`draw_marks_image`
    with the image as an (H, W, 3) uint8 array."""
    out, records = draw_marks_image(rgb, view, object_ids, style, rng, ids, instance_ids, candidates, max_cover)
    return np.asarray(out), records


def draw_marks_image(rgb: np.ndarray, view: View, object_ids: list[str], style: str = "number",
                     rng: np.random.Generator | None = None, ids: np.ndarray | None = None,
                     instance_ids: Mapping[str, int] | None = None,
                     candidates: dict | None = None,
                     max_cover: float = DEFAULT_MAX_COVER) -> tuple[Image.Image, list[dict]]:
    """Draw set-of-mark prompts for ``object_ids`` on a copy of ``rgb``; the copy is a PIL image
    (encoders take it as it is).

    Args:
        rgb: (H, W, 3) uint8 image of ``view``, or the same image as a PIL RGB image (a caller
            marking one view several times converts it once); left unchanged.
        view: the view; ``view.objects[id].bbox_visible`` ([u0, v0, u1, v1] inclusive
            pixels) locates each object.
        object_ids: objects to mark, in order; mark numbers are 1..n in this order.
        style: ``number`` (a filled circle with the number at a visible point of the object) or
            ``box`` (a coloured outline just outside the visible box, with its number at a corner).
        rng: only to shuffle the mark numbers (a random permutation of 1..n); None keeps order.
        ids: optional (H, W) int instance-id image of the view: numbered marks are then placed
            on the object's most interior visible pixel instead of its box centre, and the
            object's pixels (not its box) are what a mark may cover.
        instance_ids: object id -> instance id; required with ``ids``.
        candidates: optional memo owned by the caller, object id -> that object's ranked
            candidate mark centres and pixels in ``ids``; pass one dict per (view, ids image) to
            reuse the search across calls on the same view (it depends on nothing else).
        max_cover: in [0, 1], the most of any marked object's visible pixels (its box without
            ``ids``) that the discs, digits and leader lines of this call may cover together
            (``qa.refer.mark_max_cover``). A mark goes at its usual place (most interior pixel,
            box centre, box corner) at full radius when that keeps every budget; else at the
            largest radius down to :func:`min_mark_radius` that does; else beside the object at
            full radius, on the nearest position (to the object's most interior pixel) where
            the disc covers none of the object's pixels, with a one-pixel leader line in the
            mark colour to that most interior pixel. Box outlines lie outside their box and are
            not counted.

    Returns:
        (image, records): the marked copy (PIL RGB image, H x W) and, sorted by mark number,
        ``{"mark", "object_id", "xy": [u, v] (mark centre, pixels), "bbox": [u0, v0, u1, v1],
        "color": [r, g, b] (sRGB 0-255), "radius": px (as drawn), "placement": "inside" |
        "beside", "leader": [u, v] (end of the leader line) or None, "cover": share of the
        object's visible pixels this mark newly covers}``. Marks stay inside the image and do
        not overlap each other unless there is no room. Deterministic.
    """
    if isinstance(rgb, Image.Image):  # a PIL image made once per view by the caller: copied, not converted
        if rgb.mode != "RGB":
            raise ValueError(f"rgb: a PIL image must be in mode RGB, got {rgb.mode}")
        img, (W, H) = None, rgb.size
    else:
        img = np.asarray(rgb)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(f"rgb: must be an (H, W, 3) uint8 image, got shape {img.shape} dtype {img.dtype}")
        H, W = img.shape[:2]
    if style not in STYLES:
        raise ValueError(f"style: {style!r} is not one of {STYLES}")
    if len(set(object_ids)) != len(object_ids):
        raise ValueError(f"object_ids: duplicates in {object_ids}; fix: mark each object once")
    if isinstance(max_cover, bool) or not isinstance(max_cover, (int, float)) or not 0.0 <= max_cover <= 1.0:
        raise ValueError(f"max_cover: must be a number in [0, 1], got {max_cover!r}; fix: set qa.refer.mark_max_cover "
                         f"(default {DEFAULT_MAX_COVER})")
    r = mark_radius(W, H)
    r_min = min_mark_radius(W, H)
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
    boxes = []
    for oid in object_ids:
        info = view.objects.get(oid)
        bbox = None if info is None else info.bbox_visible
        if bbox is None:
            raise ValueError(f"view {view.id}: object {oid!r} has no visible pixels (bbox_visible is null or the "
                             "object is not in view.objects); fix: mark only visible objects")
        boxes.append(bbox)
    # Every marked object's pixels and usual mark positions (ranked), before any is placed.
    targets = []
    for oid, bbox in zip(object_ids, boxes):
        if style == "box":
            u0, v0, u1, v1 = (float(x) for x in bbox)
            corners = _in_image(np.array([[u0 + r, v0 + r], [u1 - r, v0 + r], [u0 + r, v1 - r], [u1 - r, v1 - r],
                                          [u0 - r - 1, v0 - r - 1], [u1 + r + 1, v0 - r - 1]]), r, W, H)
        if ids is not None:
            if oid not in instance_ids:
                raise ValueError(f"instance_ids: no entry for {oid!r}")
            ranked = None if candidates is None else candidates.get(oid)
            if ranked is None:
                ranked = _ranked_in_ids(np.asarray(ids), bbox, oid, int(instance_ids[oid]), r)
                if candidates is not None:
                    candidates[oid] = ranked
            targets.append(ranked if style == "number" else _Corners(ranked, corners))
        else:
            targets.append(_BoxTarget(bbox, _in_image(_candidates_from_bbox(bbox, max(2.0, r / 2)), r, W, H)
                                      if style == "number" else corners))
    budget = _Budget([t.region for t in targets], float(max_cover), H, W)
    placed: list[np.ndarray] = []
    marks = []  # (xy, radius, leader us, leader vs, placement, cover)
    for k, (target, num) in enumerate(zip(targets, numbers.tolist())):
        text = str(num)
        # The first mark takes the top candidate: found without ranking the rest.
        xy = np.round(_place(target.chunks(), placed, r) if placed else target.first().astype(float))
        mark = None
        for rad in range(r, r_min - 1, -1):  # inside, shrinking as far as needed
            disc = _Piece.disc(xy, rad, text, W, H)
            fresh = budget._fresh(disc)
            if not budget.own_fits(k, disc, fresh):
                continue
            g = budget.gains(disc, fresh=fresh)
            if budget.fits(g):
                budget.take(g, disc)
                mark = (xy, rad, np.zeros(0, int), np.zeros(0, int), "inside", g[k])
                break
        if mark is None:
            before = budget.used[k]
            found = _beside(target, k, text, placed, r, budget, W, H)
            if found is not None:
                mark = (found[0], r, found[1], found[2], "beside", budget.used[k] - before)
            else:  # no room anywhere (an image hardly larger than a mark): the smallest mark inside
                disc = _Piece.disc(xy, r_min, text, W, H)
                g = budget.gains(disc)
                budget.take(g, disc)
                mark = (xy, r_min, np.zeros(0, int), np.zeros(0, int), "inside", g[k])
        placed.append(mark[0])
        marks.append(mark)
    out = rgb.copy() if img is None else Image.fromarray(img)  # a new image either way; ``rgb`` is left as it is
    draw = ImageDraw.Draw(out)
    for (xy, rad, lu, lv, _, _), num in zip(marks, numbers.tolist()):
        if len(lu):  # leader lines first, under every disc (one pixel each, in the mark colour)
            draw.point(list(zip(lu.tolist(), lv.tolist())), fill=PALETTE[(num - 1) % len(PALETTE)])
    if style == "box":  # outlines next (just outside each box: they hide none of its pixels)
        wd = max(2, r // 4)
        for bbox, num in zip(boxes, numbers.tolist()):
            u0, v0, u1, v1 = (float(x) for x in bbox)
            draw.rectangle([u0 - wd, v0 - wd, u1 + wd, v1 + wd], outline=PALETTE[(num - 1) % len(PALETTE)], width=wd)
    records = []
    for oid, bbox, num, (xy, rad, lu, lv, placement, cover), target in zip(object_ids, boxes, numbers.tolist(),
                                                                          marks, targets):
        color = PALETTE[(num - 1) % len(PALETTE)]
        u, v = float(xy[0]), float(xy[1])
        painted = _painted(rad, num)
        if painted is not None and _paste(out, painted, int(u), int(v)):
            pass  # the pixels the two calls below draw there, pasted
        else:
            _draw_mark(draw, u, v, rad, num)
        n = target.region.n
        records.append({"mark": int(num), "object_id": oid, "xy": [int(xy[0]), int(xy[1])],
                        "bbox": [int(x) for x in bbox], "color": list(color), "radius": int(rad),
                        "placement": placement, "leader": [int(lu[-1]), int(lv[-1])] if len(lu) else None,
                        "cover": round(float(cover) / n, 4) if n else 0.0})
    records.sort(key=lambda rec: rec["mark"])
    return out, records


def _draw_mark(draw: ImageDraw.ImageDraw, u: float, v: float, rad: int, num: int) -> None:
    """Draw mark ``num`` of radius ``rad`` centred at (u, v): disc with outline, then its number."""
    color = PALETTE[(num - 1) % len(PALETTE)]
    draw.ellipse([u - rad, v - rad, u + rad, v + rad], fill=color, outline=(255, 255, 255), width=max(1, rad // 6))
    draw.text((u, v), str(num), fill=_text_color(color), font=_font(_font_size(rad)), anchor="mm")


@lru_cache(maxsize=256)
def _painted(rad: int, num: int) -> tuple[Image.Image, Image.Image, int, int] | None:
    """What :func:`_draw_mark` paints at an integer centre, when that does not depend on the
    pixels below: (RGB patch, "1" mask of the painted pixels, du, dv), the patch's top-left
    pixel lying at (du, dv) from the centre; None when some pixel is blended with the
    background (digits spilling anti-aliased over the edge of a small disc).

    Drawn once on black and once on white: a pixel that differs from its background on either
    is painted, and it is independent of the background when both drawings agree there. PIL
    draws the same pixels at any integer centre (the disc and the glyphs shift by whole pixels)."""
    R = 3 * rad + 16
    out = []
    for bg in (0, 255):
        im = Image.new("RGB", (2 * R + 1, 2 * R + 1), (bg, bg, bg))
        _draw_mark(ImageDraw.Draw(im), float(R), float(R), rad, num)
        out.append(np.asarray(im))
    black, white = out
    painted = np.any(black != 0, axis=2) | np.any(white != 255, axis=2)
    if not np.array_equal(black[painted], white[painted]):
        return None
    vs, us = np.nonzero(painted)
    v0, v1, u0, u1 = int(vs.min()), int(vs.max()), int(us.min()), int(us.max())
    patch = Image.fromarray(np.ascontiguousarray(black[v0:v1 + 1, u0:u1 + 1]))
    mask = Image.fromarray(np.ascontiguousarray(painted[v0:v1 + 1, u0:u1 + 1]))  # mode "1"
    return patch, mask, u0 - R, v0 - R


def _paste(out: Image.Image, painted: tuple, u: int, v: int) -> bool:
    """Paste a :func:`_painted` mark centred at integer (u, v) when it lies wholly inside ``out``;
    False (nothing done) otherwise."""
    patch, mask, du, dv = painted
    x0, y0 = u + du, v + dv
    if x0 < 0 or y0 < 0 or x0 + patch.width > out.width or y0 + patch.height > out.height:
        return False
    out.paste(patch, (x0, y0), mask)
    return True


class _Corners:
    """Box style with an id image: the box's corner positions, and the object's pixels and most
    interior pixel from its ranked search."""

    def __init__(self, ranked: _RankedPixels, corners: np.ndarray):
        self.region, self.core, self._cands = ranked.region, ranked.core, corners

    def first(self) -> np.ndarray:
        return self._cands[0]

    def chunks(self):
        yield self._cands
