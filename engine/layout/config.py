"""Scene-config validation for the layout samplers (``conf/scene/<name>.yaml``).

A scene config is a plain mapping whose top key ``type`` names the sampler (``room``,
``tabletop`` or ``open``). Every error names the dotted key (``scene.<key>``) and the fix.
Lengths are metres, angles radians, weights non-negative numbers.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.layout.architecture import architecture_cfg_errors
from engine.layout.room_types import room_types_cfg_errors
from engine.scene.catalog import SCENE_TYPES
from engine.schema import MISSING, Checker, canonical_hash, is_int, raise_errors

_SEE = "conf/scene/*.yaml and docs/layout.md"


def config_hash(cfg: Mapping) -> str:
    """First 16 hex digits of the SHA-256 of the config's canonical JSON (sorted keys)."""
    return canonical_hash(cfg)


_COMMON = ("type", "catalog", "max_attempts", "max_scene_attempts", "yaw_jitter")
_KEYS = {
    "room": _COMMON + ("room", "doorway", "counts", "categories", "max_per_category",
                       "default_max_per_category", "min_surface_furniture", "small_on_floor_prob", "clearance", "architecture",
                       "room_types"),
    "tabletop": _COMMON + ("room", "table", "counts", "categories", "clearance"),
    "open": _COMMON + ("plane", "counts", "categories", "clearance"),
}
_ROOM_KEYS = ("size_x", "size_y", "height", "wall_thickness")


def scene_cfg_errors(scene_cfg: Mapping) -> list[str]:
    """Every problem of a scene config, each ``scene.<key>: problem; fix: ...`` (empty when valid).

    Category names are checked against the catalog later, by :func:`sample_layout`, since the
    catalog is not an input here.
    """
    if not isinstance(scene_cfg, Mapping):
        return [f"scene: must be a mapping (conf/scene/<name>.yaml), got {type(scene_cfg).__name__}"]
    c = Checker(scene_cfg, "scene")
    typ = c.cfg.get("type")
    if typ not in SCENE_TYPES:
        return [f"scene.type: {typ!r} is not one of {SCENE_TYPES}; fix: set type to room, tabletop or open"]
    keys = _KEYS[typ]
    optional = ["catalog", "architecture"] + (["room_types"] if typ == "room" else [])
    c.keys("", [k for k in keys if k not in optional], [k for k in optional if k in keys], see=_SEE)
    c.check("catalog", lambda v: v is None or isinstance(v, str), "a path to a catalog YAML or null")
    c.number("max_attempts", 1, integer=True)
    c.number("max_scene_attempts", 1, integer=True)
    c.number("yaw_jitter", 0.0, 3.1416)

    if typ in ("room", "tabletop"):
        if c.keys("room", _ROOM_KEYS, see=_SEE):
            for k in ("size_x", "size_y", "height"):
                c.pair(f"room.{k}", 0.0, positive=True)
            c.number("room.wall_thickness", 0.0, strict=True)
    if typ == "room":
        if c.get("architecture") not in (None, MISSING):
            architecture_cfg_errors(c)
        if c.get("doorway") is not None and c.keys("doorway", ("width", "height", "clear_depth"), see=_SEE):
            for k in ("width", "height", "clear_depth"):
                c.number(f"doorway.{k}", 0.0, strict=True)
        c.errors.extend(room_types_cfg_errors(scene_cfg.get("room_types")))
        if c.keys("counts", ("furniture", "wall", "small"), see=_SEE):
            for k in ("furniture", "wall", "small"):
                c.pair(f"counts.{k}", 0, integer=True)
        if c.keys("categories", ("furniture", "wall", "small"), see=_SEE):
            for k in ("furniture", "wall", "small"):
                c.weights(f"categories.{k}", allow_null=True)
        mpc = c.get("max_per_category")
        if mpc is not None and c.check("max_per_category", lambda v: isinstance(v, Mapping),
                                       "a mapping of category names to integers >= 0"):
            for k in mpc:
                c.number(f"max_per_category.{k}", 0, integer=True)
        c.number("default_max_per_category", 1, integer=True)
        c.number("min_surface_furniture", 0, integer=True)
        c.number("small_on_floor_prob", 0.0, 1.0)
        if c.keys("clearance", ("walkway", "side_by_side", "group", "wall_objects", "small", "from_walls", "corner"),
                  see=_SEE):
            for k in ("walkway", "side_by_side", "group", "wall_objects", "small"):
                c.number(f"clearance.{k}", 0.0, strict=True)
            for k in ("from_walls", "corner"):
                c.number(f"clearance.{k}", 0.0)
        cf, cs = c.get("counts.furniture"), c.get("min_surface_furniture")
        if isinstance(cf, (list, tuple)) and len(cf) == 2 and is_int(cs) and is_int(cf[1]) and cs > cf[1]:
            c.err("min_surface_furniture", f"{cs} exceeds counts.furniture max {cf[1]}; fix: lower it")
    elif typ == "tabletop":
        if c.keys("table", ("category", "position_jitter"), see=_SEE):
            c.check("table.category", lambda v: isinstance(v, str), "a catalog category name with surface: true")
            c.number("table.position_jitter", 0.0)
        if c.keys("counts", ("chairs", "small"), see=_SEE):
            c.pair("counts.chairs", 0, integer=True)
            c.pair("counts.small", 0, integer=True)
        if c.keys("categories", ("chairs", "small"), see=_SEE):
            c.weights("categories.chairs", allow_null=True)
            c.weights("categories.small", allow_null=True)
        if c.keys("clearance", ("small", "group", "from_walls"), see=_SEE):
            for k in ("small", "group"):
                c.number(f"clearance.{k}", 0.0, strict=True)
            c.number("clearance.from_walls", 0.0)
    elif typ == "open":
        if c.keys("plane", ("size_x", "size_y", "margin"), see=_SEE):
            c.pair("plane.size_x", 0.0, positive=True)
            c.pair("plane.size_y", 0.0, positive=True)
            c.number("plane.margin", 0.0)
        if c.keys("counts", ("primitives",), see=_SEE):
            c.pair("counts.primitives", 0, integer=True)
        if c.keys("categories", ("primitives",), see=_SEE):
            c.weights("categories.primitives", allow_null=True)
        if c.keys("clearance", ("primitives",), see=_SEE):
            c.number("clearance.primitives", 0.0, strict=True)
    return c.errors


def validate_scene_cfg(scene_cfg: Mapping) -> None:
    """Check a scene config; raise ``ConfigError`` (a ValueError) listing every bad key."""
    raise_errors(scene_cfg_errors(scene_cfg), "invalid scene config")
