"""Sampling of everything a scene's look depends on: surface textures, object colours, lights.

:func:`sample_appearance` writes ``scene.materials`` and ``scene.lights`` (plain JSON-able
dicts/lists), so a scene renders identically from its record alone. Defaults live in
``scenes/appearance.yaml``. Colours are linear RGB in [0, 1]; angles in radians;
positions in world metres (+Z up); light ``direction`` is the unit vector the light travels
along (from the sun towards the scene, so its z is negative).

``scene.materials`` layout::

    floor:   {texture, color, color2, scale_m, seed, size, specular, shininess,
              extent_m (open scenes: side of the square ground plane, else null), <kind params>}
    wall:    {texture, color, color2, scale_m, seed, size, specular, shininess, noise}
    objects: {<object id>: {color, secondary, material, shading_material, specular, shininess}}
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from engine.assets.meshes import dominant_material
from engine.paths import SCENES_DIR
from engine.scene.catalog import Catalog
from engine.scene.graph import SceneGraph
from engine.scene.openings import window_walls
from engine.schema import MISSING, Checker, is_num, is_rgb, load_data_section, raise_errors
from engine.yamlio import load_yaml

DEFAULT_APPEARANCE = SCENES_DIR / "appearance.yaml"
_DIGITS = 6  # stored floats are rounded so records stay short and readable


@lru_cache(maxsize=4)
def _load(path: str) -> dict:
    with open(path) as f:
        return load_yaml(f)


def load_appearance_config(path: str | Path | None = None) -> dict:
    """The appearance defaults (``scenes/appearance.yaml`` or ``path``) as a plain dict copy."""
    p = Path(path) if path else DEFAULT_APPEARANCE
    if not p.exists():
        raise FileNotFoundError(f"appearance config {p} does not exist; fix: pass render.appearance a YAML path")
    return copy.deepcopy(_load(str(p)))


def _r(x: Any) -> Any:
    """Round floats (and nested lists of them) for the record."""
    if isinstance(x, (list, tuple, np.ndarray)):
        return [_r(v) for v in x]
    return round(float(x), _DIGITS)


def _need(cfg: Mapping, dotted: str) -> Any:
    cur: Any = cfg
    for part in dotted.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            raise KeyError(f"appearance config: {dotted} missing; fix: add it (see scenes/appearance.yaml)")
        cur = cur[part]
    return cur


def _uniform(rng: np.random.Generator, cfg: Mapping, dotted: str) -> float:
    lo, hi = _need(cfg, dotted)
    if lo > hi:
        raise ValueError(f"appearance config: {dotted} = [{lo}, {hi}] needs min <= max")
    return float(rng.uniform(lo, hi))


def _choice(rng: np.random.Generator, weights: Mapping[str, float], where: str) -> str:
    keys = list(weights)  # YAML order is the defined order
    w = np.asarray([float(weights[k]) for k in keys])
    if len(keys) == 0 or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"appearance config: {where} needs non-negative weights with a positive sum, got {dict(weights)}")
    return keys[int(rng.choice(len(keys), p=w / w.sum()))]


def _pick_color(rng: np.random.Generator, cfg: Mapping, dotted: str) -> np.ndarray:
    cols = _need(cfg, dotted)
    return np.asarray(cols[int(rng.integers(len(cols)))], dtype=float)


def kelvin_to_rgb(temperature_k: float) -> list[float]:
    """Linear RGB (max channel 1) of a black body at ``temperature_k`` kelvin (1000-40000 K).

    Uses Tanner Helland's fit of the Planckian locus in sRGB, decoded to linear.
    """
    t = float(np.clip(temperature_k, 1000.0, 40000.0)) / 100.0
    r = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
    g = 99.4708025861 * np.log(t) - 161.1195681661 if t <= 66 else 288.1221695283 * (t - 60) ** -0.0755148492
    b = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.5177312231 * np.log(t - 10) - 305.0447927307)
    srgb = np.clip(np.array([r, g, b]) / 255.0, 0.0, 1.0)
    lin = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    return (lin / lin.max()).tolist()


def secondary_color(rgb: np.ndarray, cfg: Mapping) -> np.ndarray:
    """A darker tone of ``rgb`` (linear), or a lighter one when ``rgb`` is very dark."""
    sec = _need(cfg, "secondary")
    lum = float(np.dot(rgb, [0.2126, 0.7152, 0.0722]))
    if lum < float(sec["dark_luminance"]):
        return np.clip(rgb + float(sec["lighten"]), 0.0, 1.0)
    return np.clip(rgb * float(sec["darken"]), 0.0, 1.0)


def _texture_seed(rng: np.random.Generator, cfg: Mapping) -> int:
    """A texture seed from the pool of ``texture_patterns`` (one draw from ``rng`` either way):
    the patterns' random fields are made once per process and reused, colours and amplitudes
    still vary per scene (engine.assets.textures)."""
    return int(rng.integers(0, 2**31 - 1)) % int(_need(cfg, "texture_patterns"))


def _floor(rng: np.random.Generator, cfg: Mapping, room_type: str) -> dict:
    size = int(_need(cfg, "texture_size"))
    base = {"size": size, "specular": _r(_need(cfg, "floor.specular")), "shininess": _r(_need(cfg, "floor.shininess")),
            "extent_m": None}
    if room_type == "open":
        c = _pick_color(rng, cfg, "open_ground.colors")
        return {**base, "texture": "carpet", "color": _r(c), "color2": _r(c * 0.9), "noise": 0.04,
                "scale_m": _r(_need(cfg, "open_ground.scale_m")), "seed": _texture_seed(rng, cfg),
                "extent_m": _r(_need(cfg, "open_ground.extent_m"))}
    kind = _choice(rng, _need(cfg, "floor.kinds"), "floor.kinds")
    c = _pick_color(rng, cfg, f"floor.{kind}.colors")
    out: dict[str, Any] = {**base, "texture": kind, "color": _r(c)}
    if kind == "wood":
        out.update(color2=_r(c * _uniform(rng, cfg, "floor.wood.tone2")), scale_m=_r(_uniform(rng, cfg, "floor.wood.scale_m")),
                   planks=int(rng.integers(_need(cfg, "floor.wood.planks")[0], _need(cfg, "floor.wood.planks")[1] + 1)),
                   grain=_r(_uniform(rng, cfg, "floor.wood.grain")))
    elif kind == "tiles":
        n = int(_need(cfg, "floor.tiles.tiles"))
        out.update(color2=_r(_pick_color(rng, cfg, "floor.tiles.grout")), tiles=n,
                   scale_m=_r(n * _uniform(rng, cfg, "floor.tiles.tile_m")))
    elif kind == "carpet":
        out.update(color2=_r(c * _uniform(rng, cfg, "floor.carpet.tone2")),
                   scale_m=_r(_uniform(rng, cfg, "floor.carpet.scale_m")), noise=_r(_uniform(rng, cfg, "floor.carpet.noise")))
    else:
        out.update(color2=_r(c), scale_m=_r(_uniform(rng, cfg, f"floor.{kind}.scale_m")))
    out["seed"] = _texture_seed(rng, cfg)
    return out


def _wall(rng: np.random.Generator, cfg: Mapping) -> dict:
    kind = _choice(rng, _need(cfg, "wall.kinds"), "wall.kinds")
    c = _pick_color(rng, cfg, "wall.colors")
    return {"texture": kind, "color": _r(c), "color2": _r(c), "scale_m": _r(_uniform(rng, cfg, "wall.scale_m")),
            "noise": _r(_uniform(rng, cfg, "wall.noise")), "seed": _texture_seed(rng, cfg),
            "size": int(_need(cfg, "texture_size")), "specular": _r(_need(cfg, "wall.specular")),
            "shininess": _r(_need(cfg, "wall.shininess"))}


def _lights(rng: np.random.Generator, cfg: Mapping, scene: SceneGraph) -> list[dict]:
    """The key light (sun or ceiling light) and the ambient light; see :func:`sample_appearance`."""
    rtype = scene.room.type
    p_sun = float(_need(cfg, "lights.sun_probability").get(rtype, 1.0))
    sx, sy, sz = (float(v) for v in scene.room.size)
    use_sun = bool(rng.uniform() < p_sun) or sz <= 0
    closed = bool((scene.room.architecture or {}).get("ceiling")) and bool(scene.room.walls)
    windows = window_walls(scene.room) if closed else []
    if use_sun and (windows or not closed):  # a closed room sees the sun only through a window
        el = np.radians(_uniform(rng, cfg, "lights.sun.elevation_deg"))
        extra = {}
        if closed:  # the sun stands outside a window wall: towards it is the wall's outward normal
            w = windows[int(rng.integers(len(windows)))]
            n_in = np.asarray(w.inward_normal, float)
            az = float(np.arctan2(-n_in[1], -n_in[0]) + np.radians(_uniform(rng, cfg, "lights.sun.window_azimuth_deg")))
            extra["wall"] = w.id
        else:
            az = float(rng.uniform(0.0, 2 * np.pi))
        temp = _uniform(rng, cfg, "lights.sun.temperature_k")
        d = -np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
        key = {"type": "directional", "name": "sun", "direction": _r(d), "elevation": _r(el), "azimuth": _r(az),
               **extra, "temperature_k": _r(temp), "color": _r(kelvin_to_rgb(temp)),
               "intensity": _r(_uniform(rng, cfg, "lights.sun.intensity")), "cast_shadows": True}
    else:
        f = float(_need(cfg, "lights.point.xy_fraction"))
        pos = [rng.uniform(-f, f) * sx, rng.uniform(-f, f) * sy, sz - _uniform(rng, cfg, "lights.point.below_ceiling_m")]
        temp = _uniform(rng, cfg, "lights.point.temperature_k")
        key = {"type": "point", "name": "ceiling", "position": _r(pos), "temperature_k": _r(temp),
               "color": _r(kelvin_to_rgb(temp)), "intensity": _r(_uniform(rng, cfg, "lights.point.intensity")),
               "cast_shadows": True}
    temp = _uniform(rng, cfg, "lights.ambient.temperature_k")
    amb = {"type": "ambient", "name": "ambient", "temperature_k": _r(temp), "color": _r(kelvin_to_rgb(temp)),
           "intensity": _r(_uniform(rng, cfg, "lights.ambient.intensity")), "cast_shadows": False}
    return [key, amb]


def sample_appearance(scene: SceneGraph, catalog: Catalog, appearance_cfg: Mapping,
                      rng: np.random.Generator) -> None:
    """Sample floor/wall textures, object colours and materials, and lights into the scene.

    Args:
        scene: filled in place: ``scene.materials`` (see the module docstring) and
            ``scene.lights`` (a shadow-casting ``directional`` sun or ``point`` ceiling light,
            then an ``ambient`` light).
        catalog: colour names -> linear RGB; objects need ``attributes["color"]`` (a catalog
            colour name) and ``attributes["material"]`` (a catalog material).
        appearance_cfg: the dict of :func:`load_appearance_config` (or a Hydra node as a dict).
        rng: the render stage's generator; draws happen in a fixed order (floor, wall,
            lights, then objects in scene order), so equal inputs give equal records.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: must be a numpy.random.Generator, got {type(rng).__name__}")
    cfg = appearance_cfg
    mats_cfg = _need(cfg, "materials")
    materials: dict[str, Any] = {"floor": _floor(rng, cfg, scene.room.type)}
    if scene.room.walls:
        materials["wall"] = _wall(rng, cfg)
    lights = _lights(rng, cfg, scene)
    jitter = float(_need(cfg, "color_jitter"))
    objs: dict[str, dict] = {}
    for i, o in enumerate(scene.objects):
        where = f"objects[{i}] ({o.id})"
        cname, mat = o.attributes.get("color"), o.attributes.get("material")
        if cname not in catalog.colors:
            raise ValueError(f"{where}.attributes.color: {cname!r} is not a catalog colour {sorted(catalog.colors)}; "
                             "fix: the layout sampler must set it")
        if mat not in mats_cfg:
            raise ValueError(f"{where}.attributes.material: {mat!r} has no entry under materials: in the appearance "
                             f"config ({sorted(mats_cfg)}); fix: set a catalog material or add it to the config")
        rgb = np.clip(np.asarray(catalog.colors[cname]) + rng.uniform(-jitter, jitter, 3), 0.0, 1.0)
        shading = dominant_material(o.category, mat, o.shape_params)
        if shading not in mats_cfg:
            raise ValueError(f"appearance config: materials.{shading} missing (used by the {o.category} mesh recipe)")
        objs[o.id] = {"color": _r(rgb), "secondary": _r(secondary_color(rgb, cfg)), "material": mat,
                      "shading_material": shading, "specular": _r(mats_cfg[shading]["specular"]),
                      "shininess": _r(mats_cfg[shading]["shininess"])}
    materials["objects"] = objs
    scene.materials = materials
    scene.lights = lights


