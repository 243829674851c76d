"""Multi-view family: mark correspondence, counting across views, cross-view direction.

Every question pairs the context's view (image 1) with each other view of the scene (image 2).

- Marks: in each image the objects visible enough (template thresholds) are numbered 1, 2, ...
  in a random order drawn from the rng (a number reveals nothing about position). The candidate's ``marks`` holds the
  first image's numbering in the standard keys (``view_id``, ``object_ids``) and both images'
  in ``per_view`` ({view id: [object ids in mark order]}).
- Counting: an object counts when it is visible enough (visible fraction, pixels and in-frame
  fraction, ``FamilyContext.visible``) in at least one image; a category is not asked when one
  of its objects shows (any pixel) but is below a threshold in both images, since whether it
  "can be seen" would then be unclear, nor while an object of a category its name covers shows
  in either image (catalog ``covers``: "tables" with a coffee table in view).
- Direction: ``a`` is visible in image 2 and shows no pixel in image 1; ``b`` is visible in
  image 1. Both are placed in image 1's camera frame; their horizontal angles from the optical
  axis (atan2(x, z), + = right) must both lie within 90 - ``min_angle_deg`` of straight ahead
  and differ by at least ``min_angle_deg``.
"""

from __future__ import annotations

import numpy as np

from engine.qa.candidate import Candidate, capitalize, choice_candidate, count_candidate
from engine.qa.context import FamilyContext
from engine.qa.facts import ViewFacts
from engine.qa.refer import covered_in_view, plural
from engine.qa.schema import Template

TASKS = ("mark_correspondence", "count_across_views", "cross_view_direction")


def mark_order(ctx: FamilyContext, t: Template, view: ViewFacts, rng: np.random.Generator) -> list[str]:
    """Object ids visible enough in ``view``, in mark order: a random permutation, so a mark's
    number says nothing about where the object is (left-to-right numbering would let the number
    in image 1 predict the number in image 2)."""
    ids = ctx.referents(t, view)
    return [ids[int(i)] for i in rng.permutation(len(ids))]


def generate(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    """Candidates of ``t`` pairing ``ctx.view`` with every other view (see the module docstring)."""
    out: list[Candidate] = []
    for v2 in ctx.views:
        if v2.id == ctx.view.id:
            continue
        if t.task == "mark_correspondence":
            out += _marks(ctx, t, rng, ctx.view, v2)
        elif t.task == "count_across_views":
            out += _count(ctx, t, rng, ctx.view, v2)
        elif t.task == "cross_view_direction":
            out += _direction(ctx, t, rng, ctx.view, v2)
        else:
            raise t.error("task", f"unknown multiview task {t.task!r}")
    return out


def _marks(ctx: FamilyContext, t: Template, rng: np.random.Generator,
           v1: ViewFacts, v2: ViewFacts) -> list[Candidate]:
    m1, m2 = mark_order(ctx, t, v1, rng), mark_order(ctx, t, v2, rng)
    n = int(t.constraints.get("num_options", 3))
    if len(m2) < n:
        return []
    marks = {"view_id": v1.id, "object_ids": list(m1), "style": "number", "per_view": {v1.id: list(m1), v2.id: list(m2)}}
    out = []
    for oid in m1:
        if oid not in m2:
            continue
        k1, k2 = m1.index(oid) + 1, m2.index(oid) + 1
        others = [j + 1 for j in range(len(m2)) if j + 1 != k2]
        pick = sorted(int(x) for x in rng.choice(others, size=n - 1, replace=False))
        options = [f"mark {k}" for k in sorted(pick + [k2])]
        rat = (f"Mark {k1} in image 1 and mark {k2} in image 2 are the same {ctx.world.name[oid]}, "
               f"so the answer is mark {k2}.")
        c = choice_candidate(ctx, t, rng, {"mark": str(k1)}, None, options, options.index(f"mark {k2}"), rat,
                             answer_key=f"mark {k2}", answer_space=tuple(f"mark {j + 1}" for j in range(len(m2))))
        c.objects, c.marks, c.view_ids = [oid], marks, [v1.id, v2.id]
        out.append(c)
    return out


def _count(ctx: FamilyContext, t: Template, rng: np.random.Generator,
           v1: ViewFacts, v2: ViewFacts) -> list[Candidate]:
    w = ctx.world
    th = (ctx.min_fraction(t), ctx.min_pixels(t), ctx.min_in_frame(t))
    out = []
    cats = sorted({w.category[o] for o in w.ids})
    for cat in cats:
        members = w.by_category[cat]
        seen = [o for o in members if v1.visible(o, *th) or v2.visible(o, *th)]
        unclear = [o for o in members if o not in seen and (v1.present(o) or v2.present(o))]
        if not seen or unclear or covered_in_view(w, cat, [v1, v2]):
            continue  # none seen, one unclear, or the name also fits a kind showing ("tables", a desk)
        both = [o for o in seen if v1.visible(o, *th) and v2.visible(o, *th)]
        n1 = sum(v1.visible(o, *th) for o in seen)
        n2 = sum(v2.visible(o, *th) for o in seen)
        name = w.name[seen[0]]
        rat = (f"{capitalize(plural(name))} visible: {n1} in image 1, {n2} in image 2, {len(both)} in both, "
               f"so there are {n1} + {n2} - {len(both)} = {len(seen)} distinct ones.")
        c = count_candidate(ctx, t, rng, {"category": plural(name)}, None, len(seen), rat,
                            meta={"shared": len(both)})
        c.objects, c.view_ids, c.context_key, c.frame = list(seen), [v1.id, v2.id], (cat,), "world"
        out.append(c)
    return out


def _direction(ctx: FamilyContext, t: Template, rng: np.random.Generator,
               v1: ViewFacts, v2: ViewFacts) -> list[Candidate]:
    m = ctx.margin(t, "min_angle_deg")
    only2 = [o for o in ctx.referents(t, v2) if not v1.present(o)]
    in1 = ctx.referents(t, v1)
    limit = int(ctx.cfg["balancing"]["max_candidates"])
    pairs = [(a, b) for a in only2 for b in in1 if a != b]
    out = []
    for k in rng.permutation(len(pairs)):
        a, b = pairs[int(k)]
        if len(out) >= limit:
            break
        ba, bb = v1.image_angle_deg(a), v1.image_angle_deg(b)
        za, zb = v1.cam_xyz[v1.i(a), 2], v1.cam_xyz[v1.i(b), 2]
        if za <= 0 or zb <= 0 or max(abs(ba), abs(bb)) > 90.0 - m or abs(ba - bb) < m:
            continue
        refs = ctx.refer(t, [a, b], rng, views=[v1, v2])
        if refs is None:
            continue
        ans = "right" if ba > bb else "left"
        rat = (f"In image 1's camera frame {refs[0]} is {abs(ba):.0f} degrees {'right' if ba > 0 else 'left'} of the "
               f"optical axis and {refs[1]} {abs(bb):.0f} degrees {'right' if bb > 0 else 'left'}, so {refs[0]} is "
               f"to the {ans}.")
        c = choice_candidate(ctx, t, rng, {"a": refs[0], "b": refs[1]}, refs, ["left", "right"],
                             0 if ans == "left" else 1, rat)
        c.view_ids = [v1.id, v2.id]
        out.append(c)
    return out
