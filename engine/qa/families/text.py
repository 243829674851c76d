"""Text-only family: questions answered from a generated scene description, no image.

The description (:func:`engine.qa.describe.describe_scene`) covers the objects that have a
scene-unique referring expression; it states centres to the centimetre in the plan frame
(north = +y, east = +x, metres from the room centre). Every answer, margin and cut-off is
worked from exactly the numbers the text prints (``SceneDescription.positions_cm``: integer
centimetres, so differences are exact), never from the unrounded geometry: a reader who does
the arithmetic on the text gets exactly the answer. Direction and left/right margins are far
wider than the rounding (0.5 cm per coordinate), so those answers are also those of the true
centres; a distance answer can differ from the true centre distance by up to about 0.01 m.

- ``direction``: 8-way compass direction from b's stated centre to a's, ``min_angle_deg`` from a
  sector boundary and at least ``min_abs_diff`` metres apart.
- ``left_of``: on a north-up plan, is a's stated centre west of b's by at least ``min_abs_diff``
  (yes) or east by as much (no).
- ``distance``: floor-plane distance between the two stated centres (the question says so),
  ``sqrt(dx^2 + dy^2)`` rounded to ``qa.decimals``.
- ``support``: what a stands on (an object or the floor); wall-mounted objects are not asked.
"""

from __future__ import annotations

import math

import numpy as np

from engine.qa.candidate import Candidate, bool_candidate, choice_candidate, number_candidate, capitalize
from engine.qa.context import FamilyContext
from engine.qa.describe import COMPASS_8, SceneDescription, compass_8, describe_scene
from engine.qa.schema import Template

TASKS = ("direction", "left_of", "distance", "support")


def described(ctx: FamilyContext, rng: np.random.Generator) -> tuple[SceneDescription, dict[str, str]]:
    """The description of ``ctx.scene`` over objects with scene-unique expressions, and their names.

    Made once per scene (text questions show no image, so every view shares it; the same
    question from two views is then an exact duplicate and is dropped) and shared by the text
    templates."""
    cache = ctx.world.cache.setdefault("text", {})
    if "description" not in cache:
        cache["description"] = _describe(ctx, rng)
    return cache["description"]


def _describe(ctx: FamilyContext, rng: np.random.Generator) -> tuple[SceneDescription, dict[str, str]]:
    r = ctx.referrer()
    names = {oid: r.expression(oid, "scene") for oid in ctx.world.ids}
    names = {k: v for k, v in names.items() if v is not None}
    ids = [oid for oid in ctx.world.ids if oid in names]
    boxes = dict(zip(ctx.world.ids, ctx.world.boxes))
    return describe_scene(ctx.scene, names, rng, object_ids=ids, boxes=boxes), names


def _support_pool(ctx: FamilyContext, ids: list[str], names: dict[str, str], a: str, right: str) -> list[str]:
    """Distractor options for "what does ``a`` stand on": the floor and the other described
    furniture not standing on ``a``, without the right answer ``right`` (the furniture list is
    cached per scene)."""
    cache = ctx.world.cache.setdefault("text", {})
    if "furniture" not in cache:
        w, cat = ctx.world, ctx.catalog
        cache["furniture"] = [s for s in ids if w.category[s] not in cat or cat[w.category[s]].kind == "furniture"]
    support = ctx.world.support
    pool = ["the floor"] + [names[s] for s in cache["furniture"] if s != a and support.get(s) != a]
    return [p for p in pool if p != right]


def generate(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    """Candidates of ``t`` worked from the scene description's stated centres (integer cm, plan
    frame: east = +x, north = +y; see the module docstring); they show no image (``view_ids`` empty)."""
    desc, names = described(ctx, rng)
    ids = desc.object_ids
    w = ctx.world
    out: list[Candidate] = []
    base = {"description": desc.text}
    if t.task == "support":
        n = int(t.constraints.get("num_options", 3))
        for a in ids:
            o = w.by_id[a]
            if o.on_wall or (o.supported_by and o.supported_by not in names):
                continue
            right = names[o.supported_by] if o.supported_by else "the floor"
            pool = _support_pool(ctx, ids, names, a, right)
            if len(pool) < n - 1:
                continue
            options = [pool[int(i)] for i in rng.choice(len(pool), size=n - 1, replace=False)] + [right]
            rat = f"The description says {names[a]} stands on {right}."
            key = "floor" if right == "the floor" else "object"
            c = choice_candidate(ctx, t, rng, dict(base, a=names[a]), None, options, n - 1, rat,
                                 answer_key=key, answer_space=("floor", "object"), frame="world")
            c.objects, c.view_ids = [a], []
            out.append(c)
        return out
    m, dmin = ctx.margin(t, "min_angle_deg"), ctx.margin(t, "min_abs_diff")
    dec = int(ctx.cfg["decimals"])
    for a, b in ctx.tuples(ids, 2, rng):
        (ea, na), (eb, nb) = desc.positions_cm[a], desc.positions_cm[b]  # as printed, integer cm
        dx, dy = ea - eb, na - nb  # exact
        where = (f"{names[a]} is at ({ea / 100:.2f}, {na / 100:.2f}) m and {names[b]} at ({eb / 100:.2f}, "
                 f"{nb / 100:.2f}) m (east, north of the room centre)")
        slots = dict(base, a=names[a], b=names[b])
        # x / 100 is the double nearest to the stated decimal, so cut-offs compare like the text.
        dist = math.sqrt(dx * dx + dy * dy) / 100
        if t.task == "direction":
            if dist < dmin:
                continue
            d, g = compass_8(dx, dy)
            if g < m:
                continue
            n = int(t.constraints.get("num_options", 4))
            others = [x for x in COMPASS_8 if x != d]
            options = [others[int(i)] for i in rng.choice(len(others), size=n - 1, replace=False)] + [d]
            c = choice_candidate(ctx, t, rng, slots, None, options, n - 1, f"{capitalize(where)}, so "
                                 f"{names[a]} is {d} of {names[b]}.", answer_space=COMPASS_8, frame="world")
        elif t.task == "left_of":
            if abs(dx) / 100 < dmin:
                continue
            value = dx < 0
            c = bool_candidate(ctx, t, rng, slots, None, value, f"{capitalize(where)}; with north up, "
                               f"west is left, so {'yes' if value else 'no'}.", frame="world")
        elif t.task == "distance":
            c = number_candidate(ctx, t, rng, slots, None, dist, f"{capitalize(where)}; the distance is "
                                 f"sqrt(({dx / 100:.2f})^2 + ({dy / 100:.2f})^2) = {round(dist, dec):.{dec}f} m.",
                                 decimals=dec, frame="world")
        else:
            raise t.error("task", f"unknown text task {t.task!r}")
        c.objects, c.view_ids = [a, b], []
        c.context_key = (w.category[a], w.category[b])
        out.append(c)
    return out
