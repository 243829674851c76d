"""Ego-motion pose arithmetic (hand calculations) and the motion QA family."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from engine.geometry.boxes import OrientedBox
from engine.geometry.transforms import look_at
from engine.qa import egomotion as em

K = np.array([[32.0, 0.0, 31.5], [0.0, 32.0, 31.5], [0.0, 0.0, 1.0]])  # 64x64, 90 deg fov


def pose(eye, heading_deg, pitch_deg=0.0):
    h, p = math.radians(heading_deg), math.radians(pitch_deg)
    d = np.array([math.cos(h) * math.cos(p), math.sin(h) * math.cos(p), math.sin(p)])
    return look_at(np.array(eye, float), np.array(eye, float) + d)


def test_heading_pitch_turn_walk_by_hand():
    p = pose((1.0, 2.0, 1.5), 90.0, -20.0)  # facing north (+y), looking 20 degrees down
    assert em.heading(p) == pytest.approx(math.pi / 2)
    assert em.pitch(p) == pytest.approx(math.radians(-20))
    # Turn left 90 degrees: facing west (-x); centre and pitch unchanged.
    q = em.turn(p, math.pi / 2)
    assert em.heading(q) == pytest.approx(math.pi)
    assert em.pitch(q) == pytest.approx(math.radians(-20))
    assert np.allclose(q[:3, 3], [1.0, 2.0, 1.5])
    # Walking 1 m forward while facing north moves +y, parallel to the floor despite the pitch.
    assert np.allclose(em.walk(p, 1.0, "forward")[:3, 3], [1.0, 3.0, 1.5])
    assert np.allclose(em.walk(p, 1.0, "left")[:3, 3], [0.0, 2.0, 1.5])   # left of north is west
    assert np.allclose(em.walk(p, 2.0, "right")[:3, 3], [3.0, 2.0, 1.5])
    assert np.allclose(em.walk(p, 0.5, "back")[:3, 3], [1.0, 1.5, 1.5])
    with pytest.raises(ValueError, match="direction"):
        em.walk(p, 1.0, "up")


def test_aim_angle_and_relative_motion_by_hand():
    p = pose((0.0, 0.0, 1.5), 0.0)  # facing east
    assert math.degrees(em.aim_angle(p, [1.0, 1.0, 0.0])) == pytest.approx(45.0)      # turn left 45
    assert math.degrees(em.aim_angle(p, [0.0, -2.0, 0.0])) == pytest.approx(-90.0)    # turn right 90
    assert math.degrees(em.aim_angle(p, [-1.0, 0.0, 5.0])) == pytest.approx(180.0)    # behind: (-180, 180]
    assert math.degrees(em.aim_angle(p, [-1.0, -1e-9, 0.0])) == pytest.approx(-180.0, abs=1e-6)
    # View 2 stands 2 m east and 1 m north, 0.2 m higher, facing north-west: in view 1's frame
    # that is 2 m forward, 1 m to the left, and a 135 degree left turn.
    q = pose((2.0, 1.0, 1.7), 135.0)
    m = em.relative_motion(p, q)
    assert m["forward"] == pytest.approx(2.0) and m["left"] == pytest.approx(1.0)
    assert m["up"] == pytest.approx(0.2) and math.degrees(m["turn"]) == pytest.approx(135.0)
    # Seen from view 2 (facing north-west), view 1 is 45 degrees off: forward = (-2,-1).(-s,s)...
    r = em.relative_motion(q, p)
    s = math.sqrt(0.5)
    assert r["forward"] == pytest.approx((-2) * -s + (-1) * s)  # = 0.7071
    assert r["left"] == pytest.approx((-2) * -s + (-1) * -s)    # = 2.1213 (left of NW is SW)
    assert math.degrees(r["turn"]) == pytest.approx(-135.0)
    assert math.degrees(em.planar_bearing([0, 0], [0, 1], [1, 1])) == pytest.approx(-45.0)


def test_wrap_angle():
    assert em.wrap_angle(math.pi) == math.pi
    assert em.wrap_angle(-math.pi) == math.pi
    assert em.wrap_angle(3 * math.pi / 2) == pytest.approx(-math.pi / 2)
    assert em.wrap_angle(-7 * math.pi / 4) == pytest.approx(math.pi / 4)


def test_frustum_status_by_hand():
    # Camera at the origin facing +x at height 1; 90 degree field of view (half-angle 45).
    p = pose((0.0, 0.0, 1.0), 0.0)
    ahead = OrientedBox.from_yaw([3.0, 0.0, 1.0], [0.2, 0.2, 0.2], 0.0)
    assert em.frustum_status(K, p, ahead, 64, 64) == "inside"
    behind = OrientedBox.from_yaw([-3.0, 0.0, 1.0], [0.2, 0.2, 0.2], 0.0)
    assert em.frustum_status(K, p, behind, 64, 64) == "outside"
    # 60 degrees to the left: outside the 45 degree half-angle, well clear of the edge.
    side = OrientedBox.from_yaw([3.0 * math.cos(math.radians(60)), 3.0 * math.sin(math.radians(60)), 1.0],
                                [0.2, 0.2, 0.2], 0.0)
    assert em.frustum_status(K, p, side, 64, 64, margin_px=2) == "outside"
    # Straddling the left image edge (45 degrees): partial.
    edge = OrientedBox.from_yaw([2.0, 2.0, 1.0], [0.4, 0.4, 0.2], 0.0)
    assert em.frustum_status(K, p, edge, 64, 64) == "partial"
    # Turning left 60 degrees brings 'side' to the centre; then 'ahead' is 60 degrees right: outside.
    q = em.turn(p, math.radians(60))
    assert em.frustum_status(K, q, side, 64, 64) == "inside"
    assert em.frustum_status(K, q, ahead, 64, 64) == "outside"


@settings(max_examples=60, deadline=None)
@given(st.floats(-3, 3), st.floats(-3, 3), st.floats(-179, 179), st.floats(-179, 179), st.floats(0.1, 3),
       st.sampled_from(sorted(em.WALK_DIRECTIONS)))
def test_turn_walk_aim_agree_with_trigonometry(x, y, h_deg, turn_deg, dist, direction):
    p = pose((x, y, 1.2), h_deg, -10.0)
    q = em.turn(p, math.radians(turn_deg))
    # Independent: headings add modulo 360.
    expect = (h_deg + turn_deg + 180.0) % 360.0 - 180.0
    got = math.degrees(em.heading(q))
    assert min(abs(got - expect), 360 - abs(got - expect)) < 1e-6
    # After walking, relative_motion recovers the step in the walker's own frame.
    w = em.walk(p, dist, direction)
    m = em.relative_motion(p, w)
    fwd, left = {"forward": (1, 0), "left": (0, 1), "back": (-1, 0), "right": (0, -1)}[direction]
    assert m["forward"] == pytest.approx(fwd * dist, abs=1e-9) and m["left"] == pytest.approx(left * dist, abs=1e-9)
    # Turning by aim_angle makes the camera face the target: the target then projects to the
    # image centre column.
    target = np.array([x + 2.0, y - 1.0, 1.2])
    a = em.aim_angle(p, target)
    u = (np.linalg.inv(em.turn(p, a)) @ np.append(target, 1.0))[:3]
    assert abs(u[0]) < 1e-9 and u[2] > 0
