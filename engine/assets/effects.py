"""Sampling of the ``render.quality: high`` effects into the scene record.

:func:`sample_effects` runs after :func:`engine.assets.appearance.sample_appearance` (it reads the
materials that sampled) and writes, for the effects switched on in ``render.high``:

- ``scene.materials["effects"]``::

      quality: high
      pbr, normal_detail: bool               (the switches, so the renderer needs the record only)
      floor / wall: {roughness, metalness, bump_mm}
      objects: {<object id>: {roughness, metalness, detail (wood | fabric | null), bump_mm}}
      ssao: {radius_m, strength, samples} or null

- extra lights appended to ``scene.lights`` (after the key and ambient lights): rooms with walls
  get a ``window`` directional light (daylight entering through the window wall recorded in
  ``wall``, no shadow map; none in a closed room without windows) and a warm ``lamp`` point
  light; scenes without walls a cool ``sky`` light;
- ``view.params["camera_effects"]`` per view (see :func:`engine.render.post.apply_camera_effects`).

Ranges come from ``scenes/render_effects.yaml`` (or ``render.effects``). Each effect draws from its
own child of the given generator, split off in a fixed order, so switching one effect off does
not change what the others sample; under ``quality: fast`` nothing is drawn or written.
"""

from __future__ import annotations

import copy
import math
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from engine.assets.appearance import kelvin_to_rgb
from engine.assets.meshes import dominant_material
from engine.paths import SCENES_DIR
from engine.rng import child_rng
from engine.scene.graph import SceneGraph
from engine.scene.openings import window_walls
from engine.schema import MISSING, Checker, load_data_section
from engine.yamlio import load_yaml

DEFAULT_EFFECTS = SCENES_DIR / "render_effects.yaml"
QUALITIES = ("fast", "high")
HIGH_KEYS = ("quality", "high", "effects")  # the render keys of the quality preset (only high reads them)
SWITCHES = ("pbr", "normal_detail", "ssao", "lights", "camera")  # render.high keys, in draw order
_DIGITS = 6
FLOOR_KINDS = ("wood", "tiles", "carpet", "plain")
DETAIL_MATERIALS = ("wood", "fabric")


