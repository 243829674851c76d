"""Sweeps (`generate -m`): one dataset per swept value, the rest identical, and a summary that
measures what stayed the same."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from engine.cli import main

TINY = ["num_scenes=3", "camera.width=64", "camera.height=64", "render.shadow_map_size=256", "progress=false",
        "executor.workers=1", "split.ratios.train=1.0", "split.ratios.validation=0", "split.ratios.test=0"]


def _scenes(ds):
    out = {}
    for f in sorted((ds / "data").glob("*.parquet")):
        t = pq.read_table(f, columns=["scene_id", "scene"]).to_pylist()
        for r in t:
            out.setdefault(r["scene_id"], json.loads(r["scene"]))
    return out


def test_lighting_sweep_keeps_layouts_cameras_and_questions(tmp_path, capsys):
    """Shadows on/off changes pixels only: the summary says layouts, camera poses and questions
    are all the same, and the records agree (same scene ids, seeds, objects and poses)."""
    out = tmp_path / "sweep"
    assert main(["generate", "-m", "render.shadows=true,false", *TINY, f"out={out}"]) == 0
    summary = json.loads((out / "sweep.json").read_text())
    names = [d["name"] for d in summary["datasets"]]
    assert names == ["render.shadows=True", "render.shadows=False"]  # values as Hydra prints them
    a, b = (out / n for n in names)
    assert summary["datasets"][1]["vs_first"] == {"same_layout": 1.0, "same_camera_poses": 1.0, "same_questions": 1.0}
    assert summary["datasets"][0]["config_hash"] != summary["datasets"][1]["config_hash"]
    sa, sb = _scenes(a), _scenes(b)
    assert sa.keys() == sb.keys()
    for sid in sa:
        assert (sa[sid]["seed"], sa[sid]["scene_index"]) == (sb[sid]["seed"], sb[sid]["scene_index"])
        assert sa[sid]["objects"] == sb[sid]["objects"]
        assert [v["cam_to_world"] for v in sa[sid]["views"]] == [v["cam_to_world"] for v in sb[sid]["views"]]
    # the images differ (the swept factor does reach the pixels)
    # (the first row that has images: text-family rows carry none)
    ra = pq.read_table(next((a / "data").glob("*.parquet")), columns=["images"]).to_pylist()
    rb = pq.read_table(next((b / "data").glob("*.parquet")), columns=["images"]).to_pylist()
    k = next(i for i, r in enumerate(ra) if r["images"])
    assert rb[k]["images"] and ra[k] != rb[k]


def test_fov_sweep_keeps_layouts_and_reports_the_rest(tmp_path):
    """A field-of-view sweep reaches the camera stage: layouts stay, and the summary reports the
    share of scenes whose poses and questions stayed (measured, not assumed)."""
    out = tmp_path / "sweep"
    assert main(["generate", "-m", "camera.fov_deg=[50,60],[80,90]", *TINY, "stages.qa=false", f"out={out}"]) == 0
    summary = json.loads((out / "sweep.json").read_text())
    assert [d["swept"] for d in summary["datasets"]] == [["camera.fov_deg=[50,60]"], ["camera.fov_deg=[80,90]"]]
    vs = summary["datasets"][1]["vs_first"]
    assert vs["same_layout"] == 1.0
    sa = _scenes(out / summary["datasets"][0]["name"])
    sb = _scenes(out / summary["datasets"][1]["name"])
    same = sum(1 for s in sa if [v["cam_to_world"] for v in sa[s]["views"]] == [v["cam_to_world"] for v in sb[s]["views"]])
    assert vs["same_camera_poses"] == round(same / len(sa), 4)


def test_sweep_needs_a_swept_key(tmp_path, capsys):
    assert main(["generate", "-m", *TINY, f"out={tmp_path / 's'}"]) == 2
    err = capsys.readouterr().err
    assert "-m" in err and "fix" in err and not (tmp_path / "s").exists()


def test_image_size_sweep_keeps_poses_at_the_same_aspect(tmp_path):
    """Resolution at a fixed aspect ratio (64x64 vs 96x96) keeps layouts and camera poses; the
    cartesian product of two swept keys gives four datasets."""
    out = tmp_path / "sweep"
    assert main(["generate", "-m", *TINY, "camera.width=64,96", "camera.height=64,96", "stages.qa=false",
                 f"out={out}"]) == 0
    summary = json.loads((out / "sweep.json").read_text())
    assert [d["name"] for d in summary["datasets"]] == [
        "camera.width=64,camera.height=64", "camera.width=64,camera.height=96",
        "camera.width=96,camera.height=64", "camera.width=96,camera.height=96"]
    assert summary["datasets"][3]["vs_first"]["same_layout"] == 1.0
    assert summary["datasets"][3]["vs_first"]["same_camera_poses"] == 1.0
