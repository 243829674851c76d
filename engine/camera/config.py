"""Camera sampler configuration: loading and validation of ``conf/camera/*.yaml``.

The config is a plain mapping (a dict, or an OmegaConf ``DictConfig`` from Hydra). Lengths are
metres, angles degrees, image sizes pixels. Every key is required; errors name the key and the
fix. The keys are documented in ``conf/camera/default.yaml`` and ``docs/camera.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from engine.plain import to_plain
from engine.paths import CONF_DIR
from engine.scene.catalog import SCENE_TYPES

DEFAULT_CAMERA_CFG = CONF_DIR / "camera" / "default.yaml"

# Top-level scalar keys: name -> (type, lower bound, lower bound inclusive?)
_INT_KEYS = {"width": 1, "height": 1, "num_views": 1, "min_objects_in_frustum": 0, "max_attempts": 1}
_NONNEG_KEYS = ("min_rotation_deg", "min_translation_m", "wall_margin_m", "object_margin_m")
_PROFILE_RANGES = ("height_m", "pitch_deg", "distance_m")
_PROFILE_BOOLS = ("clear_footprints", "inside_room")
TOP_KEYS = tuple(_INT_KEYS) + ("fov_deg",) + _NONNEG_KEYS + ("near_m", "profiles")


def load_camera_cfg(path: str | Path | None = None, overrides: Mapping | None = None) -> dict:
    """Load a camera config YAML (default ``conf/camera/default.yaml``), apply ``overrides``.

    ``overrides`` is merged recursively (e.g. ``{"num_views": 3, "profiles": {"room":
    {"height_m": [1.5, 1.6]}}}``). The result is validated and returned as a plain dict.
    """
    p = Path(path) if path else DEFAULT_CAMERA_CFG
    if not p.exists():
        raise ValueError(f"camera config {p} does not exist; fix: pass a path to a camera YAML")
    with open(p) as f:
        cfg = yaml.safe_load(f)
    if overrides:
        cfg = _merge(cfg, to_plain(overrides))
    validate_camera_cfg(cfg)
    return cfg


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check_range(name: str, v: Any, lo: float, hi: float) -> None:
    """``v`` must be [min, max] with lo <= min <= max <= hi."""
    if not (isinstance(v, list) and len(v) == 2 and all(_is_num(x) for x in v)):
        raise ValueError(f"camera.{name}: must be a [min, max] pair of numbers, got {v!r}; "
                         f"fix: e.g. {name}: [{lo if math.isfinite(lo) else 0}, ...]")
    if not (lo <= v[0] <= v[1] <= hi):
        raise ValueError(f"camera.{name}: {v!r} must satisfy {lo} <= min <= max <= {hi}; fix: reorder or narrow the range")


def validate_camera_cfg(camera_cfg: Mapping) -> None:
    """Check a camera config; raise ValueError naming the key and the fix.

    Required keys: see ``conf/camera/default.yaml`` (``width``, ``height``, ``fov_deg``,
    ``num_views``, ``min_objects_in_frustum``, ``min_rotation_deg``, ``min_translation_m``,
    ``wall_margin_m``, ``object_margin_m``, ``near_m``, ``max_attempts``, and ``profiles`` with
    one entry per scene type ``room``/``tabletop``/``open`` holding ``height_m``,
    ``pitch_deg``, ``distance_m`` ranges and ``clear_footprints``, ``inside_room`` flags).
    Unknown keys are rejected too (they are usually typos).
    """
    if not isinstance(camera_cfg, Mapping):
        raise ValueError(f"camera config: expected a mapping, got {type(camera_cfg).__name__}; "
                         f"fix: pass the camera group of the config (see {DEFAULT_CAMERA_CFG})")
    cfg = to_plain(camera_cfg)
    for key in TOP_KEYS:
        if key not in cfg:
            raise ValueError(f"camera.{key}: missing; fix: add it (see {DEFAULT_CAMERA_CFG})")
    for key in cfg:
        if key not in TOP_KEYS:
            raise ValueError(f"camera.{key}: unknown key; fix: remove it or use one of {sorted(TOP_KEYS)}")
    for key, lo in _INT_KEYS.items():
        v = cfg[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            raise ValueError(f"camera.{key}: must be an integer >= {lo}, got {v!r}")
    for key in _NONNEG_KEYS:
        if not _is_num(cfg[key]) or cfg[key] < 0:
            raise ValueError(f"camera.{key}: must be a number >= 0, got {cfg[key]!r}")
    if not _is_num(cfg["near_m"]) or cfg["near_m"] <= 0:
        raise ValueError(f"camera.near_m: must be a positive number of metres, got {cfg['near_m']!r}")
    _check_range("fov_deg", cfg["fov_deg"], 1.0, 170.0)
    if cfg["fov_deg"][0] <= 1.0:
        raise ValueError(f"camera.fov_deg: {cfg['fov_deg']!r} is too narrow; fix: use degrees in (1, 170)")
    if cfg["min_rotation_deg"] > 180:
        raise ValueError(f"camera.min_rotation_deg: {cfg['min_rotation_deg']} exceeds 180; fix: use 0..180 degrees")
    profiles = cfg["profiles"]
    if not isinstance(profiles, dict):
        raise ValueError("camera.profiles: must map scene types (room, tabletop, open) to camera ranges")
    for st in SCENE_TYPES:
        if st not in profiles:
            raise ValueError(f"camera.profiles.{st}: missing; fix: add a profile for scene type {st!r} "
                             f"(see {DEFAULT_CAMERA_CFG})")
    for st, prof in profiles.items():
        where = f"profiles.{st}"
        if st not in SCENE_TYPES:
            raise ValueError(f"camera.{where}: {st!r} is not a scene type {SCENE_TYPES}; fix: rename or remove it")
        if not isinstance(prof, dict):
            raise ValueError(f"camera.{where}: must be a mapping of height_m, pitch_deg, distance_m, ...")
        for key in _PROFILE_RANGES + _PROFILE_BOOLS:
            if key not in prof:
                raise ValueError(f"camera.{where}.{key}: missing; fix: add it (see {DEFAULT_CAMERA_CFG})")
        for key in prof:
            if key not in _PROFILE_RANGES + _PROFILE_BOOLS:
                raise ValueError(f"camera.{where}.{key}: unknown key; fix: use one of "
                                 f"{list(_PROFILE_RANGES + _PROFILE_BOOLS)}")
        _check_range(f"{where}.height_m", prof["height_m"], 0.0, math.inf)
        _check_range(f"{where}.pitch_deg", prof["pitch_deg"], -89.0, 89.0)
        _check_range(f"{where}.distance_m", prof["distance_m"], 0.0, math.inf)
        if prof["distance_m"][0] <= 0:
            raise ValueError(f"camera.{where}.distance_m: minimum must be > 0 m, got {prof['distance_m']!r}")
        for key in _PROFILE_BOOLS:
            if not isinstance(prof[key], bool):
                raise ValueError(f"camera.{where}.{key}: must be true or false, got {prof[key]!r}")
