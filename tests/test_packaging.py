"""A built package works without the checkout: the wheel carries conf/, scenes/ and templates/
as engine/_data/ (setup.py, engine/paths.py) and runs a small job from another folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytest.importorskip("wheel")


@pytest.mark.slow
def test_the_wheel_runs_a_job_outside_the_repository(tmp_path):
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheels), str(REPO)], capture_output=True, text=True, cwd=tmp_path)
    assert build.returncode == 0, build.stdout + build.stderr
    (whl,) = wheels.glob("spatialforge-*.whl")
    names = zipfile.ZipFile(whl).namelist()
    for data in ("engine/_data/scenes/catalog.yaml", "engine/_data/conf/config.yaml",
                 "engine/_data/conf/qa/default.yaml", "engine/_data/templates/relations.yaml"):
        assert data in names, data
    site = tmp_path / "site"
    zipfile.ZipFile(whl).extractall(site)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site))
    probe = subprocess.run([sys.executable, "-c",
                            "import json, engine, engine.paths as p; from engine.scene.catalog import load_catalog; "
                            "from engine.qa import load_templates; print(json.dumps([engine.__file__, str(p.CONF_DIR), "
                            "len(load_catalog().categories), len(load_templates())]))"],
                           capture_output=True, text=True, cwd=work, env=env)
    assert probe.returncode == 0, probe.stderr
    where, conf, n_cat, n_templates = json.loads(probe.stdout)
    assert where.startswith(str(site)) and conf == str(site / "engine" / "_data" / "conf")
    assert n_cat > 30 and n_templates > 50
    run = subprocess.run([sys.executable, "-m", "engine.cli", "generate", "num_scenes=2", f"out={work / 'ds'}",
                          "progress=false"], capture_output=True, text=True, cwd=work, env=env, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    manifest = json.loads((work / "ds" / "manifest.json").read_text())
    assert sum(sum(s["rows"].values()) for s in manifest["shards"].values()) > 0
