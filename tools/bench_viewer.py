"""Benchmark of ``spatialforge view``: the gallery of a 1,000,000-row dataset.

The dataset is a small generated one (``--source``, made with ``spatialforge generate`` when
missing) whose rows are replicated with new ids into shards of ``--shard-rows`` rows, every
column kept (images, scene records, factors), in 64-row row groups as the engine writes them
(``output.row_group_size``). Then the gallery is built once, timed, with the default sample (50
rows per task). The replicated rows repeat the source's scenes, so the gallery's top-down plots
and images are fewer distinct files than a real dataset's (each is written once per content).

    .venv/bin/python tools/bench_viewer.py --rows 1000000
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.pipeline.view import build_view  # noqa: E402


def make(source: Path, rows: int, out: Path, shard_rows: int, row_group: int = 64) -> Path:
    """Write ``rows`` rows replicated from ``source``'s shards (new ids ``r0000000``...) into
    ``out/data/train-KKKKK-of-NNNNN.parquet``; returns ``out``."""
    files = sorted((source / "data").glob("*.parquet"))
    t = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")
    if (out / "data").is_dir():
        shutil.rmtree(out / "data")
    (out / "data").mkdir(parents=True)
    n_shards = -(-rows // shard_rows)
    done = 0
    for k in range(n_shards):
        n = min(shard_rows, rows - done)
        reps = -(-n // t.num_rows)
        big = pa.concat_tables([t] * reps).slice(0, n)
        ids = pa.array([f"r{done + i:07d}" for i in range(n)], pa.string())
        big = big.set_column(big.schema.get_field_index("id"), "id", ids)
        pq.write_table(big, out / "data" / f"train-{k:05d}-of-{n_shards:05d}.parquet", row_group_size=row_group,
                       compression="zstd")
        done += n
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--shard-rows", type=int, default=50_000)
    ap.add_argument("--source", default="/tmp/viewer_bench_src", help="a small generated dataset (made when missing)")
    ap.add_argument("--work", default="/tmp/viewer_bench")
    ap.add_argument("--per-task", type=int, default=50)
    ap.add_argument("--reuse", action="store_true", help="time the gallery of the dataset already in --work")
    a = ap.parse_args()
    src, work = Path(a.source), Path(a.work)
    if not (src / "data").is_dir():
        subprocess.run([sys.executable, "-m", "engine.cli", "generate", "num_scenes=20", f"out={src}", "progress=false",
                        "camera.width=256", "camera.height=256"], check=True, cwd=REPO)
    t0 = time.perf_counter()
    ds = work / "ds"
    if not (a.reuse and (ds / "data").is_dir()):
        make(src, a.rows, ds, a.shard_rows)
    size = sum(f.stat().st_size for f in (ds / "data").glob("*.parquet"))
    print(f"dataset: {size / 2**30:.2f} GiB of Parquet, ready in {time.perf_counter() - t0:.1f} s")
    t0, c0 = time.perf_counter(), time.process_time()
    res = build_view(ds, work / "gallery", per_task=a.per_task)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"gallery: {res['rows']:,} cards from {res['dataset_rows']:,} rows, {res['row_groups_read']} row groups read "
          f"in full, in {dt:.1f} s ({cpu:.1f} s of CPU) ({res['index']})")


if __name__ == "__main__":
    main()
