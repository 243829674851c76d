"""spatialforge score (engine/eval/score.py): answer parsing, the metrics on hand-computed cases, a
hand-made dataset with exact expected figures, per-factor tables that add up to the overall
score, unknown / missing / duplicate ids and bad lines, exit codes, and 100% on the ground truth
of a generated dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.cli import main
from engine.eval.score import (cell_accuracy, iou2d, iou3d, load_truth, mra, mra_many, parse_box3d, parse_choice,
                               parse_number, score_answer, score_dataset)

TINY = ["num_scenes=3", "output.scenes_per_shard=2", "camera.width=96", "camera.height=96",
        "render.shadow_map_size=256", "render.msaa_samples=1", "progress=false", "executor.workers=1",
        "qa.questions_per_view=12", "seed=3", "output.lmms_eval=true"]


# --- metrics by hand ---

def test_mra_vsibench_definition():
    # |2.3 - 2.0| / 2.0 = 0.15 <= 1 - th for th = 0.50 ... 0.85: 8 of 10 thresholds
    assert mra(2.3, 2.0) == pytest.approx(0.8)
    assert mra(2.0, 2.0) == 1.0
    assert mra(1.0, 2.0) == pytest.approx(0.1)  # rel 0.5: only th = 0.50
    assert mra(0.9, 2.0) == 0.0                 # rel 0.55
    assert mra(2.1, 2.0) == pytest.approx(1.0)  # rel 0.05 <= 0.05
    assert mra(2.11, 2.0) == pytest.approx(0.9)
    assert mra(None, 2.0) == 0.0
    np.testing.assert_allclose(mra_many(np.array([2.3, 2.0, np.nan, 1.0]), np.array([2.0, 2.0, 2.0, 2.0])),
                               [0.8, 1.0, 0.0, 0.1])


def test_parsing():
    ch = ["the bookshelf", "the desk"]
    assert parse_choice("B", ch) == 1 and parse_choice("B. the desk", ch) == 1 and parse_choice("(A)", ch) == 0
    assert parse_choice("the desk.", ch) == 1 and parse_choice("C", ch) is None and parse_choice("desk", ch) is None
    assert parse_number("2.3", "m") == 2.3 and parse_number("2.3m", "m") == 2.3
    assert parse_number("230 cm", "m") == pytest.approx(2.3) and parse_number("33.9 square meters", "m2") == 33.9
    assert parse_number("18 degrees", "deg") == 18 and parse_number("2 degrees", "m") is None
    assert parse_number("about 2 m", "m") is None and parse_number("2.5 meters away.", "m") == 2.5
    assert score_answer("yes.", "bool", "yes", value="true") == (1.0, True)
    assert score_answer("No", "bool", "yes", value="true") == (0.0, True)
    assert score_answer("maybe", "bool", "yes", value="true") == (0.0, False)
    assert score_answer("three", "count", "3", value="3") == (1.0, True)
    assert score_answer("8 o'clock.", "text", "8 o'clock") == (1.0, True)


def test_ascii_cell_accuracy():
    truth = "###\n#A#\n###"
    assert cell_accuracy(truth, truth) == 1.0
    assert cell_accuracy("```\n###\n#B#\n###\n```", truth) == pytest.approx(8 / 9)
    assert cell_accuracy("###\n#A#", truth) == pytest.approx(6 / 9)          # a missing row costs
    assert cell_accuracy("###\n#A#\n###\n###", truth) == pytest.approx(9 / 12)  # an extra row costs
    assert cell_accuracy("", truth) == 0.0


def test_box_iou():
    # inclusive pixel boxes: 10x10 each, overlapping 5 columns -> 50 / 150
    assert iou2d([0, 0, 9, 9], [5, 0, 14, 9]) == pytest.approx(1 / 3)
    assert iou2d([0, 0, 9, 9], [20, 20, 29, 29]) == 0.0
    box = {"center": [0, 0, 2], "size": [1, 1, 1], "rotation": np.eye(3).tolist()}
    a = parse_box3d(json.dumps(box))
    assert iou3d(a, a) == pytest.approx(1.0)
    shifted = parse_box3d(json.dumps({**box, "center": [0.5, 0, 2]}))  # half overlap: 0.5 / 1.5
    assert iou3d(a, shifted) == pytest.approx(1 / 3)
    c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)  # unit cube and the same cube turned 45 degrees about z
    turned = parse_box3d(json.dumps({**box, "rotation": [[c, -s, 0], [s, c, 0], [0, 0, 1]]}))
    inter = 2 * (np.sqrt(2) - 1)  # the regular octagon inscribed: area 2(sqrt2 - 1), height 1
    assert iou3d(a, turned) == pytest.approx(inter / (2 - inter))
    assert parse_box3d('{"center": [0, 0, 1], "size": [1, 1, 1]}') is not None  # rotation optional
    assert parse_box3d('{"center": [0, 0], "size": [1, 1, 1]}') is None


# --- a hand-made dataset ---

def _write_dataset(root: Path, rows: list[dict], split: str = "test") -> Path:
    cols = ["id", "family", "task", "template_id", "answer_type", "answer", "choices", "answer_index", "value", "unit",
            "factors"]
    (root / "data").mkdir(parents=True, exist_ok=True)
    table = pa.table({c: [r.get(c) for r in rows] for c in cols},
                     schema=pa.schema([("id", pa.string()), ("family", pa.string()), ("task", pa.string()),
                                       ("template_id", pa.string()), ("answer_type", pa.string()),
                                       ("answer", pa.string()), ("choices", pa.list_(pa.string())),
                                       ("answer_index", pa.int32()), ("value", pa.string()), ("unit", pa.string()),
                                       ("factors", pa.string())]))
    pq.write_table(table, root / "data" / f"{split}-00000-of-00001.parquet")
    return root


def _row(i, family, task, at, answer, value, choices=None, index=None, unit=None, n_obj=3):
    return {"id": f"s0_q{i:03d}", "family": family, "task": task, "template_id": f"{family}.{task}",
            "answer_type": at, "answer": answer, "choices": choices, "answer_index": index,
            "value": json.dumps(value), "unit": unit, "factors": json.dumps({"num_objects": n_obj, "room": "office"})}


BOX2D = "[0, 0, 9, 9]"
ROWS = [
    _row(0, "relations", "left_right", "choice", "B. the desk", "the desk", ["the lamp", "the desk"], 1),
    _row(1, "relations", "left_right", "choice", "A. the lamp", "the lamp", ["the lamp", "the desk"], 0, n_obj=5),
    _row(2, "measurement", "height", "number", "2.00 m", 2.0, unit="m"),
    _row(3, "measurement", "height", "number", "4.00 m", 4.0, unit="m", n_obj=5),
    _row(4, "relations", "taller", "bool", "yes", True),
    _row(5, "grounding", "box2d", "json", BOX2D, BOX2D, n_obj=5),
    _row(6, "counting", "count", "count", "3", 3),
    _row(7, "ascii", "draw_map", "ascii", "###\n#A#\n###", "###\n#A#\n###", n_obj=5),
]
PREDS = {  # expected score per row
    "s0_q000": ("B", 1.0),              # right letter
    "s0_q001": ("B.", 0.0),             # wrong letter
    "s0_q002": ("2.3 m", 0.8),          # MRA of rel. error 0.15
    "s0_q003": ("tall", 0.0),           # unparseable
    "s0_q004": ("Yes.", 1.0),
    "s0_q005": ("[5, 0, 14, 9]", 1 / 3),
    # s0_q006 missing: 0
    "s0_q007": ("###\n#B#\n###", 8 / 9),
}


def _write_preds(path: Path, extra: list[str] = ()) -> Path:
    lines = [json.dumps({"id": k, "prediction": p}) for k, (p, _) in PREDS.items()]
    path.write_text("\n".join(lines + list(extra)) + "\n")
    return path


def test_hand_made_dataset_exact_figures(tmp_path, capsys):
    ds = _write_dataset(tmp_path / "ds", ROWS)
    preds = _write_preds(tmp_path / "p.jsonl", [json.dumps({"id": "s9_q000", "prediction": "A"}),    # unknown
                                                json.dumps({"id": "s0_q000", "prediction": "A"}),    # duplicate
                                                "not json", json.dumps({"id": "s0_q006"})])          # bad lines
    r = score_dataset(str(ds), str(preds), by=["num_objects", "room", "answer_type"])
    expect = sum(s for _, s in PREDS.values()) / len(ROWS)
    assert r["overall"]["score"] == pytest.approx(expect)
    c = r["counts"]
    assert (c["rows"], c["scored"], c["missing"], c["unparsed"]) == (8, 7, 1, 1)
    assert (c["unknown"], c["unknown_ids"], c["duplicates"], c["duplicate_ids"]) == (1, ["s9_q000"], 1, ["s0_q000"])
    assert (c["bad_lines"], c["bad_line_numbers"]) == (2, [10, 11])
    fam = {x["bin"]: x for x in r["tables"]["family"]}
    assert fam["relations"]["score"] == pytest.approx(2 / 3) and fam["relations"]["rows"] == 3
    assert fam["measurement"]["score"] == pytest.approx(0.4) and fam["counting"]["answered"] == 0
    nobj = {x["bin"]: x for x in r["tables"]["num_objects"]}
    assert nobj["3"]["score"] == pytest.approx((1 + 0.8 + 1 + 0) / 4)
    assert nobj["5"]["score"] == pytest.approx((0 + 0 + 1 / 3 + 8 / 9) / 4)
    assert [x["bin"] for x in r["tables"]["room"]] == ["office"]
    # every table's bins add up to the overall score
    for name, rows in r["tables"].items():
        assert sum(x["rows"] for x in rows) == 8, name
        assert sum(x["rows"] * x["score"] for x in rows) / 8 == pytest.approx(r["overall"]["score"]), name

    out = tmp_path / "r.json"
    assert main(["score", str(ds), str(preds), "--by", "num_objects", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "missing 1" in text and "unknown ids 1" in text and "s9_q000" in text and "num_objects" in text
    assert json.loads(out.read_text())["overall"]["score"] == pytest.approx(expect)


def test_lmms_eval_sample_log(tmp_path):
    ds = _write_dataset(tmp_path / "ds", ROWS)
    lines = [json.dumps({"doc_id": 0, "target": "B. the desk", "filtered_resps": ["B"]}),           # by position
             json.dumps({"doc_id": 1, "doc": {"id": "s0_q002"}, "filtered_resps": "2.3 m"}),        # old logs: doc
             json.dumps({"doc_id": 7, "spatialforge": {"id": "s0_q004", "score": 1.0},
                         "resps": [["yes"]], "filtered_resps": ["yes"]})]                           # our metric dict
    (tmp_path / "samples.jsonl").write_text("\n".join(lines) + "\n")
    r = score_dataset(str(ds), str(tmp_path / "samples.jsonl"))
    assert r["counts"]["format"] == "lmms-eval" and r["counts"]["scored"] == 3
    assert r["overall"]["score"] == pytest.approx((1 + 0.8 + 1) / 8)


def test_bad_input_exit_2(tmp_path, capsys):
    ds = _write_dataset(tmp_path / "ds", ROWS)
    assert main(["score", str(ds), str(tmp_path / "nope.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "nope.jsonl" in err and "fix:" in err
    (tmp_path / "x.csv").write_text("id,prediction\na,b\n")
    assert main(["score", str(ds), str(tmp_path / "x.csv")]) == 2
    assert "not JSONL" in capsys.readouterr().err
    assert main(["score", str(tmp_path / "nods"), str(_write_preds(tmp_path / "p.jsonl"))]) == 2
    assert "nods" in capsys.readouterr().err
    assert main(["score", str(ds), str(tmp_path / "p.jsonl"), "--by", "colour"]) == 2
    assert "colour" in capsys.readouterr().err
    assert main(["score", "--help"]) == 0
    assert "usage: spatialforge score" in capsys.readouterr().out


# --- the ground truth of a generated dataset scores 100% ---

@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("score") / "ds"
    assert main(["generate", *TINY, f"out={out}"]) == 0
    return out


def test_ground_truth_scores_100(generated, tmp_path, capsys):
    t = load_truth(str(generated), ("id", "answer", "answer_type"))
    assert len(set(t["answer_type"].to_pylist())) >= 5
    preds = tmp_path / "gt.jsonl"
    preds.write_text("".join(json.dumps({"id": i, "prediction": a}) + "\n"
                             for i, a in zip(t["id"].to_pylist(), t["answer"].to_pylist())))
    r = score_dataset(str(generated), str(preds), by=["num_objects", "camera_height", "template_id"])
    assert r["overall"]["score"] == pytest.approx(1.0, abs=1e-12) and r["counts"]["unparsed"] == 0 and r["counts"]["missing"] == 0
    for name, rows in r["tables"].items():
        assert all(x["score"] == pytest.approx(1.0, abs=1e-12) for x in rows), name
        assert sum(x["rows"] for x in rows) == t.num_rows
    # the test split only, with a wrong answer everywhere: 0 on exact-match types
    test_ids = load_truth(str(generated), ("id",)).filter(pa.compute.equal(
        load_truth(str(generated), ("id",))["split"], "test"))["id"].to_pylist()
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text("".join(json.dumps({"id": i, "prediction": "zzz"}) + "\n" for i in test_ids))
    r = score_dataset(str(generated), str(wrong))
    assert r["splits"] == ["test"] and r["overall"]["score"] == 0.0 and r["counts"]["missing"] == 0


def test_batch_scoring_agrees_with_row_scoring(tmp_path):
    """score_table's pyarrow / numpy passes give what score_answer gives row by row."""
    from engine.eval.score import load_predictions, score_table

    box3 = json.dumps({"center": [0.1, 0.2, 2.0], "size": [0.5, 0.8, 0.7],
                       "rotation": [[0.978, -0.207, 0.0], [0.102, 0.479, -0.872], [0.181, 0.853, 0.49]]})
    rows = ROWS + [_row(8, "grounding", "box3d", "json", box3, box3), _row(9, "relations", "clock", "text", "8 o'clock",
                                                                         "8 o'clock")]
    ds = _write_dataset(tmp_path / "ds", rows)
    variants = ["B", "b", "(A)", "B)", "B.", "B:", " A", "the desk", "The Lamp.", "C", "", "yes", "Yes!", "no,",
                "True", "maybe", "2.3", "2.3m", "230 cm", "4 degrees", "-1", "3", "three", "3.0", "3.5", "[5, 0, 14, 9]",
                "[9, 9, 0, 0]", "###\n#A#\n###", box3, box3.replace("0.1,", "0.3,"), "8 o'clock", "8", "\u00a0B"]
    for v in variants:
        preds = tmp_path / "p.jsonl"
        preds.write_text("".join(json.dumps({"id": r["id"], "prediction": v}) + "\n" for r in rows))
        p, _ = load_predictions(str(preds))
        t = load_truth(str(ds))
        score, parsed, _ = score_table(t, p)
        for i, r in enumerate(rows):
            s, ok = score_answer(v, r["answer_type"], r["answer"], r["choices"], r["answer_index"], r["value"], r["unit"])
            assert (score[i], parsed[i]) == pytest.approx((s, ok)), (v, r["id"])


