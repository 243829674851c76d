"""Video family: VSI-Bench-style questions over a walkthrough path (docs/video.md, docs/qa_families.md).

A question is asked once per camera path (``scene.paths``), on the context whose view is the
path's first frame; it shows every frame of the path (``view_ids`` = the path's frames, in order).

Seen: an object is *seen* when it is visible enough (the template's visible fraction, pixels
and in-frame thresholds, ``FamilyContext.visible``) in at least one frame; *shows* when any
pixel of it is in some frame.

Naming: questions name objects by category, as VSI-Bench does ("the sofa"), so an object is
named only when it is the only one of its category in the scene, no object of a category its
name covers is in the scene (catalog ``covers``: "the table" with a coffee table), and it is
seen.

Tasks (values in the template's unit):

- ``object_count``: how many objects of a category; asked only when every object of the
  category is seen (so the room's count and the video's agree) and no covered category shows.
- ``abs_distance``: closest-point distance (m) between two named objects (>= ``min_abs_diff``).
- ``object_size``: longest box extent in centimetres; the longest must exceed the second by
  ``min_rel_diff``.
- ``room_size``: floor area (m2) of a ``room`` scene.
- ``rel_distance``: which of four named objects is closest (closest points) to a fifth; the
  closest must beat the second by the template's margins (``FamilyContext.clears``).
- ``rel_direction_easy`` / ``_medium`` / ``_hard``: standing at the box centre of A facing the
  box centre of B (floor plane), the signed angle theta of C (counter-clockwise = left).
  Easy: left (0 < theta < 180) / right; medium: back when |theta| > 135, else left / right;
  hard: front-left (0, 90), back-left (90, 180), front-right (-90, 0), back-right (-180, -90).
  theta must lie ``min_angle_deg`` or more from every class boundary of the level (0 and 180
  for easy, 0 and +-135 for medium, 0, +-90, 180 for hard), and A must be ``min_sep_m`` or more
  from B and from C (centres, floor plane).
- ``appearance_order``: four categories, each with its first frame (the first frame in which
  one of its objects is seen); sorted by that frame, consecutive first frames must differ by
  ``min_frames`` or more, and no object of a later category may show (any pixel) before the
  earlier category's first frame, so the order does not hang on a threshold. Options: the true
  order and three other permutations.
"""

from __future__ import annotations

import math
from itertools import permutations

import numpy as np

from engine.qa.candidate import Candidate, capitalize, choice_candidate, count_candidate, number_candidate
from engine.qa.context import FamilyContext
from engine.qa.facts import ViewFacts
from engine.qa.refer import covered_in_view, plural
from engine.qa.schema import Template

TASKS = ("object_count", "abs_distance", "object_size", "room_size", "rel_distance", "rel_direction_easy",
         "rel_direction_medium", "rel_direction_hard", "appearance_order")
DIRECTION_LEVELS = {
    "rel_direction_easy": (("left", "right"), (0.0, 180.0)),
    "rel_direction_medium": (("left", "right", "back"), (0.0, 135.0, -135.0)),
    "rel_direction_hard": (("front-left", "front-right", "back-left", "back-right"), (0.0, 90.0, -90.0, 180.0)),
}


def validate_template(t: Template) -> None:
    """Answer types per task: counts, numbers (distance m, size cm, room m2) or choices."""
    want = {"object_count": "count", "abs_distance": "number", "object_size": "number", "room_size": "number"}
    if want.get(t.task, "choice") != t.answer_type:
        raise t.error("answer_type", f"video task {t.task} answers {want.get(t.task, 'choice')}")


def path_frames(ctx: FamilyContext) -> list[tuple[dict, list[ViewFacts]]]:
    """The paths whose first frame is the context's view, each with its frames' ViewFacts in order."""
    out = []
    by_id = {v.id: v for v in ctx.views}
    for p in ctx.scene.paths:
        if p["view_ids"] and p["view_ids"][0] == ctx.view.id:
            out.append((p, [by_id[v] for v in p["view_ids"]]))
    return out


def seen_frames(ctx: FamilyContext, t: Template, frames: list[ViewFacts], oid: str) -> list[int]:
    """Indices of the frames in which ``oid`` is visible enough for ``t``."""
    return [k for k, f in enumerate(frames) if ctx.visible(t, oid, f)]


def shown_frames(frames: list[ViewFacts], oid: str) -> list[int]:
    """Indices of the frames in which any pixel of ``oid`` shows."""
    return [k for k, f in enumerate(frames) if f.present(oid)]


