"""Perspective family: standing at A facing B, an object's own point of view, depth cues.

Bearings are measured on the floor plane between box centres (world x, y metres), counter-
clockwise positive (left), 0 = straight ahead; see :func:`engine.qa.egomotion.planar_bearing`.
An answer is emitted only when its bearing is at least ``min_angle_deg`` from every sector
boundary of the task (0 and 180 for left/right, +-90 for front/behind, all four for quadrants).
Depth order (camera distance to the closest box point) is tagged by the image-height cue: the
farther object's projected centre lower in the image by ``min_image_dv`` pixels or more is
``counter_heuristic``, higher by as much ``perspective_consistent``, else ``no_height_cue``.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from engine.qa.candidate import Candidate, choice_candidate, capitalize
from engine.qa.context import FamilyContext
from engine.qa.egomotion import norm, planar_bearing
from engine.qa.facts import WorldFacts
from engine.qa.schema import Template

TASKS = ("standing_lr", "standing_quadrant", "object_view_lr", "object_view_fb", "depth_order")
QUADRANTS = ("front-left", "back-left", "back-right", "front-right")
DEPTH_CUES = ("any", "counter_heuristic", "perspective_consistent", "no_height_cue")


def validate_template(t: Template) -> None:
    """Check params: ``depth_cue`` in DEPTH_CUES, ``min_image_dv`` >= 0."""
    cue = t.param("depth_cue", "any")
    if cue not in DEPTH_CUES:
        raise t.error("params.depth_cue", f"{cue!r} is not one of {DEPTH_CUES}")
    dv = t.param("min_image_dv", 4)
    if not isinstance(dv, (int, float)) or isinstance(dv, bool) or dv < 0:
        raise t.error("params.min_image_dv", f"must be a non-negative number of pixels, got {dv!r}")


def side_of(bearing_deg: float, margin_deg: float) -> str | None:
    """``left`` / ``right`` for a bearing (deg, > 0 left), or None within ``margin_deg`` of 0 or 180."""
    b = abs(bearing_deg)
    if b < margin_deg or b > 180.0 - margin_deg:
        return None
    return "left" if bearing_deg > 0 else "right"


def front_back_of(bearing_deg: float, margin_deg: float) -> str | None:
    """``in front`` / ``behind`` for a bearing (deg), or None within ``margin_deg`` of +-90."""
    b = abs(bearing_deg)
    if abs(b - 90.0) < margin_deg:
        return None
    return "in front" if b < 90.0 else "behind"


def quadrant_of(bearing_deg: float, margin_deg: float) -> str | None:
    """Quadrant name for a bearing (deg, > 0 left), or None within ``margin_deg`` of 0, +-90, 180."""
    b = bearing_deg % 360.0
    k = int(b // 90.0) % 4
    if min(b - 90.0 * k, 90.0 * (k + 1) - b) < margin_deg:
        return None
    return QUADRANTS[k]


def _stacked(world: WorldFacts, ids: Sequence[str]) -> bool:
    """True when one of ``ids`` stands on another (bearings between them are meaningless)."""
    s = set(ids)
    return any(world.support.get(i) in s for i in ids)


def _xy(world: WorldFacts, oid: str) -> np.ndarray:
    """World (x, y) of the box centre of ``oid`` (m), shape (2,)."""
    return world.centers[world.index[oid], :2]


def generate(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    """Candidates of template ``t`` on ``ctx.view`` (see the module docstring for definitions)."""
    ids = ctx.referents(t)
    if t.task in ("standing_lr", "standing_quadrant"):
        return _standing(ctx, t, rng, ids)
    if t.task in ("object_view_lr", "object_view_fb"):
        return _object_view(ctx, t, rng, ids)
    if t.task == "depth_order":
        return _depth(ctx, t, rng, ids)
    raise t.error("task", f"unknown perspective task {t.task!r}")


def _standing(ctx: FamilyContext, t: Template, rng: np.random.Generator, ids: list[str]) -> list[Candidate]:
    w, m, dmin = ctx.world, ctx.margin(t, "min_angle_deg"), ctx.margin(t, "min_abs_diff")
    out = []
    for a, b, c in ctx.tuples(ids, 3, rng):
        if _stacked(w, (a, b, c)):
            continue
        pa, pb, pc = _xy(w, a), _xy(w, b), _xy(w, c)
        if norm(pb - pa) < dmin or norm(pc - pa) < dmin:
            continue
        bear = math.degrees(planar_bearing(pa, pb - pa, pc))
        ans = side_of(bear, m) if t.task == "standing_lr" else quadrant_of(bear, m)
        if ans is None:
            continue
        refs = ctx.refer(t, [a, b, c], rng)
        if refs is None:
            continue
        slots = {"a": refs[0], "b": refs[1], "c": refs[2]}
        side = f"{abs(bear):.0f} degrees to the {'left' if bear > 0 else 'right'} of straight ahead"
        rat = (f"From the centre of {refs[0]} ({pa[0]:.2f}, {pa[1]:.2f}) facing {refs[1]} ({pb[0]:.2f}, {pb[1]:.2f}), "
               f"{refs[2]} ({pc[0]:.2f}, {pc[1]:.2f}) lies {side}, so it is {ans}.")
        options = ["left", "right"] if t.task == "standing_lr" else list(QUADRANTS)
        out.append(choice_candidate(ctx, t, rng, slots, refs, options, options.index(ans), rat, frame="world"))
    return out


def _object_view(ctx: FamilyContext, t: Template, rng: np.random.Generator, ids: list[str]) -> list[Candidate]:
    w, m, dmin = ctx.world, ctx.margin(t, "min_angle_deg"), ctx.margin(t, "min_abs_diff")
    fronted = [i for i in ids if w.by_id[i].has_front]
    out = []
    for a, c in ctx.tuples(ids, 2, rng):
        if a not in fronted or _stacked(w, (a, c)):
            continue
        if t.task == "object_view_fb" and (w.by_id[a].against is not None or w.by_id[a].on_wall):
            continue  # nothing stands behind an object backed against a wall: "in front" by its name
        pa, pc = _xy(w, a), _xy(w, c)
        if norm(pc - pa) < dmin:
            continue
        front = w.by_id[a].front[:2]
        bear = math.degrees(planar_bearing(pa, front, pc))
        if t.task == "object_view_lr":
            ans, options = side_of(bear, m), ["left", "right"]
        else:
            ans, options = front_back_of(bear, m), ["in front", "behind"]
        if ans is None:
            continue
        refs = ctx.refer(t, [a, c], rng)
        if refs is None:
            continue
        yaw = math.degrees(w.by_id[a].yaw) % 360.0
        rat = (f"{capitalize(refs[0])} faces {yaw:.0f} degrees counter-clockwise from +x. "
               f"Seen from its centre along that direction, {refs[1]} is at {abs(bear):.0f} degrees to the "
               f"{'left' if bear > 0 else 'right'} of straight ahead, so it is {ans}.")
        out.append(choice_candidate(ctx, t, rng, {"a": refs[0], "c": refs[1]}, refs, options, options.index(ans),
                                    rat, frame=f"object:{a}"))
    return out


def depth_cue(v_near: float, v_far: float, min_dv: float) -> str:
    """Image-height cue of a depth pair: ``v_near`` / ``v_far`` are the image rows (pixels, down
    positive) of the nearer and the farther object's projected centres, ``min_dv`` pixels."""
    dv = v_far - v_near
    if dv >= min_dv:
        return "counter_heuristic"
    if dv <= -min_dv:
        return "perspective_consistent"
    return "no_height_cue"


