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
view, are the load-independent comparison.

    .venv/bin/python tools/bench_stream.py [--scenes 24] [--res 256] [--block N] [--no-offline] [overrides...]

Targets: 2 workers >= 1.8x one worker; per worker at least the offline pipeline's views/s per worker.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def child(workers: int, scenes: int, res: int, block: int, batch: int, extra: list[str]) -> dict:
    """One stream run in this process; return its figures."""
    from torch.utils.data import DataLoader

    from engine.pipeline.torch_stream import SpatialStream, collate_samples

    ds = SpatialStream([f"num_scenes={scenes}", f"camera.width={res}", f"camera.height={res}",
                        f"output.scenes_per_shard={block}", *extra])
    samples, views = 0, set()
    c0, t0 = cpu_seconds(), time.perf_counter()
    loader = (DataLoader(ds, batch_size=None, num_workers=workers) if batch == 0 else
              DataLoader(ds, batch_size=batch, num_workers=workers, collate_fn=collate_samples))
    for b in loader:  # counted from the batch's lists, as a training loop would not unbatch
        scene_ids, view_ids = ([b["scene_id"]], [b["view_ids"]]) if batch == 0 else (b["scene_id"], b["view_ids"])
        samples += len(scene_ids)
        views.update((sid, v) for sid, vids in zip(scene_ids, view_ids) for v in vids)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return {"workers": workers, "scenes": scenes, "samples": samples, "views": len(views), "wall_s": wall, "cpu_s": cpu}


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=24)
    ap.add_argument("--res", type=int, default=256)
    ap.add_argument("--block", type=int, default=None,
                    help="scenes per block (output.scenes_per_shard); default: the offline reference's shard size")
    ap.add_argument("--batch", type=int, default=16, help="DataLoader batch size with collate_samples (0: single samples)")
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--no-offline", action="store_true", help="skip the offline pipeline reference")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--offline-child", type=int, default=None, help=argparse.SUPPRESS)
    args, extra = ap.parse_known_args()
    if args.offline_child is not None:
        print(json.dumps(offline_child(args.offline_child, args.scenes, args.res, extra)))
        return
    if args.child is not None:
        print(json.dumps(child(args.child, args.scenes, args.res, args.block, args.batch, extra)))
        return
    common = ["--scenes", str(args.scenes), "--res", str(args.res)]
    if args.block is None:
        sys.path.insert(0, str(REPO / "tools"))
        from bench_pipeline import shard_size

        args.block = shard_size(args.scenes)
    print(f"{args.scenes} scenes at {args.res}x{args.res}; stream blocks of {args.block} scenes", flush=True)
    per_consumer = {}
    for w in args.workers:
        r = run([__file__, "--child", str(w), "--block", str(args.block), "--batch", str(args.batch), *common, *extra])
        per_consumer[w] = (r["samples"] / r["wall_s"], r["views"] / r["wall_s"] / max(w, 1))
        print(f"stream, {w} DataLoader worker(s): {r['samples']} samples, {r['views']} views in {r['wall_s']:.1f} s: "
              f"{per_consumer[w][0]:.1f} samples/s, {r['views'] / r['wall_s']:.2f} views/s "
              f"({per_consumer[w][1]:.2f} per worker); {cpu_text(r['cpu_s'], r['samples'], r['views'])}", flush=True)
    if 1 in per_consumer and 2 in per_consumer:
        print(f"scaling 1 -> 2 workers: {per_consumer[2][0] / per_consumer[1][0]:.2f}x samples/s (target >= 1.8x)")
    if not args.no_offline:
        offline = {}
        for w in sorted({max(w, 1) for w in per_consumer}):
            r = run([__file__, "--offline-child", str(w), *common, *extra])
            offline[w] = r["views"] / r["wall_s"] / w
            print(f"offline pipeline (tools/bench_pipeline.py's run), {w} worker(s): {r['rows']} QAs, {r['views']} views "
                  f"in {r['wall_s']:.1f} s: {offline[w]:.2f} views/s per worker; "
                  f"{cpu_text(r['cpu_s'], r['rows'], r['views'])}", flush=True)
        for w, (_, v) in per_consumer.items():
            print(f"   stream with {w} worker(s): {v / offline[max(w, 1)]:.2f}x the offline views/s per worker with "
                  f"{max(w, 1)} worker(s) (target >= 1); {v / offline[1]:.2f}x the one-worker offline rate")


if __name__ == "__main__":
    main()
