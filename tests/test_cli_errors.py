"""Overrides Hydra refuses: the error names the key Hydra complains about (not another override
whose name happens to appear in the message) and the fix, and the command exits 2."""

from __future__ import annotations

import pytest

from engine.cli import main
from engine.pipeline.config import ConfigError, compose_config, config_groups


def _error(capsys, *args: str) -> str:
    """Run ``spatialforge config ARGS``, assert exit 2, return the error text."""
    assert main(["config", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


@pytest.mark.parametrize("args, line", [
    # unknown nested keys, after other overrides whose names Hydra's message does not hold
    (["out=/tmp/x", "camera.widht=5"],
     "camera.widht: unknown key; fix: did you mean camera.width? (add a new key with +camera.widht=... only "
     "if a stage reads it)"),
    (["seed=1", "out=outputs/x", "qa.visibility.min_fractio=0.2"],
     "qa.visibility.min_fractio: unknown key; fix: did you mean qa.visibility.min_fraction?"),
    # a misspelt part in the middle of the path
    (["qa.visibilty.min_fraction=0.2"], "qa.visibilty.min_fraction: unknown key; fix: did you mean "
                                        "qa.visibility.min_fraction?"),
    (["camera.profiles.room.pitch_de=3"], "camera.profiles.room.pitch_de: unknown key; fix: did you mean "
                                          "camera.profiles.room.pitch_deg?"),
    (["render.default_lights.0.typ=ambient"], "render.default_lights.0.typ: unknown key; fix: did you mean "
                                              "render.default_lights.0.type?"),
    # misspelt top-level keys
    (["num_scene=5"], "num_scene: unknown key; fix: did you mean num_scenes?"),
    (["scen=room"], "scen: unknown key; fix: did you mean scene?"),
    # an override named `scene...` before the bad one used to take the blame
    (["scene=tabletop", "scene.bar=2"], "scene.bar: unknown key; fix: use one of the keys of scene: type, catalog, "
                                        "room, table,"),
    # a key of another option of the group
    (["scene=tabletop", "scene.doorway.width=1"], "scene.doorway.width: unknown key with the chosen scene; fix: it "
                                                  "is a key of scene=room"),
    (["camera.width.x=3"], "camera.width.x: unknown key; fix: camera.width holds a value, not keys"),
    (["~camera.widht"], "camera.widht: cannot delete an unknown key; fix: did you mean ~camera.width?"),
    (["+camera.width=5"], "camera.width: the key exists, so + cannot add it; fix: drop the + (camera.width=5)"),
])
def test_unknown_key_names_the_key_and_the_nearest_valid_one(capsys, args, line):
    err = _error(capsys, *args)
    assert f"spatialforge config: error: {line}" in err, err


@pytest.mark.parametrize("args, group, fix", [
    (["seed=3", "scene=rooom"], "scene", "did you mean scene=room?"),
    (["preset=sat"], "preset", "did you mean preset=sat_like?"),
    (["executor=spark"], "executor", "pick one with executor=<option>"),
])
def test_misspelt_group_option_names_the_group_and_lists_its_options(capsys, args, group, fix):
    err = _error(capsys, *args)
    options = config_groups()[group]
    bad = args[-1].split("=")[1]
    assert (f"error: {group}: unknown option '{bad}'; fix: {fix} (options of {group}: {', '.join(options)}; "
            f"the files in conf/{group}/)") in err, err


def test_group_options_come_from_the_conf_folder():
    groups = config_groups()
    assert groups["scene"] == ["open", "room", "tabletop"]
    assert groups["executor"] == ["local", "ray"]
    assert groups["preset"] == ["openspatial_like", "sat_like", "video"]
    assert set(groups) == {"camera", "executor", "output", "preset", "qa", "render", "scene", "split"}


def test_every_refused_override_is_listed_at_once(capsys):
    err = _error(capsys, "camera.widht=1", "num_scene=3", "scene=rooom", "qa.foo=2", "seed=4")
    assert err.startswith("spatialforge config: error: invalid overrides:\n")
    lines = err.splitlines()[1:]
    assert [line.split(":")[0].strip() for line in lines] == ["scene", "camera.widht", "num_scene", "qa.foo"]
    assert "did you mean scene=room?" in lines[0] and "did you mean camera.width?" in lines[1]
    assert "did you mean num_scenes?" in lines[2] and "use one of the keys of qa: families," in lines[3]


@pytest.mark.parametrize("override, key", [("qa.families=[a", "qa.families"), ("seed", "seed")])
def test_syntax_error_names_its_override(capsys, override, key):
    err = _error(capsys, "num_scenes=4", override)
    assert f"error: {key}: cannot parse the override '{override}'" in err and "fix: write key=value" in err


def test_override_without_key(capsys):
    assert "error: =5: the override has no key; fix: write key=value" in _error(capsys, "=5")


def test_library_call_raises_config_error():
    with pytest.raises(ConfigError, match=r"^camera\.widht: unknown key; fix: did you mean camera\.width\?"):
        compose_config(["camera.width=64", "camera.widht=5"])
    # a valid composition is untouched
    assert compose_config(["camera.width=64", "scene=tabletop"])["camera"]["width"] == 64
