"""``spatialforge ask`` (docs/ask.md): the converters on the hand-written samples of each public
layout (tests/data/ask/, written by tools/make_ask_samples.py) give boxes and cameras that match
values worked out here by hand; visibility from boxes matches a hand-counted case; the dataset
``ask`` writes passes the independent audit (tools/audit_answers.py) with no disagreement; views
without masks get no mask-only question, counted in the summary."""

from __future__ import annotations

import importlib.util
import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from engine.cli import main
from engine.ingest import IngestError, load_scenes
from engine.ingest.boxes import euler_zxy_matrix, gravity_aligned
from engine.ingest.visibility import box_visibility

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "ask"
CLEVR = DATA / "clevr" / "CLEVR_sample_scenes.json"
OPENSPATIAL = DATA / "openspatial" / "scannet_per_image.parquet"
NATIVE = DATA / "native" / "scenes.jsonl"

_spec = importlib.util.spec_from_file_location("audit_answers", REPO / "tools" / "audit_answers.py")
audit = importlib.util.module_from_spec(_spec)
sys.modules["audit_answers"] = audit
_spec.loader.exec_module(audit)

C30, S30 = math.sqrt(3) / 2, 0.5
C02, S02 = math.cos(0.2), math.sin(0.2)


def _corner(obj, signs):
    """The corner of a gravity-aligned box at local signs (sx, sy, sz), worked out by hand."""
    h = [s / 2 for s in obj.size]
    lx, ly, lz = (sg * hh for sg, hh in zip(signs, h))
    c, s = math.cos(obj.yaw), math.sin(obj.yaw)
    return [obj.center[0] + c * lx - s * ly, obj.center[1] + s * lx + c * ly, obj.center[2] + lz]


# ---------------------------------------------------------------- boxes


def test_euler_zxy_is_rz_rx_ry():
    a, b, g = 0.3, -0.4, 0.25
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    ry = np.array([[math.cos(g), 0, math.sin(g)], [0, 1, 0], [-math.sin(g), 0, math.cos(g)]])
    assert np.allclose(euler_zxy_matrix(a, b, g), rz @ rx @ ry)


def test_gravity_aligned_hand_cases():
    # yaw only: unchanged
    c, s, yaw, tilted = gravity_aligned([1, 2, 0.5], [1.2, 0.8, 1.0], euler_zxy_matrix(0.2, 0, 0))
    assert (c, s, tilted) == ([1.0, 2.0, 0.5], [1.2, 0.8, 1.0], False) and yaw == pytest.approx(0.2)
    # pitch 90 degrees about x: local y is vertical, local z points to world -y: the same solid
    c, s, yaw, tilted = gravity_aligned([0, 0, 0.4], [0.6, 0.8, 0.05], euler_zxy_matrix(0, math.pi / 2, 0))
    assert s == pytest.approx([0.6, 0.05, 0.8]) and yaw == pytest.approx(0.0) and not tilted
    # a unit cube tilted 45 degrees about y: enclosure sqrt(2) along world x and z, 1 along y;
    # its most horizontal axis is local y (heading 90 degrees), so depth 1, width sqrt(2)
    c, s, yaw, tilted = gravity_aligned([0, 0, 1], [1, 1, 1], euler_zxy_matrix(0, 0, math.pi / 4))
    assert tilted and yaw == pytest.approx(math.pi / 2)
    assert s == pytest.approx([1.0, math.sqrt(2), math.sqrt(2)]) and c == pytest.approx([0, 0, 1])


# ---------------------------------------------------------------- converters


