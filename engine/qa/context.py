"""FamilyContext: what a family's ``generate`` sees for one view (facts, config, naming, margins)."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import permutations

import numpy as np

from engine.qa.facts import ViewFacts, WorldFacts
from engine.qa.refer import Referrer, Refs
from engine.qa.schema import Template
from engine.scene.catalog import Catalog
from engine.scene.graph import SceneGraph


@dataclass
class FamilyContext:
    """Facts and helpers for generating one view's questions.

    Attributes:
        scene, catalog: the scene record and object catalog.
        world: WorldFacts (cached per scene); view: ViewFacts of the question's view.
        views: ViewFacts of every view of the scene, in scene order (multi-view families).
        cfg: the resolved QA config (dict).
        state: values kept across the scenes of one QAGenerator (one shard), keyed by template
            or family; the generator passes the same dict for every view.
    """

    scene: SceneGraph
    catalog: Catalog
    world: WorldFacts
    view: ViewFacts
    views: list[ViewFacts]
    cfg: dict
    _referrers: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)  # per-view values a family computes once (key by family)
    state: dict = field(default_factory=dict)  # per-generator (shard) state, e.g. numeric option priors

    @property
    def view_ids(self) -> list[str]:
        """Ids of the views the question shows (single-view families: the context's view)."""
        return [self.view.id]

    def referrer(self, views: list[ViewFacts] | None = None) -> Referrer:
        """The Referrer for the given views (default: this view), cached."""
        key = (self.view.id,) if not views else tuple(v.id for v in views)
        r = self._referrers.get(key)
        if r is None:
            r = self._referrers[key] = Referrer(self.world, views or [self.view], self.cfg["lexicon"],
                                                self.cfg["refer"]["size_ratio"])
            if key == (self.view.id,):
                self._referrers[self.view.id] = r  # the default one, found by id alone (refer)
        return r

    def min_fraction(self, t: Template) -> float:
        """Visible-fraction threshold of ``t`` (template constraint, else config)."""
        return float(t.constraints.get("min_visible_fraction", self.cfg["visibility"]["min_fraction"]))

    def min_pixels(self, t: Template) -> int:
        """Visible-pixel threshold of ``t``."""
        return int(t.constraints.get("min_visible_pixels", self.cfg["visibility"]["min_pixels"]))

    def min_in_frame(self, t: Template) -> float:
        """In-frame threshold of ``t``: the share of an object's projected box that must lie inside
        the image (template constraint ``min_in_frame``, else ``visibility.min_in_frame``)."""
        return float(t.constraints.get("min_in_frame", self.cfg["visibility"]["min_in_frame"]))

    def visible(self, t: Template, oid: str, view: ViewFacts | None = None) -> bool:
        """True when ``oid`` is visible enough in ``view`` (default this view) for ``t``: visible
        fraction, visible pixels and in-frame fraction all clear the template's thresholds."""
        return (view or self.view).visible(oid, self.min_fraction(t), self.min_pixels(t), self.min_in_frame(t))

    def referents(self, t: Template, view: ViewFacts | None = None) -> list[str]:
        """Objects visible enough in ``view`` (default this view) to be asked about, scene order:
        visible fraction, visible pixels and in-frame fraction clear the template's thresholds."""
        return (view or self.view).visible_ids(self.min_fraction(t), self.min_pixels(t), self.min_in_frame(t))

    def refer(self, t: Template, ids: list[str], rng: np.random.Generator,
              views: list[ViewFacts] | None = None) -> Refs | None:
        """Name ``ids`` as the template allows: expressions, marks, or (``any``) marks with
        probability ``refer.mark_fraction``. None when some object has no unique expression."""
        cons, refer = t.constraints, self.cfg["refer"]
        mode = cons.get("refer", "any")
        if mode == "any":
            mode = "mark" if rng.random() < refer["mark_fraction"] else "expression"
        r = self._referrers.get(self.view.id) if views is None else None  # this view's, once made
        return (r or self.referrer(views)).refs(ids, mode, cons.get("refer_scope", refer["scope"]), rng)

    def margin(self, t: Template, key: str) -> float:
        """Margin ``key`` of ``t`` (template value, else the config default)."""
        if key in t.margins:
            return float(t.margins[key])
        return float(self.cfg["margins"][key])

    def clears(self, t: Template, a: float, b: float) -> bool:
        """True when |a - b| >= min_abs_diff and >= min_rel_diff * max(|a|, |b|)."""
        d = abs(a - b)
        return d >= self.margin(t, "min_abs_diff") and d >= self.margin(t, "min_rel_diff") * max(abs(a), abs(b))

    def tuples(self, ids: list[str], k: int, rng: np.random.Generator, limit: int | None = None) -> list[tuple[str, ...]]:
        """Up to ``limit`` (default balancing.max_candidates) distinct ordered k-tuples of ``ids``,
        in an rng-shuffled order."""
        limit = limit or int(self.cfg["balancing"]["max_candidates"])
        n = len(ids)
        if n < k:
            return []
        total = 1
        for j in range(k):
            total *= n - j
        if total <= 4 * limit:
            allt = list(permutations(ids, k))
            order = rng.permutation(len(allt))[:limit]
            return [allt[i] for i in order.tolist()]
        draws = np.argsort(rng.random((2 * limit, n)), axis=1)[:, :k]  # random k-permutations
        seen, out = set(), []
        for row in draws.tolist():
            pick = tuple([ids[i] for i in row])
            if pick not in seen:
                seen.add(pick)
                out.append(pick)
                if len(out) >= limit:
                    break
        return out
