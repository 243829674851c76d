"""Counting family: visible instances of a category (optionally with a colour), and count comparisons.

An instance counts as visible when its visible fraction, visible pixels and in-frame fraction
(share of its projected box inside the image) clear the template's thresholds
(``FamilyContext.visible``). A count is asked only when every instance of the category in the
scene is either clearly visible or shows no pixel at all, so borderline instances (slivers, and
objects that show pixels but lie mostly outside the frame) never make the answer ambiguous. A
colour filter that does not change the count is degenerate (CLEVR). A category is not counted
(nor compared) while an object of a category its name covers shows in the view (catalog
``covers``): with a coffee table in view, "How many tables?" has two defensible answers.
"""

from __future__ import annotations

import numpy as np

from engine.qa.candidate import Candidate, bool_candidate, count_candidate
from engine.qa.context import FamilyContext
from engine.qa.refer import covered_in_view, plural
from engine.qa.schema import Template

TASKS = {"count", "count_color", "count_compare"}


def _clean_counts(ctx: FamilyContext, t: Template) -> dict[str, list[str]]:
    """category -> visible instance ids, for categories whose instances are all clear-cut; scene order.
    Cached per view and thresholds (read-only: callers must not change the lists)."""
    key = (ctx.min_fraction(t), ctx.min_pixels(t), ctx.min_in_frame(t))
    cache = ctx.cache.setdefault("counting", {})
    if key not in cache:
        cache[key] = _count_visible(ctx, *key)
    return cache[key]


def _count_visible(ctx: FamilyContext, fr: float, px: int, in_frame: float) -> dict[str, list[str]]:
    """category -> ids of its instances visible with these thresholds, for the categories none of
    whose instances is borderline (shows a pixel without being visible enough); scene order."""
    w, v = ctx.world, ctx.view
    out: dict[str, list[str]] = {}
    bad = set()
    for o in w.ids:
        c = w.category[o]
        if v.visible(o, fr, px, in_frame):
            out.setdefault(c, []).append(o)
        elif v.present(o):
            bad.add(c)
        else:
            out.setdefault(c, [])
    return {c: ids for c, ids in out.items() if c not in bad}


def _noun(ctx: FamilyContext, c: str, n: int) -> str:
    """Display name of category ``c`` for a count of ``n`` (plural unless 1), cached per scene."""
    cache = ctx.world.cache.setdefault("counting_nouns", {})
    key = (c, n == 1)
    if key not in cache:
        name = ctx.catalog[c].name if c in ctx.catalog else c.replace("_", " ")
        cache[key] = name if n == 1 else plural(name, ctx.cfg["lexicon"])
    return cache[key]


def generate(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    """Candidates of counting template ``t`` on ``ctx.view``: counts of instances visible by the
    template's thresholds (see the module docstring)."""
    w = ctx.world
    counts = _clean_counts(ctx, t)
    cats = [c for c in counts if not covered_in_view(w, c, [ctx.view])]
    out = []
    if t.task == "count":
        for c in cats:
            n = len(counts[c])
            why = f"{n} {_noun(ctx, c, n)} {'is' if n == 1 else 'are'} visible in the image."
            cand = count_candidate(ctx, t, rng, {"C": _noun(ctx, c, 2)}, None, n, why)
            cand.objects, cand.context_key = list(counts[c]), (c,)
            out.append(cand)
    elif t.task == "count_color":
        for c in cats:
            all_c = w.by_category[c]
            colors = sorted({w.by_id[o].attributes.get("color") for o in all_c} - {None})
            for col in colors:
                n = sum(1 for o in counts[c] if w.by_id[o].attributes.get("color") == col)
                noun = f"{col} {_noun(ctx, c, 2)}"
                why = f"{n} {col} {_noun(ctx, c, n)} {'is' if n == 1 else 'are'} visible in the image."
                cand = count_candidate(ctx, t, rng, {"C": noun}, None, n, why)
                cand.objects = [o for o in counts[c] if w.by_id[o].attributes.get("color") == col]
                cand.context_key = (c, col)
                # The colour filter must matter: with it removed the count would be the same.
                cand.degenerate = n == len(counts[c])
                out.append(cand)
    else:  # count_compare: "Are there more A than B?"; ties are not asked
        for a, b in ctx.tuples(cats, 2, rng):
            na, nb = len(counts[a]), len(counts[b])
            if na == nb:
                continue
            why = (f"{na} {_noun(ctx, a, na)} and {nb} {_noun(ctx, b, nb)} are visible, so there are "
                   f"{'more' if na > nb else 'fewer'} {_noun(ctx, a, 2)}.")
            cand = bool_candidate(ctx, t, rng, {"A": _noun(ctx, a, 2), "B": _noun(ctx, b, 2)}, None, na > nb, why)
            cand.objects, cand.context_key = counts[a] + counts[b], (a, b)
            out.append(cand)
    return out
