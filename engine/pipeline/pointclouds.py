"""The ``output.point_cloud`` files: ``pointclouds/<scene_id>.ply``, one fused point cloud per
scene (:mod:`engine.export.pointcloud`), written beside a shard's files and committed with them.

Each file is listed in its shard's manifest entry with its sha256, so resuming checks it and
``overwrite=true`` removes it like any other shard file (engine/pipeline/output.py).
"""

from __future__ import annotations

import re
from pathlib import Path

from engine.atomic import temp_path
from engine.export.pointcloud import point_cloud_ply, scene_point_cloud

FOLDER = "pointclouds"
_NAME = re.compile(r"^s\d{9}\.ply$")


def point_cloud_path(scene_id: str) -> str:
    """The file of a scene's point cloud, relative to the output folder."""
    return f"{FOLDER}/{scene_id}.ply"


def is_point_cloud_name(name: str) -> bool:
    """Whether a file name in ``pointclouds/`` is one this engine writes (``s<9 digits>.ply``)."""
    return bool(_NAME.match(name))


def write_scene_point_cloud(root: Path, scene, frames) -> tuple[str, Path]:
    """Write the fused point cloud of ``scene`` (from ``frames``) under a temporary name in
    ``root/pointclouds/``; return (relative final path, temporary path). The caller commits it
    when the shard is complete, or removes it."""
    rel = point_cloud_path(scene.scene_id)
    tmp = temp_path(root / rel)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(point_cloud_ply(scene_point_cloud(scene, frames)))
    return rel, tmp
