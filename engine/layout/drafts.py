"""Objects under construction (drafts), category pickers, size/attribute sampling, statistics,
and the conversion of drafts into a :class:`SceneGraph`.

Sizes are metres along the local axes (x = depth, the front axis; y = width; z = height).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from engine import ENGINE_NAME, __version__
from engine.layout.errors import LayoutInfeasibleError
from engine.rng import uniform
from engine.scene.catalog import Catalog, Category
from engine.scene.graph import Room, SceneGraph, SceneObject
from engine.scene.relations import ON_FLOOR, ON_WALL, OnObject

_SUPPORTS = {"floor": ON_FLOOR, "wall": ON_WALL}  # Draft.support -> the record's Support ("on" has an index)


@dataclass
class Draft:
    """A placed object before ids are assigned.

    ``support`` is ``floor``, ``wall`` or ``on`` (then ``support_index`` is the index of the
    supporting draft); ``wall_index``/``wall_t`` locate an against-wall object along its wall
    (metres from the wall start); ``group`` ties a furniture anchor to its satellites.
    """

    category: str
    size: tuple[float, float, float]
    center: tuple[float, float, float]
    yaw: float
    support: str = "floor"
    support_index: int | None = None
    against: str | None = None
    has_front: bool = False
    attributes: dict = field(default_factory=dict)
    attempts: int = 0
    group: int = -1
    wall_index: int | None = None
    wall_t: float | None = None
    satellites: int = 0

    @property
    def top(self) -> float:
        """World z (m) of the box top, computed as center_z + size_z / 2."""
        return self.center[2] + self.size[2] / 2


class Stats:
    """Placement statistics: attempts per draft, rejection counts by reason, dropped objects."""

    def __init__(self) -> None:
        self.rejected: dict[str, int] = {}
        self.total_attempts = 0
        self.dropped: list[dict] = []

    def reject(self, reason: str) -> None:
        self.total_attempts += 1
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def accept(self) -> None:
        self.total_attempts += 1

    def drop(self, category: str, kind: str, reason: str) -> None:
        self.dropped.append({"category": category, "kind": kind, "reason": reason})


class Picker:
    """Weighted category choice: ``pick(rng, allowed)`` draws a key with probability ∝ weight.

    ``allowed`` (optional) is a boolean mask restricting the draw; returns None when nothing
    with positive weight is allowed.
    """

    def __init__(self, weights: Mapping[str, float]):
        self.keys = list(weights)
        self.w = np.array([float(weights[k]) for k in self.keys])
        self._cum: dict[bytes | None, list[float]] = {}  # cumulative weights per allowed mask

    def pick(self, rng: np.random.Generator, allowed: np.ndarray | None = None) -> str | None:
        """One key (one ``rng.random()`` draw), or None when no allowed key has weight > 0."""
        mask = None if allowed is None else np.asarray(allowed, dtype=bool).tobytes()
        cum = self._cum.get(mask)
        if cum is None:
            w = self.w if allowed is None else np.where(allowed, self.w, 0.0)
            cum = self._cum[mask] = np.cumsum(w).tolist()
        if cum[-1] <= 0:
            return None
        i = bisect.bisect_right(cum, rng.random() * cum[-1])  # np.searchsorted(cum, ..., side="right")
        return self.keys[min(i, len(self.keys) - 1)]


def resolve_categories(weights: Mapping[str, float] | None, catalog: Catalog, scene_type: str,
                       kinds: tuple[str, ...], key: str) -> dict[str, float]:
    """Category -> weight for one config list; None means every catalog category of ``kinds``
    usable in ``scene_type`` with weight 1. Raises ValueError naming ``scene.<key>.<name>``."""
    if weights is None:
        out = {c.key: 1.0 for c in catalog.categories.values() if c.kind in kinds and scene_type in c.scenes}
        if not out:
            raise ValueError(f"scene.{key}: the catalog has no {'/'.join(kinds)} category for {scene_type} scenes; "
                             f"fix: list categories explicitly")
        return out
    out = {}
    for name, w in weights.items():
        if name not in catalog:
            raise ValueError(f"scene.{key}.{name}: not a catalog category ({catalog.path}); fix: use one of "
                             f"{', '.join(c.key for c in catalog.categories.values() if c.kind in kinds)}")
        cat = catalog[name]
        if cat.kind not in kinds:
            raise ValueError(f"scene.{key}.{name}: category kind is {cat.kind!r}, expected {' or '.join(kinds)}; "
                             f"fix: move it to the right list")
        out[name] = float(w)
    return out


def sample_size(cat: Category, rng: np.random.Generator) -> tuple[float, float, float]:
    """(depth, width, height) metres, each uniform in the category's range; ``isotropic``
    categories draw one value for all three, ``round`` ones one value for depth and width
    (from the intersection of the ranges)."""
    (d0, d1), (w0, w1), (h0, h1) = cat.size["depth"], cat.size["width"], cat.size["height"]
    if cat.extra.get("isotropic"):
        lo, hi = max(d0, w0, h0), min(d1, w1, h1)
        if lo > hi:
            raise ValueError(f"catalog category {cat.key}: isotropic but its size ranges do not intersect; "
                             f"fix: give depth, width and height a common range")
        s = uniform(rng, lo, hi)
        return s, s, s
    if cat.extra.get("round"):
        lo, hi = max(d0, w0), min(d1, w1)
        if lo > hi:
            raise ValueError(f"catalog category {cat.key}: round but depth and width ranges do not intersect")
        s = uniform(rng, lo, hi)
        return s, s, uniform(rng, h0, h1)
    u0, u1, u2 = rng.random(3).tolist()
    return d0 + (d1 - d0) * u0, w0 + (w1 - w0) * u1, h0 + (h1 - h0) * u2


def sample_attributes(cat: Category, rng: np.random.Generator) -> dict:
    """{"color", "material"} drawn uniformly from the category's lists."""
    # two scalar draws: what rng.integers(0, [n_colors, n_materials]) draws, element by element
    i = int(rng.integers(len(cat.colors)))
    j = int(rng.integers(len(cat.materials)))
    return {"color": cat.colors[i], "material": cat.materials[j]}


