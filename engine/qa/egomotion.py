"""Pure pose arithmetic for ego-motion questions: turn, walk, aim, relative motion, frustum, and
the clearance of a walk's straight path from object boxes.

Frames: world right-handed, metres, +Z up. A camera pose is a 4x4 ``cam_to_world`` in the
OpenCV convention (camera +X right, +Y down, +Z forward). Angles are radians; a positive yaw
angle is a turn to the LEFT (counter-clockwise seen from above), as for object ``yaw``.

The camera's *heading* is the direction of its optical axis projected onto the floor plane;
"forward", "left", "right" and "back" for walking are horizontal directions relative to it,
so a camera tilted down walks parallel to the floor, as a person would.
"""

from __future__ import annotations

import math

import numpy as np

from engine.geometry.boxes import OrientedBox
from engine.geometry.projection import project_camera_box
from engine.geometry.transforms import invert_pose, transform_points, yaw_rotation

WALK_DIRECTIONS = {"forward": 0.0, "left": math.pi / 2, "back": math.pi, "right": -math.pi / 2}
_CORNER_X = np.array([1.0, 1.0, -1.0, -1.0]).reshape(4, 1, 1)  # rectangle corner signs (segment_prism_distances)
_CORNER_Y = np.array([1.0, -1.0, 1.0, -1.0]).reshape(4, 1, 1)


def norm(x: np.ndarray) -> float:
    """``np.linalg.norm(x)`` of a 1-D float64 array, without its overhead: numpy works it as the
    square root of ``x.dot(x)`` (for a contiguous 1-D array), and so does this (the same value)."""
    return math.sqrt(x.dot(x))


def wrap_angle(angle: float) -> float:
    """Wrap an angle (radians) into (-pi, pi]."""
    a = math.remainder(float(angle), 2 * math.pi)  # in [-pi, pi]
    return math.pi if a == -math.pi else a


def heading(cam_to_world: np.ndarray) -> float:
    """Heading (radians, counter-clockwise from world +X) of the optical axis on the floor plane.

    Raises ValueError when the camera looks (almost) straight up or down, where the heading is
    undefined.
    """
    f = np.asarray(cam_to_world, dtype=float)[:3, 2]
    if math.hypot(f[0], f[1]) < 1e-6:
        raise ValueError("heading: the camera looks straight up or down; its heading is undefined")
    return math.atan2(f[1], f[0])


def pitch(cam_to_world: np.ndarray) -> float:
    """Pitch (radians) of the optical axis above the horizontal: > 0 looking up, < 0 down."""
    f = np.asarray(cam_to_world, dtype=float)[:3, 2]
    return math.asin(max(-1.0, min(1.0, f[2] / np.linalg.norm(f))))


def turn(cam_to_world: np.ndarray, angle: float) -> np.ndarray:
    """The pose after turning in place by ``angle`` radians about world +Z (> 0 = left).

    The camera centre and pitch are unchanged. Returns a new (4, 4) array.
    """
    pose = np.array(cam_to_world, dtype=float)
    pose[:3, :3] = yaw_rotation(angle) @ pose[:3, :3]
    return pose


def horizontal_direction(cam_to_world: np.ndarray, direction: str) -> np.ndarray:
    """(3,) unit world vector on the floor plane for ``forward``/``back``/``left``/``right``."""
    if direction not in WALK_DIRECTIONS:
        raise ValueError(f"direction: {direction!r} is not one of {sorted(WALK_DIRECTIONS)}")
    h = heading(cam_to_world) + WALK_DIRECTIONS[direction]
    return np.array([math.cos(h), math.sin(h), 0.0])


def walk(cam_to_world: np.ndarray, distance: float, direction: str = "forward") -> np.ndarray:
    """The pose after walking ``distance`` metres horizontally in ``direction`` (no turning).

    ``direction`` is ``forward``, ``back``, ``left`` or ``right`` relative to the heading.
    Returns a new (4, 4) array with the same rotation and camera height.
    """
    pose = np.array(cam_to_world, dtype=float)
    pose[:3, 3] += float(distance) * horizontal_direction(pose, direction)
    return pose


