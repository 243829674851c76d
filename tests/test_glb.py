"""GLB export (engine/export/glb.py): read the file back with trimesh and compare with the scene."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from engine.export.glb import ROOT_NODE, Z_UP_TO_Y_UP, export_glb
from engine.assets.appearance import load_appearance_config, sample_appearance
from engine.scene.catalog import load_catalog
from engine.scene.graph import Room, SceneGraph, SceneObject, Wall

CAT = load_catalog()


def _scene() -> SceneGraph:
    c = [(-2.5, -2.0), (2.5, -2.0), (2.5, 2.0), (-2.5, 2.0)]
    walls = [Wall(f"wall_{i}", list(c[i]), list(c[(i + 1) % 4]), 2.7) for i in range(4)]
    spec = [("sofa", [0.9, 2.0, 0.8], [-1.5, 0.0, 0.4], 0.0, "blue", "fabric"),
            ("coffee_table", [0.6, 1.1, 0.42], [-0.2, 0.1, 0.21], 0.3, "brown", "wood"),
            ("mug", [0.1, 0.09, 0.1], [-0.2, 0.1, 0.47], 1.0, "red", "ceramic"),
            ("painting", [0.04, 0.9, 0.6], [2.48, 0.0, 1.5], np.pi, "yellow", "wood")]
    objs = [SceneObject(f"obj_{i:02d}", i + 1, cat, ctr, size, yaw, attributes={"color": col, "material": mat})
            for i, (cat, size, ctr, yaw, col, mat) in enumerate(spec)]
    s = SceneGraph("s000000003", 1, Room("room", [5.0, 4.0, 2.7], walls), objs)
    sample_appearance(s, CAT, load_appearance_config(), np.random.default_rng(11))
    return s


def test_glb_round_trip(tmp_path):
    s = _scene()
    path = export_glb(s, tmp_path / "scene.glb", CAT)
    assert path.exists() and path.stat().st_size > 1000
    assert [p.name for p in tmp_path.iterdir()] == ["scene.glb"]  # no temporary left behind
    loaded = trimesh.load(path)
    assert isinstance(loaded, trimesh.Scene)
    names = set(loaded.graph.nodes_geometry)
    assert names == {o.id for o in s.objects} | {"floor", "wall_0", "wall_1", "wall_2", "wall_3"}
    for o in s.objects:
        T, geom = loaded.graph[o.id]
        np.testing.assert_allclose(T, Z_UP_TO_Y_UP, atol=1e-12)  # the only transform: the root's
        v = np.asarray(loaded.geometry[geom].vertices, float)  # world metres, +Z up
        local = o.box.to_local(v)
        np.testing.assert_allclose(local.min(0), -np.asarray(o.size) / 2, atol=2e-6)
        np.testing.assert_allclose(local.max(0), np.asarray(o.size) / 2, atol=2e-6)
        # the object's colour comes back as its vertex colours (linear RGB x 255)
        cols = np.asarray(loaded.geometry[geom].visual.vertex_colors)[:, :3].astype(float) / 255
        primary = np.asarray(s.materials["objects"][o.id]["color"])
        assert np.any(np.all(np.abs(cols - primary) <= 1 / 255 + 1e-9, axis=1))
    # the whole scene in glTF's +Y-up frame: the room's height is along +Y
    lo, hi = loaded.bounds
    assert np.isclose(hi[1] - lo[1], 2.7, atol=1e-6) and np.isclose(hi[0] - lo[0], 5.0 + 0.2, atol=1e-6)
    assert loaded.graph.transforms.parents[o.id] == ROOT_NODE
    floor = loaded.geometry[loaded.graph["floor"][1]]
    assert isinstance(floor.visual, trimesh.visual.TextureVisuals) and floor.visual.uv.shape == (4, 2)


def test_glb_errors(tmp_path):
    s = _scene()
    with pytest.raises(ValueError, match=".glb"):
        export_glb(s, tmp_path / "scene.gltf", CAT)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export_glb(s, tmp_path / "missing" / "scene.glb", CAT)
    s.materials = {}
    with pytest.raises(ValueError, match="sample_appearance"):
        export_glb(s, tmp_path / "scene.glb", CAT)
