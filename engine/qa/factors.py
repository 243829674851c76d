"""Factors: the named quantities of a dataset row (``conf/factors.yaml``) and their values.

A factor is defined once, in the registry (name, level, type, unit, bins, description); this
module loads it and computes every factor of a row from the scene record and the QA row. The
values go into the row's ``factors`` column as canonical JSON (docs/factors.md), where split
strategies (``engine.pipeline.splits``), the leakage checker and scoring read them. The blind
meter never reads them.

Levels: ``scene`` factors are one value per scene, ``view`` factors describe the first view a row
shows (``num_views`` all of them), ``row`` factors the question; rows of ``stages.qa=false``
runs carry the scene and view factors only.
"""

from __future__ import annotations

import bisect
import functools
import json
from dataclasses import dataclass


from engine.paths import data_dir
from engine.yamlio import load_yaml

FACTOR_TYPES = ("int", "float", "str", "list")
LEVELS = ("scene", "view", "row")


class FactorError(ValueError):
    """The factor registry is malformed (names the key and the fix)."""


@dataclass(frozen=True)
class Factor:
    """One registry entry."""

    name: str
    level: str
    type: str
    description: str
    unit: str | None = None
    bins: tuple[float, ...] | None = None

    @property
    def numeric(self) -> bool:
        return self.type in ("int", "float")

    def bin_of(self, x: float) -> int:
        """Bin index of ``x``: bin j holds edges[j-1] <= x < edges[j] (k edges, k+1 bins)."""
        return bisect.bisect_right(self.bins or (), x)


def registry_path():
    return data_dir("conf") / "factors.yaml"


def parse_registry(raw) -> dict[str, Factor]:
    """Registry mapping (the YAML's top) -> {name: Factor}; raises FactorError naming the key."""
    where = "conf/factors.yaml"
    if not isinstance(raw, dict) or not isinstance(raw.get("factors"), dict):
        raise FactorError(f"{where}: expected a mapping `factors: {{name: {{level, type, ...}}}}`")
    out = {}
    for name, d in raw["factors"].items():
        key = f"{where}: factors.{name}"
        if not isinstance(d, dict):
            raise FactorError(f"{key}: expected a mapping; fix: give level, type and description")
        unknown = set(d) - {"level", "type", "unit", "bins", "description"}
        if unknown:
            raise FactorError(f"{key}: unknown keys {sorted(unknown)}; fix: use level, type, unit, bins, description")
        if d.get("level") not in LEVELS:
            raise FactorError(f"{key}.level: got {d.get('level')!r}; fix: one of {', '.join(LEVELS)}")
        if d.get("type") not in FACTOR_TYPES:
            raise FactorError(f"{key}.type: got {d.get('type')!r}; fix: one of {', '.join(FACTOR_TYPES)}")
        bins = d.get("bins")
        if bins is not None:
            if d["type"] not in ("int", "float") or not isinstance(bins, list) or not bins or \
                    not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bins) or \
                    any(b >= c for b, c in zip(bins, bins[1:])):
                raise FactorError(f"{key}.bins: got {bins!r}; fix: increasing numbers, on a numeric factor only")
            bins = tuple(float(b) for b in bins)
        if not isinstance(d.get("description"), str) or not d["description"]:
            raise FactorError(f"{key}.description: missing; fix: say what the factor is and where it comes from")
        out[str(name)] = Factor(str(name), d["level"], d["type"], d["description"], d.get("unit"), bins)
    return out


@functools.lru_cache(maxsize=None)
def load_factors() -> dict[str, Factor]:
    """The registry of ``conf/factors.yaml`` (cached)."""
    with open(registry_path(), encoding="utf-8") as f:
        return parse_registry(load_yaml(f))


def _r(x, nd: int):
    return None if x is None else round(float(x), nd)


def scene_factors(scene) -> dict:
    """The scene-level factors of a ``SceneGraph``."""
    objs = scene.objects
    sx, sy = float(scene.room.size[0]), float(scene.room.size[1])
    key = next((lt for lt in (scene.lights or []) if lt.get("name") != "ambient" and lt.get("type") != "ambient"), None)
    return {
        "num_objects": len(objs),
        "room_type": scene.room.room_type or scene.room.type,
        "floor_area": round(sx * sy, 2),
        "scene_categories": sorted({o.category for o in objs}),
        "scene_color_pairs": sorted({_pair(o, "color") for o in objs} - {None}),
        "scene_material_pairs": sorted({_pair(o, "material") for o in objs} - {None}),
        "light": None if key is None else str(key.get("name") or key.get("type")),
        "light_intensity": None if key is None else _r(key.get("intensity"), 4),
    }


