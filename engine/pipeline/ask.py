"""``spatialforge ask``: QA for scenes the user brings, through the same QA generator, shard
runner, writers, card and split check as ``generate`` (docs/ask.md).

The user's scenes (engine.ingest) replace the layout, camera and render stages: each scene's
views are annotated from the user's boxes, depth and masks, then the QA generator asks its
questions (margins, balancing, rationales unchanged) and the rows go to the same Parquet shards
with the user's images. Templates that need what the user did not give are skipped with counts
(scenes/ask_formats.yaml ``qa_gates``). One process makes the shards in order.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import engine
from engine.atomic import atomic_write_text
from engine.ingest import UserScene, annotate_scene, detect_format, load_scenes
from engine.ingest.build import formats
from engine.pipeline.config import JobSpec, load_job
from engine.pipeline.manifest import OutputLock, shard_key, write_manifest
from engine.pipeline.run import _existing, _resume, _take_over, finish_dataset
from engine.pipeline.split_check import RunSplitCheck
from engine.pipeline.shard import run_shard
from engine.pipeline.stages import SceneOutput
from engine.pipeline.timing import StageTimer
from engine.qa import QAGenerator
from engine.rng import stage_rng
from engine.scene.catalog import load_catalog

log = logging.getLogger("spatialforge")
SUMMARY_FILE = "ask.json"


class _Gate:
    """A family module whose ``generate`` gives no candidate where the view or scene lacks what the
    template needs (``qa_gates`` of scenes/ask_formats.yaml), counting each skipped try."""

    def __init__(self, module, counts: dict[str, int]):
        self.module, self.counts = module, counts
        g = formats()["qa_gates"]
        self.mask_families = set(g["needs_mask"]["families"])
        self.mask_templates = set(g["needs_mask"]["templates"])
        self.support_tags = set(g["needs_support_tags"])

    def reason(self, ctx, t) -> str | None:
        """Why template ``t`` is not asked on ``ctx``'s view, or None."""
        if (t.family in self.mask_families or t.id in self.mask_templates) and \
                ctx.view.view.params.get("visibility", "mask") != "mask":
            return "qa_skipped_no_mask"
        if self.support_tags & set(t.tags) and ctx.scene.stats.get("support_unknown"):
            return "qa_skipped_support_unknown"
        return None

    def generate(self, ctx, t, rng):
        why = self.reason(ctx, t)
        if why is not None:
            self.counts[why] = self.counts.get(why, 0) + 1
            return []
        return self.module.generate(ctx, t, rng)


class AskStages:
    """Stands in for engine.pipeline.stages.SceneStages in :func:`engine.pipeline.shard.run_shard`:
    scene ``i`` is the user's scene ``i``, annotated from the user's files, then asked.

    Args:
        cfg: the resolved job config. users: the loaded scenes (index = position).
        config_hash: recorded in every scene's ``generator``. depth_tol: metres (see
            engine.ingest.visibility).
    """

    def __init__(self, cfg: dict, users: list[UserScene], config_hash: str, depth_tol: float):
        self.cfg, self.users, self.config_hash, self.depth_tol = cfg, users, config_hash, depth_tol
        self.catalog = load_catalog(cfg["scene"].get("catalog"))
        self.seed = int(cfg["seed"])
        self.counts: dict[str, int] = {}

    def new_qa_generator(self) -> QAGenerator:
        """A QA generator (one per shard) whose family modules are gated (:class:`_Gate`)."""
        gen = QAGenerator(self.cfg["qa"], self.catalog)
        gen.modules = {f: _Gate(m, self.counts) for f, m in gen.modules.items()}
        return gen

    def reset_renderer(self) -> None:
        """Nothing to reset: there is no renderer."""

    def make_scene(self, scene_index: int, qa_gen, timer: StageTimer) -> SceneOutput:
        """The user's scene ``scene_index`` annotated, with its QA rows and counters."""
        user = self.users[scene_index]
        scene = user.scene
        scene.generator["config_hash"] = self.config_hash
        with timer("annotate"):
            frames = annotate_scene(user, self.depth_tol)
        before = dict(self.counts)
        with timer("qa"):
            rows = list(qa_gen.generate(scene, stage_rng(self.seed, scene_index, "qa")))
        stats = {k: v for k, v in user.notes.items() if v}
        masked = sum(v.params.get("visibility") == "mask" for v in scene.views)
        stats["views_with_mask"] = masked
        stats["views_without_mask"] = len(scene.views) - masked
        for k, v in self.counts.items():
            if v - before.get(k, 0):
                stats[k] = v - before.get(k, 0)
        return SceneOutput(scene, frames, rows, {k: v for k, v in stats.items() if v})


