"""Occlusion family: partly hidden or not, by which object, binned visible fraction, most occluded,
amodal counting, and matched unanswerable questions.

Visible fraction = renderer visible pixels / amodal pixels inside the image (docs/record.md), so
objects cut by the image border (``truncated``) are left out of occlusion questions: their
hidden part is ambiguous.

Who may hide X (:func:`occluders`): an object O that shows pixels, whose visible 2D box overlaps
X's amodal 2D box, and that either stands on X (X is in its support chain: a mug on a table
covers part of the table top, although its closest point is farther from the camera than the
table's) or is reached first by some pixel ray of that overlap R (grown by ``PAD_PX``): the ray
through the pixel centre meets both boxes and enters O's box before it leaves X's
(:func:`engine.geometry.projection.pixel_ray_box_depths`, camera-frame depths). Where O hides X
in the id image, the pixel lies in R and its ray meets O's mesh before X's, and meshes lie inside
their boxes, so every true occluder passes: the list is a superset (tests/test_qa_unambiguous.py
checks it against rendered id images; a pixel where a supporter wins the depth-buffer tie at the
face it shares with the object on it is not occlusion). Only pixel-centre rays count;
exact shortcuts decide most pairs: O's box wholly behind X's in depth, or a face plane of one box
separating the two with the camera on X's side (no ray can meet O first), or a hit among a few
probe pixels; else every 4th pixel, then every pixel is tried. Who certainly does not
(:func:`cannot_occlude`): O's amodal box misses X's amodal box, or O does not stand on X and no
ray of the overlap of the two amodal boxes reaches O first (the same test over a larger
rectangle, so such an O also fails :func:`occluders`). "By which object" is asked only when
exactly one object of the whole scene may occlude X, no open door's leaf may (:func:`door_may_hide`:
the leaf is a room part, id 0, that can stand between the camera and X), and its distractors are
visible objects that certainly do not, so no other option also hides part of X.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from engine.geometry.boxes import boxes_corners
from engine.geometry.projection import pixel_ray_box_depths, project_box, world_to_camera
from engine.qa.candidate import (Candidate, bool_candidate, capitalize, choice_candidate, count_candidate,
                                 object_choice_candidate)
from engine.qa.context import FamilyContext
from engine.qa.facts import WorldFacts
from engine.qa.refer import covered_in_view, plural
from engine.qa.schema import Template
from engine.scene.openings import door_swing_boxes

TASKS = {"partly_hidden", "occluder", "visible_fraction", "most_occluded", "amodal_count", "unanswerable"}
UNKNOWN = "cannot be determined from this view"
PAD_PX = 1  # pixel rectangles of the occlusion test are grown by this many pixels on every side
NEAR_M = 1e-3  # camera near plane (m)
DEPTH_EPS_M = 1e-7  # "nearer" must win by this much (touching faces, e.g. a mug on a table, do not)
SEP_EPS_M = 1e-7  # boxes may touch a separating plane by this much
# Corner pairs across each of a box's 6 faces (+x, -x, +y, -y, +z, -z): to - from is the face's
# outward normal and the face passes through corner ``to``.
_FACE_FROM, _FACE_TO = np.array([0, 4, 0, 2, 0, 1]), np.array([4, 0, 2, 0, 1, 0])
PROBE = 4  # the ray test first tries PROBE x PROBE pixels spread over the rectangle (a hit is final) ...
SPARSE_STEP = 4  # ... then every 4th pixel in each direction, then every pixel


def validate_template(t: Template) -> None:
    """Bins for visible_fraction must lie in (0, 1); visible-fraction thresholds must satisfy
    0 < ``params.hidden_max`` < ``params.visible_min`` <= 1."""
    if t.task == "visible_fraction":
        if not t.bins or t.bins[0] <= 0 or t.bins[-1] >= 1:
            raise t.error("bins", "visible_fraction needs bin edges strictly inside (0, 1)")
    hid, vis = float(t.param("hidden_max", 0.8)), float(t.param("visible_min", 0.97))
    if not 0 < hid < vis <= 1:
        raise t.error("params", "need 0 < hidden_max < visible_min <= 1")


def _overlap(b1: Sequence[float] | None, b2: Sequence[float] | None) -> bool:
    """Inclusive pixel boxes [u0, v0, u1, v1] overlap."""
    return b1 is not None and b2 is not None and b1[0] <= b2[2] and b2[0] <= b1[2] and b1[1] <= b2[3] and b2[1] <= b1[3]


def _stands_on(w: WorldFacts, o: str, x: str) -> bool:
    """True when ``x`` is in ``o``'s support chain (o rests on x, directly or through others)."""
    seen, cur = set(), w.support.get(o)
    while cur is not None and cur not in seen:
        if cur == x:
            return True
        seen.add(cur)
        cur = w.support.get(cur)
    return False


