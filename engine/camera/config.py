"""Camera sampler configuration: loading and validation of ``conf/camera/*.yaml``.

The config is a plain mapping (a dict, or an OmegaConf ``DictConfig`` from Hydra). Lengths are
metres, angles degrees, image sizes pixels. Every key is required; errors name the key and the
fix. The keys are documented in ``conf/camera/default.yaml`` and ``docs/camera.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path


from engine.camera.framing import framing_cfg_errors
from engine.plain import to_plain
from engine.paths import CONF_DIR
from engine.scene.catalog import SCENE_TYPES
from engine.schema import MISSING, Checker, merge, raise_errors
from engine.yamlio import load_yaml

DEFAULT_CAMERA_CFG = CONF_DIR / "camera" / "default.yaml"

MIN_IMAGE_SIDE, MAX_IMAGE_SIDE = 32, 8192  # pixels; the renderer's own limit is checked by the dry run
# Integer keys: name -> (lowest, highest valid value)
_INT_KEYS = {"width": (MIN_IMAGE_SIDE, MAX_IMAGE_SIDE), "height": (MIN_IMAGE_SIDE, MAX_IMAGE_SIDE),
             "num_views": (1, 64), "min_objects_in_frustum": (0, None), "max_attempts": (1, None)}
_NONNEG_KEYS = ("min_translation_m", "wall_margin_m", "object_margin_m")
_PROFILE_RANGES = ("height_m", "pitch_deg", "distance_m")
_PROFILE_BOOLS = ("clear_footprints", "inside_room")
TOP_KEYS = tuple(_INT_KEYS) + ("fov_deg", "min_rotation_deg") + _NONNEG_KEYS + ("near_m", "profiles")


def load_camera_cfg(path: str | Path | None = None, overrides: Mapping | None = None) -> dict:
    """Load a camera config YAML (default ``conf/camera/default.yaml``), apply ``overrides``.

    ``overrides`` is merged recursively (e.g. ``{"num_views": 3, "profiles": {"room":
    {"height_m": [1.5, 1.6]}}}``). The result is validated and returned as a plain dict.
    """
    p = Path(path) if path else DEFAULT_CAMERA_CFG
    if not p.exists():
        raise ValueError(f"camera config {p} does not exist; fix: pass a path to a camera YAML")
    with open(p) as f:
        cfg = load_yaml(f)
    if overrides:
        cfg = merge(cfg, to_plain(overrides))
    validate_camera_cfg(cfg)
    return cfg


def camera_cfg_errors(camera_cfg: Mapping) -> list[str]:
    """Every problem of a camera config, each ``camera.<key>: problem; fix: ...`` (empty when valid).

    Required keys: see ``conf/camera/default.yaml`` (``width``, ``height``, ``fov_deg``,
    ``num_views``, ``min_objects_in_frustum``, ``min_rotation_deg``, ``min_translation_m``,
    ``wall_margin_m``, ``object_margin_m``, ``near_m``, ``max_attempts``, and ``profiles`` with
    one entry per scene type ``room``/``tabletop``/``open`` holding ``height_m``,
    ``pitch_deg``, ``distance_m`` ranges and ``clear_footprints``, ``inside_room`` flags).
    Unknown keys are rejected too (they are usually typos).
    """
    if not isinstance(camera_cfg, Mapping):
        return [f"camera: expected a mapping, got {type(camera_cfg).__name__}; "
                f"fix: pass the camera group of the config (see {DEFAULT_CAMERA_CFG})"]
    c = Checker(camera_cfg, "camera")
    c.keys("", TOP_KEYS, optional=("mode", "walkthrough"), see=str(DEFAULT_CAMERA_CFG))
    _walkthrough_errors(c)
    for key, (lo, hi) in _INT_KEYS.items():
        c.number(key, lo, hi, integer=True)
    for key in _NONNEG_KEYS:
        c.number(key, 0.0)
    c.number("min_rotation_deg", 0.0, 180.0, unit=" degrees")
    c.number("near_m", 0.0, strict=True, unit=" metres")
    if c.pair("fov_deg", 1.0, 170.0) and c.get("fov_deg")[0] <= 1.0:
        c.err("fov_deg", f"{c.get('fov_deg')!r} is too narrow; fix: use degrees in (1, 170)")
    if not c.keys("profiles", SCENE_TYPES, see=str(DEFAULT_CAMERA_CFG)):
        return c.errors
    for st, prof in c.get("profiles").items():
        where = f"profiles.{st}"
        if st not in SCENE_TYPES or not c.keys(where, _PROFILE_RANGES + _PROFILE_BOOLS, ("framing", "room_types"),
                                                see=str(DEFAULT_CAMERA_CFG)):
            continue
        if prof.get("framing") is not None:
            framing_cfg_errors(c, f"{where}.framing")
        _profile_value_errors(c, where, prof)
        types = prof.get("room_types")
        if types is not None and c.check(f"{where}.room_types", lambda v: isinstance(v, Mapping),
                                         "a mapping room type -> profile keys it changes (e.g. {bathroom: {distance_m: [0.9, 2.2]}})"):
            for rt, part in types.items():  # the names are checked against scenes/room_types.yaml by the pipeline's config
                if c.keys(f"{where}.room_types.{rt}", (), _PROFILE_RANGES + _PROFILE_BOOLS, see=str(DEFAULT_CAMERA_CFG)):
                    _profile_value_errors(c, f"{where}.room_types.{rt}", part)
    return c.errors


def _profile_value_errors(c: Checker, where: str, prof: Mapping) -> None:
    """Checks of a profile's ranges and switches (those present)."""
    checks = {"height_m": (0.0, math.inf), "pitch_deg": (-89.0, 89.0), "distance_m": (0.0, math.inf)}
    for key, (lo, hi) in checks.items():
        if key in prof:
            c.pair(f"{where}.{key}", lo, hi, positive=key == "distance_m")
    for key in _PROFILE_BOOLS:
        if key in prof:
            c.boolean(f"{where}.{key}")