def test_openspatial_sample_boxes_and_camera_by_hand():
    (user,) = load_scenes(OPENSPATIAL, DATA / "openspatial")
    sc = user.scene
    assert user.source == {"format": "openspatial", "id": "scene0000_00"} and len(sc.views) == 2
    assert [o.category for o in sc.objects] == ["table", "chair", "book", "picture", "cabinet"]
    table, book, picture = sc.objects[0], sc.objects[2], sc.objects[3]
    # table [0, 0, 0.375, 1.2, 0.8, 0.75, roll 0.2, 0, 0]: its (+, +, +) corner
    assert _corner(table, (1, 1, 1)) == pytest.approx([0.6 * C02 - 0.4 * S02, 0.6 * S02 + 0.4 * C02, 0.75])
    assert any(np.allclose(k, [0.6 * C02 - 0.4 * S02, 0.6 * S02 + 0.4 * C02, 0.75]) for k in table.box.corners)
    # picture: pitch 90 degrees stands its 0.8 m side up
    assert picture.size == pytest.approx([0.6, 0.05, 0.8]) and picture.yaw == pytest.approx(0.0)
    # support from contact: book bottom 0.75 = table top
    assert str(book.support) == "on:obj_00" and str(table.support) == "floor" and user.notes["support_unknown"] == 0
    # camera 0: eye (2.6, -2.2, 1.6) looking at (0, 0, 0.4) (poses/*.txt), K from intrinsic_depth.txt
    v = sc.views[0]
    assert v.K == [[150.0, 0.0, 79.5], [0.0, 150.0, 59.5], [0.0, 0.0, 1.0]] and (v.width, v.height) == (160, 120)
    pose = np.array(v.cam_to_world)
    assert pose[:3, 3] == pytest.approx([2.6, -2.2, 1.6])
    fwd = np.array([-2.6, 2.2, -1.2]) / math.sqrt(2.6 ** 2 + 2.2 ** 2 + 1.2 ** 2)
    right = np.array([2.2, 2.6, 0.0]) / math.sqrt(2.2 ** 2 + 2.6 ** 2)
    assert pose[:3, 2] == pytest.approx(fwd, abs=1e-8) and pose[:3, 0] == pytest.approx(right, abs=1e-8)
    # projection of the table centre by hand: on the vertical through the principal point
    d = np.array([0.0, 0.0, 0.375]) - np.array([2.6, -2.2, 1.6])
    z, x = float(d @ fwd), float(d @ right)
    assert 150.0 * x / z + 79.5 == pytest.approx(79.5, abs=1e-9)
    assert z == pytest.approx((6.76 + 4.84 + 1.225 * 1.2) / math.sqrt(13.04))
    assert user.inputs["view_0"].has_mask and not user.inputs["view_1"].has_mask


def test_clevr_sample_boxes_and_fitted_camera_by_hand():
    users = load_scenes(CLEVR, DATA / "clevr" / "images")
    assert [u.source["format"] for u in users] == ["clevr", "clevr"]
    sc = users[0].scene
    cube, small_sphere, cylinder = sc.objects[0], sc.objects[1], sc.objects[2]
    # large cube: r = 0.7 / sqrt(2) Blender units, 1 unit = 0.5 m: side sqrt(2) * 0.7 * 0.5 m, rotation 30 deg
    half = 0.7 / math.sqrt(2) * 0.5
    assert cube.category == "cube" and cube.attributes == {"color": "red", "material": "rubber"}
    assert cube.center == pytest.approx([0.5, 1.0, half], abs=1e-6) and cube.size == pytest.approx([2 * half] * 3)
    assert cube.yaw == pytest.approx(math.radians(30))
    assert _corner(cube, (1, 1, 1)) == pytest.approx([0.5 + half * (C30 - S30), 1.0 + half * (S30 + C30), 2 * half],
                                                     abs=1e-6)
    assert small_sphere.size == pytest.approx([0.35] * 3) and cylinder.size == pytest.approx([0.7] * 3)
    assert all(str(o.support) == "floor" for o in sc.objects)
    # the camera fitted to pixel_coords: 525 px focal (35 mm lens, 32 mm sensor, 480 px), eye (7, -7, 5) units
    v = sc.views[0]
    assert (v.width, v.height) == (480, 320) and v.params["fit_rms_px"] < 0.5
    assert v.K[0][0] == pytest.approx(525.0, rel=0.01) and v.K[0][2] == 239.5 and v.K[1][2] == 159.5
    pose = np.array(v.cam_to_world)
    assert pose[:3, 3] == pytest.approx([3.5, -3.5, 2.5], abs=0.05)
    assert pose[:3, 2] == pytest.approx(np.array([-7, 7, -5]) / math.sqrt(123), abs=0.01)
    # reprojecting each centre with the fitted camera lands on its pixel_coords (rounded to integers)
    objs = json.loads(CLEVR.read_text())["scenes"][0]["objects"]
    for o, rec in zip(sc.objects, objs):
        pc = pose[:3, :3].T @ (np.array(o.center) - pose[:3, 3])
        u, vv = v.K[0][0] * pc[0] / pc[2] + v.K[0][2], v.K[1][1] * pc[1] / pc[2] + v.K[1][2]
        assert abs(u + 0.5 - rec["pixel_coords"][0]) <= 1.0 and abs(vv + 0.5 - rec["pixel_coords"][1]) <= 1.0


