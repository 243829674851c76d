"""Rigid transforms. Poses are 4x4 float64 matrices mapping local points to the parent frame."""

from __future__ import annotations

import numpy as np


def yaw_rotation(yaw: float) -> np.ndarray:
    """3x3 rotation about world +Z by ``yaw`` radians (counter-clockwise seen from above)."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def make_pose(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """4x4 pose from a 3x3 rotation and a 3-vector translation."""
    pose = np.eye(4)
    pose[:3, :3] = np.asarray(rotation, dtype=float)
    pose[:3, 3] = np.asarray(translation, dtype=float)
    return pose


def invert_pose(pose: np.ndarray) -> np.ndarray:
    """Inverse of a rigid 4x4 pose (uses R^T, exact for orthonormal R)."""
    pose = np.asarray(pose, dtype=float)
    r = pose[:3, :3]
    inv = np.eye(4)
    inv[:3, :3] = r.T
    inv[:3, 3] = -r.T @ pose[:3, 3]
    return inv


def transform_points(pose: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4x4 pose to points of shape (N, 3) (or (3,)); returns the same shape."""
    pts = np.asarray(points, dtype=float)
    pose = np.asarray(pose, dtype=float)
    return pts @ pose[:3, :3].T + pose[:3, 3]


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray = (0.0, 0.0, 1.0)) -> np.ndarray:
    """OpenCV-convention cam_to_world (camera +X right, +Y down, +Z forward) looking at ``target``.

    Args:
        eye: camera centre (3,) in world metres.
        target: point the optical axis passes through (3,), world metres.
        up: world up direction; must not be parallel to the viewing direction.
    """
    eye = np.asarray(eye, dtype=float)
    fwd = np.asarray(target, dtype=float) - eye
    n = np.linalg.norm(fwd)
    if n < 1e-12:
        raise ValueError("look_at: eye and target coincide")
    fwd /= n
    up = np.asarray(up, dtype=float)
    right = np.cross(fwd, up)
    rn = np.linalg.norm(right)
    if rn < 1e-9:
        raise ValueError("look_at: viewing direction is parallel to up; choose another up vector")
    right /= rn
    down = np.cross(fwd, right)
    return make_pose(np.stack([right, down, fwd], axis=1), eye)
