"""Measurement family: distances, sizes, elevation and room dimensions (metres, square metres).

Definitions (docs/conventions.md): object-object distance between closest points; camera-object
distance from the camera centre to the closest box point; sizes are box extents: height = z
extent, length / width = longer / shorter horizontal extent, longest side = largest extent.
Elevation = height of the box bottom above the floor. Vertical distance = gap between the
bottom of the higher object and the top of the lower one; horizontal distance = distance
between the floor footprints.
"""

from __future__ import annotations

import numpy as np

from engine.qa.candidate import Candidate, fmt_value, number_candidate, numeric_choice_candidate, capitalize
from engine.qa.context import FamilyContext
from engine.qa.refer import Refs
from engine.qa.schema import Template

TASKS = {"object_distance", "camera_distance", "height", "length", "width", "longest_side", "elevation",
         "vertical_distance", "horizontal_distance", "room_length", "room_width", "floor_area"}
PAIR_TASKS = {"object_distance", "vertical_distance", "horizontal_distance"}
ROOM_TASKS = {"room_length", "room_width", "floor_area"}


def validate_template(t: Template) -> None:
    """``params.ratio`` (choice ladders) must exceed 1.05; answers are number or choice."""
    if float(t.param("ratio", 1.5)) <= 1.05:
        raise t.error("params.ratio", "must be > 1.05 so the choice values are distinct")
    if t.answer_type not in ("number", "choice"):
        raise t.error("answer_type", "measurement answers are number or choice")


def _emit(ctx: FamilyContext, t: Template, rng: np.random.Generator, slots: dict[str, str], refs: Refs | None,
          value: float, rationale: str, min_value: float) -> Candidate | None:
    if value < min_value:
        return None
    dec = int(ctx.cfg["decimals"])
    if t.answer_type == "number":
        return number_candidate(ctx, t, rng, slots, refs, value, rationale, decimals=dec)
    c = numeric_choice_candidate(ctx, t, rng, slots, refs, value, rationale, decimals=dec)
    if c is None or len(set(c.options)) < len(c.options):
        return None  # a small value: two ladder steps round to the same text, so two options would be right
    return c


def _single_value(ctx: FamilyContext, t: Template, oid: str) -> tuple[float, str] | None:
    """(value, rationale sentence pieces) for single-object tasks, or None when not askable."""
    w, v = ctx.world, ctx.view
    i = w.index[oid]
    sx, sy, sz = w.sizes[i]
    task = t.task
    if task == "camera_distance":
        return v.cam_dist[i], "the closest point of {obj} is {val} from the camera centre"
    if task == "height":
        return sz, "the box of {obj} is {val} tall (its z extent)"
    if task in ("length", "width"):
        lo, hi = sorted((sx, sy))
        if hi - lo < ctx.margin(t, "min_rel_diff") * hi:  # nearly square: length vs width is unclear
            return None
        return (hi if task == "length" else lo), ("the footprint of {obj} is {a} by {b}, so its " + task + " is {val}").format(
            a=fmt_value(hi, "m"), b=fmt_value(lo, "m"), obj="{obj}", val="{val}")
    if task == "longest_side":
        ext = sorted((sx, sy, sz))
        if ext[2] - ext[1] < ctx.margin(t, "min_rel_diff") * ext[2]:
            return None
        return ext[2], "the box of {obj} has extents {e}; the longest is {val}".format(
            e=", ".join(fmt_value(x, "m") for x in (sx, sy, sz)), obj="{obj}", val="{val}")
    if task == "elevation":
        z0 = w.zmin[i]
        if z0 < ctx.margin(t, "min_abs_diff"):  # resting on the floor: a trivial 0
            return None
        return z0, "the bottom of {obj} is at z = {val}, its height above the floor"
    raise ValueError(task)


def generate(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    """Candidates of measurement template ``t`` on ``ctx.view`` (see module doc for definitions);
    values in m (m2 for floor_area), world frame except camera_distance (camera centre)."""
    w = ctx.world
    dec = int(ctx.cfg["decimals"])
    min_value = float(t.param("min_value", 0.0))
    out = []
    if t.task in ROOM_TASKS:
        room = ctx.scene.room
        if room.type not in t.constraints.get("room_types", ["room"]):
            return []
        sx, sy = float(room.size[0]), float(room.size[1])
        hi, lo = max(sx, sy), min(sx, sy)
        if t.task == "floor_area":
            val = sx * sy
            why = f"The room is {fmt_value(hi, 'm', dec)} by {fmt_value(lo, 'm', dec)}, so its floor area is " \
                  f"{fmt_value(hi, 'm', dec)} x {fmt_value(lo, 'm', dec)} = {fmt_value(val, 'm2', dec)}."
        else:
            if hi - lo < ctx.margin(t, "min_rel_diff") * hi:
                return []
            val = hi if t.task == "room_length" else lo
            why = f"The floor measures {fmt_value(hi, 'm', dec)} by {fmt_value(lo, 'm', dec)}; " \
                  f"the {'longer' if t.task == 'room_length' else 'shorter'} side is {fmt_value(val, 'm', dec)}."
        c = _emit(ctx, t, rng, {}, None, val, why, min_value)
        c.frame = "world"
        return [c]
    ids = ctx.referents(t)
    if t.task in PAIR_TASKS:
        for a, b in ctx.tuples(ids, 2, rng):
            if t.task == "object_distance":
                dxy, dz = w.horizontal_distance(a, b), w.vertical_gap(a, b)
                val = w.distance(a, b)
                why = (f"Seen from above their footprints are {fmt_value(dxy, 'm', dec)} apart and their height ranges "
                       f"are {fmt_value(dz, 'm', dec)} apart, so the closest points are "
                       f"sqrt({dxy:.{dec}f}^2 + {dz:.{dec}f}^2) = {fmt_value(val, 'm', dec)} apart.")
            elif t.task == "horizontal_distance":
                val = w.horizontal_distance(a, b)
                why = f"Seen from above, the closest points of the footprints of the first and the second are {fmt_value(val, 'm', dec)} apart."
            else:  # vertical_distance: a's bottom above b's top
                ia, ib = w.index[a], w.index[b]
                val = w.zmin[ia] - w.zmax[ib]
                if val < ctx.margin(t, "min_abs_diff"):
                    continue
                why = (f"The bottom of the first is at {fmt_value(w.zmin[ia], 'm', dec)} and the top of the second at "
                       f"{fmt_value(w.zmax[ib], 'm', dec)}, so the gap is {fmt_value(val, 'm', dec)}.")
            refs = ctx.refer(t, [a, b], rng)
            if refs is None:
                continue
            why = why.replace("the first", refs[0]).replace("the second", refs[1])
            why = capitalize(why)
            c = _emit(ctx, t, rng, {"A": refs[0], "B": refs[1]}, refs, val, why, min_value)
            if c is not None:
                out.append(c)
        return out
    limit = int(ctx.cfg["balancing"]["max_candidates"])
    for k in rng.permutation(len(ids))[:limit]:
        oid = ids[int(k)]
        got = _single_value(ctx, t, oid)
        if got is None:
            continue
        val, tmpl = got
        refs = ctx.refer(t, [oid], rng)
        if refs is None:
            continue
        why = tmpl.format(obj=refs[0], val=fmt_value(val, "m", dec)) + "."
        why = capitalize(why)
        c = _emit(ctx, t, rng, {"A": refs[0]}, refs, val, why, min_value)
        if c is not None:
            c.frame = "world" if t.task != "camera_distance" else "camera"
            out.append(c)
    return out
