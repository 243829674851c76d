"""What the categories alone allow: catalog bounds used to skip questions whose answer the
category names decide.

A question such as "Is the lamp above the table?" teaches a prior, not perception, when no
lamp and table the catalog can make would give the other answer. The functions here answer
"could it go either way?" from the catalog's size ranges, ``stands_on`` lists and wall mount
heights (metres, world +Z up, floor at z = 0), so families ask only questions whose answer the
image must decide; the balancer then evens out the answers within what remains.
"""

from __future__ import annotations

from engine.scene.catalog import Catalog

# id(catalog) -> (the catalog, {category: bounds}); holding the catalog keeps its id from being
# reused by another catalog while its bounds are cached
_BOUNDS: dict[int, tuple[Catalog, dict[str, tuple[float, float, float, float]]]] = {}


# id(catalog) -> (the catalog, {(kind, category): (lo, hi)}): heights and volumes, read for
# every pair a relations template looks at
_SIZES: dict[int, tuple[Catalog, dict[tuple[str, str], tuple[float, float]]]] = {}


def _sizes(catalog: Catalog) -> dict[tuple[str, str], tuple[float, float]]:
    entry = _SIZES.get(id(catalog))
    if entry is None or entry[0] is not catalog:
        entry = _SIZES[id(catalog)] = (catalog, {})
    return entry[1]


def _height(catalog: Catalog, cat: str) -> tuple[float, float]:
    """(lowest, highest) box height (m) of a category, cached per catalog object."""
    cache = _sizes(catalog)
    got = cache.get(("height", cat))
    if got is None:
        c = catalog[cat]
        got = cache[("height", cat)] = (c.size_min[2], c.size_max[2])
    return got


def _z_bounds(catalog: Catalog, cat: str, depth: int = 0) -> tuple[float, float, float, float]:
    """(lowest bottom, highest bottom, lowest top, highest top) of a category's box (m), cached
    per catalog object."""
    cache = _BOUNDS.setdefault(id(catalog), (catalog, {}))[1]
    if cat not in cache:
        cache[cat] = _bounds(catalog, cat, depth)
    return cache[cat]


def _bounds(catalog: Catalog, cat: str, depth: int) -> tuple[float, float, float, float]:
    c = catalog[cat]
    h_lo, h_hi = _height(catalog, cat)
    lo, hi = float("inf"), float("-inf")
    for s in c.stands_on:
        if s == "floor":
            b_lo, b_hi = 0.0, 0.0
        elif s == "wall":
            mh = c.extra.get("mount_height") or (0.0, 3.0)
            b_lo, b_hi = float(mh[0]) - h_hi / 2, float(mh[1]) - h_lo / 2
        elif s in catalog and depth < 4:
            _, _, b_lo, b_hi = _z_bounds(catalog, s, depth + 1)
        else:
            continue
        lo, hi = min(lo, b_lo), max(hi, b_hi)
    if lo == float("inf"):
        lo = hi = 0.0
    return lo, hi, lo + h_lo, hi + h_hi


def can_be_above(catalog: Catalog, a: str, b: str, gap: float = 0.0) -> bool:
    """True when some object of category ``a`` can sit wholly above some object of category
    ``b`` (its bottom at least ``gap`` m over the other's top) by the catalog's bounds."""
    if a not in catalog or b not in catalog:
        return True
    _, a_bottom_hi, _, _ = _z_bounds(catalog, a)
    _, _, b_top_lo, _ = _z_bounds(catalog, b)
    return a_bottom_hi >= b_top_lo + gap


def either_above(catalog: Catalog, a: str, b: str, gap: float = 0.0) -> bool:
    """True when the catalog allows ``a`` above ``b`` and ``b`` above ``a``."""
    return can_be_above(catalog, a, b, gap) and can_be_above(catalog, b, a, gap)


def either_taller(catalog: Catalog, a: str, b: str, clears) -> bool:
    """True when either category can be the taller one by a difference that ``clears(x, y)``
    accepts (the template's margins), from the catalog's height ranges."""
    if a not in catalog or b not in catalog:
        return True
    (a_lo, a_hi), (b_lo, b_hi) = _height(catalog, a), _height(catalog, b)
    return a_hi > b_lo and b_hi > a_lo and clears(a_hi, b_lo) and clears(b_hi, a_lo)


def _volume(catalog: Catalog, cat: str) -> tuple[float, float]:
    """(smallest, largest) box volume (m^3) of a category, cached per catalog object."""
    cache = _sizes(catalog)
    got = cache.get(("volume", cat))
    if got is None:
        c = catalog[cat]
        lo = c.size_min[0] * c.size_min[1] * c.size_min[2]
        hi = c.size_max[0] * c.size_max[1] * c.size_max[2]
        got = cache[("volume", cat)] = (lo, hi)
    return got


def either_bigger(catalog: Catalog, a: str, b: str, min_ratio: float) -> bool:
    """True when either category's box volume can exceed the other's by ``min_ratio``."""
    if a not in catalog or b not in catalog:
        return True
    (a_lo, a_hi), (b_lo, b_hi) = _volume(catalog, a), _volume(catalog, b)
    return a_hi >= min_ratio * b_lo and b_hi >= min_ratio * a_lo


def can_stand_on(catalog: Catalog, a: str, b: str) -> bool:
    """True when the catalog lets category ``a`` stand on ``b`` (``b`` = "floor" for the floor)."""
    if a not in catalog:
        return True
    return b in catalog[a].stands_on
