"""The main job: validate, lock the folder, dry-run scene 0, make the missing shards, finish.

``generate(job)`` is the library call behind ``spatialforge generate``. Rerunning the same job
into the same folder skips shards whose files match the manifest checksums and redoes the rest,
so a run killed at any moment and rerun ends with the same bytes as an uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import yaml

import engine
from engine.export.lmms_eval import write_lmms_task
from engine.atomic import atomic_write_text, remove_stale_temps
from engine.pipeline.card import write_card
from engine.pipeline.config import ConfigError, JobSpec
from engine.pipeline.executors import EXECUTORS
from engine.pipeline.manifest import (
    MANIFEST,
    ManifestError,
    OutputLock,
    new_manifest,
    read_manifest,
    shard_complete,
    shard_key,
    write_manifest,
)
from engine.eval.leaks import SPLITS_FILE, format_report
from engine.pipeline.preflight import preflight
from engine.pipeline.split_check import RunSplitCheck
from engine.pipeline.splits import rule_record
from engine.pipeline.output import check_out_path, foreign_entries, remove_owned
from engine.pipeline.timing import StageTimer, format_timings

log = logging.getLogger("spatialforge")


def _existing(job: JobSpec) -> dict | None:
    """Read what ``out`` holds and decide, changing nothing: the manifest to continue from (None:
    start afresh). Raises ConfigError when the folder is not ours, or when resume/overwrite say
    not to touch it (the table in docs/pipeline.md)."""
    out, overwrite = job.out, job.cfg["overwrite"]
    check_out_path(out)
    try:
        m = read_manifest(out)
    except ManifestError:
        if not overwrite:
            raise
        return None
    if m is None:
        foreign = foreign_entries(out)
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise ConfigError(f"out: {out} is not empty and is not a {engine.ENGINE_NAME} dataset (no {MANIFEST}; "
                              f"it holds {shown}); nothing in it was changed; fix: choose a new or empty folder for out=")
        return None
    if overwrite:
        return None
    if m["config_hash"] != job.config_hash:
        raise ConfigError(
            f"out: {out} holds a dataset made with config hash {m['config_hash']}, this config hashes to "
            f"{job.config_hash}; fix: choose another out=, or pass overwrite=true to replace it")
    if not job.cfg["resume"] and m["shards"]:
        raise ConfigError(f"resume: {out} already holds {len(m['shards'])} shards of this config and resume=false; "
                          "fix: pass resume=true to continue it, or overwrite=true to start over")
    return m


def _take_over(job: JobSpec) -> dict:
    """Under the lock: settle the folder (overwrite removes only our files) and write the manifest
    before anything else, marking the folder as ours. Returns the manifest to continue from."""
    out = job.out
    m = _existing(job)  # again, under the lock: another run may have changed the folder
    if m is None and job.cfg["overwrite"]:
        try:
            old = read_manifest(out)
        except ManifestError:
            old = None
        if old is not None or any(out.iterdir()):
            n = remove_owned(out, old)
            log.info("overwrite: removed %d files of the previous dataset in %s", n, out)
    if m is None or m["engine"].get("version") != engine.__version__:
        m = new_manifest(job.config_hash, engine.ENGINE_NAME, engine.__version__, job.num_scenes, job.num_shards,
                         job.scenes_per_shard, job.split_names())
    write_manifest(out, m)
    return m


def _resume(job: JobSpec, manifest: dict, header: str) -> list[int]:
    """Under the lock, after :func:`_take_over`: remove a stopped run's temporary files, write
    ``config.yaml`` (``header`` + the config), drop the manifest entries of shards that are not
    complete (checksums verified) and return those shards' indices, the ones left to make."""
    out = job.out
    removed = remove_stale_temps(out)
    if removed:
        log.info("removed %d temporary files left by an interrupted run", removed)
    atomic_write_text(out / "config.yaml", header + yaml.safe_dump(job.cfg, sort_keys=False))
    todo = [k for k in range(job.num_shards) if not shard_complete(out, manifest["shards"].get(shard_key(k)))]
    for k in todo:
        manifest["shards"].pop(shard_key(k), None)
    write_manifest(out, manifest)
    if len(todo) < job.num_shards:
        log.info("resuming: %d of %d shards are complete (checksums verified)", job.num_shards - len(todo),
                 job.num_shards)
    return todo


