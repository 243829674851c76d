"""Occlusion family: partly hidden or not, by which object, binned visible fraction, most occluded,
amodal counting, and matched unanswerable questions.

Visible fraction = renderer visible pixels / amodal pixels inside the image (docs/record.md), so
objects cut by the image border (``truncated``) are left out of occlusion questions: their
hidden part is ambiguous. The occluder of X is found from geometry: an object whose visible 2D
box overlaps X's amodal 2D box and that is nearer to the camera (closest point and centre
depth both smaller); a "by which object" question is asked only when exactly one object of
the whole scene qualifies.
"""

from __future__ import annotations

import numpy as np

from engine.qa.candidate import bool_candidate, choice_candidate, count_candidate, object_choice_candidate
from engine.qa.refer import plural

TASKS = {"partly_hidden", "occluder", "visible_fraction", "most_occluded", "amodal_count", "unanswerable"}
UNKNOWN = "cannot be determined from this view"


def validate_template(t) -> None:
    """Bins for visible_fraction must lie in (0, 1); thresholds in params must be ordered."""
    if t.task == "visible_fraction":
        if not t.bins or t.bins[0] <= 0 or t.bins[-1] >= 1:
            raise t.error("bins", "visible_fraction needs bin edges strictly inside (0, 1)")
    hid, vis = float(t.param("hidden_max", 0.8)), float(t.param("visible_min", 0.97))
    if not 0 < hid < vis <= 1:
        raise t.error("params", "need 0 < hidden_max < visible_min <= 1")


def _overlap(b1, b2) -> bool:
    """Inclusive pixel boxes [u0, v0, u1, v1] overlap."""
    return b1 is not None and b2 is not None and b1[0] <= b2[2] and b2[0] <= b1[2] and b1[1] <= b2[3] and b2[1] <= b1[3]


def occluders(ctx, x: str) -> list[str]:
    """Objects (scene order) whose visible box overlaps x's amodal box and that are nearer than x."""
    v = ctx.view
    ix = v.i(x)
    box = v.bbox_amodal(x)
    out = []
    for o in ctx.world.ids:
        if o == x or not v.present(o):
            continue
        io = v.i(o)
        if v.cam_dist[io] < v.cam_dist[ix] and v.cam_xyz[io, 2] < v.cam_xyz[ix, 2] and _overlap(v.bbox_visible(o), box):
            out.append(o)
    return out


def _targets(ctx, t, rng):
    """Non-truncated objects showing at least min_visible_pixels (shuffled, capped)."""
    v = ctx.view
    px = ctx.min_pixels(t)
    ids = [o for o in ctx.world.ids if v.vis_px[v.i(o)] >= px and not v.truncated[v.i(o)]
           and v.amodal_px[v.i(o)] > 0]
    lim = int(ctx.cfg["balancing"]["max_candidates"])
    return [ids[int(k)] for k in rng.permutation(len(ids))[:lim]]


def _pct(f: float) -> str:
    return f"{100 * f:.0f}%"


def _partly_hidden(ctx, t, rng):
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
        why = why[0].upper() + why[1:]
        out.append(bool_candidate(ctx, t, rng, {"A": refs[0]}, refs, truth, why))
    return out


def _occluder(ctx, t, rng):
    v = ctx.view
    hid = float(t.param("hidden_max", 0.8))
    k = int(t.constraints.get("num_options", 3))
    visible = ctx.referents(t)
    out = []
    for x in _targets(ctx, t, rng):
        if v.vis_frac[v.i(x)] > hid:
            continue
        occ = occluders(ctx, x)
        if len(occ) != 1 or occ[0] not in visible:
            continue
        o = occ[0]
        pool = [d for d in visible if d not in (x, o)]
        if len(pool) < k - 1:
            continue
        dis = [pool[int(i)] for i in rng.permutation(len(pool))[: k - 1]]
        refs = ctx.refer(t, [x, o] + dis, rng)
        if refs is None:
            continue
        io, ix = v.i(o), v.i(x)
        why = (f"Only {_pct(v.vis_frac[ix])} of {refs[0]} is visible; {refs[1]} overlaps it in the image and is "
               f"nearer to the camera ({v.cam_dist[io]:.2f} m vs {v.cam_dist[ix]:.2f} m), so {refs[1]} hides part of it.")
        why = why[0].upper() + why[1:]
        out.append(object_choice_candidate(ctx, t, rng, {"A": refs[0]}, refs, [o] + dis, o, why))
    return out


def _bin_labels(edges) -> list[str]:
    pts = [0.0] + list(edges) + [1.0]
    return [f"{100 * a:.0f}-{100 * b:.0f}%" for a, b in zip(pts, pts[1:])]


def _visible_fraction(ctx, t, rng):
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
        why = why[0].upper() + why[1:]
        out.append(choice_candidate(ctx, t, rng, {"A": refs[0]}, refs, labels, b, why,
                                    answer_key=labels[b], answer_space=tuple(labels)))
    return out


def _most_occluded(ctx, t, rng):
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


def _amodal_count(ctx, t, rng):
    """Count a category's instances in the frame, including partly hidden ones. Asked only when
    every instance in the frame shows >= min_visible_pixels (none hidden completely) and at least
    one is partly hidden (visible fraction <= hidden_max)."""
    w, v = ctx.world, ctx.view
    px = ctx.min_pixels(t)
    hid = float(t.param("hidden_max", 0.8))
    out = []
    for c, members in w.by_category.items():  # categories in order of first appearance
        inst = [o for o in members if v.amodal_px[v.i(o)] > 0 or v.present(o)]
        if not inst or any(v.vis_px[v.i(o)] < px for o in inst):
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


def _unanswerable(ctx, t, rng):
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
        why = why[0].upper() + why[1:]
        out.append(choice_candidate(ctx, t, rng, {"A": refs[0], "B": refs[1]}, refs, opts, correct, why,
                                    answer_key=opts[correct], answer_space=tuple(opts)))
    return out


_DISPATCH = {"partly_hidden": _partly_hidden, "occluder": _occluder, "visible_fraction": _visible_fraction,
             "most_occluded": _most_occluded, "amodal_count": _amodal_count, "unanswerable": _unanswerable}


def generate(ctx, t, rng) -> list:
    """Candidates of occlusion template ``t`` on ``ctx.view`` (definitions in the module doc)."""
    return _DISPATCH[t.task](ctx, t, rng)
