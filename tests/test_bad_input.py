"""The bad-input suite: every bad input or fault below is refused (or survived) with the right exit
code, a message naming the input and the fix, nothing changed outside our files and nothing of
ours lost. Files around each run are checksummed before and after (:func:`snapshot`)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main

REPO = Path(__file__).resolve().parents[1]
TINY = ["num_scenes=2", "camera.width=64", "camera.height=64", "render.shadow_map_size=256", "progress=false",
        "executor.workers=1", "split.ratios.train=1.0", "split.ratios.validation=0", "split.ratios.test=0"]


MADE = [*TINY, "output.llava=true"]  # the finished dataset the folder tests start from


def snapshot(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Relative path -> sha256 (files) or 'dir' for everything under ``root``, dot-files included,
    leaving out the relative paths in ``skip``."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for d in dirs:
            out[os.path.relpath(os.path.join(dirpath, d), root)] = "dir"
        for f in files:
            p = os.path.join(dirpath, f)
            out[os.path.relpath(p, root)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return {k: v for k, v in out.items() if k not in skip}


def dataset_bytes(ds: Path) -> dict[str, str]:
    """:func:`snapshot` of a dataset without config.yaml, which records the run's own ``out=`` path
    (a copy of a dataset in another folder differs there and nowhere else)."""
    return snapshot(ds, skip=("config.yaml",))


def user_folder(root: Path) -> Path:
    """A folder of someone else's files, dot-files and a scenes/ and data/ folder among them."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text("my notes\n")
    (root / "config.yaml").write_text("mine: true\n")
    (root / ".env").write_text("SECRET=1\n")
    (root / "scenes").mkdir(exist_ok=True)
    (root / "scenes" / "kitchen.yaml").write_text("objects: []\n")
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "mine.parquet").write_bytes(b"not ours")
    return root


def cli(args: list[str], capsys) -> tuple[int, str]:
    """Run ``spatialforge`` in this process; (exit code, stderr)."""
    code = main(args)
    return code, capsys.readouterr().err


def refused(args: list[str], names: str, tmp_path: Path, capsys, code: int = 2) -> str:
    """Run a bad command: the exit code is ``code``, the message names ``names`` and a fix, and
    nothing under ``tmp_path`` changed (the output folder is not even created)."""
    before = snapshot(tmp_path)
    rc, err = cli(args, capsys)
    assert rc == code, err
    assert names in err and "fix" in err, err
    assert snapshot(tmp_path) == before, "a refused run changed files"
    return err


# ------------------------------------------------------------------ config values and keys

