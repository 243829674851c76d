"""Per-stage wall-clock timers (seconds), summed over scenes, shards and workers."""

from __future__ import annotations

import time
from contextlib import contextmanager

STAGES = ("layout", "camera", "appearance", "render", "qa", "marks", "encode", "rows", "check", "write")


class StageTimer:
    """Accumulates seconds per stage name: ``with timer("render"): ...``.


    Nested timers are exclusive: time spent in an inner stage is not counted in the outer one,
    so the stage seconds add up to the wall time spent inside timers.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._stack: list[list] = []  # [stage, start, child seconds]

    @contextmanager
    def __call__(self, stage: str):
        frame = [stage, time.perf_counter(), 0.0]
        self._stack.append(frame)
        try:
            yield
        finally:
            self._stack.pop()
            total = time.perf_counter() - frame[1]
            self.seconds[stage] = self.seconds.get(stage, 0.0) + total - frame[2]
            if self._stack:
                self._stack[-1][2] += total

    def add(self, other: dict[str, float]) -> None:
        """Add another timer's ``seconds`` dict into this one."""
        for k, v in other.items():
            self.seconds[k] = self.seconds.get(k, 0.0) + float(v)


def format_timings(seconds: dict[str, float]) -> str:
    """One line per stage: seconds and share of the total, in pipeline order."""
    total = sum(seconds.values()) or 1.0
    order = [s for s in STAGES if s in seconds] + sorted(s for s in seconds if s not in STAGES)
    return "\n".join(f"  {s:<11}{seconds[s]:9.2f} s  {100 * seconds[s] / total:5.1f}%" for s in order)
