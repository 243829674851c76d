"""Relations family: viewer-relative and world relations between objects.

Definitions (docs/conventions.md): left/right compare the projected image x of box centres;
in front/behind compare camera-to-object distance (closest box point); above/below compare
world z, asked only when the z ranges do not overlap; taller compares box heights, bigger box
volumes; next to / far apart threshold the closest-point distance; on top of / under use the
recorded support relation; 8-way direction and clock hours are bearings of centre B from
centre A in the floor plane, measured clockwise from the camera's heading (ahead = away from
the camera, 12 o'clock = ahead).
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from engine.qa import priors
from engine.qa.candidate import (Candidate, bool_candidate, capitalize, choice_candidate, fmt_value,
                                 object_choice_candidate, text_candidate)
from engine.qa.context import FamilyContext
from engine.qa.facts import WorldFacts
from engine.qa.refer import Refs
from engine.qa.schema import Template

TASKS = {"left_right", "front_behind", "above_below", "closest_to_camera", "closest_to_anchor", "taller",
         "bigger", "next_to", "on_top", "support", "direction8", "clock"}

CLOCK_HOURS = tuple(f"{h} o'clock" for h in range(1, 13))
DIRECTIONS8 = ("farther away", "farther away and to the right", "to the right", "closer and to the right",
               "closer to the camera", "closer and to the left", "to the left", "farther away and to the left")


def validate_template(t: Template) -> None:
    """Check the answer type and the params each task reads (``polarity``, ``near`` < ``far`` in m,
    ``extreme``)."""
    if t.task in ("left_right", "front_behind", "taller", "bigger") and t.answer_type not in ("bool", "choice"):
        raise t.error("answer_type", f"{t.task} is asked as bool or choice")
    if t.task in ("left_right", "front_behind", "above_below", "taller", "bigger", "next_to", "on_top"):
        pol = t.param("polarity", None)
        if pol is not None and not isinstance(pol, str):
            raise t.error("params.polarity", "must be a string")
    if t.task == "next_to":
        near, far = t.param("near"), t.param("far")
        if not (isinstance(near, (int, float)) and isinstance(far, (int, float)) and 0 <= near < far):
            raise t.error("params", "next_to needs params.near < params.far (metres)")
    if t.task in ("closest_to_camera", "closest_to_anchor") and t.param("extreme", "min") not in ("min", "max"):
        raise t.error("params.extreme", "must be min (closest) or max (farthest)")


def _m(x: float) -> str:
    """A length in metres as text (``1.20 m``)."""
    return fmt_value(x, "m")


def _pairs(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> Iterator[tuple[str, str, Refs]]:
    """Ordered pairs of referents with their refs (None-skipping)."""
    for a, b in ctx.tuples(ctx.referents(t), 2, rng):
        refs = ctx.refer(t, [a, b], rng)
        if refs is not None:
            yield a, b, refs


def _compare(ctx: FamilyContext, t: Template, rng: np.random.Generator,
             a: str, b: str, refs: Refs, first_is_more: bool, why: str) -> Candidate:
    """bool ("Is A <more> than B?") or choice ("Which is <more>, A or B?") from a comparison."""
    if t.answer_type == "bool":
        return bool_candidate(ctx, t, rng, {"A": refs[0], "B": refs[1]}, refs, first_is_more, why)
    winner = a if first_is_more else b
    return object_choice_candidate(ctx, t, rng, {"A": refs[0], "B": refs[1]}, refs, [a, b], winner, why)


def _left_right(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    v, index = ctx.view, ctx.world.index
    u = v.rows.u  # projected centre columns (px), NaN behind the camera
    out = []
    min_dx = ctx.margin(t, "min_image_dx") * v.width
    want_left = t.param("polarity", "left") == "left"
    for a, b, refs in _pairs(ctx, t, rng):
        ua, ub = u[index[a]], u[index[b]]
        if not (math.isfinite(ua) and math.isfinite(ub)) or abs(ua - ub) < min_dx:
            continue
        a_left = ua < ub
        side = "left" if a_left else "right"
        why = (f"In the image the centre of {refs[0]} projects to x = {ua:.0f} px and that of {refs[1]} to "
               f"x = {ub:.0f} px, so {refs[0]} is to the {side} of {refs[1]}.")
        if t.answer_type == "bool":
            truth = a_left if want_left else not a_left
            out.append(bool_candidate(ctx, t, rng, {"A": refs[0], "B": refs[1]}, refs, truth, why))
        else:
            winner = a if a_left == want_left else b
            out.append(object_choice_candidate(ctx, t, rng, {"A": refs[0], "B": refs[1]}, refs, [a, b], winner, why))
    return out


def _front_behind(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    index, dist = ctx.world.index, ctx.view.rows.cam_dist
    out = []
    for a, b, refs in _pairs(ctx, t, rng):
        da, db = dist[index[a]], dist[index[b]]
        if not ctx.clears(t, da, db):
            continue
        a_closer = da < db
        near_, far_ = (refs[0], refs[1]) if a_closer else (refs[1], refs[0])
        why = (f"{refs[0]} is {_m(da)} from the camera and {refs[1]} is {_m(db)}, so {near_} is closer to "
               f"the camera than {far_}.")
        why = capitalize(why)
        truth = a_closer if t.param("polarity", "front") == "front" else not a_closer
        out.append(_compare(ctx, t, rng, a, b, refs, truth, why))
    return out


def _above_below(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    w = ctx.world
    zmin, zmax, centers = w.rows.zmin, w.rows.zmax, w.rows.centers
    out = []
    for a, b, refs in _pairs(ctx, t, rng):
        if not priors.either_above(ctx.catalog, w.category[a], w.category[b]):
            continue  # the categories decide it (a table is never above a lamp)
        ia, ib = w.index[a], w.index[b]
        if zmin[ia] >= zmax[ib] - 1e-6:
            a_above = True
        elif zmin[ib] >= zmax[ia] - 1e-6:
            a_above = False
        else:
            continue  # z ranges overlap: neither is clearly above
        if abs(centers[ia][2] - centers[ib][2]) < ctx.margin(t, "min_abs_diff"):
            continue
        hi, lo = (0, 1) if a_above else (1, 0)
        zr = [(zmin[ia], zmax[ia]), (zmin[ib], zmax[ib])]
        why = (f"{refs[0]} spans heights {zr[0][0]:.2f}-{zr[0][1]:.2f} m and {refs[1]} spans "
               f"{zr[1][0]:.2f}-{zr[1][1]:.2f} m, so {refs[hi]} is above {refs[lo]}.")
        why = capitalize(why)
        truth = a_above if t.param("polarity", "above") == "above" else not a_above
        out.append(bool_candidate(ctx, t, rng, {"A": refs[0], "B": refs[1]}, refs, truth, why))
    return out


def _size_compare(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    w = ctx.world
    sizes, volume = w.rows.sizes, w.rows.volume
    out = []
    cat = ctx.catalog
    for a, b, refs in _pairs(ctx, t, rng):
        ca, cb = w.category[a], w.category[b]
        if t.task == "taller":
            if not priors.either_taller(cat, ca, cb, lambda x, y: ctx.clears(t, x, y)):
                continue  # the categories decide which is taller
        elif not priors.either_bigger(cat, ca, cb, ctx.margin(t, "min_ratio")):
            continue
        ia, ib = w.index[a], w.index[b]
        if t.task == "taller":
            va, vb = sizes[ia][2], sizes[ib][2]
            if not ctx.clears(t, va, vb):
                continue
            why = (f"{refs[0]} is {_m(va)} tall and {refs[1]} is {_m(vb)} tall, so "
                   f"{refs[0] if va > vb else refs[1]} is taller.")
        else:
            va, vb = volume[ia], volume[ib]
            if max(va, vb) < ctx.margin(t, "min_ratio") * min(va, vb):
                continue
            why = (f"{refs[0]} has a box volume of {va:.3f} cubic meters and {refs[1]} {vb:.3f} cubic meters, so "
                   f"{refs[0] if va > vb else refs[1]} is bigger.")
        why = capitalize(why)
        truth = va > vb if t.param("polarity", "more") == "more" else va < vb
        out.append(_compare(ctx, t, rng, a, b, refs, truth, why))
    return out


def _extreme(ctx: FamilyContext, t: Template, rng: np.random.Generator, anchor: bool) -> list[Candidate]:
    """Which of k objects is closest (min) / farthest (max) from the camera or an anchor."""
    w, v = ctx.world, ctx.view
    index, cam_dist = w.index, v.rows.cam_dist
    k = int(t.constraints.get("num_options", 3))
    ids = ctx.referents(t)
    out = []
    for tup in ctx.tuples(ids, k + (1 if anchor else 0), rng):
        if anchor:
            x, opts = tup[0], list(tup[1:])
            d = [w.distance(x, o) for o in opts]
        else:
            x, opts = None, list(tup)
            d = [cam_dist[index[o]] for o in opts]
        order = sorted(range(len(d)), key=d.__getitem__)  # = np.argsort(d, kind="stable")
        if t.param("extreme", "min") == "max":
            order = order[::-1]
        best, second = d[order[0]], d[order[1]]
        if not ctx.clears(t, best, second):
            continue
        refs = ctx.refer(t, ([x] if anchor else []) + sorted(opts, key=w.index.get), rng)
        if refs is None:
            continue
        opts = list(refs.ids[1:] if anchor else refs.ids)
        d = [w.distance(x, o) if anchor else cam_dist[index[o]] for o in opts]
        win = opts[d.index(min(d) if t.param("extreme", "min") == "min" else max(d))]  # first, as np.argmin/argmax
        target = f"{refs[0]}" if anchor else "the camera"
        parts = ", ".join(f"{refs.names[refs.ids.index(o)]} {_m(di)}" for o, di in zip(opts, d))
        word = "closest to" if t.param("extreme", "min") == "min" else "farthest from"
        why = f"Distances to {target}: {parts}; so {refs.names[refs.ids.index(win)]} is {word} {target}."
        slots = {"X": refs[0]} if anchor else {}
        out.append(object_choice_candidate(ctx, t, rng, slots, refs, opts, win, why))
    return out


def _next_to(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    w = ctx.world
    near, far = float(t.param("near")), float(t.param("far"))
    out = []
    for a, b, refs in _pairs(ctx, t, rng):
        d = w.distance(a, b)
        if near < d < far or b in _support_chain(w, a) or a in _support_chain(w, b):
            continue  # in the gap, or one stands on the other (then "next to" is the wrong word)
        is_near = d <= near
        why = (f"The closest points of {refs[0]} and {refs[1]} are {_m(d)} apart, "
               f"{'within' if is_near else 'beyond'} {_m(near if is_near else far)}, so they are "
               f"{'next to each other' if is_near else 'far apart'}.")
        if t.answer_type == "bool":
            out.append(bool_candidate(ctx, t, rng, {"A": refs[0], "B": refs[1]}, refs, is_near, why))
        else:
            opts = ["next to each other", "far apart"]
            out.append(choice_candidate(ctx, t, rng, {"A": refs[0], "B": refs[1]}, refs, opts, 0 if is_near else 1,
                                        why, answer_key=opts[0 if is_near else 1], answer_space=tuple(opts)))
    return out


def _support_chain(w: WorldFacts, oid: str) -> list[str]:
    """Ids under ``oid``: its supporter, the supporter's supporter, ... (stops at a repeat)."""
    chain, cur = [], w.support.get(oid)
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = w.support.get(cur)
    return chain


