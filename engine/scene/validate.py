"""Validation of scene records (dicts). Each error names the bad field and the fix."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.scene.relations import OnObject, RelationError, parse_support

SCHEMA_VERSION = 1  # the scene record's schema_version (docs/record.md)

ROOM_TYPES = ("room", "tabletop", "open")


class SceneRecordError(ValueError):
    """A scene record failed validation; ``errors`` lists one message per bad field."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("invalid scene record:\n  " + "\n  ".join(errors))


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _vec(x: Any, n: int) -> bool:
    return isinstance(x, (list, tuple)) and len(x) == n and all(_is_num(v) for v in x)


def _mat(x: Any, r: int, c: int) -> bool:
    return isinstance(x, (list, tuple)) and len(x) == r and all(_vec(row, c) for row in x)


def _architecture_errors(a: Any, wall_ids: set[str]) -> list[str]:
    """Problems of ``room.architecture`` (engine/layout/architecture.py; docs/record.md)."""
    if not isinstance(a, dict) or not isinstance(a.get("openings"), list):
        return ["room.architecture: must be an object with ceiling, skirting_height, openings (a list)"]
    e = []
    if not isinstance(a.get("ceiling"), bool):
        e.append("room.architecture.ceiling: must be true or false")
    if not _is_num(a.get("skirting_height")) or a["skirting_height"] < 0:
        e.append("room.architecture.skirting_height: must be a number of metres >= 0")
    seen: set[str] = set()
    for i, op in enumerate(a["openings"]):
        p = f"room.architecture.openings[{i}]"
        if not isinstance(op, dict) or op.get("kind") not in ("door", "window") or not isinstance(op.get("id"), str):
            e.append(f"{p}: must be an object with an id and kind door or window")
            continue
        if op["id"] in seen:
            e.append(f"{p}.id: duplicate opening id {op['id']!r}")
        seen.add(op["id"])
        if op.get("wall") not in wall_ids:
            e.append(f"{p}.wall: {op.get('wall')!r} is not a wall id of room.walls")
        if not _vec(op.get("center"), 2):
            e.append(f"{p}.center: must be [x, y] metres")
        for k in ("width", "height"):
            if not _is_num(op.get(k)) or op[k] <= 0:
                e.append(f"{p}.{k}: must be a positive number of metres")
        if not _is_num(op.get("sill")) or op["sill"] < 0:
            e.append(f"{p}.sill: must be a number of metres >= 0")
        if op["kind"] == "door" and (not _is_num(op.get("open_deg")) or op.get("hinge") not in ("left", "right")):
            e.append(f"{p}: a door needs open_deg (degrees) and hinge left or right")
    return e


