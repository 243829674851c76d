"""Batch hand-over benchmark: what ``collate_samples`` costs a DataLoader worker, and what receiving
the batches costs the training process, without generating anything.

One worker yields ``--samples`` pre-made samples shaped like the stream's (``--res`` square uint8
views; every tenth sample a new view, every seventh a two-view sample, so batches carry padding);
``DataLoader(batch_size=--batch, num_workers=1, collate_fn=collate_samples)`` sends them to this
process, which drops each batch (``--keep K``: holds the last K batches, as a training step that
is still using them) and, with ``--touch``, reads every pixel as a training step would. Printed:
CPU ms per sample inside ``collate_samples`` in the worker (``time.process_time`` around each
call), the worker's CPU seconds and page faults over the run, and this process's CPU ms and page
faults per batch. Runs ``--runs`` times, each in a fresh loader.

    .venv/bin/python tools/bench_collate.py [--samples 4000] [--res 256] [--batch 16] [--keep 0] [--touch] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from engine.pipeline.torch_stream import collate_samples


class PreMade(IterableDataset):
    """``n`` samples over eight pre-made single views and one two-view pair (stream-like sharing)."""

    def __init__(self, n: int, res: int):
        self.n, self.res = n, res

    def __iter__(self):
        rng = np.random.default_rng(0)
        views = [torch.from_numpy(rng.integers(0, 255, (1, 3, self.res, self.res), dtype=np.uint8)) for _ in range(8)]
        pair = torch.from_numpy(rng.integers(0, 255, (2, 3, self.res, self.res), dtype=np.uint8))
        for i in range(self.n):
            yield {"images": pair if i % 7 == 0 else views[(i // 10) % 8], "question": f"question {i}",
                   "answer": "yes", "id": str(i)}


class TimedCollate:
    """``collate_samples``, with its CPU seconds and samples written to ``path`` after every batch."""

    def __init__(self, path: str):
        self.path, self.cpu, self.samples = path, 0.0, 0

    def __call__(self, batch: list[dict]) -> dict:
        t = time.process_time()
        out = collate_samples(batch)
        self.cpu += time.process_time() - t
        self.samples += len(batch)
        Path(self.path).write_text(f"{self.cpu} {self.samples}")
        return out


def cpu_of(who: int) -> tuple[float, int]:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime, r.ru_minflt


def one_run(args: argparse.Namespace) -> dict:
    """One loader over the pre-made samples; the figures of the worker and of this process."""
    with tempfile.TemporaryDirectory() as tmp:
        timed = TimedCollate(os.path.join(tmp, "collate"))
        kids0 = cpu_of(resource.RUSAGE_CHILDREN)
        self0, t0 = cpu_of(resource.RUSAGE_SELF), time.perf_counter()
        held, batches, checksum = [], 0, 0
        for b in DataLoader(PreMade(args.samples, args.res), batch_size=args.batch, num_workers=1, collate_fn=timed):
            batches += 1
            if args.touch:
                checksum += int(b["images"].view(-1)[::4096].sum())  # one byte per page
            if args.keep:
                held = (held + [b])[-args.keep:]
        wall = time.perf_counter() - t0
        self1, kids1 = cpu_of(resource.RUSAGE_SELF), cpu_of(resource.RUSAGE_CHILDREN)
        cpu, samples = map(float, Path(timed.path).read_text().split())
    return {"collate_ms_per_sample": 1000 * cpu / samples, "worker_cpu_s": kids1[0] - kids0[0],
            "worker_faults": kids1[1] - kids0[1], "main_ms_per_batch": 1000 * (self1[0] - self0[0]) / batches,
            "main_faults_per_batch": (self1[1] - self0[1]) / batches, "wall_s": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=4000)
    ap.add_argument("--res", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--keep", type=int, default=0, help="batches this process holds at once (a slow training step)")
    ap.add_argument("--touch", action="store_true", help="read every page of each batch's pixels")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    for k in range(args.runs):
        r = one_run(args)
        print(f"run {k + 1}: collate {r['collate_ms_per_sample']:.3f} CPU ms per sample in the worker; worker "
              f"{r['worker_cpu_s']:.2f} CPU s, {r['worker_faults']} page faults; training process "
              f"{r['main_ms_per_batch']:.3f} CPU ms and {r['main_faults_per_batch']:.0f} page faults per batch; "
              f"{r['wall_s']:.2f} s", flush=True)


if __name__ == "__main__":
    main()
