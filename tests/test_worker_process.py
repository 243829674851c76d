"""Process settings of the processes that make data (engine/pipeline/worker_process.py): an offline
pool worker freezes its start-up objects and pads glibc's heap; the ``spatialforge`` process pads
its heap for the commands that make data, and only for those. (A DataLoader worker of the stream:
tests/test_stream.py.)"""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor

import engine.pipeline.worker_process as worker_process
from engine.cli import main
from engine.pipeline.executors import _init_worker
from engine.pipeline.worker_process import data_worker_tuned


def test_pool_worker_is_tuned():
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                             initargs=(None, os.getpid())) as pool:
        w = pool.submit(data_worker_tuned).result(timeout=120)
    assert w["tuned"] and w["top_pad"] and w["frozen"] > 0
    assert not data_worker_tuned()["tuned"]  # this (the test) process is not a worker


def test_cli_pads_the_heap_for_data_commands_only(monkeypatch, tmp_path, capsys):
    calls = []
    monkeypatch.setattr(worker_process, "pad_heap", lambda: calls.append(1) or True)
    assert main(["generate", "num_scenes=-1", f"out={tmp_path / 'ds'}"]) != 0  # refused at validation
    assert calls == [1]
    assert main(["check-splits", str(tmp_path / "missing")]) != 0
    assert calls == [1]
    assert "num_scenes" in capsys.readouterr().err
