"""Split assignment: a pure function of (job seed, scene index, ratios) and, for the held-out
strategies, of the rows' recorded factors (``conf/factors.yaml``; docs/splits.md).

Every row of a scene lands in one split, so no scene (and no image) is in two splits, and the
assignment does not depend on how scenes are cut into shards. ``split.strategy``:

- ``random`` (default): the scene's split is drawn from (seed, scene index) by ``split.ratios``.
- scene-level rules (``heldout_categories``, ``heldout_combos``, ``heldout_room_types`` and
  ``ood`` on a scene factor) move a whole scene holding a held-out value into
  ``split.heldout_split``;
- row-level rules (``heldout_templates``, ``heldout_paraphrases``, ``heldout_tasks`` and ``ood``
  on a view or row factor) keep the drawn split and drop held-out rows from every other split.

``split.keep_other_rows_in_heldout`` keeps (true) or drops (false) the rows of the held-out split
that hold no held-out value.
"""

from __future__ import annotations

from engine.qa.factors import load_factors
from engine.qa.split_rules import COMBO_KINDS, SPLIT_KEYS, STRATEGIES, Rule, make_rule, rule_record, split_cfg  # noqa: F401
from engine.rng import stage_rng
from engine.schema import Checker

def split_of(seed: int, scene_index: int, ratios: dict[str, float]) -> str:
    """The split of scene ``scene_index``: draw u ~ U[0, 1) from stage ``"split"`` and pick the
    split whose cumulative ratio interval (names sorted, zero ratios skipped) contains u.

    Args:
        seed: job seed (>= 0). scene_index: global scene index (>= 0).
        ratios: split name -> fraction; the fractions sum to 1.
    """
    names = sorted(k for k, v in ratios.items() if v > 0)
    if not names:
        raise ValueError("split.ratios: no split has a positive fraction; fix: e.g. split.ratios.train=1.0")
    u = float(stage_rng(seed, scene_index, "split").random())
    acc = 0.0
    for name in names:
        acc += float(ratios[name])
        if u < acc:
            return name
    return names[-1]  # u lands above a sum that rounds just below 1


def route_scene(rule: Rule, seed: int, scene_index: int, ratios: dict[str, float],
                row_factors: list[dict]) -> tuple[list[str | None], dict[str, int]]:
    """The split of every row of scene ``scene_index`` (None: dropped) and the counters
    (``split_moved_scenes.<from>``, ``split_moved_rows.<from>``, ``split_dropped_rows.<split>``;
    only those above 0)."""
    drawn = split_of(seed, scene_index, ratios)
    counts: dict[str, int] = {}
    if rule.strategy == "random" or not row_factors:
        return [drawn] * len(row_factors), counts
    held = [rule.held_out(f) for f in row_factors]
    ho = rule.heldout_split
    if rule.level == "scene":
        if any(held):
            if drawn != ho:
                counts[f"split_moved_scenes.{drawn}"] = 1
                counts[f"split_moved_rows.{drawn}"] = len(row_factors)
            return [ho] * len(row_factors), counts
        if drawn == ho and not rule.keep_other:
            counts[f"split_dropped_rows.{ho}"] = len(row_factors)
            return [None] * len(row_factors), counts
        return [drawn] * len(row_factors), counts
    if drawn == ho:  # the held-out split: its held-out rows, and the others when keep_other
        out = [drawn if (h or rule.keep_other) else None for h in held]
    else:  # any other split: never a held-out row
        out = [None if h else drawn for h in held]
    dropped = sum(o is None for o in out)
    if dropped:
        counts[f"split_dropped_rows.{drawn}"] = dropped
    return out, counts