def test_native_sample_keeps_the_record_and_recounts_pixels_from_the_mask():
    from engine.ingest import annotate_scene

    (user,) = load_scenes(NATIVE, DATA / "native" / "images")
    sc = user.scene
    assert sc.scene_id == "s000000000" and user.source["id"] == "livingroom_01"
    assert str(sc.objects[2].support) == "on:obj_01" and sc.objects[0].has_front
    annotate_scene(user)
    mask = np.asarray(Image.open(DATA / "native" / "images" / "livingroom_01" / "view_0.mask.png"))
    v = sc.views[0]
    assert v.params["visibility"] == "mask"
    for o in sc.objects:
        assert v.objects[o.id].visible_pixels == int((mask == o.instance_id).sum())


def test_bad_input_names_the_field(tmp_path):
    bad = json.loads(CLEVR.read_text())
    bad["scenes"][0]["objects"][1]["size"] = "huge"
    p = tmp_path / "s.json"
    p.write_text(json.dumps(bad))
    with pytest.raises(IngestError, match=r"scenes\[0\]\.objects\[1\]\.size: 'huge'.*fix"):
        load_scenes(p, DATA / "clevr" / "images")
    with pytest.raises(IngestError, match="--images"):
        load_scenes(CLEVR, tmp_path / "nope")


# ---------------------------------------------------------------- visibility


def test_box_visibility_hand_counted():
    """Camera at the origin looking along +z (f = 100 px, 100 x 100): a 1 m cube at z = 5 covers
    u, v = 39..60 (its front face at z = 4.5 spans 49.5 +- 11.1 px), 22 x 22 = 484 pixels; a 4 m cube
    at z = 12 behind it covers 30..69 (front face at z = 10, 49.5 +- 20 px), 1600 pixels, of which the
    near cube hides 484."""
    K = [[100.0, 0, 49.5], [0, 100.0, 49.5], [0, 0, 1]]
    boxes = [([0, 0, 5], [1, 1, 1], np.eye(3)), ([0, 0, 12], [4, 4, 4], np.eye(3))]
    stats, ids = box_visibility(K, np.eye(4), 100, 100, boxes, [1, 2], 0.01)
    assert (stats[1]["visible"], stats[1]["amodal"]) == (484, 484) and stats[1]["bbox_amodal"] == [39, 39, 60, 60]
    assert (stats[2]["visible"], stats[2]["amodal"]) == (1600 - 484, 1600)
    # a depth reading nearer than every box (a wall at 3 m) hides both
    stats, _ = box_visibility(K, np.eye(4), 100, 100, boxes, [1, 2], 0.01, depth=np.full((100, 100), 3.0))
    assert stats[1]["visible"] == stats[2]["visible"] == 0 and stats[2]["amodal"] == 1600
    # a mask: visible pixels are the mask's; amodal adds the silhouette pixels a nearer box's object covers
    mask = ids.copy()
    mask[39:61, 39:45] = 0  # the near object does not fill the left of its box: background shows there
    stats, _ = box_visibility(K, np.eye(4), 100, 100, boxes, [1, 2], 0.01, mask=mask)
    assert stats[1]["visible"] == stats[1]["amodal"] == 484 - 22 * 6
    assert stats[2]["visible"] == 1116 and stats[2]["amodal"] == 1116 + 484 - 22 * 6


# ---------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def asked(tmp_path_factory):
    root = tmp_path_factory.mktemp("ask")
    common = ["qa.questions_per_view=20", "output.image_format=png"]
    outs = {}
    for name, scenes, images in [("clevr", CLEVR, DATA / "clevr" / "images"),
                                 ("openspatial", OPENSPATIAL, DATA / "openspatial"),
                                 ("native", NATIVE, DATA / "native" / "images")]:
        assert main(["ask", str(scenes), "--images", str(images), "--out", str(root / name), *common]) == 0
        outs[name] = root / name
    return outs


def _rows(out: Path) -> list[dict]:
    return [r for p in sorted((out / "data").glob("*.parquet")) for r in pq.read_table(p).to_pylist()]


def test_ask_datasets_pass_the_audit(asked):
    for name, out in asked.items():
        rep = audit.run(str(out))
        assert rep["rows"] > 0 and rep["coverage"] == 1.0, (name, rep["rows"], rep["coverage"])
        assert rep["disagreements"] == 0 and rep["margin_violations"] == 0 and rep["record_mismatches"] == 0, name


