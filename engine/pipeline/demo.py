"""What ``make demo`` shows after generating: a top-down plot, a contact sheet, one walkthrough
(its frames, its MP4 with ``output.video=true``, its video questions), a few rows read back
with ``datasets.load_dataset``, and last the gallery (``out/viewer/index.html``, its path printed)."""

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


WALKTHROUGH_FILES = ("walkthrough.png", "walkthrough.mp4", "walkthrough_questions.json")


def demo_walkthrough(job: JobSpec, n_show: int = 5, max_tries: int = 5) -> dict | None:
    """One walkthrough of the job's first room (docs/video.md): the job's scene config with the
    walkthrough camera (the job's image size) and the video family. Writes ``walkthrough.png`` (the
    frames in time order), ``walkthrough.mp4`` when ``output.video`` is on, and
    ``walkthrough_questions.json`` (every video question of the path); prints ``n_show`` of them.
    Returns {scene_id, frames, questions} or None when the job renders nothing."""
    import copy

    from engine.atomic import atomic_write_text
    from engine.camera.config import WALKTHROUGH_CFG, load_camera_cfg
    from engine.pipeline.stages import SceneOutput, SceneStages
    from engine.pipeline.timing import StageTimer
    from engine.viewer.strip import frame_strip

    if not render_enabled(job.cfg):
        return None
    cfg = copy.deepcopy(job.cfg)
    cam = job.cfg["camera"]
    cfg["camera"] = load_camera_cfg(WALKTHROUGH_CFG, {"width": cam["width"] + cam["width"] % 2,
                                                      "height": cam["height"] + cam["height"] % 2})
    cfg["qa"] = dict(cfg["qa"], families=["video"], questions_per_view=20, max_per_template_per_view=3)
    stages = SceneStages(cfg, job.config_hash)
    out = None
    for index in range(max_tries):
        got = stages.make_scene(index, stages.new_qa_generator(), StageTimer())
        if isinstance(got, SceneOutput):
            out = got
            break
    if out is None:
        return None
    (path,) = out.scene.paths
    rgbs = [out.frames[v].rgb for v in path["view_ids"]]
    frame_strip(rgbs, job.out / "walkthrough.png", [f"{k} t={t:.2f}s" for k, t in enumerate(path["timestamps"])])
    print(f"walkthrough of {out.scene.scene_id} ({path['kind']}, {len(rgbs)} frames at {path['fps']:g} fps): "
          f"{job.out / 'walkthrough.png'}")
    if job.cfg["output"].get("video"):
        from engine.export.video import write_mp4

        write_mp4(rgbs, job.out / "walkthrough.mp4", path["fps"])
        print(f"walkthrough video: {job.out / 'walkthrough.mp4'}")
    keep = ("id", "template_id", "question", "answer", "rationale")
    qs = [{k: r[k] for k in keep} for r in out.qa_rows]
    atomic_write_text(job.out / "walkthrough_questions.json", json.dumps(qs, indent=1) + "\n")
    for q in qs[:n_show]:
        print(json.dumps(q, indent=1))
    return {"scene_id": out.scene.scene_id, "frames": len(rgbs), "questions": len(qs)}


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


def demo_extras(job: JobSpec, n_plot: int = 6, n_sheet: int = 3, n_rows: int = 3) -> Path:
    """Write ``topdown.png``, ``contact_sheet.png``, ``room_types.png`` and ``variants.png`` into
    the job's folder, one walkthrough, print a few rows, then write the gallery into
    ``out/viewer/``; returns the path of its index.html (absolute)."""
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
    demo_walkthrough(job)
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
    from engine.pipeline.view import build_view

    res = build_view(out)
    return Path(res["index"]).resolve()
