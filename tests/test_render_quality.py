"""The render quality presets (docs/rendering.md "Quality presets"): fast is unchanged by the high
switches, high's effects are seeded and recorded, touch RGB only, and each does what it says
on images where the answer is known by hand."""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml

from engine.assets.effects import SWITCHES, camera_effects, load_effects_config
from engine.pipeline.config import load_job
from engine.pipeline.stages import SceneStages
from engine.pipeline.timing import StageTimer
from engine.render import get_renderer, load_default_render_cfg
from engine.render.post import IDENTITY, apply_camera_effects, jpeg_round_trip
from engine.rng import stage_rng
from engine.schema import ConfigError
from engine.scene.graph import Room, SceneGraph
from tests.render_scenes import make_view, room_walls, simple_meshes

SMALL = ["camera.width=64", "camera.height=64", "stages.qa=false", "num_scenes=1"]


def _scene_out(overrides: list[str], index: int = 0):
    job = load_job(SMALL + overrides)
    out = SceneStages(job.cfg, job.config_hash).make_scene(index, None, StageTimer())
    return job, out


def test_fast_unchanged_by_high_switches(tmp_path):
    """Under fast, turning every high switch off (and pointing effects at other ranges) changes
    neither the config hash, nor the record, nor a pixel."""
    base_job, base = _scene_out([])
    other_fx = load_effects_config()
    other_fx["ssao"]["radius_m"] = [1.0, 2.0]
    (tmp_path / "fx.yaml").write_text(yaml.safe_dump(other_fx))
    off = [f"render.high.{k}=false" for k in SWITCHES] + [f"render.effects={tmp_path / 'fx.yaml'}"]
    job, other = _scene_out(off)
    assert job.config_hash == base_job.config_hash
    assert other.scene.to_json() == base.scene.to_json()
    assert "effects" not in base.scene.materials and all("camera_effects" not in v.params for v in base.scene.views)
    for vid, f in base.frames.items():
        assert other.frames[vid].rgb.tobytes() == f.rgb.tobytes()


def test_high_recorded_deterministic_and_rgb_only():
    job_f, fast = _scene_out([])
    job_h, high = _scene_out(["render.quality=high"])
    job_h2, high2 = _scene_out(["render.quality=high"])
    assert job_h.config_hash != job_f.config_hash
    assert high.scene.to_json() == high2.scene.to_json()  # seeded: the same record ...
    for vid, f in high.frames.items():
        assert high2.frames[vid].rgb.tobytes() == f.rgb.tobytes()  # ... and the same pixels
    fx = high.scene.materials["effects"]
    assert fx["quality"] == "high" and fx["pbr"] and fx["ssao"]["samples"] == 16
    assert set(fx["objects"]) == {o.id for o in high.scene.objects}
    names = [lt.get("name") for lt in high.scene.lights]
    assert names[: len(fast.scene.lights)] == [lt.get("name") for lt in fast.scene.lights]  # key light first, kept
    assert {"window", "lamp"} <= set(names) or "sky" in names
    cam = load_effects_config()["camera"]
    for v in high.scene.views:
        ce = v.params["camera_effects"]
        assert cam["jpeg_quality"][0] <= ce["jpeg_quality"] <= cam["jpeg_quality"][1]
        assert cam["vignetting"][0] <= ce["vignetting"] <= cam["vignetting"][1]
    # layout, cameras and appearance are those of fast; depth, ids and visibility identical
    for vf, vh in zip(fast.scene.views, high.scene.views):
        assert vf.objects == vh.objects
    for vid, f in fast.frames.items():
        h = high.frames[vid]
        assert np.array_equal(f.depth, h.depth) and np.array_equal(f.ids, h.ids) and f.objects == h.objects
        assert not np.array_equal(f.rgb, h.rgb)


def test_switch_off_leaves_other_effects():
    """Each effect draws from its own child generator: switching SSAO off keeps the lights and cameras."""
    _, high = _scene_out(["render.quality=high"])
    _, no_ssao = _scene_out(["render.quality=high", "render.high.ssao=false"])
    assert no_ssao.scene.materials["effects"]["ssao"] is None
    assert no_ssao.scene.lights == high.scene.lights
    assert [v.params for v in no_ssao.scene.views] == [v.params for v in high.scene.views]


def test_camera_effect_ranges_over_many_seeds():
    cfg = load_effects_config()
    qs = [camera_effects(cfg, stage_rng(1, i, "effects"))["jpeg_quality"] for i in range(300)]
    lo, hi = cfg["camera"]["jpeg_quality"]
    assert min(qs) >= lo and max(qs) <= hi and len(set(qs)) > (hi - lo) // 2  # integers across the range


# --------------------------------------------------------------------- post-processing by hand

GREY = 0.5  # linear
GREY8 = int(round(GREY ** (1 / 2.2) * 255))


def _flat(h=48, w=64):
    return np.full((h, w, 3), GREY8, np.uint8)


def _lin(x):
    return (np.asarray(x, float) / 255.0) ** 2.2


def test_identity_params_leave_image():
    img = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    assert np.array_equal(apply_camera_effects(img, IDENTITY), img)