def _depth_facts(ctx: FamilyContext) -> tuple[np.ndarray, np.ndarray]:
    """(N, 8, 3) box corners in the camera frame (m) and (N, 2) whole-box camera depth ranges
    [z_min, z_max] (m) of this view, computed once per view."""
    cache = ctx.cache.setdefault("occlusion", {})
    if "corners" not in cache:
        v = ctx.view
        pc = world_to_camera(v.pose, _world_corners(ctx.world).reshape(-1, 3)).reshape(-1, 8, 3)
        cache["corners"] = pc
        cache["zrange"] = np.stack([pc[:, :, 2].min(axis=1), pc[:, :, 2].max(axis=1)], axis=1)
    return cache["corners"], cache["zrange"]


def _world_corners(w: WorldFacts) -> np.ndarray:
    """(N, 8, 3) world box corners (m), computed once per scene."""
    c = w.cache.get("occlusion_corners")
    if c is None:
        c = w.cache["occlusion_corners"] = boxes_corners(w.centers, w.sizes, w.rotations).reshape(-1, 8, 3)
    return c


def _face_separates(ctx: FamilyContext, o: str, x: str) -> bool:
    """True when a face plane of either box has the other box wholly on its outer side (touching
    allowed) and the camera strictly on x's side: a ray from the camera crosses the plane at most
    once, so it cannot meet o before x (a mug standing on a table, seen from above, is not hidden
    by the table)."""
    w = ctx.world
    corners = _world_corners(w)
    co, cx = corners[w.index[o]], corners[w.index[x]]
    cam = ctx.view.cam_pos
    for own, other, cam_out in ((cx, co, False), (co, cx, True)):  # faces of x, then faces of o
        n = own[_FACE_TO] - own[_FACE_FROM]  # (6, 3) outward face normals, length = box extent
        off = np.einsum("ij,ij->i", n, own[_FACE_TO])  # the box lies where n . p <= off
        tol = SEP_EPS_M * np.sqrt(np.einsum("ij,ij->i", n, n))
        apart = (other @ n.T).min(axis=0) >= off - tol  # the other box wholly outside the face
        side = n @ cam - off  # > 0: camera outside the face
        cam_ok = side > tol if cam_out else side < -tol  # camera with x: outside o's face, inside x's
        if np.any(apart & cam_ok):
            return True
    return False


def _grid(rect: Sequence[float], step: int = 1) -> np.ndarray:
    """(P, 2) pixel centres of an inclusive pixel box grown by ``PAD_PX``, every ``step``-th."""
    us = np.arange(int(np.floor(rect[0])) - PAD_PX, int(np.ceil(rect[2])) + PAD_PX + 1, step)
    vs = np.arange(int(np.floor(rect[1])) - PAD_PX, int(np.ceil(rect[3])) + PAD_PX + 1, step)
    return np.stack(np.meshgrid(us, vs), axis=-1).reshape(-1, 2)


