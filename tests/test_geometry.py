"""Geometry: hand-worked distances and projections, plus property tests against second methods."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.geometry import (
    OrientedBox,
    backproject,
    box_box_distance,
    box_point_distance,
    invert_pose,
    look_at,
    project_box,
    project_points,
    yaw_rotation,
)
from engine.geometry.boxes import box_box_distance_lsq


def unit_box(center=(0, 0, 0), size=(1, 1, 1), yaw=0.0):
    return OrientedBox.from_yaw(center, size, yaw)


# ---------------------------------------------------------------- hand-worked boxes

def test_corners_of_axis_aligned_box():
    b = unit_box(center=(1, 2, 3), size=(2, 4, 6))
    c = b.corners
    assert c.shape == (8, 3)
    assert np.allclose(c.min(axis=0), [0, 0, 0]) and np.allclose(c.max(axis=0), [2, 4, 6])
    # corner 0 is (-,-,-), corner 7 is (+,+,+)
    assert np.allclose(c[0], [0, 0, 0]) and np.allclose(c[7], [2, 4, 6])


def test_rotated_box_corners_and_containment():
    # 2 x 1 box rotated 90 degrees: its long side now runs along world y.
    b = unit_box(size=(2, 1, 1), yaw=math.pi / 2)
    assert np.allclose(np.abs(b.corners[:, :2]).max(axis=0), [0.5, 1.0])
    assert b.contains(np.array([[0.0, 0.9, 0.0]]))[0]
    assert not b.contains(np.array([[0.9, 0.0, 0.0]]))[0]


def test_box_box_distance_hand_worked():
    a = unit_box(center=(0, 0, 0.5))
    # 3 m apart centre to centre along x: gap 2 m between faces.
    assert box_box_distance(a, unit_box(center=(3, 0, 0.5))) == pytest.approx(2.0)
    # diagonal gap: 1 m in x and 1 m in y between the nearest edges -> sqrt(2)
    assert box_box_distance(a, unit_box(center=(2, 2, 0.5))) == pytest.approx(math.sqrt(2))
    # gap of 1 in x, 2 in y, 2 in z -> 3
    assert box_box_distance(a, unit_box(center=(2, 3, 3.5))) == pytest.approx(3.0)
    # touching faces -> exactly 0; overlapping -> 0
    assert box_box_distance(a, unit_box(center=(1, 0, 0.5))) == 0.0
    assert box_box_distance(a, unit_box(center=(0.3, 0.2, 0.5))) == 0.0
    # a box stacked exactly on top -> 0
    assert box_box_distance(a, unit_box(center=(0.2, 0.1, 1.5))) == 0.0


def test_rotated_box_distance_hand_worked():
    # A unit box rotated 45 degrees: its corner points along +x at x = sqrt(2)/2.
    a = unit_box(yaw=math.pi / 4)
    b = unit_box(center=(3, 0, 0))
    assert box_box_distance(a, b) == pytest.approx(2.5 - math.sqrt(2) / 2)
    assert box_box_distance_lsq(a, b) == pytest.approx(2.5 - math.sqrt(2) / 2, abs=1e-9)


def test_box_point_distance_hand_worked():
    b = unit_box(size=(2, 2, 2))
    assert box_point_distance(b, np.array([0.5, 0.5, 0.5])) == 0.0
    assert box_point_distance(b, np.array([4, 0, 0])) == pytest.approx(3.0)
    assert box_point_distance(b, np.array([4, 5, 1])) == pytest.approx(5.0)  # (3, 4, 0)


def test_footprint_area_and_z_range():
    b = unit_box(center=(0, 0, 1), size=(2, 3, 2), yaw=0.7)
    assert b.footprint().area == pytest.approx(6.0)
    assert b.z_range == pytest.approx((0.0, 2.0))


# ---------------------------------------------------------------- hand-worked projection

def simple_camera():
    K = np.array([[100.0, 0, 50], [0, 100.0, 40], [0, 0, 1]])
    # camera at origin looking along world +X, up is +Z: camera +X (right) = world -Y.
    T = look_at([0, 0, 0], [1, 0, 0])
    return K, T


def test_look_at_axes():
    _, T = simple_camera()
    assert np.allclose(T[:3, 2], [1, 0, 0])  # forward
    assert np.allclose(T[:3, 0], [0, -1, 0])  # right
    assert np.allclose(T[:3, 1], [0, 0, -1])  # down


def test_project_points_hand_worked():
    K, T = simple_camera()
    # 2 m ahead, 0.5 m to the left (world +y), 0.2 m up (world +z)
    uv, z = project_points(K, T, np.array([[2.0, 0.5, 0.2]]))
    assert z[0] == pytest.approx(2.0)
    assert uv[0] == pytest.approx([50 - 100 * 0.5 / 2, 40 - 100 * 0.2 / 2])
    # behind the camera: NaN, negative depth
    uv, z = project_points(K, T, np.array([[-1.0, 0, 0]]))
    assert np.isnan(uv).all() and z[0] == pytest.approx(-1.0)


def test_project_box_fully_in_front():
    K, T = simple_camera()
    b = unit_box(center=(3, 0, 0), size=(2, 1, 1))  # x in [2, 4]
    res = project_box(K, T, b, 100, 80)
    # extreme u at the near face (depth 2): 50 -/+ 100 * 0.5 / 2
    assert res["bbox"] == pytest.approx([25.0, 15.0, 75.0, 65.0])
    assert res["in_front"] and not res["truncated"]


def test_project_box_partly_behind_camera_is_clipped_not_flipped():
    K, T = simple_camera()
    # Box spans x in [-1, 1]: half behind the camera. A naive divide would flip points.
    b = unit_box(center=(0, 0.3, 0), size=(2, 0.2, 0.2))  # to the left: y in [0.2, 0.4]
    res = project_box(K, T, b, 100, 80)
    assert res is not None and res["truncated"] and not res["in_front"]
    # Everything in front is to the left of the camera -> u < cx everywhere; the rightmost
    # point is the far corner (x = 1, y = 0.2): u = 50 - 100 * 0.2 / 1 = 30.
    assert res["bbox_unclipped"][2] == pytest.approx(30.0)
    assert res["bbox"][0] == -0.5  # clipped at the image's left edge
    # A box entirely behind the camera projects to nothing.
    assert project_box(K, T, unit_box(center=(-3, 0, 0)), 100, 80) is None


def test_project_box_outside_image_is_none():
    K, T = simple_camera()
    assert project_box(K, T, unit_box(center=(2, 20, 0), size=(0.5, 0.5, 0.5)), 100, 80) is None


# ---------------------------------------------------------------- properties

coord = st.floats(-5, 5, allow_nan=False)
extent = st.floats(0.05, 3, allow_nan=False)
angle = st.floats(-math.pi, math.pi, allow_nan=False)
box_st = st.builds(lambda c, s, y: unit_box(c, s, y), st.tuples(coord, coord, coord), st.tuples(extent, extent, extent), angle)


@settings(max_examples=150, deadline=None)
@given(box_st, box_st)
def test_distance_symmetric_nonnegative_and_matches_lsq(a, b):
    d_ab, d_ba = box_box_distance(a, b), box_box_distance(b, a)
    assert d_ab >= 0
    assert d_ab == pytest.approx(d_ba, abs=1e-9)
    assert d_ab == pytest.approx(box_box_distance_lsq(a, b), abs=1e-6)


@settings(max_examples=150, deadline=None)
@given(box_st, box_st)
def test_distance_zero_iff_touching_or_overlapping(a, b):
    d = box_box_distance(a, b)
    # Independent overlap test: separating axis theorem for two boxes in 3D.
    overlap = not _separated(a, b)
    if overlap:
        assert d == pytest.approx(0.0, abs=1e-9)
    else:
        assert d > 0


def _separated(a: OrientedBox, b: OrientedBox) -> bool:
    axes = [a.rotation[:, i] for i in range(3)] + [b.rotation[:, i] for i in range(3)]
    axes += [np.cross(a.rotation[:, i], b.rotation[:, j]) for i in range(3) for j in range(3)]
    for ax in axes:
        n = np.linalg.norm(ax)
        if n < 1e-9:
            continue
        ax = ax / n
        pa, pb = a.corners @ ax, b.corners @ ax
        if pa.max() < pb.min() - 1e-9 or pb.max() < pa.min() - 1e-9:
            return True
    return False


@settings(max_examples=100, deadline=None)
@given(box_st, st.tuples(coord, coord, coord))
def test_point_distance_matches_sampled_surface_bound(b, p):
    p = np.array(p)
    d = box_point_distance(b, p)
    # The closest point is in the box and no corner is closer than it.
    q = b.closest_point(p)
    assert b.contains(q[None], tol=1e-7)[0]
    assert d <= np.linalg.norm(b.corners - p, axis=1).min() + 1e-9
    assert d == pytest.approx(np.linalg.norm(p - q))


@settings(max_examples=150, deadline=None)
@given(st.tuples(coord, coord, st.floats(0.2, 3)), st.tuples(coord, coord, st.floats(0, 2)),
       st.floats(0.1, 10), st.floats(-1, 1), st.floats(-1, 1))
def test_projection_then_backprojection_returns_point(eye, target, depth, du, dv):
    eye, target = np.array(eye), np.array(target)
    if np.linalg.norm(target - eye) < 1e-3 or np.linalg.norm(np.cross(target - eye, [0, 0, 1])) < 1e-3:
        return
    K = np.array([[300.0, 0, 160], [0, 280.0, 120], [0, 0, 1]])
    T = look_at(eye, target)
    cam_pt = np.array([du * depth, dv * depth, depth])
    world = T[:3, :3] @ cam_pt + T[:3, 3]
    uv, z = project_points(K, T, world[None])
    assert z[0] == pytest.approx(depth, rel=1e-9)
    back = backproject(K, T, uv, z)
    assert np.allclose(back[0], world, atol=1e-9)


def test_invert_pose_roundtrip():
    T = look_at([1, 2, 1.5], [3, -1, 0.5])
    assert np.allclose(T @ invert_pose(T), np.eye(4))
    R = yaw_rotation(0.3)
    assert np.allclose(R @ R.T, np.eye(3))


@settings(max_examples=150, deadline=None)
@given(st.lists(box_st, min_size=1, max_size=12), angle, st.floats(-0.6, 0.6), st.floats(0.01, 0.3),
       st.tuples(coord, coord, coord))
def test_batched_projection_and_point_distance_equal_the_per_box_functions(boxes, yaw, pitch, near, eye):
    """project_boxes equals project_box box by box (None = not hit), for boxes in front of,
    crossing and behind the camera; boxes_corners and boxes_point_distance equal the per-box
    corners and box_point_distance."""
    from engine.geometry.boxes import boxes_corners, boxes_point_distance
    from engine.geometry.projection import project_boxes
    from engine.geometry import look_at

    fwd = np.array([math.cos(yaw) * math.cos(pitch), math.sin(yaw) * math.cos(pitch), math.sin(pitch)])
    T = look_at(np.asarray(eye), np.asarray(eye) + fwd)
    K = np.array([[120.0, 0, 63.5], [0, 120.0, 47.5], [0, 0, 1]])
    centers, sizes, rots = (np.array([getattr(b, k) for b in boxes]) for k in ("center", "size", "rotation"))
    corners = boxes_corners(centers, sizes, rots)
    assert np.array_equal(corners, [b.corners for b in boxes])  # one formula for both
    got = project_boxes(K, T, corners, 128, 96, near=near)
    for i, b in enumerate(boxes):
        p = project_box(K, T, b, 128, 96, near=near)
        assert got["hit"][i] == (p is not None)
        if p is None:
            assert np.isnan(got["bbox"][i]).all() and not got["truncated"][i] and not got["in_front"][i]
        else:
            assert np.allclose(got["bbox"][i], p["bbox"], rtol=0, atol=1e-9)
            assert got["truncated"][i] == p["truncated"] and got["in_front"][i] == p["in_front"]
    d = boxes_point_distance(centers, sizes, rots, np.asarray(eye))
    assert np.array_equal(d, [box_point_distance(b, np.asarray(eye)) for b in boxes])  # same arithmetic per box