def validate_scene_record(d: Any, raise_on_error: bool = False) -> list[str]:
    """Check a scene record dict against the schema in docs/record.md.

    Returns a list of error strings ("field: problem; fix: ..."), empty when valid. With
    ``raise_on_error`` raises :class:`SceneRecordError` instead of returning errors.
    """
    e: list[str] = []
    if not isinstance(d, dict):
        e.append(f"record: expected a JSON object, got {type(d).__name__}; fix: pass the dict from SceneGraph.to_dict()")
        return _finish(e, raise_on_error)
    for key in ("schema_version", "scene_id", "seed", "room", "objects"):
        if key not in d:
            e.append(f"{key}: missing; fix: add the field (see docs/record.md)")
    if e:
        return _finish(e, raise_on_error)
    if d["schema_version"] != SCHEMA_VERSION:
        e.append(f"schema_version: record is version {d['schema_version']!r}, this engine reads {SCHEMA_VERSION}; "
                 "fix: regenerate the scene with this engine version")
    if not isinstance(d["scene_id"], str) or not d["scene_id"]:
        e.append("scene_id: must be a non-empty string")
    if not isinstance(d["seed"], int) or isinstance(d["seed"], bool) or d["seed"] < 0:
        e.append(f"seed: must be a non-negative integer, got {d['seed']!r}")

    room = d["room"]
    wall_ids: set[str] = set()
    if not isinstance(room, dict):
        e.append("room: must be an object with type, size, walls")
    else:
        if room.get("type") not in ROOM_TYPES:
            e.append(f"room.type: {room.get('type')!r} is not one of {ROOM_TYPES}")
        if not isinstance(room.get("room_type", ""), str):
            e.append(f"room.room_type: must be a string (living_room, bedroom, ...) or absent, got {room.get('room_type')!r}")
        size = room.get("size")
        if not _vec(size, 3) or size[0] <= 0 or size[1] <= 0 or size[2] < 0:
            e.append(f"room.size: must be [sx, sy, sz] metres with sx, sy > 0 and sz >= 0, got {size!r}")
        for i, w in enumerate(room.get("walls", [])):
            p = f"room.walls[{i}]"
            if not isinstance(w, dict) or not isinstance(w.get("id"), str):
                e.append(f"{p}.id: must be a string")
                continue
            if w["id"] in wall_ids:
                e.append(f"{p}.id: duplicate wall id {w['id']!r}; fix: make wall ids unique")
            wall_ids.add(w["id"])
            if not _vec(w.get("start"), 2) or not _vec(w.get("end"), 2):
                e.append(f"{p}.start/end: must be [x, y] metres")
            elif np.allclose(w["start"], w["end"]):
                e.append(f"{p}: start and end coincide; fix: give the wall a positive length")
            if not _is_num(w.get("height")) or w["height"] <= 0:
                e.append(f"{p}.height: must be a positive number of metres")
        if room.get("architecture") is not None:
            e.extend(_architecture_errors(room["architecture"], wall_ids))

    objs = d["objects"]
    ids: set[str] = set()
    inst: set[int] = set()
    if not isinstance(objs, list):
        e.append("objects: must be a list")
        objs = []
    for i, o in enumerate(objs):
        if isinstance(o, dict) and isinstance(o.get("id"), str):
            ids.add(o["id"])
    seen: set[str] = set()
    for i, o in enumerate(objs):
        p = f"objects[{i}]"
        if not isinstance(o, dict):
            e.append(f"{p}: must be an object")
            continue
        oid = o.get("id")
        if not isinstance(oid, str) or not oid:
            e.append(f"{p}.id: must be a non-empty string")
        elif oid in seen:
            e.append(f"{p}.id: duplicate id {oid!r}; fix: make object ids unique")
        seen.add(oid)
        iid = o.get("instance_id")
        if not isinstance(iid, int) or isinstance(iid, bool) or iid <= 0:
            e.append(f"{p}.instance_id: must be a positive integer (0 is background), got {iid!r}")
        elif iid in inst:
            e.append(f"{p}.instance_id: duplicate {iid}; fix: number instances uniquely")
        else:
            inst.add(iid)
        if not isinstance(o.get("category"), str) or not o.get("category"):
            e.append(f"{p}.category: must be a catalog category name")
        if not _vec(o.get("center"), 3):
            e.append(f"{p}.center: must be [x, y, z] metres, got {o.get('center')!r}")
        size = o.get("size")
        if not _vec(size, 3) or min(size) <= 0:
            e.append(f"{p}.size: must be 3 positive extents in metres, got {size!r}")
        if not _is_num(o.get("yaw")):
            e.append(f"{p}.yaw: must be a finite number of radians")
        elif "rotation" in o:
            if not _mat(o["rotation"], 3, 3):
                e.append(f"{p}.rotation: must be a 3x3 row-major matrix")
            else:
                from engine.geometry.transforms import yaw_rotation

                if not np.allclose(o["rotation"], yaw_rotation(o["yaw"]), atol=1e-9):
                    e.append(f"{p}.rotation: disagrees with yaw={o['yaw']}; fix: set rotation = yaw_rotation(yaw)")
        sup = o.get("support", "floor")
        try:
            support = parse_support(sup, f"{p}.support")
        except RelationError as err:
            e.append(str(err))
        else:
            if isinstance(support, OnObject):
                if support.object_id not in ids:
                    e.append(f"{p}.support: {sup!r} names no object in this scene")
                elif support.object_id == oid:
                    e.append(f"{p}.support: an object cannot stand on itself")
        ag = o.get("against")
        if ag is not None and ag not in wall_ids:
            e.append(f"{p}.against: {ag!r} is not a wall id of room.walls (or null)")
        if not isinstance(o.get("has_front", False), bool):
            e.append(f"{p}.has_front: must be true or false")
        if not isinstance(o.get("attributes", {}), dict):
            e.append(f"{p}.attributes: must be an object")
        sp = o.get("shape_params", {})
        if not isinstance(sp, dict) or not all(isinstance(v, (str, bool, int, float)) for v in sp.values()):
            e.append(f"{p}.shape_params: must be an object of strings, booleans and numbers")

    view_ids: set[str] = set()
    for i, v in enumerate(d.get("views", [])):
        p = f"views[{i}]"
        if not isinstance(v, dict):
            e.append(f"{p}: must be an object")
            continue
        if not isinstance(v.get("id"), str) or v.get("id") in view_ids:
            e.append(f"{p}.id: must be a unique string")
        view_ids.add(v.get("id"))
        if not _mat(v.get("K"), 3, 3) or v["K"][0][0] <= 0 or v["K"][1][1] <= 0 or v["K"][2] != [0, 0, 1]:
            e.append(f"{p}.K: must be [[fx,0,cx],[0,fy,cy],[0,0,1]] with fx, fy > 0")
        for key in ("width", "height"):
            if not isinstance(v.get(key), int) or v.get(key, 0) <= 0:
                e.append(f"{p}.{key}: must be a positive integer number of pixels")
        T = v.get("cam_to_world")
        if not _mat(T, 4, 4):
            e.append(f"{p}.cam_to_world: must be a 4x4 matrix")
        else:
            T = np.asarray(T, dtype=float)
            if not np.allclose(T[3], [0, 0, 0, 1]) or not np.allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-6):
                e.append(f"{p}.cam_to_world: must be rigid (orthonormal rotation, last row 0 0 0 1)")
        ps = v.get("pixel_shares")
        if ps is not None and (not isinstance(ps, dict) or not all(_is_num(x) and 0.0 <= x <= 1.0 for x in ps.values())
                               or abs(sum(ps.values()) - 1.0) > 1e-6):
            e.append(f"{p}.pixel_shares: must map surface class -> share in [0, 1], summing to 1, got {ps!r}; "
                     "fix: recompute it with engine.render.framing.pixel_shares")
        per_object = v.get("objects", {})
        if not isinstance(per_object, dict):
            e.append(f"{p}.objects: must map object id -> per-object fields, got {type(per_object).__name__}")
            per_object = {}
        for oid, info in per_object.items():
            if oid not in ids:
                e.append(f"{p}.objects: key {oid!r} names no object in this scene")
            elif not isinstance(info, dict):
                e.append(f"{p}.objects.{oid}: must be an object of per-object fields (docs/record.md), "
                         f"got {type(info).__name__}")
            elif "in_frame_fraction" in info:
                f = info["in_frame_fraction"]
                if not _is_num(f) or not 0.0 <= f <= 1.0:
                    e.append(f"{p}.objects.{oid}.in_frame_fraction: must be a number in [0, 1] (share of the box's "
                             f"projected area inside the image), got {f!r}; fix: recompute it with "
                             "engine.camera.annotate_geometry(scene, view)")
    _check_paths(d.get("paths", []), view_ids, e)
    return _finish(e, raise_on_error)


