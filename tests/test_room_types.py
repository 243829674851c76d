"""Room types (scenes/room_types.yaml, engine/layout/room_types.py): every type's rooms are
collision-free (the independent separating-axis check of tests/test_layout.py), keep the doorway
zone clear, hold only the type's categories and its required furniture, record the type; the
type data validates against the catalog; bad configs name the key."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import shapely.geometry as sg
import yaml

from engine.layout import load_scene_cfg, sample_layout, validate_scene_cfg
from engine.layout.room_types import (RoomTypeError, config_for_type, draw_room_type, load_room_types,
                                      parse_room_types)
from engine.paths import SCENES_DIR
from engine.rng import stage_rng
from engine.scene.catalog import load_catalog
from tests.test_layout import _check_scene

TYPES = ("living_room", "bedroom", "kitchen", "dining_room", "office", "bathroom")
N_PER_TYPE = 20


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def typed_rooms(catalog):
    base = load_scene_cfg("room")
    out = {}
    for t in TYPES:
        cfg = {**base, "room_types": {t: 1.0}}
        out[t] = [sample_layout(cfg, catalog, stage_rng(11, i, "layout"), scene_id=f"s{i:09d}", seed=11, scene_index=i)
                  for i in range(N_PER_TYPE)]
    return out


def _doorway_polygon(door: dict, room) -> sg.Polygon:
    """The keep-out rectangle from the recorded doorway (wall id, centre on the wall, width,
    clear depth), rebuilt from the wall's own geometry."""
    w = next(w for w in room.walls if w.id == door["wall"])
    a, b = np.asarray(w.start, float), np.asarray(w.end, float)
    along = (b - a) / np.linalg.norm(b - a)
    n = np.asarray(w.inward_normal, float)
    c = np.asarray(door["center"], float)
    hw, d = door["width"] / 2, door["clear_depth"]
    return sg.Polygon([c - along * hw, c + along * hw, c + along * hw + n * d, c - along * hw + n * d])


def test_room_type_data_validates_against_the_catalog(catalog):
    with open(SCENES_DIR / "room_types.yaml") as f:
        types = parse_room_types(yaml.safe_load(f), "room_types.yaml", catalog)
    assert set(TYPES) <= set(types)
    for t in TYPES:  # the type's own categories exist and every kind has a prior
        cfg = config_for_type(load_scene_cfg("room"), t)
        assert set(cfg["categories"]) == {"furniture", "wall", "small"}
        assert all(cfg["categories"][k] for k in ("furniture", "wall", "small")), t


def test_catalog_has_the_room_type_categories(catalog):
    room_cats = [c for c in catalog.categories.values() if c.kind != "primitive"]
    assert len(catalog.categories) >= 80 and len(room_cats) >= 76
    for k in ("fridge", "oven", "sink", "kitchen_counter", "kitchen_cabinet", "toilet", "bathtub", "washbasin",
              "office_chair", "whiteboard", "rug", "nightstand", "dresser", "coffee_table", "curtain"):
        assert k in catalog, k


@pytest.mark.parametrize("room_type", TYPES)
def test_rooms_of_every_type_are_valid_and_keep_the_doorway_clear(typed_rooms, catalog, room_type):
    t = load_room_types()[room_type]
    allowed = set().union(*(t["categories"][k] for k in ("furniture", "wall", "small")))
    counts = config_for_type(load_scene_cfg("room"), room_type)["counts"]
    for g in typed_rooms[room_type]:
        _check_scene(g, catalog)  # record round trip, no collisions, supports, walls, sizes
        assert g.room.room_type == room_type
        assert g.to_dict()["room"]["room_type"] == room_type
        cats = [o.category for o in g.objects]
        assert set(cats) <= allowed, set(cats) - allowed
        assert set(t["required"]) <= set(cats), (g.scene_id, t["required"])
        kinds = [catalog[c].kind for c in cats]
        for kind in ("furniture", "wall", "small"):
            assert kinds.count(kind) <= counts[kind][1]
        assert counts["furniture"][0] <= kinds.count("furniture")
        lo, hi = t.get("room", {}).get("size_x", load_scene_cfg("room")["room"]["size_x"])
        assert lo <= g.room.size[0] <= hi
        door = g.stats["doorway"]
        zone = _doorway_polygon(door, g.room)
        for o in g.objects:
            if o.center[2] - o.size[2] / 2 >= door["height"]:
                continue  # above the door (wall objects may hang there)
            foot = sg.MultiPoint(o.box.corners[:, :2].tolist()).convex_hull
            assert foot.intersection(zone).area < 1e-9, (g.scene_id, o.id, o.category)


def test_shape_params_are_recorded_and_round_trip(typed_rooms):
    from engine.scene.graph import SceneGraph

    seen = 0
    for g in typed_rooms["living_room"][:10]:
        back = SceneGraph.from_json(g.to_json())
        for a, b in zip(g.objects, back.objects):
            assert a.shape_params == b.shape_params
            seen += bool(a.shape_params)
    assert seen > 50


def test_room_type_draw_follows_the_weights():
    cfg = load_scene_cfg("room")
    got = [draw_room_type(cfg, stage_rng(0, i, "x"))[1] for i in range(600)]
    for t in TYPES:
        assert 60 <= got.count(t) <= 140, (t, got.count(t))  # 100 expected each
    assert draw_room_type({**cfg, "room_types": None}, stage_rng(0, 0, "x")) == ({**cfg, "room_types": None}, None)


@pytest.mark.parametrize("value, msg", [
    ({"garage": 1}, "scene.room_types.garage: not a room type"),
    ({"kitchen": -1}, "scene.room_types.kitchen: weight must be"),
    ({"kitchen": 0}, "every weight is 0"),
    ([1, 2], "scene.room_types: must be null or a mapping"),
])
def test_bad_room_types_config_names_the_key(value, msg):
    cfg = copy.deepcopy(load_scene_cfg("room"))
    cfg["room_types"] = value
    with pytest.raises(ValueError, match=msg.replace(".", r"\.")):
        validate_scene_cfg(cfg)


def test_bad_room_type_data_names_the_key(catalog):
    good = {"room_types": {"den": {"categories": {"furniture": {"sofa": 1}}, "required": ["sofa"]}}}
    assert "den" in parse_room_types(good, "x", catalog)
    bad = copy.deepcopy(good)
    bad["room_types"]["den"]["categories"]["furniture"]["spaceship"] = 1
    with pytest.raises(RoomTypeError, match=r"room_types\.den\.categories\.furniture\.spaceship"):
        parse_room_types(bad, "x", catalog)
    bad = copy.deepcopy(good)
    bad["room_types"]["den"]["required"] = ["bed"]
    with pytest.raises(RoomTypeError, match=r"room_types\.den\.required"):
        parse_room_types(bad, "x", catalog)
    bad = copy.deepcopy(good)
    bad["room_types"]["den"]["colour"] = "red"
    with pytest.raises(RoomTypeError, match="unknown keys"):
        parse_room_types(bad, "x", catalog)
