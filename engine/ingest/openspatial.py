"""OpenSpatial's input Parquet (the layout its preprocessing exports, per image or per scene).

Per-image rows (one view each; rows with the same ``scene_id`` form one multi-view scene):

| column | meaning |
|---|---|
| ``scene_id`` | the scene |
| ``image`` | RGB path, relative to ``--images`` |
| ``pose`` | camera-to-world 4x4 (OpenCV camera axes, Z-up world, metres): a path to a text file of 4 rows, or the 16 numbers (nested or flat) |
| ``intrinsic`` | 4x4 (or 3x3) intrinsic matrix: a path to a text file, or the numbers |
| ``bboxes_3d_world_coords`` | per object ``[cx, cy, cz, xl, yl, zl, roll, pitch, yaw]``: centre, full extents along the box axes, Euler angles (rad, order zxy: R = Rz(roll) Rx(pitch) Ry(yaw)) |
| ``obj_tags`` | per object its category (``"chair"``; spaces become ``_``) |
| ``depth_map``, ``depth_scale`` | optional: depth PNG path and its units per metre (1000 = mm) |
| ``masks`` | optional: per object a binary mask PNG path (the filter stage's output) |

Per-scene rows hold the same fields as lists over the scene's images (``num_images`` of them).
An object seen in several images is one object when its tag and its nine numbers are the same
(to 1e-6).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from engine.ingest.annotate import image_size
from engine.ingest.boxes import euler_zxy_matrix
from engine.ingest.build import camera_K, camera_pose, make_scene
from engine.ingest.types import IngestError, UserScene, ViewInputs

REQUIRED = ("scene_id", "image", "pose", "intrinsic", "bboxes_3d_world_coords", "obj_tags")
PER_IMAGE = ("image", "pose", "intrinsic", "bboxes_3d_world_coords", "obj_tags", "depth_map", "depth_scale", "masks")


def parquet_files(path: Path) -> list[Path]:
    """The .parquet files of ``path`` (a file, or a folder searched recursively, sorted)."""
    files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
    if not files:
        raise IngestError(f"{path}: no .parquet file; fix: pass an OpenSpatial Parquet file or a folder holding them")
    return files


def _matrix(value, images: Path, where: str) -> np.ndarray:
    """Numbers from a list or a path to a whitespace-separated text file (relative to ``images``)."""
    if isinstance(value, str):
        f = images / value
        try:
            return np.loadtxt(f, dtype=float)
        except (OSError, ValueError) as e:
            raise IngestError(f"{where}: cannot read {f} as a matrix ({e}); fix: 4 rows of 4 numbers") from None
    if value is None:
        raise IngestError(f"{where}: missing; fix: give the matrix or the path to its text file")
    return np.asarray(value, dtype=float)


def _images_of(row: dict) -> list[dict]:
    """Per-image dicts of a row (a per-scene row is split by its list columns)."""
    if not isinstance(row["image"], list):
        return [row]
    n = len(row["image"])
    out = []
    for i in range(n):
        d = {}
        for k in PER_IMAGE:
            v = row.get(k)
            if isinstance(v, list):
                if len(v) != n:
                    raise IngestError(f"{k}: a per-scene row has {len(v)} values for {n} images; fix: one per image")
                d[k] = v[i]
            else:
                d[k] = v
        out.append(d)
    return out


def load_openspatial(path: Path, images: Path, seed: int = 0, start: int = 0) -> list[UserScene]:
    """UserScenes of an OpenSpatial Parquet file or folder (module doc); scenes in order of first
    appearance, indices from ``start``."""
    scenes: dict[str, list[tuple[str, dict]]] = {}
    for f in parquet_files(path):
        table = pq.read_table(f)
        missing = [c for c in REQUIRED if c not in table.column_names]
        if missing:
            raise IngestError(f"{f}: columns {missing} missing (has {table.column_names}); fix: export the OpenSpatial "
                              f"per-image or per-scene layout with {list(REQUIRED)}")
        for r, row in enumerate(table.to_pylist()):
            try:
                for k, img in enumerate(_images_of(row)):
                    scenes.setdefault(str(row["scene_id"]), []).append((f"{f.name}: row {r}, image {k}", img))
            except IngestError as e:
                raise IngestError(f"{f}: row {r}: {e}") from None
    out = []
    for n, (sid, imgs) in enumerate(scenes.items()):
        keys: dict[tuple, int] = {}
        objects: list[dict] = []
        views, inputs = [], []
        for where, img in imgs:
            boxes, tags = img["bboxes_3d_world_coords"] or [], img["obj_tags"] or []
            if len(boxes) != len(tags):
                raise IngestError(f"{where}: bboxes_3d_world_coords has {len(boxes)} boxes and obj_tags {len(tags)} "
                                  "tags; fix: one tag per box")
            masks = img.get("masks")
            if masks is not None and len(masks) != len(boxes):
                raise IngestError(f"{where}: masks has {len(masks)} entries for {len(boxes)} boxes; fix: one mask "
                                  "per box, or drop the column")
            view_objs = []
            for b, (box, tag) in enumerate(zip(boxes, tags)):
                a = np.asarray(box, dtype=float)
                if a.shape != (9,) or not np.all(np.isfinite(a)):
                    raise IngestError(f"{where}: bboxes_3d_world_coords[{b}]: expected 9 numbers [cx,cy,cz,xl,yl,zl,"
                                      f"roll,pitch,yaw], got {box!r}")
                key = (str(tag), tuple(np.round(a, 6).tolist()))
                if key not in keys:
                    keys[key] = len(objects)
                    objects.append({"category": str(tag).strip().replace(" ", "_"), "center": a[:3].tolist(),
                                    "size": a[3:6].tolist(), "rotation": euler_zxy_matrix(*a[6:9])})
                view_objs.append(keys[key])
            rgb = images / str(img["image"])
            w, h = image_size(rgb)
            views.append({"K": camera_K(_matrix(img["intrinsic"], images, f"{where}: intrinsic"), f"{where}: intrinsic"),
                          "cam_to_world": camera_pose(_matrix(img["pose"], images, f"{where}: pose"), f"{where}: pose"),
                          "width": w, "height": h, "params": {"image": str(img["image"])}})
            depth = img.get("depth_map")
            inputs.append((rgb, images / str(depth) if depth else None, float(img.get("depth_scale") or 1000.0),
                           {k: images / str(m) for k, m in zip(view_objs, masks)} if masks is not None else None))
        scene, notes = make_scene(start + n, seed, objects, views, f"{path.name}:{sid}")
        ins = {}
        for v, (rgb, depth, scale, masks) in zip(scene.views, inputs):
            om = {scene.objects[k].id: p for k, p in masks.items()} if masks else None
            ins[v.id] = ViewInputs(rgb=rgb, depth=depth, depth_scale=scale, object_masks=om)
        out.append(UserScene(scene, ins, {"format": "openspatial", "id": sid}, notes))
    return out
