"""Test-only fault injection for tests/test_faults.py (never imported by the engine).

A spec (a dict; in a child process the JSON of ``SPATIALFORGE_TEST_FAULTS``) says what goes wrong:

- ``kill_at``: N -- in the coordinator (not in a pool worker), SIGKILL this process just before
  its N-th event, an event being a ``SceneStages.make_scene`` call or an ``os.replace`` (every
  atomic rename: shard files, LLaVA images, the manifest, config.yaml, README.md);
- ``raise_at``: [scene indices] -- ``make_scene`` raises RuntimeError for them (any process);
- ``hang_at``: scene index -- ``make_scene`` sleeps (a hung worker);
- ``die_once_at``: scene index with ``marker``: a file path -- the first process to reach that
  scene creates the marker and SIGKILLs itself; later attempts run normally (a Ray task retry).

Child processes get it through ``sitecustomize.py`` beside this file (``PYTHONPATH`` names this
folder, so spawned pool workers and Ray workers load it at start-up); the test process calls
:func:`install` directly, and :func:`run_cli` runs the CLI in a process forked from a
forkserver that has the engine imported (no start-up cost). ``events`` counts what happened
in this process.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import signal
import sys
import time

ENV = "SPATIALFORGE_TEST_FAULTS"
SPEC: dict = {}
events = 0
_orig_replace = os.replace
_orig_make_scene = None
_coordinator: int | None = None  # the pid run_cli made the coordinator


def _in_coordinator() -> bool:
    import multiprocessing

    return os.getpid() == _coordinator or (_coordinator is None and multiprocessing.parent_process() is None)


def _event() -> None:
    global events
    events += 1
    n = SPEC.get("kill_at")
    if n is not None and events >= n and _in_coordinator():
        os.kill(os.getpid(), signal.SIGKILL)


def _replace(src, dst, *a, **kw):
    _event()
    return _orig_replace(src, dst, *a, **kw)


def _make_scene(self, scene_index, qa_gen, timer):
    _event()
    if scene_index in SPEC.get("raise_at", ()):
        raise RuntimeError(f"injected fault in scene {scene_index}")
    if scene_index == SPEC.get("hang_at"):
        time.sleep(3600)
    if scene_index == SPEC.get("die_once_at"):
        try:
            fd = os.open(SPEC["marker"], os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pass
        else:
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)
    return _orig_make_scene(self, scene_index, qa_gen, timer)


def _patch_stages(module) -> None:
    global _orig_make_scene
    if _orig_make_scene is None:
        _orig_make_scene = module.SceneStages.make_scene
    module.SceneStages.make_scene = _make_scene


def install(spec: dict) -> None:
    """Apply ``spec`` in this process (engine.pipeline.stages patched now or when imported)."""
    global events
    SPEC.clear()
    SPEC.update(spec)
    events = 0
    os.replace = _replace
    if "engine.pipeline.stages" in sys.modules:
        _patch_stages(sys.modules["engine.pipeline.stages"])
    else:
        sys.meta_path.insert(0, _StagesFinder())


def uninstall() -> None:
    """Undo :func:`install` (the test process)."""
    SPEC.clear()
    os.replace = _orig_replace
    mod = sys.modules.get("engine.pipeline.stages")
    if mod is not None and _orig_make_scene is not None:
        mod.SceneStages.make_scene = _orig_make_scene


class _StagesFinder(importlib.abc.MetaPathFinder):
    """Patches engine.pipeline.stages right after it is first imported."""

    def find_spec(self, name, path, target=None):
        if name != "engine.pipeline.stages":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            _patch_stages(module)

        spec.loader.exec_module = exec_module
        return spec


def from_env() -> None:
    if os.environ.get(ENV):
        install(json.loads(os.environ[ENV]))


def run_cli(args: list[str], spec: dict, log: str) -> None:
    """Target of a forkserver child: apply ``spec`` here (this process is the coordinator), run
    ``spatialforge generate *args`` with stdout and stderr to the file ``log``, exit with its status."""
    global _coordinator
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    install(spec)
    _coordinator = os.getpid()
    from engine.cli import main

    code = 1
    try:
        code = main(["generate", *args])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
