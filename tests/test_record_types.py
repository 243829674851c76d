"""Typed record pieces: per-view object annotations (ObjectInView) and support / placement
relations, parsed once at load and written back to the same JSON."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import replace

import numpy as np
import pytest

from engine.scene import ObjectInView, SceneGraph, SceneObject, SceneRecordError, View
from engine.scene.annotations import CAMERA_FIELDS, FIELDS, NOT_IN_VIEW, RENDERER_FIELDS
from engine.scene.catalog import CatalogError, load_catalog, parse_catalog
from engine.scene.relations import (AGAINST_WALL, FREE, ON_FLOOR, ON_WALL, AgainstWall, Near, OnObject, RelationError,
                                    parse_placement, parse_support)
from tests.test_scene_graph import small_scene

CAMERA = {"in_frustum": False, "bbox_amodal_geom": [-0.5, 12.25, 80.0, 99.5], "truncated_geom": True,
          "in_frame_fraction": 0.1 + 0.2, "distance": 2.5000000000000004, "depth": -3.0}
RENDERED = {"visible_pixels": 0, "amodal_pixels": 17, "visible_fraction": 0.0, "truncated": True,
            "bbox_visible": None, "bbox_amodal": [0, 3, 9, 11]}

# Per-object dicts as records hold them: the pipeline's (camera fields, then renderer fields),
# the camera sampler's alone, records from before in_frame_fraction, null boxes, hand-made
# partial entries, and keys this engine does not know.
ENTRIES = [
    {**CAMERA, **RENDERED},
    dict(CAMERA),
    {**{k: v for k, v in CAMERA.items() if k != "in_frame_fraction"}, **RENDERED},
    {**CAMERA, "bbox_amodal_geom": None, "in_frame_fraction": 0.0, **RENDERED, "bbox_amodal": None},
    {"visible_pixels": 7},
    {"bbox_visible": None},
    {},
    {"zeta": [1, {"a": None}], **RENDERED, "alpha": None},
    {"distance": 1, "visible_fraction": 1, "truncated": None},  # ints stay ints, null stays null
]


@pytest.mark.parametrize("d", ENTRIES)
def test_object_in_view_round_trip_is_exact(d):
    o = ObjectInView.from_dict(copy.deepcopy(d))
    back = o.to_dict()
    assert back == d and {k: type(v) for k, v in back.items()} == {k: type(v) for k, v in d.items()}
    # keys in FIELDS order, then the unknown ones in record order (JSON records sort keys anyway)
    assert list(back) == [k for k in FIELDS if k in d] + [k for k in d if k not in FIELDS]
    assert json.dumps(back, sort_keys=True) == json.dumps(d, sort_keys=True)
    assert ObjectInView.from_dict(back) == o


def test_object_in_view_keeps_the_pipeline_key_order():
    d = {**CAMERA, **RENDERED}
    assert list(ObjectInView.from_dict(d).to_dict()) == list(d) == list(FIELDS)
    assert FIELDS == CAMERA_FIELDS + RENDERER_FIELDS


def test_field_lists_match_the_producers():
    from engine.camera.annotate import GEOMETRY_FIELDS
    from engine.render.protocol import RENDER_FIELDS

    assert CAMERA_FIELDS == GEOMETRY_FIELDS and RENDERER_FIELDS == RENDER_FIELDS


def test_missing_and_null_fields_are_none_and_written_back_apart():
    absent = ObjectInView.from_dict({"visible_pixels": 3})
    null = ObjectInView.from_dict({"visible_pixels": 3, "bbox_visible": None})
    assert absent.bbox_visible is None and null.bbox_visible is None
    assert absent != null and null.nulls == {"bbox_visible"}
    assert "bbox_visible" not in absent.to_dict() and null.to_dict()["bbox_visible"] is None
    assert all(getattr(NOT_IN_VIEW, k) is None for k in FIELDS) and NOT_IN_VIEW.to_dict() == {}


def test_qa_readings_say_what_a_missing_field_counts_as():
    n = NOT_IN_VIEW
    assert (n.vis_frac, n.vis_px, n.amodal_px, n.is_truncated, n.box_amodal) == (0.0, 0, 0, False, None)
    assert n.in_frame(1.0) == 1.0 and n.in_frame(0.0) == 0.0
    geo = ObjectInView.from_dict(CAMERA)
    assert geo.is_truncated is True and geo.box_amodal == CAMERA["bbox_amodal_geom"]
    assert geo.in_frame(1.0) == CAMERA["in_frame_fraction"]
    both = ObjectInView.from_dict({**CAMERA, **RENDERED, "truncated": False})
    assert both.is_truncated is False and both.box_amodal == RENDERED["bbox_amodal"]
    assert (both.vis_frac, both.vis_px, both.amodal_px) == (0.0, 0, 17)
    assert ObjectInView.from_dict({**CAMERA, **RENDERED}).box_amodal == [0, 3, 9, 11]
    assert ObjectInView.from_dict({**CAMERA, **RENDERED, "bbox_amodal": None}).box_amodal == CAMERA["bbox_amodal_geom"]


def test_updated_is_dict_update_on_the_records():
    base = {"visible_pixels": 7, "bbox_visible": None, "odd": 1}
    for new in (CAMERA, RENDERED, {"bbox_visible": [1, 2, 3, 4]}, {"odd": None}):
        want = dict(base)
        want.update(new)
        got = ObjectInView.from_dict(base).updated(ObjectInView.from_dict(new))
        assert got.to_dict() == want
        assert ObjectInView.from_dict(base).updated(new).to_dict() == want
    with pytest.raises(AttributeError):
        NOT_IN_VIEW.visible_pixels = 3  # frozen: build changed entries with updated() or replace()
    assert replace(NOT_IN_VIEW, visible_pixels=3).to_dict() == {"visible_pixels": 3}


def test_view_holds_typed_entries_and_round_trips():
    s = small_scene()
    s.views[0].objects["obj_01"] = ObjectInView.from_dict({**CAMERA, **RENDERED})
    s.views[0].objects["obj_02"] = ObjectInView.from_dict({"visible_pixels": 7, "bbox_amodal": None})
    text = s.to_json()
    s2 = SceneGraph.from_json(text)
    assert all(isinstance(v, ObjectInView) for v in s2.views[0].objects.values())
    assert s2.to_json() == text
    assert s2.views[0].objects["obj_01"].bbox_visible is None and s2.views[0].objects["obj_01"].amodal_pixels == 17
    d = json.loads(text)["views"][0]["objects"]
    assert d["obj_02"] == {"visible_pixels": 7, "bbox_amodal": None}
    # a View built from record dicts parses them
    v = View("v", s.views[0].K, 512, 512, s.views[0].cam_to_world, {"obj_00": {"in_frustum": True}})
    assert v.objects["obj_00"] == ObjectInView(in_frustum=True)


def test_sampled_and_annotated_scenes_round_trip_exactly():
    from engine.camera import annotate_geometry, load_camera_cfg, sample_views
    from engine.layout import load_scene_cfg, sample_layout

    for kind, seed in (("room", 3), ("tabletop", 4), ("open", 5)):
        scene = sample_layout(load_scene_cfg(kind), load_catalog(), np.random.default_rng(seed), scene_id=f"s{seed}")
        scene.views = list(sample_views(scene, load_camera_cfg(), np.random.default_rng(seed + 1)))
        fresh = View("again", scene.views[0].K, scene.views[0].width, scene.views[0].height,
                     scene.views[0].cam_to_world, params=dict(scene.views[0].params))
        annotate_geometry(scene, fresh)
        assert fresh.to_dict()["objects"] == scene.views[0].to_dict()["objects"]
        text = scene.to_json()
        assert SceneGraph.from_json(text).to_json() == text
        rec = json.loads(text)
        for v in rec["views"]:
            for info in v["objects"].values():
                assert list(info) == sorted(CAMERA_FIELDS)  # the camera sampler's fields, nothing else


def test_validator_names_a_per_object_entry_that_is_not_an_object():
    d = small_scene().to_dict()
    d["views"][0]["objects"]["obj_00"] = [1, 2]
    with pytest.raises(SceneRecordError, match=r"views\[0\]\.objects\.obj_00: must be an object"):
        SceneGraph.from_dict(d)


# ----------------------------------------------------------------------------- relations


@pytest.mark.parametrize("text, want", [("floor", ON_FLOOR), ("wall", ON_WALL), ("on:obj_03", OnObject("obj_03"))])
def test_support_parses_and_prints_back(text, want):
    s = parse_support(text)
    assert s == want and str(s) == text and hash(s) == hash(want)


@pytest.mark.parametrize("text, want", [("free", FREE), ("against_wall", AGAINST_WALL), ("near:sofa", Near("sofa"))])
def test_placement_parses_and_prints_back(text, want):
    p = parse_placement(text)
    assert p == want and str(p) == text


@pytest.mark.parametrize("bad", ["on:", "ceiling", "On:obj_00", "", None, 3])
def test_bad_support_names_the_field(bad):
    with pytest.raises(RelationError, match=r"^objects\[1\]\.support: .* must be 'floor', 'wall' or 'on:<object id>'"):
        parse_support(bad, "objects[1].support")
    d = small_scene().to_dict()
    d["objects"][1]["support"] = bad
    with pytest.raises(SceneRecordError, match=r"objects\[1\]\.support"):
        SceneGraph.from_dict(d)
    with pytest.raises(RelationError, match=r"objects\[1\]\.support"):
        SceneGraph.from_dict(d, validate=False)


def test_scene_objects_hold_typed_supports():
    s = SceneGraph.from_json(small_scene().to_json())
    table, mug, sofa = s.objects
    assert table.support == ON_FLOOR and table.on_floor and not table.on_wall and table.supported_by is None
    assert mug.support == OnObject("obj_00") and mug.supported_by == "obj_00" and not mug.on_floor
    assert SceneObject("w", 9, "painting", [0, 0, 1], [0.1, 0.5, 0.4], 0.0, support="wall").on_wall
    assert [o.to_dict()["support"] for o in s.objects] == ["floor", "on:obj_00", "floor"]
    with pytest.raises(RelationError, match="object x: support"):
        SceneObject("x", 1, "box", [0, 0, 0.5], [1, 1, 1], 0.0, support="on_table")


def test_comparing_a_relation_with_a_string_is_an_error():
    with pytest.raises(TypeError, match="compared with the string 'wall'"):
        _ = ON_WALL == "wall"
    with pytest.raises(TypeError):
        _ = ON_FLOOR in ("floor", "wall")
    with pytest.raises(TypeError):
        _ = "floor" != ON_FLOOR
    assert ON_FLOOR != ON_WALL and OnObject("a") != OnObject("b") and AgainstWall() == AGAINST_WALL


def test_catalog_placements_are_typed_and_a_bad_one_names_the_field():
    cat = load_catalog()
    assert cat["chair"].placement == Near("table") and cat["chair"].near == "table"
    assert cat["sofa"].placement == AGAINST_WALL and cat["sofa"].near is None
    assert cat["table"].placement == FREE
    with open(cat.path) as f:
        import yaml

        data = yaml.safe_load(f)
    bad = copy.deepcopy(data)
    bad["categories"]["chair"]["placement"] = "next_to:table"
    with pytest.raises(CatalogError, match=r"categories\.chair\.placement: 'next_to:table' must be 'free'"):
        parse_catalog(bad, "cat.yaml")
    bad["categories"]["chair"]["placement"] = "near:throne"
    with pytest.raises(CatalogError, match=r"categories\.chair\.placement: 'near:throne' names no category"):
        parse_catalog(bad, "cat.yaml")


def test_relations_read_typed_supports():
    s = small_scene()
    s.objects.append(SceneObject("obj_03", 4, "painting", [0.0, 1.49, 1.5], [0.04, 0.8, 0.6], -math.pi / 2,
                                 support="wall", against="wall_2"))
    assert s.relations() == [("obj_00", "on", "floor"), ("obj_01", "on", "obj_00"), ("obj_02", "on", "floor"),
                             ("obj_02", "against", "wall_2"), ("obj_03", "mounted_on", "wall_2")]
