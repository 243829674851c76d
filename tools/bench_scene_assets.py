"""CPU time per scene of the stages this branch's assets touch: layout (with room types and shape
parameters), appearance and mesh building (object variants and room surfaces), on the default
room config. CPU time (``time.process_time``), so a busy shared machine distorts it less than wall
time; run it against two checkouts to compare (``PYTHONPATH=<checkout> python tools/bench_scene_assets.py``).

    .venv/bin/python tools/bench_scene_assets.py [--scenes 60] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

from engine.assets.appearance import load_appearance_config, sample_appearance
from engine.assets.meshes import scene_meshes
from engine.layout import load_scene_cfg, sample_layout
from engine.rng import stage_rng
from engine.scene.catalog import load_catalog


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cat, cfg, app = load_catalog(), load_scene_cfg("room"), load_appearance_config()
    warm = sample_layout(cfg, cat, stage_rng(a.seed, 10**6, "layout"))
    sample_appearance(warm, cat, app, stage_rng(a.seed, 10**6, "appearance"))
    scene_meshes(warm, cat)  # first-use costs (recipes, primitives, textures) out of the loop
    t = {"layout": 0.0, "appearance": 0.0, "meshes": 0.0}
    n_obj = n_tri = 0
    for i in range(a.scenes):
        t0 = time.process_time()
        s = sample_layout(cfg, cat, stage_rng(a.seed, i, "layout"), scene_index=i)
        t1 = time.process_time()
        sample_appearance(s, cat, app, stage_rng(a.seed, i, "appearance"))
        t2 = time.process_time()
        meshes = scene_meshes(s, cat)
        t3 = time.process_time()
        t["layout"] += t1 - t0
        t["appearance"] += t2 - t1
        t["meshes"] += t3 - t2
        n_obj += len(s.objects)
        n_tri += sum(len(m.faces) for m in meshes)
    per = {k: 1000 * v / a.scenes for k, v in t.items()}
    print(f"{a.scenes} scenes, {n_obj / a.scenes:.1f} objects and {n_tri / a.scenes:.0f} triangles per scene; CPU ms per "
          f"scene: " + ", ".join(f"{k} {v:.1f}" for k, v in per.items()) + f", total {sum(per.values()):.1f}")


if __name__ == "__main__":
    main()
