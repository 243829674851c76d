"""Faults: kill -9 anywhere and resume, hung workers, scenes that raise, Ray addresses that do not
answer and Ray workers that die (issue 12).

Faults are injected by tests/fault_hooks/spatialforge_faults.py: in this process by patching
(``faults(...)``), in child processes (the CLI, spawned pool workers, Ray workers) through the
``sitecustomize.py`` beside it, which the child loads because its PYTHONPATH names that folder.
The engine has no test hook of its own. Kill points are events (a scene started, an atomic
rename) drawn from a seeded numpy Generator, so every case is reproducible.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from engine.pipeline.config import ConfigError, load_job
from engine.pipeline.executors import SceneError, WorkerDiedError, WorkerTimeoutError, probe_ray_address
from engine.pipeline.manifest import read_manifest
from engine.pipeline.run import generate

REPO = Path(__file__).resolve().parents[1]
HOOKS = Path(__file__).resolve().parent / "fault_hooks"
sys.path.insert(0, str(HOOKS))
import spatialforge_faults  # noqa: E402  (the test-only hook module)

# 4 scenes in 2 shards, 64x64, two splits
TINY = ["camera.width=64", "camera.height=64", "num_scenes=4", "output.scenes_per_shard=2", "progress=false",
        "render.shadow_map_size=256", "render.msaa_samples=1", "qa.questions_per_view=4", "output.image_format=png",
        "split.ratios.train=0.5", "split.ratios.validation=0", "split.ratios.test=0.5", "executor.workers=1"]
FORMATS = {  # every output format, each with its own data seed (each shard has rows in both splits)
    "parquet": ["output.scenes=false", "seed=6"],
    "scenes": ["output.scenes=true", "seed=9"],
    "depth_mask": ["output.scenes=false", "output.depth=true", "output.instance_mask=true", "seed=12"],
    "llava": ["output.scenes=false", "output.llava=true", "seed=19"],
    "webdataset": ["output.scenes=false", "output.webdataset=true", "seed=22"],
}
KILLS_PER_FORMAT = 2


@contextlib.contextmanager
def faults(spec: dict):
    """Apply a fault spec in this process; yields the hook module (``.events``)."""
    spatialforge_faults.install(spec)
    try:
        yield spatialforge_faults
    finally:
        spatialforge_faults.uninstall()


def _child_env(spec: dict) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HOOKS), str(REPO), env.get("PYTHONPATH", "")])
    env[spatialforge_faults.ENV] = json.dumps(spec)
    return env


def _cli(args: list[str], spec: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    """``spatialforge generate *args`` in a child process with the fault ``spec``."""
    return subprocess.run([sys.executable, "-m", "engine.cli", "generate", *args], cwd=REPO, env=_child_env(spec),
                          capture_output=True, text=True, timeout=timeout)


def _forked_cli(args: list[str], spec: dict, log: Path, timeout: float = 120) -> int:
    """Exit status of ``spatialforge generate *args`` run with the fault ``spec`` in a process
    forked from a forkserver that has already imported the engine (saves ~2 s a run)."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["spatialforge_faults", "engine.cli", "engine.pipeline.run", "engine.pipeline.config"])
    p = ctx.Process(target=spatialforge_faults.run_cli, args=(args, spec, str(log)))
    p.start()
    p.join(timeout)
    if p.exitcode is None:
        p.kill()
        p.join()
    return p.exitcode


def _digests(root: Path) -> dict[str, str]:
    """sha256 of every file of a dataset folder: the shard files, LLaVA images, manifest.json and
    README.md; of config.yaml only its first line, the config hash (the rest names ``out`` and
    the executor)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if p.relative_to(root) == Path("config.yaml"):
                data = data.splitlines()[0]
            out[str(p.relative_to(root))] = hashlib.sha256(data).hexdigest()
    return out


def _processes_with(token: str) -> list[int]:
    """Pids of live processes whose environment holds ``token`` (children of a test), but for
    multiprocessing's helpers of this test process (resource tracker, forkserver)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) != os.getpid():
            with contextlib.suppress(OSError):
                if token.encode() in (d / "environ").read_bytes():
                    cmd = (d / "cmdline").read_bytes()
                    if b"resource_tracker" not in cmd and b"forkserver" not in cmd:
                        pids.append(int(d.name))
    return pids