def named_objects(ctx: FamilyContext, t: Template, frames: list[ViewFacts]) -> dict[str, str]:
    """Object id -> "the <name>" for the objects the video can name by category (module doc)."""
    w, cat = ctx.world, ctx.catalog
    out = {}
    for c, members in w.by_category.items():
        if len(members) != 1:
            continue
        covered = cat.covered(c) if c in cat else ()
        if any(w.by_category.get(k) for k in covered):
            continue
        if seen_frames(ctx, t, frames, members[0]):
            out[members[0]] = f"the {w.name[members[0]]}"
    return out


def generate(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    """Candidates of video template ``t`` for every path starting at ``ctx.view`` (module doc)."""
    out: list[Candidate] = []
    for path, frames in path_frames(ctx):
        fn = _TASK_FN.get(t.task) or (_direction if t.task in DIRECTION_LEVELS else None)
        if fn is None:
            raise t.error("task", f"unknown video task {t.task!r}")
        for c in fn(ctx, t, rng, frames):
            c.view_ids = list(path["view_ids"])
            c.meta = dict(c.meta, path_id=path["id"])
            out.append(c)
    return out


def _count(ctx, t, rng, frames):
    w = ctx.world
    out = []
    for cat, members in w.by_category.items():
        firsts = [seen_frames(ctx, t, frames, o) for o in members]
        if not all(firsts) or covered_in_view(w, cat, frames):
            continue
        name = plural(w.name[members[0]], ctx.cfg["lexicon"])
        n = len(members)
        rat = (f"Each {w.name[members[0]]} is counted once, at the frame where it is first seen clearly "
               f"(frames {', '.join(str(f[0]) for f in firsts)}), so there are {n}.")
        c = count_candidate(ctx, t, rng, {"category": name}, None, n, rat)
        c.objects, c.frame, c.context_key = list(members), "world", (cat,)
        out.append(c)
    return out


def _pairs(ctx, ids, rng, k):
    return ctx.tuples(sorted(ids), k, rng)


def _abs_distance(ctx, t, rng, frames):
    w = ctx.world
    named = named_objects(ctx, t, frames)
    dec = int(ctx.cfg["decimals"])
    out = []
    for a, b in _pairs(ctx, named, rng, 2):
        if a > b:
            continue  # unordered pairs: ask each once
        d = w.distance(a, b)
        if d < ctx.margin(t, "min_abs_diff"):
            continue
        rat = f"The closest points of {named[a]} and {named[b]} are {d:.{dec}f} m apart."
        c = number_candidate(ctx, t, rng, {"A": named[a], "B": named[b]}, None, d, capitalize(rat), decimals=dec)
        c.objects, c.frame = [a, b], "world"
        out.append(c)
    return out


def _object_size(ctx, t, rng, frames):
    w = ctx.world
    named = named_objects(ctx, t, frames)
    out = []
    for oid in sorted(named):
        ext = sorted(float(x) for x in w.sizes[w.index[oid]])
        if ext[2] - ext[1] < ctx.margin(t, "min_rel_diff") * ext[2]:
            continue
        cm = ext[2] * 100.0
        rat = (f"The box of {named[oid]} measures {', '.join(f'{x * 100:.0f}' for x in ext)} cm; the longest "
               f"dimension is {cm:.0f} cm.")
        c = number_candidate(ctx, t, rng, {"A": named[oid]}, None, cm, capitalize(rat), decimals=0)
        c.objects, c.frame = [oid], "world"
        out.append(c)
    return out


def _room_size(ctx, t, rng, frames):
    room = ctx.scene.room
    if room.type != "room":
        return []
    sx, sy = float(room.size[0]), float(room.size[1])
    area = sx * sy
    rat = f"The floor is {sx:.2f} m by {sy:.2f} m, so the room is {area:.2f} square meters."
    c = number_candidate(ctx, t, rng, {}, None, area, rat, decimals=int(ctx.cfg["decimals"]))
    c.frame = "world"
    return [c]


def _rel_distance(ctx, t, rng, frames):
    w = ctx.world
    named = named_objects(ctx, t, frames)
    ids = sorted(named)
    out = []
    limit = int(ctx.cfg["balancing"]["max_candidates"])
    for k in rng.permutation(len(ids)):
        if len(out) >= limit:
            break
        x = ids[int(k)]
        others = [o for o in ids if o != x]
        if len(others) < 4:
            break
        pick = [others[int(i)] for i in rng.permutation(len(others))[:4]]
        d = sorted((w.distance(x, o), o) for o in pick)
        if not ctx.clears(t, d[0][0], d[1][0]):
            continue
        best = d[0][1]
        rat = ("Closest-point distances to " + named[x] + ": " +
               ", ".join(f"{named[o]} {dist:.2f} m" for dist, o in d) + f"; the closest is {named[best]}.")
        opts = [named[o] for o in pick]
        slots = {"A": named[x], "choices": ", ".join(opts)}
        c = choice_candidate(ctx, t, rng, slots, None, opts, pick.index(best), capitalize(rat), answer_space=None)
        c.objects, c.frame = [x] + pick, "world"
        out.append(c)
    return out


def direction_class(theta: float, task: str) -> str:
    """The answer of direction level ``task`` for a signed angle ``theta`` (degrees, ccw = left)."""
    if task == "rel_direction_easy":
        return "left" if theta > 0 else "right"
    if task == "rel_direction_medium":
        return "back" if abs(theta) > 135.0 else ("left" if theta > 0 else "right")
    side = "left" if theta > 0 else "right"
    return ("front-" if abs(theta) < 90.0 else "back-") + side


def signed_angle_deg(a_xy: np.ndarray, b_xy: np.ndarray, c_xy: np.ndarray) -> float:
    """Angle (degrees, (-180, 180]) from the direction A->B to A->C in the floor plane; + is
    counter-clockwise seen from above (to the left when facing B)."""
    u, v = b_xy - a_xy, c_xy - a_xy
    return math.degrees(math.atan2(u[0] * v[1] - u[1] * v[0], u[0] * v[0] + u[1] * v[1]))


def _direction(ctx, t, rng, frames):
    w = ctx.world
    named = named_objects(ctx, t, frames)
    options, bounds = DIRECTION_LEVELS[t.task]
    m = ctx.margin(t, "min_angle_deg")
    sep = float(t.param("min_sep_m", 0.5))
    out = []
    for a, b, c3 in ctx.tuples(sorted(named), 3, rng):
        pa, pb, pc = (w.centers[w.index[o], :2] for o in (a, b, c3))
        if min(np.linalg.norm(pb - pa), np.linalg.norm(pc - pa)) < sep:
            continue
        th = signed_angle_deg(pa, pb, pc)
        if min(abs(float((th - bd + 180.0) % 360.0 - 180.0)) for bd in bounds) < m:
            continue
        ans = direction_class(th, t.task)
        side = "left" if th > 0 else "right"
        rat = (f"Standing at {named[a]} and facing {named[b]}, {named[c3]} lies {abs(th):.0f} degrees to the {side} "
               f"of straight ahead, so it is {ans}.")
        cand = choice_candidate(ctx, t, rng, {"A": named[a], "B": named[b], "C": named[c3]}, None, list(options),
                                options.index(ans), capitalize(rat))
        cand.objects, cand.frame = [a, b, c3], "world"
        out.append(cand)
    return out


def _appearance(ctx, t, rng, frames):
    w = ctx.world
    gap = int(t.param("min_frames", 2))
    first_seen, first_shown = {}, {}
    for cat, members in w.by_category.items():
        if covered_in_view(w, cat, frames):
            continue
        seen = [f for o in members for f in seen_frames(ctx, t, frames, o)]
        if not seen:
            continue
        first_seen[cat] = min(seen)
        first_shown[cat] = min(f for o in members for f in shown_frames(frames, o))
    cats = sorted(first_seen)
    out = []
    limit = int(ctx.cfg["balancing"]["max_candidates"])
    for k in range(min(limit * 4, 200)):
        if len(out) >= limit or len(cats) < 4:
            break
        pick = [cats[int(i)] for i in rng.permutation(len(cats))[:4]]
        order = sorted(pick, key=lambda c: first_seen[c])
        ok = all(first_seen[b] - first_seen[a] >= gap and first_shown[b] > first_seen[a] for a, b in zip(order, order[1:]))
        if not ok:
            continue
        names = {c: w.name[w.by_category[c][0]] for c in pick}
        truth = ", ".join(names[c] for c in order)
        perms = [p for p in permutations(order) if list(p) != order]
        wrong = [perms[int(i)] for i in rng.permutation(len(perms))[:3]]
        opts = [truth] + [", ".join(names[c] for c in p) for p in wrong]
        rat = ("First frames in which each is seen clearly: " +
               ", ".join(f"{names[c]} {first_seen[c]}" for c in order) + f"; so the order is {truth}.")
        cand = choice_candidate(ctx, t, rng, {"categories": ", ".join(names[c] for c in pick)}, None, opts, 0, rat,
                                answer_space=None)
        cand.objects, cand.frame = [w.by_category[c][0] for c in order], "camera"
        cand.meta = {"first_frames": [first_seen[c] for c in order]}
        out.append(cand)
    return out


_TASK_FN = {"object_count": _count, "abs_distance": _abs_distance, "object_size": _object_size,
            "room_size": _room_size, "rel_distance": _rel_distance, "appearance_order": _appearance}
