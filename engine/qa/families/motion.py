"""Motion family (as in SAT): consequences of ego-motion, goal aiming, and object movement.

Ego-motion is recomputed with the moved camera (:mod:`engine.qa.egomotion`): turning is in
place about world +Z (> 0 = left), walking is horizontal along the heading. "In view" is the
record's ``in_frustum`` definition (all 8 box corners in front and inside the image), judged
by :func:`engine.qa.egomotion.frustum_status` with ``params.margin_px`` to spare; occlusion is
ignored. A question about staying in view is asked only for an object fully in view now, and
only when it ends up clearly inside or clearly outside. Per object one turn angle per side and
``params.moves_per_object`` walks are tried (drawn with the rng), which keeps generation cheap. Walks that would leave the room or end
inside an object's box are not asked. Aiming: the signed turn from the heading to the object's
centre on the floor plane. Object movement: the object's box slides ``distance`` metres along
the floor toward the anchor's centre; distances are between closest box points.
"""

from __future__ import annotations

import math

import numpy as np

from engine.geometry.boxes import OrientedBox, box_box_distance, box_point_distance
from engine.qa import egomotion as em
from engine.qa.candidate import Candidate, bool_candidate, choice_candidate, number_candidate
from engine.qa.templates import Template

TASKS = ("turn_in_view", "walk_in_view", "walk_closer", "aim_direction", "aim_degrees", "object_move_closer")
DIRECTION_WORDS = {"forward": "forward", "back": "backward", "left": "to the left", "right": "to the right"}


def _num_list(t: Template, key: str, lo: float, hi: float) -> None:
    vals = t.param(key)
    if vals is None:
        return
    if (not isinstance(vals, list) or not vals
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and lo < x <= hi for x in vals)):
        raise t.error(f"params.{key}", f"must be a non-empty list of numbers in ({lo}, {hi}], got {vals!r}")


def validate_template(t: Template) -> None:
    """Check ``angles`` (deg), ``distances`` (m), ``directions`` and ``margin_px``."""
    _num_list(t, "angles", 0, 180)
    _num_list(t, "distances", 0, 10)
    dirs = t.param("directions")
    if dirs is not None and (not isinstance(dirs, list) or not dirs or any(d not in em.WALK_DIRECTIONS for d in dirs)):
        raise t.error("params.directions", f"must be a non-empty list drawn from {sorted(em.WALK_DIRECTIONS)}")
    mpo = t.param("moves_per_object", 2)
    if not isinstance(mpo, int) or isinstance(mpo, bool) or mpo < 1:
        raise t.error("params.moves_per_object", f"must be a positive integer, got {mpo!r}")
    mp = t.param("margin_px", 3)
    if not isinstance(mp, (int, float)) or isinstance(mp, bool) or mp < 0:
        raise t.error("params.margin_px", f"must be a non-negative number of pixels, got {mp!r}")


def _fmt(x: float) -> str:
    return f"{x:g}"


def _status(v, box, pose, margin_px) -> str:
    return em.frustum_status(v.K, pose, box, v.width, v.height, margin_px,
                             near=float(v.view.params.get("near_m", 1e-3)))


def standable(ctx, position: np.ndarray) -> bool:
    """True when a camera centre (3,) lies inside the room's floor rectangle and in no object's box."""
    if ctx.scene.room.walls and not bool(ctx.scene.room.contains_xy(position[None, :2])[0]):
        return False
    w = ctx.world
    if not w.ids:
        return True
    d = np.asarray(position, dtype=float) - w.centers
    c, s = np.cos(w.yaws), np.sin(w.yaws)
    local = np.stack([d[:, 0] * c + d[:, 1] * s, -d[:, 0] * s + d[:, 1] * c, d[:, 2]], axis=1)
    return not bool(np.any(np.all(np.abs(local) <= w.sizes / 2 + 1e-9, axis=1)))


def _limit(ctx) -> int:
    return int(ctx.cfg["balancing"]["max_candidates"])


def _shuffled(ids: list[str], rng: np.random.Generator) -> list[str]:
    return [ids[int(i)] for i in rng.permutation(len(ids))]


def generate(ctx, t: Template, rng: np.random.Generator) -> list[Candidate]:
    """Candidates of template ``t`` on ``ctx.view`` (see the module docstring)."""
    ids = ctx.referents(t)
    if t.task == "turn_in_view":
        return _turn_in_view(ctx, t, rng, ids)
    if t.task in ("walk_in_view", "walk_closer"):
        return _walk(ctx, t, rng, ids)
    if t.task in ("aim_direction", "aim_degrees"):
        return _aim(ctx, t, rng, ids)
    if t.task == "object_move_closer":
        return _object_move(ctx, t, rng, ids)
    raise t.error("task", f"unknown motion task {t.task!r}")


def _turn_in_view(ctx, t, rng, ids):
    v, w = ctx.view, ctx.world
    mp = float(t.param("margin_px", 3))
    out = []
    for a in _shuffled(ids, rng):
        if len(out) >= _limit(ctx):
            break
        box = w.boxes[w.index[a]]
        if _status(v, box, v.pose, mp) != "inside":
            continue
        angles = t.param("angles", [90])
        for direction in ("left", "right"):
            for angle in (angles[int(rng.integers(len(angles)))],):  # one angle per object and side
                sign = 1.0 if direction == "left" else -1.0
                pose = em.turn(v.pose, sign * math.radians(angle))
                st = _status(v, box, pose, mp)
                if st == "partial":
                    continue
                refs = ctx.refer(t, [a], rng)
                if refs is None:
                    continue
                x, _, z = (np.linalg.inv(pose) @ np.append(w.centers[w.index[a]], 1.0))[:3]
                bear = math.degrees(math.atan2(x, z))
                rat = (f"After turning {direction} {_fmt(angle)} degrees, the centre of {refs[0]} is "
                       f"{abs(bear):.0f} degrees to the {'right' if bear > 0 else 'left'} of the view direction"
                       f"{'' if abs(bear) <= 90 else ' (behind the camera)'} and its box lies "
                       f"{'entirely inside' if st == 'inside' else 'outside'} the image, so "
                       f"{'yes' if st == 'inside' else 'no'}.")
                slots = {"a": refs[0], "direction": direction, "angle": _fmt(angle)}
                out.append(bool_candidate(ctx, t, rng, slots, refs, st == "inside", rat))
    return out