def _ahead(zo: np.ndarray, zx: np.ndarray) -> np.ndarray:
    """Per ray ([z_in, z_out] rows of o and x): it meets both boxes and enters o's at least
    ``DEPTH_EPS_M`` before it leaves x's."""
    return (zo[..., 0] <= zo[..., 1]) & (zx[..., 0] <= zx[..., 1]) & (zo[..., 0] < zx[..., 1] - DEPTH_EPS_M)


def _ahead_of(ctx: FamilyContext, x: str, pairs: list[tuple[str, list]]) -> set[str]:
    """The objects o of ``pairs`` ((o, inclusive pixel box)) for which some pixel of the box
    (grown by ``PAD_PX``) has a ray that meets both boxes and enters o's at least ``DEPTH_EPS_M``
    before it leaves x's. Certain answers first: o wholly behind x (no), a few pixels per box (yes
    on a hit), a face plane separating the boxes with the camera on x's side (no); then every
    ``SPARSE_STEP``-th pixel, then every pixel of the box. Only pixel centres of the grown box
    are tried, so a larger box never answers no where a smaller one inside it answered yes."""
    pc, zr = _depth_facts(ctx)
    v = ctx.view
    ix = v.i(x)
    left = [(o, r) for o, r in pairs if zr[v.i(o), 0] < zr[ix, 1] - DEPTH_EPS_M]
    out = set()
    if left:  # PROBE x PROBE pixels spread over each box, all pairs in one batch
        r = np.array([b for _, b in left], dtype=float)
        f = np.linspace(0.0, 1.0, PROBE)
        u = np.round(r[:, None, 0] + f[None, :] * (r[:, 2] - r[:, 0])[:, None])  # pixel centres
        w = np.round(r[:, None, 1] + f[None, :] * (r[:, 3] - r[:, 1])[:, None])
        uv = np.stack(np.broadcast_arrays(u[:, :, None], w[:, None, :]), axis=-1).reshape(len(left), -1, 2)
        rows = [v.i(o) for o, _ in left]
        z = pixel_ray_box_depths(v.K, pc[rows + [ix] * len(left)], np.concatenate([uv, uv]), NEAR_M)
        hit = np.any(_ahead(z[:len(left)], z[len(left):]), axis=1).tolist()
        out = {o for (o, _), h in zip(left, hit) if h}
        left = [p for p, h in zip(left, hit) if not h and not _face_separates(ctx, p[0], x)]
    for step in (SPARSE_STEP, 1):
        rest = []
        for o, rect in left:
            uv = _grid(rect, step)
            z = pixel_ray_box_depths(v.K, pc[[v.i(o), ix]], uv, NEAR_M)
            if np.any(_ahead(z[0], z[1])):
                out.add(o)
            else:
                rest.append((o, rect))
        left = rest
    return out


def _rect(b1: Sequence[float] | None, b2: Sequence[float] | None) -> list | None:
    """Inclusive pixel box shared by two inclusive pixel boxes, or None."""
    if not _overlap(b1, b2):
        return None
    return [max(b1[0], b2[0]), max(b1[1], b2[1]), min(b1[2], b2[2]), min(b1[3], b2[3])]


def occluders(ctx: FamilyContext, x: str) -> list[str]:
    """Objects (scene order) that may hide part of ``x`` in this view (module doc): they show
    pixels, their visible box overlaps x's amodal box, and they stand on x or a pixel ray of that
    overlap reaches them before it leaves x. A superset of the true occluders; cached per view."""
    cache = ctx.cache.setdefault("occlusion", {}).setdefault("may", {})
    if x not in cache:
        w, v = ctx.world, ctx.view
        box = v.bbox_amodal(x)
        may, pairs = set(), []
        for o in w.ids if box is not None else ():
            if o == x or not v.present(o):
                continue
            ob = v.bbox_visible(o) if v.bbox_visible(o) is not None else v.bbox_amodal(o)
            rect = _rect(ob, box) if ob is not None else None
            if ob is None or (rect is not None and _stands_on(w, o, x)):
                may.add(o)  # extent unknown, or standing on x and overlapping it
            elif rect is not None:
                pairs.append((o, rect))
        may |= _ahead_of(ctx, x, pairs)
        cache[x] = [o for o in w.ids if o in may]
    return cache[x]


