"""`spatialforge push`: what it uploads (only our files), the dry run, and its failures without a
network: a clear error, nothing changed locally, and the token never shown."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.pipeline.output import TOP_FILES
from engine.pipeline.publish import PublishError, push, upload_plan

TINY = ["num_scenes=2", "camera.width=64", "camera.height=64", "render.shadow_map_size=256", "progress=false",
        "executor.workers=1", "output.llava=true"]
TOKEN = "hf_plantedTOKENdoNotShow0123456789"


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("pub") / "ds"
    assert main(["generate", *TINY, f"out={out}"]) == 0
    (out / "my_notes.txt").write_text("not for the Hub")  # a user's file in the folder
    return out


def test_dry_run_lists_only_our_files(dataset, capsys):
    manifest = json.loads((dataset / "manifest.json").read_text())
    top = {n for n in TOP_FILES if (dataset / n).is_file()}
    assert {"README.md", "config.yaml", "manifest.json"} <= top
    ours = {rel for e in manifest["shards"].values() for rel in e["files"]} | top
    images = {str(p.relative_to(dataset)) for p in (dataset / "llava" / "images").iterdir()}
    plan = dict(upload_plan(dataset))
    assert set(plan) == ours | images and "my_notes.txt" not in plan
    assert all(plan[rel] == (dataset / rel).stat().st_size for rel in plan)
    assert main(["push", str(dataset), "--repo", "me/spatial", "--dry-run"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["files"] == len(plan) and out["bytes"] == sum(plan.values()) and out["dry_run"] is True
    assert {u["path"] for u in out["upload"]} == set(plan)


class _RecordingApi:
    """Stands in for huggingface_hub.HfApi: records each call; ``fail`` makes whoami raise."""

    def __init__(self, fail: Exception | None = None):
        self.calls: list[tuple[str, dict]] = []
        self.fail = fail

    def whoami(self, **kw):
        self.calls.append(("whoami", kw))
        if self.fail:
            raise self.fail
        return {"name": "me"}

    def create_repo(self, **kw):
        self.calls.append(("create_repo", kw))

    def create_branch(self, **kw):
        self.calls.append(("create_branch", kw))

    def upload_folder(self, **kw):
        self.calls.append(("upload_folder", kw))
        return type("Info", (), {"commit_url": "https://example.invalid/commit/1"})()


def test_upload_call_arguments(dataset):
    api = _RecordingApi()
    res = push(dataset, "me/spatial", private=True, revision="v1", api=api)
    names = [c[0] for c in api.calls]
    assert names == ["whoami", "create_repo", "create_branch", "upload_folder"]
    assert api.calls[1][1] == {"repo_id": "me/spatial", "repo_type": "dataset", "private": True, "exist_ok": True}
    assert api.calls[2][1] == {"repo_id": "me/spatial", "repo_type": "dataset", "branch": "v1", "exist_ok": True}
    up = api.calls[3][1]
    assert up["repo_id"] == "me/spatial" and up["repo_type"] == "dataset" and up["revision"] == "v1"
    assert Path(up["folder_path"]) == dataset
    assert up["allow_patterns"] == [rel for rel, _ in upload_plan(dataset)]
    assert res["files"] == len(up["allow_patterns"]) and res["url"].endswith("/commit/1")


def test_bad_token_message_hides_the_token(dataset, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    before = _tree(dataset)
    api = _RecordingApi(fail=RuntimeError(f"401 Unauthorized: invalid token {TOKEN}"))
    with pytest.raises(PublishError) as e:
        push(dataset, "me/spatial", api=api)
    assert TOKEN not in str(e.value) and "nothing was uploaded" in str(e.value) and "fix" in str(e.value)
    assert [c[0] for c in api.calls] == ["whoami"]  # nothing after the failed check
    assert _tree(dataset) == before


def test_unreachable_endpoint_changes_nothing(dataset, tmp_path):
    """The real client against an endpoint that refuses connections: exit 1, a clear message, the
    planted token in no output, and the dataset folder and the Hub cache untouched."""
    before = _tree(dataset)
    home = tmp_path / "home"
    env = dict(os.environ, HF_TOKEN=TOKEN, HF_ENDPOINT="http://127.0.0.1:9", HF_HOME=str(home),
               HF_HUB_DISABLE_TELEMETRY="1")
    r = subprocess.run([sys.executable, "-m", "engine.cli", "push", str(dataset), "--repo", "me/spatial"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr[-2000:]
    assert "could not be reached" in r.stderr and "fix" in r.stderr
    assert TOKEN not in r.stdout + r.stderr
    assert _tree(dataset) == before
    assert not any(TOKEN in p.read_text(errors="ignore") for p in home.rglob("*") if p.is_file())
    assert TOKEN not in (dataset / "README.md").read_text()


@pytest.mark.parametrize("case", ["not_a_folder", "no_manifest", "unfinished", "bad_repo"])
def test_refusals(case, dataset, tmp_path, capsys):
    target, repo = str(dataset), "me/spatial"
    if case == "not_a_folder":
        target = str(tmp_path / "missing")
    elif case == "no_manifest":
        (tmp_path / "f").mkdir()
        target = str(tmp_path / "f")
    elif case == "unfinished":
        import shutil

        shutil.copytree(dataset, tmp_path / "u")
        m = json.loads((tmp_path / "u" / "manifest.json").read_text())
        m["num_shards"] = len(m["shards"]) + 1
        (tmp_path / "u" / "manifest.json").write_text(json.dumps(m))
        target = str(tmp_path / "u")
    else:
        repo = "not a repo"
    assert main(["push", target, "--repo", repo, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "fix" in err and ("dataset" in err or "--repo" in err)
