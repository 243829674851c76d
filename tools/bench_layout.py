"""Benchmark the layout samplers: scenes per second on one core, plus retry statistics.

Usage: .venv/bin/python tools/bench_layout.py [--scenes 500] [--types room,tabletop,open] [--seed 0]

Prints, per sampler: scenes/s (single process, wall clock, after a short warm-up), objects per
scene (min/mean/max), attempts per object (mean/max), scene redraws, rejection reasons and
dropped objects. The target is >= 50 room scenes/s/core with 15-25 objects.
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np

from engine.layout import load_scene_cfg, sample_layout
from engine.rng import stage_rng
from engine.scene.catalog import load_catalog


def bench(name: str, n: int, seed: int) -> None:
    """Sample ``n`` scenes of config ``name`` and print throughput and retry statistics."""
    catalog = load_catalog()
    cfg = load_scene_cfg(name)
    for i in range(10):  # warm-up (imports, caches)
        sample_layout(cfg, catalog, stage_rng(seed + 1, i, "layout"))
    t0 = time.perf_counter()
    scenes = [sample_layout(cfg, catalog, stage_rng(seed, i, "layout"), seed=seed, scene_index=i) for i in range(n)]
    dt = time.perf_counter() - t0
    n_obj = np.array([len(g.objects) for g in scenes])
    att = np.array([a for g in scenes for a in g.stats["attempts"].values()])
    redraws = np.array([g.stats["scene_attempts"] for g in scenes])
    rejected: collections.Counter = collections.Counter()
    dropped: collections.Counter = collections.Counter()
    for g in scenes:
        rejected.update(g.stats["rejected"])
        dropped.update(f"{d['category']}({d['reason']})" for d in g.stats["dropped"])
    total = sum(g.stats["total_attempts"] for g in scenes)
    print(f"[{name}] {n / dt:.1f} scenes/s/core ({n} scenes in {dt:.2f} s, {1000 * dt / n:.2f} ms/scene)")
    print(f"  objects/scene min {n_obj.min()} mean {n_obj.mean():.1f} max {n_obj.max()}")
    print(f"  attempts/placed object mean {att.mean():.2f} max {att.max()}; all proposals {total} "
          f"({total / n_obj.sum():.2f} per placed object)")
    print(f"  scene attempts mean {redraws.mean():.3f} max {redraws.max()} "
          f"({np.mean(redraws > 1) * 100:.1f}% of scenes redrawn)")
    print("  rejections: " + ", ".join(f"{k} {v} ({100 * v / total:.1f}%)" for k, v in rejected.most_common()))
    print(f"  dropped objects: {sum(dropped.values())} ({sum(dropped.values()) / n:.2f}/scene); top: "
          + ", ".join(f"{k} {v}" for k, v in dropped.most_common(6)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=500)
    ap.add_argument("--types", default="room,tabletop,open")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for name in args.types.split(","):
        bench(name, args.scenes, args.seed)


if __name__ == "__main__":
    main()
