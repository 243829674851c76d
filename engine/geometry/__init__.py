"""Geometry: rigid transforms, oriented boxes, pinhole projection (world: metres, +Z up)."""

from engine.geometry.boxes import OrientedBox, box_box_distance, box_point_distance
from engine.geometry.projection import (
    backproject,
    project_box,
    project_points,
)
from engine.geometry.transforms import (
    invert_pose,
    look_at,
    make_pose,
    transform_points,
    yaw_rotation,
)

__all__ = [
    "OrientedBox",
    "box_box_distance",
    "box_point_distance",
    "project_points",
    "project_box",
    "backproject",
    "invert_pose",
    "look_at",
    "make_pose",
    "transform_points",
    "yaw_rotation",
]
