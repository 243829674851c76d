#!/usr/bin/env python
"""Side-by-side pictures of the render quality presets: for each view, the ``fast`` image, the
``high`` image without camera effects and the full ``high`` image, of the same scenes (same seed,
layouts and cameras; high adds its effects on top of the fast record).

    .venv/bin/python tools/quality_sheet.py --out /tmp/quality.png [--scenes 4] [--size 384] [overrides...]

Overrides are the generate command's (e.g. ``scene=tabletop``, ``render.high.ssao=false``).
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.assets.effects import high_switches, resolve_effects_config, sample_effects  # noqa: E402
from engine.pipeline.config import load_job  # noqa: E402
from engine.pipeline.stages import SceneStages  # noqa: E402
from engine.rng import stage_rng  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--scenes", type=int, default=4)
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--start", type=int, default=0, help="first scene index")
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args()
    job = load_job([f"camera.width={a.size}", f"camera.height={a.size}", "render.quality=high", *a.overrides])
    st = SceneStages(job.cfg, job.config_hash)
    switches = high_switches(job.cfg["render"])
    effects = resolve_effects_config(job.cfg["render"].get("effects"))
    tiles: list[list[np.ndarray]] = []
    for idx in range(a.start, a.start + a.scenes):
        scene = st.layout(idx)
        if not st.views(scene, idx, {}):
            continue
        st.sample_appearance(scene, st.catalog, st.appearance_cfg, stage_rng(st.seed, idx, "appearance"))
        fast = copy.deepcopy(scene)
        sample_effects(scene, effects, switches, stage_rng(st.seed, idx, "effects"))
        no_cam = copy.deepcopy(scene)
        for v in no_cam.views:
            v.params.pop("camera_effects", None)
        for k in range(len(scene.views)):
            row = []
            for s in (fast, no_cam, scene):
                row.append(st.renderer.render(s, s.views[k], st.scene_meshes(s, st.catalog)).rgb)
            tiles.append(row)
    h, w = tiles[0][0].shape[:2]
    sheet = Image.new("RGB", (3 * w, len(tiles) * h + 18), (20, 20, 20))
    d = ImageDraw.Draw(sheet)
    for j, title in enumerate(("fast", "high, no camera effects", "high")):
        d.text((j * w + 4, 3), title, fill=(230, 230, 230))
    for i, row in enumerate(tiles):
        for j, img in enumerate(row):
            sheet.paste(Image.fromarray(img), (j * w, 18 + i * h))
    sheet.save(a.out)
    print(f"wrote {a.out}: {len(tiles)} views")


if __name__ == "__main__":
    main()
