"""Streaming dataset benchmark: samples/s from ``SpatialStream`` through a DataLoader with 0, 1 and
2 workers, against the offline pipeline's views/s per worker at the same size.

Each run is a fresh subprocess: it builds the stream for the default config (``--res`` square
views, ``num_scenes=--scenes``, blocks of ``--block`` scenes; by default as many as the offline
reference puts in a shard, so both make a QA generator, which parses the templates, equally often
and the stream yields exactly the offline rows),
iterates ``DataLoader(ds, batch_size=16, num_workers=w, collate_fn=collate_samples)`` to the end
(worker start-up included; ``--batch 0``: single samples, each sent from its worker on its own)
and counts samples (QA rows) and rendered views (distinct scene/view pairs). Every consumer
rasterises on one CPU (llvmpipe in the worker's own thread, as ``executor.cpus_per_worker=1``).
The offline reference is ``tools/bench_pipeline.py``'s run with the same scenes and size (layout,
render, QA, plus JPEG and Parquet, which the stream skips) at each worker count the stream used
(1 and 2 by default: local worker processes, one CPU each), so "per worker" is compared at equal
worker counts, on the same cores. On a shared machine the
wall-clock figures follow the load; CPU seconds (this process plus its finished children, i.e.
the DataLoader workers), printed as views per CPU-second and CPU milliseconds per sample and per
view, are the load-independent comparison. ``--repeat R`` runs every configuration R times, the
stream and offline runs in reverse order on every second repeat (A-B-B-A), and prints each
target's ratio per repeat, pooled over the repeats (all samples over all seconds of each
configuration) and their median: on a VM whose speed drifts by 10-30% within minutes, one run's
ratio divides two sub-runs made minutes apart.

``--side-by-side N`` instead runs the stream (one worker) and the offline pipeline (one worker) at
the same time, each pinned to a core of its own, N times, swapping the cores each time: the
per-worker comparison without the drift between sub-runs made minutes apart.

    .venv/bin/python tools/bench_stream.py [--scenes 24] [--res 256] [--block N] [--repeat R] [--shuffle N]
        [--no-offline] [--side-by-side N] [overrides...]

Targets: 2 workers >= 1.8x one worker; per worker at least the offline pipeline's views/s per worker.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def child(workers: int, scenes: int, res: int, block: int, batch: int, extra: list[str], shuffle: int = 0) -> dict:
    """One stream run in this process; return its figures."""
    from torch.utils.data import DataLoader

    from engine.pipeline.torch_stream import SpatialStream, collate_samples

    ds = SpatialStream([f"num_scenes={scenes}", f"camera.width={res}", f"camera.height={res}",
                        f"output.scenes_per_shard={block}", *extra], shuffle_buffer=shuffle)
    samples, views = 0, set()
    c0, t0 = cpu_seconds(), time.perf_counter()
    loader = (DataLoader(ds, batch_size=None, num_workers=workers) if batch == 0 else
              DataLoader(ds, batch_size=batch, num_workers=workers, collate_fn=collate_samples))
    for b in loader:  # counted from the batch's lists, as a training loop would not unbatch
        scene_ids, view_ids = ([b["scene_id"]], [b["view_ids"]]) if batch == 0 else (b["scene_id"], b["view_ids"])
        samples += len(scene_ids)
        views.update((sid, v) for sid, vids in zip(scene_ids, view_ids) for v in vids)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    peak_mb = max(resource.getrusage(w).ru_maxrss for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
    return {"workers": workers, "scenes": scenes, "samples": samples, "views": len(views), "wall_s": wall, "cpu_s": cpu,
            "peak_mb": peak_mb}


def offline_child(workers: int, scenes: int, res: int, extra: list[str]) -> dict:
    """tools/bench_pipeline.py's one run with ``workers`` workers (1: in this process), with its CPU seconds."""
    sys.path.insert(0, str(REPO / "tools"))
    from bench_pipeline import one_run

    c0 = cpu_seconds()
    r = one_run(workers, scenes, res, extra)
    return {**r, "cpu_s": cpu_seconds() - c0}


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children (DataLoader workers)."""
    return sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ("ru_utime", "ru_stime"))


def cpu_text(cpu_s: float, samples: int, views: int) -> str:
    """The CPU figures of a run: views per CPU-second, CPU ms per sample (QA row) and per view."""
    return (f"{views / cpu_s:.2f} views per CPU-second ({cpu_s:.1f} CPU s: {1000 * cpu_s / max(samples, 1):.2f} "
            f"CPU ms per sample, {1000 * cpu_s / max(views, 1):.1f} per view)")


def run(args: list[str]) -> dict:
    """A run in a fresh subprocess; its last stdout line is the JSON result."""
    out = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"benchmark run failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def start(args: list[str], core: int) -> subprocess.Popen:
    """A run in a fresh subprocess pinned (with its DataLoader workers) to CPU ``core``."""
    return subprocess.Popen([sys.executable, *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: os.sched_setaffinity(0, {core}))


def finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"benchmark run failed:\n{err[-4000:]}")
    return json.loads(out.strip().splitlines()[-1])


def side_by_side(common: list[str], block: int, batch: int, extra: list[str], pairs: int) -> list[float]:
    """The stream with one DataLoader worker and the offline pipeline with one worker at the same
    time, each pinned to a core of its own (the stream's training process shares its worker's
    core), then swapped: a drift of the machine's speed hits both sides of each ratio alike. Returns
    the stream's views/s over the offline pipeline's, per run."""
    ratios = []
    for k in range(pairs):
        s_core, o_core = (0, 1) if k % 2 == 0 else (1, 0)
        s = start([__file__, "--child", "1", "--block", str(block), "--batch", str(batch), *common, *extra], s_core)
        o = start([__file__, "--offline-child", "1", *common, *extra], o_core)
        rs, ro = finish(s), finish(o)
        vs, vo = rs["views"] / rs["wall_s"], ro["views"] / ro["wall_s"]
        ratios.append(vs / vo)
        print(f"[side by side {k + 1}] stream (1 worker, core {s_core}) {vs:.2f} views/s, "
              f"{1000 * rs['cpu_s'] / rs['views']:.1f} CPU ms per view; offline (1 worker, core {o_core}) {vo:.2f} "
              f"views/s, {1000 * ro['cpu_s'] / ro['views']:.1f} CPU ms per view: {vs / vo:.2f}x", flush=True)
    return ratios


def run_order(workers: list[int], offline: list[int], repeat: int) -> list[tuple[int, str, int]]:
    """(repeat, "stream" or "offline", workers) in run order: the stream runs then the offline runs,
    reversed on every second repeat (A-B-B-A), so a steady drift of the machine's speed during the
    benchmark weighs equally on every configuration over each pair of repeats."""
    one = [("stream", w) for w in workers] + [("offline", w) for w in offline]
    return [(r, *job) for r in range(repeat) for job in (one if r % 2 == 0 else one[::-1])]


def pooled(results: list[dict], key: str) -> float:
    """``key`` (samples, views, ...) per wall-clock second over several runs of one configuration."""
    return sum(r[key] for r in results) / sum(r["wall_s"] for r in results)


def median(xs: list[float]) -> float:
    xs = sorted(xs)
    return (xs[(len(xs) - 1) // 2] + xs[len(xs) // 2]) / 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=24)
    ap.add_argument("--res", type=int, default=256)
    ap.add_argument("--block", type=int, default=None,
                    help="scenes per block (output.scenes_per_shard); default: the offline reference's shard size")
    ap.add_argument("--batch", type=int, default=16, help="DataLoader batch size with collate_samples (0: single samples)")
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--shuffle", type=int, default=0, help="the stream's shuffle_buffer (default 0: scene order)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run every configuration this many times, in A-B-B-A order; ratios per repeat and pooled")
    ap.add_argument("--side-by-side", type=int, default=0, metavar="N",
                    help="instead: N runs of the stream (1 worker) and the offline pipeline (1 worker) at the same "
                         "time, each pinned to its own core, swapping cores every run (needs 2 CPUs)")
    ap.add_argument("--no-offline", action="store_true", help="skip the offline pipeline reference")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--offline-child", type=int, default=None, help=argparse.SUPPRESS)
    args, extra = ap.parse_known_args()
    if args.offline_child is not None:
        print(json.dumps(offline_child(args.offline_child, args.scenes, args.res, extra)))
        return
    if args.child is not None:
        print(json.dumps(child(args.child, args.scenes, args.res, args.block, args.batch, extra, args.shuffle)))
        return
    if args.repeat < 1:
        raise SystemExit(f"--repeat {args.repeat}: need at least 1")
    common = ["--scenes", str(args.scenes), "--res", str(args.res)]
    if args.block is None:
        sys.path.insert(0, str(REPO / "tools"))
        from bench_pipeline import shard_size

        args.block = shard_size(args.scenes)
    if args.side_by_side:
        if len(os.sched_getaffinity(0)) < 2:
            raise SystemExit("--side-by-side: needs 2 CPUs")
        ratios = side_by_side(common, args.block, args.batch, extra, args.side_by_side)
        print(f"stream against the offline views/s per worker, side by side: "
              f"{', '.join(f'{x:.2f}x' for x in ratios)}; median {median(ratios):.2f}x (target >= 1)")
        return
    print(f"{args.scenes} scenes at {args.res}x{args.res}; stream blocks of {args.block} scenes; "
          f"{args.repeat} repeat(s)", flush=True)
    offline_workers = [] if args.no_offline else sorted({max(w, 1) for w in args.workers})
    stream: dict[int, list[dict]] = {w: [] for w in args.workers}
    offline: dict[int, list[dict]] = {w: [] for w in offline_workers}
    for rep, kind, w in run_order(args.workers, offline_workers, args.repeat):
        tag = f"[repeat {rep + 1}] " if args.repeat > 1 else ""
        if kind == "stream":
            r = run([__file__, "--child", str(w), "--block", str(args.block), "--batch", str(args.batch),
                     "--shuffle", str(args.shuffle), *common, *extra])
            stream[w].append(r)
            print(f"{tag}stream, {w} DataLoader worker(s): {r['samples']} samples, {r['views']} views in "
                  f"{r['wall_s']:.1f} s: {r['samples'] / r['wall_s']:.1f} samples/s, {r['views'] / r['wall_s']:.2f} "
                  f"views/s ({r['views'] / r['wall_s'] / max(w, 1):.2f} per worker); "
                  f"{cpu_text(r['cpu_s'], r['samples'], r['views'])}; peak memory of a process {r['peak_mb']:.0f} MB",
                  flush=True)
        else:
            r = run([__file__, "--offline-child", str(w), *common, *extra])
            offline[w].append(r)
            print(f"{tag}offline pipeline (tools/bench_pipeline.py's run), {w} worker(s): {r['rows']} QAs, "
                  f"{r['views']} views in {r['wall_s']:.1f} s: {r['views'] / r['wall_s'] / w:.2f} views/s per worker; "
                  f"{cpu_text(r['cpu_s'], r['rows'], r['views'])}", flush=True)
    text = summary(stream, offline, args.repeat)
    if text:
        print(text)


def summary(stream: dict[int, list[dict]], offline: dict[int, list[dict]], repeat: int) -> str:
    """The two targets' ratios, per repeat and (with repeats) pooled over them and their median."""
    lines = []

    def report(what: str, per_rep: list[float], pooled_ratio: float, target: str) -> None:
        text = ", ".join(f"{x:.2f}x" for x in per_rep)
        more = f"; pooled {pooled_ratio:.2f}x, median {median(per_rep):.2f}x" if repeat > 1 else ""
        lines.append(f"{what}: {text}{more} ({target})")

    if 1 in stream and 2 in stream:
        report("scaling 1 -> 2 workers, samples/s",
               [b["samples"] / b["wall_s"] / (a["samples"] / a["wall_s"]) for a, b in zip(stream[1], stream[2])],
               pooled(stream[2], "samples") / pooled(stream[1], "samples"), "target >= 1.8x")
    for w, runs in stream.items():
        ref = offline.get(max(w, 1))
        if not ref:
            continue
        k = max(w, 1)
        report(f"stream with {w} worker(s) against the offline views/s per worker with {k}",
               [(a["views"] / a["wall_s"] / k) / (b["views"] / b["wall_s"] / k) for a, b in zip(runs, ref)],
               pooled(runs, "views") / pooled(ref, "views"), "target >= 1")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
