"""Scene records from converted boxes and cameras: ids, gravity-aligned boxes, support, an open
room around the objects, and checks on every camera with errors that name the field."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

import engine
from engine.ingest.boxes import gravity_aligned, infer_support
from engine.ingest.types import IngestError
from engine.paths import SCENES_DIR
from engine.scene.graph import Room, SceneGraph, SceneObject, View
from engine.scene.validate import validate_scene_record
from engine.yamlio import load_yaml

FORMATS_FILE = SCENES_DIR / "ask_formats.yaml"


@lru_cache(maxsize=1)
def formats() -> dict:
    """scenes/ask_formats.yaml: CLEVR's size labels and scale, OpenSpatial's Euler order, the support tolerance."""
    return load_yaml(FORMATS_FILE.read_text(encoding="utf-8"))


def scene_id_of(index: int) -> str:
    """The engine's scene id for a scene index (as engine.pipeline.stages.scene_id_of)."""
    return f"s{index:09d}"


def camera_K(value, where: str) -> list[list[float]]:
    """A 3x3 pinhole K from a 3x3 or 4x4 matrix (nested or flat); raises IngestError naming ``where``."""
    a = np.asarray(value, dtype=float)
    if a.size in (9, 16):
        a = a.reshape(3, 3) if a.size == 9 else a.reshape(4, 4)[:3, :3]
    else:
        raise IngestError(f"{where}: expected a 3x3 or 4x4 intrinsic matrix, got {a.size} numbers; fix: give "
                          "[[fx,0,cx],[0,fy,cy],[0,0,1]] (or its 4x4 form)")
    if not np.all(np.isfinite(a)) or a[0, 0] <= 0 or a[1, 1] <= 0 or not np.allclose(a[2], [0, 0, 1], atol=1e-6):
        raise IngestError(f"{where}: not a pinhole intrinsic matrix (fx, fy > 0, last row [0, 0, 1]): {a.tolist()}; "
                          "fix: give K in pixels")
    return a.tolist()


def camera_pose(value, where: str) -> list[list[float]]:
    """A 4x4 camera-to-world pose (OpenCV axes) from nested or flat numbers; raises IngestError
    naming ``where`` unless the rotation is orthonormal with determinant +1 and the last row is [0,0,0,1]."""
    a = np.asarray(value, dtype=float)
    if a.size != 16:
        raise IngestError(f"{where}: expected a 4x4 camera-to-world matrix, got {a.size} numbers")
    a = a.reshape(4, 4)
    R = a[:3, :3]
    if (not np.all(np.isfinite(a)) or not np.allclose(a[3], [0, 0, 0, 1], atol=1e-6)
            or not np.allclose(R.T @ R, np.eye(3), atol=1e-4) or np.linalg.det(R) < 0):
        raise IngestError(f"{where}: not a rigid camera-to-world transform (orthonormal rotation, det +1, last row "
                          "[0, 0, 0, 1]); fix: give the pose that maps camera coordinates (OpenCV: x right, y down, "
                          "z forward) to the Z-up world, in metres")
    return a.tolist()


def make_scene(index: int, seed: int, objects: list[dict], views: list[dict], where: str,
               room: Room | None = None, support_tol: float | None = None) -> tuple[SceneGraph, dict[str, int]]:
    """A validated SceneGraph of converted objects and views.

    Args:
        index: scene index (the id is ``s`` + 9 digits). seed: the run's seed (recorded).
        objects: per object ``category``, ``center`` (3,), ``size`` (3,) along the local axes,
            ``rotation`` (3, 3) local-to-world, optional ``attributes``; world Z-up metres.
        views: per view ``K``, ``cam_to_world``, ``width``, ``height``, ``params``.
        where: the source scene, for error messages. room: the room (default: an open area
            centred on the origin that holds every object's footprint).
        support_tol: metres (default scenes/ask_formats.yaml ``support.tol_m``).

    Returns:
        (scene, notes): notes counts ``tilted_boxes`` and ``support_unknown``; the unknown ids are
        listed in ``scene.stats["support_unknown"]`` (QA skips support questions on the scene).
    """
    tol = float(formats()["support"]["tol_m"] if support_tol is None else support_tol)
    conv, tilted = [], 0
    for k, o in enumerate(objects):
        size = np.asarray(o["size"], dtype=float)
        if size.shape != (3,) or not np.all(np.isfinite(size)) or np.any(size <= 0):
            raise IngestError(f"{where}: objects[{k}].size: must be three positive extents in metres, got "
                              f"{np.asarray(o['size']).tolist()}; fix: give [x, y, z] full lengths")
        c, s, yaw, tilt = gravity_aligned(o["center"], size, o["rotation"])
        conv.append((c, s, yaw))
        tilted += tilt
    ids = [f"obj_{k:02d}" for k in range(len(conv))]
    centers = np.array([c for c, _, _ in conv], dtype=float).reshape(-1, 3)
    sizes = np.array([s for _, s, _ in conv], dtype=float).reshape(-1, 3)
    yaws = np.array([y for _, _, y in conv], dtype=float)
    supports, unknown = infer_support(centers, sizes, yaws, ids, tol)
    objs = [SceneObject(id=ids[k], instance_id=k + 1, category=str(o["category"]), center=list(conv[k][0]),
                        size=list(conv[k][1]), yaw=conv[k][2], support=supports[k],
                        attributes=dict(o.get("attributes") or {})) for k, o in enumerate(objects)]
    if room is None:
        reach = np.abs(centers[:, :2]) + np.linalg.norm(sizes[:, :2], axis=1)[:, None] / 2 if len(objs) else np.ones((1, 2))
        top = float((centers[:, 2] + sizes[:, 2] / 2).max()) if len(objs) else 1.0
        room = Room("open", [round(2 * float(reach[:, 0].max()), 3), round(2 * float(reach[:, 1].max()), 3),
                             round(max(top, 0.0), 3)], [])
    vs = [View(f"view_{i}", v["K"], int(v["width"]), int(v["height"]), v["cam_to_world"], {}, dict(v["params"]))
          for i, v in enumerate(views)]
    stats = {"support_unknown": unknown} if unknown else {}
    scene = SceneGraph(scene_id=scene_id_of(index), seed=int(seed), room=room, objects=objs, views=vs,
                       generator={"name": engine.ENGINE_NAME, "version": engine.__version__, "source": where},
                       scene_index=index, stats=stats)
    errors = validate_scene_record(scene.to_dict())
    if errors:
        raise IngestError(f"{where}: the converted scene is not a valid record: " + "; ".join(errors))
    return scene, {"tilted_boxes": tilted, "support_unknown": len(unknown)}