def generate(job: JobSpec) -> dict:
    """Make the dataset of ``job`` in ``job.out``; return a summary dict (rows, shards, seconds,
    samples/s, per-stage seconds, counters)."""
    out = job.out
    _existing(job)  # refuse before anything is created
    preflight(job)
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    with OutputLock(out):
        manifest = _take_over(job)
        todo = _resume(job, manifest, f"# spatialforge {engine.__version__} config_hash: {job.config_hash}\n")
        skipped = job.num_shards - len(todo)
        timer = StageTimer()
        done_rows = {"n": 0}
        bars = _Progress(job, todo)
        split_check = RunSplitCheck(job, todo)

        def on_result(res: dict) -> None:
            timer.add(res["seconds"])
            entry = {k: res[k] for k in ("scenes", "rows", "files", "stats")}
            if res.get("scene_errors"):  # on_scene_error=skip: the scenes left out, {scene_index, error}
                entry["scene_errors"] = res["scene_errors"]
            manifest["shards"][shard_key(res["shard"])] = entry
            write_manifest(out, manifest)
            done_rows["n"] += sum(res["rows"].values())
            split_check.landed(res["shard"], res.get("leak_entries"))
            bars.finish(res["shard"])

        name = job.cfg["executor"]["name"]
        workers = EXECUTORS[name](job, todo, on_result, bars.update) if todo else 0
        bars.close()
        split_rows, stats, check = finish_dataset(job, manifest, split_check)
    wall = time.perf_counter() - t0
    summary = {
        "out": str(out), "config_hash": job.config_hash, "executor": name, "workers": workers,
        "shards": job.num_shards, "shards_made": len(todo), "shards_skipped": skipped,
        "rows": sum(split_rows.values()), "rows_made": done_rows["n"], "split_rows": split_rows,
        "seconds": wall, "samples_per_s": done_rows["n"] / wall if wall > 0 else 0.0,
        "stage_seconds": dict(timer.seconds), "stats": dict(sorted(stats.items())),
        "split_check": check,
    }
    log.info("per-stage time (summed over workers):\n%s", format_timings(timer.seconds) if timer.seconds else "  -")
    log.info("done: %d rows (%s) in %d shards (%d made, %d skipped), %.1f s, %.1f samples/s; %s -> %s",
             summary["rows"], ", ".join(f"{k} {v}" for k, v in split_rows.items()), job.num_shards, len(todo),
             skipped, wall, summary["samples_per_s"], ", ".join(f"{k} {v}" for k, v in summary["stats"].items()), out)
    return summary


def finish_dataset(job: JobSpec, manifest: dict, split_check: RunSplitCheck) -> tuple[dict[str, int], dict[str, int], dict]:
    """After the shards: rows per split and counters summed over the manifest's shards, then
    splits.json, the manifest's split rule, the card, the split check (``split_check``: fed with
    this run's shard results) and (``output.lmms_eval``) the lmms-eval task. Returns (split_rows,
    stats, split check)."""
    out = job.out
    split_rows = {s: 0 for s in job.split_names()}
    stats: dict[str, int] = {}
    for entry in manifest["shards"].values():
        for s, n in entry["rows"].items():
            split_rows[s] = split_rows.get(s, 0) + n
        for k, v in entry["stats"].items():
            stats[k] = stats.get(k, 0) + v
    splits = _splits_record(job, split_rows, stats)
    atomic_write_text(out / SPLITS_FILE, json.dumps(splits, indent=1, sort_keys=True) + "\n")
    manifest["split_rule"] = {k: v for k, v in splits.items() if k != "rows"}
    write_manifest(out, manifest)
    write_card(out, job.cfg, job.config_hash, job.split_names())
    check = _check_splits(split_check)
    if job.cfg["output"].get("lmms_eval"):
        write_lmms_task(out)
    return split_rows, stats, check


def _splits_record(job: JobSpec, split_rows: dict[str, int], stats: dict[str, int]) -> dict:
    """splits.json: the split rule (strategy, parameters, factor, level, rule_hash), the rows per
    split and the scenes / rows each split lost to the held-out split or dropped (docs/splits.md)."""
    rec = rule_record(job.cfg["split"])
    counts = {"moved_scenes": {}, "moved_rows": {}, "dropped_rows": {}}
    for k, v in stats.items():
        head, _, split = k.partition(".")
        if head.startswith("split_") and head[6:] in counts:
            counts[head[6:]][split] = counts[head[6:]].get(split, 0) + v
    rec.update({"rows": dict(split_rows), **counts})
    return rec


def _check_splits(split_check: RunSplitCheck) -> dict:
    """The leakage checker's report on the finished dataset, logged."""
    res = split_check.result()
    (log.info if res["ok"] else log.error)("%s", format_report(res))
    return {"ok": res["ok"], "leaks": res["leaks"], "examples": res["examples"]}


class _Progress:
    """tqdm bars drawn by the coordinator: one overall (scenes) and one per running shard."""

    def __init__(self, job: JobSpec, todo: list[int]):
        self.on = bool(job.cfg["progress"]) and bool(todo)
        self.job = job
        self.bars: dict[int, object] = {}
        self.total = None
        if self.on:
            from tqdm import tqdm

            self._tqdm = tqdm
            n = sum(len(job.shard_range(k)) for k in todo)
            self.total = tqdm(total=n, desc="scenes", unit="scene", position=0, dynamic_ncols=True)

    def update(self, shard: int, n: int) -> None:
        if not self.on:
            return
        bar = self.bars.get(shard)
        if bar is None:
            bar = self.bars[shard] = self._tqdm(total=len(self.job.shard_range(shard)), desc=f"shard {shard:05d}",
                                                unit="scene", leave=False, position=1 + len(self.bars) % 8,
                                                dynamic_ncols=True)
        bar.update(n)
        self.total.update(n)

    def finish(self, shard: int) -> None:
        if self.on and shard in self.bars:
            self.bars.pop(shard).close()

    def close(self) -> None:
        if self.on:
            for bar in self.bars.values():
                bar.close()
            self.total.close()
