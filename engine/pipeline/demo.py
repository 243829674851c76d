"""What ``make demo`` shows after generating: a top-down plot, a contact sheet, and a few rows
read back with ``datasets.load_dataset``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from engine.pipeline.config import JobSpec
from engine.pipeline.executors import worker_stages
from engine.pipeline.config import render_enabled
from engine.scene.graph import SceneGraph

log = logging.getLogger("spatialforge")


def read_scenes(out: str | Path, limit: int | None = None) -> list[SceneGraph]:
    """Scene records from ``out/scenes/*.jsonl`` in scene order (at most ``limit``)."""
    scenes: list[SceneGraph] = []
    for p in sorted((Path(out) / "scenes").glob("scenes-*.jsonl")):
        with open(p, encoding="utf-8") as f:
            for line in f:
                scenes.append(SceneGraph.from_json(line))
                if limit is not None and len(scenes) >= limit:
                    return scenes
    return scenes


def rerender(job: JobSpec, scenes: list[SceneGraph]) -> tuple[list, list[str]]:
    """Render every view of ``scenes`` again from their records alone (materials and lights
    are in the record); returns the frames and a ``"<scene_id> <view_id>"`` title per frame."""
    from engine.assets.meshes import scene_meshes

    stages = worker_stages(job)
    frames, titles = [], []
    for scene in scenes:
        meshes = scene_meshes(scene, stages.catalog)
        for view in scene.views:
            frames.append(stages.renderer.render(scene, view, meshes))
            titles.append(f"{scene.scene_id} {view.id}")
    return frames, titles


def realism_sheets(job: JobSpec, scenes: list[SceneGraph], per_type: int = 4, n_categories: int = 20) -> None:
    """Write ``room_types.png`` (``per_type`` views of each room type, re-rendered from the
    records) and ``variants.png`` (6 shape variants of each of the ``n_categories`` most frequent
    categories of ``scenes``) into the job's folder."""
    from collections import Counter

    from engine.assets.meshes import scene_meshes
    from engine.viewer.room_type_sheet import room_type_sheet
    from engine.viewer.variant_sheet import variant_sheet

    stages = worker_stages(job)
    rows: dict[str, list] = {}
    for scene in scenes:
        tiles = rows.setdefault(scene.room.room_type or scene.room.type, [])
        if len(tiles) >= per_type:
            continue
        meshes = scene_meshes(scene, stages.catalog)
        for view in scene.views[:per_type - len(tiles)]:
            tiles.append((f"{scene.scene_id} {view.id}", stages.renderer.render(scene, view, meshes).rgb))
    if rows:
        room_type_sheet(rows, job.out / "room_types.png")
        print(f"room-type sheet of {sum(map(len, rows.values()))} views: {job.out / 'room_types.png'}")
    freq = Counter(o.category for s in scenes for o in s.objects)
    cats = [c for c, _ in freq.most_common(n_categories)]
    if cats:
        variant_sheet(cats, stages.catalog, job.cfg["render"], job.out / "variants.png")
        print(f"shape variants of the {len(cats)} most frequent categories: {job.out / 'variants.png'}")


def demo_extras(job: JobSpec, n_plot: int = 6, n_sheet: int = 3, n_rows: int = 3) -> None:
    """Write ``topdown.png``, ``contact_sheet.png``, ``room_types.png`` and ``variants.png`` into
    the job's folder and print a few rows."""
    out = job.out
    scenes = read_scenes(out, n_plot)
    if scenes:
        from engine.viewer.topdown import plot_topdown

        plot_topdown(scenes, out / "topdown.png")
        print(f"top-down plot of {len(scenes)} scenes: {out / 'topdown.png'}")
    if scenes and render_enabled(job.cfg):
        from engine.viewer.contact_sheet import contact_sheet

        frames, titles = rerender(job, scenes[:n_sheet])
        contact_sheet(frames, out / "contact_sheet.png", titles=titles, max_width=256)
        print(f"contact sheet of {len(frames)} views (re-rendered from the scene records): {out / 'contact_sheet.png'}")
    if scenes and render_enabled(job.cfg):
        realism_sheets(job, read_scenes(out))
    from engine.pipeline.card import write_card

    write_card(out, job.cfg, job.config_hash, job.split_names(), plots=True)
    print(f"dataset card with plots: {out / 'README.md'}, {out / 'card'}/")
    from datasets import load_dataset

    ds = load_dataset(str(out))
    print(ds)
    split = "train" if "train" in ds else sorted(ds)[0]
    for row in ds[split].select(range(min(n_rows, len(ds[split])))):
        shown = {k: row[k] for k in ("id", "view_ids", "family", "question", "answer", "value", "unit") if k in row}
        shown["images"] = [f"{im.size[0]}x{im.size[1]} {im.mode}" for im in row["images"]]
        print(json.dumps(shown, indent=1, default=str))