def _on_top(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    """Is A on top of B (B under A)? Yes: A's recorded support is B. No: B is a surface that is not
    in A's support chain (so "on" cannot be read loosely) and A is not supported by anything on B."""
    w, cat = ctx.world, ctx.catalog
    out = []
    for a, b, refs in _pairs(ctx, t, rng):
        if w.category[b] not in cat or not cat[w.category[b]].surface:
            continue
        if not priors.can_stand_on(cat, w.category[a], w.category[b]):
            continue  # "no" would follow from the categories (a chair never stands on a table)
        chain = _support_chain(w, a)
        if w.support.get(a) == b:
            truth = True
        elif b in chain or a in _support_chain(w, b):
            continue
        else:
            truth = False
        sup = w.support.get(a)
        on = f"on {refs[1]}" if truth else ("on the floor" if sup is None else "on another object")
        why = f"{refs[0]} rests {on}{'' if truth else ', not on ' + refs[1]}."
        why = capitalize(why)
        out.append(bool_candidate(ctx, t, rng, {"A": refs[0], "B": refs[1]}, refs, truth, why))
    return out


def _support(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    """What is A standing on? Options: its direct supporter (or the floor) and other visible
    surfaces that A does not rest on, even through others (the rest of its support chain is never
    an option), and that do not rest on A. The floor stays an option for objects on furniture:
    "standing on the floor" means directly."""
    w, cat = ctx.world, ctx.catalog
    ids = ctx.referents(t)
    surfaces = [o for o in ids if w.category[o] in cat and cat[w.category[o]].surface]
    k = int(t.constraints.get("num_options", 3))
    out = []
    limit = int(ctx.cfg["balancing"]["max_candidates"])
    for j in rng.permutation(len(ids))[:limit]:
        a = ids[int(j)]
        if ctx.world.by_id[a].on_wall:
            continue
        sup = w.support.get(a)
        if sup is not None and sup not in ids:
            continue  # the supporter is not visible enough to be an option
        # every option is a place the catalog lets A stand, so no option is ruled out by its name
        floor = priors.can_stand_on(cat, w.category[a], "floor")
        if sup is None and not floor:
            continue
        # No distractor may also be right: not A's supporter nor anything under it (a mug on a book
        # on the table also rests on the table), nor anything resting on A.
        chain = _support_chain(w, a)
        others = [s for s in surfaces if s != a and s not in chain and a not in _support_chain(w, s)
                  and priors.can_stand_on(cat, w.category[a], w.category[s])]
        n_other = k - (1 if sup is not None else 0) - (1 if floor else 0)
        others = [others[int(i)] for i in rng.permutation(len(others))][:n_other]
        opts_ids = ([sup] if sup is not None else []) + others
        if len(opts_ids) + int(floor) < k:
            continue
        refs = ctx.refer(t, [a] + opts_ids, rng)
        if refs is None:
            continue
        names = [refs.names[refs.ids.index(o)] for o in opts_ids] + (["the floor"] if floor else [])
        keys = [refs.keys[refs.ids.index(o)] for o in opts_ids] + (["floor"] if floor else [])
        correct = 0 if sup is not None else len(names) - 1
        why = f"{refs[0]} rests on {names[correct]}."
        why = capitalize(why)
        if len(set(keys)) != len(keys):
            keys = names
        # balanced as floor vs an object (within A's category: "a mug stands on a surface" is a
        # prior); which object is balanced by the option keys
        c = choice_candidate(ctx, t, rng, {"A": refs[0]}, refs, names, correct, why,
                             answer_key="floor" if sup is None else "object",
                             answer_space=("floor", "object") if floor else None)
        c.option_keys = tuple(keys)
        out.append(c)
    return out


def _bearings(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> Iterator[tuple[str, str, Refs, float]]:
    """(a, b, refs, bearing_deg) for pairs whose footprints are at least params.min_separation apart."""
    w, v = ctx.world, ctx.view
    sep = float(t.param("min_separation", 0.2))
    bearing = ctx.cache.setdefault("relations_bearing", {})  # (a, b) -> degrees, shared by the templates
    for a, b, refs in _pairs(ctx, t, rng):
        if w.horizontal_distance(a, b) < sep:
            continue
        brg = bearing.get((a, b))
        if brg is None:
            ia, ib = w.index[a], w.index[b]
            brg = bearing[(a, b)] = v.topdown_bearing_deg(w.centers[ia, :2], w.centers[ib, :2])
        yield a, b, refs, brg


def _direction8(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    out = []
    k = int(t.constraints.get("num_options", 4))
    half = 22.5 - ctx.margin(t, "min_angle_deg")
    for a, b, refs, brg in _bearings(ctx, t, rng):
        r = np.round(brg / 45.0)
        sector = int(r) % 8
        off = brg - 45.0 * r
        if abs(off) > half:
            continue
        label = DIRECTIONS8[sector]
        why = (f"Seen from above, with the camera's viewing direction as 'farther away', the direction from "
               f"{refs[0]} to {refs[1]} is {abs(brg):.0f} degrees {'clockwise' if brg >= 0 else 'counter-clockwise'} "
               f"from straight ahead, which is '{label}'.")
        slots = {"A": refs[0], "B": refs[1]}
        if t.answer_type == "choice":
            others = [d for d in DIRECTIONS8 if d != label]
            pick = [others[int(i)] for i in rng.permutation(len(others))[: k - 1]]
            out.append(choice_candidate(ctx, t, rng, slots, refs, [label] + pick, 0, why,
                                        answer_key=label, answer_space=DIRECTIONS8))
        else:
            out.append(text_candidate(ctx, t, rng, slots, refs, label, why, answer_key=label,
                                      answer_space=DIRECTIONS8))
    return out


def _clock(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    out = []
    half = 15.0 - ctx.margin(t, "min_angle_deg")
    space = CLOCK_HOURS
    for a, b, refs, brg in _bearings(ctx, t, rng):
        r = np.round(brg / 30.0)
        h = int(r) % 12
        off = brg - 30.0 * r
        if abs(off) > half:
            continue
        label = f"{12 if h == 0 else h} o'clock"
        turn = f"{abs(brg):.0f} degrees {'clockwise' if brg >= 0 else 'counter-clockwise'}"
        why = (f"Standing at {refs[0]} facing the camera's viewing direction (12 o'clock), {refs[1]} lies "
               f"{turn} from straight ahead; each hour is 30 degrees, so it is at {label}.")
        slots = {"A": refs[0], "B": refs[1]}
        if t.answer_type == "choice":
            k = int(t.constraints.get("num_options", 4))
            others = [s for s in space if s != label]
            pick = [others[int(i)] for i in rng.permutation(len(others))[: k - 1]]
            out.append(choice_candidate(ctx, t, rng, slots, refs, [label] + pick, 0, why,
                                        answer_key=label, answer_space=space))
        else:
            out.append(text_candidate(ctx, t, rng, slots, refs, label, why, answer_key=label, answer_space=space))
    return out


_DISPATCH = {
    "left_right": _left_right, "front_behind": _front_behind, "above_below": _above_below,
    "taller": _size_compare, "bigger": _size_compare, "next_to": _next_to, "on_top": _on_top,
    "support": _support, "direction8": _direction8, "clock": _clock,
    "closest_to_camera": lambda c, t, r: _extreme(c, t, r, anchor=False),
    "closest_to_anchor": lambda c, t, r: _extreme(c, t, r, anchor=True),
}


def generate(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    """Candidates of relations template ``t`` on ``ctx.view`` (definitions in the module doc: image x
    in pixels, distances and heights in m, bearings in degrees in the floor plane)."""
    return _DISPATCH[t.task](ctx, t, rng)
