"""``spatialforge export DATASET DEST --format vsibench``: the video rows of a dataset in the row
layout of VSI-Bench ("Thinking in Space"; docs/video.md), so its evaluation code reads them.

DEST gets ``test.jsonl`` (one row per video question) and ``spatialforge/<scene_name>.mp4``
(the path's MP4, copied from DATASET/videos/, or encoded from the row's frames when the dataset
was made without ``output.video``). Row fields:

- ``id`` (int, row order), ``dataset`` (``spatialforge``), ``scene_name``
  (``<scene_id>-<path_id>``: the video is ``<video dir>/<dataset>/<scene_name>.mp4``);
- ``question_type``: VSI-Bench's name of the task (:data:`QUESTION_TYPES`);
- ``question``: the question text without the lettered options;
- ``options``: ``["A. ...", "B. ...", ...]`` for multiple-choice rows, else null;
- ``ground_truth``: the letter for multiple-choice rows, the number as text otherwise
  (metres, centimetres, square metres or a count, as the question asks);
- ``spatialforge_id``: the dataset row's ``id``.

Rows of tasks VSI-Bench does not have (``cognitive_map``) are left out.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_text

FORMATS = ("vsibench",)
DATASET_NAME = "spatialforge"
# video family task -> VSI-Bench question_type
QUESTION_TYPES = {
    "object_count": "object_counting",
    "abs_distance": "object_abs_distance",
    "object_size": "object_size_estimation",
    "room_size": "room_size_estimation",
    "rel_distance": "object_rel_distance",
    "rel_direction_easy": "object_rel_direction_easy",
    "rel_direction_medium": "object_rel_direction_medium",
    "rel_direction_hard": "object_rel_direction_hard",
    "route_plan": "route_planning",
    "appearance_order": "obj_appearance_order",
}
LETTERS = "ABCDEFGH"


def vsibench_row(row: dict, index: int) -> dict:
    """The VSI-Bench layout of one dataset row of the ``video`` family (module doc)."""
    meta = json.loads(row["meta"]) if isinstance(row.get("meta"), str) else (row.get("meta") or {})
    path_id = meta.get("path_id", "path_0")
    choices = row.get("choices")
    question = row["question"]
    if choices:
        options = [f"{LETTERS[k]}. {o}" for k, o in enumerate(choices)]
        suffix = "\n" + "\n".join(options)
        if not question.endswith(suffix):
            raise ValueError(f"row {row['id']}: question does not end with its lettered options")
        question, truth = question[: -len(suffix)], LETTERS[int(row["answer_index"])]
    else:
        options, truth = None, _number_text(row)
    return {"id": index, "dataset": DATASET_NAME, "scene_name": f"{row['scene_id']}-{path_id}",
            "question_type": QUESTION_TYPES[row["task"]], "question": question, "options": options,
            "ground_truth": truth, "spatialforge_id": row["id"]}


def _number_text(row: dict) -> str:
    v = json.loads(row["value"]) if isinstance(row.get("value"), str) else row["value"]
    return str(int(v)) if row["answer_type"] == "count" or float(v).is_integer() else str(v)


def export_vsibench(dataset: str | Path, dest: str | Path, fps_default: float = 4.0) -> dict:
    """Write DEST/test.jsonl and DEST/spatialforge/*.mp4 from the ``video`` rows of every split of
    ``dataset`` (a folder made by ``spatialforge generate``); returns {rows, videos}. Raises
    ValueError when the dataset holds no video rows."""
    import pyarrow.parquet as pq

    root, out = Path(dataset), Path(dest)
    rows, need = [], {}
    for p in sorted((root / "data").glob("*.parquet")):
        names = pq.read_schema(p).names
        cols = [c for c in ("id", "scene_id", "family", "task", "question", "answer_type", "choices", "answer_index",
                            "value", "meta") if c in names]
        for r in pq.read_table(p, columns=cols).to_pylist():
            if r["family"] != "video" or r["task"] not in QUESTION_TYPES:
                continue  # VSI-Bench has no cognitive-map task: those rows stay in the dataset only
            vr = vsibench_row(r, len(rows))
            rows.append(vr)
            need.setdefault(vr["scene_name"], (p, r["id"]))
    if not rows:
        raise ValueError(f"{root} holds no rows of the video family; fix: generate with camera=walkthrough "
                         "qa.families=[video] (or preset=video)")
    vdir = out / DATASET_NAME
    vdir.mkdir(parents=True, exist_ok=True)
    for name, (parquet, row_id) in need.items():
        src = root / "videos" / f"{name}.mp4"
        dst = vdir / f"{name}.mp4"
        if src.is_file():
            shutil.copyfile(src, dst)
        else:  # no output.video: encode the row's frames
            from PIL import Image
            import pyarrow.compute as pc

            from engine.export.video import write_mp4

            t = pq.read_table(parquet, columns=["id", "images", "scene", "meta"])
            hit = t.filter(pc.equal(t["id"], row_id))
            imgs = hit["images"][0].as_py()
            path_id = json.loads(hit["meta"][0].as_py() or "{}").get("path_id", "path_0")
            paths = json.loads(hit["scene"][0].as_py()).get("paths", [])
            fps = next((float(q["fps"]) for q in paths if q["id"] == path_id), fps_default)
            frames = [np.asarray(Image.open(io.BytesIO(im["bytes"])).convert("RGB")) for im in imgs]
            write_mp4(frames, dst, fps)
    atomic_write_text(out / "test.jsonl", "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    return {"rows": len(rows), "videos": len(need), "dest": str(out)}
