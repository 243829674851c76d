"""Rigid transforms. Poses are 4x4 float64 matrices mapping local points to the parent frame."""

from __future__ import annotations

import math

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

    Returns:
        (4, 4) float64 pose: columns right, down, forward, eye.

    The cross products are plain float arithmetic in the order ``np.cross`` uses (each product
    rounded, then the difference), and the norms are ``sqrt(v.dot(v))`` as in
    ``np.linalg.norm``, so the pose is bit-identical to the numpy formulation (np.cross,
    np.linalg.norm, np.stack), at a fraction of its cost: the camera sampler calls this for
    every candidate that survives its position tests.
    """
    e0, e1, e2 = _floats3(eye)
    t0, t1, t2 = _floats3(target)
    u0, u1, u2 = _floats3(up)
    g0, g1, g2 = t0 - e0, t1 - e1, t2 - e2
    fwd = np.array([g0, g1, g2])
    n = math.sqrt(fwd.dot(fwd))
    if n < 1e-12:
        raise ValueError("look_at: eye and target coincide")
    f0, f1, f2 = g0 / n, g1 / n, g2 / n
    right = np.array(_cross(f0, f1, f2, u0, u1, u2))
    rn = math.sqrt(right.dot(right))
    if rn < 1e-9:
        raise ValueError("look_at: viewing direction is parallel to up; choose another up vector")
    r0, r1, r2 = right.tolist()
    r0, r1, r2 = r0 / rn, r1 / rn, r2 / rn
    d0, d1, d2 = _cross(f0, f1, f2, r0, r1, r2)
    return np.array([[r0, d0, f0, e0], [r1, d1, f1, e1], [r2, d2, f2, e2], [0.0, 0.0, 0.0, 1.0]])


def _floats3(v) -> list[float]:
    """A 3-vector (array or sequence) as 3 Python floats (the values np.asarray(v, float) holds)."""
    if type(v) is tuple and len(v) == 3:
        return [float(x) for x in v]
    return np.asarray(v, dtype=float).reshape(3).tolist()


def _cross(a0: float, a1: float, a2: float, b0: float, b1: float, b2: float) -> tuple[float, float, float]:
    """a x b for 3-vectors given as floats, rounded as ``np.cross`` rounds (product, product, difference)."""
    return a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0
