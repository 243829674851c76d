"""Referring expressions: CLEVR-style unique descriptions or numbered visual marks.

An expression is the category name plus the fewest attribute adjectives (colour, material,
then a size comparative) that make it unique among the *distractor pool*: every object showing
at least one pixel in the question's views (scope ``view``) or every object of the scene (scope
``scene``). A bare category is used only when the object is the only one of its category in the
pool. Names follow the catalog's hierarchy (``covers``, :meth:`engine.scene.catalog.Catalog.fits`):
an expression must also rule out every pool object of a category its name covers, so "the
table" is not unique while a coffee table is in the pool ("the brown table" may be, if the coffee
table is not brown), whereas "the coffee table" only competes with coffee tables. Marks name
objects "object 1", "object 2"... in the order the question names them; the
row's ``marks`` field tells the pipeline which objects to draw numbers on.
"""

from __future__ import annotations

import numpy as np

from dataclasses import dataclass
from typing import Mapping

from engine.qa.facts import ViewFacts, WorldFacts

_MISSING = object()
# Attribute subsets tried in order; the first that makes the expression unique wins (minimal).
_ATTR_SUBSETS = [(), ("color",), ("material",), ("color", "material")]


@dataclass(frozen=True)
class Refs:
    """How a question names its objects.

    Attributes:
        ids: object ids in the order the question names them.
        names: their referring phrases with article ("the red chair", "object 2").
        marks: {"view_id", "object_ids", "style": "number"} when named by marks, else None.
        keys: per object, what the text reveals of it (category key, or "mark"), for balancing.
    """

    ids: tuple[str, ...]
    names: tuple[str, ...]
    marks: dict | None
    keys: tuple[str, ...]

    def __getitem__(self, k: int) -> str:
        return self.names[k]