@lru_cache(maxsize=4)
def _load(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return load_yaml(f)


def load_effects_config(path: str | Path | None = None) -> dict:
    """The effect ranges (``scenes/render_effects.yaml`` or ``path``) as a plain dict copy."""
    p = Path(path) if path else DEFAULT_EFFECTS
    if not p.exists():
        raise FileNotFoundError(f"render effects config {p} does not exist; fix: point render.effects at a YAML "
                                "file like scenes/render_effects.yaml, or null for the default")
    return copy.deepcopy(_load(str(p)))


def resolve_effects_config(value: Any) -> dict:
    """``render.effects`` as a dict: an inline mapping as is, a path (or None) loaded."""
    return dict(value) if isinstance(value, Mapping) else load_effects_config(value)


def high_switches(render_cfg: Mapping) -> dict[str, bool] | None:
    """The effects to sample for a render config: ``render.high`` when ``render.quality`` is
    ``high``, else None (``fast``, also when the key is absent: nothing is sampled)."""
    if render_cfg.get("quality", "fast") != "high":
        return None
    high = render_cfg.get("high") or {}
    return {k: bool(high.get(k, True)) for k in SWITCHES}


def _r(x: Any) -> Any:
    if isinstance(x, (list, tuple, np.ndarray)):
        return [_r(v) for v in x]
    return round(float(x), _DIGITS)


def _u(rng: np.random.Generator, pair) -> float:
    return float(rng.uniform(float(pair[0]), float(pair[1])))


def _pbr(rng, pair: Mapping) -> dict:
    return {"roughness": _r(_u(rng, pair["roughness"])), "metalness": _r(_u(rng, pair["metalness"]))}


def phong_roughness(shininess: float) -> float:
    """The GGX roughness whose lobe matches a Blinn-Phong exponent: sqrt(2 / (shininess + 2))."""
    return float(np.sqrt(2.0 / (float(shininess) + 2.0)))


def _surfaces(scene: SceneGraph, cfg: Mapping, sw: Mapping, rng_pbr, rng_nd) -> tuple[dict, dict | None]:
    """(floor entry, wall entry or None): roughness/metalness (pbr) and bump_mm (normal detail)."""
    mats = scene.materials
    floor_kind = mats["floor"].get("texture")
    floor_kind = floor_kind if floor_kind in FLOOR_KINDS else "plain"
    floor = _pbr(rng_pbr, cfg["pbr"]["floor"][floor_kind]) if sw["pbr"] else {}
    floor["bump_mm"] = _r(_u(rng_nd, cfg["normal_detail"]["floor"][floor_kind])) if sw["normal_detail"] else 0.0
    if "wall" not in mats:
        return floor, None
    wall = _pbr(rng_pbr, cfg["pbr"]["wall"]) if sw["pbr"] else {}
    wall["bump_mm"] = _r(_u(rng_nd, cfg["normal_detail"]["wall"])) if sw["normal_detail"] else 0.0
    return floor, wall


def _objects(scene: SceneGraph, cfg: Mapping, sw: Mapping, rng_pbr, rng_nd) -> dict:
    out = {}
    objs = scene.materials["objects"]
    for o in scene.objects:
        shading = objs[o.id].get("shading_material") or dominant_material(o.category, objs[o.id]["material"])
        if not sw["pbr"]:
            entry = {}
        elif shading in cfg["pbr"]:
            entry = _pbr(rng_pbr, cfg["pbr"][shading])
        else:  # a material the effects file does not list: the Blinn-Phong exponent's equivalent roughness
            entry = {"roughness": _r(phong_roughness(objs[o.id]["shininess"])), "metalness": 0.0}
        detail = shading if shading in DETAIL_MATERIALS and sw["normal_detail"] else None
        entry["detail"] = detail
        entry["bump_mm"] = _r(_u(rng_nd, cfg["normal_detail"]["objects"][detail])) if detail else 0.0
        out[o.id] = entry
    return out


def _light(name: str, temp: float, intensity: float, **geometry) -> dict:
    return {"name": name, **geometry, "temperature_k": _r(temp), "color": _r(kelvin_to_rgb(temp)),
            "intensity": _r(intensity), "cast_shadows": False}


def extra_lights(scene: SceneGraph, cfg: Mapping, rng: np.random.Generator) -> list[dict]:
    """The extra lights of a scene (see the module docstring), as record dicts.

    Window: a wall holding a window (any wall in a room without a ceiling; none, and so no
    window light, in a closed room without windows); azimuth = the direction of the chosen wall's
    inward normal, the light travelling
    ``(cos(el) n_in, -sin(el))``; lamp: a point light at ``height_m``, at least
    ``wall_margin_m`` from the walls of the (centred) room, so it does not burn a spot into one; sky (no walls): direction ``-(cos(el) cos(az), cos(el) sin(az), sin(el))``.
    """
    lc = cfg["lights"]
    walls = scene.room.walls
    if walls:
        closed = bool((scene.room.architecture or {}).get("ceiling"))
        lit = window_walls(scene.room) if closed else walls  # a closed room's daylight comes through a window
        out = []
        if lit:
            w = lit[int(rng.integers(len(lit)))]
            el = np.radians(_u(rng, lc["window"]["elevation_deg"]))
            n_in = np.asarray(w.inward_normal, float)
            d = [np.cos(el) * n_in[0], np.cos(el) * n_in[1], -np.sin(el)]
            out.append(_light("window", _u(rng, lc["window"]["temperature_k"]), _u(rng, lc["window"]["intensity"]),
                              type="directional", direction=_r(d), elevation=_r(el),
                              azimuth=_r(np.arctan2(n_in[1], n_in[0])), wall=w.id))
        margin = float(lc["lamp"]["wall_margin_m"])
        hx, hy = (max(float(v) / 2 - margin, 0.0) for v in scene.room.size[:2])
        pos = [rng.uniform(-1.0, 1.0) * hx, rng.uniform(-1.0, 1.0) * hy, _u(rng, lc["lamp"]["height_m"])]
        out.append(_light("lamp", _u(rng, lc["lamp"]["temperature_k"]), _u(rng, lc["lamp"]["intensity"]),
                          type="point", position=_r(pos)))
        return out
    el = np.radians(_u(rng, lc["sky"]["elevation_deg"]))
    az = float(rng.uniform(0.0, 2 * np.pi))
    d = -np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    return [_light("sky", _u(rng, lc["sky"]["temperature_k"]), _u(rng, lc["sky"]["intensity"]),
                   type="directional", direction=_r(d), elevation=_r(el), azimuth=_r(az))]


def camera_effects(cfg: Mapping, rng: np.random.Generator) -> dict:
    """One view's camera effects (the ``view.params["camera_effects"]`` record entry)."""
    c = cfg["camera"]
    wb = [_u(rng, c["white_balance"]), 1.0, _u(rng, c["white_balance"])]
    lo, hi = (int(q) for q in c["jpeg_quality"])
    return {"exposure_ev": _r(_u(rng, c["exposure_ev"])), "white_balance": _r(wb),
            "noise_std": _r(_u(rng, c["noise_std"])), "shot_noise": _r(_u(rng, c["shot_noise"])),
            "noise_seed": int(rng.integers(0, 2**31 - 1)), "blur_sigma_px": _r(_u(rng, c["blur_sigma_px"])),
            "vignetting": _r(_u(rng, c["vignetting"])), "jpeg_quality": int(rng.integers(lo, hi + 1))}


def sample_effects(scene: SceneGraph, effects_cfg: Mapping, switches: Mapping[str, bool] | None,
                   rng: np.random.Generator) -> None:
    """Write the high-quality effects into ``scene`` (in place; see the module docstring).

    Args:
        scene: after appearance sampling (``scene.materials``, ``scene.lights``) and camera
            sampling (``scene.views``).
        effects_cfg: the dict of :func:`load_effects_config`.
        switches: :func:`high_switches` of the render config; None (``quality: fast``) does nothing.
        rng: the scene's ``effects`` stage generator; one child per effect in :data:`SWITCHES`
            order, then one per view for the camera, split off whether or not the effect is on.
    """
    if switches is None:
        return
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: must be a numpy.random.Generator, got {type(rng).__name__}")
    if "floor" not in scene.materials or "objects" not in scene.materials:
        raise ValueError(f"scene {scene.scene_id}: materials missing; fix: run sample_appearance before sample_effects")
    sw = {k: bool(switches.get(k, False)) for k in SWITCHES}
    rngs = {k: child_rng(rng) for k in SWITCHES}
    view_rngs = [child_rng(rngs["camera"]) for _ in scene.views]
    floor, wall = _surfaces(scene, effects_cfg, sw, rngs["pbr"], rngs["normal_detail"])
    rec: dict[str, Any] = {"quality": "high", "pbr": sw["pbr"], "normal_detail": sw["normal_detail"], "floor": floor}
    if wall is not None:
        rec["wall"] = wall
    rec["objects"] = _objects(scene, effects_cfg, sw, rngs["pbr"], rngs["normal_detail"])
    s = effects_cfg["ssao"]
    rec["ssao"] = ({"radius_m": _r(_u(rngs["ssao"], s["radius_m"])), "strength": _r(_u(rngs["ssao"], s["strength"])),
                    "samples": int(s["samples"])} if sw["ssao"] else None)
    scene.materials["effects"] = rec
    if sw["lights"]:
        scene.lights = list(scene.lights or []) + extra_lights(scene, effects_cfg, rngs["lights"])
    if sw["camera"]:
        for view, vr in zip(scene.views, view_rngs):
            view.params["camera_effects"] = camera_effects(effects_cfg, vr)


# ------------------------------------------------------------------------------ validation

_PAIRS = ("ssao.radius_m", "ssao.strength", "normal_detail.wall", "lights.window.temperature_k",
          "lights.window.intensity", "lights.window.elevation_deg", "lights.lamp.temperature_k",
          "lights.lamp.intensity", "lights.lamp.height_m", "lights.sky.temperature_k", "lights.sky.intensity",
          "lights.sky.elevation_deg", "camera.exposure_ev", "camera.white_balance", "camera.noise_std",
          "camera.shot_noise", "camera.blur_sigma_px", "camera.vignetting", "camera.jpeg_quality")
_BOUNDS = {"ssao.strength": (0, 1), "camera.vignetting": (0, 0.95), "camera.jpeg_quality": (1, 100),
           "camera.white_balance": (0.01, 10), "camera.noise_std": (0, 1), "camera.shot_noise": (0, 1),
           "camera.blur_sigma_px": (0, 10), "camera.exposure_ev": (-10, 10), "ssao.radius_m": (0.001, 10)}
SHADING_MATERIALS = ("wood", "metal", "plastic", "fabric", "leather", "ceramic", "glass", "rubber", "paper", "stone")


def effects_cfg_errors(cfg: Any) -> list[str]:
    """Every problem of a render effects config (a mapping, or a YAML path / None for the default
    file), each ``render.effects.<key>: problem; fix: ...`` (empty when valid)."""
    cfg, errors = load_data_section(cfg, load_effects_config, "render.effects", "scenes/render_effects.yaml")
    if errors:
        return errors
    c = Checker(cfg, "render.effects")

    def pair(dotted: str, lo: float = -math.inf, hi: float = math.inf) -> None:
        if c.get(dotted) is MISSING:
            c.err(dotted, "missing; fix: copy it from scenes/render_effects.yaml")
        else:
            c.pair(dotted, lo, hi, integer=dotted == "camera.jpeg_quality")

    pbr_keys = [f"pbr.{m}" for m in SHADING_MATERIALS] + [f"pbr.floor.{k}" for k in FLOOR_KINDS] + ["pbr.wall"]
    for base in pbr_keys:
        pair(f"{base}.roughness", 0.02, 1.0)
        pair(f"{base}.metalness", 0.0, 1.0)
    for m in DETAIL_MATERIALS:
        pair(f"normal_detail.objects.{m}", 0.0, 10.0)  # millimetres
    for k in FLOOR_KINDS:
        pair(f"normal_detail.floor.{k}", 0.0, 10.0)
    for dotted in _PAIRS:
        pair(dotted, *_BOUNDS.get(dotted, (-math.inf, math.inf)))
    for dotted, lo, hi, integer, unit in (("ssao.samples", 1, 64, True, " (samples per pixel)"),
                                          ("lights.lamp.wall_margin_m", 0.0, 10.0, False, " (metres)")):
        if c.get(dotted) is MISSING:
            c.err(dotted, "missing; fix: copy it from scenes/render_effects.yaml")
        else:
            c.number(dotted, lo, hi, integer=integer, unit=unit)
    return c.errors