_FLOOR_KINDS = ("wood", "tiles", "carpet", "plain")
_RANGES = ("floor.wood.tone2", "floor.wood.scale_m", "floor.wood.planks", "floor.wood.grain", "floor.tiles.tile_m",
           "floor.carpet.tone2", "floor.carpet.scale_m", "floor.carpet.noise", "floor.plain.scale_m", "wall.scale_m",
           "wall.noise", "lights.sun.elevation_deg", "lights.sun.window_azimuth_deg", "lights.sun.temperature_k", "lights.sun.intensity",
           "lights.point.temperature_k", "lights.point.intensity", "lights.point.below_ceiling_m",
           "lights.ambient.temperature_k", "lights.ambient.intensity")
_REQUIRED = ("secondary.darken", "secondary.lighten", "secondary.dark_luminance", "floor.tiles.tiles",
             "open_ground.extent_m", "open_ground.scale_m", "lights.point.xy_fraction", "lights.sun_probability",
             "floor.specular", "floor.shininess", "wall.specular", "wall.shininess")


def _rgb_list(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(is_rgb(c) for c in v)


def appearance_cfg_errors(cfg: Any) -> list[str]:
    """Every problem of an appearance config (a mapping, or a YAML path / None for the default
    file), each ``render.appearance.<key>: problem; fix: ...`` (empty when valid)."""
    cfg, errors = load_data_section(cfg, load_appearance_config, "render.appearance", "scenes/appearance.yaml",
                                    " or point render.appearance at another file")
    if errors:
        return errors
    c = Checker(cfg, "render.appearance")

    def present(dotted: str) -> bool:
        if c.get(dotted) is MISSING:
            c.err(dotted, "missing; fix: copy it from scenes/appearance.yaml")
            return False
        return True

    for key in ("color_jitter", "texture_size"):
        if present(key):
            c.number(key, 0.0)
    if present("texture_patterns"):
        c.check("texture_patterns", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
                "an integer >= 1 (texture seeds per kind; e.g. 32)")
    if present("materials") and c.check("materials", lambda v: isinstance(v, Mapping), "a mapping name -> {specular, shininess}"):
        for name in c.get("materials"):
            c.check(f"materials.{name}", lambda m: isinstance(m, Mapping) and is_num(m.get("specular")) and 0 <= m["specular"] <= 1
                    and is_num(m.get("shininess")) and m["shininess"] > 0, "{specular: 0..1, shininess: > 0}")
    if present("floor.kinds"):
        c.weights("floor.kinds", _FLOOR_KINDS)
    for dotted in [f"floor.{k}.colors" for k in _FLOOR_KINDS] + ["floor.tiles.grout", "open_ground.colors", "wall.colors"]:
        if present(dotted):
            c.check(dotted, _rgb_list, "a non-empty list of linear RGB triples in [0, 1]")
    for dotted in _RANGES:
        if present(dotted):
            c.pair(dotted)
    if present("wall.kinds"):
        c.weights("wall.kinds", ("plaster", "plain"))
    for dotted in _REQUIRED:
        present(dotted)
    return c.errors


def validate_appearance_cfg(cfg: Any) -> None:
    """Check an appearance config; raise ``ConfigError`` (a ValueError) listing every problem."""
    raise_errors(appearance_cfg_errors(cfg), "invalid appearance config")
