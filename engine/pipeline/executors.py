"""Executors: run shards on local worker processes or as Ray tasks.

Every executor calls the same pure function (:func:`shard_task`: config, shard index -> files
and a result dict), so the bytes do not depend on the executor or the worker count. Each worker
process keeps one :class:`SceneStages` (and so one renderer / GL context) for its whole life.

Every wait is bounded: a shard running past ``executor.task_timeout_s`` fails the run with
:class:`WorkerTimeoutError` (local workers are killed, Ray tasks cancelled), a worker process that
dies fails it with :class:`WorkerDiedError` (Ray first reruns the task, ``executor.max_retries``),
and a Ray ``executor.address`` must answer within ``executor.connect_timeout_s``
(:func:`probe_ray_address`, a ConfigError otherwise). A failed shard leaves no file and no
manifest entry, so rerunning resumes.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import queue as queue_mod
import signal
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from engine.atomic import TMP_PREFIX, remove_stale_temps
from engine.pipeline.config import JobSpec, worker_cpus
from engine.pipeline.shard import RunFailedError, SceneError, run_shard
from engine.pipeline.stages import SceneStages
from engine.pipeline.worker_process import tune_data_worker
from engine.schema import ConfigError

__all__ = ["EXECUTORS", "RunFailedError", "SceneError", "WorkerDiedError", "WorkerTimeoutError", "probe_ray_address",
           "run_local", "run_ray", "shard_task"]

log = logging.getLogger("spatialforge")

OnResult = Callable[[dict], None]
OnProgress = Callable[[int, int], None]  # (shard index, scenes just finished)

_STAGES: dict[str, SceneStages] = {}  # per process: config hash -> stages (one renderer)
_QUEUE = None
_PARENT: int | None = None
_RERUN = "complete shards are kept and a shard that did not finish left no file, so rerunning the same command resumes"


class WorkerTimeoutError(RunFailedError):
    """A shard ran past ``executor.task_timeout_s`` (a hung worker); the run stopped."""


class WorkerDiedError(RunFailedError):
    """A worker process died while making a shard (killed, out of memory, a crash in native code)."""


def task_timeout(job: JobSpec) -> float | None:
    """``executor.task_timeout_s`` (None: no limit)."""
    v = (job.cfg.get("executor") or {}).get("task_timeout_s")
    return None if v is None else float(v)


def _timeout_error(job: JobSpec, shard: int, limit: float, what: str) -> WorkerTimeoutError:
    r = job.shard_range(shard)
    return WorkerTimeoutError(
        f"shard {shard} (scenes {r.start}..{r.stop - 1}) was still running after executor.task_timeout_s={limit:g} s "
        f"and was stopped as hung ({what}); {_RERUN}; fix: see the log for where it hung, or raise "
        "executor.task_timeout_s (null: no limit) if its shards are merely slow", shard)


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
    tune_data_worker()


def shard_task(cfg: dict, config_hash: str, shard_index: int) -> dict:
    """Make one shard in this process (the unit of work of every executor)."""
    tune_data_worker()  # a pool worker's initializer did already; a Ray task's process on its first shard
    job = JobSpec(cfg=cfg, config_hash=config_hash)

    def progress(n: int) -> None:
        if _PARENT is not None and os.getppid() != _PARENT:
            os._exit(3)  # the coordinator died (e.g. SIGKILL): stop instead of writing on as an orphan
        if _QUEUE is not None:
            _QUEUE.put((shard_index, n))

    progress(0)  # started: the coordinator's task_timeout_s clock for this shard
    return run_shard(job, shard_index, worker_stages(job), progress)


def local_workers(job: JobSpec) -> int:
    """Worker processes for the local executor: ``executor.workers``, or as many as the
    available CPUs hold at ``executor.cpus_per_worker`` each (at least one)."""
    return int(job.cfg["executor"].get("workers") or max(1, available_cpus() // worker_cpus(job.cfg)))


def run_local(job: JobSpec, shards: list[int], on_result: OnResult, on_progress: OnProgress) -> int:
    """Run ``shards`` on a spawn-context process pool (in this process when one worker suffices);
    each worker renders on ``executor.cpus_per_worker`` CPUs (see :class:`SceneStages`).

    A shard still running ``executor.task_timeout_s`` after its worker took it raises
    :class:`WorkerTimeoutError`; a worker that dies, :class:`WorkerDiedError`. On any failure the
    worker processes are killed and the temporary files they left removed, so nothing runs on
    or writes after this returns. Returns the number of worker processes used."""
    n = min(local_workers(job), len(shards))
    limit = task_timeout(job)
    if n <= 1:
        for k in shards:
            with _time_limit(job, k, limit):
                res = run_shard(job, k, worker_stages(job), lambda c, k=k: on_progress(k, c))
            on_result(res)
        return 1
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker, initargs=(q, os.getpid()))
    started: dict[int, float] = {}  # running shard -> when its worker took it (monotonic)
    finished: set[int] = set()
    try:
        futures = {pool.submit(shard_task, job.cfg, job.config_hash, k): k for k in shards}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(q, on_progress, started, finished)
            for f in done:
                k = futures[f]
                try:
                    res = f.result()
                except BrokenProcessPool:
                    running = sorted(set(started) - finished) or [k]
                    raise WorkerDiedError(
                        f"a worker process died (killed, out of memory, or a crash in native code) while making "
                        f"shard {', '.join(map(str, running))}; {_RERUN}", running[-1]) from None
                finished.add(k)
                started.pop(k, None)
                on_result(res)
            if limit is not None:
                now = time.monotonic()
                late = sorted(k for k, t in started.items() if now - t > limit)
                if late:
                    raise _timeout_error(job, late[0], limit, "its worker process was killed")
        _drain(q, on_progress, started, finished)
    except BaseException:
        _tear_down(pool, job.out)
        raise
    pool.shutdown(wait=True)
    return n


def _drain(q, on_progress: OnProgress, started: dict[int, float], finished: set[int]) -> None:
    while True:
        try:
            k, c = q.get_nowait()
        except queue_mod.Empty:
            return
        if c == 0:  # a worker took shard k (a late message of a finished shard is ignored)
            if k not in finished:
                started.setdefault(k, time.monotonic())
        else:
            on_progress(k, c)


def _tear_down(pool: ProcessPoolExecutor, root: Path) -> None:
    """Kill the pool's worker processes (a hung one may answer nothing else), cancel what is
    queued and remove the temporary files the killed workers left (their names carry the pid)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for p in procs:
        if p.is_alive():
            p.kill()
    for p in procs:
        p.join(10)
    pool.shutdown(wait=False, cancel_futures=True)
    prefixes = tuple(f"{TMP_PREFIX}{p.pid}-" for p in procs)
    if prefixes and Path(root).is_dir():
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                if name.startswith(prefixes):
                    with contextlib.suppress(OSError):
                        os.remove(os.path.join(dirpath, name))


