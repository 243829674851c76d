"""The path-traced backend (render.backend=cycles; engine/render/cycles_backend.py).

- its config keys are checked, and a missing Blender venv gives an error naming `make setup-cycles`;
- geometry: Blender's own Z (camera-space z) and object-index passes of a sampled room, seen from
  three views (one of them non-square with an off-centre principal point), match the raster
  backend's depth within 1 cm and its ids on >= 99% of pixels: a check of the camera conversion
  (OpenCV -> Blender) and of the mesh conversion;
- light units: a white-ish floor lit straight down by a directional light (and, separately, by a
  point light) has the linear value the raster shading formula gives (albedo x irradiance);
- a cycles dataset's annotations (depth and instance-mask PNGs, every row field and the scene
  record but its config hash) equal a raster dataset's; its images differ (really path traced)
  and re-render to the same bytes.

Every test but the config ones needs .venv-cycles (`make setup-cycles`, part of `make test`);
without it they skip, saying so.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from engine.assets.appearance import load_appearance_config, sample_appearance
from engine.assets.meshes import scene_meshes
from engine.assets.types import RenderMesh
from engine.camera import sample_views
from engine.camera.config import load_camera_cfg
from engine.layout import load_scene_cfg, sample_layout
from engine.pipeline.config import ConfigError, load_job
from engine.pipeline.run import generate
from engine.render import RendererUnavailableError, get_renderer, load_default_render_cfg, validate_render_cfg
from engine.render.cycles_config import PYTHON_ENV, cycles_python
from engine.rng import stage_rng
from engine.scene.catalog import load_catalog
from engine.scene.graph import Room, SceneGraph, View

needs_blender = pytest.mark.skipif(not cycles_python().exists(),
                                   reason=f"no Blender venv at {cycles_python()}: run `make setup-cycles`")


def cycles_cfg(**cycles) -> dict:
    return dict(load_default_render_cfg(), backend="cycles", cycles={"samples": 4, "denoise": False, "device": "cpu", **cycles})


# --- config ----------------------------------------------------------------------------------

@pytest.mark.parametrize("section, key", [({"samples": 0}, "render.cycles.samples"),
                                          ({"denoise": "yes"}, "render.cycles.denoise"),
                                          ({"device": "tpu"}, "render.cycles.device"),
                                          ({"bounces": 4}, "render.cycles.bounces")])
def test_cycles_config_errors_name_the_key(section, key):
    with pytest.raises(ConfigError) as e:
        validate_render_cfg(dict(load_default_render_cfg(), backend="cycles", cycles=section))
    assert key in str(e.value) and "fix:" in str(e.value)


def test_cycles_needs_egl_for_its_exact_passes():
    with pytest.raises(ConfigError, match="render.platform"):
        validate_render_cfg(dict(load_default_render_cfg(), backend="cycles", platform="osmesa"))


def test_missing_blender_venv_names_the_make_target(monkeypatch, tmp_path):
    monkeypatch.setenv(PYTHON_ENV, str(tmp_path / "no-such-venv" / "bin" / "python"))
    with pytest.raises(RendererUnavailableError, match="make setup-cycles"):
        get_renderer(cycles_cfg(samples=3))


def test_render_group_option_selects_cycles(tmp_path):
    cfg = load_job(["render=cycles", "render.cycles.samples=64", f"out={tmp_path}"]).cfg["render"]
    assert cfg["backend"] == "cycles" and cfg["cycles"] == {"samples": 64, "denoise": True, "device": "auto"}
    assert {k: v for k, v in cfg.items() if k not in ("backend", "cycles")} == \
        {k: v for k, v in load_default_render_cfg().items() if k != "backend"}


# --- geometry --------------------------------------------------------------------------------

def _room(index: int = 0) -> tuple[SceneGraph, list[RenderMesh]]:
    catalog = load_catalog()
    scfg = load_scene_cfg("room")
    scene = sample_layout(scfg, catalog, stage_rng(11, index, "layout"), scene_id="cyc", scene_index=index)
    scene.views = sample_views(scene, load_camera_cfg(), stage_rng(11, index, "camera"))
    sample_appearance(scene, catalog, load_appearance_config(), stage_rng(11, index, "appearance"))
    return scene, scene_meshes(scene, catalog)


def _resized(view: View, width: int, height: int, shift=(0.0, 0.0)) -> View:
    """``view`` at ``width`` x ``height``, same horizontal field of view, principal point moved by
    ``shift`` pixels from the image centre."""
    v = copy.deepcopy(view)
    K = np.asarray(view.K, float)
    s = width / view.width
    K[0, 0] = K[1, 1] = K[0, 0] * s
    K[0, 2], K[1, 2] = (width - 1) / 2 + shift[0], (height - 1) / 2 + shift[1]
    v.K, v.width, v.height = K.tolist(), width, height
    return v


@pytest.fixture(scope="module")
def cycles():
    if not cycles_python().exists():
        pytest.skip(f"no Blender venv at {cycles_python()}: run `make setup-cycles`")
    r = get_renderer(cycles_cfg(), cpus=2)
    yield r
    r.release()


@needs_blender
def test_cycles_passes_match_the_raster_depth_and_ids(cycles):
    scene, meshes = _room()
    views = [_resized(scene.views[0], 64, 64), _resized(scene.views[1], 64, 64),
             _resized(scene.views[0], 80, 60, shift=(7.0, -5.0))]
    for view in views:
        got = cycles.path_trace(scene, view, meshes, passes=True, samples=1)
        ref = cycles.raster.render(scene, view, meshes)
        assert got["depth"].shape == ref.depth.shape == (view.height, view.width)
        same_id = got["index"] == ref.ids
        assert same_id.mean() >= 0.99
        assert len(set(np.unique(ref.ids)) - {0}) >= 2  # the views see objects, not only walls
        assert np.mean((got["depth"] > 0) == (ref.depth > 0)) >= 0.99
        # depth where both hit the same surface (a pixel centre on a silhouette may see either side)
        both = same_id & (got["depth"] > 0) & (ref.depth > 0)
        assert both.mean() > 0.5
        # within 1 cm on 99.9% of them: room parts (walls, skirting, window frames, door casing)
        # all carry id 0, so a pixel centre on the edge of a trim may see the trim in one pass and
        # the wall just behind it in the other with the same id (measured up to 1.3 cm)
        assert np.mean(np.abs(got["depth"][both] - ref.depth[both]) < 0.01) >= 0.999  # metres
        assert np.median(np.abs(got["depth"][both] - ref.depth[both])) < 1e-4


# --- light units -----------------------------------------------------------------------------

def _floor_scene(lights: list[dict]) -> tuple[SceneGraph, list[RenderMesh], View]:
    scene = SceneGraph(scene_id="floor", seed=0, room=Room(type="open", size=[10.0, 10.0, 0.0]), lights=lights,
                       materials={"objects": {}})
    v = np.array([[-5, -5, 0], [5, -5, 0], [5, 5, 0], [-5, 5, 0]], np.float32)
    floor = RenderMesh(0, "floor", v, np.tile(np.float32([0, 0, 1]), (4, 1)), np.array([[0, 1, 2], [0, 2, 3]], np.uint32),
                       np.full((4, 3), 0.5, np.float32), specular=0.0, shininess=1.0)
    K = [[24.0, 0, 15.5], [0, 24.0, 15.5], [0, 0, 1]]
    pose = np.diag([1.0, -1.0, -1.0, 1.0])  # looking straight down from 2 m
    pose[2, 3] = 2.0
    return scene, [floor], View("v", K, 32, 32, pose.tolist())


def _linear(srgb: np.ndarray) -> np.ndarray:
    a = srgb / 255.0
    return np.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055) ** 2.4)


@needs_blender
@pytest.mark.parametrize("light, expected", [
    ({"type": "directional", "direction": [0, 0, -1], "color": [1, 1, 1], "intensity": 0.8}, 0.5 * 0.8),
    ({"type": "point", "position": [0, 0, 1.0], "color": [1, 1, 1], "intensity": 0.9}, 0.5 * 0.9 / 1.0**2)])
def test_light_units_match_the_raster_shading(cycles, light, expected):
    """Floor albedo 0.5, no ambient, the light straight above: the raster formula gives albedo x
    irradiance at the centre pixel; Cycles' Lambert (roughness 1, no other surface) must agree."""
    scene, meshes, view = _floor_scene([light, {"type": "ambient", "color": [1, 1, 1], "intensity": 0.0}])
    rgb = cycles.path_trace(scene, view, meshes, samples=64)["rgb"]
    centre = _linear(rgb[14:18, 14:18].astype(float)).mean()
    assert centre == pytest.approx(expected, rel=0.08)


