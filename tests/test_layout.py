"""Layout samplers: hand-worked poses, invariants over 1,000 scenes per sampler (checked by
independent code: a separating-axis test on OrientedBox corners, not the sampler's shapely
distances), infeasible requests, config errors and determinism."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest

from engine.geometry import OrientedBox, box_box_distance
from engine.layout import LayoutInfeasibleError, load_scene_cfg, sample_layout, validate_scene_cfg
from engine.layout.drafts import Draft
from engine.layout.room_types import config_for_type
from engine.layout.occupancy import FREE, SMALL, Occupancy, rect_corners
from engine.layout.poses import against_wall_pose, make_walls, near_pose, on_support_pose
from engine.rng import stage_rng
from engine.scene import SceneGraph, validate_scene_record
from engine.scene.catalog import load_catalog
from engine.scene.relations import Free

N_SCENES = 1000
TOL = 1e-9


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _scenes(name: str, catalog) -> list[SceneGraph]:
    cfg = load_scene_cfg(name)
    return [sample_layout(cfg, catalog, stage_rng(7, i, "layout"), scene_id=f"s{i:09d}", seed=7, scene_index=i)
            for i in range(N_SCENES)]


@pytest.fixture(scope="module")
def room_scenes(catalog):
    return _scenes("room", catalog)


@pytest.fixture(scope="module")
def tabletop_scenes(catalog):
    return _scenes("tabletop", catalog)


@pytest.fixture(scope="module")
def open_scenes(catalog):
    return _scenes("open", catalog)


# ---------------------------------------------------------------- hand-worked cases


def test_walls_counter_clockwise_with_inward_normals():
    walls, lines = make_walls(4.0, 3.0, 2.5, 0.1)
    assert [w.id for w in walls] == ["wall_0", "wall_1", "wall_2", "wall_3"]
    assert walls[0].start == [-2.0, -1.5] and walls[0].end == [2.0, -1.5]
    assert walls[1].start == [2.0, -1.5] and walls[1].end == [2.0, 1.5]
    normals = [w.inward_normal.tolist() for w in walls]
    assert np.allclose(normals, [[0, 1], [-1, 0], [0, -1], [1, 0]])
    # shoelace area of the start points is positive for a counter-clockwise ring
    p = np.array([w.start for w in walls])
    area = 0.5 * np.sum(p[:, 0] * np.roll(p[:, 1], -1) - np.roll(p[:, 0], -1) * p[:, 1])
    assert area == pytest.approx(12.0)
    # the yaw facing into the room points along the inward normal
    for w, ln in zip(walls, lines):
        assert np.allclose([math.cos(ln.yaw_in), math.sin(ln.yaw_in)], w.inward_normal)


def test_small_object_rests_exactly_on_table():
    table = Draft("table", (0.8, 1.2, 0.75), (0.5, -0.25, 0.375), 0.3)
    mug = Draft("mug", (0.1, 0.09, 0.11), (0.0, 0.0, 0.0), 0.0)
    rng = np.random.default_rng(0)
    p = on_support_pose(mug, table, 0, False, 0.0, rng, SMALL)
    # table top = 0.375 + 0.75 / 2 = 0.75; the mug's centre is 0.11 / 2 above it
    assert abs((mug.center[2] - 0.11 / 2) - 0.75) <= TOL
    assert mug.center[2] == pytest.approx(0.805)
    assert p.z_lo == 0.75 and mug.support == "on" and mug.support_index == 0
    # all footprint corners inside the table top (table's local frame)
    tb = OrientedBox.from_yaw(table.center, table.size, table.yaw)
    mb = OrientedBox.from_yaw(mug.center, mug.size, mug.yaw)
    local = tb.to_local(mb.corners)
    assert np.all(np.abs(local[:, :2]) <= tb.half[:2] + TOL)


def test_against_wall_piece_is_flush_and_faces_in():
    walls, lines = make_walls(4.0, 3.0, 2.5, 0.1)
    d = Draft("cabinet", (0.4, 0.8, 1.0), (0, 0, 0), 0.0)
    p = against_wall_pose(d, lines[3], 3, 0.05, np.random.default_rng(1), FREE)  # wall_3 is x = -2
    assert d.against == "wall_3" and d.yaw == 0.0
    assert d.center[0] == pytest.approx(-1.8) and d.center[2] == 0.5
    assert p.corners[:, 0].min() == pytest.approx(-2.0, abs=TOL)
    assert -1.5 + 0.05 + 0.4 <= d.center[1] <= 1.5 - 0.05 - 0.4


def test_chair_faces_its_table_from_a_side():
    _, lines = make_walls(6.0, 6.0, 2.5, 0.1)
    table = Draft("table", (0.8, 1.4, 0.75), (0.2, 0.1, 0.375), 0.0)
    for seed in range(20):
        chair = Draft("chair", (0.5, 0.45, 0.9), (0, 0, 0), 0.0)
        near_pose(chair, table, "around", (0.05, 0.2), "anchor", lines, np.random.default_rng(seed), FREE)
        front = np.array([math.cos(chair.yaw), math.sin(chair.yaw)])
        to_table = np.subtract(table.center[:2], chair.center[:2])
        # front is axis-aligned (table yaw 0) and points at the table
        assert np.isclose(np.abs(front).max(), 1.0) and front @ to_table > 0
        gap = box_box_distance(OrientedBox.from_yaw(chair.center, chair.size, chair.yaw),
                               OrientedBox.from_yaw(table.center, table.size, table.yaw))
        assert 0.05 - 1e-9 <= gap <= 0.2 + 1e-9


def test_occupancy_gaps_and_vertical_separation():
    gaps = np.full((6, 6), 0.5)
    occ = Occupancy(gaps, 0.03, 5.0, 5.0, 3.0)
    occ.add(rect_corners(0.0, 0.0, 0.5, 0.5, 0.0), 0.0, 1.0, FREE)
    assert occ.check(rect_corners(1.6, 0.0, 0.5, 0.5, 0.0), 0.0, 1.0, FREE) is None  # gap 0.6
    assert occ.check(rect_corners(1.3, 0.0, 0.5, 0.5, 0.0), 0.0, 1.0, FREE) == "clearance"  # gap 0.3
    assert occ.check(rect_corners(0.5, 0.5, 0.5, 0.5, 0.7), 0.0, 1.0, FREE) == "overlap"
    # same footprint, stacked exactly on top: the z-intervals touch with zero length
    assert occ.check(rect_corners(0.0, 0.0, 0.3, 0.3, 0.2), 1.0, 1.2, FREE) is None
    assert occ.check(rect_corners(4.8, 0.0, 0.5, 0.5, 0.0), 0.0, 1.0, FREE) == "outside_room"
    assert occ.check(rect_corners(3.0, 3.0, 0.5, 0.5, 0.0), 0.0, 3.5, FREE) == "ceiling"


# ---------------------------------------------------------------- independent invariant checks


def _boxes(g: SceneGraph) -> list[OrientedBox]:
    # Built from the record's rotation matrix (not the sampler's yaw/cos/sin path).
    d = json.loads(g.to_json())
    return [OrientedBox(o["center"], o["size"], np.array(o["rotation"])) for o in d["objects"]]


def _colliding_pairs(boxes: list[OrientedBox]) -> list[tuple[int, int]]:
    """Pairs whose footprints overlap with positive area (separating-axis test over the 4 edge
    normals of the two rectangles) AND whose z-intervals overlap with positive length."""
    n = len(boxes)
    foot = np.stack([b.corners[[0, 4, 6, 2], :2] for b in boxes])  # (n, 4, 2)
    axes = np.stack([b.rotation[:2, :2].T for b in boxes])  # (n, 2 axes, 2)
    proj = np.einsum("kad,mcd->kamc", axes, foot)  # (n axes-owner, 2, n boxes, 4 corners)
    lo, hi = proj.min(-1), proj.max(-1)
    over = np.minimum(hi[:, :, :, None], hi[:, :, None, :]) - np.maximum(lo[:, :, :, None], lo[:, :, None, :])
    idx = np.arange(n)
    own = over[idx[:, None], :, idx[:, None], idx[None, :]]  # (n, n, 2): pair (i, j) on i's axes
    area = (own > TOL).all(-1) & (own.transpose(1, 0, 2) > TOL).all(-1)
    z = np.array([b.z_range for b in boxes])
    zover = (np.minimum(z[:, None, 1], z[None, :, 1]) - np.maximum(z[:, None, 0], z[None, :, 0])) > TOL
    hit = area & zover
    np.fill_diagonal(hit, False)
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(np.triu(hit)))]


def test_sat_check_detects_a_known_collision():
    a = OrientedBox.from_yaw([0, 0, 0.5], [1, 1, 1], 0.0)
    b = OrientedBox.from_yaw([0.8, 0.8, 0.5], [1, 1, 1], math.pi / 4)  # corner pokes into a
    c = OrientedBox.from_yaw([0.0, 0.0, 1.25], [0.5, 0.5, 0.5], 0.3)  # stacked on a: touches only
    d = OrientedBox.from_yaw([-1.5 - 1e-6, 0, 0.5], [2, 1, 1], 0.0)  # 1e-6 m left of a: no overlap
    e = OrientedBox.from_yaw([-1.5 + 1e-3, 0, 0.5], [2, 1, 1], 0.0)  # 1 mm into a
    assert _colliding_pairs([a, b, c, d]) == [(0, 1)]
    assert _colliding_pairs([a, b, c, e]) == [(0, 1), (0, 3)]


def _check_scene(g: SceneGraph, catalog) -> None:
    d = json.loads(g.to_json())
    assert validate_scene_record(d) == []
    assert SceneGraph.from_json(g.to_json()).to_json() == g.to_json()
    ids = [o.id for o in g.objects]
    assert ids == [f"obj_{i:02d}" for i in range(len(ids))]
    assert [o.instance_id for o in g.objects] == list(range(1, len(ids) + 1))
    assert sorted(g.stats["attempts"]) == ids and g.stats["total_attempts"] >= sum(g.stats["attempts"].values())
    boxes = _boxes(g)
    assert _colliding_pairs(boxes) == [], g.scene_id
    sx, sy, sz = g.room.size
    walls = {w.id: w for w in g.room.walls}
    by_id = dict(zip(ids, boxes))
    for o, b in zip(g.objects, boxes):
        c = catalog[o.category]
        assert g.room.type in c.scenes
        assert set(o.attributes) == {"color", "material"}
        assert o.attributes["color"] in c.colors and o.attributes["material"] in c.materials
        for k, axis in enumerate(("depth", "width", "height")):
            lo, hi = c.size[axis]
            assert lo - TOL <= o.size[k] <= hi + TOL
        assert o.has_front == c.has_front
        assert np.all(np.abs(b.corners[:, 0]) <= sx / 2 + TOL) and np.all(np.abs(b.corners[:, 1]) <= sy / 2 + TOL)
        zlo, zhi = b.z_range
        if g.room.type != "open":
            assert zhi <= sz + TOL
        if o.on_floor:
            assert abs(zlo) <= TOL
        elif o.supported_by is not None:
            s = by_id[o.supported_by]
            assert abs(zlo - s.z_range[1]) <= TOL, (g.scene_id, o.id)
            local = s.to_local(b.corners)
            assert np.all(np.abs(local[:, :2]) <= s.half[:2] + TOL), (g.scene_id, o.id)
            assert catalog[g.object(o.supported_by).category].surface
            assert g.object(o.supported_by).category in c.stands_on
        else:
            assert o.on_wall and c.kind == "wall" and o.against in walls
            mh = c.extra["mount_height"]
            assert mh[0] - TOL <= o.center[2] <= mh[1] + TOL
        if o.against is not None:
            w = walls[o.against]
            n = w.inward_normal
            assert np.allclose(b.rotation[:2, 0], n, atol=TOL)  # front faces into the room
            back = b.corners[[0, 2, 1, 3], :2]  # x-bit clear: the back face (bottom and top)
            signed = (back - np.asarray(w.start)) @ n
            assert np.all(np.abs(signed) <= TOL), (g.scene_id, o.id)


def test_room_invariants(room_scenes, catalog):
    for g in room_scenes:
        _check_scene(g, catalog)
        assert g.room.type == "room" and len(g.room.walls) == 4
        counts = config_for_type(load_scene_cfg("room"), g.room.room_type)["counts"]  # the type's counts
        assert sum(counts[k][0] for k in counts) <= len(g.objects) <= sum(counts[k][1] for k in counts)
        kinds = [catalog[o.category].kind for o in g.objects]
        assert set(kinds) <= {"furniture", "small", "wall"}


def test_room_orientation_rules(room_scenes, catalog):
    seen = {"chair": 0, "coffee_table": 0, "nightstand": 0, "sofa": 0}
    for g in room_scenes:
        objs = g.objects
        for o in objs:
            if o.category in ("chair", "coffee_table", "nightstand"):
                anchor_cat = catalog[o.category].near
                anchors = [a for a in objs if a.category == anchor_cat]
                assert anchors, (g.scene_id, o.id)
                a = min(anchors, key=lambda a: box_box_distance(o.box, a.box))
                gap = box_box_distance(o.box, a.box)
                lo, hi = catalog[o.category].extra["near_gap"]
                assert lo - 1e-6 <= gap <= hi + 1e-6, (g.scene_id, o.id, gap)
                to_anchor = np.subtract(a.center, o.center)[:2]
                if o.category in ("chair", "coffee_table"):
                    assert o.front[:2] @ to_anchor > 0  # faces its table / sofa
                if o.category == "coffee_table":
                    assert a.front[:2] @ -to_anchor > 0  # in front of the sofa
                if o.category == "nightstand":
                    assert o.against == a.against and np.allclose(o.front, a.front)
                seen[o.category] += 1
            if o.category in ("sofa", "bed", "wardrobe", "bookshelf", "desk", "tv_stand", "dresser", "cabinet"):
                assert o.against is not None
                seen["sofa"] += o.category == "sofa"
                # a sofa faces the room: its front points towards the room centre
                assert o.front[:2] @ -np.asarray(o.center[:2]) > 0
    assert all(v > 50 for v in seen.values()), seen


def test_room_clearance_between_free_furniture(room_scenes, catalog):
    cfg = load_scene_cfg("room")
    walk = cfg["clearance"]["walkway"]
    for anchor in ("table", "sofa", "bed"):  # one anchor per scene, so "related" below is exact
        assert cfg["max_per_category"][anchor] == 1

    def free(c):
        return isinstance(c.placement, Free) or (c.near is not None and c.extra["near_mode"] != "beside")

    def related(a, b):
        ca, cb = catalog[a.category], catalog[b.category]
        return a.category == b.category and ca.near is not None or \
            ca.near == b.category or cb.near == a.category

    n_checked = 0
    for g in room_scenes[:150]:
        furn = [o for o in g.objects if catalog[o.category].kind == "furniture"]
        for i, a in enumerate(furn):
            for b in furn[i + 1:]:
                if (free(catalog[a.category]) or free(catalog[b.category])) and not related(a, b):
                    assert box_box_distance(a.box, b.box) >= walk - 1e-6, (g.scene_id, a.id, b.id)
                    n_checked += 1
    assert n_checked > 500


def test_tabletop_invariants(tabletop_scenes, catalog):
    cfg = load_scene_cfg("tabletop")
    for g in tabletop_scenes:
        _check_scene(g, catalog)
        table = g.object(g.stats["table_id"])
        assert table.category == cfg["table"]["category"] and table.id == "obj_00"
        on = [o for o in g.objects if o.supported_by == table.id]
        assert cfg["counts"]["small"][0] <= len(on) <= cfg["counts"]["small"][1]
        assert g.stats["focus_ids"] == [table.id] + [o.id for o in on]
        for o in g.objects[1:]:
            assert o.supported_by == table.id or o.category == "chair"
            if o.category == "chair":
                assert o.front[:2] @ np.subtract(table.center, o.center)[:2] > 0


def test_open_invariants(open_scenes, catalog):
    cfg = load_scene_cfg("open")
    gap = cfg["clearance"]["primitives"]
    for i, g in enumerate(open_scenes):
        _check_scene(g, catalog)
        assert g.room.type == "open" and g.room.walls == [] and g.room.size[2] == 0.0
        assert cfg["counts"]["primitives"][0] <= len(g.objects) <= cfg["counts"]["primitives"][1]
        assert {o.category for o in g.objects} <= {"cube", "sphere", "cylinder", "cone"}
        for o in g.objects:
            if o.category in ("cube", "sphere"):
                assert o.size[0] == o.size[1] == o.size[2]
            else:
                assert o.size[0] == o.size[1]
        if i < 150:
            for a_i, a in enumerate(g.objects):
                for b in g.objects[a_i + 1:]:
                    assert box_box_distance(a.box, b.box) >= gap - 1e-6


# ---------------------------------------------------------------- failures and config errors


def test_forty_beds_in_a_small_room_fail_fast(catalog):
    cfg = load_scene_cfg("room")
    cfg["room_types"] = None  # the config's own lists (a room type would override them)
    cfg["room"].update(size_x=[3.0, 3.0], size_y=[3.0, 3.0])
    cfg["categories"]["furniture"] = {"bed": 1.0}
    cfg["counts"]["furniture"] = [40, 40]
    cfg["max_per_category"] = {"bed": 40}
    cfg["min_surface_furniture"] = 0
    with pytest.raises(LayoutInfeasibleError, match="fewer objects") as e:
        sample_layout(cfg, catalog, np.random.default_rng(0))
    assert "scene.counts.furniture" in str(e.value) and "larger room" in str(e.value)


def test_infeasible_after_bounded_retries(catalog):
    cfg = load_scene_cfg("room")
    cfg["room_types"] = None
    cfg["counts"]["small"] = [90, 90]
    cfg["max_attempts"] = 5
    cfg["max_scene_attempts"] = 2
    with pytest.raises(LayoutInfeasibleError, match=r"small: placed \d+ of at least 90.*fix: request fewer"):
        sample_layout(cfg, catalog, np.random.default_rng(0))


def test_open_plane_too_small(catalog):
    cfg = load_scene_cfg("open")
    cfg["counts"]["primitives"] = [200, 200]
    with pytest.raises(LayoutInfeasibleError, match="fewer objects, a larger plane"):
        sample_layout(cfg, catalog, np.random.default_rng(0))


def test_tabletop_too_many_objects(catalog):
    cfg = load_scene_cfg("tabletop")
    cfg["counts"]["small"] = [80, 80]  # not provably impossible up front: fails after the retries
    with pytest.raises(LayoutInfeasibleError, match="at least 80 objects on it.*fix: request fewer small objects"):
        sample_layout(cfg, catalog, np.random.default_rng(0))
    cfg["counts"]["small"] = [800, 800]  # the minimum footprints exceed the largest table top
    with pytest.raises(LayoutInfeasibleError, match="cannot fit on the largest table top.*request fewer objects"):
        sample_layout(cfg, catalog, np.random.default_rng(0))


@pytest.mark.parametrize("name", ["room", "tabletop", "open"])
def test_shipped_configs_are_valid(name):
    validate_scene_cfg(load_scene_cfg(name))


@pytest.mark.parametrize("edit, key", [
    (lambda c: c["counts"].update(furniture=[9, 6]), "scene.counts.furniture"),
    (lambda c: c["counts"].pop("wall"), "scene.counts.wall: missing"),
    (lambda c: c.update(colour="red"), "scene.colour: unknown key"),
    (lambda c: c["clearance"].update(walkway=-1), "scene.clearance.walkway"),
    (lambda c: c.update(type="cave"), "scene.type"),
    (lambda c: c["categories"]["furniture"].update(bed=-2), "scene.categories.furniture.bed"),
    (lambda c: c.update(max_attempts=0), "scene.max_attempts"),
])
def test_bad_config_names_the_key(edit, key):
    cfg = load_scene_cfg("room")
    edit(cfg)
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        validate_scene_cfg(cfg)


def test_unknown_category_names_the_key(catalog):
    cfg = load_scene_cfg("room")
    cfg["categories"]["furniture"]["hovercraft"] = 1.0
    with pytest.raises(ValueError, match=r"scene\.categories\.furniture\.hovercraft: not a catalog category"):
        sample_layout(cfg, catalog, np.random.default_rng(0))
    cfg = load_scene_cfg("room")
    cfg["categories"]["furniture"]["mug"] = 1.0
    with pytest.raises(ValueError, match=r"furniture\.mug: category kind is 'small'"):
        sample_layout(cfg, catalog, np.random.default_rng(0))


# ---------------------------------------------------------------- determinism


@pytest.mark.parametrize("name", ["room", "tabletop", "open"])
def test_same_seed_same_bytes_different_seed_differs(name, catalog):
    cfg = load_scene_cfg(name)
    a = sample_layout(cfg, catalog, stage_rng(3, 11, "layout"), scene_id="x", seed=3, scene_index=11).to_json()
    b = sample_layout(copy.deepcopy(cfg), catalog, stage_rng(3, 11, "layout"), scene_id="x", seed=3,
                      scene_index=11).to_json()
    c = sample_layout(cfg, catalog, stage_rng(3, 12, "layout"), scene_id="x", seed=3, scene_index=11).to_json()
    assert a == b and a != c


def test_rng_must_be_a_generator(catalog):
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        sample_layout(load_scene_cfg("open"), catalog, 0)


def _support_caps_hold(scenes, catalog) -> int:
    """Count capped (support, category) pairs checked; fail on any over the catalog's cap."""
    checked = 0
    for g in scenes:
        per = {}
        for o in g.objects:
            if o.supported_by:
                per.setdefault((o.supported_by, o.category), []).append(o.id)
        for (sup, cat), ids in per.items():
            cap = catalog[cat].extra.get("max_per_support")
            if cap is not None:
                checked += 1
                assert len(ids) <= cap, f"{g.scene_id}: {len(ids)} {cat} on {sup}: {ids}"
    return checked


def test_max_per_support_caps_hold(room_scenes, tabletop_scenes, catalog):
    # A desk carries at most one keyboard, one monitor, one laptop, ... (scenes/catalog.yaml).
    assert _support_caps_hold(room_scenes, catalog) > 100
    assert _support_caps_hold(tabletop_scenes, catalog) > 100