BAD_VALUES = [
    # (override, the key the message must name)
    ("num_scenes=0", "num_scenes"),
    ("num_scenes=-1", "num_scenes"),
    ("num_scenes=abc", "num_scenes"),
    ("num_scenes=1000000000000", "num_scenes"),
    ("num_scenes=2.5", "num_scenes"),
    ("seed=-1", "seed"),
    ("camera_retries=1000", "camera_retries"),
    ("resume=maybe", "resume"),
    ("output.scenes_per_shard=0", "output.scenes_per_shard"),
    ("output.row_group_size=0", "output.row_group_size"),
    ("output.compression=lz4", "output.compression"),
    ("output.image_format=gif", "output.image_format"),
    ("output.jpeg_quality=101", "output.jpeg_quality"),
    ("output.jpeg_subsampling=4:1:1", "output.jpeg_subsampling"),
    ("output.depth=2", "output.depth"),
    ("output.llava=yes_please", "output.llava"),
    ("executor.name=spark", "executor.name"),
    ("executor.workers=0", "executor.workers"),
    ("executor.cpus_per_worker=0", "executor.cpus_per_worker"),
    ("stages.render=2", "stages.render"),
    ("split.ratios.train=1.5", "split.ratios.train"),
    ("split.ratios.train=0.5", "split.ratios"),
    ("camera.width=0", "camera.width"),
    ("camera.width=1", "camera.width"),
    ("camera.width=100000", "camera.width"),
    ("camera.height=20000", "camera.height"),
    ("camera.fov_deg=[80,60]", "camera.fov_deg"),
    ("camera.fov_deg=[60,200]", "camera.fov_deg"),
    ("camera.num_views=0", "camera.num_views"),
    ("camera.near_m=0", "camera.near_m"),
    ("camera.min_rotation_deg=270", "camera.min_rotation_deg"),
    ("camera.profiles.room.pitch_deg=[-95,-10]", "camera.profiles.room.pitch_deg"),
    ("camera.profiles.room.inside_room=sometimes", "camera.profiles.room.inside_room"),
    ("scene.room.size_x=[5,2]", "scene.room.size_x"),
    ("scene.counts.furniture=[-1,3]", "scene.counts.furniture"),
    ("scene.small_on_floor_prob=2", "scene.small_on_floor_prob"),
    ("scene.yaw_jitter=nan", "scene.yaw_jitter"),
    ("scene.categories.furniture={bed: -1}", "scene.categories.furniture.bed"),
    ("render.backend=vulkan", "render.backend"),
    ("render.msaa_samples=3", "render.msaa_samples"),
    ("render.near_m=-1", "render.near_m"),
    ("render.far_m=inf", "render.far_m"),
    ("render.ambient=2", "render.ambient"),
    ("render.background=[2,0,0]", "render.background"),
    ("render.shadow_map_size=100", "render.shadow_map_size"),
    ("qa.decimals=9", "qa.decimals"),
    ("qa.families=[nosuch]", "qa.families"),
    ("qa.answer_forms=[essay]", "qa.answer_forms"),
    ("qa.visibility.min_fraction=1.5", "qa.visibility.min_fraction"),
    ("qa.refer.scope=world", "qa.refer.scope"),
    ("qa.margins.min_rel_diff=-1", "qa.margins.min_rel_diff"),
    ("qa.balancing.varied=often", "qa.balancing.varied"),
]



UNKNOWN_KEYS = [
    ("+bogus=1", "bogus"),
    ("+output.bogus=1", "output.bogus"),
    ("+executor.bogus=1", "executor.bogus"),
    ("+camera.profiles.room.bogus=1", "camera.profiles.room.bogus"),
    ("+scene.room.bogus=1", "scene.room.bogus"),
    ("+render.bogus=1", "render.bogus"),
    ("+qa.visibility.bogus=1", "qa.visibility.bogus"),
    ("+qa.balancing.bogus=1", "qa.balancing.bogus"),
    ("num_scene=5", "num_scene"),
    ("scene=rooom", "scene"),
]


@pytest.mark.parametrize("override,key", BAD_VALUES + UNKNOWN_KEYS, ids=[o for o, _ in BAD_VALUES + UNKNOWN_KEYS])
def test_bad_value_or_key(override, key, tmp_path, capsys):
    """A wrong type or range, or an unknown or misspelt key at any level: exit 2 naming the key."""
    refused(["generate", override, f"out={tmp_path / 'ds'}"], key, tmp_path, capsys)


CONTRADICTIONS = [
    (["camera.num_views=1", "qa.families=[multiview]"], "camera.num_views"),
    (["qa.families=[measurement,ascii]", "qa.answer_forms=[ascii]"], "qa.families: 'measurement'"),
    (["qa.tags=[no_such_tag]"], "qa"),
    (["+scene.categories.furniture.hovercraft=1"], "scene.categories.furniture.hovercraft"),
    (["split.strategy=heldout_categories", "split.params={categories:[chiar]}", "split.ratios.train=0.5", "split.ratios.test=0.5"], "split.params.categories: 'chiar'"),
    (["split.strategy=heldout_templates", "split.params={templates:[relations.nope]}", "split.ratios.train=0.5", "split.ratios.test=0.5"], "split.params.templates"),
    (["split.strategy=heldout_tasks", "split.params={tasks:[heigth]}", "split.ratios.train=0.5", "split.ratios.test=0.5"], "did you mean 'height'"),
]


@pytest.mark.parametrize("overrides,key", CONTRADICTIONS, ids=[" ".join(o) for o, _ in CONTRADICTIONS])
def test_contradiction(overrides, key, tmp_path, capsys):
    refused(["generate", *TINY, *overrides, f"out={tmp_path / 'ds'}"], key, tmp_path, capsys)


