"""Sweeps: one dataset per value of the swept keys, everything else identical.

``spatialforge generate -m camera.width=64,128 out=outputs/sweep`` writes
``outputs/sweep/camera.width=64/`` and ``outputs/sweep/camera.width=128/`` (the cartesian product
when several keys are swept; Hydra's sweep syntax: ``a,b``, ``range(...)``, ``choice(...)``). Every
dataset has the same seed, so the same scene indices and stage seeds: the layout of scene *i* is
the same wherever the swept key does not reach the layout stage, and so on down the stages. The
sweep summary ``sweep.json`` (and the log) lists the datasets, their overrides and config hashes,
and measures what stayed identical against the first dataset: the share of scenes with the same
objects (layout), the same camera poses, and the same questions.
"""

from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path
from typing import Callable

from engine.atomic import atomic_write_text
from engine.schema import ConfigError

log = logging.getLogger("spatialforge")
SUMMARY = "sweep.json"


def expand(overrides: list[str]) -> list[tuple[str, list[str], list[str]]]:
    """(sub-folder name, overrides, swept ``key=value`` pairs) per run of the sweep. The name joins ``key=value`` of the swept
    keys with ``,``; overrides that do not sweep are passed to every run unchanged."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    fixed, swept = [], []
    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as e:
        raise ConfigError(f"sweep: {' '.join(str(e).split())}; fix: sweep a key as key=a,b,c") from None
    for text, o in zip(overrides, parsed):
        if o.is_sweep_override():
            swept.append((o.get_key_element(), list(o.sweep_string_iterator())))
        else:
            fixed.append(text)
    if not swept:
        raise ConfigError("-m: no key is swept; fix: give at least one key several values, e.g. camera.width=64,128")
    if any(k.lstrip("+~").startswith("out") or k in ("resume", "overwrite") for k, _ in swept):
        raise ConfigError("-m: out, resume and overwrite cannot be swept; fix: sweep keys that change the data")
    runs = []
    for values in itertools.product(*(vals for _, vals in swept)):
        pairs = [f"{k}={v}" for (k, _), v in zip(swept, values)]
        runs.append((",".join(pairs).replace("/", "_"), fixed + pairs, pairs))
    return runs


def _fingerprints(ds: Path) -> dict[str, tuple[str, str, str]]:
    """scene_id -> (objects, camera poses, questions) as canonical JSON strings, from the Parquet rows."""
    import pyarrow.parquet as pq

    scenes: dict[str, dict] = {}
    questions: dict[str, list] = {}
    for f in sorted((ds / "data").glob("*.parquet")):
        t = pq.read_table(f, columns=["scene_id", "scene", "question"])
        for sid, scene, q in zip(*(t.column(c).to_pylist() for c in ("scene_id", "scene", "question"))):
            if sid not in scenes:
                scenes[sid] = json.loads(scene)
            questions.setdefault(sid, []).append(q)
    out = {}
    for sid, s in scenes.items():
        objs = json.dumps([{k: o[k] for k in ("category", "center", "size", "yaw")} for o in s["objects"]])
        poses = json.dumps([v.get("cam_to_world") for v in s.get("views", [])])
        out[sid] = (objs, poses, json.dumps(sorted(q or "" for q in questions[sid])))
    return out


def compare(first: Path, other: Path) -> dict[str, float]:
    """Shares of the scenes of ``first`` that ``other`` has with the same layout, camera poses
    and questions (scenes missing from ``other`` count as different)."""
    a, b = _fingerprints(first), _fingerprints(other)
    n = max(len(a), 1)
    return {what: round(sum(1 for sid, fa in a.items() if sid in b and b[sid][i] == fa[i]) / n, 4)
            for i, what in enumerate(("same_layout", "same_camera_poses", "same_questions"))}


def run_sweep(overrides: list[str], out: Path, generate_one: Callable[[list[str], Path], dict]) -> dict:
    """Generate every dataset of the sweep into ``out/<name>/`` with ``generate_one(overrides)``
    and write ``out/sweep.json``; ``generate_one(overrides, folder)`` makes one dataset. Returns
    the summary."""
    runs = expand(overrides)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out: {out} is a file; fix: choose a folder for the sweep")
    results = []
    for name, over, pairs in runs:
        log.info("sweep: %s -> %s", name, out / name)
        summary = generate_one(over, out / name)
        results.append({"name": name, "swept": pairs, "out": str(out / name), "config_hash": summary["config_hash"], "rows": summary["rows"],
                        "split_rows": summary["split_rows"]})
    first = out / runs[0][0]
    for r in results[1:]:
        r["vs_first"] = compare(first, Path(r["out"]))
    summary = {"fixed": [o for o in overrides if all(o in ov for _, ov, _ in runs)], "datasets": results}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / SUMMARY, json.dumps(summary, indent=1) + "\n")
    for r in results[1:]:
        log.info("sweep: %s vs %s: %s", r["name"], results[0]["name"], r["vs_first"])
    return summary