def door_may_hide(ctx: FamilyContext, x: str) -> bool:
    """True when an open door's leaf (a room part, not an object) may hide part of ``x`` in this
    view: the box it swings in (engine.scene.openings.door_swing_boxes) projects onto x's amodal
    box (both grown by one pixel) and its nearest corner is nearer the camera than x's farthest.
    "By which object" is then not asked about x: the hidden part may be the door's."""
    boxes = door_swing_boxes(ctx.scene.room)
    if not boxes:
        return False
    v = ctx.view
    bx = v.bbox_amodal(x)
    if bx is None:
        return True
    x_far = float(world_to_camera(v.pose, ctx.world.boxes[v.i(x)].corners)[:, 2].max())
    for b in boxes:
        p = project_box(v.K, v.pose, b, v.width, v.height)
        if p is None:
            continue
        u0, v0, u1, v1 = p["bbox"]
        grown = [u0 - 1, v0 - 1, u1 + 1, v1 + 1]
        if _overlap(grown, bx) and float(world_to_camera(v.pose, b.corners)[:, 2].min()) < x_far:
            return True
    return False


def cannot_occlude(ctx: FamilyContext, o: str, x: str) -> bool:
    """True when ``o`` certainly hides no part of ``x`` in this view (module doc): o's amodal box
    misses x's amodal box, or o does not stand on x and no pixel ray of the overlap of the two
    amodal boxes reaches o before it leaves x. The test of :func:`occluders` on a larger
    rectangle, so it implies ``o not in occluders(ctx, x)``."""
    v = ctx.view
    if o == x:
        return False
    bo = v.bbox_amodal(o) if v.bbox_amodal(o) is not None else v.bbox_visible(o)
    bx = v.bbox_amodal(x)
    if bx is None or (bo is None and v.present(o)):
        return False  # extents unknown: nothing is certain
    rect = _rect(bo, bx)
    if rect is None:
        return True
    return not (_stands_on(ctx.world, o, x) or _ahead_of(ctx, x, [(o, rect)]))


