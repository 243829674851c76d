"""Answer balancing (CLEVR-style rejection plus greedy choice among candidates).

State lives in one Balancer per QAGenerator (one per shard), so the output depends only on
the shard. Counts are kept at two levels for every template:

1. (template, answer space): e.g. yes/no of a bool template, bins of a numeric one;
2. (template, answer space, context): the context is what the question text reveals (the
   referenced categories in naming order), so an answer cannot be predicted from the text.

A candidate is rejected when accepting it would put its answer more than the allowed slack
ahead of the least frequent answer of its space (the median one for spaces of more than three
answers), at either level. For choice questions a third
check keeps, per template, each option key's (e.g. category's) number of wins within the slack
of its expected wins (the sum of 1 / number of options over the questions showing it), so that
"pick the option that is usually right" is no better than chance. Among the acceptable
candidates the generator takes the one whose answer is least used. Choice letters are placed at
the least used position of the template (ties broken by the rng).
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
        self.wins: dict[tuple[str, str], int] = defaultdict(int)
        self.expected: dict[tuple[str, str], float] = defaultdict(float)

    def _keys(self, c: Candidate) -> list[tuple[tuple, int]]:
        base = (c.template.id, c.answer_space)
        return [(base, self.min_slack), (base + (c.context_key,), self.context_slack)]

    def lead(self, c: Candidate) -> tuple[int, int]:
        """How far this candidate's answer leads the reference answer count, per level (before
        accepting). The reference is the least used answer for spaces of up to 3 answers and the
        median one for larger spaces (bins, directions), so one rare bin cannot starve a template."""
        out = []
        for key, _ in self._keys(c):
            cnt = self.counts[key]
            vals = sorted(cnt[k] for k in c.answer_space)
            ref = vals[0] if len(vals) <= 3 else vals[(len(vals) - 1) // 2]
            out.append(cnt[c.answer_key] - ref)
        return tuple(out)

    def option_excess(self, c: Candidate) -> float:
        """Wins minus expected wins of the right option's key after accepting ``c`` (0 if no keys)."""
        if not c.option_keys:
            return 0.0
        w = (c.template.id, c.option_keys[c.correct])
        return self.wins[w] + 1 - self.expected[w] - 1.0 / len(c.option_keys)

    def acceptable(self, c: Candidate) -> bool:
        """False when accepting ``c`` would exceed the slack at any level."""
        if c.option_keys:
            w = (c.template.id, c.option_keys[c.correct])
            if self.option_excess(c) > max(self.min_slack, self.tolerance * self.expected[w]):
                return False
        if c.answer_space is None:
            return True
        if c.answer_key not in c.answer_space:
            raise ValueError(f"{c.template.id}: answer_key {c.answer_key!r} not in answer_space {c.answer_space}")
        for (key, slack), lead in zip(self._keys(c), self.lead(c)):
            allowed = max(slack, self.tolerance * self.totals[key])
            if lead + 1 > allowed:
                return False
        return True

    def score(self, c: Candidate) -> tuple | None:
        """None when ``c`` is not :meth:`acceptable`, else its rank key for :meth:`choose`:
        ``lead(c)`` (``(0, 0)`` when unbalanced) + ``(option_excess(c),)``, lower is better.

        The same arithmetic as those methods in one pass (each count is looked up once and
        no empty count is inserted), since it runs for every candidate of every pick."""
        excess = 0.0
        if c.option_keys:
            w = (c.template.id, c.option_keys[c.correct])
            expected = self.expected.get(w, 0.0)
            excess = self.wins.get(w, 0) + 1 - expected - 1.0 / len(c.option_keys)
            if excess > max(self.min_slack, self.tolerance * expected):
                return None
        space = c.answer_space
        if space is None:
            return (0, 0, excess)
        if c.answer_key not in space:
            raise ValueError(f"{c.template.id}: answer_key {c.answer_key!r} not in answer_space {space}")
        base = (c.template.id, space)
        leads = []
        for key, slack in ((base, self.min_slack), (base + (c.context_key,), self.context_slack)):
            cnt = self.counts.get(key)
            if cnt is None:
                lead = 0
            else:
                vals = [cnt.get(k, 0) for k in space]
                ref = min(vals) if len(vals) <= 3 else sorted(vals)[(len(vals) - 1) // 2]
                lead = cnt.get(c.answer_key, 0) - ref
            if lead + 1 > max(slack, self.tolerance * self.totals.get(key, 0)):
                return None
            leads.append(lead)
        return (leads[0], leads[1], excess)

    def choose(self, cands: list[Candidate], rng: np.random.Generator) -> Candidate | None:
        """The acceptable candidate whose answer is least used (ties: rng order), or None."""
        if not cands:
            return None
        order = rng.permutation(len(cands))
        best, best_score = None, None
        for k in order.tolist():
            c = cands[k]
            score = self.score(c)
            if score is None:
                continue
            if best is None or score < best_score:
                best, best_score = c, score
        return best

    def commit(self, c: Candidate) -> None:
        """Count the accepted candidate."""
        self.usage[c.template.id] += 1
        if c.option_keys:
            for k in c.option_keys:
                self.expected[(c.template.id, k)] += 1.0 / len(c.option_keys)
            self.wins[(c.template.id, c.option_keys[c.correct])] += 1
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
