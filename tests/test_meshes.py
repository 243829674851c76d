"""Procedural meshes, appearance sampling and textures (engine/assets/meshes.py, appearance.py,
textures.py). Values are checked against independent computations: the object's box, ray casts
(trimesh/embree), the catalog's colours and the renderer's light validator."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import trimesh
import yaml

from engine.assets import meshes as M
from engine.scene.shape_params import default_params
from engine.assets.appearance import (kelvin_to_rgb, load_appearance_config, sample_appearance, secondary_color,
                                      validate_appearance_cfg)
from engine.assets.textures import GAMMA, make_texture
from engine.scene.catalog import load_catalog
from engine.scene.graph import Room, SceneGraph, SceneObject, Wall

CAT = load_catalog()
RECIPES = yaml.safe_load(open(M.DEFAULT_RECIPES))
PRIMARY, SECONDARY = [0.7, 0.2, 0.1], [0.35, 0.1, 0.05]
APP = {"color": PRIMARY, "secondary": SECONDARY, "specular": 0.2, "shininess": 10.0}


def mid_size(cat: str) -> list[float]:
    c = CAT[cat]
    return [float(np.mean(c.size[a])) for a in ("depth", "width", "height")]


def rect_room(sx=6.0, sy=4.0, sz=2.8, kind="room") -> Room:
    """A room with counter-clockwise walls around [-sx/2, sx/2] x [-sy/2, sy/2]."""
    c = [(-sx / 2, -sy / 2), (sx / 2, -sy / 2), (sx / 2, sy / 2), (-sx / 2, sy / 2)]
    walls = [Wall(f"wall_{i}", list(c[i]), list(c[(i + 1) % 4]), sz, 0.1) for i in range(4)] if kind == "room" else []
    return Room(kind, [sx, sy, sz if kind == "room" else 0.0], walls)


def make_scene(kind="room") -> SceneGraph:
    objs = []
    for i, (cat, col, mat) in enumerate([("table", "brown", "wood"), ("chair", "red", "plastic"),
                                         ("mug", "blue", "ceramic"), ("mirror", "gray", "glass")]):
        objs.append(SceneObject(f"obj_{i:02d}", i + 1, cat, [0.5 * i - 1, 0.3 * i - 0.5, 0.5], mid_size(cat),
                                0.4 * i, attributes={"color": col, "material": mat}))
    return SceneGraph("s000000001", 7, rect_room(kind=kind), objs)


# ----------------------------------------------------------------------------- recipes / geometry


def test_recipes_cover_catalog_and_validate():
    parsed = M.parse_recipes(RECIPES, CAT, "scenes/meshes.yaml")
    assert set(parsed["categories"]) >= set(CAT.categories)
    assert len(CAT.categories) == 84


@pytest.mark.parametrize("bad, msg", [
    ({"shape": "blob", "center": [0, 0, 0], "size": [1, 1, 1]}, "shape"),
    ({"shape": "box", "center": [0.4, 0, 0], "size": [1, 1, 1]}, "leave the unit box"),
    ({"shape": "box", "center": [0, 0, 0], "size": [1, 1, 1], "color": "mauve"}, "color"),
    ({"shape": "box", "center": [0, 0, 0], "size": [1, 1, 1], "material": "cheese"}, "material"),
    ({"shape": "box", "center": [0, 0, 0], "size": [1, 1, 0.5]}, "does not reach"),
    ({"shape": "box", "center": [0, 0, 0], "size": [1, 0, 1]}, "size"),
])
def test_recipe_errors_name_the_field(bad, msg):
    data = copy.deepcopy(RECIPES)
    data["categories"]["cube"] = [bad]
    with pytest.raises(M.MeshRecipeError, match=msg) as e:
        M.parse_recipes(data, CAT, "x.yaml")
    assert "categories.cube" in str(e.value)


def test_missing_category_recipe_is_an_error():
    data = copy.deepcopy(RECIPES)
    del data["categories"]["sofa"]
    with pytest.raises(M.MeshRecipeError, match="sofa"):
        M.parse_recipes(data, CAT, "x.yaml")


@pytest.mark.parametrize("category", sorted(CAT.categories))
def test_mesh_fills_box_exactly_and_is_sound(category):
    rng = np.random.default_rng(abs(hash(category)) % 2**32)
    for _ in range(3):
        c = CAT[category]
        size = [rng.uniform(*c.size[a]) for a in ("depth", "width", "height")]
        obj = SceneObject("obj_00", 3, category, rng.uniform(-3, 3, 3).tolist(), size, float(rng.uniform(-np.pi, np.pi)))
        m = M.object_mesh(obj, CAT, APP)
        assert m.vertices.dtype == np.float32 and m.normals.dtype == np.float32 and m.colors.dtype == np.float32
        assert m.faces.dtype == np.uint32 and m.instance_id == 3 and m.name == "obj_00"
        local = obj.box.to_local(m.vertices.astype(float))
        np.testing.assert_allclose(local.min(0), -np.asarray(size) / 2, atol=1e-6)
        np.testing.assert_allclose(local.max(0), np.asarray(size) / 2, atol=1e-6)
        assert np.all(np.isfinite(m.vertices)) and np.all(np.isfinite(m.normals))
        assert m.faces.max() < len(m.vertices) and len(m.colors) == len(m.vertices)
        np.testing.assert_allclose(np.linalg.norm(m.normals, axis=1), 1.0, atol=1e-5)
        tri = m.vertices[m.faces].astype(float)
        cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        area = np.linalg.norm(cross, axis=1) / 2
        assert area.min() > 0
        # winding agrees with the vertex normals, and faces point outwards (positive volume)
        assert np.all(np.einsum("ij,ij->i", cross, m.normals[m.faces].astype(float).mean(1)) > 0)
        vol = np.einsum("ij,ij->i", tri[:, 0] - obj.center, np.cross(tri[:, 1] - obj.center, tri[:, 2] - obj.center)).sum() / 6
        assert vol > (0.01 if category in SPARSE else 0.05) * obj.box.volume  # a coat rack is mostly air


SPARSE = {"coat_rack"}


def _key(c) -> tuple:
    return tuple(np.round(np.asarray(c, np.float32).astype(float), 5).tolist())


def test_colour_roles_are_applied():
    for category in sorted(CAT.categories):
        um = M.unit_mesh(category)
        m = M.object_mesh(SceneObject("o", 1, category, [0, 0, 0], mid_size(category), 0.0), CAT, APP)
        used = {_key(c) for c in m.colors}
        allowed = {_key(c) for c in [PRIMARY, SECONDARY, *um.named_colors]}
        assert used <= allowed, category
        assert _key(PRIMARY) in used, f"{category} shows no primary colour"
        rec = M.load_recipes()
        parts = M.resolve_parts(rec, category, default_params(rec["params"][category]))  # the default variant
        expected_named = {p.get("color", "primary") for p in parts} - {"primary", "secondary"}
        for name in expected_named:
            assert _key(RECIPES["colors"][name]) in used, (category, name)


def _hit_color(category: str, origin, direction, yaw=0.0):
    """Colour of the first surface a ray hits (independent ray cast with trimesh)."""
    obj = SceneObject("o", 1, category, [0, 0, 0], mid_size(category), yaw)
    m = M.object_mesh(obj, CAT, APP)
    tm = trimesh.Trimesh(m.vertices, m.faces, process=False)
    idx = tm.ray.intersects_first(np.array([origin], float), np.array([direction], float))[0]
    assert idx >= 0, f"ray missed the {category}"
    return m.colors[m.faces[idx]].mean(0)


@pytest.mark.parametrize("category, name", [("television", "screen_black"), ("monitor", "screen_dark")])
def test_screens_face_front(category, name):
    # a ray from in front of the object (+X) towards its centre hits the screen
    col = _hit_color(category, [2.0, 0.0, 0.0 + mid_size(category)[2] * 0.1], [-1.0, 0, 0])
    np.testing.assert_allclose(col, RECIPES["colors"][name], atol=1e-6)


def test_fixed_tones_plant_and_lamp():
    h = mid_size("potted_plant")[2]
    np.testing.assert_allclose(_hit_color("potted_plant", [0, 0, 5.0], [0, 0, -1.0]), PRIMARY, atol=1e-6)  # leaves
    np.testing.assert_allclose(_hit_color("potted_plant", [3.0, 0, -0.4 * h], [-1.0, 0, 0]),
                               RECIPES["colors"]["terracotta"], atol=1e-6)  # pot
    hl = mid_size("lamp")[2]
    np.testing.assert_allclose(_hit_color("lamp", [3.0, 0, 0.3 * hl], [-1.0, 0, 0]), RECIPES["colors"]["lamp_shade"], atol=1e-6)


@pytest.mark.parametrize("category", ["chair", "armchair", "sofa", "bed"])
def test_backs_are_on_the_minus_x_side(category):
    # everything well above the seat / mattress belongs to the back (headboard) at local -X
    um = M.unit_mesh(category)
    high = um.vertices[um.vertices[:, 2] > 0.3]
    assert len(high) > 0 and high[:, 0].max() < -0.1


def test_mug_handle_sticks_out_sideways():
    # a ray along -Y at handle height, offset from the body axis, hits the handle before the body
    s = mid_size("mug")
    um = M.unit_mesh("mug")
    body_side = um.vertices[(np.abs(um.vertices[:, 0]) < 0.05) & (um.vertices[:, 2] < -0.3)][:, 1].max()
    assert body_side < 0.3  # the body's +Y side ends before the box face; the handle fills the rest
    col = _hit_color("mug", [0, 3.0, 0.02 * s[2]], [0, -1.0, 0])
    np.testing.assert_allclose(col, PRIMARY, atol=1e-6)


def test_dominant_material():
    assert M.dominant_material("mirror", "glass") == "glass"
    assert M.dominant_material("sofa", "leather") == "leather"
    assert M.dominant_material("table", "metal") == "metal"


def test_box_meshes_are_exact_boxes():
    scene = make_scene()
    for o, m in zip(scene.objects, M.box_meshes(scene)):
        assert len(m.vertices) == 24 and len(m.faces) == 12
        corners = {tuple(np.round(v, 5)) for v in m.vertices.astype(float)}
        assert corners == {tuple(np.round(c, 5)) for c in o.box.corners}


# ----------------------------------------------------------------------------- appearance / room


def test_sample_appearance_deterministic_and_json():
    cfg = load_appearance_config()
    a, b, c = make_scene(), make_scene(), make_scene()
    sample_appearance(a, CAT, cfg, np.random.default_rng(5))
    sample_appearance(b, CAT, cfg, np.random.default_rng(5))
    sample_appearance(c, CAT, cfg, np.random.default_rng(6))
    assert a.to_json() == b.to_json() and a.to_json() != c.to_json()
    rec = json.loads(a.to_json())
    assert rec["materials"] == a.materials and rec["lights"] == a.lights
    assert set(a.materials["objects"]) == {o.id for o in a.objects}
    for o in a.objects:
        entry = a.materials["objects"][o.id]
        base = np.asarray(CAT.colors[o.attributes["color"]])
        assert np.all(np.abs(np.asarray(entry["color"]) - base) <= cfg["color_jitter"] + 1e-6)
        np.testing.assert_allclose(entry["secondary"], secondary_color(np.asarray(entry["color"]), cfg), atol=2e-6)
        assert entry["specular"] == cfg["materials"][entry["shading_material"]]["specular"]
    assert a.materials["objects"]["obj_03"]["shading_material"] == "glass"  # the mirror


def test_lights_valid_for_the_renderer():
    from engine.render.protocol import validate_light

    cfg = load_appearance_config()
    kinds = set()
    for seed in range(12):
        s = make_scene()
        sample_appearance(s, CAT, cfg, np.random.default_rng(seed))
        assert any(l["cast_shadows"] and l["type"] in ("directional", "point") for l in s.lights)
        assert s.lights[-1]["type"] == "ambient"
        for i, l in enumerate(s.lights):
            assert validate_light(l, f"lights[{i}]") == []
            if l["type"] == "directional":
                d = np.asarray(l["direction"])
                assert d[2] < 0 and abs(np.linalg.norm(d) - 1) < 1e-5
                el = np.degrees(np.arcsin(-d[2]))
                assert cfg["lights"]["sun"]["elevation_deg"][0] - 1e-3 <= el <= cfg["lights"]["sun"]["elevation_deg"][1] + 1e-3
            if l["type"] == "point":
                assert np.all(np.abs(l["position"][:2]) <= np.asarray(s.room.size[:2]) / 2)
                assert l["position"][2] < s.room.size[2]
        kinds.add(s.lights[0]["type"])
    assert kinds == {"directional", "point"}


def test_kelvin_to_rgb_ordering():
    warm, neutral, cool = kelvin_to_rgb(2700), kelvin_to_rgb(6500), kelvin_to_rgb(10000)
    assert warm[0] == 1.0 and warm[2] < warm[1] < 1.0  # warm light: red > green > blue
    assert min(neutral) > 0.9  # ~white at 6500 K (D65)
    assert cool[2] == 1.0 and cool[0] < 1.0


def test_appearance_errors_name_the_field():
    cfg = load_appearance_config()
    s = make_scene()
    s.objects[1].attributes["color"] = "mauve"
    with pytest.raises(ValueError, match=r"objects\[1\] \(obj_01\)\.attributes\.color"):
        sample_appearance(s, CAT, cfg, np.random.default_rng(0))
    bad = load_appearance_config()
    bad["floor"]["kinds"] = {"marble": 1.0}
    with pytest.raises(ValueError, match="floor.kinds"):
        validate_appearance_cfg(bad)
    for bad_n in (0, 2.5, True):
        bad = load_appearance_config()
        bad["texture_patterns"] = bad_n
        with pytest.raises(ValueError, match="texture_patterns"):
            validate_appearance_cfg(bad)
    validate_appearance_cfg(cfg)
    with pytest.raises(ValueError, match="sample_appearance"):
        M.scene_meshes(make_scene(), CAT)


def test_room_meshes_cover_floor_and_walls():
    s = make_scene()
    sample_appearance(s, CAT, load_appearance_config(), np.random.default_rng(1))
    ms = M.scene_meshes(s, CAT)
    assert [m.name for m in ms] == [o.id for o in s.objects] + ["floor", "wall_0", "wall_1", "wall_2", "wall_3"]
    assert [m.instance_id for m in ms[4:]] == [0] * 5
    floor = ms[4]
    sx, sy, sz = s.room.size
    np.testing.assert_allclose(floor.vertices.min(0), [-sx / 2, -sy / 2, 0])
    np.testing.assert_allclose(floor.vertices.max(0), [sx / 2, sy / 2, 0])
    np.testing.assert_allclose(floor.normals, np.tile([0, 0, 1], (4, 1)))
    np.testing.assert_allclose(floor.uv, floor.vertices[:, :2] / s.materials["floor"]["scale_m"], rtol=1e-6)
    assert floor.texture.shape == (256, 256, 3) and floor.texture.dtype == np.uint8
    # Independent check: rays from inside the room hit a wall exactly on the room boundary, and
    # rays down from anywhere over the floor rectangle hit the floor at z = 0.
    room = trimesh.util.concatenate([trimesh.Trimesh(m.vertices, m.faces, process=False) for m in ms[4:]])
    rng = np.random.default_rng(0)
    ang = rng.uniform(0, 2 * np.pi, 64)
    d = np.stack([np.cos(ang), np.sin(ang), np.zeros_like(ang)], 1)
    o = np.tile([0.3, -0.2, 1.0], (64, 1))
    loc, ray_idx, _ = room.ray.intersects_location(o, d, multiple_hits=False)
    t_box = np.min(np.where(np.abs(d[ray_idx, :2]) > 1e-12,
                            (np.sign(d[ray_idx, :2]) * np.array([sx, sy]) / 2 - o[ray_idx, :2]) / d[ray_idx, :2], np.inf), axis=1)
    assert len(ray_idx) == 64
    np.testing.assert_allclose(np.linalg.norm(loc - o[ray_idx], axis=1), t_box, atol=1e-4)
    xy = rng.uniform(-0.5, 0.5, (64, 2)) * [sx - 1e-3, sy - 1e-3]
    oz = np.c_[xy, np.full(64, 2.0)]
    loc, ray_idx, _ = room.ray.intersects_location(oz, np.tile([0, 0, -1.0], (64, 1)), multiple_hits=False)
    assert len(ray_idx) == 64 and np.allclose(loc[:, 2], 0, atol=1e-6)
    # walls: outward normals point away from the room centre on their inner faces, height sz
    for m in ms[5:]:
        assert np.isclose(m.vertices[:, 2].max(), sz) and np.isclose(m.vertices[:, 2].min(), 0)


def test_open_scene_has_large_plane_and_no_walls():
    s = make_scene("open")
    sample_appearance(s, CAT, load_appearance_config(), np.random.default_rng(2))
    ms = M.room_meshes(s, s.materials)
    assert [m.name for m in ms] == ["floor"]
    ext = s.materials["floor"]["extent_m"]
    assert ext >= 20 and np.isclose(ms[0].vertices[:, 0].max(), ext / 2)
    assert s.lights[0]["type"] == "directional" and "wall" not in s.materials


# ----------------------------------------------------------------------------- textures


def _spec(kind, seed=3, **kw):
    return {"texture": kind, "color": [0.4, 0.2, 0.1], "color2": [0.2, 0.1, 0.05], "seed": seed, "scale_m": 1.0, **kw}


@pytest.mark.parametrize("kind", ["wood", "tiles", "carpet", "plain", "plaster"])
def test_textures_deterministic(kind):
    a = make_texture(_spec(kind))
    from engine.assets import textures

    textures._cached.cache_clear()
    textures._draws.cache_clear()
    b = make_texture(_spec(kind))
    assert a.shape == (256, 256, 3) and a.dtype == np.uint8 and not a.flags.writeable
    assert a.tobytes() == b.tobytes()
    if kind != "plain":
        assert make_texture(_spec(kind, seed=4)).tobytes() != a.tobytes()
        assert a.std() > 0


def test_texture_pool_reuses_patterns_not_colours():
    """Seeds come from the pool; a cached pattern under new colours and amplitudes gives the bytes a
    fresh generation gives."""
    from engine.assets import textures

    cfg = load_appearance_config()
    seeds = set()
    for seed in range(40):
        s = make_scene()
        sample_appearance(s, CAT, cfg, np.random.default_rng(seed))
        seeds |= {s.materials["floor"]["seed"], s.materials["wall"]["seed"]}
    assert seeds <= set(range(cfg["texture_patterns"])) and len(seeds) > 10
    make_texture(_spec("wood", planks=5, grain=0.1))  # fills the pattern cache for seed 3, 5 planks
    other = _spec("wood", planks=5, grain=0.15) | {"color": [0.1, 0.5, 0.3], "color2": [0.3, 0.3, 0.05]}
    cached = make_texture(other)
    textures._cached.cache_clear()
    textures._draws.cache_clear()
    assert make_texture(other).tobytes() == cached.tobytes()
    assert make_texture(_spec("wood", planks=4, grain=0.1)).tobytes() != make_texture(_spec("wood", planks=5, grain=0.1)).tobytes()


def test_texture_values():
    enc = lambda c: np.round(np.asarray(c) ** (1 / GAMMA) * 255).astype(np.uint8)  # noqa: E731
    plain = make_texture(_spec("plain"), size=32)
    assert np.all(plain == enc([0.4, 0.2, 0.1]))
    tiles = make_texture(_spec("tiles", tiles=4, grout=0.06), size=64)
    assert np.all(tiles[0, :] == enc([0.2, 0.1, 0.05])) and np.all(tiles[:, 16] == enc([0.2, 0.1, 0.05]))
    # inside a tile the colour is the tile colour within its +-6 % variation and 3 % noise
    inner = tiles[8, 8].astype(float) / 255
    assert np.all(np.abs(inner ** GAMMA / np.array([0.4, 0.2, 0.1]) - 1) < 0.15)
    with pytest.raises(ValueError, match="texture"):
        make_texture(_spec("marble"))
    with pytest.raises(ValueError, match="seed"):
        make_texture(_spec("wood", seed=-1))
