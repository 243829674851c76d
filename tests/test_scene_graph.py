"""Scene graph: exact JSON round-trip, validator messages, relations, catalog and RNG streams."""

import json
import math

import numpy as np
import pytest

from engine.geometry import look_at
from engine.rng import stage_rng
from engine.scene import Room, SceneGraph, SceneObject, SceneRecordError, View, Wall, validate_scene_record
from engine.scene.catalog import CatalogError, load_catalog, parse_catalog


def small_scene() -> SceneGraph:
    walls = [Wall("wall_0", [-2, -1.5], [2, -1.5], 2.5), Wall("wall_1", [2, -1.5], [2, 1.5], 2.5),
             Wall("wall_2", [2, 1.5], [-2, 1.5], 2.5), Wall("wall_3", [-2, 1.5], [-2, -1.5], 2.5)]
    table = SceneObject("obj_00", 1, "table", [0.1, 0.2, 0.375], [0.8, 1.2, 0.75], 0.3,
                        attributes={"color": "brown", "material": "wood"})
    mug = SceneObject("obj_01", 2, "mug", [0.1, 0.2, 0.8], [0.1, 0.09, 0.1], 1.1, support="on:obj_00",
                      attributes={"color": "red", "material": "ceramic"})
    sofa = SceneObject("obj_02", 3, "sofa", [0.0, 1.05, 0.4], [0.9, 2.0, 0.8], -math.pi / 2,
                       against="wall_2", has_front=True, attributes={"color": "gray", "material": "fabric"})
    K = [[256.0, 0.0, 255.5], [0.0, 256.0, 255.5], [0.0, 0.0, 1.0]]
    view = View("view_0", K, 512, 512, look_at([1.5, -1.0, 1.4], [0, 0.3, 0.5]).tolist(),
                objects={"obj_00": {"in_frustum": True, "distance": 1.23456789012345}}, params={"fov_deg": 90.0})
    return SceneGraph("s000000007", 42, Room("room", [4.0, 3.0, 2.5], walls), [table, mug, sofa], [view],
                      lights=[{"type": "point", "position": [0, 0, 2.4], "intensity": 1.0}],
                      materials={"floor": {"texture": "wood"}}, generator={"name": "spatialforge"}, scene_index=7)


def test_json_roundtrip_is_exact():
    s = small_scene()
    text = s.to_json()
    s2 = SceneGraph.from_json(text)
    assert s2.to_json() == text
    # floats survive bit-exactly
    assert s2.views[0].objects["obj_00"].distance == 1.23456789012345
    assert s2.objects[0].yaw == 0.3
    assert np.array_equal(s2.objects[2].rotation, s.objects[2].rotation)


def test_record_is_valid_and_has_contract_fields():
    d = small_scene().to_dict()
    assert validate_scene_record(d) == []
    for key in ("scene_id", "seed", "generator", "room", "objects", "views", "lights", "materials"):
        assert key in d
    o = d["objects"][2]
    for key in ("id", "category", "attributes", "center", "size", "rotation", "yaw", "support", "has_front"):
        assert key in o
    # rotation is Rz(yaw), row-major: first column is the front direction (cos, sin, 0)
    R = np.array(o["rotation"])
    assert R[:, 0] == pytest.approx([math.cos(o["yaw"]), math.sin(o["yaw"]), 0])


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda d: d["objects"][0].update(size=[0.8, -1, 0.75]), "objects[0].size"),
        (lambda d: d["objects"][1].update(support="on:obj_99"), "objects[1].support"),
        (lambda d: d["objects"][1].update(id="obj_00"), "objects[1].id"),
        (lambda d: d["objects"][2].update(against="wall_9"), "objects[2].against"),
        (lambda d: d["objects"][0].update(rotation=[[1, 0, 0], [0, 1, 0], [0, 0, 1]]), "objects[0].rotation"),
        (lambda d: d["room"].update(type="cave"), "room.type"),
        (lambda d: d["views"][0].update(width=0), "views[0].width"),
        (lambda d: d["views"][0]["objects"].update(obj_42={}), "views[0].objects"),
        (lambda d: d.update(schema_version=99), "schema_version"),
        (lambda d: d.pop("seed"), "seed"),
    ],
)
def test_validator_names_the_bad_field(mutate, field):
    d = json.loads(small_scene().to_json())
    mutate(d)
    errors = validate_scene_record(d)
    assert any(e.startswith(field) for e in errors), errors
    with pytest.raises(SceneRecordError) as exc:
        SceneGraph.from_dict(d)
    assert field in str(exc.value)


def test_relations():
    rel = set(small_scene().relations())
    assert ("obj_01", "on", "obj_00") in rel
    assert ("obj_00", "on", "floor") in rel
    assert ("obj_02", "against", "wall_2") in rel


def test_wall_inward_normals_point_into_room():
    s = small_scene()
    for w in s.room.walls:
        mid = (np.array(w.start) + np.array(w.end)) / 2
        assert s.room.contains_xy((mid + 0.1 * w.inward_normal)[None])[0]
        assert not s.room.contains_xy((mid - 0.1 * w.inward_normal)[None])[0]


def test_catalog_loads_with_required_categories():
    cat = load_catalog()
    assert len(cat.categories) >= 30
    for key in ("table", "desk", "chair", "sofa", "armchair", "bed", "bookshelf", "cabinet", "tv_stand",
                "nightstand", "mug", "bottle", "book", "lamp", "potted_plant", "bowl", "laptop", "vase", "box", "ball"):
        assert key in cat
    assert "mug" in cat.holders("table")
    for c in cat.categories.values():
        for s in c.stands_on:
            assert s in ("floor", "wall") or cat[s].surface


def test_catalog_errors_name_file_category_and_field():
    good = {"colors": {"red": [1, 0, 0]}, "materials": ["wood"], "categories": {
        "thing": {"kind": "small", "size": {"depth": [0.1, 0.2], "width": [0.1, 0.2], "height": [0.1, 0.2]},
                  "colors": ["red"], "materials": ["wood"], "stands_on": ["floor"], "has_front": False, "scenes": ["room"]}}}
    parse_catalog(good, "x.yaml")
    bad = json.loads(json.dumps(good))
    bad["categories"]["thing"]["size"]["height"] = [0.3, 0.1]
    with pytest.raises(CatalogError, match=r"x.yaml: categories.thing.size.height"):
        parse_catalog(bad, "x.yaml")
    bad = json.loads(json.dumps(good))
    bad["categories"]["thing"]["stands_on"] = ["shelf"]
    with pytest.raises(CatalogError, match=r"categories.thing.stands_on"):
        parse_catalog(bad, "x.yaml")


def test_stage_rng_is_pure_and_distinct():
    a = stage_rng(1, 5, "layout").random(4)
    assert np.array_equal(a, stage_rng(1, 5, "layout").random(4))
    assert not np.array_equal(a, stage_rng(1, 6, "layout").random(4))
    assert not np.array_equal(a, stage_rng(1, 5, "camera").random(4))
    assert not np.array_equal(a, stage_rng(2, 5, "layout").random(4))
    with pytest.raises(ValueError):
        stage_rng(-1, 0, "layout")
