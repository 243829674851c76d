"""Answer balancing (CLEVR-style rejection plus greedy choice among candidates): no word of a
question may predict its answer (docs/qa.md, "Balancing").

State lives in one Balancer per QAGenerator (one per shard), so the output depends only on
the shard. For every template, answers are counted per answer space, per text feature of the
question (``Candidate.features``: each slot's category or value) and, for pairs, per the pair's
categories. A candidate is rejected when accepting it would put its answer more than the
allowed slack ahead of the least frequent answer of its space (the median one for spaces of
more than three answers) in any of those counters, or when a counter has not yet been seen
with two different answers among the shard's candidates (:meth:`Balancer.observe`): a context
whose answer never varies is never asked. For choice questions each option key (category,
text, numeric step) keeps its wins within the slack of its expected wins (the sum of 1 / number
of options over the questions showing it), from above (per template and per text feature: "pick
the sofa" is no better than chance) and from below (per template: no option key is a safe
"never right"). A template with ``constraints.hold_common_answer`` never lets the answer its
candidates offer most often in the shard lead its template count: with a scarce answer the
shard would otherwise end that common answer one ahead, shard after shard. Among the acceptable
candidates the generator takes the one whose answer leads least. Choice letters are placed at the least used position of the template (ties: the rng).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from engine.qa.candidate import Candidate


class Balancer:
    """Answer and letter counts for one shard."""

    def __init__(self, tolerance: float, min_slack: int, context_slack: int, varied: bool = True):
        self.tolerance = float(tolerance)
        self.require_varied = bool(varied)
        self.min_slack = int(min_slack)
        self.context_slack = int(context_slack)
        self.counts: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.totals: dict[tuple, int] = defaultdict(int)
        self.letters: dict[tuple[str, int], list[int]] = {}
        self.usage: dict[str, int] = defaultdict(int)
        self.wins: dict[tuple[str, str], int] = defaultdict(int)
        self.expected: dict[tuple[str, str], float] = defaultdict(float)
        self.seen: dict[tuple, set] = defaultdict(set)  # counter -> answers (or won/lost) seen among candidates
        self.offered: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))  # hold_common_answer

    def _keys(self, c: Candidate) -> list[tuple[tuple, int]]:
        """Answer counters of ``c`` with their slack: the template's, one per text feature
        (``c.features``) and, for questions about a pair, one for the pair's categories in
        naming order (``c.context_key``; the categories of three or more objects are too many
        combinations to meet twice in a shard)."""
        keys = _counters(c)
        return [(keys[0], self.min_slack)] + [(k, self.context_slack) for k in keys[1:]]

    def _option_keys(self, c: Candidate, key: str) -> list[tuple]:
        """Win/expected counters of option key ``key``: per template and per template and text feature."""
        t = c.template.id
        return [(t, key)] + [(t, "feature", f, key) for f in c.features]

    def observe(self, cands: list[Candidate]) -> None:
        """Record the answers the shard's candidates show in each counter (accepted or not).

        A counter takes rows only once its candidates have shown two different answers (an
        option key, per template: once it has been seen both right and wrong), so a context
        whose answer never varies, such as "walk forward, get closer", is never asked: its
        answer would follow from the words."""
        seen = self.seen
        for c in cands:
            if c.answer_space is not None:
                answer = c.answer_key
                if c.template.constraints.get("hold_common_answer"):
                    self.offered[c.template.id][answer] += 1
                for key in _counters(c):
                    seen[key].add(answer)
            if c.option_keys:
                t, right = c.template.id, c.correct
                for k, ok in enumerate(c.option_keys):
                    seen[(t, ok)].add(k == right)

    def varied(self, key: tuple) -> bool:
        """True when counter ``key`` has been seen with two or more answers (see :meth:`observe`),
        or when the balancer does not require it (``varied=False``)."""
        return not self.require_varied or len(self.seen.get(key, ())) >= 2

    def held(self, c: Candidate) -> bool:
        """True when ``c``'s template has ``constraints.hold_common_answer`` and ``c``'s answer is
        the one the shard's candidates of the template have offered most often (strictly more than
        every other answer of its space, counted by :meth:`observe`): that answer may be accepted
        only while it stays at or below the reference count of the other answers (see
        :meth:`_held_ok`), so it never leads the template's count.

        Why: when one answer is scarce among the candidates (a sideways walk rarely brings you
        closer; most objects are 75-100% visible), every shard otherwise ends with the common
        answer ahead by the slack, and over a run those leads add up to a text-only shortcut."""
        if not c.template.constraints.get("hold_common_answer") or c.answer_space is None:
            return False
        off = self.offered.get(c.template.id)
        if not off:
            return False
        mine = off.get(c.answer_key, 0)
        return all(mine > off.get(k, 0) for k in c.answer_space if k != c.answer_key)

    def _held_ok(self, c: Candidate) -> bool:
        """For a held answer (:meth:`held`): whether, after accepting it, its template count is at
        most the reference of the other answers (the least of them for spaces of up to 3 answers,
        else the ``(len(space) - 1) // 2``-th smallest, as in :meth:`lead`)."""
        cnt = self.counts.get(_counters(c)[0], {})
        space = c.answer_space
        others = sorted(cnt.get(k, 0) for k in space if k != c.answer_key)
        ref = others[0] if len(space) <= 3 else others[(len(space) - 1) // 2]
        return cnt.get(c.answer_key, 0) + 1 <= ref

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
        """Largest wins-minus-expected-wins of the right option's key after accepting ``c``, over
        the template and each (template, text feature) counter (at least 0; 0 if no keys)."""
        if not c.option_keys:
            return 0.0
        inc = 1.0 - 1.0 / len(c.option_keys)
        return max([0.0] + [self.wins.get(w, 0) + inc - self.expected.get(w, 0.0)
                            for w in self._option_keys(c, c.option_keys[c.correct])])

    def _option_slack(self, w: tuple) -> int:
        """Slack of option counter ``w``: the template's (``(template, key)``) or a feature's."""
        return self.min_slack if len(w) == 2 else self.context_slack

    def acceptable(self, c: Candidate) -> bool:
        """False when accepting ``c`` would exceed the slack at any level (the plain form of
        :meth:`score`, which must agree with it)."""
        if c.option_keys:
            for w in self._option_keys(c, c.option_keys[c.correct]):
                if len(w) == 2 and not self.varied(w):
                    return False
                e = self.wins[w] + (1.0 - 1.0 / len(c.option_keys)) - self.expected[w]
                if e > max(self._option_slack(w), self.tolerance * self.expected[w]):
                    return False
            for key in c.option_keys:  # a distractor's key: never "always wrong"
                w = (c.template.id, key)
                if key != c.option_keys[c.correct]:
                    d = self.expected[w] + 1.0 / len(c.option_keys) - self.wins[w]
                    if d > max(self.min_slack, self.tolerance * self.expected[w]):
                        return False
        if c.answer_space is None:
            return True
        if c.answer_key not in c.answer_space:
            raise ValueError(f"{c.template.id}: answer_key {c.answer_key!r} not in answer_space {c.answer_space}")
        if self.held(c) and not self._held_ok(c):
            return False
        for (key, slack), lead in zip(self._keys(c), self.lead(c)):
            if not self.varied(key) or lead + 1 > max(slack, self.tolerance * self.totals[key]):
                return False
        return True

    def score(self, c: Candidate) -> tuple | None:
        """None when accepting ``c`` would exceed the slack at any level, else its rank key for
        :meth:`choose` (lower is better): (template-level lead, largest lead over the context and
        feature levels, largest option excess). Leads are counted before accepting ``c``; each
        count is looked up once and no empty count is inserted, since this runs for every
        candidate of every pick."""
        excess = 0.0
        if c.option_keys:
            inc = 1.0 - 1.0 / len(c.option_keys)
            for w in self._option_keys(c, c.option_keys[c.correct]):
                if len(w) == 2 and self.require_varied and len(self.seen.get(w, ())) < 2:  # varied()
                    return None
                expected = self.expected.get(w, 0.0)
                e = self.wins.get(w, 0) + inc - expected
                if e > max(self._option_slack(w), self.tolerance * expected):
                    return None
                excess = max(excess, e)
            share, right, t = 1.0 / len(c.option_keys), c.option_keys[c.correct], c.template.id
            for key in c.option_keys:  # a distractor's key: its deficit within the slack as well
                if key != right:
                    expected = self.expected.get((t, key), 0.0)
                    if expected + share - self.wins.get((t, key), 0) > max(self.min_slack, self.tolerance * expected):
                        return None
        space = c.answer_space
        if space is None:
            return (0, 0, excess)
        answer = c.answer_key
        if answer not in space:
            raise ValueError(f"{c.template.id}: answer_key {answer!r} not in answer_space {space}")
        if self.held(c) and not self._held_ok(c):
            return None
        seen, counts, totals, tol = self.seen, self.counts, self.totals, self.tolerance
        varied, small = self.require_varied, len(space) <= 3
        leads = []
        slack = self.min_slack  # the template's counter first, then the context and feature ones
        for key in _counters(c):
            if varied and len(seen.get(key, ())) < 2:  # varied(), inlined
                return None
            cnt = counts.get(key)
            if cnt is None:
                lead = 0
            else:
                vals = [cnt.get(k, 0) for k in space]
                lead = cnt.get(answer, 0) - (min(vals) if small else sorted(vals)[(len(vals) - 1) // 2])
            if lead + 1 > slack and lead + 1 > tol * totals.get(key, 0):  # > max(slack, tol * total)
                return None
            leads.append(lead)
            slack = self.context_slack
        return (leads[0], max(leads[1:], default=0), excess)

    def choose(self, cands: list[Candidate], rng: np.random.Generator,
               scores: dict[int, tuple | None] | None = None) -> Candidate | None:
        """The acceptable candidate whose answer is least used (ties: rng order), or None.
        ``scores``: a memo id(candidate) -> :meth:`score` for calls made while nothing is
        committed (the generator's two tries of one pick)."""
        if not cands:
            return None
        order = rng.permutation(len(cands))
        best, best_score = None, None
        for k in order.tolist():
            c = cands[k]
            if scores is None:
                score = self.score(c)
            else:
                score = scores[id(c)] = scores[id(c)] if id(c) in scores else self.score(c)
            if score is None:
                continue
            if best is None or score < best_score:
                best, best_score = c, score
        return best

    def commit(self, c: Candidate) -> None:
        """Count the accepted candidate."""
        self.usage[c.template.id] += 1
        if c.option_keys:
            share = 1.0 / len(c.option_keys)
            for k in c.option_keys:
                for w in self._option_keys(c, k):
                    self.expected[w] += share
            for w in self._option_keys(c, c.option_keys[c.correct]):
                self.wins[w] += 1
        if c.answer_space is None:
            return
        for key in _counters(c):
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


def _counters(c: Candidate) -> list[tuple]:
    """The answer counter keys of :meth:`Balancer._keys`, in that order (template, features,
    pair context), made once per candidate: observe, score and commit all read them. Kept on
    the candidate with the objects they were made from, and remade when one was replaced."""
    got = c.__dict__.get("_balance_counters")
    if got is not None and got[0] is c.template and got[1] is c.answer_space and got[2] is c.features \
            and got[3] is c.context_key:
        return got[4]
    base = (c.template.id, c.answer_space)
    keys = [base] + [base + ("feature", f) for f in c.features]
    if len(c.context_key) == 2:  # a pair's categories (which is taller, above, nearer...)
        keys.append(base + ("context",) + tuple(c.context_key))
    c._balance_counters = (c.template, c.answer_space, c.features, c.context_key, keys)
    return keys