# ------------------------------------------------------------------ data files

PWNED = "sf_pwned_marker"
PY_TAG = f"!!python/object/apply:os.system ['touch {{dir}}/{PWNED}']\n"


def _template_text(**change) -> str:
    t = {"id": "mine.height", "task": "height", "answer_type": "number", "unit": "m",
         "slots": {"obj": "object"}, "paraphrases": ["How tall is the {obj}?", "What is the height of the {obj}?"]}
    t.update(change)
    import yaml

    return yaml.safe_dump({"family": "measurement", "templates": [{k: v for k, v in t.items() if v is not None}]})


DATA_FILES = {
    # name: (key to point at the file, file text, the name the message must carry)
    "template_syntax": ("qa.templates", "family: measurement\ntemplates: [ {id: x\n", "qa.templates"),
    "template_missing_field": ("qa.templates", _template_text(paraphrases=None), "paraphrases"),
    "template_unknown_task": ("qa.templates", _template_text(task="levitate"), "task"),
    "template_bad_answer_type": ("qa.templates", _template_text(answer_type="essay"), "answer_type"),
    "template_python_tag": ("qa.templates", PY_TAG, "qa.templates"),
    "template_missing_file": ("qa.templates", None, "qa.templates"),
    "catalog_syntax": ("scene.catalog", "categories: {chair: [\n", "scene.catalog"),
    "catalog_missing_field": ("scene.catalog", "categories:\n  chair: {kind: furniture}\n", "scene.catalog"),
    "catalog_wrong_units": ("scene.catalog", None, "scene.catalog"),  # sizes in centimetres (filled below)
    "catalog_python_tag": ("scene.catalog", PY_TAG, "scene.catalog"),
    "catalog_missing_file": ("scene.catalog", None, "scene.catalog"),
    "appearance_missing_key": ("render.appearance", "color_jitter: 0.1\n", "render.appearance"),
    "appearance_python_tag": ("render.appearance", PY_TAG, "render.appearance"),
    "appearance_missing_file": ("render.appearance", None, "render.appearance"),
    "appearance_wrong_type": ("render.appearance", "- 1\n- 2\n", "render.appearance"),
}


def _catalog_in_centimetres() -> str:
    import yaml

    cat = yaml.safe_load((REPO / "scenes" / "catalog.yaml").read_text())
    for c in cat["categories"].values():
        if isinstance(c, dict) and "size" in c:
            c["size"] = [[v * -100 for v in pair] if isinstance(pair, list) else pair for pair in c["size"]]
    return yaml.safe_dump(cat)


@pytest.mark.parametrize("case", list(DATA_FILES))
def test_bad_data_file(case, tmp_path, capsys):
    key, text, names = DATA_FILES[case]
    files = tmp_path / "inputs"
    files.mkdir()
    path = files / f"{case}.yaml"
    if case == "catalog_wrong_units":
        text = _catalog_in_centimetres()
    if text is not None:
        path.write_text(text.replace("{dir}", str(files)))
    err = refused(["generate", *TINY, f"{key}={path}", f"out={tmp_path / 'ds'}"], names, tmp_path, capsys)
    assert not (files / PWNED).exists(), "a YAML object tag was executed"
    if text is not None and "syntax" not in case and "python" not in case:
        assert str(path.name) in err or key in err


def test_bad_mesh_recipes(tmp_path):
    """Mesh recipes are not a config key (scenes/meshes.yaml ships with the engine): the loader
    itself refuses a malformed file, naming the place and the fix, and never runs a YAML tag."""
    from engine.assets.meshes import MeshRecipeError, load_recipes

    good = (REPO / "scenes" / "meshes.yaml").read_text()
    cases = {
        "syntax": good + "\n  broken: [\n",
        "unknown_key": good.replace("shape: box", "shap: box", 1),
        "python_tag": PY_TAG.replace("{dir}", str(tmp_path)),
        "not_a_mapping": "- 1\n",
    }
    import yaml

    for name, text in cases.items():
        p = tmp_path / f"{name}.yaml"
        p.write_text(text)
        with pytest.raises((MeshRecipeError, yaml.YAMLError)) as e:
            load_recipes(str(p))
        assert str(e.value)
    assert not (tmp_path / PWNED).exists()


