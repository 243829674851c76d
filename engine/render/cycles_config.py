"""The Cycles backend's settings (``render.cycles``) and the material map to Blender's Principled BSDF.

Light-weight on purpose: the render config check (engine/render/protocol.py) imports it, and
nothing here starts Blender. Defaults live in conf/render/cycles.yaml (its ``cycles`` section),
the material table in scenes/principled.yaml.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.paths import CONF_DIR, REPO_ROOT, SCENES_DIR
from engine.plain import to_plain
from engine.schema import MISSING, Checker
from engine.yamlio import load_yaml

CYCLES_CFG = CONF_DIR / "render" / "cycles.yaml"
PRINCIPLED_FILE = SCENES_DIR / "principled.yaml"
CYCLES_KEYS = ("samples", "denoise", "device")
PYTHON_ENV = "SPATIALFORGE_CYCLES_PYTHON"  # another interpreter with bpy 4.5 (e.g. an installed package)
DEVICES = ("auto", "cpu", "gpu")
VENV_PYTHON = REPO_ROOT / ".venv-cycles" / "bin" / "python"
SETUP_HINT = "make setup-cycles (a venv with bpy 4.5 from PyPI on Python 3.11, tools/cycles-requirements.txt)"


@lru_cache(maxsize=1)
def cycles_defaults() -> dict:
    """The ``cycles`` section of conf/render/cycles.yaml: samples, denoise, device."""
    with open(CYCLES_CFG, encoding="utf-8") as f:
        return dict(load_yaml(f)["cycles"])


def cycles_settings(render_cfg: Mapping) -> dict:
    """``render.cycles`` with every key missing from it taken from conf/render/cycles.yaml."""
    own = to_plain(render_cfg.get("cycles")) or {}
    return {**cycles_defaults(), **own}


def cycles_cfg_errors(render_cfg: Mapping) -> list[str]:
    """Problems of the optional ``render.cycles`` section, each ``render.cycles.<key>: ...; fix: ...``.

    Every key may be left out (the default of conf/render/cycles.yaml applies)."""
    c = Checker(render_cfg, "render")
    if c.get("cycles") is MISSING or c.get("cycles") is None:
        return []
    if not c.keys("cycles", [], CYCLES_KEYS, see=str(CYCLES_CFG.name)):
        return c.errors
    c.number("cycles.samples", 1, 65536, integer=True, unit=" (path-tracing samples per pixel)")
    c.boolean("cycles.denoise")
    c.one_of("cycles.device", DEVICES)
    return c.errors


def cycles_python() -> Path:
    """The interpreter that runs the Blender worker: $SPATIALFORGE_CYCLES_PYTHON, else the checkout's
    .venv-cycles/bin/python (machine set-up, not data: it stays out of the config and its hash)."""
    return Path(os.environ.get(PYTHON_ENV) or VENV_PYTHON)


@lru_cache(maxsize=1)
def principled_table() -> dict[str, dict]:
    """Shading material name -> {roughness, metallic} (scenes/principled.yaml)."""
    with open(PRINCIPLED_FILE, encoding="utf-8") as f:
        table = load_yaml(f)
    for name, m in table.items():
        if not (isinstance(m, Mapping) and 0 <= m.get("roughness", -1) <= 1 and 0 <= m.get("metallic", -1) <= 1):
            raise ValueError(f"{PRINCIPLED_FILE.name}: {name}: got {m!r}; fix: {{roughness: 0..1, metallic: 0..1}}")
    return table


def phong_roughness(shininess: float) -> float:
    """Principled roughness of a Blinn-Phong exponent: alpha = sqrt(2 / (n + 2)) (Walter et al.'s
    Beckmann equivalence), and Blender's alpha = roughness^2, so roughness = (2 / (n + 2)) ** 0.25."""
    return float((2.0 / (max(float(shininess), 0.0) + 2.0)) ** 0.25)


def principled_params(material: Mapping[str, Any] | None, shininess: float) -> tuple[float, float]:
    """(roughness, metallic) in [0, 1] for one mesh: the record's own ``roughness``/``metallic`` if it
    has them, else its ``shading_material``'s row of scenes/principled.yaml, else
    (:func:`phong_roughness` of ``shininess``, 0)."""
    material = material or {}
    row = principled_table().get(material.get("shading_material"), {})
    rough = material.get("roughness", row.get("roughness", phong_roughness(shininess)))
    metal = material.get("metallic", row.get("metallic", 0.0))
    return min(max(float(rough), 0.0), 1.0), min(max(float(metal), 0.0), 1.0)


# Lambert surfaces under Cycles: a sun of strength S (W/m^2) gives outgoing radiance albedo * S / pi,
# a point light of power P (W) at distance d gives albedo * P / (4 pi^2 d^2). The raster backend's
# shading is albedo * E for irradiance E (directional) and albedo * I / d^2 (point), so these factors
# make the two agree on a lit white wall (measured: 0.321 and 0.0251 per unit, i.e. 1/pi and 1/4pi^2).
SUN_STRENGTH_PER_IRRADIANCE = math.pi
POINT_POWER_PER_INTENSITY = 4 * math.pi**2