# --- a dataset -------------------------------------------------------------------------------

BASE = ["num_scenes=2", "camera.width=64", "camera.height=64", "progress=false", "seed=5", "output.image_format=png",
        "output.depth=true", "output.instance_mask=true", "qa.questions_per_view=2", "executor.workers=1"]


def _rows(out: Path) -> dict[str, dict]:
    rows = {}
    for f in sorted((out / "data").glob("*.parquet")):
        for r in pq.read_table(f).to_pylist():
            rows[r["id"]] = r
    return rows


def _record(scene_json: str) -> dict:
    rec = json.loads(scene_json)
    rec.pop("generator")  # holds the config hash, which differs with the backend
    return rec


@needs_blender
def test_cycles_dataset_annotations_equal_the_raster_ones(tmp_path):
    generate(load_job(BASE + [f"out={tmp_path / 'raster'}"]))
    generate(load_job(BASE + ["render=cycles", "render.cycles.samples=4", "render.cycles.device=cpu",
                              f"out={tmp_path / 'cycles'}"]))
    a, b = _rows(tmp_path / "raster"), _rows(tmp_path / "cycles")
    assert sorted(a) == sorted(b) and len(a) > 0
    for rid in a:
        ra, rb = a[rid], b[rid]
        assert ra["depths"] == rb["depths"] and ra["instance_masks"] == rb["instance_masks"]
        assert _record(ra["scene"]) == _record(rb["scene"])
        same = {k for k in ra if k not in ("images", "scene") and ra[k] == rb[k]}
        assert same == set(ra) - {"images", "scene"}, f"fields differ: {set(ra) - same - {'images', 'scene'}}"
        assert all(x != y for x, y in zip(ra["images"], rb["images"]))
    sa = [_record(l) for l in (tmp_path / "raster" / "scenes").glob("*.jsonl").__next__().read_text().splitlines()]
    sb = [_record(l) for l in (tmp_path / "cycles" / "scenes").glob("*.jsonl").__next__().read_text().splitlines()]
    assert sa == sb  # visibility fields in every view's objects included


@needs_blender
def test_cycles_rgb_is_path_traced_and_repeatable(cycles):
    scene, meshes = _room(1)
    view = _resized(scene.views[0], 64, 64)
    f1 = cycles.render(scene, view, meshes)
    ref = cycles.raster.render(scene, view, meshes)
    assert np.array_equal(f1.ids, ref.ids) and np.array_equal(f1.depth, ref.depth) and f1.objects == ref.objects
    assert np.abs(f1.rgb.astype(int) - ref.rgb.astype(int)).mean() > 3  # another shading model
    other, other_meshes = _room(2)
    cycles.render(other, _resized(other.views[0], 64, 64), other_meshes)  # another scene in between
    f2 = cycles.render(scene, view, meshes)
    assert np.array_equal(f1.rgb, f2.rgb)