@contextlib.contextmanager
def _time_limit(job: JobSpec, shard: int, limit: float | None) -> Iterator[None]:
    """A shard made in this process (one local worker): SIGALRM after ``limit`` seconds raises
    :class:`WorkerTimeoutError` where the shard is, and the shard's writers abort. Python code is
    interrupted; a call blocked inside native code is only when it returns. No limit off the main
    thread (signals need it) or where there is no SIGALRM."""
    if limit is None:
        yield
        return
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        log.warning("executor.task_timeout_s is not enforced for shard %d: it is made in this process off the main "
                    "thread (or without SIGALRM); use executor.workers=2+ for a limit that kills hung workers", shard)
        yield
        return

    def on_alarm(signum, frame):
        _STAGES.clear()  # the renderer may have been stopped mid-call: the next run makes a fresh one
        raise _timeout_error(job, shard, limit, "interrupted in this process")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _bounded(fn: Callable[[], object], seconds: float, name: str) -> object:
    """``fn()`` in a daemon thread, waited for at most ``seconds``: its result or its exception;
    TimeoutError when it has not returned (it is left to finish or hang on its own)."""
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # handed to the caller
            box["error"] = e

    t = threading.Thread(target=target, name=name, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        raise TimeoutError(f"{name} did not return within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def ray_endpoint(address: str) -> tuple[str, int] | None:
    """(host, port) of a Ray address to probe: ``ray://host:port`` (Ray Client) or ``host:port``
    (the head's GCS); ``auto`` as Ray resolves it (``RAY_ADDRESS``, else the cluster last started on
    this machine, when Ray is installed). None when the address names no port to probe."""
    if address == "auto":
        try:
            from ray._private.services import get_ray_address_from_environment  # how ray.init resolves it
        except Exception:  # no ray (ray.init will say so), or its internals moved: no TCP probe
            return None
        try:
            address = get_ray_address_from_environment("auto", None) or ""
        except ConnectionError as e:
            raise ConfigError(f"executor.address: auto finds no running Ray cluster on this machine ({e}); fix: "
                              "start one (ray start --head) or give its address, e.g. ray://head:10001") from None
        if address == "auto":
            return None
    rest = address.split("://", 1)[1] if "://" in address else address
    u = urllib.parse.urlsplit("//" + rest)
    try:
        port = u.port
    except ValueError:
        return None
    return (u.hostname, port) if u.hostname and port else None


def probe_ray_address(job: JobSpec) -> None:
    """With ``executor.name=ray`` and ``executor.address`` set: a TCP connect to the address (as
    Ray would use it: ``RAY_ADDRESS`` wins) must succeed within ``executor.connect_timeout_s``,
    else ConfigError naming the address and the fix. Needs no ray package."""
    ex = job.cfg["executor"]
    address = os.environ.get("RAY_ADDRESS") or ex.get("address")
    if ex["name"] != "ray" or not ex.get("address") or not address:
        return
    seconds = float(ex.get("connect_timeout_s") or 15)
    hp = ray_endpoint(address)
    if hp is None:
        return
    try:
        _bounded(lambda: socket.create_connection(hp, timeout=seconds).close(), seconds, "ray address probe")
        return
    except (TimeoutError, socket.timeout):
        why = "no answer"
    except OSError as e:
        why = e.strerror or type(e).__name__
    given = f" (RAY_ADDRESS={address})" if address != ex.get("address") else ""
    raise ConfigError(
        f"executor.address: no Ray cluster answers at {ex['address']}{given} ({hp[0]}:{hp[1]}: {why}) within "
        f"{seconds:g} s; fix: start the cluster (ray start --head) or correct executor.address (ray://head:10001 "
        "for Ray Client, head:6379 for the head node, auto for a cluster started on this machine); on a slow "
        "network raise executor.connect_timeout_s")


def run_ray(job: JobSpec, shards: list[int], on_result: OnResult, on_progress: OnProgress) -> int:
    """Run ``shards`` as Ray tasks of ``executor.cpus_per_worker`` CPUs each, at most
    ``executor.workers`` at once (default: as many as the cluster's CPUs hold).
    ``executor.address`` null starts a local cluster (CPUs for ``workers`` tasks, default all
    available); otherwise joins that cluster.

    Progress is reported per completed shard. Returns the number of concurrent tasks allowed."""
    ex = job.cfg["executor"]
    if not _ray_initialized():
        probe_ray_address(job)  # before importing ray: an address that does not answer fails in seconds
    try:
        import ray
    except ImportError:
        raise RuntimeError("executor=ray needs the ray package; fix: pip install 'spatialforge[ray]'") from None
    cpus = worker_cpus(job.cfg)
    started = False
    if not ray.is_initialized():
        kw = {"include_dashboard": False, "log_to_driver": True}
        if ex.get("address"):
            seconds = 4 * float(ex.get("connect_timeout_s") or 15)
            try:
                _bounded(lambda: ray.init(address=ex["address"], **kw), seconds, "ray.init")
            except TimeoutError:
                raise ConfigError(
                    f"executor.address: no Ray cluster answers at {ex['address']} within {seconds:g} s (ray.init did "
                    "not return; the port is open, so it may not be a Ray head, or the cluster is overloaded); fix: "
                    "check executor.address, or raise executor.connect_timeout_s (ray.init gets 4x it)") from None
            except ConnectionError as e:
                raise ConfigError(f"executor.address: cannot join the Ray cluster at {ex['address']} ({e}); fix: check "
                                  "executor.address, and that the cluster lets this driver join (Ray's token "
                                  "authentication)") from None
        else:
            ray.init(num_cpus=ex["workers"] * cpus if ex.get("workers") else available_cpus(), **kw)
        started = True
    running: dict = {}  # object ref -> shard index
    try:
        limit = int(ex.get("workers") or max(1, int(ray.cluster_resources().get("CPU", 1)) // cpus))
        env = {"LP_NUM_THREADS": os.environ["LP_NUM_THREADS"]} if "LP_NUM_THREADS" in os.environ else {}
        # a task whose worker process died is rerun (same bytes: a shard is a pure function of its
        # index); an exception the shard raised is not (it would raise again)
        task = ray.remote(num_cpus=cpus, max_retries=int(ex.get("max_retries", 3)), retry_exceptions=False,
                          runtime_env={"env_vars": env})(shard_task)
        timeout_s = task_timeout(job)
        todo = list(shards)
        since: dict = {}  # object ref -> when it was submitted (monotonic)
        while todo or running:
            while todo and len(running) < limit:
                k = todo.pop(0)
                ref = task.remote(job.cfg, job.config_hash, k)
                running[ref], since[ref] = k, time.monotonic()
            wait_s = None if timeout_s is None else max(0.0, min(since.values()) + timeout_s - time.monotonic())
            done, _ = ray.wait(list(running), num_returns=1, timeout=wait_s)
            if not done:
                now = time.monotonic()
                late = sorted(k for ref, k in running.items() if now - since[ref] >= timeout_s)
                if late:
                    raise _timeout_error(job, late[0], timeout_s, "its Ray task was cancelled")
                continue
            for ref in done:
                k = running.pop(ref)
                since.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as e:
                    if isinstance(e.cause, RunFailedError):
                        raise e.cause from e  # the shard's own report (SceneError), not Ray's wrapper
                    raise
                except ray.exceptions.WorkerCrashedError:
                    retries = int(ex.get("max_retries", 3))
                    raise WorkerDiedError(f"shard {k}: its Ray worker process died on every attempt ({retries + 1} in "
                                          f"all, executor.max_retries={retries}); {_RERUN}", k) from None
                on_progress(k, result["scenes"][1] - result["scenes"][0])
                on_result(result)
        remove_stale_temps(job.out)  # every task is done: what is left is a died (and retried) attempt's
        return limit
    except BaseException:
        for ref in running:  # stop the other shards' tasks (force: kill their worker processes)
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        with contextlib.suppress(Exception):
            ray.wait(list(running), num_returns=len(running), timeout=10)
            remove_stale_temps(job.out)  # none of our tasks runs now: every temporary file is a stopped one's
        raise
    finally:
        if started:
            ray.shutdown()


def _ray_initialized() -> bool:
    """Whether this process already joined Ray (then ray.init is not called again), without importing it."""
    ray = sys.modules.get("ray")
    return bool(ray is not None and ray.is_initialized())


EXECUTORS = {"local": run_local, "ray": run_ray}