def _check_paths(paths: Any, view_ids: set, e: list[str]) -> None:
    """Each camera path: a unique ``id``, ``view_ids`` naming views of the record, one
    ``timestamps`` entry per frame, strictly increasing seconds, and ``fps`` > 0."""
    if not isinstance(paths, list):
        e.append("paths: must be a list of camera paths (docs/video.md)")
        return
    seen: set = set()
    for i, pth in enumerate(paths):
        p = f"paths[{i}]"
        if not isinstance(pth, dict) or not isinstance(pth.get("id"), str) or pth["id"] in seen:
            e.append(f"{p}.id: must be a unique string")
            continue
        seen.add(pth["id"])
        vids, ts = pth.get("view_ids"), pth.get("timestamps")
        if not isinstance(vids, list) or not vids or any(v not in view_ids for v in vids):
            e.append(f"{p}.view_ids: must list ids of this record's views, in frame order")
        if not isinstance(ts, list) or not all(_is_num(t) for t in ts) or (isinstance(vids, list) and len(ts) != len(vids)) \
                or any(b <= a for a, b in zip(ts, ts[1:])):
            e.append(f"{p}.timestamps: must hold one strictly increasing time (s) per frame")
        if not _is_num(pth.get("fps")) or pth["fps"] <= 0:
            e.append(f"{p}.fps: must be a positive number of frames per second")


def _finish(errors: list[str], raise_on_error: bool) -> list[str]:
    if errors and raise_on_error:
        raise SceneRecordError(errors)
    return errors