class Referrer:
    """Builds referring expressions for one question's views (cached per object and scope)."""

    def __init__(self, world: WorldFacts, views: list[ViewFacts], lexicon: Mapping, size_ratio: float):
        self.world = world
        self.views = views
        self.material_adj = dict((lexicon or {}).get("material", {}))
        self.color_adj = dict((lexicon or {}).get("color", {}))
        self.size_ratio = float(size_ratio)
        self._groups: dict[str, dict[str, list[str]]] = {}  # scope -> category -> pool ids
        self._refs: dict[tuple, Refs | None] = {}  # (scope, ids) -> expression Refs (frozen, shared)
        # scope -> {object id -> expression or None}. Scene-scope expressions do not depend on
        # the views: every Referrer of the scene with the same wording settings shares them.
        key = ("refer_scene", self.size_ratio, tuple(sorted(self.material_adj.items())),
               tuple(sorted(self.color_adj.items())))
        self._cache: dict[str, dict[str, str | None]] = {"view": {}, "scene": world.cache.setdefault(key, {})}

    def pool(self, scope: str) -> list[str]:
        """Distractor pool (ids, scene order) for ``scope`` = view | scene."""
        if scope == "scene":
            return list(self.world.ids)
        return [oid for oid in self.world.ids if any(v.present(oid) for v in self.views)]

    def expression(self, oid: str, scope: str = "view") -> str | None:
        """Unique phrase with article for ``oid`` ("the blue metal chair"), or None if none is unique."""
        cache = self._cache.setdefault(scope, {})
        if oid not in cache:
            cache[oid] = self._build(oid, scope)
        return cache[oid]

    def _fits(self, category: str) -> frozenset[str]:
        """Categories the bare display name of ``category`` fits (itself plus those it covers)."""
        catalog = self.world.catalog
        return catalog.fits(category) if category in catalog else frozenset({category})

    def _attr(self, oid: str, a: str):
        return self.world.by_id[oid].attributes.get(a)

    def _build(self, oid: str, scope: str) -> str | None:
        w = self.world
        groups = self._groups.get(scope)
        if groups is None:  # the distractor pool by category, pool order kept; once per scope
            groups = self._groups[scope] = {}
            for o in self.pool(scope):
                groups.setdefault(w.category[o], []).append(o)
        # Every pool object the bare name fits competes: its own category and those it covers.
        others = [o for c in sorted(self._fits(w.category[oid])) for o in groups.get(c, ()) if o != oid]
        for use_size in (False, True):
            for subset in _ATTR_SUBSETS:
                if any(self._attr(oid, a) is None for a in subset):
                    continue
                rest = [o for o in others if all(self._attr(o, a) == self._attr(oid, a) for a in subset)]
                size_word = None
                if use_size:
                    if not rest:
                        continue  # a smaller subset without size already handles this case
                    size_word = self._size_word(oid, rest)
                    if size_word is None:
                        continue
                    rest = []
                if not rest:
                    return self._phrase(oid, subset, size_word)
        return None

    def _size_word(self, oid: str, rest: list[str]) -> str | None:
        w = self.world
        v = w.volume[w.index[oid]]
        vols = [w.volume[w.index[o]] for o in rest]
        superlative = len(rest) >= 2
        if v >= self.size_ratio * max(vols):
            return "largest" if superlative else "larger"
        if v * self.size_ratio <= min(vols):
            return "smallest" if superlative else "smaller"
        return None

    def _phrase(self, oid: str, subset: tuple[str, ...], size_word: str | None) -> str:
        words = ["the"]
        if size_word:
            words.append(size_word)
        if "color" in subset:
            c = self._attr(oid, "color")
            words.append(self.color_adj.get(c, c))
        if "material" in subset:
            m = self._attr(oid, "material")
            words.append(self.material_adj.get(m, m))
        words.append(self.world.name[oid])
        return " ".join(words)

    def refs(self, ids: list[str], mode: str, scope: str = "view",
             rng: np.random.Generator | None = None) -> Refs | None:
        """Name ``ids`` by ``mode`` ("expression" or "mark"); None when an expression is not unique.

        Marks are drawn in the first view of the question. Mark numbers are a random
        permutation of 1..n drawn from ``rng`` (required for marks): numbering in naming order
        would leak roles (the answer of a choice question would always be "object 2").
        ``marks.object_ids`` lists the objects in mark-number order. Expressions must also be
        pairwise distinct (two objects never share a phrase, guaranteed by uniqueness).
        """
        ids = tuple(ids)
        if mode != "mark":  # expressions depend on nothing else: one Refs per (scope, ids), shared
            key = (scope, ids)
            got = self._refs.get(key, _MISSING)
            if got is not _MISSING:
                return got
        if len(set(ids)) != len(ids):
            raise ValueError(f"refs: duplicate object ids {ids}")
        if mode == "mark":
            if rng is None:
                raise ValueError("refs: mode 'mark' needs an rng to number the marks")
            numbers = [k + 1 for k in rng.permutation(len(ids)).tolist()]
            names = tuple([f"object {k}" for k in numbers])
            order = [None] * len(ids)  # ids by mark number (the inverse permutation)
            for oid, k in zip(ids, numbers):
                order[k - 1] = oid
            marks = {"view_id": self.views[0].id, "object_ids": order, "style": "number"}
            return Refs(ids, names, marks, ("mark",) * len(ids))
        names = []
        cache = self._cache.get(scope, {})
        out = None
        for oid in ids:
            e = cache[oid] if oid in cache else self.expression(oid, scope)
            if e is None:
                break
            names.append(e)
        else:
            category = self.world.category
            out = Refs(ids, tuple(names), None, tuple([category[o] for o in ids]))
        self._refs[key] = out
        return out



def covered_in_view(world: WorldFacts, category: str, views: list[ViewFacts]) -> bool:
    """True when an object of a category that the bare name of ``category`` covers (catalog
    ``covers``, e.g. a coffee table for "table") shows at least one pixel in one of ``views``:
    then "How many tables?" has no single answer (is the coffee table one?), so counting
    questions about ``category`` are not asked."""
    catalog = world.catalog
    covered = catalog.covered(category) if category in catalog else ()
    by_cat = world.by_category
    return any(v.present(o) for c in covered for o in by_cat.get(c, ()) for v in views)


def plural(name: str, lexicon: Mapping | None = None) -> str:
    """Plural of a display name ("chair" -> "chairs", "box" -> "boxes"); ``lexicon['plural']`` overrides."""
    table = dict((lexicon or {}).get("plural", {}))
    if name in table:
        return table[name]
    head, _, last = name.rpartition(" ")
    if last in table:
        p = table[last]
    elif last.endswith("f"):  # bookshelf -> bookshelves
        p = last[:-1] + "ves"
    elif last.endswith(("s", "x", "ch", "sh")):
        p = last + "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        p = last[:-1] + "ies"
    else:
        p = last + "s"
    return f"{head} {p}" if head else p
