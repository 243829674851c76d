"""Our own scene records (docs/record.md) with the user's images: a JSON record, a JSON list of
records, or JSONL (one record per line, as a dataset's scenes/*.jsonl).

Each view names its files in ``params`` (paths relative to ``--images``): ``image`` (default
``<scene_id>/<view_id>.png``, else ``.jpg``), optional ``depth`` (16-bit PNG, ``depth_scale``
units per metre, default 1000, or ``.npy`` metres) and ``mask`` (instance ids = ``instance_id``).
Per-view object annotations in the file are ignored and computed again from the boxes and the
user's images; objects, room, support and cameras are kept as written.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.ingest.build import camera_K, camera_pose, scene_id_of
from engine.ingest.types import IngestError, UserScene, ViewInputs
from engine.scene.graph import SceneGraph
from engine.scene.relations import RelationError
from engine.scene.validate import SceneRecordError


def read_records(path: Path) -> list[dict]:
    """The record dicts of a .json (one record or a list) or .jsonl file."""
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise IngestError(f"{path}: not valid JSON ({e}); fix: one record per line (.jsonl) or a JSON record / "
                          "list (.json)") from None
    return data if isinstance(data, list) else [data]


def _image(images: Path, params: dict, sid: str, vid: str) -> Path:
    if params.get("image"):
        return images / str(params["image"])
    png = images / sid / f"{vid}.png"
    return png if png.exists() or not (images / sid / f"{vid}.jpg").exists() else images / sid / f"{vid}.jpg"


def load_native(path: Path, images: Path, seed: int = 0, start: int = 0) -> list[UserScene]:
    """UserScenes of the records in ``path``; scene ``k`` gets index ``start + k`` (its original
    id is kept in ``source``)."""
    out = []
    for k, rec in enumerate(read_records(path)):
        where = f"{path}: record {k}"
        if not isinstance(rec, dict):
            raise IngestError(f"{where}: expected a scene record object (docs/record.md)")
        try:
            scene = SceneGraph.from_dict(rec)
        except (SceneRecordError, RelationError, KeyError, TypeError, ValueError) as e:
            raise IngestError(f"{where}: {e}") from None
        if not scene.views:
            raise IngestError(f"{where}: views: the record has no camera; fix: add views with K, width, height, "
                              "cam_to_world (docs/record.md)")
        orig = scene.scene_id
        inputs = {}
        for i, v in enumerate(scene.views):
            v.objects = {}
            v.K = camera_K(v.K, f"{where}: views[{i}].K")
            v.cam_to_world = camera_pose(v.cam_to_world, f"{where}: views[{i}].cam_to_world")
            p = v.params
            inputs[v.id] = ViewInputs(
                rgb=_image(images, p, orig, v.id), depth=images / str(p["depth"]) if p.get("depth") else None,
                depth_scale=float(p.get("depth_scale", 1000.0)), mask=images / str(p["mask"]) if p.get("mask") else None)
        index = start + k
        scene.scene_id, scene.scene_index, scene.seed = scene_id_of(index), index, int(seed)
        scene.generator = dict(scene.generator, source=f"{path.name}:{orig}")
        out.append(UserScene(scene, inputs, {"format": "native", "id": orig}, {}))
    return out
