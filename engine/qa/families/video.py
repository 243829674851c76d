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
- ``route_plan``: standing at the box centre of S facing the centre of F, go through k named
  landmarks (``params.landmarks``, drawn per question) to the goal G, centre to centre; before
  each leg the question leaves a blank to fill with "turn left" / "turn right" / "turn back".
  The turn of a leg is the sector of theta, the signed angle (ccw = left) from the current
  heading to the next point: left (45, 135), right (-135, -45), back |theta| > 135; theta must
  lie ``min_angle_deg`` or more inside its sector (a leg straight ahead, |theta| < 45, is not
  asked). After a leg the heading is the leg's direction. Replaying a turn sequence (heading
  turned by +90, -90 or 180 degrees, then the next point must lie within 45 degrees of straight
  ahead) reaches the goal for the answer and fails at the first wrong turn for every other
  option (:func:`replay_route`). Options: the answer and three other sequences of the same
  length, drawn from the shard's earlier answers (:func:`route_distractors`), so they are
  exchangeable with the answer.
- ``cognitive_map``: the top-down map (engine/qa/ascii_map.py) of the named objects, with the
  scene turned by a multiple of 90 degrees so that up is the direction the first frame faces
  (asked only when that heading is within 45 - ``min_angle_deg`` degrees of a wall direction);
  no camera mark. Scored per cell (answer type ``ascii``).
- ``appearance_order``: four categories, each with its first frame (the first frame in which
  one of its objects is seen); sorted by that frame, consecutive first frames must differ by
  ``min_frames`` or more, and no object of a later category may show (any pixel) before the
  earlier category's first frame, so the order does not hang on a threshold. Options: the true
  order and, for each other category, a random permutation starting with it (the four options
  start with four different categories; each option is balanced by its first and last categories).