# ------------------------------------------------------------------ scene records

RECORD_FAULTS = {
    "missing_objects": lambda d: d.pop("objects"),
    "nan_center": lambda d: d["objects"][0].__setitem__("center", [float("nan"), 0.0, 0.5]),
    "zero_size": lambda d: d["objects"][0].__setitem__("size", [0.0, 0.5, 0.5]),
    "inf_yaw": lambda d: d["objects"][0].__setitem__("yaw", float("inf")),
    "support_unknown_id": lambda d: d["objects"][0].__setitem__("support", "on:obj_99"),
    "bad_support": lambda d: d["objects"][0].__setitem__("support", "hovering"),
    "view_zero_width": lambda d: d["views"][0].__setitem__("width", 0),
}


@pytest.fixture(scope="module")
def scene_record(tmp_path_factory):
    out = tmp_path_factory.mktemp("rec") / "ds"
    assert main(["generate", *TINY, "stages.qa=false", "output.scenes=true", f"out={out}"]) == 0
    return json.loads(next((out / "scenes").glob("*.jsonl")).read_text().splitlines()[0])


@pytest.mark.parametrize("fault", list(RECORD_FAULTS))
def test_bad_scene_record(fault, scene_record):
    from engine.scene.graph import SceneGraph

    d = json.loads(json.dumps(scene_record))
    RECORD_FAULTS[fault](d)
    with pytest.raises((ValueError, KeyError)) as e:
        SceneGraph.from_json(json.dumps(d))
    msg = str(e.value)
    assert ("objects" in msg or "views" in msg) and len(msg) > 10, msg


# ------------------------------------------------------------------ the output folder


