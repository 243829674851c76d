"""The leakage check at the end of a run (``check-splits``, engine/eval/leaks.py), fed from the
shard results instead of reading the dataset back.

Each shard worker returns the checker's entry of every row it wrote (its keys: scene id, image
digests, normalised question; and whether it holds a held-out value). The coordinator adds them
shard by shard in index order, so the report is the one ``spatialforge check-splits`` gives for
the finished folder (tests/test_splits.py compares the two). Shards made by an earlier run (a
resumed run) are read from their Parquet files at their turn.
"""

from __future__ import annotations

from engine.eval.leaks import LeakTally, add_parquet_file, rule_of
from engine.pipeline.config import JobSpec
from engine.pipeline.shard import shard_files
from engine.pipeline.splits import rule_record


class RunSplitCheck:
    """Feeds a :class:`LeakTally` with a run's shards in index order.

    Args:
        job: the run. made: the shards this run makes (their results come to :meth:`landed`);
            every other shard is complete on disk.
    """

    def __init__(self, job: JobSpec, made: list[int]):
        self.job = job
        self.record = rule_record(job.cfg["split"])
        self.tally = LeakTally(rule_of(self.record))  # the rule as check-splits reads it from splits.json
        self.made = set(made)
        self.pending: dict[int, dict | None] = {}
        self.next = 0

    def landed(self, shard: int, entries: dict | None) -> None:
        """Shard ``shard`` finished with ``entries`` ({split: [LeakEntry]}, a shard result's
        ``leak_entries``; None: read its files)."""
        self.pending[shard] = entries
        self._drain()

    def _drain(self) -> None:
        while self.next < self.job.num_shards:
            k = self.next
            if k in self.pending:
                entries = self.pending.pop(k)
            elif k not in self.made:
                entries = None
            else:
                return  # its result has not come yet
            if entries is None:
                for kind, rel in sorted(shard_files(self.job, k).items()):
                    if kind.startswith("parquet:"):
                        add_parquet_file(self.tally, kind.split(":", 1)[1], self.job.out / rel)
            else:
                for split in sorted(entries):
                    for e in entries[split]:
                        self.tally.add(split, e)
            self.next += 1

    def result(self) -> dict:
        """The check's report (as :func:`engine.eval.leaks.check_splits` returns it); every
        shard must have landed or be complete on disk."""
        self._drain()
        if self.next < self.job.num_shards:
            raise RuntimeError(f"split check: shard {self.next} never landed")
        return self.tally.result(self.record)