def _no_processes_with(token: str, within: float = 2.0) -> bool:
    deadline = time.time() + within
    while _processes_with(token):
        if time.time() > deadline:
            return False
        time.sleep(0.1)
    return True


_REFS: dict[tuple, Path] = {}


def _ref(tmp_path_factory, args: list[str]) -> Path:
    """An uninterrupted run of ``args`` (one worker, in process), made once per session."""
    key = tuple(args)
    if key not in _REFS:
        out = tmp_path_factory.mktemp("ref") / "ds"
        generate(load_job(args + [f"out={out}"]))
        _REFS[key] = out
    return _REFS[key]


# -- kill -9 anywhere, then resume ------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_kill_anywhere_then_resume_is_byte_identical(fmt, tmp_path):
    """SIGKILL the run (one worker: the coordinator makes the shards) just before a random event
    (a scene started, or any atomic rename: a shard file, a LLaVA image, the manifest), rerun,
    and every file is byte-identical to an uninterrupted run."""
    args = TINY + FORMATS[fmt]
    ref = tmp_path / "ref"
    with faults({}) as f:  # count the events of an uninterrupted run
        generate(load_job(args + [f"out={ref}"]))
        total = f.events
    want = _digests(ref)
    assert "manifest.json" in want and len(want) > 4
    seed = int(FORMATS[fmt][-1].split("=")[1])
    points = np.random.default_rng(seed).choice(np.arange(1, total + 1), size=KILLS_PER_FORMAT, replace=False)
    for n in sorted(int(x) for x in points):
        out = tmp_path / f"killed-at-{n}"
        log = tmp_path / f"killed-at-{n}.log"
        code = _forked_cli(args + [f"out={out}"], {"kill_at": n}, log)
        assert code == -signal.SIGKILL, f"event {n} of {total}: not killed\n{log.read_text()[-2000:]}"
        summary = generate(load_job(args + [f"out={out}"]))
        assert summary["shards"] == 2
        assert not list(out.rglob(".tmp-*"))
        assert _digests(out) == want, f"{fmt}: killed before event {n} of {total}, then resumed"


# -- hung workers ---------------------------------------------------------------------------


def test_hung_worker_in_a_pool_fails_the_run_naming_the_shard(tmp_path, tmp_path_factory):
    """Two local workers; scene 3 (shard 1) hangs. The CLI exits 1 naming shard 1 and saying that
    rerunning resumes, kills the workers (none is left), records shard 0 only and leaves no
    temporary file; the rerun completes the dataset byte-identically."""
    args = TINY + FORMATS["llava"]
    ref = _ref(tmp_path_factory, args)
    out, token = tmp_path / "hung", uuid.uuid4().hex
    t0 = time.time()
    res = _cli(args + [f"out={out}", "executor.workers=2", "executor.task_timeout_s=10"],
               {"hang_at": 3, "token": token})
    assert res.returncode == 1, res.stderr[-3000:]
    assert time.time() - t0 < 60
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("spatialforge generate: error: shard 1 (scenes 2..3)"), last  # no traceback
    assert "executor.task_timeout_s=10 s" in last and "rerunning the same command resumes" in last
    assert _no_processes_with(token), "worker processes outlived the run"
    assert not list(out.rglob(".tmp-*"))
    assert list(read_manifest(out)["shards"]) == ["00000"]
    assert not list(out.rglob("*-00001-of-00002.*"))
    generate(load_job(args + [f"out={out}", "executor.workers=2"]))
    assert _digests(out) == _digests(ref)


def test_hung_shard_in_process_times_out(tmp_path, tmp_path_factory):
    """One worker (shards made in this process): the time limit interrupts the hung scene, the
    shard's writers abort, and the rerun completes the dataset byte-identically."""
    args = TINY + FORMATS["webdataset"]
    ref = _ref(tmp_path_factory, args)
    out = tmp_path / "hung1"
    with faults({"hang_at": 2}), pytest.raises(WorkerTimeoutError, match=r"^shard 1 \(scenes 2\.\.3\)") as e:
        generate(load_job(args + [f"out={out}", "executor.task_timeout_s=4"]))
    assert e.value.shard == 1
    assert not list(out.rglob(".tmp-*")) and list(read_manifest(out)["shards"]) == ["00000"]
    generate(load_job(args + [f"out={out}"]))
    assert _digests(out) == _digests(ref)


