"""Camera sampler: hand-worked geometry, sampled-view properties, determinism, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from shapely.geometry import Point

from engine.camera import (
    CameraSamplingError,
    annotate_geometry,
    find_table,
    load_camera_cfg,
    make_intrinsics,
    sample_views,
    validate_camera_cfg,
)
from engine.geometry import OrientedBox, look_at, project_points
from engine.scene import ObjectInView, Room, SceneGraph, SceneObject, View, Wall

# ----------------------------------------------------------------------------- scene builders


def _walls(sx: float, sy: float, sz: float) -> list[Wall]:
    c = [(-sx / 2, -sy / 2), (sx / 2, -sy / 2), (sx / 2, sy / 2), (-sx / 2, sy / 2)]
    return [Wall(f"wall_{i}", list(c[i]), list(c[(i + 1) % 4]), sz) for i in range(4)]


def hand_room() -> SceneGraph:
    """A 6 x 5 x 2.8 m room with a table, a mug on it, a sofa, a chair, a painting, a bookshelf."""
    objs = [
        SceneObject("obj_00", 1, "table", [0.5, 0.3, 0.375], [0.8, 1.4, 0.75], 0.3),
        SceneObject("obj_01", 2, "mug", [0.6, 0.4, 0.8], [0.1, 0.1, 0.1], 0.0, support="on:obj_00"),
        SceneObject("obj_02", 3, "sofa", [-2.5, 0.0, 0.4], [0.9, 2.0, 0.8], 0.0, against="wall_3", has_front=True),
        SceneObject("obj_03", 4, "chair", [1.5, -1.0, 0.45], [0.5, 0.5, 0.9], 2.0, has_front=True),
        SceneObject("obj_04", 5, "painting", [0.0, 2.47, 1.5], [0.04, 0.8, 0.6], -math.pi / 2, support="wall",
                    against="wall_2", has_front=True),
        SceneObject("obj_05", 6, "bookshelf", [2.8, 1.5, 0.8], [0.3, 1.0, 1.6], math.pi, against="wall_1",
                    has_front=True),
    ]
    return SceneGraph("s_hand", 0, Room("room", [6.0, 5.0, 2.8], _walls(6.0, 5.0, 2.8)), objs)


def random_room(seed: int, n_furniture: int = 6) -> SceneGraph:
    """A 6 x 5 x 2.8 m room with non-overlapping floor boxes and a small box on some of them."""
    rng = np.random.default_rng(seed)
    objs: list[SceneObject] = []
    foot = []
    while len(foot) < n_furniture:
        size = rng.uniform([0.4, 0.4, 0.4], [1.2, 1.6, 1.8])
        c = rng.uniform([-2.4, -1.9], [2.4, 1.9])
        yaw = float(rng.uniform(-math.pi, math.pi))
        box = OrientedBox.from_yaw([c[0], c[1], size[2] / 2], size, yaw)
        fp = box.footprint()
        if not Room("room", [6.0, 5.0, 2.8]).contains_xy(np.asarray(fp.exterior.coords)).all():
            continue
        if any(fp.distance(f) < 0.1 for f in foot):
            continue
        foot.append(fp)
        objs.append(SceneObject(f"obj_{len(objs):02d}", len(objs) + 1, "cabinet", box.center.tolist(),
                                size.tolist(), yaw))
    for base in list(objs[:3]):
        s = rng.uniform(0.08, 0.3, size=3)
        top = base.center[2] + base.size[2] / 2
        objs.append(SceneObject(f"obj_{len(objs):02d}", len(objs) + 1, "box",
                                [base.center[0], base.center[1], top + s[2] / 2], s.tolist(), base.yaw,
                                support=f"on:{base.id}"))
    return SceneGraph(f"s_rand{seed}", 0, Room("room", [6.0, 5.0, 2.8], _walls(6.0, 5.0, 2.8)), objs)


def tabletop_scene() -> SceneGraph:
    """A table in a 4 x 4 x 2.8 m room with five small objects on it."""
    table = SceneObject("obj_00", 1, "table", [0.0, 0.0, 0.375], [0.9, 1.5, 0.75], 0.2)
    objs = [table]
    spots = [(-0.25, -0.5), (0.2, -0.2), (0.0, 0.3), (-0.2, 0.55), (0.25, 0.5)]
    for i, (x, y) in enumerate(spots, start=1):
        objs.append(SceneObject(f"obj_{i:02d}", i + 1, "cup", [x, y, 0.75 + 0.06], [0.1, 0.1, 0.12], 0.0,
                                support="on:obj_00"))
    return SceneGraph("s_table", 0, Room("tabletop", [4.0, 4.0, 2.8], _walls(4.0, 4.0, 2.8)), objs)


def open_scene() -> SceneGraph:
    """A CLEVR-like 10 x 10 m plane with six primitives near its centre (no walls)."""
    objs = []
    pos = [(-1.5, -1.0), (0.0, -1.5), (1.4, -0.5), (-1.0, 1.0), (0.5, 1.2), (1.8, 1.6)]
    for i, (x, y) in enumerate(pos):
        s = 0.5 + 0.05 * i
        objs.append(SceneObject(f"obj_{i:02d}", i + 1, "cube", [x, y, s / 2], [s, s, s], 0.3 * i))
    return SceneGraph("s_open", 0, Room("open", [10.0, 10.0, 0.0]), objs)


# ----------------------------------------------------------------------------- intrinsics


def test_make_intrinsics_hand_values():
    K = make_intrinsics(512, 512, 90.0)
    assert np.allclose(K, [[256.0, 0, 255.5], [0, 256.0, 255.5], [0, 0, 1]])
    K = make_intrinsics(640, 480, 60.0)
    f = 320.0 / math.tan(math.radians(30.0))  # 554.256...
    assert np.allclose(K, [[f, 0, 319.5], [0, f, 239.5], [0, 0, 1]])
    # The image edge u = -0.5 is exactly fov/2 off the optical axis.
    assert math.isclose(math.degrees(math.atan((K[0, 2] + 0.5) / K[0, 0])), 30.0)
    with pytest.raises(ValueError, match="fov_deg"):
        make_intrinsics(512, 512, 180.0)
    with pytest.raises(ValueError, match="width and height"):
        make_intrinsics(0, 512, 60.0)


# ----------------------------------------------------------------------------- hand-worked geometry


def _hand_view(objs: list[SceneObject]) -> tuple[SceneGraph, View]:
    """Camera at (0, 0, 1) looking along +X (camera +X = world -Y, camera +Y = world -Z), 90 deg fov."""
    scene = SceneGraph("s_geom", 0, Room("room", [20.0, 20.0, 3.0], _walls(20.0, 20.0, 3.0)), objs)
    pose = look_at([0, 0, 1], [1, 0, 1])
    view = View("view_0", make_intrinsics(512, 512, 90.0).tolist(), 512, 512, pose.tolist())
    return scene, view


def test_annotate_geometry_hand_worked():
    objs = [
        SceneObject("a_front", 1, "cube", [4.0, 0.0, 1.0], [1.0, 1.0, 1.0], 0.0),
        SceneObject("b_left_edge", 2, "cube", [2.0, 2.5, 1.0], [1.0, 1.0, 1.0], 0.0),
        SceneObject("c_behind", 3, "cube", [-3.0, 0.0, 1.0], [1.0, 1.0, 1.0], 0.0),
        SceneObject("d_straddle", 4, "cube", [0.0, 1.0, 1.0], [2.0, 1.0, 1.0], 0.0),
    ]
    scene, view = _hand_view(objs)
    view.objects["a_front"] = ObjectInView(visible_pixels=7)  # a renderer field that must survive
    annotate_geometry(scene, view)
    o = view.objects
    # a: x in [3.5, 4.5], y, z-1 in [-0.5, 0.5]; u = 256 * (-y) / x + 255.5, extreme at x = 3.5.
    r = 256 * 0.5 / 3.5
    assert o["a_front"].in_frustum is True and o["a_front"].truncated_geom is False
    assert np.allclose(o["a_front"].bbox_amodal_geom, [255.5 - r, 255.5 - r, 255.5 + r, 255.5 + r])
    assert math.isclose(o["a_front"].distance, 3.5) and math.isclose(o["a_front"].depth, 4.0)
    assert o["a_front"].visible_pixels == 7
    # b: y in [2, 3] -> u from 256*(-3)/1.5 + 255.5 = -256.5 (off the left edge) to 256*(-2)/2.5 + 255.5.
    assert o["b_left_edge"].in_frustum is False and o["b_left_edge"].truncated_geom is True
    assert np.allclose(o["b_left_edge"].bbox_amodal_geom,
                       [-0.5, 255.5 - 256 * 0.5 / 1.5, 255.5 - 256 * 2 / 2.5, 255.5 + 256 * 0.5 / 1.5])
    assert math.isclose(o["b_left_edge"].distance, 2.5)  # closest point (1.5, 2, 1): sqrt(1.5^2 + 2^2)
    assert math.isclose(o["b_left_edge"].depth, 2.0)
    # c: entirely behind the camera.
    assert o["c_behind"].to_dict() == {"in_frustum": False, "bbox_amodal_geom": None, "truncated_geom": False,
                                       "in_frame_fraction": 0.0, "distance": 2.5, "depth": -3.0}
    # d: x in [-1, 1] straddles the camera plane; y in [0.5, 1.5]. Clipped at the near plane the
    # box reaches u -> -inf and v -> +-inf; its right edge is the corner (1, 0.5): u = 255.5 - 128.
    assert o["d_straddle"].in_frustum is False and o["d_straddle"].truncated_geom is True
    assert np.allclose(o["d_straddle"].bbox_amodal_geom, [-0.5, -0.5, 127.5, 511.5])
    assert math.isclose(o["d_straddle"].distance, 0.5) and abs(o["d_straddle"].depth) < 1e-12


def test_in_frustum_boundary_one_corner_outside():
    # The right image edge u = 511.5 is the plane -y = x (f = 256, cx = 255.5, camera +X = world -Y).
    # Both boxes span x in [2, 3]; their nearest right corners are at x = 2.
    inside = SceneObject("in", 1, "cube", [2.5, -1.45, 1.0], [1.0, 0.9, 1.0], 0.0)   # y down to -1.9
    outside = SceneObject("out", 2, "cube", [2.5, -1.55, 1.0], [1.0, 1.1, 1.0], 0.0)  # y down to -2.1
    scene, view = _hand_view([inside, outside])
    annotate_geometry(scene, view)
    i, o = view.objects["in"], view.objects["out"]
    assert i.in_frustum is True and i.truncated_geom is False
    assert math.isclose(i.bbox_amodal_geom[2], 255.5 + 256 * 1.9 / 2)  # 498.7
    assert o.in_frustum is False and o.truncated_geom is True       # 255.5 + 256 * 2.1 / 2 = 524.3
    assert o.bbox_amodal_geom[2] == 511.5
    assert math.isclose(o.bbox_amodal_geom[0], 255.5 + 256 * 1.0 / 3)  # left edge: corner (3, -1.0)


# ----------------------------------------------------------------------------- sampled views


def _independent_in_frustum(obj: SceneObject, view: View, near: float) -> bool:
    """All 8 corners in front of ``near`` and inside the image, via project_points (second method)."""
    uv, z = project_points(np.asarray(view.K), np.asarray(view.cam_to_world), obj.box.corners)
    if np.any(z < near):
        return False
    return bool(np.all((uv[:, 0] >= -0.5) & (uv[:, 0] <= view.width - 0.5)
                       & (uv[:, 1] >= -0.5) & (uv[:, 1] <= view.height - 0.5)))


# The hand-made rooms of these tests (6 objects in 30 m^2) test the base sampler; the framing rule
# is tested on sampled layouts (test_views_over_sampled_layouts) and in tests/test_architecture.py.
NO_FRAMING = {"profiles": {"room": {"framing": None}}}


def _check_views(scene: SceneGraph, views: list[View], cfg: dict) -> None:
    prof = cfg["profiles"][scene.room.type]
    fr = prof.get("framing")
    sx, sy, sz = scene.room.size
    wm, om, k = cfg["wall_margin_m"], cfg["object_margin_m"], cfg["min_objects_in_frustum"]
    assert [v.id for v in views] == [f"view_{i}" for i in range(cfg["num_views"])]
    for v in views:
        eye = v.position
        p = v.params
        if prof["inside_room"]:
            assert abs(eye[0]) <= sx / 2 - wm + 1e-9 and abs(eye[1]) <= sy / 2 - wm + 1e-9
            if sz > 0:
                assert eye[2] <= sz - wm + 1e-9
        for o in scene.objects:
            inflated = OrientedBox(o.center, np.asarray(o.size) + 2 * om, o.rotation)
            assert not inflated.contains(eye[None])[0], (v.id, o.id)
            if prof["clear_footprints"] and o.on_floor:
                assert not inflated.footprint().contains(Point(eye[:2])), (v.id, o.id)
        flags = {o.id: _independent_in_frustum(o, v, p["near_m"]) for o in scene.objects}
        assert flags == {oid: d.in_frustum for oid, d in v.objects.items()}
        assert sum(flags.values()) >= k and p["in_frustum_count"] == sum(flags.values())
        # Every sampled value agrees with the pose: height, pitch, yaw, level horizon, fov, target.
        fwd, right = v.forward, np.asarray(v.cam_to_world)[:3, 0]
        assert math.isclose(eye[2], p["height"], abs_tol=1e-12)
        assert math.isclose(math.degrees(math.asin(fwd[2])), p["pitch_deg"], abs_tol=1e-9)
        assert math.isclose(math.degrees(math.atan2(fwd[1], fwd[0])), p["yaw_deg"], abs_tol=1e-9)
        assert abs(right[2]) < 1e-12  # roll 0: camera x axis is horizontal
        close = p.get("shot") == "close"
        pitch_r = fr["close_pitch_deg"] if close else prof["pitch_deg"]
        assert pitch_r[0] - 1e-9 <= p["pitch_deg"] <= pitch_r[1] + 1e-9
        if fr:  # the framing estimate passed, and the drawn distance is the shot's
            from engine.camera.framing import framing_ok
            assert p["shot"] in ("wide", "close")
            assert framing_ok(p["framing_est"], fr) or (p["framing_relaxed"] and p["attempts"] > fr["relax_after"])
            dist_r = fr["close_distance_m"] if close else prof["distance_m"]
            assert dist_r[0] <= p["distance_m"] <= dist_r[1]
        else:
            assert "shot" not in p and "framing_est" not in p
        assert prof["height_m"][0] <= p["height"] <= prof["height_m"][1]
        assert cfg["fov_deg"][0] <= p["fov_deg"] <= cfg["fov_deg"][1]
        assert np.allclose(v.K, make_intrinsics(v.width, v.height, p["fov_deg"]))
        to_target = np.asarray(p["target"]) - eye
        assert np.allclose(to_target / np.linalg.norm(to_target), fwd)
        assert math.isclose(np.linalg.norm(to_target[:2]), p["distance_m"], rel_tol=1e-9)
        aim = np.mean([scene.object(i).center for i in p["target_objects"]], axis=0)
        assert np.allclose(aim[:2], p["target"][:2])
        assert p["attempts"] >= 1
    for i in range(len(views)):
        for j in range(i + 1, len(views)):
            a, b = views[i], views[j]
            ang = math.degrees(math.acos(np.clip(a.forward @ b.forward, -1, 1)))
            assert ang >= cfg["min_rotation_deg"] - 1e-9
            assert np.linalg.norm(a.position - b.position) >= cfg["min_translation_m"]


@pytest.mark.parametrize("seed", range(12))
def test_sampled_views_satisfy_constraints_random_rooms(seed):
    cfg = load_camera_cfg(overrides={**NO_FRAMING, "num_views": 3})
    scene = random_room(seed)
    views = sample_views(scene, cfg, np.random.default_rng(seed))
    _check_views(scene, views, cfg)
    scene.views = views
    again = SceneGraph.from_json(scene.to_json())  # the record validates and round-trips
    assert again.to_json() == scene.to_json()


def test_sampled_views_hand_room_many_seeds():
    cfg = load_camera_cfg(overrides=NO_FRAMING)
    scene = hand_room()
    for seed in range(20):
        _check_views(scene, sample_views(scene, cfg, np.random.default_rng(1000 + seed)), cfg)


def test_tabletop_camera_beside_table_aims_at_table_objects():
    cfg = load_camera_cfg(overrides={**NO_FRAMING, "num_views": 3})
    scene = tabletop_scene()
    assert find_table(scene).id == "obj_00"
    for seed in range(6):
        views = sample_views(scene, cfg, np.random.default_rng(seed))
        _check_views(scene, views, cfg)
        table_fp = scene.objects[0].box.footprint()
        for v in views:
            assert all(i != "obj_00" for i in v.params["target_objects"])
            # beside the table: outside its footprint, within the profile distance of the cups
            assert not table_fp.contains(Point(v.position[:2]))
            assert table_fp.distance(Point(v.position[:2])) <= cfg["profiles"]["tabletop"]["distance_m"][1]


def test_open_scene_elevated_views():
    cfg = load_camera_cfg(overrides=NO_FRAMING)
    scene = open_scene()
    views = sample_views(scene, cfg, np.random.default_rng(3))
    _check_views(scene, views, cfg)
    assert all(v.position[2] >= cfg["profiles"]["open"]["height_m"][0] for v in views)


def test_sampler_accepts_omegaconf_and_is_deterministic():
    from omegaconf import OmegaConf

    cfg = load_camera_cfg(overrides=NO_FRAMING)
    scene = hand_room()
    a = sample_views(scene, OmegaConf.create(cfg), np.random.default_rng(42))
    b = sample_views(scene, cfg, np.random.default_rng(42))
    c = sample_views(scene, cfg, np.random.default_rng(43))
    dump = lambda vs: SceneGraph("x", 0, scene.room, scene.objects, views=vs).to_json()  # noqa: E731
    assert dump(a) == dump(b)
    assert dump(a) != dump(c)


def test_annotate_geometry_reproduces_sampler_fields():
    cfg = load_camera_cfg(overrides=NO_FRAMING)
    scene = hand_room()
    views = sample_views(scene, cfg, np.random.default_rng(5))
    for v in views:
        fresh = View(v.id, v.K, v.width, v.height, v.cam_to_world, params=dict(v.params))
        annotate_geometry(scene, fresh)
        assert fresh.objects == v.objects


# ----------------------------------------------------------------------------- errors


def test_k_larger_than_object_count_raises():
    cfg = load_camera_cfg(overrides={**NO_FRAMING, "min_objects_in_frustum": 7})
    with pytest.raises(CameraSamplingError, match="min_objects_in_frustum"):
        sample_views(hand_room(), cfg, np.random.default_rng(0))


def test_impossible_separation_raises_with_hint():
    cfg = load_camera_cfg(overrides={**NO_FRAMING, "min_translation_m": 50.0, "max_attempts": 200})
    with pytest.raises(CameraSamplingError, match="min_translation_m"):
        sample_views(hand_room(), cfg, np.random.default_rng(0))


def test_impossible_frustum_raises_with_hint():
    cfg = load_camera_cfg(overrides={**NO_FRAMING, "fov_deg": [2.0, 3.0], "max_attempts": 100})
    with pytest.raises(CameraSamplingError, match="fov_deg"):
        sample_views(hand_room(), cfg, np.random.default_rng(0))


def test_rng_must_be_a_generator():
    with pytest.raises(TypeError, match="Generator"):
        sample_views(hand_room(), load_camera_cfg(overrides=NO_FRAMING), 0)


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda c: c.pop("fov_deg"), "camera.fov_deg: missing"),
        (lambda c: c.update(fov_deg=[80, 60]), "camera.fov_deg"),
        (lambda c: c.update(fov_deg=[60, 200]), "camera.fov_deg"),
        (lambda c: c.update(width=0), "camera.width"),
        (lambda c: c.update(num_views=2.5), "camera.num_views"),
        (lambda c: c.update(fov=60), "camera.fov: unknown key"),
        (lambda c: c.update(near_m=0), "camera.near_m"),
        (lambda c: c["profiles"].pop("open"), "camera.profiles.open: missing"),
        (lambda c: c["profiles"]["room"].update(pitch_deg=[-95, -10]), "camera.profiles.room.pitch_deg"),
        (lambda c: c["profiles"]["room"].update(distance_m=[0, 2]), "camera.profiles.room.distance_m"),
        (lambda c: c["profiles"]["room"].update(inside_room="yes"), "camera.profiles.room.inside_room"),
        (lambda c: c["profiles"]["room"].pop("height_m"), "camera.profiles.room.height_m: missing"),
        (lambda c: c["profiles"]["room"].update(room_types={"bathroom": {"distance_m": [3, 1]}}),
         "camera.profiles.room.room_types.bathroom.distance_m"),
        (lambda c: c["profiles"]["room"].update(room_types={"bathroom": {"zoom": 2}}),
         "camera.profiles.room.room_types.bathroom.zoom: unknown key"),
    ],
)
def test_validate_camera_cfg_names_the_key(mutate, match):
    cfg = load_camera_cfg()
    validate_camera_cfg(cfg)  # the default is valid
    mutate(cfg)
    with pytest.raises(ValueError, match=match.replace(".", r"\.")):
        validate_camera_cfg(cfg)


def test_a_room_type_changes_only_the_keys_it_gives():
    # profiles.room.room_types: a bathroom's distances apply to bathrooms, other rooms keep the profile
    from engine.camera.config import scene_profile
    from engine.layout import sample_layout
    from engine.pipeline.config import load_job
    from engine.rng import stage_rng
    from engine.scene.catalog import load_catalog

    job = load_job(["scene.room_types={living_room:0,bedroom:0,kitchen:0,dining_room:0,office:0,bathroom:1}"])
    cam = load_camera_cfg(overrides={"profiles": {"room": {"framing": {"close_prob": 0.0},  # wide shots only
                                                           "room_types": {"bathroom": {"distance_m": [1.1, 1.3]}}}}})
    base = cam["profiles"]["room"]
    s = sample_layout(job.cfg["scene"], load_catalog(), stage_rng(0, 0, "layout"), scene_index=0)
    assert s.room.room_type == "bathroom"
    prof = scene_profile(cam, s)
    assert prof["distance_m"] == [1.1, 1.3] and prof["pitch_deg"] == base["pitch_deg"] and "room_types" not in prof
    views = sample_views(s, cam, stage_rng(0, 0, "camera"))
    assert views and all(1.1 - 1e-9 <= v.params["distance_m"] <= 1.3 + 1e-9 for v in views)
    s.room.room_type = "office"
    assert scene_profile(cam, s)["distance_m"] == base["distance_m"]
    with pytest.raises(ValueError, match=r"camera\.profiles\.room\.room_types\.sauna: not a room type; fix: one of"):
        load_job(["+camera.profiles.room.room_types.sauna.distance_m=[1,2]"])


# ----------------------------------------------------------------------------- sampled layouts


@pytest.mark.parametrize("scene_type", ["room", "tabletop", "open"])
def test_views_over_sampled_layouts(scene_type):
    from engine.layout import load_scene_cfg, sample_layout
    from engine.rng import stage_rng
    from engine.scene.catalog import load_catalog

    # 3 views (one more than the default) in small typed rooms (bathrooms) need more candidates
    cfg = load_camera_cfg(overrides={"num_views": 3, "max_attempts": 3000})
    scene_cfg, catalog = load_scene_cfg(scene_type), load_catalog()
    for i in range(15):
        scene = sample_layout(scene_cfg, catalog, stage_rng(7, i, "layout"), scene_id=f"s{i}", scene_index=i)
        views = sample_views(scene, cfg, stage_rng(7, i, "camera"))
        _check_views(scene, views, cfg)
        if scene_type == "tabletop":
            table = scene.object(scene.stats["table_id"])
            assert find_table(scene) is table
            for v in views:
                assert all(scene.object(t).supported_by == table.id for t in v.params["target_objects"])
        scene.views = views
        assert SceneGraph.from_json(scene.to_json()).to_json() == scene.to_json()


def test_in_frustum_upper_bound_matches_exact_geometry():
    from engine.camera.annotate import object_geometry
    from engine.camera.sampler import _Obstacles

    rng = np.random.default_rng(11)
    for seed in range(4):
        scene = random_room(seed)
        obstacles = _Obstacles(scene.objects, 0.2, [])
        for _ in range(40):
            eye = np.array([*rng.uniform(-2.5, 2.5, 2), rng.uniform(0.3, 2.5)])
            pose = look_at(eye, [*rng.uniform(-2, 2, 2), 0.3])
            K = make_intrinsics(640, 480, float(rng.uniform(40, 100)))
            exact = sum(object_geometry(o, K, pose, 640, 480, 0.05).in_frustum for o in scene.objects)
            assert obstacles.in_frustum_upper_bound(K, pose, 640, 480, 0.05) == exact


def _ray_box_share(K, pose, width, height, grid, lo, hi, others=()):
    """Share of the grid rays (cell centres) whose first hit among axis-aligned boxes
    [(lo, hi), *others] is the first box: an independent slab test per ray."""
    from engine.camera.framing import grid_rays

    eye = pose[:3, 3]
    first = 0
    for d in grid_rays(K, pose, width, height, grid):
        ts = []
        for a, b in [(lo, hi), *others]:
            with np.errstate(divide="ignore"):
                t1, t2 = (np.asarray(a) - eye) / d, (np.asarray(b) - eye) / d
            t_in, t_out = np.max(np.minimum(t1, t2)), np.min(np.maximum(t1, t2))
            ts.append(t_in if t_in <= t_out and t_out > 0 else np.inf)
        first += bool(np.isfinite(ts[0]) and ts[0] == min(ts))
    return first / grid ** 2


def test_screen_share_hand_worked():
    """A wardrobe (2 m tall) at arm's length beside the camera's axis is a screen: its share of
    the estimate's rays equals an independent per-ray slab test; the same box as a low table, or
    the wardrobe 3 m away, is none; framing_ok refuses a view over max_screen_share."""
    from engine.camera.framing import BoxCaster, estimate_framing, framing_ok

    K = make_intrinsics(96, 96, 90.0)
    pose = look_at([0.0, 0.0, 1.5], [5.0, 0.0, 1.5])  # level, looking along +x
    cfg = {"grid": 20, "min_visible_fraction": 0.5, "min_pixel_share": 0.004, "min_seen_well": 1,
           "max_bare_share": 1.0, "max_screen_share": 0.15, "screen_distance_m": 1.2}
    far_box = SceneObject("obj_01", 2, "chair", [4.0, -1.0, 0.5], [0.5, 0.5, 1.0], 0.0)
    lo_far, hi_far = [3.75, -1.25, 0.0], [4.25, -0.75, 1.0]

    def est(obj):
        return estimate_framing(BoxCaster([obj, far_box]), K, pose, 96, 96, 0.02, cfg)

    wardrobe = SceneObject("obj_00", 1, "wardrobe", [1.1, 0.6, 1.0], [0.6, 0.6, 2.0], 0.0)
    e = est(wardrobe)
    want = _ray_box_share(K, pose, 96, 96, 20, [0.8, 0.3, 0.0], [1.4, 0.9, 2.0], [(lo_far, hi_far)])
    assert want > 0.15 and e["screen_share"] == pytest.approx(want)  # nearest corner 0.8 m deep, top 2.0 > 1.5
    assert not framing_ok(e, cfg) and framing_ok(e, {**cfg, "max_screen_share": None})
    table = SceneObject("obj_00", 1, "table", [1.1, 0.6, 0.375], [0.6, 0.6, 0.75], 0.0)
    assert est(table)["screen_share"] == 0.0 and framing_ok(est(table), cfg)  # below the camera: looked down on
    far = SceneObject("obj_00", 1, "wardrobe", [3.3, 0.6, 1.0], [0.6, 0.6, 2.0], 0.0)
    assert est(far)["screen_share"] == 0.0  # 3 m away: part of the room, not a screen
    assert "screen_share" not in estimate_framing(BoxCaster([wardrobe]), K, pose, 96, 96, 0.02,
                                                  {**cfg, "max_screen_share": None})
