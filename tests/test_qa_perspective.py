"""Perspective family: every generated answer of a hand-worked scene, margins, depth cue tags."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings, strategies as st

from engine.qa.families.perspective import quadrant_of, side_of
from engine.scene.graph import Room, SceneGraph
from qa_families_scenes import all_candidates, make_ctx, obj, perspective_scene, seen, view_at, walls_for

A, B, C, D = "obj_00", "obj_01", "obj_02", "obj_03"  # sofa (0,0) faces east, table (3,0), lamp (1.5,2), chair (1,-2) faces south
NAMES = {A: "the sofa", B: "the table", C: "the floor lamp", D: "the chair"}

# Standing at s facing f, the target t: bearing worked by hand (atan2 of the offsets, minus the
# facing angle), then (left/right, quadrant); None = within 15 degrees of a boundary.
STANDING = {
    (A, B, C): ("left", "front-left"),     # 53.13
    (A, B, D): ("right", "front-right"),   # -63.43
    (A, C, B): ("right", "front-right"),   # -53.13
    (A, C, D): ("right", "back-right"),    # -116.57
    (A, D, B): ("left", "front-left"),     # 63.43
    (A, D, C): ("left", "back-left"),      # 116.57
    (B, A, C): ("right", "front-right"),   # -53.13
    (B, A, D): ("left", "front-left"),     # 45
    (B, C, A): ("left", "front-left"),     # 53.13
    (B, C, D): ("left", None),             # 98.13: 8 degrees from the back/front boundary
    (B, D, A): ("right", "front-right"),   # -45
    (B, D, C): ("right", None),            # -98.13
    (C, A, B): ("left", "front-left"),     # 73.74
    (C, A, D): ("left", "front-left"),     # 29.74
    (C, B, A): ("right", "front-right"),   # -73.74
    (C, B, D): ("right", "front-right"),   # -43.99
    (C, D, A): ("right", "front-right"),   # -29.74
    (C, D, B): ("left", "front-left"),     # 43.99
    (D, A, B): ("right", "front-right"),   # -71.57
    (D, A, C): ("right", "front-right"),   # -33.69
    (D, B, A): ("left", "front-left"),     # 71.57
    (D, B, C): ("left", "front-left"),     # 37.87
    (D, C, A): ("left", "front-left"),     # 33.69
    (D, C, B): ("right", "front-right"),   # -37.87
}


def _by_objects(cands):
    out = {}
    for c in cands:
        key = tuple(c.objects)
        assert key not in out, f"two candidates for {key}"
        out[key] = c
    return out


def test_standing_left_right_and_quadrant_by_hand():
    ctx = make_ctx(perspective_scene())
    lr = _by_objects(all_candidates(ctx, "perspective.standing_lr", refer="expression"))
    assert set(lr) == set(STANDING)
    for key, c in lr.items():
        assert c.value == STANDING[key][0], key
        assert c.options == ["left", "right"] and c.options[c.correct] == c.value
        assert all(NAMES[o] in c.question for o in key)
    quad = _by_objects(all_candidates(ctx, "perspective.standing_quadrant"))
    assert set(quad) == {k for k, v in STANDING.items() if v[1] is not None}
    for key, c in quad.items():
        assert c.value == STANDING[key][1], key


def test_object_point_of_view_by_hand():
    ctx = make_ctx(perspective_scene())
    # Sofa faces +x: table dead ahead (0 deg, no left/right), lamp 53 deg left, chair 63 deg right.
    # Chair faces -y: sofa at -153 (right, behind), table at 135 (left, behind), lamp at 173 (behind only).
    lr = {tuple(c.objects): c.value for c in all_candidates(ctx, "perspective.object_view_lr")}
    assert lr == {(A, C): "left", (A, D): "right", (D, A): "right", (D, B): "left"}
    fb = {tuple(c.objects): c.value for c in all_candidates(ctx, "perspective.object_view_fb")}
    assert fb == {(A, B): "in front", (A, C): "in front", (A, D): "in front",
                  (D, A): "behind", (D, B): "behind", (D, C): "behind"}
    frames = {c.frame for c in all_candidates(ctx, "perspective.object_view_fb")}
    assert frames == {f"object:{A}", f"object:{D}"}


def _pinhole_v(eye, target, point, f=32.0, c=31.5):
    """Image row of ``point`` for a level-roll camera at ``eye`` looking at ``target`` (written out)."""
    fwd = np.subtract(target, eye) / np.linalg.norm(np.subtract(target, eye))
    right = np.array([fwd[1], -fwd[0], 0.0]) / math.hypot(fwd[0], fwd[1])
    down = np.cross(fwd, right)
    d = np.subtract(point, eye)
    return f * (d @ down) / (d @ fwd) + c


def test_depth_order_by_hand_with_cue_tags():
    scene = perspective_scene()
    ctx = make_ctx(scene)
    # Closest box points from the camera (-2.5, 0, 1.6), worked by hand:
    # sofa (-0.45, 0, 0.8) -> sqrt(2.05^2 + 0.8^2) = 2.2006; table (2.6, 0, 0.75) -> 5.1703;
    # lamp (1.3, 1.8, 1.6) -> sqrt(3.8^2 + 1.8^2) = 4.2048; chair (0.75, -1.75, 0.9) -> 3.7570.
    dist = {A: 2.2006, B: 5.1703, C: 4.2048, D: 3.7570}
    assert np.allclose([ctx.view.cam_dist[ctx.view.i(o)] for o in (A, B, C, D)], list(dist.values()), atol=1e-4)
    cands = all_candidates(ctx, "perspective.depth_order", refer="expression")
    # Lamp vs chair differ by 0.45 m < 15% of 4.20 m: never asked. The 5 other pairs, both orders.
    pairs = {tuple(c.objects) for c in cands}
    assert pairs == {(x, y) for x in dist for y in dist if x != y and {x, y} != {C, D}}
    eye, target = (-2.5, 0.0, 1.6), (2.0, 0.0, 0.6)
    centers = {o.id: o.center for o in scene.objects}
    for c in cands:
        a, b = c.objects
        near, far = (a, b) if dist[a] < dist[b] else (b, a)
        assert c.value == NAMES[near]
        dv = _pinhole_v(eye, target, centers[far]) - _pinhole_v(eye, target, centers[near])
        expect = "counter_heuristic" if dv >= 4 else "perspective_consistent" if dv <= -4 else "no_height_cue"
        assert c.meta["depth_cue"] == expect and c.meta["tags"] == [expect]
    only = all_candidates(make_ctx(scene), "perspective.depth_order", refer="expression")
    assert len(only) == 10


def depth_scene() -> SceneGraph:
    """Camera at (0, 0, 1) looking level along +x (fx = 32, cy = 31.5), four 0.3 m cubes:
    P near and high, S near and low, Q far and low, R farthest and high."""
    objects = [obj(0, "box", (2.0, 0.0, 1.8), (0.3, 0.3, 0.3), color="red"),     # P
               obj(1, "ball", (4.0, 0.5, 0.2), (0.3, 0.3, 0.3), color="red"),    # Q
               obj(2, "vase", (5.0, -0.5, 1.5), (0.3, 0.3, 0.3), color="red"),   # R
               obj(3, "book", (2.0, -0.6, 0.3), (0.3, 0.3, 0.3), color="red")]   # S
    vis = {o.id: seen() for o in objects}
    return SceneGraph("s_depth", 0, Room("open", [12.0, 12.0, 0.0], []), objects,
                      [view_at("view_0", (0.0, 0.0, 1.0), (1.0, 0.0, 1.0), vis)])


def test_depth_cues_by_hand():
    P, Q, R, S = "obj_00", "obj_01", "obj_02", "obj_03"
    # Image rows v = 32 * (1 - z) / x + 31.5: P 18.7, Q 37.9, R 28.3, S 42.7.
    # Distances to closest points: P 1.961, Q 3.920, R 4.875, S 1.982 (P-S too close to call).
    expected = {  # (nearer, farther) -> cue from v_far - v_near
        (P, Q): "counter_heuristic",        # +19.2: the farther cube is lower in the image
        (P, R): "counter_heuristic",        # +9.6
        (S, Q): "perspective_consistent",   # -4.8
        (S, R): "perspective_consistent",   # -14.4
        (Q, R): "perspective_consistent",   # -9.6
    }
    cands = all_candidates(make_ctx(depth_scene()), "perspective.depth_order", refer="expression")
    got = {}
    for c in cands:
        a, b = c.objects
        near = a if c.value == c.options[0] else b
        far = b if near == a else a
        got.setdefault((near, far), set()).add(c.meta["depth_cue"])
    assert got == {k: {v} for k, v in expected.items()}


def test_depth_cue_filter_param():
    import dataclasses

    from engine.qa.families.perspective import generate
    from qa_families_scenes import template

    ctx = make_ctx(depth_scene())
    t = template("perspective.depth_order")
    t = dataclasses.replace(t, params={**t.params, "depth_cue": "counter_heuristic"},
                            constraints={**t.constraints, "refer": "expression"})
    cands = generate(ctx, t, np.random.default_rng(0))
    assert len(cands) == 4 and all(c.meta["depth_cue"] == "counter_heuristic" for c in cands)


def test_margin_helpers():
    assert side_of(14.9, 15) is None and side_of(15.0, 15) == "left" and side_of(-165.0, 15) == "right"
    assert side_of(165.1, 15) is None
    assert quadrant_of(100.0, 15) is None and quadrant_of(120.0, 15) == "back-left"
    assert quadrant_of(-30.0, 15) == "front-right" and quadrant_of(-150.0, 15) == "back-right"
    assert quadrant_of(-5.0, 15) is None and quadrant_of(178.0, 15) is None


pos = st.tuples(st.floats(-2.6, 2.6), st.floats(-2.6, 2.6))


@settings(max_examples=40, deadline=None)
@given(pos, pos, pos)
def test_standing_agrees_with_cross_products(pa, pb, pc):
    objects = [obj(i, cat, (x, y, 0.4), (0.3, 0.3, 0.8), color="red")
               for i, (cat, (x, y)) in enumerate(zip(("table", "chair", "stool"), (pa, pb, pc)))]
    vis = {o.id: seen() for o in objects}
    scene = SceneGraph("s_h", 0, Room("room", [6.0, 6.0, 2.5], walls_for(6.0, 6.0)), objects,
                       [view_at("view_0", (-2.9, -2.9, 1.5), (0, 0, 0.4), vis)])
    ctx = make_ctx(scene)
    for c in all_candidates(ctx, "perspective.standing_quadrant", refer="expression"):
        a, b, t = (np.array(scene.object(o).center[:2]) for o in c.objects)
        f, d = b - a, t - a
        cross, dot = f[0] * d[1] - f[1] * d[0], f @ d
        assert np.linalg.norm(f) >= 0.5 and np.linalg.norm(d) >= 0.5
        expect = ("front" if dot > 0 else "back") + "-" + ("left" if cross > 0 else "right")
        assert c.value == expect
        # Independent margin check: the angle to both axes is at least 15 degrees.
        ang = math.degrees(math.acos(np.clip(dot / np.linalg.norm(f) / np.linalg.norm(d), -1, 1)))
        assert min(ang, 180 - ang, abs(90 - ang)) >= 15 - 1e-9


def test_sampled_rooms_agree_with_rotation_columns_and_clipped_distances():
    from qa_families_scenes import sampled_scenes

    n_checked = 0
    for scene in sampled_scenes(6):
        for vi in range(len(scene.views)):
            ctx = make_ctx(scene, vi)
            for c in all_candidates(ctx, "perspective.object_view_fb") + all_candidates(ctx, "perspective.object_view_lr"):
                a, t = (scene.object(o) for o in c.objects)
                cy, sy = math.cos(a.yaw), math.sin(a.yaw)
                d = np.subtract(t.center[:2], a.center[:2])
                ahead, left = d @ [cy, sy], d @ [-sy, cy]   # local +X and +Y columns of Rz(yaw)
                if c.template.task == "object_view_fb":
                    assert c.value == ("in front" if ahead > 0 else "behind")
                    assert abs(ahead) >= np.linalg.norm(d) * math.sin(math.radians(15)) - 1e-9
                else:
                    assert c.value == ("left" if left > 0 else "right")
                    assert abs(left) >= np.linalg.norm(d) * math.sin(math.radians(15)) - 1e-9
                n_checked += 1
            cam = np.asarray(scene.views[vi].cam_to_world)[:3, 3]
            for c in all_candidates(ctx, "perspective.depth_order"):
                dist = []
                for o in (scene.object(x) for x in c.objects):
                    cy, sy = math.cos(o.yaw), math.sin(o.yaw)
                    rel = cam - np.asarray(o.center)
                    local = np.array([rel[0] * cy + rel[1] * sy, -rel[0] * sy + rel[1] * cy, rel[2]])
                    excess = np.maximum(np.abs(local) - np.asarray(o.size) / 2, 0.0)
                    dist.append(float(np.linalg.norm(excess)))
                near = 0 if dist[0] < dist[1] else 1
                assert c.value == c.options[near]
                assert abs(dist[0] - dist[1]) >= max(0.15, 0.15 * max(dist)) - 1e-9
                n_checked += 1
    assert n_checked > 50