def _walk(ctx, t, rng, ids):
    v, w = ctx.view, ctx.world
    mp = float(t.param("margin_px", 3))
    moves = []
    for dist in t.param("distances", [1.0]):
        for direction in t.param("directions", ["forward"]):
            try:
                pose = em.walk(v.pose, dist, direction)
            except ValueError:  # no heading: the camera looks straight down
                return []
            if standable(ctx, pose[:3, 3]):
                moves.append((direction, dist, pose))
    out = []
    for a in _shuffled(ids, rng):
        if len(out) >= _limit(ctx):
            break
        box = w.boxes[w.index[a]]
        d0 = float(v.cam_dist[v.i(a)])
        if t.task == "walk_in_view" and _status(v, box, v.pose, mp) != "inside":
            continue
        per = min(len(moves), int(t.param("moves_per_object", 2)))
        for k in rng.choice(len(moves), size=per, replace=False) if per else []:
            direction, dist, pose = moves[int(k)]
            words = DIRECTION_WORDS[direction]
            if t.task == "walk_in_view":
                st = _status(v, box, pose, mp)
                if st == "partial":
                    continue
                value = st == "inside"
                rat = (f"After walking {_fmt(dist)} m {words}, the box of {{a}} projects "
                       f"{'entirely inside' if value else 'outside'} the image, so {'yes' if value else 'no'}.")
            else:
                d1 = box_point_distance(box, pose[:3, 3])
                if not ctx.clears(t, d0, d1):
                    continue
                value = d1 < d0
                rat = (f"Now {{a}} is {d0:.2f} m away; after walking {_fmt(dist)} m {words} it would be "
                       f"{d1:.2f} m away, so {'yes' if value else 'no'}.")
            refs = ctx.refer(t, [a], rng)
            if refs is None:
                continue
            slots = {"a": refs[0], "distance": _fmt(dist), "direction": words}
            out.append(bool_candidate(ctx, t, rng, slots, refs, value, rat.format(a=refs[0])))
    return out


def _aim(ctx, t, rng, ids):
    v, w = ctx.view, ctx.world
    m = ctx.margin(t, "min_angle_deg")
    out = []
    for a in ids:
        try:
            ang = math.degrees(em.aim_angle(v.pose, w.centers[w.index[a]]))
        except ValueError:
            continue
        if abs(ang) < m or (t.task == "aim_direction" and abs(ang) > 180.0 - m):
            continue
        refs = ctx.refer(t, [a], rng)
        if refs is None:
            continue
        side = "left" if ang > 0 else "right"
        rat = (f"Seen from above, the centre of {refs[0]} is {abs(ang):.0f} degrees to the {side} of the camera's "
               f"heading, so you turn {side} by {abs(ang):.0f} degrees.")
        if t.task == "aim_direction":
            out.append(choice_candidate(ctx, t, rng, {"a": refs[0]}, refs, ["left", "right"],
                                        0 if side == "left" else 1, rat))
        else:
            out.append(number_candidate(ctx, t, rng, {"a": refs[0]}, refs, abs(ang), rat, decimals=0))
    return out


def moved_box(box: OrientedBox, toward_xy: np.ndarray, distance: float) -> OrientedBox:
    """``box`` slid ``distance`` metres along the floor toward the point ``toward_xy`` (2,)."""
    d = np.asarray(toward_xy, dtype=float)[:2] - box.center[:2]
    n = np.linalg.norm(d)
    if n < 1e-9:
        raise ValueError("moved_box: the target point is at the box centre")
    shift = np.append(d / n * float(distance), 0.0)
    return OrientedBox(box.center + shift, box.size, box.rotation)


def _object_move(ctx, t, rng, ids):
    w, room = ctx.world, ctx.scene.room
    out = []
    dists = t.param("distances", [1.0])
    for a, b, c in ctx.tuples(ids, 3, rng):
        oa = w.by_id[a]
        if oa.support != "floor" or any(w.support.get(x) in (a, b, c) for x in (a, b, c)):
            continue
        dist = float(dists[int(rng.integers(len(dists)))])
        if w.horizontal_distance(a, b) < dist + 0.1:  # it must not run into the anchor
            continue
        box = w.boxes[w.index[a]]
        moved = moved_box(box, w.centers[w.index[b], :2], dist)
        if room.walls and not bool(np.all(room.contains_xy(moved.corners[:, :2]))):
            continue
        d0 = w.distance(a, c)
        d1 = box_box_distance(moved, w.boxes[w.index[c]])
        if not ctx.clears(t, d0, d1):
            continue
        refs = ctx.refer(t, [a, b, c], rng)
        if refs is None:
            continue
        value = d1 < d0
        rat = (f"{refs[0][:1].upper() + refs[0][1:]} is {d0:.2f} m from {refs[2]}; moved {_fmt(dist)} m toward "
               f"{refs[1]} it would be {d1:.2f} m from it, so {'yes' if value else 'no'}.")
        slots = {"a": refs[0], "b": refs[1], "c": refs[2], "distance": _fmt(dist)}
        out.append(bool_candidate(ctx, t, rng, slots, refs, value, rat, frame="world"))
    return out