def scene_profile(cfg: Mapping, scene) -> dict:
    """The camera profile of ``scene``: ``cfg["profiles"][scene.room.type]`` with the keys its
    ``room_types`` entry for ``scene.room.room_type`` gives (a bathroom's shorter distances)."""
    prof = dict(cfg["profiles"][scene.room.type])
    prof.update((prof.pop("room_types", None) or {}).get(getattr(scene.room, "room_type", None)) or {})
    return prof


MODES = ("views", "walkthrough")
WALKTHROUGH_CFG = CONF_DIR / "camera" / "walkthrough.yaml"
_WALK_KEYS = ("fps", "duration_s", "clearance_m", "grid_m", "waypoints", "waypoint_distance_m", "max_speed_m_s",
              "max_angular_speed_deg_s", "pitch_deg", "orbit_sweep_deg", "orbit_min_sweep_deg", "orbit_distance_m", "max_attempts")


def _walkthrough_errors(c: Checker) -> None:
    """Checks of the optional ``mode`` and ``walkthrough`` keys (docs/video.md)."""
    if c.get("mode") is MISSING or not c.one_of("mode", MODES) or c.get("mode") != "walkthrough":
        return
    if not c.keys("walkthrough", _WALK_KEYS, see=str(WALKTHROUGH_CFG)):
        return
    c.number("walkthrough.fps", 0.0, 120.0, strict=True)
    c.number("walkthrough.duration_s", 0.0, 600.0, strict=True, unit=" seconds")
    c.number("walkthrough.clearance_m", 0.0, unit=" metres")
    c.number("walkthrough.grid_m", 0.01, 1.0, unit=" metres")
    c.pair("walkthrough.waypoints", 1, 20, integer=True)
    c.pair("walkthrough.waypoint_distance_m", 0.0)
    c.number("walkthrough.max_speed_m_s", 0.0, strict=True)
    c.number("walkthrough.max_angular_speed_deg_s", 0.0, 360.0, strict=True)
    c.pair("walkthrough.pitch_deg", -89.0, 89.0)
    c.number("walkthrough.orbit_sweep_deg", 0.0, 360.0, strict=True)
    c.number("walkthrough.orbit_min_sweep_deg", 0.0, 360.0)
    c.number("walkthrough.max_attempts", 1, None, integer=True)
    if c.keys("walkthrough.orbit_distance_m", ("tabletop", "open"), see=str(WALKTHROUGH_CFG)):
        for st in ("tabletop", "open"):
            c.pair(f"walkthrough.orbit_distance_m.{st}", 0.0)
    fps, dur = c.get("walkthrough.fps"), c.get("walkthrough.duration_s")
    if isinstance(fps, (int, float)) and isinstance(dur, (int, float)) and round(fps * dur) < 2:
        c.err("walkthrough.duration_s", f"fps * duration_s = {fps * dur:g} gives fewer than 2 frames; fix: raise "
              "camera.walkthrough.duration_s or camera.walkthrough.fps")


def validate_camera_cfg(camera_cfg: Mapping) -> None:
    """Check a camera config; raise ``ConfigError`` (a ValueError) listing every problem."""
    raise_errors(camera_cfg_errors(camera_cfg), "invalid camera config")