def check_counts(placed: Mapping[str, int], mins: Mapping[str, int], scene_attempts: int, stats: Stats,
                 hint: str) -> None:
    """Raise LayoutInfeasibleError when a kind fell short of its minimum count."""
    short = {k: (placed.get(k, 0), m) for k, m in mins.items() if placed.get(k, 0) < m}
    if short:
        what = ", ".join(f"{k}: placed {p} of at least {m}" for k, (p, m) in sorted(short.items()))
        rej = ", ".join(f"{r} {n}" for r, n in sorted(stats.rejected.items()))
        raise LayoutInfeasibleError(
            f"layout infeasible after {scene_attempts} scene attempts ({what}; rejections: {rej or 'none'}); "
            f"fix: {hint}")


def object_ids(n: int) -> list[str]:
    """Object ids ``obj_00``, ``obj_01``, ... (more digits when n > 100)."""
    width = max(2, len(str(max(n - 1, 0))))
    return [f"obj_{i:0{width}d}" for i in range(n)]


def to_scene_graph(room: Room, drafts: list[Draft], catalog: Catalog, stats: Stats, extra_stats: dict,
                   scene_cfg: Mapping, cfg_hash: str, scene_id: str, seed: int, scene_index: int) -> SceneGraph:
    """Assign ids ``obj_00``.. in draft order (instance_id = position + 1) and build the graph."""
    ids = object_ids(len(drafts))
    objects = []
    for i, d in enumerate(drafts):
        support = OnObject(ids[d.support_index]) if d.support == "on" else _SUPPORTS[d.support]
        objects.append(SceneObject(
            id=ids[i], instance_id=i + 1, category=d.category, center=[float(v) for v in d.center],
            size=[float(v) for v in d.size], yaw=float(d.yaw), support=support, against=d.against,
            has_front=bool(catalog[d.category].has_front), attributes=dict(d.attributes)))
    st = {
        "sampler": str(scene_cfg["type"]),
        "attempts": {ids[i]: int(d.attempts) for i, d in enumerate(drafts)},
        "rejected": dict(sorted(stats.rejected.items())),
        "total_attempts": int(stats.total_attempts),
        "dropped": list(stats.dropped),
    }
    st.update(extra_stats)
    generator = {"name": ENGINE_NAME, "version": __version__, "config_hash": cfg_hash}
    return SceneGraph(scene_id=scene_id, seed=int(seed), room=room, objects=objects, generator=generator,
                      scene_index=int(scene_index), stats=st)