def _targets(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[str]:
    """Non-truncated objects showing at least min_visible_pixels (shuffled, capped)."""
    v = ctx.view
    px = ctx.min_pixels(t)
    ids = [o for o in ctx.world.ids if v.vis_px[v.i(o)] >= px and not v.truncated[v.i(o)]
           and v.amodal_px[v.i(o)] > 0]
    lim = int(ctx.cfg["balancing"]["max_candidates"])
    return [ids[int(k)] for k in rng.permutation(len(ids))[:lim]]


def _pct(f: float) -> str:
    """A fraction in [0, 1] as a whole percentage (``0.42`` -> ``42%``)."""
    return f"{100 * f:.0f}%"


def _partly_hidden(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    v = ctx.view
    hid, vis = float(t.param("hidden_max", 0.8)), float(t.param("visible_min", 0.97))
    out = []
    for x in _targets(ctx, t, rng):
        f = v.vis_frac[v.i(x)]
        if f >= vis:
            truth = False
        elif f <= hid and occluders(ctx, x):
            truth = True
        else:
            continue
        refs = ctx.refer(t, [x], rng)
        if refs is None:
            continue
        why = (f"{_pct(f)} of {refs[0]}'s silhouette is visible, so it is "
               f"{'partly hidden by something in front of it' if truth else 'not hidden'}.")
        why = capitalize(why)
        out.append(bool_candidate(ctx, t, rng, {"A": refs[0]}, refs, truth, why))
    return out


def _occluder(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    """Which object hides part of X? Asked when exactly one object of the scene may occlude X
    (:func:`occluders`) and it is visible enough; the distractors are visible objects that
    certainly do not occlude X (:func:`cannot_occlude`), so no other option is also right,
    taken first from those nearer to the camera than X (as the occluder is)."""
    v = ctx.view
    hid = float(t.param("hidden_max", 0.8))
    k = int(t.constraints.get("num_options", 3))
    visible = ctx.referents(t)
    out = []
    for x in _targets(ctx, t, rng):
        if v.vis_frac[v.i(x)] > hid:
            continue
        occ = occluders(ctx, x)
        if len(occ) != 1 or occ[0] not in visible or door_may_hide(ctx, x):
            continue
        o = occ[0]
        others = [d for d in visible if d not in (x, o)]
        # plausible distractors first: objects nearer to the camera than x, as an occluder is
        # (a random order within each group), so "the option nearest the camera" is no cue
        order = [others[int(i)] for i in rng.permutation(len(others))]
        nearer = v.cam_dist[v.i(x)]
        order.sort(key=lambda d: v.cam_dist[v.i(d)] >= nearer)  # stable: random within groups
        dis = []  # the first k - 1 that certainly do not occlude x
        for d in order:
            if len(dis) == k - 1:
                break
            if cannot_occlude(ctx, d, x):
                dis.append(d)
        if len(dis) < k - 1:
            continue
        refs = ctx.refer(t, [x, o] + dis, rng)
        if refs is None:
            continue
        ix = v.i(x)
        how = ("stands on it and overlaps it in the image" if _stands_on(ctx.world, o, x) else
               "overlaps it in the image and is nearer to the camera there")
        why = (f"Only {_pct(v.vis_frac[ix])} of {refs[0]} is visible; {refs[1]} {how}, and it is the only object "
               f"that does, so {refs[1]} hides part of it.")
        why = capitalize(why)
        out.append(object_choice_candidate(ctx, t, rng, {"A": refs[0]}, refs, [o] + dis, o, why))
    return out


def _bin_labels(edges: Sequence[float]) -> list[str]:
    """Labels of the bins that fraction ``edges`` (increasing, inside (0, 1)) cut [0, 1] into."""
    pts = [0.0] + list(edges) + [1.0]
    return [f"{100 * a:.0f}-{100 * b:.0f}%" for a, b in zip(pts, pts[1:])]


def _visible_fraction(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    v = ctx.view
    edges = np.asarray(t.bins)
    labels = _bin_labels(t.bins)
    m = ctx.margin(t, "min_bin_edge")
    out = []
    for x in _targets(ctx, t, rng):
        f = v.vis_frac[v.i(x)]
        if np.min(np.abs(edges - f)) < m:
            continue
        b = int(np.searchsorted(edges, f, side="right"))
        refs = ctx.refer(t, [x], rng)
        if refs is None:
            continue
        why = (f"{v.vis_px[v.i(x)]} of the {v.amodal_px[v.i(x)]} pixels {refs[0]} would cover are visible, "
               f"i.e. {_pct(f)}, which falls in {labels[b]}.")
        why = capitalize(why)
        out.append(choice_candidate(ctx, t, rng, {"A": refs[0]}, refs, labels, b, why,
                                    answer_key=labels[b], answer_space=tuple(labels)))
    return out


def _most_occluded(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    v = ctx.view
    k = int(t.constraints.get("num_options", 3))
    ids = [o for o in ctx.referents(t) if not v.truncated[v.i(o)]]
    out = []
    for tup in ctx.tuples(ids, k, rng):
        f = [v.vis_frac[v.i(o)] for o in tup]
        order = np.argsort(f, kind="stable")
        if f[order[1]] - f[order[0]] < ctx.margin(t, "min_fraction_diff"):
            continue
        refs = ctx.refer(t, sorted(tup, key=ctx.world.index.get), rng)
        if refs is None:
            continue
        win = tup[int(order[0])]
        parts = ", ".join(f"{refs.names[refs.ids.index(o)]} {_pct(v.vis_frac[v.i(o)])}" for o in refs.ids)
        why = f"Visible fractions: {parts}; {refs.names[refs.ids.index(win)]} shows the least, so it is the most hidden."
        out.append(object_choice_candidate(ctx, t, rng, {}, refs, list(refs.ids), win, why))
    return out


def _amodal_count(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    """Count a category's instances in the frame, including partly hidden ones. Asked only when
    every instance in the frame shows >= min_visible_pixels (none hidden completely), at least
    one is partly hidden (visible fraction <= hidden_max) and no object of a category the name
    covers shows (catalog ``covers``: "tables" while a coffee table shows is ambiguous)."""
    w, v = ctx.world, ctx.view
    px = ctx.min_pixels(t)
    hid = float(t.param("hidden_max", 0.8))
    out = []
    for c, members in w.by_category.items():  # categories in order of first appearance
        inst = [o for o in members if v.amodal_px[v.i(o)] > 0 or v.present(o)]
        if not inst or any(v.vis_px[v.i(o)] < px for o in inst) or covered_in_view(w, c, [v]):
            continue
        hidden = [o for o in inst if v.vis_frac[v.i(o)] <= hid]
        if not hidden:
            continue
        noun = plural(w.name[inst[0]], ctx.cfg["lexicon"])
        n = len(inst)
        if n == 1:
            why = f"1 {w.name[inst[0]]} appears in the image; it is partly hidden but still counts, so the answer is 1."
        else:
            k = len(hidden)
            why = (f"{n} {noun} appear in the image; {k} of them {'is' if k == 1 else 'are'} partly hidden but "
                   f"still count{'s' if k == 1 else ''}, so the answer is {n}.")
        cand = count_candidate(ctx, t, rng, {"C": noun}, None, n, why)
        cand.objects = list(inst)
        cand.context_key = (c,)
        out.append(cand)
    return out


def _unanswerable(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    """Left/right between A and B, named uniquely in the whole scene: yes/no when both are visible
    enough (margin as relations.left_right), UNKNOWN when one of them shows no pixel at all."""
    w, v = ctx.world, ctx.view
    vis = ctx.referents(t)
    min_dx = ctx.margin(t, "min_image_dx") * v.width
    absent = [o for o in w.ids if not v.present(o)]
    out = []
    pairs = list(ctx.tuples(vis, 2, rng))
    for a in absent:
        for b in vis:
            pairs.append((a, b) if rng.random() < 0.5 else (b, a))
    lim = int(ctx.cfg["balancing"]["max_candidates"])
    for j in rng.permutation(len(pairs))[:lim]:
        a, b = pairs[int(j)]
        refs = ctx.refer(t, [a, b], rng)
        if refs is None or refs.marks is not None:
            continue
        opts = ["yes", "no", UNKNOWN]
        missing = [r for o, r in zip((a, b), refs.names) if not v.present(o)]
        if missing:
            correct = 2
            why = f"{missing[0]} does not appear in this view, so its position relative to the other cannot be determined."
        else:
            ua, ub = v.uv[v.i(a), 0], v.uv[v.i(b), 0]
            if abs(ua - ub) < min_dx:
                continue
            correct = 0 if ua < ub else 1
            why = (f"Both are visible: {refs[0]} projects to x = {ua:.0f} px and {refs[1]} to x = {ub:.0f} px, so "
                   f"{refs[0]} is {'left' if ua < ub else 'right'} of {refs[1]}.")
        why = capitalize(why)
        out.append(choice_candidate(ctx, t, rng, {"A": refs[0], "B": refs[1]}, refs, opts, correct, why,
                                    answer_key=opts[correct], answer_space=tuple(opts)))
    return out


_DISPATCH = {"partly_hidden": _partly_hidden, "occluder": _occluder, "visible_fraction": _visible_fraction,
             "most_occluded": _most_occluded, "amodal_count": _amodal_count, "unanswerable": _unanswerable}


def generate(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    """Candidates of occlusion template ``t`` on ``ctx.view`` (definitions in the module doc: visible
    fractions in [0, 1] of the in-image amodal pixels, pixel boxes inclusive)."""
    return _DISPATCH[t.task](ctx, t, rng)
