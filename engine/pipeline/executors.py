"""Executors: run shards on local worker processes or as Ray tasks.

Every executor calls the same pure function (:func:`shard_task`: config, shard index -> files
and a result dict), so the bytes do not depend on the executor or the worker count. Each worker
process keeps one :class:`SceneStages` (and so one renderer / GL context) for its whole life.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_mod
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from engine.pipeline.config import JobSpec, worker_cpus
from engine.pipeline.shard import run_shard
from engine.pipeline.stages import SceneStages

OnResult = Callable[[dict], None]
OnProgress = Callable[[int, int], None]  # (shard index, scenes just finished)

_STAGES: dict[str, SceneStages] = {}  # per process: config hash -> stages (one renderer)
_QUEUE = None
_PARENT: int | None = None


def worker_stages(job: JobSpec) -> SceneStages:
    """This process's SceneStages for ``job`` (created once, reused for every shard)."""
    st = _STAGES.get(job.config_hash)
    if st is None:
        _STAGES.clear()
        st = _STAGES[job.config_hash] = SceneStages(job.cfg, job.config_hash)
    return st


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one, else the CPU count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _init_worker(q, parent_pid: int) -> None:
    global _QUEUE, _PARENT
    _QUEUE, _PARENT = q, parent_pid


def shard_task(cfg: dict, config_hash: str, shard_index: int) -> dict:
    """Make one shard in this process (the unit of work of every executor)."""
    job = JobSpec(cfg=cfg, config_hash=config_hash)

    def progress(n: int) -> None:
        if _PARENT is not None and os.getppid() != _PARENT:
            os._exit(3)  # the coordinator died (e.g. SIGKILL): stop instead of writing on as an orphan
        if _QUEUE is not None:
            _QUEUE.put((shard_index, n))

    return run_shard(job, shard_index, worker_stages(job), progress)


def local_workers(job: JobSpec) -> int:
    """Worker processes for the local executor: ``executor.workers``, or as many as the
    available CPUs hold at ``executor.cpus_per_worker`` each (at least one)."""
    return int(job.cfg["executor"].get("workers") or max(1, available_cpus() // worker_cpus(job.cfg)))


def run_local(job: JobSpec, shards: list[int], on_result: OnResult, on_progress: OnProgress) -> int:
    """Run ``shards`` on a spawn-context process pool (in this process when one worker suffices);
    each worker renders on ``executor.cpus_per_worker`` CPUs (see :class:`SceneStages`).

    Returns the number of worker processes used."""
    n = min(local_workers(job), len(shards))
    if n <= 1:
        for k in shards:
            on_result(run_shard(job, k, worker_stages(job), lambda c, k=k: on_progress(k, c)))
        return 1
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker, initargs=(q, os.getpid()))
    try:
        pending = {pool.submit(shard_task, job.cfg, job.config_hash, k) for k in shards}
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(q, on_progress)
            for f in done:
                on_result(f.result())
        _drain(q, on_progress)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return n


def _drain(q, on_progress: OnProgress) -> None:
    while True:
        try:
            k, c = q.get_nowait()
        except queue_mod.Empty:
            return
        on_progress(k, c)


def run_ray(job: JobSpec, shards: list[int], on_result: OnResult, on_progress: OnProgress) -> int:
    """Run ``shards`` as Ray tasks of ``executor.cpus_per_worker`` CPUs each, at most
    ``executor.workers`` at once (default: as many as the cluster's CPUs hold).
    ``executor.address`` null starts a local cluster (CPUs for ``workers`` tasks, default all
    available); otherwise joins that cluster.

    Progress is reported per completed shard. Returns the number of concurrent tasks allowed."""
    try:
        import ray
    except ImportError:
        raise RuntimeError("executor=ray needs the ray package; fix: pip install 'spatialforge[ray]'") from None
    ex = job.cfg["executor"]
    cpus = worker_cpus(job.cfg)
    started = False
    if not ray.is_initialized():
        kw = {"include_dashboard": False, "log_to_driver": True}
        if ex.get("address"):
            ray.init(address=ex["address"], **kw)
        else:
            ray.init(num_cpus=ex["workers"] * cpus if ex.get("workers") else available_cpus(), **kw)
        started = True
    try:
        limit = int(ex.get("workers") or max(1, int(ray.cluster_resources().get("CPU", 1)) // cpus))
        env = {"LP_NUM_THREADS": os.environ["LP_NUM_THREADS"]} if "LP_NUM_THREADS" in os.environ else {}
        task = ray.remote(num_cpus=cpus, runtime_env={"env_vars": env})(shard_task)
        todo = list(shards)
        running: dict = {}
        while todo or running:
            while todo and len(running) < limit:
                k = todo.pop(0)
                running[task.remote(job.cfg, job.config_hash, k)] = k
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                k = running.pop(ref)
                result = ray.get(ref)
                on_progress(k, result["scenes"][1] - result["scenes"][0])
                on_result(result)
        return limit
    finally:
        if started:
            ray.shutdown()


EXECUTORS = {"local": run_local, "ray": run_ray}
