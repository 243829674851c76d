"""A scene's fused point cloud with instance labels, from its rendered depth (for 3D-input models).

Every pixel with depth (camera-frame z > 0) of every view is back-projected through the view's
``K`` and ``cam_to_world`` (OpenCV camera, pixel centres at integer coordinates,
docs/conventions.md) into the world frame (metres, Z up), labelled with the instance id the id
buffer holds there (0: floor, walls, background) and coloured by the view's RGB. The views are
fused on a voxel grid: one point per occupied voxel of ``voxel`` metres, the first one in
(view order, row-major pixel order), so overlapping views do not double the density and each kept
point is an exact back-projection (its label is the label of that pixel, never a blend).

The PLY (binary little-endian, written by trimesh) has one ``vertex`` element with ``x y z``
(float32, world metres), ``red green blue alpha`` (uchar) and ``instance`` (int32);
:func:`read_point_cloud_ply` reads it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from engine.geometry.projection import backproject
from engine.scene.graph import SceneGraph

DEFAULT_VOXEL_M = 0.01


@dataclass(frozen=True)
class PointCloud:
    """Points (N, 3) float64 world metres, colors (N, 3) uint8 RGB, instance (N,) int32 (0 =
    background, else the object's ``instance_id``), view (N,) int32: index into ``scene.views``
    of the view each point came from."""

    points: np.ndarray
    colors: np.ndarray
    instance: np.ndarray
    view: np.ndarray

    def __len__(self) -> int:
        return int(self.points.shape[0])


def view_points(view, frame, stride: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One view's back-projected pixels: (points (N, 3) world metres, colors (N, 3) uint8,
    instance (N,) int32) for every ``stride``-th pixel (rows and columns) whose depth is > 0."""
    depth = np.asarray(frame.depth)[::stride, ::stride]
    v, u = np.nonzero(depth > 0)
    z = depth[v, u].astype(np.float64)
    v_full, u_full = v * stride, u * stride
    uv = np.stack([u_full, v_full], axis=1).astype(np.float64)
    pts = backproject(np.asarray(view.K), np.asarray(view.cam_to_world), uv, z)
    rgb = np.asarray(frame.rgb)[v_full, u_full, :3].astype(np.uint8)
    ids = np.asarray(frame.ids)[v_full, u_full].astype(np.int32)
    return pts, rgb, ids


def scene_point_cloud(scene: SceneGraph, frames: Mapping[str, object], voxel: float = DEFAULT_VOXEL_M,
                      stride: int = 1, background: bool = True) -> PointCloud:
    """The fused point cloud of ``scene`` from its rendered ``frames`` (view id -> Frame with
    ``depth`` (H, W) camera-frame z metres, ``ids`` (H, W) instance ids, ``rgb`` (H, W, 3)).

    Args:
        voxel: fusion cell size in metres (one point kept per cell); 0 keeps every point.
        stride: take every ``stride``-th pixel along rows and columns before fusing.
        background: keep points with instance 0 (floor, walls); False keeps object points only.
    """
    if voxel < 0 or stride < 1:
        raise ValueError(f"scene_point_cloud: voxel must be >= 0 (got {voxel}) and stride >= 1 (got {stride})")
    parts = []
    for k, view in enumerate(scene.views):
        if view.id not in frames:
            continue
        pts, rgb, ids = view_points(view, frames[view.id], stride)
        if not background:
            keep = ids > 0
            pts, rgb, ids = pts[keep], rgb[keep], ids[keep]
        parts.append((pts, rgb, ids, np.full(len(ids), k, dtype=np.int32)))
    if not parts:
        return PointCloud(np.zeros((0, 3)), np.zeros((0, 3), np.uint8), np.zeros(0, np.int32), np.zeros(0, np.int32))
    pts, rgb, ids, vix = (np.concatenate([p[i] for p in parts]) for i in range(4))
    if voxel > 0 and len(pts):
        cells = np.floor(pts / voxel).astype(np.int64)
        _, first = np.unique(cells, axis=0, return_index=True)
        first.sort()  # keep the view / pixel order
        pts, rgb, ids, vix = pts[first], rgb[first], ids[first], vix[first]
    return PointCloud(pts, rgb, ids, vix)


def point_cloud_ply(cloud: PointCloud) -> bytes:
    """Binary PLY bytes of ``cloud`` (trimesh): x y z float32 world metres, red green blue alpha
    uchar, instance int32. The same cloud gives the same bytes."""
    import trimesh

    n = len(cloud)
    colors = np.concatenate([cloud.colors.reshape(n, 3), np.full((n, 1), 255, np.uint8)], axis=1)
    pc = trimesh.PointCloud(cloud.points.reshape(n, 3), colors=colors)
    pc.vertex_attributes = {"instance": cloud.instance.astype(np.int32)}  # export_ply writes these
    return trimesh.exchange.ply.export_ply(pc, encoding="binary", include_attributes=True)


def read_point_cloud_ply(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points (N, 3) float32 world metres, colors (N, 3) uint8, instance (N,) int32) from the
    bytes :func:`point_cloud_ply` wrote."""
    import trimesh

    pc = trimesh.load(trimesh.util.wrap_as_stream(data), file_type="ply", process=False)
    raw = pc.metadata["_ply_raw"]["vertex"]["data"]
    pts = np.stack([raw["x"], raw["y"], raw["z"]], axis=1)
    rgb = np.stack([raw["red"], raw["green"], raw["blue"]], axis=1).astype(np.uint8)
    return pts, rgb, np.asarray(raw["instance"], dtype=np.int32)