def test_out_is_a_file(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("x")
    refused(["generate", *TINY, f"out={f}"], "out", tmp_path, capsys)


def test_out_parent_is_a_file(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("x")
    refused(["generate", *TINY, f"out={f / 'ds'}"], "out", tmp_path, capsys)


def test_out_foreign_folder_untouched(tmp_path, capsys):
    """A folder with someone's README.md, config.yaml, dot-files, scenes/ and data/: refused, with
    or without overwrite, and nothing in it changes."""
    user = user_folder(tmp_path / "mine")
    refused(["generate", *TINY, f"out={user}"], "out", tmp_path, capsys)
    refused(["generate", *TINY, f"out={user}", "overwrite=true"], "out", tmp_path, capsys)


def test_out_checkout_dot(tmp_path, capsys, monkeypatch):
    """``out=.`` inside a checkout-like folder then ``overwrite=true``: refused, files kept."""
    user = user_folder(tmp_path / "checkout")
    monkeypatch.chdir(user)
    refused(["generate", *TINY, "out=.", "overwrite=true"], "out", tmp_path, capsys)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A finished tiny dataset (LLaVA on) and its snapshot, to copy into tests."""
    out = tmp_path_factory.mktemp("made") / "ds"
    assert main(["generate", *MADE, f"out={out}"]) == 0
    return out, dataset_bytes(out)


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_overwrite_removes_only_ours(made, tmp_path, capsys):
    """A dataset of another config with a user's file inside: refused without overwrite; with it,
    the old dataset's files go and the user's file stays."""
    ds = _copy(made[0], tmp_path / "ds")
    (ds / "data" / "my_notes.txt").write_text("keep me")
    (ds / "mine.txt").write_text("keep me too")
    refused(["generate", *TINY, "seed=5", f"out={ds}"], "overwrite=true", tmp_path, capsys)
    rc, err = cli(["generate", *TINY, "seed=5", f"out={ds}", "overwrite=true"], capsys)
    assert rc == 0, err
    assert (ds / "data" / "my_notes.txt").read_text() == "keep me" and (ds / "mine.txt").read_text() == "keep me too"
    manifest = json.loads((ds / "manifest.json").read_text())
    listed = {rel for e in manifest["shards"].values() for rel in e["files"]}
    ours = {str(p.relative_to(ds)) for p in (ds / "data").glob("*.parquet")}
    assert ours == {r for r in listed if r.startswith("data/")}  # no stale shard of the old config left
    assert not (ds / ".lock").exists()


@pytest.mark.parametrize("content", ["{\"format\": 1, \"shar", "[]", "{\"format\": 1}", "\xff\xfe"],
                         ids=["truncated", "list", "no_shards", "binary"])
def test_corrupt_manifest(content, made, tmp_path, capsys):
    """A corrupt or wrong-typed manifest: exit 2 saying what to do; overwrite=true gets past it,
    removing our files by name and keeping the user's."""
    ds = _copy(made[0], tmp_path / "ds")
    (ds / "manifest.json").write_bytes(content.encode("latin-1"))
    (ds / "mine.txt").write_text("keep me")
    refused(["generate", *MADE, f"out={ds}"], "manifest.json", tmp_path, capsys)
    rc, err = cli(["generate", *MADE, f"out={ds}", "overwrite=true"], capsys)
    assert rc == 0, err
    assert (ds / "mine.txt").read_text() == "keep me"
    assert {k: v for k, v in dataset_bytes(ds).items() if k != "mine.txt"} == made[1]  # as a fresh run


def test_manifest_is_a_folder(made, tmp_path, capsys):
    ds = _copy(made[0], tmp_path / "ds")
    (ds / "manifest.json").unlink()
    (ds / "manifest.json").mkdir()
    refused(["generate", *MADE, f"out={ds}"], "manifest.json", tmp_path, capsys)


def test_resume_false_refuses_a_started_dataset(made, tmp_path, capsys):
    ds = _copy(made[0], tmp_path / "ds")
    refused(["generate", *MADE, f"out={ds}", "resume=false"], "resume", tmp_path, capsys)


def test_edited_template_is_not_resumed(made, tmp_path, capsys):
    """Editing a template changes the config hash: the rerun refuses to mix old and new questions."""
    import shutil

    tdir = tmp_path / "templates"
    shutil.copytree(REPO / "templates", tdir)
    out = tmp_path / "ds"
    assert cli(["generate", *TINY, f"qa.templates={tdir}", f"out={out}"], capsys)[0] == 0
    f = tdir / "measurement.yaml"
    f.write_text(f.read_text().replace("How far apart", "What is the distance between", 1))
    refused(["generate", *TINY, f"qa.templates={tdir}", f"out={out}"], "config hash", tmp_path, capsys)


def test_corrupt_llava_image_is_rewritten(made, tmp_path, capsys):
    """A LLaVA image corrupted on disk is found on resume and rewritten; the dataset ends with the
    same bytes as an untouched one."""
    ds = _copy(made[0], tmp_path / "ds")
    img = sorted((ds / "llava" / "images").iterdir())[0]
    img.write_bytes(b"garbage")
    rc, err = cli(["generate", *MADE, f"out={ds}"], capsys)
    assert rc == 0, err
    assert dataset_bytes(ds) == made[1]


def test_out_with_spaces_and_non_ascii(tmp_path, capsys):
    out = tmp_path / "my data sets" / "ŝpatial dätä"
    rc, err = cli(["generate", *TINY, "stages.qa=false", f"out={out}"], capsys)
    assert rc == 0, err
    assert (out / "manifest.json").is_file() and list((out / "data").glob("*.parquet"))


def _mount_tmpfs(path: Path, opts: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True)
    return r.returncode == 0


def test_out_read_only(tmp_path, capsys):
    ro = tmp_path / "ro"
    if os.geteuid() == 0:  # root writes anywhere a mode allows nothing: use a read-only file system
        if not _mount_tmpfs(ro, "ro,size=1m"):
            pytest.skip("running as root without permission to mount a read-only tmpfs")
    else:
        ro.mkdir()
        ro.chmod(0o555)
    try:
        refused(["generate", *TINY, f"out={ro / 'ds'}"], "not writable", tmp_path, capsys)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(ro)], capture_output=True)
        else:
            ro.chmod(0o755)