def segment_prism_distances(start: np.ndarray, ends: np.ndarray, centers: np.ndarray, sizes: np.ndarray,
                            yaws: np.ndarray) -> np.ndarray:
    """(M, N) closest distances (m) between M horizontal segments and N gravity-aligned boxes.

    Segment m runs from ``start`` (3,) to ``ends[m]`` (M, 3), world metres, at the constant
    height ``start[2]`` (a walk, :func:`walk`, keeps the camera height; ValueError otherwise).
    Box n has centre ``centers[n]`` (N, 3), full extents ``sizes[n]`` (N, 3) along its local
    axes and rotation ``yaws[n]`` (N,) radians about +Z, so it is a prism: floor rectangle x
    z interval. Hence the distance is exact: ``hypot(d_xy, d_z)`` with ``d_z`` the gap between
    the segment's height and the box's z interval, and ``d_xy`` the 2D distance between the
    segment and the rectangle, worked in the box's local frame: 0 when the segment meets the
    rectangle (separating-axis test on the rectangle's two axes and the segment's normal, a slab
    test), else the least of the two end-to-rectangle distances and the four corner-to-segment
    distances (the closest pair of two disjoint convex polygons has a vertex of one of them). 0
    when the segment touches or enters the box.
    """
    p0 = np.asarray(start, dtype=float).reshape(3)
    p1 = np.asarray(ends, dtype=float).reshape(-1, 3)
    c = np.asarray(centers, dtype=float).reshape(-1, 3)
    h = np.asarray(sizes, dtype=float).reshape(-1, 3) / 2.0
    yaw = np.asarray(yaws, dtype=float).reshape(-1)
    if np.any(np.abs(p1[:, 2] - p0[2]) > 1e-9):
        raise ValueError("segment_prism_distances: every segment must be horizontal (ends at the start's height)")
    cos, sin = np.cos(yaw), np.sin(yaw)
    hx, hy = h[:, 0], h[:, 1]
    ux, uy = p0[0] - c[:, 0], p0[1] - c[:, 1]
    ax, ay = ux * cos + uy * sin, uy * cos - ux * sin  # (N,) start in each box's floor frame
    ux, uy = p1[:, 0, None] - c[:, 0], p1[:, 1, None] - c[:, 1]
    bx, by = ux * cos + uy * sin, uy * cos - ux * sin  # (M, N) ends
    dx, dy = bx - ax, by - ay
    meets = ((np.minimum(ax, bx) <= hx) & (np.maximum(ax, bx) >= -hx) & (np.minimum(ay, by) <= hy)
             & (np.maximum(ay, by) >= -hy) & (np.abs(ax * dy - ay * dx) <= hx * np.abs(dy) + hy * np.abs(dx)))
    ga = np.maximum(np.abs(ax) - hx, 0.0) ** 2 + np.maximum(np.abs(ay) - hy, 0.0) ** 2  # squared, end to rectangle
    gb = np.maximum(np.abs(bx) - hx, 0.0) ** 2 + np.maximum(np.abs(by) - hy, 0.0) ** 2
    best = np.minimum(ga, gb)
    dd = dx * dx + dy * dy
    inv = np.where(dd > 0, 1.0 / np.where(dd > 0, dd, 1.0), 0.0)
    qx = _CORNER_X * hx - ax  # (4, 1, N) the four corners, from the start
    qy = _CORNER_Y * hy - ay
    t = np.minimum(np.maximum((qx * dx + qy * dy) * inv, 0.0), 1.0)  # (4, M, N) np.clip, cheaper on small arrays
    best = np.minimum(best, ((t * dx - qx) ** 2 + (t * dy - qy) ** 2).min(axis=0))  # squared, corner to segment
    dz = np.maximum(0.0, np.maximum((c[:, 2] - h[:, 2]) - p0[2], p0[2] - (c[:, 2] + h[:, 2])))  # (N,)
    return np.sqrt(np.where(meets, 0.0, best) + dz * dz)


def aim_angle(cam_to_world: np.ndarray, point: np.ndarray) -> float:
    """Signed turn (radians, in (-pi, pi], > 0 = left) that makes the heading point at ``point``.

    Only the floor-plane (x, y) position of ``point`` (3,) or (2,) matters.
    """
    pose = np.asarray(cam_to_world, dtype=float)
    d = np.asarray(point, dtype=float)[:2] - pose[:2, 3]
    if math.hypot(d[0], d[1]) < 1e-9:
        raise ValueError("aim_angle: the point is directly above or below the camera")
    return wrap_angle(math.atan2(d[1], d[0]) - heading(pose))


