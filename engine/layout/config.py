"""Scene-config validation for the layout samplers (``conf/scene/<name>.yaml``).

A scene config is a plain mapping whose top key ``type`` names the sampler (``room``,
``tabletop`` or ``open``). Every error names the dotted key (``scene.<key>``) and the fix.
Lengths are metres, angles radians, weights non-negative numbers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from engine.plain import to_plain

SCENE_TYPES = ("room", "tabletop", "open")

_RANGE = "[min, max] with 0 <= min <= max"


def config_hash(cfg: Mapping) -> str:
    """First 16 hex digits of the SHA-256 of the config's canonical JSON (sorted keys)."""
    text = json.dumps(to_plain(cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


class _Checker:
    def __init__(self, cfg: Mapping):
        self.cfg = cfg
        self.errors: list[str] = []

    def get(self, path: str) -> Any:
        node: Any = self.cfg
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return _MISSING
            node = node[part]
        return node

    def err(self, path: str, msg: str) -> None:
        self.errors.append(f"scene.{path}: {msg}")

    def section(self, path: str, keys: tuple[str, ...]) -> bool:
        node = self.get(path)
        if node is _MISSING:
            self.err(path, f"missing; fix: add a mapping with keys {', '.join(keys)}")
            return False
        if not isinstance(node, Mapping):
            self.err(path, f"must be a mapping with keys {', '.join(keys)}, got {node!r}")
            return False
        for k in node:
            if k not in keys:
                self.err(f"{path}.{k}", f"unknown key; fix: remove it (valid keys: {', '.join(keys)})")
        for k in keys:
            if k not in node:
                self.err(f"{path}.{k}", "missing; fix: add it (see conf/scene/*.yaml and docs/layout.md)")
        return True

    def range(self, path: str, lo: float = 0.0, integer: bool = False, positive: bool = False) -> None:
        v = self.get(path)
        if v is _MISSING:
            return
        ok_type = _int if integer else _num
        if not (isinstance(v, (list, tuple)) and len(v) == 2 and all(ok_type(x) for x in v)):
            kind = "integers" if integer else "numbers"
            self.err(path, f"must be {_RANGE} ({kind}), got {v!r}")
            return
        if v[0] < lo or v[0] > v[1] or (positive and v[0] <= 0):
            bound = "> 0" if positive else f">= {lo}"
            self.err(path, f"must be {_RANGE} and min {bound}, got {list(v)!r}; fix: order and bound the range")

    def number(self, path: str, lo: float = 0.0, hi: float | None = None, strict: bool = False, integer: bool = False) -> None:
        v = self.get(path)
        if v is _MISSING:
            return
        ok = _int(v) if integer else _num(v)
        what = "an integer" if integer else "a number"
        if not ok:
            self.err(path, f"must be {what}, got {v!r}")
            return
        if (v <= lo if strict else v < lo) or (hi is not None and v > hi):
            rng = f"{'>' if strict else '>='} {lo}" + (f" and <= {hi}" if hi is not None else "")
            self.err(path, f"must be {rng}, got {v!r}")

    def weights(self, path: str) -> None:
        v = self.get(path)
        if v is _MISSING or v is None:
            return
        if not isinstance(v, Mapping) or not v:
            self.err(path, f"must map category names to weights >= 0 (or be null for all), got {v!r}")
            return
        for k, w in v.items():
            if not _num(w) or w < 0:
                self.err(f"{path}.{k}", f"weight must be a number >= 0, got {w!r}")
        if all(_num(w) and w == 0 for w in v.values()):
            self.err(path, "all weights are 0; fix: give at least one category a positive weight")


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()

_COMMON = ("type", "catalog", "max_attempts", "max_scene_attempts", "yaw_jitter")
_KEYS = {
    "room": _COMMON + ("room", "doorway", "counts", "categories", "max_per_category",
                       "default_max_per_category", "min_surface_furniture", "small_on_floor_prob", "clearance"),
    "tabletop": _COMMON + ("room", "table", "counts", "categories", "clearance"),
    "open": _COMMON + ("plane", "counts", "categories", "clearance"),
}
_ROOM_KEYS = ("size_x", "size_y", "height", "wall_thickness")


def validate_scene_cfg(scene_cfg: Mapping) -> None:
    """Check a scene config; raise ``ValueError`` listing every bad key (``scene.<key>: ...; fix``).

    Category names are checked against the catalog later, by :func:`sample_layout`, since the
    catalog is not an input here.
    """
    if not isinstance(scene_cfg, Mapping):
        raise ValueError(f"scene: must be a mapping (conf/scene/<name>.yaml), got {type(scene_cfg).__name__}")
    scene_cfg = to_plain(scene_cfg)  # OmegaConf containers -> dicts and lists
    c = _Checker(scene_cfg)
    typ = scene_cfg.get("type")
    if typ not in SCENE_TYPES:
        raise ValueError(f"scene.type: {typ!r} is not one of {SCENE_TYPES}; fix: set type to room, tabletop or open")
    keys = _KEYS[typ]
    for k in scene_cfg:
        if k not in keys:
            c.err(k, f"unknown key for type {typ}; fix: remove it (valid keys: {', '.join(keys)})")
    for k in keys:
        if k not in scene_cfg and k not in ("catalog",):
            c.err(k, "missing; fix: add it (see conf/scene/*.yaml and docs/layout.md)")
    cat = scene_cfg.get("catalog")
    if cat is not None and not isinstance(cat, str):
        c.err("catalog", f"must be a path to a catalog YAML or null, got {cat!r}")
    c.number("max_attempts", 1, integer=True)
    c.number("max_scene_attempts", 1, integer=True)
    c.number("yaw_jitter", 0.0, 3.1416)

    if typ in ("room", "tabletop"):
        if c.section("room", _ROOM_KEYS):
            for k in ("size_x", "size_y", "height"):
                c.range(f"room.{k}", positive=True)
            c.number("room.wall_thickness", 0.0, strict=True)
    if typ == "room":
        door = scene_cfg.get("doorway")
        if door is not None and c.section("doorway", ("width", "height", "clear_depth")):
            for k in ("width", "height", "clear_depth"):
                c.number(f"doorway.{k}", 0.0, strict=True)
        if c.section("counts", ("furniture", "wall", "small")):
            for k in ("furniture", "wall", "small"):
                c.range(f"counts.{k}", integer=True)
        if c.section("categories", ("furniture", "wall", "small")):
            for k in ("furniture", "wall", "small"):
                c.weights(f"categories.{k}")
        mpc = scene_cfg.get("max_per_category")
        if mpc is not None:
            if not isinstance(mpc, Mapping):
                c.err("max_per_category", f"must map category names to integers >= 0, got {mpc!r}")
            else:
                for k in mpc:
                    c.number(f"max_per_category.{k}", 0, integer=True)
        c.number("default_max_per_category", 1, integer=True)
        c.number("min_surface_furniture", 0, integer=True)
        c.number("small_on_floor_prob", 0.0, 1.0)
        if c.section("clearance", ("walkway", "side_by_side", "group", "wall_objects", "small", "from_walls", "corner")):
            for k in ("walkway", "side_by_side", "group", "wall_objects", "small"):
                c.number(f"clearance.{k}", 0.0, strict=True)
            for k in ("from_walls", "corner"):
                c.number(f"clearance.{k}", 0.0)
        cf, cs = c.get("counts.furniture"), c.get("min_surface_furniture")
        if isinstance(cf, (list, tuple)) and len(cf) == 2 and _int(cs) and _int(cf[1]) and cs > cf[1]:
            c.err("min_surface_furniture", f"{cs} exceeds counts.furniture max {cf[1]}; fix: lower it")
    elif typ == "tabletop":
        if c.section("table", ("category", "position_jitter")):
            if not isinstance(c.get("table.category"), str):
                c.err("table.category", "must be a catalog category name with surface: true")
            c.number("table.position_jitter", 0.0)
        if c.section("counts", ("chairs", "small")):
            c.range("counts.chairs", integer=True)
            c.range("counts.small", integer=True)
        if c.section("categories", ("chairs", "small")):
            c.weights("categories.chairs")
            c.weights("categories.small")
        if c.section("clearance", ("small", "group", "from_walls")):
            for k in ("small", "group"):
                c.number(f"clearance.{k}", 0.0, strict=True)
            c.number("clearance.from_walls", 0.0)
    elif typ == "open":
        if c.section("plane", ("size_x", "size_y", "margin")):
            c.range("plane.size_x", positive=True)
            c.range("plane.size_y", positive=True)
            c.number("plane.margin", 0.0)
        if c.section("counts", ("primitives",)):
            c.range("counts.primitives", integer=True)
        if c.section("categories", ("primitives",)):
            c.weights("categories.primitives")
        if c.section("clearance", ("primitives",)):
            c.number("clearance.primitives", 0.0, strict=True)
    if c.errors:
        raise ValueError("\n".join(c.errors))
