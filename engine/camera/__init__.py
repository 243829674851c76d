"""Camera sampler: views of a scene that see at least k whole objects, plus their geometry.

Public API (the pipeline codes against these names)::

    sample_views(scene, camera_cfg, rng) -> list[View]
    make_intrinsics(width, height, fov_deg) -> np.ndarray  # (3, 3), horizontal fov
    annotate_geometry(scene, view) -> None
    CameraSamplingError(ValueError)
    validate_camera_cfg(camera_cfg) -> None
"""

from engine.camera.annotate import GEOMETRY_FIELDS, annotate_geometry, object_geometry, objects_geometry
from engine.camera.config import DEFAULT_CAMERA_CFG, load_camera_cfg, validate_camera_cfg
from engine.camera.intrinsics import make_intrinsics, vertical_fov_deg
from engine.camera.sampler import CameraSamplingError, find_table, sample_views, target_pool

__all__ = [
    "sample_views",
    "make_intrinsics",
    "annotate_geometry",
    "CameraSamplingError",
    "validate_camera_cfg",
    "load_camera_cfg",
    "DEFAULT_CAMERA_CFG",
    "GEOMETRY_FIELDS",
    "object_geometry",
    "objects_geometry",
    "vertical_fov_deg",
    "find_table",
    "target_pool",
]
