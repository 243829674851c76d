"""The config checker (engine/schema.py) and the job config built on it: every problem of every
group is reported at once, each naming its dotted key, the bad value and the fix."""

from __future__ import annotations

import copy

import pytest

from engine.pipeline.config import compose_config, make_job, validate_config
from engine.schema import Checker, ConfigError, canonical_hash, merge


def test_checker_hand_cases():
    c = Checker({"a": {"n": 0, "r": [3, 1], "w": {"x": 0, "y": 0}, "extra": 1}, "b": "yes"}, "grp")
    assert c.keys("a", ["n", "r", "w", "m"]) is True
    assert c.number("a.n", 0, strict=True) is False
    assert c.pair("a.r", 0) is False
    assert c.weights("a.w") is False
    assert c.boolean("b") is False
    assert c.number("a.m", 0) is False  # missing: reported once, by keys()
    assert c.errors == [
        "grp.a.extra: unknown key; fix: remove it (valid keys: n, r, w, m)",
        "grp.a.m: missing; fix: add it",
        "grp.a.n: got 0; fix: set it to a number > 0",
        "grp.a.r: [3, 1] must satisfy 0 <= min <= max; fix: reorder or narrow the range",
        "grp.a.w: all weights are 0; fix: give at least one a positive weight",
        "grp.b: got 'yes'; fix: set it to true or false",
    ]


def test_checker_rejects_bools_and_non_finite_numbers():
    c = Checker({"i": True, "f": float("nan"), "g": float("inf")}, "x")
    assert not c.number("i", integer=True) and not c.number("f") and not c.number("g", 0)
    assert [e.split(":")[0] for e in c.errors] == ["x.i", "x.f", "x.g"]


def test_merge_and_hash():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    out = merge(base, {"a": {"b": 2}, "e": 3})
    assert out == {"a": {"b": 2, "c": [1, 2]}, "d": 1, "e": 3} and base["a"]["b"] == 1
    out["a"]["c"].append(3)
    assert base["a"]["c"] == [1, 2]  # a deep copy
    # key order does not change the hash; a value does
    assert canonical_hash({"x": 1, "y": [1.5]}) == canonical_hash({"y": [1.5], "x": 1}) != canonical_hash({"x": 2, "y": [1.5]})


# One unknown key at every level of every group: each is reported by its full dotted name.
UNKNOWN = [
    (("bogus",), "bogus"),
    (("output", "bogus"), "output.bogus"),
    (("executor", "bogus"), "executor.bogus"),
    (("stages", "bogus"), "stages.bogus"),
    (("split", "bogus"), "split.bogus"),
    (("scene", "bogus"), "scene.bogus"),
    (("scene", "room", "bogus"), "scene.room.bogus"),
    (("scene", "clearance", "bogus"), "scene.clearance.bogus"),
    (("camera", "bogus"), "camera.bogus"),
    (("camera", "profiles", "room", "bogus"), "camera.profiles.room.bogus"),
    (("render", "bogus"), "render.bogus"),
    (("qa", "bogus"), "qa.bogus"),
    (("qa", "visibility", "bogus"), "qa.visibility.bogus"),
    (("qa", "refer", "bogus"), "qa.refer.bogus"),
    (("qa", "balancing", "bogus"), "qa.balancing.bogus"),
    (("qa", "margins", "bogus"), "qa.margins.bogus"),
]


@pytest.fixture(scope="module")
def default_cfg():
    return compose_config([])


def test_default_config_is_valid(default_cfg):
    assert validate_config(default_cfg) == []


@pytest.mark.parametrize("path,name", UNKNOWN, ids=[n for _, n in UNKNOWN])
def test_unknown_key_named_at_every_level(default_cfg, path, name):
    cfg = copy.deepcopy(default_cfg)
    node = cfg
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = 1
    errors = validate_config(cfg)
    assert len(errors) == 1 and errors[0].startswith(f"{name}: unknown key; fix: remove it"), errors


def test_every_problem_reported_at_once(default_cfg):
    cfg = copy.deepcopy(default_cfg)
    cfg["num_scenes"] = 0
    cfg["camera"]["width"] = "640"
    cfg["scene"]["room"]["size_x"] = [5, 2]
    cfg["render"]["ambient"] = 2
    cfg["qa"]["decimals"] = 9
    cfg["output"]["compression"] = "lz4"
    with pytest.raises(ConfigError) as e:
        make_job(cfg)
    keys = [line.strip().split(":")[0] for line in str(e.value).splitlines()[1:]]
    assert keys == ["num_scenes", "output.compression", "scene.room.size_x", "camera.width", "render.ambient",
                    "qa.decimals"]
    assert all("fix:" in line for line in str(e.value).splitlines()[1:])