def planar_bearing(origin_xy: np.ndarray, forward_xy: np.ndarray, point_xy: np.ndarray) -> float:
    """Bearing (radians, (-pi, pi], > 0 = left) of ``point_xy`` seen from ``origin_xy`` facing ``forward_xy``.

    All inputs are floor-plane (2,) vectors in world metres; ``forward_xy`` need not be unit.
    0 is straight ahead, +pi/2 straight left, -pi/2 straight right, pi straight behind.
    """
    f = np.asarray(forward_xy, dtype=float)[:2]
    d = np.asarray(point_xy, dtype=float)[:2] - np.asarray(origin_xy, dtype=float)[:2]
    if norm(f) < 1e-12 or norm(d) < 1e-12:
        raise ValueError("planar_bearing: forward direction or point offset has zero length")
    return wrap_angle(math.atan2(d[1], d[0]) - math.atan2(f[1], f[0]))


def relative_motion(pose_1: np.ndarray, pose_2: np.ndarray) -> dict[str, float]:
    """How the camera moved from ``pose_1`` to ``pose_2``, in view 1's horizontal frame.

    Returns a dict of floats: ``forward`` and ``left`` (metres along view 1's heading and its
    left on the floor plane), ``up`` (metres along world +Z), and ``turn`` (radians in
    (-pi, pi], > 0 = turned left) = heading 2 - heading 1.
    """
    p1 = np.asarray(pose_1, dtype=float)
    p2 = np.asarray(pose_2, dtype=float)
    d = p2[:3, 3] - p1[:3, 3]
    h1 = heading(p1)
    fwd = np.array([math.cos(h1), math.sin(h1)])
    left = np.array([-math.sin(h1), math.cos(h1)])
    return {
        "forward": float(d[:2] @ fwd),
        "left": float(d[:2] @ left),
        "up": float(d[2]),
        "turn": wrap_angle(heading(p2) - h1),
    }


def frustum_status(K: np.ndarray, cam_to_world: np.ndarray, box: OrientedBox, width: int, height: int,
                   margin_px: float = 0.0, near: float = 1e-3, world_to_cam: np.ndarray | None = None) -> str:
    """Whether a box is in the camera's view, with a margin; occlusion is ignored.

    Same definition as the record's ``in_frustum``: all 8 corners in front of the camera and
    their projections inside the image. Returns ``"inside"`` when that holds with ``margin_px``
    pixels to spare on every side, ``"outside"`` when no part of the box projects into the image
    grown by ``margin_px`` on every side (or the box is entirely behind the camera), and
    ``"partial"`` otherwise (a near case that questions must not ask about). ``near`` is the
    near plane in metres (pass the camera sampler's ``view.params["near_m"]`` so the definition
    matches the record's). ``world_to_cam`` (4, 4) may pass ``invert_pose(cam_to_world)`` when
    many boxes are judged from one pose.
    """
    K = np.asarray(K, dtype=float)
    m = float(margin_px)
    if world_to_cam is None:
        world_to_cam = invert_pose(cam_to_world)
    pc = transform_points(world_to_cam, box.corners)  # = world_to_camera(cam_to_world, corners)
    z = pc[:, 2]
    if not z.min() >= near:  # a corner behind the near plane (as not np.all(z >= near))
        return _status_clipped(K, pc, width, height, m, near)
    # The per-box arithmetic of frustum_statuses.
    fx_x, fy_y = K[0, 0] * pc[:, 0], K[1, 1] * pc[:, 1]
    u, v = fx_x / z + K[0, 2], fy_y / z + K[1, 2]
    u0, v0, u1, v1 = u.min(), v.min(), u.max(), v.max()
    if (not (u1 < -0.5 or u0 > width - 0.5 or v1 < -0.5 or v0 > height - 0.5)
            and u0 >= -0.5 + m and v0 >= -0.5 + m and u1 <= width - 0.5 - m and v1 <= height - 0.5 - m):
        return "inside"
    u, v = fx_x / z + (K[0, 2] + m), fy_y / z + (K[1, 2] + m)
    gw, gh = int(math.ceil(width + 2 * m)), int(math.ceil(height + 2 * m))
    if u.max() < -0.5 or u.min() > gw - 0.5 or v.max() < -0.5 or v.min() > gh - 0.5:
        return "outside"
    return "partial"


