"""Split rules (docs/splits.md): what a ``split`` config holds out, as a predicate on a row's
recorded factors (``conf/factors.yaml``). The pipeline routes rows by it
(``engine.pipeline.splits``); the leakage checker (``engine.eval.leaks``) rebuilds it from the
dataset's ``splits.json`` and checks every row against it.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.qa.factors import load_factors
from engine.schema import canonical_hash

# strategy -> (params key holding the held-out values, factor it reads; None: params.factor)
STRATEGIES: dict[str, tuple[str, str] | None] = {
    "random": None,
    "heldout_categories": ("categories", "scene_categories"),
    "heldout_combos": ("pairs", "scene_{kind}_pairs"),
    "heldout_room_types": ("room_types", "room_type"),
    "heldout_templates": ("templates", "template_id"),
    "heldout_paraphrases": ("paraphrases", "paraphrase"),
    "heldout_tasks": ("tasks", "task"),
    "ood": None,
}
COMBO_KINDS = ("color", "material")
SPLIT_KEYS = ("ratios", "strategy", "params", "heldout_split", "keep_other_rows_in_heldout")


@dataclass(frozen=True)
class Rule:
    """A resolved split rule: which factor it reads, at which level, and what it holds out."""

    strategy: str
    factor: str | None = None
    level: str | None = None  # scene: move scenes; view/row: drop rows
    values: frozenset = frozenset()
    lo: float | None = None  # ood: held out when lo <= x < hi (either bound may be None)
    hi: float | None = None
    heldout_split: str | None = None
    keep_other: bool = True

    def held_out(self, factors: dict) -> bool:
        """Whether a row with these factors holds a held-out value."""
        if self.factor is None:
            return False
        v = factors.get(self.factor)
        if v is None:
            return False
        if self.strategy == "ood":
            x = float(v)
            return (self.lo is None or x >= self.lo) and (self.hi is None or x < self.hi)
        if isinstance(v, list):
            return any(x in self.values for x in v)
        return v in self.values


def split_cfg(cfg: dict) -> dict:
    """The ``split`` group with the defaults of keys a hand-made config leaves out."""
    s = dict(cfg.get("split") or {})
    s.setdefault("strategy", "random")
    s.setdefault("params", {})
    s.setdefault("heldout_split", "test")
    s.setdefault("keep_other_rows_in_heldout", True)
    return s


def make_rule(split: dict) -> Rule:
    """The Rule of a validated ``split`` group."""
    s = split_cfg({"split": split})
    strat, p = s["strategy"], dict(s["params"] or {})
    if strat == "random":
        return Rule("random")
    reg = load_factors()
    common = {"heldout_split": s["heldout_split"], "keep_other": bool(s["keep_other_rows_in_heldout"])}
    if strat == "ood":
        f = reg[p["factor"]]
        lo, hi = p.get("min"), p.get("max")
        if p.get("bins") is not None:  # registry bin indices -> one [lo, hi) range
            edges = (-float("inf"), *f.bins, float("inf"))
            b = sorted(int(k) for k in p["bins"])
            lo, hi = edges[b[0]], edges[b[-1] + 1]
            lo, hi = (None if lo == -float("inf") else lo), (None if hi == float("inf") else hi)
        return Rule(strat, f.name, f.level, lo=None if lo is None else float(lo), hi=None if hi is None else float(hi),
                    **common)
    key, factor = STRATEGIES[strat]
    if strat == "heldout_combos":
        factor = factor.format(kind=p.get("kind", "color"))
    return Rule(strat, factor, reg[factor].level, frozenset(p[key]), **common)


def rule_record(split: dict) -> dict:
    """What splits.json and the manifest record of the rule: strategy, parameters, the factor and
    level it reads, and ``rule_hash`` (canonical hash of the split group)."""
    s = split_cfg({"split": split})
    rule = make_rule(s)
    rec = {k: s[k] for k in SPLIT_KEYS}
    rec.update({"factor": rule.factor, "level": rule.level, "rule_hash": canonical_hash(rec)})
    return rec