"""

from __future__ import annotations

import math
from itertools import permutations

import numpy as np

from engine.qa.candidate import (Candidate, capitalize, choice_candidate, count_candidate, number_candidate,
                                 text_candidate)
from engine.qa.context import FamilyContext
from engine.qa.facts import ViewFacts
from engine.qa.refer import covered_in_view, plural
from engine.qa.schema import Template

TASKS = ("object_count", "abs_distance", "object_size", "room_size", "rel_distance", "rel_direction_easy",
         "rel_direction_medium", "rel_direction_hard", "appearance_order", "route_plan", "cognitive_map")
TURNS = {"turn left": 90.0, "turn right": -90.0, "turn back": 180.0}  # heading change, degrees ccw
DIRECTION_LEVELS = {
    "rel_direction_easy": (("left", "right"), (0.0, 180.0)),
    "rel_direction_medium": (("left", "right", "back"), (0.0, 135.0, -135.0)),
    "rel_direction_hard": (("front-left", "front-right", "back-left", "back-right"), (0.0, 90.0, -90.0, 180.0)),
}


def validate_template(t: Template) -> None:
    """Answer types per task: counts, numbers (distance m, size cm, room m2) or choices."""
    want = {"object_count": "count", "abs_distance": "number", "object_size": "number", "room_size": "number",
            "cognitive_map": "ascii"}
    if want.get(t.task, "choice") != t.answer_type:
        raise t.error("answer_type", f"video task {t.task} answers {want.get(t.task, 'choice')}")


def balance_features(t: Template, features: tuple[str, ...]) -> tuple[str, ...]:
    """The balancing features of a video question: its object and category slots
    (``A=the sofa``: an object is named by its category, so this is the category). The joint of
    the slots and the listed-option, step and category-list texts are dropped: they are unique
    per question, so a counter keyed by them would never be seen with two answers and the
    balancer would never ask the question; what they show is balanced per option instead."""
    keep = {name for name, typ in t.slots.items() if typ in ("object", "category")}
    return tuple(f for f in features if f.split("=", 1)[0] in keep)


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
            c.features = balance_features(t, c.features)
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


def _abs_distance(ctx, t, rng, frames):
    w = ctx.world
    named = named_objects(ctx, t, frames)
    dec = int(ctx.cfg["decimals"])
    out = []
    for a, b in ctx.tuples(sorted(named), 2, rng):
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
        wrong = []  # one permutation starting with each other category: the four options start differently
        for first in order[1:]:
            perms = [p for p in permutations(order) if p[0] == first]
            wrong.append(perms[int(rng.integers(len(perms)))])
        opts = [truth] + [", ".join(names[c] for c in p) for p in wrong]
        rat = ("First frames in which each is seen clearly: " +
               ", ".join(f"{names[c]} {first_seen[c]}" for c in order) + f"; so the order is {truth}.")
        cand = choice_candidate(ctx, t, rng, {"categories": ", ".join(names[c] for c in pick)}, None, opts, 0, rat,
                                answer_space=None)
        # balanced per option by the categories it starts and ends with, so neither "the bed comes
        # first" nor "the clock comes last" is a blind guess
        cand.option_keys = tuple(f"first={p[0]}|last={p[-1]}" for p in [tuple(order)] + wrong)
        cand.objects, cand.frame = [w.by_category[c][0] for c in order], "camera"
        cand.meta = {"first_frames": [first_seen[c] for c in order]}
        out.append(cand)
    return out


def turn_of(theta: float, margin: float) -> str | None:
    """The turn ("turn left" / "turn right" / "turn back") whose sector holds ``theta`` (degrees,
    ccw = left) at least ``margin`` degrees inside it, else None (ahead, or near a boundary)."""
    a = abs(theta)
    if 45.0 + margin <= a <= 135.0 - margin:
        return "turn left" if theta > 0 else "turn right"
    if a >= 135.0 + margin:
        return "turn back"
    return None


def replay_route(points: list[np.ndarray], facing: np.ndarray, turns: list[str]) -> bool:
    """Walk a route: from ``points[0]`` (x, y) with heading towards ``facing``; for each leg turn
    the heading by ``TURNS[turn]`` degrees, fail unless the next point lies within 45 degrees of the
    new heading, then walk there (the heading becomes the leg's direction). True when the goal
    (``points[-1]``) is reached. One turn per leg (``len(turns) == len(points) - 1``)."""
    if len(turns) != len(points) - 1:
        return False
    h = math.atan2(*(np.asarray(facing, float) - points[0])[::-1])
    for k, turn in enumerate(turns):
        h += math.radians(TURNS[turn])
        d = points[k + 1] - points[k]
        leg = math.atan2(d[1], d[0])
        if abs(math.degrees(float(_wrap(leg - h)))) >= 45.0:
            return False
        h = leg
    return True


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


def _route(ctx, t, rng, frames):
    w = ctx.world
    named = named_objects(ctx, t, frames)
    m = ctx.margin(t, "min_angle_deg")
    sep = float(t.param("min_sep_m", 0.5))
    lo, hi = t.param("landmarks", [1, 2])
    out = []
    ids = sorted(named)
    limit = int(ctx.cfg["balancing"]["max_candidates"])
    tuples = [tp for k in range(int(lo), int(hi) + 1) for tp in ctx.tuples(ids, k + 3, rng)]
    for j in rng.permutation(len(tuples)):
        if len(out) >= limit:
            break
        pick = list(tuples[int(j)])
        s_, f_, route = pick[0], pick[1], pick[2:]  # route: landmarks..., goal
        pts = [w.centers[w.index[o], :2] for o in [s_] + route]
        face = w.centers[w.index[f_], :2]
        if min(np.linalg.norm(b - a) for a, b in zip(pts, pts[1:])) < sep or np.linalg.norm(face - pts[0]) < sep:
            continue
        turns, h, ok = [], math.atan2(*(face - pts[0])[::-1]), True
        for a, b in zip(pts, pts[1:]):
            leg = math.atan2(b[1] - a[1], b[0] - a[0])
            turn = turn_of(math.degrees(_wrap(leg - h)), m)
            if turn is None:
                ok = False
                break
            turns.append(turn)
            h = leg
        if not ok:
            continue
        truth = ", ".join(x.title() for x in turns)
        wrong = route_distractors(ctx, t, tuple(turns), rng)
        if wrong is None:
            continue
        opts = [truth] + [", ".join(x.title() for x in seq) for seq in wrong]
        steps, n = [], 1
        for o in route:
            steps.append(f"{n}. [please fill in] {n + 1}. Go forward until {named[o]}.")
            n += 2
        slots = {"S": named[s_], "F": named[f_], "G": named[route[-1]], "steps": " ".join(steps)}
        rat = (f"Starting at {named[s_]} facing {named[f_]}: " +
               "; ".join(f"{turn} towards {named[o]}" for turn, o in zip(turns, route)) + f". Answer: {truth}.")
        c = choice_candidate(ctx, t, rng, slots, None, opts, 0, capitalize(rat), answer_space=None)
        c.objects, c.frame = [s_, f_] + route, "world"
        c.meta = {"turns": turns}
        out.append(c)
    return out


ROUTE_PRIOR_SIZE, ROUTE_PRIOR_MIN = 256, 24


def route_distractors(ctx: FamilyContext, t: Template, truth: tuple[str, ...],
                      rng: np.random.Generator) -> list[tuple[str, ...]] | None:
    """Three wrong turn sequences of the truth's length, exchangeable with it: drawn once from the
    earlier true sequences of this length in the shard (``ctx.state``, the last
    ``ROUTE_PRIOR_SIZE``), so a sequence that is often right is as often a distractor (uniform
    over the other sequences until ``ROUTE_PRIOR_MIN`` are remembered). None (not asked) when the draw
    repeats an option; the truth is remembered either way."""
    prior = ctx.state.setdefault(("route_prior", t.id, len(truth)), [])
    if len(prior) >= ROUTE_PRIOR_MIN:
        wrong = [prior[int(k)] for k in rng.integers(0, len(prior), 3)]
    else:
        seqs = [q for q in _sequences(len(truth)) if q != truth]
        wrong = [seqs[int(k)] for k in rng.permutation(len(seqs))[:3]]
    prior.append(truth)
    if len(prior) > ROUTE_PRIOR_SIZE:
        del prior[0]
    if len({truth, *wrong}) < 4:
        return None
    return wrong


def _sequences(n: int) -> list[tuple[str, ...]]:
    from itertools import product
    return list(product(list(TURNS), repeat=n))


def turned_scene(scene, quarter_turns: int):
    """A copy of ``scene`` (objects, room, walls) turned by ``quarter_turns`` * 90 degrees ccw about
    the room centre (world +Z); views and paths dropped. Rooms are axis-aligned rectangles, so
    the turned room is one too (sides swapped for odd turns)."""
    import copy

    from engine.scene.graph import Room, Wall

    k = quarter_turns % 4
    c, s_ = [(1, 0), (0, 1), (-1, 0), (0, -1)][k]

    def rot(p):
        return [c * p[0] - s_ * p[1], s_ * p[0] + c * p[1]]

    sc = copy.copy(scene)
    sx, sy, sz = scene.room.size
    size = [sy, sx, sz] if k % 2 else [sx, sy, sz]
    sc.room = Room(scene.room.type, size, [Wall(wl.id, rot(wl.start), rot(wl.end), wl.height, wl.thickness)
                                           for wl in scene.room.walls])
    objs = []
    for o in scene.objects:
        o2 = copy.copy(o)
        o2.center = rot(o.center) + [o.center[2]]
        o2.yaw = float(o.yaw + k * math.pi / 2)
        objs.append(o2)
    sc.objects, sc.views, sc.paths = objs, [], []
    return sc


def _cognitive_map(ctx, t, rng, frames):
    from engine.qa.ascii_map import build_ascii_map

    if ctx.scene.room.type not in t.constraints.get("room_types", ["room"]):
        return []
    named = named_objects(ctx, t, frames)
    if len(named) < 2:
        return []
    f = frames[0].heading_xy
    yaw = math.degrees(math.atan2(f[1], f[0]))
    k = int(round((90.0 - yaw) / 90.0))  # quarter turns that bring the first heading closest to +y (up)
    if abs(float((yaw + 90.0 * k - 90.0 + 180.0) % 360.0 - 180.0)) > 45.0 - ctx.margin(t, "min_angle_deg"):
        return []
    sc = turned_scene(ctx.scene, k)
    res = float(t.param("resolution_m", 0.5))
    ids = [o for o in ctx.world.ids if o in named]
    mp = build_ascii_map(sc, None, res, named, object_ids=ids)
    if mp.hidden:
        return []
    legend = ", ".join(f"{a} = {b}" for a, b in mp.legend.items())
    slots = {"rows": str(len(mp.grid)), "cols": str(len(mp.grid[0])), "resolution": f"{res:g}", "legend": legend}
    rat = (f"Up is the first frame's heading (the room turned by {90 * k % 360} degrees); at {res:g} m per cell the room "
           f"gives {len(mp.grid)} rows and {len(mp.grid[0])} columns with the wall ring; each object fills the cells "
           "whose centres lie in its floor outline.")
    c = text_candidate(ctx, t, rng, slots, None, mp.text(), rat, answer_type="ascii", frame="world")
    c.objects = list(mp.letters)
    c.meta = {"quarter_turns": k % 4}
    return [c]


_TASK_FN = {"object_count": _count, "abs_distance": _abs_distance, "object_size": _object_size,
            "room_size": _room_size, "rel_distance": _rel_distance, "appearance_order": _appearance,
            "route_plan": _route, "cognitive_map": _cognitive_map}
