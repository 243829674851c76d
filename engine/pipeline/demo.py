"""What ``make demo`` shows after generating: a top-down plot, a contact sheet, and a few rows
read back with ``datasets.load_dataset``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from engine.pipeline.config import JobSpec
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


def demo_extras(job: JobSpec, n_plot: int = 6, n_rows: int = 3) -> None:
    """Write ``topdown.png`` and ``contact_sheet.png`` into the job's folder and print a few rows."""
    out = job.out
    scenes = read_scenes(out, n_plot)
    if scenes:
        from engine.viewer.topdown import plot_topdown

        plot_topdown(scenes, out / "topdown.png")
        print(f"top-down plot of {len(scenes)} scenes: {out / 'topdown.png'}")
    try:
        from engine.viewer.contact_sheet import contact_sheet
    except ImportError:
        contact_sheet = None
    if contact_sheet is not None:
        contact_sheet(out, out / "contact_sheet.png")
        print(f"contact sheet: {out / 'contact_sheet.png'}")
    from datasets import load_dataset

    ds = load_dataset(str(out))
    print(ds)
    split = "train" if "train" in ds else sorted(ds)[0]
    for row in ds[split].select(range(min(n_rows, len(ds[split])))):
        shown = {k: row[k] for k in ("id", "view_ids", "family", "question", "answer", "value", "unit") if k in row}
        shown["images"] = [f"{im.size[0]}x{im.size[1]} {im.mode}" for im in row["images"]]
        print(json.dumps(shown, indent=1, default=str))