def test_worker_that_dies_fails_the_run_naming_the_shard(tmp_path, tmp_path_factory, monkeypatch):
    """A pool worker SIGKILLed while making scene 2 (shard 1): WorkerDiedError naming the shard;
    no worker is left, no temporary file, shard 1 not recorded; the rerun completes the dataset."""
    args = TINY + FORMATS["parquet"]
    ref = _ref(tmp_path_factory, args)
    out, token = tmp_path / "died", uuid.uuid4().hex
    for k, v in _child_env({"die_once_at": 2, "marker": str(tmp_path / "marker"), "token": token}).items():
        monkeypatch.setenv(k, v)  # the spawned workers load the hook
    with pytest.raises(WorkerDiedError, match=r"^a worker process died .* while making shard (0, )?1; complete"):
        generate(load_job(args + [f"out={out}", "executor.workers=2"]))
    assert _no_processes_with(token), "worker processes outlived the run"
    assert not list(out.rglob(".tmp-*")) and "00001" not in read_manifest(out)["shards"]
    generate(load_job(args + [f"out={out}"]))
    assert _digests(out) == _digests(ref)


# -- a scene that raises --------------------------------------------------------------------


def test_scene_error_stops_naming_scene_and_seed(tmp_path, tmp_path_factory):
    """on_scene_error=stop (default): the CLI exits 1 naming the scene, its id, the seed and the
    shard; the shard left no file; fixing the cause and rerunning resumes to the same bytes."""
    args = TINY + FORMATS["scenes"]
    ref = _ref(tmp_path_factory, args)
    out = tmp_path / "stop"
    res = _cli(args + [f"out={out}"], {"raise_at": [3]})
    assert res.returncode == 1, res.stderr[-3000:]
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("spatialforge generate: error: scene 3 (s000000003, seed 9) of shard 1 raised "
                           "RuntimeError: injected fault in scene 3; shard 1 was not written"), last
    assert "on_scene_error=skip" in last
    assert list(read_manifest(out)["shards"]) == ["00000"]
    assert not list(out.rglob("*-00001-of-00002.*")) and not list(out.rglob(".tmp-*"))
    generate(load_job(args + [f"out={out}"]))
    assert _digests(out) == _digests(ref)


def test_scene_error_skip_is_recorded_and_deterministic(tmp_path, monkeypatch):
    """on_scene_error=skip leaves the failing scenes out and lists them in their shard's manifest
    entry; the same scenes with the same bytes on 1 worker (after switching from stop, which
    resumes: the key does not change the config hash) and on 2 workers."""
    args = TINY + FORMATS["scenes"]
    spec = {"raise_at": [1, 3]}
    one, two = tmp_path / "one", tmp_path / "two"
    with faults(spec):
        with pytest.raises(SceneError, match=r"^scene 1 \(s000000001, seed 9\) of shard 0") as e:
            generate(load_job(args + [f"out={one}"]))
        assert (e.value.shard, e.value.scene_index) == (0, 1)
        summary = generate(load_job(args + [f"out={one}", "on_scene_error=skip"]))
    assert summary["stats"]["scene_errors"] == 2 and summary["stats"]["scenes"] == 2
    for k, v in _child_env(spec).items():  # the spawned workers load the hook
        monkeypatch.setenv(k, v)
    generate(load_job(args + [f"out={two}", "on_scene_error=skip", "executor.workers=2"]))
    assert _digests(one) == _digests(two)
    shards = read_manifest(one)["shards"]
    for key, i in (("00000", 1), ("00001", 3)):
        assert shards[key]["scene_errors"] == [{"scene_index": i, "error": f"RuntimeError: injected fault in scene {i}"}]
        assert shards[key]["stats"]["scene_errors"] == 1
    ids = [json.loads(l)["scene_id"] for p in sorted((one / "scenes").glob("*.jsonl")) for l in p.read_text().splitlines()]
    assert ids == ["s000000000", "s000000002"]