FULL_DISK_CHILD = r"""
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
from engine.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_full_disk(tmp_path):
    """A disk that fills mid-run (a small tmpfs when we may mount one, else a file-size limit that
    fails writes the same way): exit 1 naming the failed write and the fix, the shards finished
    before stay valid, and a rerun with space completes the same bytes as a clean run."""
    args = [*TINY, "num_scenes=4", "output.scenes_per_shard=1", "stages.qa=false", "output.depth=true"]
    ref = tmp_path / "ref"
    assert subprocess.run([sys.executable, "-m", "engine.cli", "generate", *args, f"out={ref}"],
                          capture_output=True).returncode == 0
    shard_bytes = max(p.stat().st_size for p in (ref / "data").glob("*.parquet"))
    small = tmp_path / "small"
    mounted = os.geteuid() == 0 and _mount_tmpfs(small, f"size={int(shard_bytes * 2.5) // 4096 * 4096 + 4096}")
    try:
        out = small / "ds"
        if mounted:
            cmd = [sys.executable, "-m", "engine.cli", "generate", *args, f"out={out}"]
        else:
            cmd = [sys.executable, "-c", FULL_DISK_CHILD, str(shard_bytes // 2), "generate", *args, f"out={out}"]
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
        assert r.returncode == 1, r.stderr[-2000:]
        assert "failed" in r.stderr and "fix" in r.stderr and "rerun" in r.stderr
        manifest = json.loads((out / "manifest.json").read_text())
        for entry in manifest["shards"].values():  # what was recorded is there with its checksum
            for rel, digest in entry["files"].items():
                assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest
        if mounted:
            subprocess.run(["umount", str(small)], check=True)
            mounted = False
            import shutil

            shutil.rmtree(small)
            small.mkdir()
            out = small / "ds"  # the folder went with the file system: a rerun starts afresh
        r = subprocess.run([sys.executable, "-m", "engine.cli", "generate", *args, f"out={out}"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]
        assert dataset_bytes(out) == dataset_bytes(ref)
    finally:
        if mounted:
            subprocess.run(["umount", str(small)], capture_output=True)


def test_concurrent_run_refused(made, tmp_path, capsys):
    ds = _copy(made[0], tmp_path / "ds")
    code = ("import sys,time; from engine.pipeline.manifest import OutputLock\n"
            f"with OutputLock({str(ds)!r}):\n    print('held', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = snapshot(tmp_path)
        rc, err = cli(["generate", *MADE, f"out={ds}"], capsys)
        assert rc == 2 and "in use by another spatialforge run" in err and "fix" in err
        assert snapshot(tmp_path) == before
    finally:
        holder.kill()
        holder.wait()


def test_stale_lock_is_taken_over(made, tmp_path, capsys):
    """A .lock left by a killed run (no process holds it) does not block; the run removes it."""
    ds = _copy(made[0], tmp_path / "ds")
    (ds / ".lock").write_text("999999")
    rc, err = cli(["generate", *MADE, f"out={ds}"], capsys)
    assert rc == 0, err
    assert not (ds / ".lock").exists() and dataset_bytes(ds) == made[1]


def test_missing_gl_library(tmp_path):
    """libEGL that cannot be loaded: exit 2 before any work, naming the renderer and the fix."""
    fake = tmp_path / "lib"
    fake.mkdir()
    for name in ("libEGL.so.1", "libEGL.so", "libGL.so.1", "libOpenGL.so.0"):
        (fake / name).write_bytes(b"not a library")
    env = dict(os.environ, LD_LIBRARY_PATH=str(fake))
    out = tmp_path / "ds"
    r = subprocess.run([sys.executable, "-m", "engine.cli", "generate", *TINY, f"out={out}"], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "render" in r.stderr and "fix" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_cli_unknown_option_and_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["generate", "--frobnicate"])
    assert "--frobnicate" in str(e.value)
    assert main(["frobnicate"]) == 2 and "frobnicate" in capsys.readouterr().err