def split_cfg_errors(cfg: dict) -> list[str]:
    """Problems of ``split.strategy``, ``split.params``, ``split.heldout_split`` and
    ``split.keep_other_rows_in_heldout`` (``split.ratios`` is checked by the caller)."""
    s = cfg.get("split")
    if not isinstance(s, dict):
        return []
    c = Checker(s, "split")
    names = sorted(k for k, v in (s.get("ratios") or {}).items() if isinstance(v, (int, float)) and v > 0)
    strat = s.get("strategy", "random")
    if not c.one_of("strategy", STRATEGIES):
        return c.errors
    c.boolean("keep_other_rows_in_heldout")
    p = s.get("params", {})
    if p is None:
        p = {}
    if not isinstance(p, dict):
        c.err("params", f"got {p!r}; fix: a mapping of the strategy's parameters (docs/splits.md)")
        return c.errors
    if strat == "random":
        if p:
            c.err("params", f"got {p!r}; fix: remove them (strategy random takes no parameters) or pick a "
                            "strategy (docs/splits.md)")
        return c.errors
    c.check("heldout_split", lambda v: isinstance(v, str) and v in names,
            f"a split with a positive ratio ({', '.join(names)}), the split that holds the held-out values")
    if len(names) < 2:
        c.err("ratios", f"strategy {strat} needs a held-out split and at least one other; fix: give two or more "
                        "splits a positive ratio")
    reg = load_factors()
    c2 = Checker(p, "split.params")
    if strat == "ood":
        if not c2.keys("", ("factor",), ("min", "max", "bins"), see="docs/splits.md"):
            return c.errors + c2.errors
        numeric = [n for n, f in reg.items() if f.numeric]
        if not c2.check("factor", lambda v: v in numeric, f"a numeric factor of conf/factors.yaml ({', '.join(numeric)})"):
            return c.errors + c2.errors
        f = reg[p["factor"]]
        for k in ("min", "max"):
            c2.check(k, lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)),
                     "a number or null")
        if "bins" in p:
            nb = len(f.bins or ()) + 1
            if "min" in p or "max" in p:
                c2.err("bins", "given with min/max; fix: give either bins (bin indices) or min/max")
            elif not f.bins:
                c2.err("bins", f"factor {f.name} declares no bins in conf/factors.yaml; fix: use min/max instead")
            else:
                c2.check("bins", lambda v: isinstance(v, list) and bool(v) and all(
                    isinstance(b, int) and not isinstance(b, bool) and 0 <= b < nb for b in v) and
                    sorted(v) == list(range(min(v), max(v) + 1)),
                    f"a list of consecutive bin indices in 0..{nb - 1} (factor {f.name}, edges {list(f.bins)})")
        elif p.get("min") is None and p.get("max") is None:
            c2.err("", f"no range; fix: give min and/or max (held out: min <= {f.name} < max) or bins")
        elif is_pair(p.get("min"), p.get("max")) and p["min"] >= p["max"]:
            c2.err("min", f"{p['min']!r} >= max {p['max']!r}; fix: min must be below max")
        return c.errors + c2.errors
    key, factor = STRATEGIES[strat]
    extra = ("kind",) if strat == "heldout_combos" else ()
    if not c2.keys("", (key,), extra, see="docs/splits.md"):
        return c.errors + c2.errors
    if strat == "heldout_combos":
        if not c2.one_of("kind", COMBO_KINDS):
            return c.errors + c2.errors
    if strat == "heldout_paraphrases":
        c2.check(key, lambda v: isinstance(v, list) and bool(v) and all(
            isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in v),
            "a non-empty list of paraphrase indices (0 = a template's first paraphrase)")
    else:
        ok = c2.check(key, lambda v: isinstance(v, list) and bool(v) and all(isinstance(x, str) and x for x in v),
                      f"a non-empty list of names, e.g. {key}=[...]")
        if ok and strat == "heldout_combos":
            for x in p[key]:
                if x.count("/") != 1:
                    c2.err(key, f"{x!r} is not category/{p.get('kind', 'color')}; fix: write pairs as e.g. chair/red")
    return c.errors + c2.errors


def is_pair(a, b) -> bool:
    return all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
