"""The object catalog: categories, size priors, colours, materials and placement rules.

Data lives in ``scenes/catalog.yaml``; this module loads and validates it. Sizes are ranges in
metres along local x (depth, the front axis), y (width) and z (height).

Name hierarchy: a category's ``covers`` lists the categories its bare display name also fits
("table" covers coffee_table: a coffee table is a table, so "the table" is ambiguous when one is
in view). :meth:`Catalog.covered` gives the transitive closure and :meth:`Catalog.fits` the
categories a name of a category may refer to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any


from engine.paths import SCENES_DIR
from engine.scene.relations import FREE, Near, Placement, RelationError, parse_placement
from engine.yamlio import load_yaml

DEFAULT_CATALOG = SCENES_DIR / "catalog.yaml"
KINDS = ("furniture", "small", "wall", "primitive")
SCENE_TYPES = ("room", "tabletop", "open")


class CatalogError(ValueError):
    """The catalog file is malformed; the message names the file, category and field."""


@dataclass(frozen=True)
class Category:
    """One catalog category.

    ``size`` maps depth/width/height to (min, max) metres; ``stands_on`` lists ``floor``,
    ``wall`` or supporting categories; ``placement`` is the room sampler's hint, a
    :data:`~engine.scene.relations.Placement` (Free, AgainstWall or Near(category)) parsed
    from the YAML string; ``covers`` lists the categories whose instances this
    category's bare name also fits (as declared; :meth:`Catalog.covered` closes it); ``extra``
    keeps any further keys from the YAML.
    """

    key: str
    name: str
    kind: str
    size: dict[str, tuple[float, float]]
    colors: tuple[str, ...]
    materials: tuple[str, ...]
    stands_on: tuple[str, ...]
    surface: bool
    has_front: bool
    scenes: tuple[str, ...]
    placement: Placement = FREE
    facing: str = "any"
    covers: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def near(self) -> str | None:
        """The anchor category of a ``near:<category>`` placement, else None."""
        p = self.placement
        return p.category if isinstance(p, Near) else None

    @property
    def size_min(self) -> tuple[float, float, float]:
        return tuple(self.size[a][0] for a in ("depth", "width", "height"))

    @property
    def size_max(self) -> tuple[float, float, float]:
        return tuple(self.size[a][1] for a in ("depth", "width", "height"))


@dataclass(frozen=True)
class Catalog:
    """All categories plus the colour table (name -> linear RGB) and material list."""

    categories: dict[str, Category]
    colors: dict[str, tuple[float, float, float]]
    materials: tuple[str, ...]
    path: str

    def __getitem__(self, key: str) -> Category:
        try:
            return self.categories[key]
        except KeyError:
            raise KeyError(f"category {key!r} is not in the catalog {self.path}") from None

    def __contains__(self, key: str) -> bool:
        return key in self.categories

    def for_scene(self, scene_type: str, kind: str | None = None) -> list[Category]:
        """Categories usable in ``scene_type``, optionally of one ``kind``, in catalog order."""
        return [c for c in self.categories.values() if scene_type in c.scenes and (kind is None or c.kind == kind)]

    def holders(self, key: str) -> list[str]:
        """Categories that may stand on category ``key`` (derived from ``stands_on``)."""
        return [c.key for c in self.categories.values() if key in c.stands_on]

    def covered(self, key: str) -> frozenset[str]:
        """Categories (other than ``key``) whose instances the bare name of ``key`` also fits: the
        transitive closure of ``covers`` ("table" -> {coffee_table, side_table, ...}). Unknown
        keys cover nothing."""
        return self._hierarchy()[0].get(key, frozenset())

    def fits(self, key: str) -> frozenset[str]:
        """Categories whose instances the bare name of ``key`` may refer to: ``key`` itself plus
        :meth:`covered`. "The table" fits a table or a coffee table; "the coffee table" only a
        coffee table."""
        got = self._hierarchy()[1].get(key)
        return got if got is not None else frozenset({key})

    def _hierarchy(self) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
        """(covered, fits) per category key, built on first use (the catalog is immutable)."""
        h = self.__dict__.get("_hierarchy_maps")
        if h is None:
            covered = _covers_closure({k: c.covers for k, c in self.categories.items()})
            h = (covered, {k: frozenset({k}) | v for k, v in covered.items()})
            object.__setattr__(self, "_hierarchy_maps", h)
        return h


def _covers_closure(covers: dict[str, tuple[str, ...]]) -> dict[str, frozenset[str]]:
    """Transitive closure of a ``covers`` graph (category -> categories its name fits), without
    the category itself."""
    out: dict[str, frozenset[str]] = {}
    for k in covers:
        acc: set[str] = set()
        stack = list(covers[k])
        while stack:
            c = stack.pop()
            if c not in acc:
                acc.add(c)
                stack.extend(covers.get(c, ()))
        out[k] = frozenset(acc - {k})
    return out


def _range(path: str, cat: str, axis: str, v: Any) -> tuple[float, float]:
    ok = isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v)
    if not ok or not (0 < v[0] <= v[1]):
        raise CatalogError(f"{path}: categories.{cat}.size.{axis}: must be [min, max] metres with 0 < min <= max, got {v!r}")
    return float(v[0]), float(v[1])


def parse_catalog(data: dict, path: str = "<catalog>") -> Catalog:
    """Validate a catalog dict (as loaded from YAML) and build a :class:`Catalog`."""
    if not isinstance(data, dict) or "categories" not in data:
        raise CatalogError(f"{path}: top level must have 'categories', 'colors' and 'materials'")
    colors = {}
    for name, rgb in (data.get("colors") or {}).items():
        if not (isinstance(rgb, list) and len(rgb) == 3 and all(0 <= x <= 1 for x in rgb)):
            raise CatalogError(f"{path}: colors.{name}: must be [r, g, b] in [0, 1], got {rgb!r}")
        colors[name] = tuple(float(x) for x in rgb)
    materials = tuple(data.get("materials") or ())
    cats: dict[str, Category] = {}
    raw = data["categories"]
    for key, c in raw.items():
        where = f"{path}: categories.{key}"
        if not isinstance(c, dict):
            raise CatalogError(f"{where}: must be a mapping")
        for req in ("kind", "size", "colors", "materials", "stands_on", "has_front", "scenes"):
            if req not in c:
                raise CatalogError(f"{where}.{req}: missing; fix: add it (see the header of scenes/catalog.yaml)")
        if c["kind"] not in KINDS:
            raise CatalogError(f"{where}.kind: {c['kind']!r} is not one of {KINDS}")
        size = c["size"]
        if not isinstance(size, dict) or set(size) != {"depth", "width", "height"}:
            raise CatalogError(f"{where}.size: must have exactly depth, width, height ranges")
        size = {a: _range(path, key, a, size[a]) for a in ("depth", "width", "height")}
        for col in c["colors"]:
            if col not in colors:
                raise CatalogError(f"{where}.colors: {col!r} is not in the colour table; fix: add it under colors:")
        for mat in c["materials"]:
            if mat not in materials:
                raise CatalogError(f"{where}.materials: {mat!r} is not in materials:")
        for s in c["scenes"]:
            if s not in SCENE_TYPES:
                raise CatalogError(f"{where}.scenes: {s!r} is not one of {SCENE_TYPES}")
        if not isinstance(c["has_front"], bool):
            raise CatalogError(f"{where}.has_front: must be true or false")
        covers = c.get("covers", [])
        if not isinstance(covers, list) or not all(isinstance(x, str) for x in covers):
            raise CatalogError(f"{where}.covers: must be a list of category keys, got {covers!r}")
        try:
            placement = parse_placement(c.get("placement", "free"), f"{where}.placement")
        except RelationError as err:
            raise CatalogError(str(err)) from None
        known = {"name", "kind", "size", "colors", "materials", "stands_on", "surface", "has_front",
                 "scenes", "placement", "facing", "covers"}
        cats[key] = Category(
            key=key, name=str(c.get("name", key.replace("_", " "))), kind=c["kind"], size=size,
            colors=tuple(c["colors"]), materials=tuple(c["materials"]), stands_on=tuple(c["stands_on"]),
            surface=bool(c.get("surface", False)), has_front=c["has_front"], scenes=tuple(c["scenes"]),
            placement=placement, facing=str(c.get("facing", "any")),
            covers=tuple(covers), extra={k: v for k, v in c.items() if k not in known},
        )
    for key, c in cats.items():
        for s in c.stands_on:
            if s in ("floor", "wall"):
                continue
            if s not in cats:
                raise CatalogError(f"{path}: categories.{key}.stands_on: {s!r} is not a category")
            if not cats[s].surface:
                raise CatalogError(f"{path}: categories.{key}.stands_on: {s!r} has surface: false; "
                                   f"fix: set categories.{s}.surface: true or remove it")
        if c.near is not None and c.near not in cats:
            raise CatalogError(f"{path}: categories.{key}.placement: {str(c.placement)!r} names no category")
    _check_covers(cats, path)
    return Catalog(cats, colors, materials, path)


def _check_covers(cats: dict[str, Category], path: str) -> None:
    """``covers`` names known categories other than itself, has no cycle, and is complete for
    names: a display name ending in another category's display name ("coffee table" / "table",
    "armchair" / "chair") must be covered by that category, since the shorter name fits it."""
    for key, c in cats.items():
        for k in c.covers:
            if k not in cats:
                raise CatalogError(f"{path}: categories.{key}.covers: {k!r} is not a category; fix: use a key "
                                   f"under categories: (e.g. coffee_table) or remove it")
            if k == key:
                raise CatalogError(f"{path}: categories.{key}.covers: a category does not cover itself; "
                                   f"fix: remove {k!r}")
    closure = _covers_closure({k: c.covers for k, c in cats.items()})
    for key in cats:
        for k in closure[key]:
            if key in closure.get(k, ()):
                raise CatalogError(f"{path}: categories.{key}.covers: {key!r} and {k!r} cover each other (a cycle); "
                                   f"fix: keep the cover only on the more general name")
    for key, c in cats.items():
        for hyper, h in cats.items():
            if hyper == key or not c.name.lower().endswith(h.name.lower()) or key in closure[hyper]:
                continue
            raise CatalogError(f"{path}: categories.{hyper}.covers: the name {h.name!r} also fits {key} "
                               f"(named {c.name!r}); fix: add {key} to categories.{hyper}.covers")


@lru_cache(maxsize=8)
def load_catalog(path: str | None = None) -> Catalog:
    """Load and validate the catalog YAML (default ``scenes/catalog.yaml``); cached per path."""
    p = Path(path) if path else DEFAULT_CATALOG
    if not p.exists():
        raise CatalogError(f"catalog file {p} does not exist; fix: point scene.catalog at a catalog YAML")
    with open(p) as f:
        return parse_catalog(load_yaml(f), str(p))
