"""tools/audit_answers.py, the independent answer audit (docs/audit.md): it agrees with a freshly
generated dataset, it reports exactly the rows whose answers were planted wrong, every checked
row turned wrong is caught, and on hand-worked scenes it gives the answers worked out below."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from engine.cli import main

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("audit_answers", REPO / "tools" / "audit_answers.py")
audit = importlib.util.module_from_spec(_spec)
sys.modules["audit_answers"] = audit  # dataclasses look their module up here
_spec.loader.exec_module(audit)

# 6 room scenes, 2 views, up to 20 questions per view, small images: a few seconds.
SMALL = ["num_scenes=6", "camera.width=256", "camera.height=256", "qa.questions_per_view=20",
         "render.shadow_map_size=256", "progress=false", "executor.workers=1", "dry_run=false"]
COVERAGE_FLOOR = 0.95  # measured: 100% of the rows of such datasets are checked (docs/audit.md)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("audit") / "ds"
    assert main(["generate", *SMALL, f"out={out}"]) == 0
    return out


def test_import_nothing_from_engine():
    text = (REPO / "tools" / "audit_answers.py").read_text()
    assert "import engine" not in text and "from engine" not in text


def test_audit_agrees_with_generated_dataset(dataset, capsys):
    rep = audit.run(str(dataset))
    assert rep["rows"] > 150
    assert rep["disagreements"] == 0, audit.report_text(rep)
    assert rep["coverage"] >= COVERAGE_FLOOR, audit.report_text(rep)
    assert rep["margin_violations"] == 0, audit.report_text(rep)
    assert len(rep["tasks"]) >= 40  # most tasks appear in 6 scenes
    assert audit.main([str(dataset)]) == 0
    assert "0 disagreements" in capsys.readouterr().out


def _wrong(r: dict) -> dict:
    """The same row with a wrong answer, internally consistent (value, answer text, letter)."""
    r = dict(r)
    v = json.loads(r["value"])
    t = r["answer_type"]
    if t == "bool":
        r["value"], r["answer"] = json.dumps(not v), ("no" if v else "yes")
    elif t == "choice":
        k = (r["answer_index"] + 1) % len(r["choices"])
        r["answer_index"], r["value"] = k, json.dumps(r["choices"][k])
        r["answer"] = f"{audit.LETTERS[k]}. {r['choices'][k]}"
    elif t == "number":
        dec = 0 if r["unit"] == "deg" else 2
        nv = round(v * 1.2 + (2 if dec == 0 else 0.02), dec)  # 20% off (and at least 2 units of the last digit)
        r["value"], r["answer"] = json.dumps(nv), audit.fmt(nv, r["unit"], dec)
    elif t == "count":
        r["value"], r["answer"] = json.dumps(v + 1), str(v + 1)
    elif t == "json":
        o = json.loads(v)
        if isinstance(o, list):
            o[0] += 5
        else:
            o["center"][0] = round(o["center"][0] + 0.2, 2)
        s = json.dumps(o, separators=(", ", ": "))
        r["value"], r["answer"] = json.dumps(s), s
    elif t == "ascii":
        i = v.index(".")
        s = v[:i] + "Q" + v[i + 1:]
        r["value"], r["answer"] = json.dumps(s), s
    elif t == "text":
        s = f"{int(v.split()[0]) % 12 + 1} o'clock"
        r["value"], r["answer"] = json.dumps(s), s
    return r


def test_every_checked_row_made_wrong_is_caught(dataset):
    d = audit.Defs(str(dataset))
    caught, total, missed = 0, 0, []
    for r, s in audit.iter_rows(str(dataset)):
        _, ok = audit.audit_row(r, s, d)
        if ok.status != "ok":
            continue
        total += 1
        _, bad = audit.audit_row(_wrong(r), s, d)
        if bad.status == "disagree":
            caught += 1
        else:
            missed.append((r["id"], r["task"], bad.status, bad.note))
    assert total > 150 and not missed, missed


def test_planted_errors_are_reported_and_nothing_else(dataset, tmp_path):
    """Copy the dataset, plant wrong answers in a few rows of several tasks (a wrong choice, a
    distance 20% off, a swapped left/right, a wrong count, a flipped turn), audit the copy."""
    out = tmp_path / "planted"
    shutil.copytree(dataset, out)
    want = {  # task -> how it is planted
        "relations.closest_to_camera": "choice", "measurement.object_distance": "number",
        "measurement.camera_distance": "number", "relations.left_right": "bool", "counting.count": "count",
        "camera.turn_direction": "choice", "perspective.standing_lr": "choice", "grounding.box3d": "json",
    }
    planted = {}
    for f in sorted((out / "data").glob("*.parquet")):
        table = pq.read_table(f)
        rows = table.to_pylist()
        for i, r in enumerate(rows):
            key = f"{r['family']}.{r['task']}"
            if key in want and want[key] == r["answer_type"] and key not in planted.values():
                rows[i] = _wrong(r)
                planted[r["id"]] = key
        pq.write_table(table.from_pylist(rows, schema=table.schema), f)
    assert len(planted) >= 6, planted  # most planted kinds occur in 6 scenes
    rep = audit.run(str(out))
    got = {d["id"]: k for k, t in rep["tasks"].items() for d in t["disagreements"]}
    assert got == planted, audit.report_text(rep)
    assert audit.main([str(out)]) == 1


# ---------------------------------------------------------------------------------------------
# Hand-worked scenes

def _box(oid, cat, center, size, yaw=0.0, support="floor", color="red"):
    c, s = np.cos(yaw), np.sin(yaw)
    return {"id": oid, "instance_id": int(oid[-1]) + 1, "category": cat, "attributes": {"color": color},
            "center": list(center), "size": list(size), "rotation": [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]],
            "yaw": yaw, "support": support, "against": None, "has_front": False}


def _scene():
    """A 8 x 8 m room; a 1 m cube 'box' at the origin on the floor, a 1 m cube 'ball' at (3, 0)
    turned 45 degrees; the camera at (0, -4, 1.5) looking along +y, level (OpenCV axes: x right =
    world +x, y down = world -z, z forward = world +y), fx = fy = 256, 512 x 512."""
    vis = {"visible_fraction": 1.0, "visible_pixels": 5000, "amodal_pixels": 5000, "in_frame_fraction": 1.0}
    return {"scene_id": "s000000000", "room": {"type": "room", "size": [8.0, 8.0, 3.0], "walls": []},
            "objects": [_box("obj_00", "box", (0, 0, 0.5), (1, 1, 1)),
                        _box("obj_01", "ball", (3, 0, 0.5), (1, 1, 1), yaw=np.pi / 4)],
            "views": [{"id": "view_0", "K": [[256, 0, 255.5], [0, 256, 255.5], [0, 0, 1]], "width": 512, "height": 512,
                       "cam_to_world": [[1, 0, 0, 0], [0, 0, 1, -4], [0, -1, 0, 1.5], [0, 0, 0, 1]],
                       "params": {"near_m": 0.05}, "objects": {"obj_00": dict(vis), "obj_01": dict(vis)}}]}


def _row(template_id, question, answer_type, value, answer, objects, unit=None, choices=None, index=None):
    fam, task = template_id.split(".")[:2]
    return {"id": "s000000000_q000", "scene_id": "s000000000", "view_ids": ["view_0"], "family": fam, "task": task,
            "template_id": template_id, "question": question, "answer": answer, "answer_type": answer_type,
            "choices": choices, "answer_index": index, "value": json.dumps(value), "unit": unit,
            "objects": objects, "marks": None, "meta": None, "frame": "camera"}


def _check(row):
    return audit.audit_row(row, audit.Scene(_scene()), audit.Defs(str(REPO / "no-dataset")))[1]


def test_hand_worked_object_distance():
    # The ball's corner nearest the box is at x = 3 - sqrt(2)/2 = 2.2929 (y = 0, same heights);
    # the box's face is at x = 0.5: 1.7929 m, answered 1.79 m.
    q = "How far apart are the box and the ball (closest points)? Answer in meters."
    ok = _check(_row("measurement.object_distance.open", q, "number", 1.79, "1.79 m", ["obj_00", "obj_01"], "m"))
    assert ok.status == "ok" and abs(ok.err - abs(3 - np.sqrt(0.5) - 0.5 - 1.79)) < 1e-9
    off = _check(_row("measurement.object_distance.open", q, "number", 2.15, "2.15 m", ["obj_00", "obj_01"], "m"))
    assert off.status == "disagree" and off.mine == 1.79


def test_hand_worked_camera_distance_and_left_right():
    # Camera (0, -4, 1.5); the box spans y in [-0.5, 0.5], z in [0, 1]: closest point (0, -0.5, 1),
    # distance hypot(3.5, 0.5) = 3.5355 -> 3.54 m.
    q = "How far is the box from the camera, in meters (to its closest point)?"
    r = _check(_row("measurement.camera_distance.open", q, "number", 3.54, "3.54 m", ["obj_00"], "m"))
    assert r.status == "ok"
    # Box centre at camera (0, 1.0, 4): u = 255.5; ball centre (3, 1.0, 4): u = 256 * 3 / 4 + 255.5 = 447.5.
    q = "From the camera's viewpoint, is the box to the left of the ball?"
    r = _check(_row("relations.left_right.bool", q, "bool", True, "yes", ["obj_00", "obj_01"]))
    assert r.status == "ok" and abs(r.margin - 192.0) < 1e-9
    r = _check(_row("relations.left_right.bool", q, "bool", False, "no", ["obj_00", "obj_01"]))
    assert r.status == "disagree"


def test_hand_worked_clock_direction_and_aim():
    # Heading +y; the ball is 3 m to the +x side of the box: 90 degrees clockwise, 3 o'clock,
    # "to the right" on the 8-way rose.
    q = "If you stood at the box facing the same way as the camera, at what o'clock would the ball be? Answer like '3 o'clock'."
    r = _check(_row("relations.clock.text", q, "text", "3 o'clock", "3 o'clock", ["obj_00", "obj_01"]))
    assert r.status == "ok" and abs(r.margin - 15.0) < 1e-9
    opts = ["to the right", "to the left", "closer to the camera", "farther away"]
    q = ("Viewed from above, taking 'farther away' as the camera's viewing direction, in which direction is the ball "
         "from the box?\n" + "\n".join(f"{audit.LETTERS[k]}. {o}" for k, o in enumerate(opts)))
    r = _check(_row("relations.direction8.choice", q, "choice", "to the right", "A. to the right", ["obj_00", "obj_01"],
                    choices=opts, index=0))
    assert r.status == "ok" and abs(r.margin - 22.5) < 1e-9
    # Aim at the ball from (0, -4): direction (3, 4), 53.13 deg from +x; heading 90 -> 36.87 deg right -> 37.
    q = "How many degrees would you have to turn to face the ball directly?"
    r = _check(_row("motion.aim_degrees", q, "number", 37.0, "37 degrees", ["obj_01"], "deg"))
    assert r.status == "ok" and abs(r.err - abs(np.degrees(np.arctan2(3, 4)) - 37)) < 1e-9


def test_inconsistent_row_is_a_disagreement():
    q = "How far apart are the box and the ball (closest points)? Answer in meters."
    r = _check(_row("measurement.object_distance.open", q, "number", 1.79, "1.80 m", ["obj_00", "obj_01"], "m"))
    assert r.status == "disagree" and "inconsistent" in r.note


def test_record_fields_recomputed():
    # Box: closest point to the camera (0, -0.5, 1), 3.5355 m; its centre at camera depth 4 m, wholly
    # in the image (corners at u in [191.5, 319.5]). The ball turned 45 degrees: its corners reach
    # u = 256 * 3.71 / 4 + 255.5 = 492.8 and u = 256 * 3 / 3.29 + 255.5 = 488.7, inside too.
    sc = _scene()
    sc["views"][0]["objects"]["obj_00"].update(distance=float(np.hypot(3.5, 0.5)), depth=4.0, in_frustum=True)
    sc["views"][0]["objects"]["obj_01"].update(in_frustum=True)
    got = {k: {w.split("/")[-1]: d for d, w in v} for k, v in audit.record_checks(audit.Scene(sc)).items()}
    assert got["distance"]["obj_00"] < 1e-12 and got["depth"]["obj_00"] < 1e-12
    assert got["in_frustum"] == {"obj_00": 0.0, "obj_01": 0.0}
    assert got["in_frame_fraction"] == {"obj_00": 0.0, "obj_01": 0.0}
    sc["views"][0]["objects"]["obj_00"].update(distance=3.0, in_frustum=False, in_frame_fraction=0.5)
    got = {k: {w.split("/")[-1]: d for d, w in v} for k, v in audit.record_checks(audit.Scene(sc)).items()}
    assert abs(got["distance"]["obj_00"] - (np.hypot(3.5, 0.5) - 3.0)) < 1e-12 and got["in_frustum"]["obj_00"] == 1.0
    assert got["in_frame_fraction"]["obj_00"] == 0.5