def test_fast_reader_counts_duplicates(tmp_path):
    from engine.eval.score import load_predictions

    f = tmp_path / "p.jsonl"
    f.write_text('{"id": "a", "prediction": "A"}\n{"id": "b", "prediction": "B"}\n{"id": "a", "prediction": "C"}\n')
    preds, c = load_predictions(str(f))
    assert preds == {"a": "A", "b": "B"} and (c["duplicates"], c["duplicate_ids"], c["lines"]) == (1, ["a"], 3)


# --- the lmms-eval task written with the dataset ---

def _utils_module(folder: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("sf_lmms_utils", folder / "lmms_eval" / "utils.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_lmms_task_files_score_like_the_command(generated):
    import datasets
    import yaml

    from engine.eval import score as S
    from engine.export.lmms_eval import MARKER

    text = (generated / "lmms_eval" / "utils.py").read_text()
    src = Path(S.__file__).read_text()
    body = src[src.index("from __future__"):src.index(MARKER)].rstrip()
    assert body in text  # a verbatim copy of the row scoring
    cfg = yaml.load((generated / "lmms_eval" / "spatialforge.yaml").read_text(), Loader=yaml.BaseLoader)
    assert cfg["task"] == "spatialforge" and Path(cfg["dataset_path"]) == generated.resolve()
    u = _utils_module(generated)
    ds = datasets.load_dataset(str(generated), split="test")
    assert len(ds) > 0
    kw = {"pre_prompt": "", "choice_post_prompt": "Answer with the letter.", "short_post_prompt": "Short."}
    for doc in ds:
        assert doc["question"] in u.doc_to_text(doc, kw)
        assert all(im.mode == "RGB" for im in u.doc_to_visual(doc)) and len(u.doc_to_visual(doc)) == len(doc["view_ids"])
        r = u.process_results(doc, [doc["answer"]])["spatialforge_score"]
        assert r["id"] == doc["id"] and r["score"] == pytest.approx(1.0, abs=1e-12), doc["id"]
        assert u.process_results(doc, ["zzz"])["spatialforge_score"]["score"] == 0.0
    right = [u.process_results(d, [d["answer"]])["spatialforge_score"] for d in ds]
    assert u.aggregate_score(right) == pytest.approx(100.0)


def test_lmms_eval_loads_the_task(generated, tmp_path):
    """Through lmms-eval itself: its TaskManager loads the exported task from the dataset folder and
    the task's process_results and aggregation give 100 on the ground truth and 0 on a wrong answer.
    lmms-eval (torch, transformers) lives in its own venv, built by `make setup-lmms` (a dependency
    of `make test`); tools/lmms_eval_probe.py runs there, in a separate process."""
    import os
    import subprocess
    import sys

    import pyarrow.parquet as pq

    repo = Path(__file__).resolve().parents[1]
    python = Path(os.environ.get("SPATIALFORGE_LMMS_PYTHON", repo / ".venv-lmms" / "bin" / "python"))
    if not python.exists():
        pytest.skip(f"no lmms-eval venv at {python} (make setup-lmms builds it)")
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_DATASETS_CACHE": str(tmp_path / "hf" / "datasets")}
    run = subprocess.run([str(python), str(repo / "tools" / "lmms_eval_probe.py"), str(generated)],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    r = json.loads(run.stdout.strip().splitlines()[-1])
    test_ids = [i for f in sorted(generated.glob("data/test-*.parquet"))
                for i in pq.read_table(f, columns=["id"])["id"].to_pylist()]
    assert test_ids and sorted(r["ids"]) == sorted(test_ids)
    assert r["truth_scores"] == pytest.approx([1.0] * len(test_ids), abs=1e-12)
    assert r["wrong_scores"] == [0.0] * len(test_ids)
    assert (r["truth_aggregate"], r["wrong_aggregate"]) == (pytest.approx(100.0), 0.0)
