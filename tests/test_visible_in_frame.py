"""'Visible means visible': the record's ``in_frame_fraction`` (hand-worked camera/box geometry)
and its use by the QA engine (referents and counting skip objects mostly outside the frame)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from engine.camera import annotate_geometry
from engine.geometry.transforms import look_at
from engine.scene.graph import Room, SceneGraph, SceneObject, View
from engine.scene.validate import validate_scene_record
from tests.qa_families_scenes import all_candidates, make_ctx, seen, template

# ----------------------------------------------------------------------------- geometry, by hand
# Camera frame = world frame (identity pose): +X right, +Y down, +Z forward. Objects have yaw 0,
# so their local axes are the world axes: size [sx, sy, sz] spans x, y and z (depth).


def _identity_view(K, width: int, height: int, near: float | None = None) -> View:
    params = {} if near is None else {"near_m": near}
    return View("view_0", [list(map(float, row)) for row in K], width, height, np.eye(4).tolist(), params=params)


def _in_frame(objs: list[SceneObject], view: View) -> dict[str, float]:
    scene = SceneGraph("s_frame", 0, Room("open", [50.0, 50.0, 0.0]), objs)
    annotate_geometry(scene, view)
    return {oid: f.in_frame_fraction for oid, f in view.objects.items()}


def test_head_on_box_cut_in_half_by_the_image_border():
    # A 1 m cube centred on the optical axis, 4 m ahead: its front face (z = 3.5) projects to a
    # square of half-side 100 * 0.5 / 3.5 px around the principal point, the back face (z = 4.5)
    # to a smaller square inside it, so the hull is the front square. The principal point lies
    # on the left image border (cx = -0.5): the border cuts the square exactly in half.
    cube = SceneObject("cube", 1, "box", [0.0, 0.0, 4.0], [1.0, 1.0, 1.0], 0.0)
    W = H = 200
    f = _in_frame([cube], _identity_view([[100, 0, -0.5], [0, 100, 99.5], [0, 0, 1]], W, H))
    assert f["cube"] == pytest.approx(0.5, abs=1e-12)
    # with the principal point 0.9 half-sides further left, 5% of the square is in the image
    s = 100 * 0.5 / 3.5
    f = _in_frame([cube], _identity_view([[100, 0, -0.5 - 0.9 * s], [0, 100, 99.5], [0, 0, 1]], W, H))
    assert f["cube"] == pytest.approx(0.05, abs=1e-12)
    # principal point in the middle: the whole square is inside
    f = _in_frame([cube], _identity_view([[100, 0, 99.5], [0, 100, 99.5], [0, 0, 1]], W, H))
    assert f["cube"] == 1.0


def test_box_behind_the_camera_and_box_beside_the_image_are_out_of_frame():
    objs = [SceneObject("behind", 1, "box", [0.0, 0.0, -4.0], [1.0, 1.0, 1.0], 0.0),
            SceneObject("beside", 2, "box", [10.0, 0.0, 4.0], [1.0, 1.0, 1.0], 0.0)]  # u ~ 350 > 199.5
    f = _in_frame(objs, _identity_view([[100, 0, 99.5], [0, 100, 99.5], [0, 0, 1]], 200, 200))
    assert f == {"behind": 0.0, "beside": 0.0}


def test_box_crossing_the_near_plane_is_clipped_not_mirrored():
    # Box x in [0, 1], y in [-0.5, 0.5], z in [-1, 4]; near plane z = 1, f = 100, an 80 x 80 image
    # with cx = cy = 39.5 (u, v in [-0.5, 79.5]). Clipped at z = 1 the solid is z in [1, 4]: its
    # near face projects to u in [39.5, 139.5], v in [-10.5, 89.5] (100 x 100 px) and its far face
    # (z = 4) inside that, so the hull is the near face. Inside the image: u in [39.5, 79.5]
    # (40 px) and v in [-0.5, 79.5] (80 px): 3200 / 10000 = 0.32. (Projecting the z = -1 corners
    # through the camera centre would mirror them to u < 39.5 and give a larger share; dropping
    # them would leave the far face only, entirely inside: 1.0.)
    box = SceneObject("box", 1, "box", [0.5, 0.0, 1.5], [1.0, 1.0, 5.0], 0.0)
    f = _in_frame([box], _identity_view([[100, 0, 39.5], [0, 100, 39.5], [0, 0, 1]], 80, 80, near=1.0))
    assert f["box"] == pytest.approx(0.32, abs=1e-12)


def test_sampled_views_carry_in_frame_fraction_consistent_with_in_frustum():
    from engine.camera import load_camera_cfg, sample_views
    from tests.test_camera import hand_room

    scene = hand_room()
    for v in sample_views(scene, load_camera_cfg(), np.random.default_rng(3)):
        for oid, f in v.objects.items():
            assert 0.0 <= f.in_frame_fraction <= 1.0
            if f.in_frustum:
                assert f.in_frame_fraction == 1.0
            if f.bbox_amodal_geom is None:
                assert f.in_frame_fraction == 0.0


def test_validator_names_a_bad_in_frame_fraction():
    cube = SceneObject("obj_00", 1, "box", [0.0, 0.0, 4.0], [1.0, 1.0, 1.0], 0.0)
    scene = SceneGraph("s_frame", 0, Room("open", [50.0, 50.0, 0.0]), [cube])
    view = _identity_view([[100, 0, 99.5], [0, 100, 99.5], [0, 0, 1]], 200, 200)
    annotate_geometry(scene, view)
    scene.views = [view]
    assert validate_scene_record(scene.to_dict()) == []
    view.objects["obj_00"] = replace(view.objects["obj_00"], in_frame_fraction=1.5)
    errors = validate_scene_record(scene.to_dict())
    assert len(errors) == 1 and "views[0].objects.obj_00.in_frame_fraction" in errors[0] and "fix" in errors[0]


# ----------------------------------------------------------------------------- QA: referents, counts
# World +Z up. Camera at (0, 0, 1) looking along +X (camera +X = world -Y, +Y = world -Z),
# 512 x 512, f = 256. Mug A: a 0.2 m cube at (2, 0, 1), centred on the optical axis, head-on:
# its hull is its front face (x = 1.9), a square of half-side s = 256 * 0.1 / 1.9 px around the
# principal point. Mug B at (2, -0.5, 1) is 0.5 m to the camera's right and chair C at
# (3, -1, 0.45) further right: both project well right of the principal point. With the usual
# principal point (255.5) everything is in the frame; with cx = -0.5 - 0.9 s only 5% of mug A's
# square is in the image, while B and C stay entirely inside.

S_MUG = 256 * 0.1 / 1.9


def _mugs_scene(sliver: bool) -> SceneGraph:
    objs = [
        SceneObject("obj_00", 1, "mug", [2.0, 0.0, 1.0], [0.2, 0.2, 0.2], 0.0, attributes={"color": "red"}),
        SceneObject("obj_01", 2, "mug", [2.0, -0.5, 1.0], [0.2, 0.2, 0.2], 0.0, attributes={"color": "white"}),
        SceneObject("obj_02", 3, "chair", [3.0, -1.0, 0.45], [0.5, 0.5, 0.9], 0.0, attributes={"color": "blue"}),
    ]
    scene = SceneGraph("s_mugs", 0, Room("room", [10.0, 10.0, 3.0]), objs)
    cx = -0.5 - 0.9 * S_MUG if sliver else 255.5
    view = View("view_0", [[256.0, 0.0, cx], [0.0, 256.0, 255.5], [0.0, 0.0, 1.0]], 512, 512,
                look_at(np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 1.0])).tolist(), params={"near_m": 0.05})
    annotate_geometry(scene, view)
    for o in objs:  # the renderer's fields, by hand: every object shows 500 px, fully visible
        view.objects[o.id] = view.objects[o.id].updated(seen(500, 1.0))
    scene.views = [view]
    return scene


def test_the_hand_scene_is_what_the_comment_says():
    for sliver, want in ((True, 0.05), (False, 1.0)):
        f = {oid: p.in_frame_fraction for oid, p in _mugs_scene(sliver).views[0].objects.items()}
        assert f["obj_00"] == pytest.approx(want, abs=1e-12)
        assert f["obj_01"] == 1.0 and f["obj_02"] == 1.0
        assert math.isclose(_mugs_scene(sliver).views[0].objects["obj_00"].visible_fraction, 1.0)


def test_a_sliver_in_the_frame_is_not_a_referent():
    t = template("measurement.camera_distance.open")
    sliver, whole = make_ctx(_mugs_scene(True)), make_ctx(_mugs_scene(False))
    assert sliver.cfg["visibility"]["min_in_frame"] == 0.5
    assert sliver.referents(t) == ["obj_01", "obj_02"]  # visible_fraction 1.0, 500 px, but 5% in frame
    assert whole.referents(t) == ["obj_00", "obj_01", "obj_02"]
    assert not sliver.visible(t, "obj_00") and whole.visible(t, "obj_00")
    assert sliver.view.present("obj_00")  # it still shows, so it stays a distractor for expressions
    # no question of the template names it
    named = {o for c in all_candidates(sliver, "measurement.camera_distance.open") for o in c.objects}
    assert "obj_00" not in named and "obj_01" in named
    # a template may lower the threshold below the sliver's share
    assert "obj_00" in sliver.view.visible_ids(0.3, 60, 0.05)


def _count_answers(ctx, tid: str) -> dict:
    return {c.context_key: c.value for c in all_candidates(ctx, tid)}


def test_a_sliver_in_the_frame_makes_its_category_borderline_for_counting():
    whole = _count_answers(make_ctx(_mugs_scene(False)), "counting.count.count")
    assert whole == {("mug",): 2, ("chair",): 1}
    # 5% in frame: neither counted (the answer would be 1) nor ignored (then 1 is arguable): the
    # mug count is not asked; the chair still is
    sliver = _count_answers(make_ctx(_mugs_scene(True)), "counting.count.count")
    assert sliver == {("chair",): 1}
    # comparisons: mugs against chairs in the frame; with the sliver only the chairs are countable
    assert {c.context_key for c in all_candidates(make_ctx(_mugs_scene(False)), "counting.count_compare.bool")} \
        == {("mug", "chair"), ("chair", "mug")}
    assert all_candidates(make_ctx(_mugs_scene(True)), "counting.count_compare.bool") == []


def test_old_records_without_the_field_count_every_object_in_frame():
    scene = _mugs_scene(True)
    objects = scene.views[0].objects
    for oid, p in objects.items():
        objects[oid] = replace(p, in_frame_fraction=None)  # not in the record
    ctx = make_ctx(scene)
    assert ctx.view.in_frame.tolist() == [1.0, 1.0, 1.0]
    assert ctx.referents(template("measurement.camera_distance.open")) == ["obj_00", "obj_01", "obj_02"]
    # a view that has the field counts an object without it as out of the frame
    scene = _mugs_scene(False)
    scene.views[0].objects["obj_02"] = replace(scene.views[0].objects["obj_02"], in_frame_fraction=None)
    assert make_ctx(scene).view.in_frame.tolist() == [1.0, 1.0, 0.0]


def test_min_in_frame_is_validated():
    from engine.qa.config import validate_qa_cfg

    with pytest.raises(ValueError, match=r"qa\.visibility\.min_in_frame"):
        validate_qa_cfg({"visibility": {"min_in_frame": 1.5}})
    with pytest.raises(ValueError, match=r"qa\.refer\.mark_max_cover"):
        validate_qa_cfg({"refer": {"mark_max_cover": -0.1}})
    validate_qa_cfg({"visibility": {"min_in_frame": 0.0}, "refer": {"mark_max_cover": 1.0}})


def _ray_cast_share(K, pose, box, width, height, near, window=1000, coarse=2.0, fine=0.5):
    """Independent in-frame share by ray casting: a pixel-plane point belongs to the box's
    projection when its ray from the camera centre meets the box at camera z >= near (slab
    test in the box frame). Area inside the image from a fine grid, outside from a coarse one
    over a window around it. Returns (share, the projection reaches the window's edge, area px^2)."""
    R, t = pose[:3, :3], pose[:3, 3]
    c = R.T @ (np.asarray(box.center) - t)  # box centre in the camera frame
    axes = R.T @ np.asarray(box.rotation)  # columns: the box's local axes in the camera frame
    half = np.asarray(box.size) / 2

    def hits(u, v):
        d = np.stack([(u - K[0][2]) / K[0][0], (v - K[1][2]) / K[1][1], np.ones_like(u)], -1) @ axes
        cl = c @ axes
        lo, hi = np.full(u.shape, float(near)), np.full(u.shape, np.inf)
        for i in range(3):
            with np.errstate(divide="ignore", invalid="ignore"):
                t1, t2 = (cl[i] - half[i]) / d[..., i], (cl[i] + half[i]) / d[..., i]
            flat = np.abs(d[..., i]) < 1e-12
            inside = abs(cl[i]) <= half[i]
            lo = np.maximum(lo, np.where(flat, -np.inf if inside else np.inf, np.minimum(t1, t2)))
            hi = np.minimum(hi, np.where(flat, np.inf if inside else -np.inf, np.maximum(t1, t2)))
        return lo <= hi

    U, V = np.meshgrid(np.arange(-0.5 + fine / 2, width - 0.5, fine), np.arange(-0.5 + fine / 2, height - 0.5, fine))
    inner = hits(U, V).sum() * fine ** 2
    U, V = np.meshgrid(np.arange(-window + coarse / 2, width + window, coarse),
                       np.arange(-window + coarse / 2, height + window, coarse))
    h = hits(U, V)
    edge = bool(h[0].any() or h[-1].any() or h[:, 0].any() or h[:, -1].any())
    in_image = (U > -0.5) & (U < width - 0.5) & (V > -0.5) & (V < height - 0.5)
    total = inner + (h & ~in_image).sum() * coarse ** 2
    return (inner / total if total else 0.0), edge, total


def test_in_frame_fraction_matches_ray_casting_for_random_boxes_and_cameras():
    """Boxes cut by the image border: 6 entirely in front of the near plane (seen from 2.5-5 m
    with a long lens, f = 400 px) and 6 crossing it (cameras 0.5-2 m from the centre, f = 100)."""
    from engine.camera.annotate import boxes_in_frame_fraction
    from engine.geometry.boxes import OrientedBox
    from engine.geometry.projection import world_to_camera

    rng = np.random.default_rng(0)
    W, H, near = 160, 120, 0.3
    checked = {True: 0, False: 0}  # crossing the near plane or not
    for k in range(600):
        if min(checked.values()) >= 6:
            break
        crossing = bool(k % 2)
        box = OrientedBox.from_yaw(rng.uniform(-2, 2, 3), rng.uniform(0.3, 2.0, 3), float(rng.uniform(-np.pi, np.pi)))
        d = rng.normal(size=3)
        if crossing:  # next to the box, looking anywhere
            f, eye = 100.0, np.asarray(box.center) + d / np.linalg.norm(d) * rng.uniform(0.5, 2.0)
            pose = look_at(eye, eye + rng.normal(size=3))
        else:
            f, eye = 400.0, np.asarray(box.center) + d / np.linalg.norm(d) * rng.uniform(2.5, 5.0)
            pose = look_at(eye, np.asarray(box.center) + rng.normal(size=3) * 0.5)
        K = np.array([[f, 0.0, 79.5], [0.0, f, 59.5], [0.0, 0.0, 1.0]])
        z = world_to_camera(pose, box.corners)[:, 2]
        if crossing != bool((z < near).any() and (z >= near).any()) or checked[crossing] >= 6:
            continue
        got = boxes_in_frame_fraction(K, pose, box.corners[None], W, H, near)[0]
        if not 0.05 < got < 0.95:  # only boxes cut by the image border (and cheap to skip the rest)
            continue
        want, edge, area = _ray_cast_share(K, pose, box, W, H, near)
        if edge or area < 10000:  # a projection that fits the window, large enough for the grids
            continue
        assert got == pytest.approx(want, abs=0.005), (crossing, got, want)
        checked[crossing] += 1
    assert min(checked.values()) >= 6, checked
