"""Room types (living room, bedroom, kitchen, dining room, office, bathroom, ...): their category
priors and placement rules, as data in ``scenes/room_types.yaml`` (docs/layout.md, "Room types").

A room scene config with ``room_types: {name: weight, ...}`` draws one type per scene (one
draw of the layout Generator, before anything else) and samples the room with the config's
keys overridden by the type's (:func:`config_for_type`); ``room_types: null`` keeps one mixed
room drawn from the config's own categories. The type is recorded as ``room.room_type``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from engine.paths import SCENES_DIR
from engine.scene.catalog import Catalog
from engine.yamlio import load_yaml

DEFAULT_ROOM_TYPES = SCENES_DIR / "room_types.yaml"
_TYPE_KEYS = ("name", "room", "counts", "categories", "max_per_category", "min_surface_furniture",
              "small_on_floor_prob", "required")
_KINDS = {"furniture": ("furniture",), "wall": ("wall",), "small": ("small",)}


class RoomTypeError(ValueError):
    """scenes/room_types.yaml is malformed; the message names the type and key."""


def parse_room_types(data: Any, path: str = "<room_types>", catalog: Catalog | None = None) -> dict[str, dict]:
    """Validate the room-type file (as loaded from YAML); returns name -> type mapping.

    With ``catalog``, category names, their kinds and ``required`` (furniture the type lists)
    are checked too. Raises :class:`RoomTypeError` naming ``room_types.<type>.<key>``.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("room_types"), Mapping) or not data["room_types"]:
        raise RoomTypeError(f"{path}: top level must have a non-empty 'room_types' mapping")
    out = {}
    for name, t in data["room_types"].items():
        w = f"{path}: room_types.{name}"
        if not isinstance(t, Mapping):
            raise RoomTypeError(f"{w}: must be a mapping of scene-config overrides")
        bad = set(t) - set(_TYPE_KEYS)
        if bad:
            raise RoomTypeError(f"{w}: unknown keys {sorted(bad)}; allowed: {', '.join(_TYPE_KEYS)}")
        cats = t.get("categories") or {}
        if not isinstance(cats, Mapping) or set(cats) - set(_KINDS):
            raise RoomTypeError(f"{w}.categories: must map furniture / wall / small to weights")
        for kind, weights in cats.items():
            if not isinstance(weights, Mapping) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in weights.values()):
                raise RoomTypeError(f"{w}.categories.{kind}: must map category names to weights >= 0")
            if catalog is not None:
                for k in weights:
                    if k not in catalog:
                        raise RoomTypeError(f"{w}.categories.{kind}.{k}: not a catalog category ({catalog.path})")
                    if catalog[k].kind not in _KINDS[kind]:
                        raise RoomTypeError(f"{w}.categories.{kind}.{k}: a {catalog[k].kind} category; fix: list it "
                                            f"under categories.{catalog[k].kind}")
        req = t.get("required") or []
        if not isinstance(req, list) or not all(isinstance(r, str) for r in req):
            raise RoomTypeError(f"{w}.required: must be a list of furniture categories")
        furn = (cats.get("furniture") or {})
        for r in req:
            if catalog is not None and "furniture" in cats and furn.get(r, 0) <= 0:
                raise RoomTypeError(f"{w}.required: {r!r} is not among the type's furniture with weight > 0; "
                                    f"fix: add it to categories.furniture")
        out[str(name)] = dict(t)
    return out


@lru_cache(maxsize=4)
def load_room_types(path: str | None = None) -> dict[str, dict]:
    """Load and validate ``scenes/room_types.yaml`` (or ``path``); cached per path."""
    p = Path(path) if path else DEFAULT_ROOM_TYPES
    if not p.exists():
        raise RoomTypeError(f"room type file {p} does not exist")
    with open(p, encoding="utf-8") as f:
        return parse_room_types(load_yaml(f), str(p))


def room_type_names() -> list[str]:
    """The room types of ``scenes/room_types.yaml``, in file order."""
    return list(load_room_types())


def room_types_cfg_errors(weights: Any) -> list[str]:
    """Problems of a scene config's ``room_types`` value (null, or type -> weight >= 0 with one
    > 0, every name a type of scenes/room_types.yaml); each names ``scene.room_types``."""
    if weights is None:
        return []
    known = room_type_names()
    if not isinstance(weights, Mapping) or not weights:
        return [f"scene.room_types: must be null or a mapping of room types to weights, e.g. "
                f"{{{known[0]}: 1}}; known types: {', '.join(known)}"]
    errs = []
    for k, v in weights.items():
        if k not in known:
            errs.append(f"scene.room_types.{k}: not a room type; fix: use one of {', '.join(known)} "
                        f"(scenes/room_types.yaml)")
        elif not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
            errs.append(f"scene.room_types.{k}: weight must be a number >= 0, got {v!r}")
    if not errs and not any(float(v) > 0 for v in weights.values()):
        errs.append("scene.room_types: every weight is 0; fix: give at least one type a weight > 0")
    return errs


def config_for_type(cfg: Mapping, room_type: str) -> dict:
    """The room scene config for one room type: ``cfg`` with the type's keys overriding its own
    (``room`` merged key by key; ``categories`` and ``counts`` per kind), plus ``required``."""
    t = load_room_types()[room_type]
    out = copy.deepcopy(dict(cfg))
    for key, val in t.items():
        if key == "name":
            continue
        if key in ("room", "counts", "categories"):
            out[key] = {**out.get(key, {}), **copy.deepcopy(dict(val))}
        else:
            out[key] = copy.deepcopy(val)
    return out


def draw_room_type(cfg: Mapping, rng: np.random.Generator) -> tuple[dict, str | None]:
    """(config for the drawn type, type name), or (``cfg``, None) when ``cfg["room_types"]`` is
    null or absent. One ``rng.random()`` draw; types are taken in the mapping's order."""
    weights = cfg.get("room_types")
    if not weights:
        return dict(cfg), None
    names = list(weights)
    w = np.array([float(weights[k]) for k in names])
    cum = np.cumsum(w)
    i = min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), len(names) - 1)
    return config_for_type(cfg, names[i]), names[i]