def _depth(ctx: FamilyContext, t: Template, rng: np.random.Generator, ids: list[str]) -> list[Candidate]:
    v = ctx.view
    want = t.param("depth_cue", "any")
    min_dv = float(t.param("min_image_dv", 4))
    out = []
    for a, b in ctx.tuples(ids, 2, rng):
        ia, ib = v.i(a), v.i(b)
        da, db = float(v.cam_dist[ia]), float(v.cam_dist[ib])
        if not ctx.clears(t, da, db) or np.isnan(v.uv[ia, 1]) or np.isnan(v.uv[ib, 1]):
            continue
        near, far = (ia, ib) if da < db else (ib, ia)
        cue = depth_cue(float(v.uv[near, 1]), float(v.uv[far, 1]), min_dv)
        if want != "any" and cue != want:
            continue
        refs = ctx.refer(t, [a, b], rng)
        if refs is None:
            continue
        k = 0 if da < db else 1
        rat = (f"{capitalize(refs[0])} is {da:.2f} m from the camera and {refs[1]} is {db:.2f} m, "
               f"so {refs[k]} is closer.")
        c = choice_candidate(ctx, t, rng, {"a": refs[0], "b": refs[1]}, refs, [refs[0], refs[1]], k, rat,
                             answer_key="first" if k == 0 else "second", answer_space=("first", "second"),
                             meta={"tags": [cue], "depth_cue": cue})
        out.append(c)
    return out