def input_hash(job: JobSpec, path: Path, fmt: str, depth_tol: float) -> str:
    """Hash of the run: the job's config hash, the bytes of the scene file (of a folder: its
    .parquet files), the format and depth_tol. Image files are not hashed (large)."""
    h = hashlib.sha256(f"{job.config_hash}|{fmt}|{depth_tol!r}".encode())
    files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def ask(scenes: str | Path, images: str | Path, overrides: list[str] | None = None, fmt: str | None = None,
        depth_tol: float = 0.05) -> dict:
    """Make a dataset of QA on the user's scenes.

    Args:
        scenes: the scene file (our JSON / JSONL records, OpenSpatial Parquet file or folder, CLEVR
            scenes JSON). images: the folder its image paths are relative to.
        overrides: config overrides as for ``generate`` (``out=``, ``qa.*``, ``output.*``, ``seed``,
            ``split.*``, ``overwrite=true``); ``num_scenes`` is the number of scenes read.
        fmt: ``native`` / ``openspatial`` / ``clevr`` (default: detected). depth_tol: metres.

    Returns:
        The summary: out, rows, split rows, scenes, views, seconds, QAs per second, counters
        (``views_without_mask``, ``qa_skipped_no_mask``, ``qa_skipped_support_unknown``,
        ``tilted_boxes``, ``support_unknown``...). Also written to ``out/ask.json``.
    """
    t0 = time.perf_counter()
    path = Path(scenes)
    fmt = fmt or (detect_format(path) if path.exists() else None)
    base = load_job(list(overrides or []) + ["num_scenes=1"])
    users = load_scenes(path, images, fmt, seed=int(base.cfg["seed"]))
    load_s = time.perf_counter() - t0
    job0 = load_job(list(overrides or []) + [f"num_scenes={len(users)}"])
    job = JobSpec(job0.cfg, input_hash(job0, path, fmt, depth_tol))
    out = job.out
    _existing(job)
    out.mkdir(parents=True, exist_ok=True)
    stages = AskStages(job.cfg, users, job.config_hash, depth_tol)
    timer = StageTimer()
    with OutputLock(out):
        manifest = _take_over(job)
        # resume as generate does: the hash covers the config and the scene file's bytes, so the
        # shards already in the manifest (checksums verified) are this run's
        todo = _resume(job, manifest, f"# {engine.ENGINE_NAME} {engine.__version__} ask config_hash: {job.config_hash}\n")
        split_check = RunSplitCheck(job, todo)
        for k in todo:
            res = run_shard(job, k, stages)
            timer.add(res["seconds"])
            entry = {key: res[key] for key in ("scenes", "rows", "files", "stats")}
            if res.get("scene_errors"):
                entry["scene_errors"] = res["scene_errors"]
            manifest["shards"][shard_key(k)] = entry
            write_manifest(out, manifest)
            split_check.landed(k, res.get("leak_entries"))
        split_rows, stats, check = finish_dataset(job, manifest, split_check)
        wall = time.perf_counter() - t0
        rows = sum(split_rows.values())
        qa_s = timer.seconds.get("annotate", 0.0) + timer.seconds.get("qa", 0.0)
        summary = {
            "out": str(out), "format": fmt, "source": str(path), "config_hash": job.config_hash,
            "scenes": len(users), "views": stats.get("views", 0), "rows": rows, "split_rows": split_rows,
            "shards": job.num_shards, "shards_made": len(todo), "shards_skipped": job.num_shards - len(todo),
            "seconds": round(wall, 3), "load_seconds": round(load_s, 3),
            "qas_per_s": round(rows / wall, 2) if wall > 0 else 0.0,
            "qas_per_s_annotate_and_qa": round(rows / qa_s, 2) if qa_s > 0 else 0.0,
            "stage_seconds": {k: round(v, 3) for k, v in sorted(timer.seconds.items())},
            "stats": dict(sorted(stats.items())), "split_check": check,
        }
        atomic_write_text(out / SUMMARY_FILE, json.dumps(summary, indent=1, sort_keys=True) + "\n")
    log.info("ask: %d rows from %d %s scenes (%d views) in %.1f s, %.1f QAs/s; %s -> %s", rows, len(users), fmt,
             summary["views"], wall, summary["qas_per_s"], ", ".join(f"{k} {v}" for k, v in summary["stats"].items()),
             out)
    return summary