def test_ask_rows_carry_the_users_images(asked):
    plain = [r for r in _rows(asked["openspatial"]) if not r["marks"] and len(r["view_ids"]) == 1]
    assert plain
    for r in plain:
        scene = json.loads(r["scene"])
        view = next(v for v in scene["views"] if v["id"] == r["view_ids"][0])
        got = np.asarray(Image.open(io.BytesIO(r["images"][0]["bytes"])).convert("RGB"))
        want = np.asarray(Image.open(DATA / "openspatial" / view["params"]["image"]).convert("RGB"))
        assert np.array_equal(got, want)


def test_views_without_masks_skip_mask_questions_with_a_count(asked):
    summary = json.loads((asked["clevr"] / "ask.json").read_text())
    assert summary["stats"]["views_without_mask"] == 2 and summary["stats"]["qa_skipped_no_mask"] > 0
    assert not [r for r in _rows(asked["clevr"]) if r["family"] == "occlusion" or r["task"] == "box2d"]
    summary = json.loads((asked["openspatial"] / "ask.json").read_text())
    assert summary["stats"]["views_with_mask"] == 1 and summary["stats"]["views_without_mask"] == 1
    assert summary["stats"]["qa_skipped_no_mask"] > 0
    rows = _rows(asked["openspatial"])
    assert not [r for r in rows if r["view_ids"] == ["view_1"] and (r["family"] == "occlusion" or r["task"] == "box2d")]
    assert [r for r in rows if r["view_ids"] == ["view_0"] and r["family"] == "occlusion"]  # masked: asked
    assert (asked["openspatial"] / "README.md").is_file() and (asked["openspatial"] / "manifest.json").is_file()


def test_ask_is_deterministic(asked, tmp_path):
    out = tmp_path / "again"
    assert main(["ask", str(CLEVR), "--images", str(DATA / "clevr" / "images"), "--out", str(out),
                 "qa.questions_per_view=20", "output.image_format=png"]) == 0
    first = json.loads((asked["clevr"] / "manifest.json").read_text())["shards"]
    again = json.loads((out / "manifest.json").read_text())["shards"]
    assert [s["files"] for s in first.values()] == [s["files"] for s in again.values()]


@pytest.mark.parametrize("argv, message", [
    ([str(CLEVR)], "--images DIR: missing; fix"),
    (["--images", "."], "SCENES: missing; fix"),
    ([str(CLEVR), "--images", ".", "--bogus"], "unknown argument '--bogus'"),
    ([str(CLEVR), "--images", ".", "--depth-tol", "-1"], "--depth-tol: got -1.0; fix"),
    ([str(CLEVR), "--images", str(DATA / "native")], "image not found; fix: pass --images"),
    ([str(NATIVE), "--images", ".", "--format", "colmap"], "--format 'colmap': unknown; fix"),
])
def test_ask_bad_input_exits_2_naming_the_field(argv, message, tmp_path, capsys):
    assert main(["ask", *argv, "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_an_interrupted_ask_resumes_to_the_same_bytes(tmp_path):
    # one scene per shard; drop the last shard as a run stopped before committing it would leave
    # it (no manifest entry, its file gone), rerun: the others are kept, and every byte matches
    args = ["qa.questions_per_view=20", "output.image_format=png", "output.scenes_per_shard=1"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    for out in (full, cut):
        assert main(["ask", str(CLEVR), "--images", str(DATA / "clevr" / "images"), "--out", str(out), *args]) == 0
    m = json.loads((cut / "manifest.json").read_text())
    keys = sorted(m["shards"])
    assert len(keys) >= 2
    for f in m["shards"][keys[-1]]["files"]:
        (cut / f).unlink()
    del m["shards"][keys[-1]]
    (cut / "manifest.json").write_text(json.dumps(m))
    (cut / "data" / ".tmp-stale.parquet").write_bytes(b"half")  # a temporary file of the stopped run
    assert main(["ask", str(CLEVR), "--images", str(DATA / "clevr" / "images"), "--out", str(cut), *args]) == 0
    summary = json.loads((cut / "ask.json").read_text())
    assert (summary["shards_made"], summary["shards_skipped"]) == (1, len(keys) - 1)
    assert not list((cut / "data").glob(".tmp*"))
    for k in keys:
        for f in json.loads((full / "manifest.json").read_text())["shards"][k]["files"]:
            assert (cut / f).read_bytes() == (full / f).read_bytes(), f