def test_vignetting_darkens_corners_by_factor():
    out = apply_camera_effects(_flat(), dict(IDENTITY, vignetting=0.3))
    g = _lin(GREY8)
    for corner in (out[0, 0], out[0, -1], out[-1, 0], out[-1, -1]):
        assert np.allclose(_lin(corner), 0.7 * g, rtol=0.02)  # 1 uint8 step is ~1% at this level
    centre = _lin(out[23:25, 31:33]).mean()
    assert centre == pytest.approx(g, rel=0.02)


def test_white_balance_and_exposure_scale_as_recorded():
    out = apply_camera_effects(_flat(), dict(IDENTITY, white_balance=[1.2, 1.0, 0.8]))
    r, g, b = _lin(out[10, 10])
    assert (r / g, b / g) == (pytest.approx(1.2, rel=0.02), pytest.approx(0.8, rel=0.02))
    out = apply_camera_effects(_flat(), dict(IDENTITY, exposure_ev=-1.0))
    assert _lin(out[5, 5, 0]) == pytest.approx(_lin(GREY8) / 2, rel=0.02)


def test_noise_seeded_with_recorded_std():
    p = dict(IDENTITY, noise_std=0.02, noise_seed=7)
    a, b = apply_camera_effects(_flat(200, 200), p), apply_camera_effects(_flat(200, 200), p)
    assert np.array_equal(a, b) and not np.array_equal(a, apply_camera_effects(_flat(200, 200), dict(p, noise_seed=8)))
    assert _lin(a).std() == pytest.approx(0.02, rel=0.1)  # linear std as recorded (one quantisation step is ~0.004)


def test_blur_keeps_flat_and_softens_edges():
    img = np.zeros((40, 40, 3), np.uint8)
    img[:, 20:] = 255
    out = apply_camera_effects(img, dict(IDENTITY, blur_sigma_px=1.0))
    assert np.array_equal(apply_camera_effects(_flat(), dict(IDENTITY, blur_sigma_px=1.0)), _flat())
    assert 0 < out[10, 19, 0] < 255 and 0 < out[10, 20, 0] < 255 and out[10, 0, 0] == 0 and out[10, -1, 0] == 255


def test_jpeg_is_a_round_trip_at_the_recorded_quality():
    img = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    out = apply_camera_effects(img, dict(IDENTITY, jpeg_quality=70))
    assert np.array_equal(out, jpeg_round_trip(img, 70)) and not np.array_equal(out, jpeg_round_trip(img, 90))


# --------------------------------------------------------------------- SSAO on a hand-built corner


def _corner_scene(effects: dict | None) -> tuple[SceneGraph, list]:
    room = Room("room", [4.0, 4.0, 2.5], room_walls(4.0, 4.0, 2.5))
    scene = SceneGraph("s0", 0, room, [], [make_view([0.6, 0.6, 1.4], [-2.0, -2.0, 0.0], 96, 96, 70.0)])
    scene.lights = [{"type": "ambient", "color": [1.0, 1.0, 1.0], "intensity": 0.6}]
    scene.materials = {"objects": {}} if effects is None else {"objects": {}, "effects": effects}
    return scene, simple_meshes(scene)


def _pixel(view, p):
    K, w2c = np.asarray(view.K), np.linalg.inv(np.asarray(view.cam_to_world))
    c = w2c[:3, :3] @ np.asarray(p, float) + w2c[:3, 3]
    u, v = (K @ c)[:2] / c[2]
    return int(round(v)), int(round(u))


def test_ssao_darkens_a_concave_corner_not_open_floor():
    r = get_renderer(dict(load_default_render_cfg(), antialias="msaa"))  # the shading high draws on
    base = {"quality": "high", "pbr": False, "normal_detail": False, "floor": {}, "wall": {}, "objects": {}}
    s0, m0 = _corner_scene(None)
    s1, m1 = _corner_scene(dict(base, ssao=None))
    s2, m2 = _corner_scene(dict(base, ssao={"radius_m": 0.4, "strength": 1.0, "samples": 16}))
    f0, f1, f2 = (r.render(s, s.views[0], m).rgb.astype(float) for s, m in ((s0, m0), (s1, m1), (s2, m2)))
    assert np.abs(f1 - f0).max() <= 1  # the high pass with every effect off is the fast shading
    corner = _pixel(s0.views[0], [-1.95, -1.95, 0.05])
    floor = _pixel(s0.views[0], [-0.6, -0.6, 0.0])
    ratio = lambda p: _lin(f2[p]).mean() / _lin(f0[p]).mean()  # noqa: E731
    assert ratio(corner) < 0.9 and ratio(floor) > 0.97  # measured 0.81 and 1.0


@pytest.mark.parametrize("override, key", [
    ("render.quality=best", "render.quality: got 'best'; fix: set it to fast"),
    ("+render.high.bloom=true", "render.high.bloom: unknown key"),
    ("render.high.ssao=3", "render.high.ssao: got 3; fix: set it to true or false"),
    ("render.effects={camera:{jpeg_quality:[90,60]}}", "render.effects.camera.jpeg_quality: [90, 60] must satisfy"),
])
def test_bad_quality_keys_name_key_and_fix(override, key):
    with pytest.raises(ConfigError, match=re.escape(key)):
        load_job(SMALL + [override])
