"""Factors (conf/factors.yaml) and split strategies (docs/splits.md): the factor values of a
hand-checkable row, every strategy on a small generated set with the leakage checker passing,
the checker failing on a copy with a held-out row moved into train, datasets.load_dataset on a
held-out-split dataset, and the strategy config errors."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.cli import main
from engine.eval.leaks import check_splits, normalise_question
from engine.pipeline.config import load_job
from engine.pipeline.run import generate
from engine.qa.factors import factors_table, load_factors
from engine.qa.split_rules import make_rule
from engine.qa.templates import load_templates
from engine.scene.graph import SceneGraph

REPO = Path(__file__).resolve().parents[1]
BASE = ["num_scenes=8", "camera.width=48", "camera.height=48", "render.shadow_map_size=256", "progress=false",
        "executor.workers=1", "split.ratios.train=0.6", "split.ratios.validation=0.0", "split.ratios.test=0.4",
        "qa.questions_per_view=6"]


def _rows(out: Path, split: str | None = None) -> list[dict]:
    rows = []
    for p in sorted((out / "data").glob("*.parquet")):
        s = p.name.split("-")[0]
        if split is None or s == split:
            for r in pq.read_table(p, columns=["id", "scene_id", "view_ids", "question", "objects", "marks",
                                                "factors", "scene", "template_id"]).to_pylist():
                r["split"] = s
                r["f"] = json.loads(r["factors"])
                rows.append(r)
    return rows


def _make(out: Path, *extra: str) -> dict:
    return generate(load_job([*BASE, f"out={out}", *extra]))


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("splits") / "random"
    s = _make(out)
    assert s["split_check"]["ok"]
    return out


def test_factors_docs_match_the_registry():
    text = (REPO / "docs" / "factors.md").read_text()
    assert factors_table() in text, "docs/factors.md: regenerate the table with engine.qa.factors.factors_table()"
    assert "`factors`" in (REPO / "docs" / "record.md").read_text()


def test_factor_values_of_a_row(base):
    rows = _rows(base)
    reg = load_factors()
    templates = load_templates(None)
    checked = 0
    for r in rows:
        f, scene = r["f"], SceneGraph.from_json(r["scene"])
        assert set(f) == set(reg)
        assert f["num_objects"] == len(scene.objects)
        assert f["room_type"] == (scene.room.room_type or scene.room.type)
        by_id = {o.id: o for o in scene.objects}
        assert f["ref_categories"] == sorted({by_id[i].category for i in r["objects"]})
        assert f["num_refs"] == len(r["objects"])
        assert f["num_views"] == len(r["view_ids"])
        assert f["scene_categories"] == sorted({o.category for o in scene.objects})
        assert f["referring"] == ("marks" if r["marks"] else "expression" if r["objects"] else "none")
        t = templates[r["template_id"]]
        prefix = t.paraphrases[f["paraphrase"]].split("{")[0]
        assert r["question"].lower().startswith(prefix.lower()), (r["question"], prefix)
        if not r["view_ids"]:  # a question about the scene, no view
            assert f["image_size"] is None
            continue
        view = next(v for v in scene.views if v.id == r["view_ids"][0])
        assert f["image_size"] == f"{view.width}x{view.height}"
        assert f["camera_height"] == round(view.params["height"], 3)
        if r["objects"]:
            vis = [view.objects[i].visible_fraction for i in r["objects"] if i in view.objects]
            if len(r["view_ids"]) == 1 and vis:
                assert f["ref_visible_min"] == round(min(vis), 4)
            checked += 1
    assert checked > 10


def test_no_qa_rows_carry_scene_and_view_factors(tmp_path):
    out = tmp_path / "noqa"
    _make(out, "num_scenes=2", "stages.qa=false")
    levels = {n: f.level for n, f in load_factors().items()}
    for r in _rows(out):
        assert {levels[k] for k in r["f"]} == {"scene", "view"}


def _pick(base: Path) -> dict:
    """Held-out values present in some but not all of the base set's scenes or rows."""
    rows = _rows(base)
    scenes = {r["scene_id"]: r["f"] for r in rows}
    n = len(scenes)
    cat = Counter(c for f in scenes.values() for c in f["scene_categories"])
    pair = Counter(c for f in scenes.values() for c in f["scene_color_pairs"])
    tmpl = Counter(r["f"]["template_id"] for r in rows)
    task = Counter(r["f"]["task"] for r in rows)
    return {"cat": next(c for c, k in cat.most_common() if k < n), "pair": next(c for c, k in pair.most_common() if k < n),
            "tmpl": tmpl.most_common(1)[0][0], "task": task.most_common(1)[0][0],
            "room": next(iter(scenes.values()))["room_type"]}