def frustum_statuses(K: np.ndarray, cam_to_world: np.ndarray, corners: np.ndarray, width: int, height: int,
                     margin_px: float = 0.0, near: float = 1e-3, world_to_cam: np.ndarray | None = None) -> list[str]:
    """:func:`frustum_status` of N boxes given by their world corners (N, 8, 3) (metres, as
    ``OrientedBox.corners``), all at once; a list of N statuses.

    The result is that of :func:`engine.geometry.projection.project_box` on ``K`` and on ``K``
    with the principal point shifted by ``margin_px`` (the grown image), with the same
    arithmetic per box, but each box is moved to the camera frame once for both.
    """
    lazy = LazyFrustumStatuses(K, cam_to_world, corners, width, height, margin_px, near, world_to_cam)
    return [lazy[k] for k in range(len(lazy))]


class LazyFrustumStatuses:
    """:func:`frustum_statuses` read one box at a time (``statuses[k]``): the boxes wholly in front
    of the near plane are judged at once, each of the others (the slower clipped test) only when
    first read. The same statuses, for callers that need a few boxes out of many."""

    def __init__(self, K: np.ndarray, cam_to_world: np.ndarray, corners: np.ndarray, width: int, height: int,
                 margin_px: float = 0.0, near: float = 1e-3, world_to_cam: np.ndarray | None = None):
        self._out, self._clip = _front_statuses(K, cam_to_world, corners, width, height, margin_px, near,
                                                world_to_cam)

    def __len__(self) -> int:
        return len(self._out)

    def __getitem__(self, k: int) -> str:
        s = self._out[k]
        if s is None:
            K, pc, width, height, m, near = self._clip
            s = self._out[k] = _status_clipped(K, pc[k], width, height, m, near)
        return s


def _front_statuses(K, cam_to_world, corners, width, height, margin_px, near, world_to_cam) -> tuple[list, tuple]:
    """(statuses, clip args): the statuses of :func:`frustum_statuses` with None for each box
    not wholly in front of the near plane, and (K, camera-frame corners (N, 8, 3), width,
    height, margin, near) for :func:`_status_clipped` of those."""
    K = np.asarray(K, dtype=float)
    m = float(margin_px)
    if world_to_cam is None:
        world_to_cam = invert_pose(cam_to_world)
    pc = transform_points(world_to_cam, corners)  # (N, 8, 3) = world_to_camera(cam_to_world, corners)
    front = np.all(pc[:, :, 2] >= near, axis=1)
    x, y, z = pc[:, :, 0], pc[:, :, 1], pc[:, :, 2]
    with np.errstate(divide="ignore", invalid="ignore"):  # boxes not in front are redone below
        fx_x, fy_y = K[0, 0] * x, K[1, 1] * y
        u, v = fx_x / z + K[0, 2], fy_y / z + K[1, 2]
        u0, v0, u1, v1 = u.min(axis=1), v.min(axis=1), u.max(axis=1), v.max(axis=1)
        inside = (front & ~((u1 < -0.5) | (u0 > width - 0.5) | (v1 < -0.5) | (v0 > height - 0.5))
                  & (u0 >= -0.5 + m) & (v0 >= -0.5 + m) & (u1 <= width - 0.5 - m) & (v1 <= height - 0.5 - m))
        # Grow the image by m pixels on each side: shift the principal point, enlarge the size.
        gw, gh = int(math.ceil(width + 2 * m)), int(math.ceil(height + 2 * m))
        u, v = fx_x / z + (K[0, 2] + m), fy_y / z + (K[1, 2] + m)
        outside = (u.max(axis=1) < -0.5) | (u.min(axis=1) > gw - 0.5) | (v.max(axis=1) < -0.5) | (v.min(axis=1) > gh - 0.5)
    out = ["inside" if i else "outside" if o else "partial" for i, o in zip(inside.tolist(), outside.tolist())]
    for k in np.flatnonzero(~front).tolist():
        out[k] = None  # judged by _status_clipped when read
    return out, (K, pc, width, height, m, near)


def _status_clipped(K: np.ndarray, pc: np.ndarray, width: int, height: int, m: float, near: float) -> str:
    """Status of a box with corners ``pc`` (8, 3) in the camera frame, some behind ``near``: never
    inside; outside unless a part in front projects into the image grown by ``m`` pixels."""
    Kg = K.copy()
    Kg[0, 2] += m
    Kg[1, 2] += m
    grown = project_camera_box(Kg, pc, int(math.ceil(width + 2 * m)), int(math.ceil(height + 2 * m)), near)
    return "outside" if grown is None else "partial"