def _pair(obj, attr: str) -> str | None:
    v = (obj.attributes or {}).get(attr)
    return None if v is None else f"{obj.category}/{v}"


def view_factors(scene, view_ids: list[str]) -> dict:
    """The view-level factors of the row showing ``view_ids`` (camera of the first view)."""
    views = {v.id: v for v in scene.views}
    v = views.get(view_ids[0]) if view_ids else None
    p = (v.params or {}) if v is not None else {}
    return {
        "camera_height": _r(p.get("height"), 3),
        "camera_pitch": _r(p.get("pitch_deg"), 2),
        "camera_fov": _r(p.get("fov_deg"), 2),
        "image_size": None if v is None else f"{int(v.width)}x{int(v.height)}",
        "num_views": len(view_ids),
    }


def row_factors(scene, qa: dict) -> dict:
    """The question-level factors of QA row ``qa`` (a generator row or a dataset row)."""
    by_id = {o.id: o for o in scene.objects}
    refs = [by_id[i] for i in (qa.get("objects") or []) if i in by_id]
    views = [v for v in scene.views if v.id in set(qa.get("view_ids") or [])]
    vis, dist = [], []
    for v in views:
        for o in refs:
            e = v.objects.get(o.id)
            if e is None:
                continue
            if e.visible_fraction is not None:
                vis.append(float(e.visible_fraction))
            if e.distance is not None:
                dist.append(float(e.distance))
    meta = qa.get("meta") or {}
    if isinstance(meta, str):
        meta = json.loads(meta)
    marks = qa.get("marks")
    return {
        "ref_visible_min": _r(min(vis), 4) if vis else None,
        "ref_distance_min": _r(min(dist), 3) if dist else None,
        "ref_distance_max": _r(max(dist), 3) if dist else None,
        "ref_categories": sorted({o.category for o in refs}),
        "ref_color_pairs": sorted({_pair(o, "color") for o in refs} - {None}),
        "ref_material_pairs": sorted({_pair(o, "material") for o in refs} - {None}),
        "num_refs": len(refs),
        "family": qa.get("family"),
        "task": qa.get("task"),
        "template_id": qa.get("template_id"),
        "paraphrase": qa.get("paraphrase", meta.get("paraphrase")),
        "answer_type": qa.get("answer_type"),
        "referring": "marks" if marks else ("expression" if refs else "none"),
        "depth_cue": meta.get("depth_cue"),
    }


def factors_of(scene, view_ids: list[str], qa: dict | None = None, scene_part: dict | None = None) -> dict:
    """Every factor of a row, in registry order: scene and view factors, plus the row factors when
    ``qa`` is given (``scene_part``: :func:`scene_factors` of the scene, computed once per scene)."""
    vals = dict(scene_part if scene_part is not None else scene_factors(scene))
    vals.update(view_factors(scene, list(view_ids)))
    if qa is not None:
        vals.update(row_factors(scene, qa))
    reg = load_factors()
    missing = [k for k in vals if k not in reg]
    if missing:
        raise FactorError(f"conf/factors.yaml: factors {missing} are computed but not declared; fix: declare them")
    return {k: vals[k] for k in reg if k in vals}


def factors_json(values: dict) -> str:
    """Canonical JSON text of a factor dict (sorted keys, no whitespace)."""
    return json.dumps(values, sort_keys=True, separators=(",", ":"), allow_nan=False)


def factors_table() -> str:
    """The registry as a Markdown table (docs/factors.md holds it; a test checks it matches)."""
    lines = ["| factor | level | type | unit | bins | description |", "|---|---|---|---|---|---|"]
    for f in load_factors().values():
        bins = ", ".join(f"{b:g}" for b in f.bins) if f.bins else ""
        lines.append(f"| `{f.name}` | {f.level} | {f.type} | {f.unit or ''} | {bins} | {f.description} |")
    return "\n".join(lines) + "\n"
