"""Camera family: height, pitch, camera-object distance, and two-view move/turn, worked by hand."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings, strategies as st

from engine.qa.families.camera import move_class, pitch_class
from qa_families_scenes import all_candidates, make_ctx, two_view_scene


def values(ctx, tid, **kw):
    return [(tuple(c.view_ids), tuple(c.objects), c.value) for c in all_candidates(ctx, tid, **kw)]


def test_single_view_tasks_by_hand():
    s = two_view_scene()
    v0, v1 = make_ctx(s, 0), make_ctx(s, 1)
    assert values(v0, "camera.height") == [(("view_0",), (), 1.6)]
    assert values(v1, "camera.height") == [(("view_1",), (), 1.4)]
    # View 0 looks from z 1.6 to z 0.6 over 4.5 m: atan(1/4.5) = 12.5 degrees down, inside the
    # 5..15 degree dead zone, so no pitch question; view 1 is level.
    assert values(v0, "camera.pitch") == []
    assert values(v1, "camera.pitch") == [(("view_1",), (), "level")]
    assert values(v0, "camera.pitch_degrees") == [(("view_0",), (), 13.0)]  # 12.53 rounds to 13
    assert values(v1, "camera.pitch_degrees") == [(("view_1",), (), 0.0)]
    # Closest-point distances from (-2.5, 0, 1.6): sofa 2.2006, table 5.1703, lamp 4.2048,
    # chair 3.7570 (hand-worked in test_qa_perspective), green box (1.85, 2.35, 0.3):
    # sqrt(4.35^2 + 2.35^2 + 1.3^2) = 5.1121.
    d = {v[1][0]: v[2] for v in values(v0, "camera.object_distance", refer="expression")}
    assert d == {"obj_00": 2.2, "obj_01": 5.17, "obj_02": 4.2, "obj_03": 3.76, "obj_05": 5.11}


def test_two_view_move_and_turn_by_hand():
    s = two_view_scene()
    v0, v1 = make_ctx(s, 0), make_ctx(s, 1)
    # 0 -> 1: moved (+1.5, +0.5): 1.5 m forward, 0.5 m left, bearing 18.4 deg -> forward; turned +30.
    assert values(v0, "camera.move") == [(("view_0", "view_1"), (), "forward")]
    assert values(v0, "camera.turn_direction") == [(("view_0", "view_1"), (), "left")]
    assert values(v0, "camera.turn_degrees") == [(("view_0", "view_1"), (), 30.0)]
    # 1 -> 0 in view 1's frame (heading 30): forward = -1.5 cos30 - 0.5 sin30 = -1.549,
    # left = 1.5 sin30 - 0.5 cos30 = 0.317: bearing 168.4 deg -> backward; turned -30 -> right.
    assert values(v1, "camera.move") == [(("view_1", "view_0"), (), "backward")]
    assert values(v1, "camera.turn_direction") == [(("view_1", "view_0"), (), "right")]
    assert values(v1, "camera.turn_degrees") == [(("view_1", "view_0"), (), 30.0)]


def test_class_helpers_and_margins():
    assert pitch_class(4.9, 5, 15) == "level" and pitch_class(-5.0, 5, 15) == "level"
    assert pitch_class(10.0, 5, 15) is None and pitch_class(-14.9, 5, 15) is None
    assert pitch_class(15.0, 5, 15) == "looking up" and pitch_class(-20.0, 5, 15) == "looking down"
    assert move_class(1.0, 0.0, 0.3, 15) == "forward"
    assert move_class(0.0, 1.0, 0.3, 15) == "left"
    assert move_class(-1.0, 0.1, 0.3, 15) == "backward"
    assert move_class(0.2, -1.0, 0.3, 15) == "right"
    assert move_class(1.0, 1.0, 0.3, 15) is None           # 45 degrees: a tie
    assert move_class(0.1, 0.1, 0.3, 15) is None           # too short
    assert move_class(1.0, math.tan(math.radians(30.1)), 0.3, 15) is None  # 14.9 from the 45 boundary
    assert move_class(1.0, math.tan(math.radians(29.9)), 0.3, 15) == "forward"


@settings(max_examples=60, deadline=None)
@given(st.floats(-3, 3), st.floats(-3, 3), st.floats(0, 360))
def test_move_class_agrees_with_dominant_component(f, l, _):
    ans = move_class(f, l, 0.3, 15)
    if ans is None:
        return
    # Independent: the dominant axis wins, and it beats the other by tan(45 + 15) = sqrt(3).
    if abs(f) >= abs(l):
        assert ans == ("forward" if f > 0 else "backward")
    else:
        assert ans == ("left" if l > 0 else "right")
    big, small = max(abs(f), abs(l)), min(abs(f), abs(l))
    assert big >= math.sqrt(3) * small - 1e-9 and math.hypot(f, l) >= 0.3


def test_pitch_classes_offered_match_the_template():
    """camera.pitch offers only down/level (default cameras never look up: an option that is never
    right would be a shortcut); camera.pitch3 offers all three and answers an upward view."""
    from engine.geometry import look_at

    s = two_view_scene()
    eye = np.asarray(s.views[1].cam_to_world)[:3, 3]
    # 20 degrees up: target 1 m ahead (+x) and tan(20 deg) m higher.
    s.views[1].cam_to_world = look_at(eye, eye + [1.0, 0.0, math.tan(math.radians(20))]).tolist()
    up = make_ctx(s, 1)
    assert values(up, "camera.pitch") == []
    assert values(up, "camera.pitch3") == [(("view_1",), (), "looking up")]
    assert values(up, "camera.pitch_degrees") == [(("view_1",), (), 20.0)]
    level = make_ctx(two_view_scene(), 1)
    (c,) = all_candidates(level, "camera.pitch")
    assert sorted(c.options) == ["level", "looking down"] and c.value == "level"
    (c3,) = all_candidates(level, "camera.pitch3")
    assert sorted(c3.options) == ["level", "looking down", "looking up"]


def test_default_config_excludes_upward_only_template():
    from engine.pipeline.config import compose_config
    from engine.qa import QAGenerator
    from engine.scene.catalog import load_catalog

    ids = {t.id for t in QAGenerator(compose_config([])["qa"], load_catalog()).templates}
    assert "camera.pitch" in ids and "camera.pitch3" not in ids
    ids = {t.id for t in QAGenerator(compose_config(["qa.exclude_tags=[]"])["qa"], load_catalog()).templates}
    assert "camera.pitch3" in ids
