"""End-to-end pipeline benchmark: layout, rendering, visibility, QA, image encoding, Parquet.

Runs the default config at 512x512 for 1 and 2 workers (each run in a fresh subprocess, into a
temporary folder; each worker gets one CPU, ``executor.cpus_per_worker=1``, the default) and prints
views/s, QAs/s, per-stage time shares, peak memory per worker and the extrapolated time for
1,000,000 QAs, then the scaling 1 -> 2 workers. For comparison it also runs one worker given every
CPU (``executor.cpus_per_worker=<all>``: llvmpipe rasterises on all of them). A last run with more
scenes on 1 worker shows whether peak memory stays flat with dataset size.

    .venv/bin/python tools/bench_pipeline.py [--scenes 40] [--big 120] [--res 512] [extra overrides...]

Targets (2 cores): >= 15 rendered views/s per worker with ~10 QAs per view; 1 -> 2 workers >= 1.8x;
peak memory per worker < 1.5 GB and flat with dataset size.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shard_size(scenes: int) -> int:
    """Scenes per shard of a ``scenes``-scene run: enough shards to keep every worker busy on short
    runs (about 8); 100 (the default) on long ones."""
    return min(100, max(5, scenes // 8))


def one_run(workers: int, scenes: int, res: int, extra: list[str]) -> dict:
    """Generate ``scenes`` scenes with ``workers`` local workers in this process, set as the
    ``spatialforge generate`` process is (its heap pad: engine/pipeline/worker_process.py); return figures."""
    from engine.pipeline.config import load_job
    from engine.pipeline.run import generate
    from engine.pipeline.worker_process import pad_heap

    pad_heap()

    with tempfile.TemporaryDirectory() as tmp:
        over = [f"num_scenes={scenes}", f"out={tmp}/ds", f"executor.workers={workers}", "progress=false",
                f"camera.width={res}", f"camera.height={res}",
                f"output.scenes_per_shard={shard_size(scenes)}", *extra]
        job = load_job(over)
        t0 = time.perf_counter()
        s = generate(job)
        wall = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in Path(tmp, "ds").rglob("*") if p.is_file())
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"workers": s["workers"], "scenes": scenes, "wall_s": wall, "rows": s["rows"],
            "views": s["stats"].get("views", 0), "stage_seconds": s["stage_seconds"], "stats": s["stats"],
            "peak_worker_mb": (self_kb if workers == 1 else child_kb) / 1024, "bytes": size}


def run_child(workers: int, scenes: int, res: int, extra: list[str]) -> dict:
    """One benchmark run in a fresh subprocess."""
    cmd = [sys.executable, __file__, "--child", "--workers", str(workers), "--scenes", str(scenes),
           "--res", str(res), *extra]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"benchmark run failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(r: dict) -> None:
    views_s, qas_s = r["views"] / r["wall_s"], r["rows"] / r["wall_s"]
    print(f"\n== {r['workers']} worker(s), {r['scenes']} scenes: {r['wall_s']:.1f} s wall, {r['views']} views, "
          f"{r['rows']} QAs ({r['rows'] / max(r['views'], 1):.1f} per view), {r['bytes'] / 1e6:.1f} MB written")
    print(f"   {views_s:.2f} views/s ({views_s / r['workers']:.2f} per worker), {qas_s:.1f} QAs/s, "
          f"peak memory per worker {r['peak_worker_mb']:.0f} MB")
    total = sum(r["stage_seconds"].values()) or 1.0
    print("   stage shares (worker time): " + ", ".join(
        f"{k} {100 * v / total:.1f}%" for k, v in sorted(r["stage_seconds"].items(), key=lambda kv: -kv[1])))
    print(f"   1,000,000 QAs extrapolated: {1e6 / qas_s / 3600:.2f} h")
    print(f"   counters: {r['stats']}")


def main() -> None:
    from engine.pipeline.executors import available_cpus

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=40)
    ap.add_argument("--big", type=int, default=120, help="scenes of the memory-flatness run (0: skip)")
    ap.add_argument("--res", type=int, default=512)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args, extra = ap.parse_known_args()
    if args.child:
        print(json.dumps(one_run(args.workers, args.scenes, args.res, extra)))
        return
    r1 = run_child(1, args.scenes, args.res, extra)
    report(r1)
    r2 = run_child(2, args.scenes, args.res, extra)
    report(r2)
    print(f"\nscaling 1 -> 2 workers (one CPU each): {r1['wall_s'] / r2['wall_s']:.2f}x")
    cpus = available_cpus()
    if cpus >= 2:
        ra = run_child(1, args.scenes, args.res, [*extra, f"executor.cpus_per_worker={cpus}"])
        print(f"1 worker given all {cpus} CPUs: {ra['views'] / ra['wall_s']:.2f} views/s "
              f"(the {r2['workers']} workers make {ra['wall_s'] / r2['wall_s']:.2f}x its rate)")
    if args.big:
        rb = run_child(1, args.big, args.res, extra)
        report(rb)
        print(f"\npeak memory, 1 worker: {r1['peak_worker_mb']:.0f} MB at {args.scenes} scenes, "
              f"{rb['peak_worker_mb']:.0f} MB at {args.big} scenes")


if __name__ == "__main__":
    main()
