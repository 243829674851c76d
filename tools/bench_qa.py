#!/usr/bin/env python
"""QA generation speed: QAs per second per core from scene records (rendering excluded).

Scene records (layout + cameras + rendered visibility) are made once with the pipeline's own
stages and cached as JSON lines; the benchmark then times only ``QAGenerator.generate``.

    .venv/bin/python tools/bench_qa.py --scenes 200 [--overrides scene=room ...] [--repeat 3]

One QAGenerator serves ``--shard`` scenes (default: the config's output.scenes_per_shard, 100),
as in the pipeline: its answer-balancing state grows over a shard, and a fuller balancer
rejects more candidates, so QAs/s falls along a shard. Measure whole shards (``--scenes`` a
multiple of ``--shard``) for the pipeline's rate. Prints scenes, views, rows, seconds and QAs/s
(single process = one core).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.rng import stage_rng  # noqa: E402
from engine.scene.graph import SceneGraph  # noqa: E402


def scene_records(n: int, overrides: list[str], cache_dir: Path, seed: int = 0) -> list[SceneGraph]:
    """``n`` rendered scene records of the job config with ``overrides`` (scene indices 0..n-1),
    cached in ``cache_dir`` keyed by the config hash; skipped scenes are left out."""
    from engine.pipeline.config import load_job
    from engine.pipeline.stages import SceneStages
    from engine.pipeline.timing import StageTimer

    job = load_job(list(overrides) + [f"seed={seed}", "stages.qa=false"])
    # Scenes do not depend on the qa group: leave it out of the cache key.
    scene_cfg = {k: v for k, v in job.cfg.items() if k != "qa"}
    key = hashlib.sha256(f"{json.dumps(scene_cfg, sort_keys=True, default=str)}:{n}".encode()).hexdigest()[:16]
    path = cache_dir / f"scenes_{key}.jsonl"
    if path.exists():
        return [SceneGraph.from_json(line, validate=False) for line in path.read_text().splitlines() if line]
    stages = SceneStages(job.cfg, job.config_hash)
    out = []
    for i in range(n):
        res = stages.make_scene(i, None, StageTimer())
        if hasattr(res, "scene"):
            out.append(res.scene)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text("".join(s.to_json() + "\n" for s in out))
    os.replace(tmp, path)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=40)
    ap.add_argument("--overrides", nargs="*", default=[], help="Hydra overrides, e.g. scene=tabletop")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes over the scenes (best is reported)")
    ap.add_argument("--shard", type=int, default=None,
                    help="scenes per QA generator (default: output.scenes_per_shard of the config)")
    ap.add_argument("--cache", default=str(REPO / "outputs" / "qa_bench_cache"))
    args = ap.parse_args(argv)

    from engine.qa import QAGenerator
    from engine.scene.catalog import load_catalog
    from engine.pipeline.config import compose_config

    t0 = time.perf_counter()
    scenes = scene_records(args.scenes, args.overrides, Path(args.cache))
    t_make = time.perf_counter() - t0
    cfg = compose_config(args.overrides)
    catalog = load_catalog()
    views = sum(len(s.views) for s in scenes)
    shard = int(args.shard or cfg["output"]["scenes_per_shard"])
    best = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        n = 0
        for k, s in enumerate(scenes):
            if k % shard == 0:
                gen = QAGenerator(cfg["qa"], catalog)  # a new shard
            n += len(gen.generate(s, stage_rng(0, s.scene_index, "qa")))
        dt = time.perf_counter() - t0
        best = (dt, n) if best is None or dt < best[0] else best
    dt, n = best
    print(f"scene records: {len(scenes)} scenes, {views} views ({t_make:.1f} s to make or load); "
          f"one QA generator per {shard} scenes")
    print(f"QA: {n} rows in {dt:.3f} s (best of {args.repeat}) = {n / dt:.0f} QAs/s on one core "
          f"({1000 * dt / max(views, 1):.2f} ms per view)")


if __name__ == "__main__":
    main()
