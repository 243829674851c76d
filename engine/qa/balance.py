"""Answer balancing (CLEVR-style rejection plus greedy choice among candidates).

State lives in one Balancer per QAGenerator (one per shard), so the output depends only on
the shard. Counts are kept at two levels for every template:

1. (template, answer space): e.g. yes/no of a bool template, bins of a numeric one;
2. (template, answer space, context): the context is what the question text reveals (the
   referenced categories in naming order), so an answer cannot be predicted from the text.

A candidate is rejected when accepting it would put its answer more than the allowed slack
ahead of the least frequent answer of its space, at either level. Among the acceptable ones
the generator takes the one whose answer is least used. Choice letters are placed at the
least used position of the template (ties broken by the rng).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from engine.qa.candidate import Candidate


class Balancer:
    """Answer and letter counts for one shard."""

    def __init__(self, tolerance: float, min_slack: int, context_slack: int):
        self.tolerance = float(tolerance)
        self.min_slack = int(min_slack)
        self.context_slack = int(context_slack)
        self.counts: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.totals: dict[tuple, int] = defaultdict(int)
        self.letters: dict[tuple[str, int], list[int]] = {}
        self.usage: dict[str, int] = defaultdict(int)

    def _keys(self, c: Candidate) -> list[tuple[tuple, int]]:
        base = (c.template.id, c.answer_space)
        return [(base, self.min_slack), (base + (c.context_key,), self.context_slack)]

    def lead(self, c: Candidate) -> tuple[int, int]:
        """How far this candidate's answer leads the least used answer, per level (before accepting)."""
        out = []
        for key, _ in self._keys(c):
            cnt = self.counts[key]
            out.append(cnt[c.answer_key] - min(cnt[k] for k in c.answer_space))
        return tuple(out)

    def acceptable(self, c: Candidate) -> bool:
        """False when accepting ``c`` would exceed the slack at either level."""
        if c.answer_space is None:
            return True
        if c.answer_key not in c.answer_space:
            raise ValueError(f"{c.template.id}: answer_key {c.answer_key!r} not in answer_space {c.answer_space}")
        for (key, slack), lead in zip(self._keys(c), self.lead(c)):
            allowed = max(slack, self.tolerance * self.totals[key])
            if lead + 1 > allowed:
                return False
        return True

    def choose(self, cands: list[Candidate], rng: np.random.Generator) -> Candidate | None:
        """The acceptable candidate whose answer is least used (ties: rng order), or None."""
        if not cands:
            return None
        order = rng.permutation(len(cands))
        best, best_score = None, None
        for k in order:
            c = cands[int(k)]
            if not self.acceptable(c):
                continue
            score = self.lead(c) if c.answer_space is not None else (0, 0)
            if best is None or score < best_score:
                best, best_score = c, score
        return best

    def commit(self, c: Candidate) -> None:
        """Count the accepted candidate."""
        self.usage[c.template.id] += 1
        if c.answer_space is None:
            return
        for key, _ in self._keys(c):
            self.counts[key][c.answer_key] += 1
            self.totals[key] += 1

    def position(self, template_id: str, n: int, rng: np.random.Generator) -> int:
        """Letter position (0..n-1) for the right option: the least used for this template; counts it."""
        cnt = self.letters.setdefault((template_id, n), [0] * n)
        m = min(cnt)
        ties = [i for i in range(n) if cnt[i] == m]
        p = ties[int(rng.integers(len(ties)))]
        cnt[p] += 1
        return p
