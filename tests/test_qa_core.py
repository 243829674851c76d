"""QA core: template loading and its errors, config validation, referring expressions, the
balancer, determinism and answer balance over a large run."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import numpy as np
import pytest
import yaml

from engine.qa import QAGenerator, TemplateError, load_templates, validate_qa_cfg
from engine.qa.balance import Balancer
from engine.qa.candidate import Candidate
from engine.qa.facts import ViewFacts, WorldFacts
from engine.qa.refer import Referrer, plural
from engine.qa.templates import Template
from engine.scene.catalog import load_catalog
from tests.qa_core_scenes import CORE_FAMILIES, core_templates, living_room, obj, random_scene, vis

GOOD = {"id": "relations.t1", "task": "left_right", "answer_type": "bool", "slots": {"A": "object", "B": "object"},
        "paraphrases": ["Is {A} left of {B}?", "Is {A} to the left of {B}?"]}


def _write(tmp_path, templates, family="relations", name="bad.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump({"family": family, "templates": templates}))
    return p


def test_core_templates_load(tmp_path):
    ts = load_templates(core_templates(tmp_path))
    assert {t.family for t in ts.values()} == set(CORE_FAMILIES)
    assert all(len(t.paraphrases) >= 2 for t in ts.values())
    assert len(ts) >= 45


@pytest.mark.parametrize("patch, field", [
    ({"answer_type": "maybe"}, "answer_type"),
    ({"paraphrases": ["Is {A} left of {C}?", "Is {A} left of {B}?"]}, "paraphrases[0]"),
    ({"paraphrases": ["Is {A} left?", "x {A} {B}"]}, "paraphrases[0]"),
    ({"paraphrases": ["only one {A} {B}"]}, "paraphrases"),
    ({"slots": {"A": "object", "B": "thing"}}, "slots.B"),
    ({"constraints": {"min_visibility": 0.3}}, "constraints.min_visibility"),
    ({"constraints": {"min_visible_fraction": 1.5}}, "constraints.min_visible_fraction"),
    ({"margins": {"min_angle_deg": -1}}, "margins.min_angle_deg"),
    ({"bins": [1.0, 0.5]}, "bins"),
    ({"task": "teleport"}, "task"),
    ({"colour": "red"}, "colour"),
    ({"paraphrases": ["Is {A!r} left of {B}?", "Is {A} left of {B}?"]}, "paraphrases[0]"),
])
def test_malformed_template_names_file_id_field(tmp_path, patch, field):
    p = _write(tmp_path, [{**GOOD, **patch}])
    with pytest.raises(TemplateError) as e:
        load_templates(p)
    msg = str(e.value)
    assert str(p) in msg and "relations.t1" in msg and repr(field) in msg, msg


def test_template_file_level_errors(tmp_path):
    with pytest.raises(TemplateError, match="not a registered family"):
        load_templates(_write(tmp_path, [GOOD], family="astrology"))
    with pytest.raises(TemplateError, match="duplicate"):
        load_templates(_write(tmp_path, [GOOD, GOOD]))
    with pytest.raises(TemplateError, match="'id'"):
        load_templates(_write(tmp_path, [{k: v for k, v in GOOD.items() if k != "id"}]))
    with pytest.raises(TemplateError, match="params.near"):
        load_templates(_write(tmp_path, [{**GOOD, "task": "next_to"}]))
    number = {**GOOD, "id": "measurement.x", "task": "height", "answer_type": "number", "slots": {"A": "object"},
              "paraphrases": ["How tall is {A}?", "Height of {A}?"]}
    with pytest.raises(TemplateError, match="'unit'"):
        load_templates(_write(tmp_path, [number], family="measurement"))
    (tmp_path / "broken.yaml").write_text("family: relations\ntemplates: [\n")
    with pytest.raises(TemplateError, match="broken.yaml"):
        load_templates(tmp_path / "broken.yaml")


def test_validate_qa_cfg_errors(tmp_path):
    validate_qa_cfg({})
    validate_qa_cfg({"families": ["relations"], "templates": core_templates(tmp_path)})
    validate_qa_cfg({"families": ["distance", "occlusion"], "templates": core_templates(tmp_path)})  # a tag and a family
    for bad, field in [({"colour": 1}, "qa.colour"), ({"families": ["astrology"], "templates": core_templates(tmp_path)}, "qa.families"),
                       ({"margins": {"min_rel_diff": -0.1}}, "qa.margins.min_rel_diff"),
                       ({"margins": {"min_angel": 3}}, "qa.margins.min_angel"),
                       ({"questions_per_view": 0}, "qa.questions_per_view"),
                       ({"visibility": {"min_fraction": 2}}, "qa.visibility.min_fraction"),
                       ({"answer_forms": ["essay"]}, "qa.answer_forms"),
                       ({"refer": {"scope": "world"}}, "qa.refer.scope")]:
        with pytest.raises(ValueError, match=field.replace(".", r"\.")):
            validate_qa_cfg(bad)


def _referrer(objs, visible_ids, size_ratio=1.5):
    from engine.scene.graph import Room, SceneGraph, View

    scene = SceneGraph("s", 0, Room("room", [6, 6, 2.5]), objs,
                       [View("view_0", [[200, 0, 319.5], [0, 200, 239.5], [0, 0, 1]], 640, 480, np.eye(4).tolist(),
                             {o.id: vis(1.0 if o.id in visible_ids else 0.0, 500) for o in objs})])
    w = WorldFacts(scene, load_catalog())
    return Referrer(w, [ViewFacts(w, scene.views[0])], {"material": {"wood": "wooden"}}, size_ratio)


def test_referring_expressions_minimal_and_unique():
    objs = [obj(0, "chair", [0, 0, 0.45], [0.5, 0.5, 0.9], color="red", material="wood"),
            obj(1, "chair", [1, 0, 0.45], [0.5, 0.5, 0.9], color="red", material="metal"),
            obj(2, "chair", [2, 0, 0.45], [0.5, 0.5, 0.9], color="blue", material="wood"),
            obj(3, "table", [0, 2, 0.4], [1, 1, 0.8], color="brown", material="wood"),
            obj(4, "mug", [3, 3, 0.05], [0.1, 0.1, 0.1], color="red", material="ceramic"),
            obj(5, "mug", [3, 2, 0.05], [0.2, 0.2, 0.2], color="red", material="ceramic"),
            obj(6, "mug", [2, 3, 0.05], [0.11, 0.11, 0.11], color="red", material="ceramic")]
    r = _referrer(objs, {o.id for o in objs})
    assert r.expression("obj_00") == "the red wooden chair"  # colour alone and material alone are shared
    assert r.expression("obj_01") == "the metal chair"
    assert r.expression("obj_02") == "the blue chair"
    assert r.expression("obj_03") == "the table"
    assert r.expression("obj_05") == "the largest mug"  # volume 8x and 6x the others
    assert r.expression("obj_04") is None  # 0.001 vs 0.00133 m^3: no size word is safe
    assert r.expression("obj_06") is None
    # scope: with obj_01 and obj_02 out of view, the red wooden chair is the only chair shown
    r2 = _referrer(objs[:4], {"obj_00", "obj_03"})
    assert r2.expression("obj_00", "view") == "the chair"
    assert r2.expression("obj_00", "scene") == "the red wooden chair"
    with pytest.raises(ValueError, match="rng"):
        r.refs(["obj_02", "obj_03"], "mark")
    # Mark numbers are a random permutation: each object's name matches its place in the
    # marks list the pipeline draws (mark k = object_ids[k - 1]), and both orders occur.
    seen = set()
    for seed in range(20):
        refs = r.refs(["obj_02", "obj_03", "obj_04"], "mark", rng=np.random.default_rng(seed))
        assert sorted(refs.names) == ["object 1", "object 2", "object 3"]
        for oid, name in zip(refs.ids, refs.names):
            assert refs.marks["object_ids"][int(name.split()[1]) - 1] == oid
        seen.add(refs.names)
    assert len(seen) > 1


def test_plural():
    assert plural("chair") == "chairs" and plural("box") == "boxes" and plural("potted plant") == "potted plants"
    assert plural("bookshelf", {"plural": {"bookshelf": "bookshelves"}}) == "bookshelves"
    assert plural("TV stand") == "TV stands"


def _cand(t, key, ctx=("x",)):
    return Candidate(template=t, question="q", answer_type="bool", value=key == "yes", rationale="r", objects=[],
                     view_ids=["v"], answer=key, answer_key=key, answer_space=("no", "yes"), context_key=ctx)


def test_balancer_rejects_beyond_slack_and_prefers_least_used():
    t = Template(id="x", family="relations", task="left_right", answer_type="bool", paraphrases=("a", "b"), slots={})
    b = Balancer(tolerance=0.0, min_slack=2, context_slack=5)
    rng = np.random.default_rng(0)
    assert b.choose([_cand(t, "yes")], rng) is None  # no candidate has shown another answer yet
    b.observe([_cand(t, "yes"), _cand(t, "no")])
    for _ in range(2):
        c = b.choose([_cand(t, "yes")], rng)
        assert c is not None
        b.commit(c)
    assert b.choose([_cand(t, "yes")], rng) is None  # yes would lead no by 3 > 2
    pick = b.choose([_cand(t, "yes"), _cand(t, "no")], rng)
    assert pick.answer_key == "no"
    # context level: the same (template, context) may not lead by more than context_slack
    b2 = Balancer(tolerance=0.0, min_slack=100, context_slack=1)
    b2.observe([_cand(t, a, c) for a in ("yes", "no") for c in (("mug", "table"), ("table", "mug"))])
    b2.commit(b2.choose([_cand(t, "yes", ("mug", "table"))], rng))
    assert b2.choose([_cand(t, "yes", ("mug", "table"))], rng) is None
    assert b2.choose([_cand(t, "yes", ("table", "mug"))], rng) is not None
    # letters: positions used evenly
    pos = [b.position("x", 4, rng) for _ in range(40)]
    assert Counter(pos) == {0: 10, 1: 10, 2: 10, 3: 10}


def test_generation_is_deterministic(tmp_path):
    cfg = {"templates": core_templates(tmp_path)}
    out = []
    for _ in range(2):
        g = QAGenerator(cfg, load_catalog())
        rows = []
        for k in range(3):
            rows += g.generate(random_scene(np.random.default_rng(k), 8, f"s{k}", n_views=2), np.random.default_rng(100 + k))
            rows += g.generate(living_room(), np.random.default_rng(7))
        out.append(json.dumps(rows, sort_keys=True))
    assert out[0] == out[1]
    assert len(json.loads(out[0])) > 30


def test_rows_follow_the_record_contract(tmp_path):
    g = QAGenerator({"templates": core_templates(tmp_path)}, load_catalog())
    rows = g.generate(living_room(), np.random.default_rng(3))
    keys = {"id", "scene_id", "view_ids", "family", "task", "template_id", "question", "answer", "answer_type",
            "choices", "answer_index", "value", "unit", "objects", "frame", "rationale", "marks", "meta", "paraphrase"}
    ids = set()
    for r in rows:
        assert set(r) == keys
        assert r["id"] not in ids
        ids.add(r["id"])
        assert r["answer_type"] in ("choice", "bool", "number", "count", "text", "json")
        assert (r["choices"] is None) == (r["answer_type"] != "choice")
        assert (r["answer_index"] is None) == (r["answer_type"] != "choice")
        assert r["frame"] in ("camera", "world")
        json.dumps(r)  # plain JSON types only
    assert len(rows) == 10  # questions_per_view default, one view


def test_balance_over_a_large_run(tmp_path):
    """Yes/no within 2 points of 50/50 per bool template; letters even per choice template."""
    g = QAGenerator({"templates": core_templates(tmp_path), "questions_per_view": 25,
                     "families": ["relations", "counting", "measurement"]}, load_catalog())
    rows = []
    for k in range(160):
        rows += g.generate(random_scene(np.random.default_rng(k), 9, f"s{k}"), np.random.default_rng(1000 + k))
    by_t = defaultdict(list)
    for r in rows:
        by_t[r["template_id"]].append(r)
    checked = 0
    for tid, rs in by_t.items():
        if rs[0]["answer_type"] == "bool" and len(rs) >= 100:
            share = sum(r["value"] for r in rs) / len(rs)
            assert abs(share - 0.5) <= 0.02, (tid, share, len(rs))
            checked += 1
        if rs[0]["answer_type"] == "choice":
            n = Counter(len(r["choices"]) for r in rs).most_common(1)[0][0]
            pos = Counter(r["answer_index"] for r in rs if len(r["choices"]) == n)
            # shuffled options: letters placed exactly evenly; ascending numeric ladders: the
            # position is balanced as the answer, within the balancer's slack
            ladder = rs[0]["task"] in ("object_distance", "camera_distance")
            slack = max(2, 0.02 * len(rs)) if ladder else 1
            assert max(pos.values()) - min(pos.get(i, 0) for i in range(n)) <= slack, (tid, pos)
    assert checked >= 5
    # dedup: no exact duplicate question per view
    keys = [(r["scene_id"], tuple(r["view_ids"]), r["question"]) for r in rows]
    assert len(keys) == len(set(keys))