# -- config ----------------------------------------------------------------------------------


@pytest.mark.parametrize("override, key", [
    ("on_scene_error=ignore", "on_scene_error"),
    ("executor.task_timeout_s=0", "executor.task_timeout_s"),
    ("executor.connect_timeout_s=-1", "executor.connect_timeout_s"),
    ("executor.max_retries=-1", "executor.max_retries"),
])
def test_fault_keys_are_checked(override, key):
    with pytest.raises(ConfigError, match=key):
        load_job([override])


def test_fault_keys_defaults_and_hash():
    job = load_job([])
    ex = job.cfg["executor"]
    assert (job.cfg["on_scene_error"], ex["task_timeout_s"], ex["connect_timeout_s"], ex["max_retries"]) == \
        ("stop", 3600, 15, 3)
    assert load_job(["executor.task_timeout_s=null"]).cfg["executor"]["task_timeout_s"] is None
    assert load_job(["on_scene_error=skip"]).config_hash == job.config_hash  # switching it resumes


# -- Ray -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _address(where: str):
    """A local address that refuses at once (a closed port) or never answers (a listener whose
    accept queue is full: further SYNs are dropped, as on a non-routable host; portable where a
    sandbox's network accepts every outside address)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    if where == "closed port":
        s.close()
        yield f"127.0.0.1:{port}"
        return
    s.listen(0)
    filler = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        filler.close()
        s.close()


@pytest.mark.parametrize("where", ["closed port", "no answer"])
def test_ray_address_that_does_not_answer_fails_fast(where, tmp_path, monkeypatch):
    """A closed port is refused at once; an address that does not answer times out: both a
    ConfigError naming the address within connect_timeout_s, before ray is needed."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with _address(where) as addr:
        job = load_job(TINY + [f"out={tmp_path / 'r'}", "executor=ray", f"executor.address={addr}",
                               "executor.connect_timeout_s=1.5"])
        t0 = time.time()
        with pytest.raises(ConfigError, match=f"^executor.address: no Ray cluster answers at {addr} .*within 1.5 s; "
                                              "fix") as e:
            probe_ray_address(job)
        assert time.time() - t0 < 5
        assert ("refused" in str(e.value)) == (where == "closed port"), str(e.value)
        if where == "closed port":  # the run itself probes before any work: no output folder is made
            with pytest.raises(ConfigError, match="no Ray cluster answers"):
                generate(job)
            assert not (tmp_path / "r").exists()


def _have_ray() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _have_ray(), reason="ray is not installed")
def test_ray_address_open_but_silent_exits_2(tmp_path):
    """A port that accepts connections but is no Ray head: ray.init is given 4x connect_timeout_s,
    then the CLI exits 2 naming the address."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    addr = f"127.0.0.1:{s.getsockname()[1]}"
    try:
        t0 = time.time()
        res = _cli(TINY + [f"out={tmp_path / 'r'}", "executor=ray", f"executor.address={addr}",
                           "executor.connect_timeout_s=1"], {})
        assert res.returncode == 2, res.stderr[-3000:]
        assert f"executor.address: no Ray cluster answers at {addr} within 4 s (ray.init did not return" in res.stderr
        assert time.time() - t0 < 60
    finally:
        s.close()


@pytest.mark.skipif(not _have_ray(), reason="ray is not installed")
def test_ray_task_whose_worker_dies_is_retried(tmp_path, tmp_path_factory, monkeypatch):
    """The Ray worker making scene 2 SIGKILLs itself once; Ray reruns the task
    (executor.max_retries) and the dataset is byte-identical to a one-worker run."""
    args = TINY + FORMATS["llava"]
    ref = _ref(tmp_path_factory, args)
    marker = tmp_path / "died"
    for k, v in _child_env({"die_once_at": 2, "marker": str(marker)}).items():  # Ray's workers inherit it
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    out = tmp_path / "ray"
    generate(load_job(args + [f"out={out}", "executor=ray", "executor.workers=2", "executor.max_retries=2"]))
    assert marker.exists(), "the fault did not fire"
    assert _digests(out) == _digests(ref)  # the killed attempt's temporary files are gone too
