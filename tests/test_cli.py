"""The spatialforge command: generate, config, glb, presets, error exits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.pipeline.config import load_job

REPO = Path(__file__).resolve().parents[1]
TINY = ["num_scenes=3", "output.scenes_per_shard=2", "camera.width=64", "camera.height=64", "stages.qa=false",
        "render.shadow_map_size=256", "progress=false", "executor.workers=1"]


def test_generate_then_glb(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["generate", *TINY, f"out={out}"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["shards"] == 2 and summary["shards_made"] == 2
    records = [json.loads(l) for p in sorted((out / "scenes").glob("*.jsonl")) for l in p.read_text().splitlines()]
    assert [r["scene_id"] for r in records] == ["s000000000", "s000000001", "s000000002"]
    # rows without QA: one per view
    assert summary["rows"] == sum(len(r["views"]) for r in records)
    # rerun with --resume: nothing to do
    assert main(["generate", *TINY, f"out={out}", "--resume"]) == 0
    assert json.loads(capsys.readouterr().out)["shards_skipped"] == 2

    import trimesh
    glb = tmp_path / "glb" / "s1.glb"
    assert main(["glb", f"out={out}", "scene_id=s000000001", f"path={glb}"]) == 0
    loaded = trimesh.load(glb)
    names = " ".join(loaded.geometry) + " " + " ".join(loaded.graph.nodes)
    for obj in records[1]["objects"]:
        assert obj["id"] in names
    assert main(["glb", f"out={out}", "scene_id=s000000042", f"path={glb}"]) == 2
    assert "s000000042" in capsys.readouterr().err


def test_bad_override_exits_2_naming_the_key(tmp_path, capsys):
    assert main(["generate", "num_scenes=-1", f"out={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert "num_scenes" in err and "fix" in err


def test_unknown_flag_and_command(capsys):
    with pytest.raises(SystemExit, match="--bogus"):
        main(["generate", "--bogus"])
    assert main(["frobnicate"]) == 2


def test_config_prints_resolved_config_with_hash(capsys):
    assert main(["config", "scene=tabletop", "seed=3"]) == 0
    text = capsys.readouterr().out
    job = load_job(["scene=tabletop", "seed=3"])
    assert text.startswith(f"# config_hash: {job.config_hash}")
    assert "type: tabletop" in text


@pytest.mark.parametrize("preset, families", [
    ("openspatial_like", {"measurement", "relations", "camera", "multiview", "grounding", "counting", "perspective"}),
    ("sat_like", {"relations", "motion", "perspective", "camera", "occlusion"}),
])
def test_presets_set_task_mix(preset, families):
    job = load_job([f"preset={preset}"])
    assert set(job.cfg["qa"]["families"]) == families
    assert job.config_hash != load_job([]).config_hash
    # a command-line override still wins over the preset
    assert load_job([f"preset={preset}", "qa.families=[relations]"]).cfg["qa"]["families"] == ["relations"]


def test_console_script_help():
    exe = Path(sys.executable).parent / "spatialforge"  # installed by `pip install -e .` (make)
    assert exe.exists(), f"{exe}: the console script is missing; fix: make setup (pip install -e .)"
    res = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "spatialforge generate" in res.stdout


def _key_defaults(text: str) -> dict[str, str]:
    """key -> default as printed under "most used keys"."""
    part = text.split("most used keys", 1)[1].split("\n\n", 1)[0]
    return dict(line.split()[0].split("=", 1) for line in part.splitlines()[1:] if line.startswith("  ") and "=" in
                line.split()[0])


@pytest.mark.parametrize("argv", [["generate", "--help"], ["generate", "-h"], ["help", "generate"],
                                  ["generate", "num_scenes=5", "--help"]])
def test_generate_help_lists_groups_and_keys(capsys, argv):
    from engine.cli import HELP_KEYS, _yaml_text
    from engine.paths import config_groups

    assert main(argv) == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: spatialforge generate [-m] [key=value ...] [--resume] [--overwrite]")
    assert "--resume" in text and "--overwrite" in text
    for group, options in config_groups().items():  # every group with every option, read from conf/
        line = next(l for l in text.splitlines() if l.startswith(f"  {group} "))
        assert [o.replace(" (default)", "") for o in line.split(None, 1)[1].split("   (")[0].split(" | ")] == options
    assert "  scene      open | room (default) | tabletop" in text
    assert "  executor   local (default) | ray" in text
    # the defaults printed are the ones the composed config has
    cfg = load_job([]).cfg
    printed = _key_defaults(text)
    assert list(printed) == list(HELP_KEYS)
    for key, shown in printed.items():
        value = cfg
        for part in key.split("."):
            value = value[part]
        assert shown == _yaml_text(value), key
    assert "image width, pixels" in text  # the YAML line's comment


def test_demo_config_glb_help(capsys):
    assert main(["demo", "--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: spatialforge demo")
    assert _key_defaults(text)["num_scenes"] == "50" and _key_defaults(text)["out"] == "outputs/demo"
    assert main(["config", "-h"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: spatialforge config") and "scene      open | room" in text
    assert "--resume" not in text
    assert main(["help", "glb"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: spatialforge glb out=DIR scene_id=") and "scene_id" in text
    assert main(["help", "frobnicate"]) == 2


def test_help_runs_no_job(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["generate", f"out={out}", "--help"]) == 0
    assert not out.exists()
    exe = Path(sys.executable).parent / "spatialforge"
    res = subprocess.run([str(exe), "generate", "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "most used keys" in res.stdout and res.stderr == ""