STRATEGIES = {
    "heldout_categories": lambda v: ["split.strategy=heldout_categories", f"split.params={{categories:[{v['cat']}]}}"],
    "heldout_combos": lambda v: ["split.strategy=heldout_combos", f"split.params={{kind:color,pairs:['{v['pair']}']}}"],
    "heldout_room_types": lambda v: ["split.strategy=heldout_room_types", f"split.params={{room_types:[{v['room']}]}}",
                                     "split.keep_other_rows_in_heldout=false"],
    "heldout_templates": lambda v: ["split.strategy=heldout_templates", f"split.params={{templates:['{v['tmpl']}']}}"],
    "heldout_paraphrases": lambda v: ["split.strategy=heldout_paraphrases", "split.params={paraphrases:[0]}",
                                      "split.keep_other_rows_in_heldout=false"],
    "heldout_tasks": lambda v: ["split.strategy=heldout_tasks", f"split.params={{tasks:[{v['task']}]}}"],
    "ood": lambda v: ["split.strategy=ood", "split.params={factor:ref_visible_min,max:0.5}"],
    "ood_bins": lambda v: ["split.strategy=ood", "split.params={factor:num_objects,bins:[2,3]}"],
}


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategy(name, base, tmp_path):
    out = tmp_path / name
    over = STRATEGIES[name](_pick(base))
    summary = _make(out, *over)
    assert summary["split_check"]["ok"], summary["split_check"]
    rec = json.loads((out / "splits.json").read_text())
    assert rec["strategy"] == over[0].split("=")[1] and rec["rule_hash"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["split_rule"]["rule_hash"] == rec["rule_hash"]
    rule = make_rule({k: rec[k] for k in ("ratios", "strategy", "params", "heldout_split", "keep_other_rows_in_heldout")})
    rows = _rows(out)
    base_rows = {r["id"]: r for r in _rows(base)}
    assert {r["id"] for r in rows} <= set(base_rows)  # the same rows, routed (same seed)
    scene_split = {}
    for r in rows:
        assert scene_split.setdefault(r["scene_id"], r["split"]) == r["split"]  # one split per scene
        assert r["split"] == "test" or not rule.held_out(r["f"])
        if not rec["keep_other_rows_in_heldout"] and r["split"] == "test":
            assert rule.held_out(r["f"])
    held = [r for r in base_rows.values() if rule.held_out(r["f"])]
    if rule.level == "scene":  # every held-out row moved along with its scene, none dropped
        assert {r["id"] for r in held} <= {r["id"] for r in rows if r["split"] == "test"}
    dropped = sum(rec["dropped_rows"].values())
    assert len(rows) == len(base_rows) - dropped
    assert summary["rows"] == len(rows)


@pytest.fixture(scope="module")
def heldout(base, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("splits") / "heldout"
    _make(out, *STRATEGIES["heldout_categories"](_pick(base)))
    return out


def test_checker_finds_a_moved_row(heldout, tmp_path, capsys):
    out = tmp_path / "leaky"
    shutil.copytree(heldout, out)
    rec = json.loads((out / "splits.json").read_text())
    rule = make_rule({k: rec[k] for k in ("ratios", "strategy", "params", "heldout_split", "keep_other_rows_in_heldout")})
    test_p, train_p = (next((out / "data").glob(f"{s}-*.parquet")) for s in ("test", "train"))
    test_t, train_t = pq.read_table(test_p), pq.read_table(train_p)
    k = next(i for i, f in enumerate(test_t.column("factors").to_pylist()) if rule.held_out(json.loads(f)))
    moved = test_t.slice(k, 1)
    pq.write_table(pa.concat_tables([train_t, moved.cast(train_t.schema)]), train_p)
    pq.write_table(pa.concat_tables([test_t.slice(0, k), test_t.slice(k + 1)]), test_p)
    res = check_splits(out)
    assert not res["ok"]
    assert res["leaks"]["heldout_value"] == 1 and res["leaks"]["scene"] >= 1
    assert any(moved.column("id")[0].as_py() in e for e in res["examples"])
    assert main(["check-splits", str(out)]) == 1
    err = capsys.readouterr().err
    assert "heldout_value 1" in err and "scene_categories" in err
    assert main(["check-splits", str(heldout)]) == 0
    assert main(["check-splits", str(tmp_path / "nothing")]) == 2


def test_load_dataset_reads_every_split(heldout):
    import datasets

    rec = json.loads((heldout / "splits.json").read_text())
    ds = datasets.load_dataset(str(heldout))
    assert {s for s, n in rec["rows"].items() if n} == set(ds)
    for s, d in ds.items():
        assert len(d) == rec["rows"][s]
        assert "factors" in d.features
        json.loads(d[0]["factors"])


@pytest.mark.parametrize("over, key", [
    (["split.strategy=bogus"], "split.strategy"),
    (["split.strategy=ood", "split.params={factor:bogus,min:1}"], "split.params.factor"),
    (["split.strategy=ood", "split.params={factor:num_objects,bins:[9]}"], "split.params.bins"),
    (["split.strategy=ood", "split.params={factor:num_objects,min:5,max:2}"], "split.params.min"),
    (["split.strategy=heldout_categories", "split.params={colours:[red]}"], "split.params.colours"),
    (["split.strategy=heldout_combos", "split.params={kind:color,pairs:[red]}"], "split.params.pairs"),
    (["split.strategy=heldout_tasks", "split.params={tasks:[x]}", "split.heldout_split=validation",
      "split.ratios.validation=0.0", "split.ratios.train=0.95"], "split.heldout_split"),
])
def test_bad_strategy_config_exits_2(over, key, tmp_path, capsys):
    assert main(["config", *over]) == 2
    err = capsys.readouterr().err
    assert key in err and "fix" in err


def test_normalised_questions():
    a = normalise_question("Is the red chair 2.5 m from the lamp?", ["chair", "lamp"])
    assert a == normalise_question("is the red CHAIR 3 m from the lamp?", ["chair", "lamp"]) == \
        "is the red <obj> # m from the <obj>?"


def test_blind_meter_does_not_read_factors():
    assert "factors" not in (REPO / "engine" / "eval" / "blind.py").read_text()


def test_run_check_equals_check_splits_and_catches_a_planted_leak(base, tmp_path, monkeypatch):
    """generate checks splits from its workers' row keys, not by reading the folder back: its
    report must be check-splits' report on the folder, leaks included (a held-out row planted in
    train and its scene split over train and test, in shard 1), also after a resume that makes
    shard 0 again and reads shard 1 from disk."""
    import engine.pipeline.shard as shard_mod

    out = tmp_path / "planted"
    over = [*STRATEGIES["heldout_tasks"](_pick(base)), "output.scenes_per_shard=4"]
    real, planted = shard_mod.route_scene, []

    def leaky(rule, seed, scene_index, ratios, row_factors):
        routes, moved = real(rule, seed, scene_index, ratios, row_factors)
        held = [i for i, f in enumerate(row_factors) if rule.held_out(f)]
        kept = [i for i, r in enumerate(routes) if r is not None and i not in held]
        if scene_index >= 4 and not planted and held and kept:
            planted.append(scene_index)
            routes = list(routes)
            routes[held[0]] = "train"  # a held-out task outside the held-out split
            routes[kept[0]] = "test" if routes[kept[0]] == "train" else "train"  # the scene in two splits
        return routes, moved

    monkeypatch.setattr(shard_mod, "route_scene", leaky)
    first = _make(out, *over)
    assert planted, "no scene of shard 1 had a held-out row to plant"
    disk = check_splits(out)
    assert not disk["ok"] and disk["leaks"]["heldout_value"] == 1 and disk["leaks"]["scene"] >= 1
    assert first["split_check"] == {k: disk[k] for k in ("ok", "leaks", "examples")}

    monkeypatch.setattr(shard_mod, "route_scene", real)
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["shards"][min(manifest["shards"])]  # shard 0: made again; shard 1 is read from disk
    (out / "manifest.json").write_text(json.dumps(manifest))
    again = _make(out, *over)
    assert again["shards_made"] == 1 and again["shards_skipped"] == 1
    assert again["split_check"] == {k: check_splits(out)[k] for k in ("ok", "leaks", "examples")}
    assert again["split_check"]["leaks"] == disk["leaks"]
