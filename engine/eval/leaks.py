"""The leakage checker: ``spatialforge check-splits DATASET`` (docs/splits.md).

Reads a dataset folder's Parquet shards and its ``splits.json`` and reports every way a held-out
split could leak into the others:

- ``scene``: a scene id in two splits;
- ``image``: the same image bytes (sha256) in two splits;
- ``heldout_value``: a row of a split other than the held-out one holding a held-out value of the
  recorded rule (``engine.qa.split_rules``), read from its ``factors`` column;
- ``near_duplicate``: one (scene, view, normalised question) in two splits; questions are
  normalised by lower-casing, masking digits and masking the scene's category names.

The generate command runs it at the end of every run; a leak makes generate exit non-zero.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from pathlib import Path

from engine.qa.split_rules import make_rule

SPLITS_FILE = "splits.json"
LEAK_KINDS = ("scene", "image", "heldout_value", "near_duplicate")
_SHARD = re.compile(r"^([A-Za-z0-9_]+)-\d{5}-of-\d{5}\.parquet$")
_DIGITS = re.compile(r"\d+(\.\d+)?")


class LeakError(ValueError):
    """The dataset folder cannot be checked (names it and the fix)."""


def normalise_question(text: str, names: list[str]) -> str:
    """Lower-case ``text``, mask numbers as ``#`` and every name of ``names`` as ``<obj>``
    (longest first), and collapse white space."""
    q = (text or "").lower()
    for n in sorted({n.lower() for n in names if n}, key=len, reverse=True):
        q = re.sub(r"\b" + re.escape(n) + r"s?\b", "<obj>", q)
    q = _DIGITS.sub("#", q)
    return " ".join(q.split())


def _names(factors: dict) -> list[str]:
    cats = factors.get("scene_categories") or []
    return [*cats, *(c.replace("_", " ") for c in cats)]


def check_splits(out: str | Path, max_examples: int = 5) -> dict:
    """Check the dataset in ``out``; return {ok, rows: {split: n}, leaks: {kind: n}, examples:
    [text], rule}. Raises LeakError when ``out`` holds no dataset."""
    import pyarrow.parquet as pq

    root = Path(out)
    files = sorted((root / "data").glob("*.parquet")) if (root / "data").is_dir() else []
    if not files:
        raise LeakError(f"{root}: no data/*.parquet; fix: pass a dataset folder made by spatialforge generate")
    rule_rec = None
    if (root / SPLITS_FILE).is_file():
        rule_rec = json.loads((root / SPLITS_FILE).read_text(encoding="utf-8"))
    rule = make_rule({k: rule_rec[k] for k in ("ratios", "strategy", "params", "heldout_split",
                                               "keep_other_rows_in_heldout")}) if rule_rec else None
    seen: dict[str, dict] = {k: defaultdict(set) for k in ("scene", "image", "near_duplicate")}
    first_row: dict[tuple, str] = {}
    leaks = {k: 0 for k in LEAK_KINDS}
    examples: list[str] = []
    rows: dict[str, int] = defaultdict(int)

    def leak(kind: str, msg: str) -> None:
        leaks[kind] += 1
        if len(examples) < max_examples:
            examples.append(f"{kind}: {msg}")

    for p in files:
        m = _SHARD.match(p.name)
        if not m:
            continue
        split = m.group(1)
        schema = pq.read_schema(p)
        cols = [c for c in ("id", "scene_id", "view_ids", "question", "factors", "images") if c in schema.names]
        t = pq.read_table(p, columns=cols)
        for r in t.to_pylist():
            rows[split] += 1
            rid = r.get("id")
            fac = json.loads(r["factors"]) if r.get("factors") else {}
            keys = {"scene": [r["scene_id"]],
                    "image": [hashlib.sha256(im["bytes"]).hexdigest() for im in (r.get("images") or [])
                              if im and im.get("bytes")],
                    "near_duplicate": []}
            if r.get("question"):
                q = normalise_question(r["question"], _names(fac))
                keys["near_duplicate"] = [f"{r['scene_id']}/{v}|{q}" for v in (r.get("view_ids") or [])]
            for kind, ks in keys.items():
                for k in ks:
                    splits = seen[kind][k]
                    if split not in splits and splits:
                        other = next(iter(sorted(splits)))
                        leak(kind, f"row {rid} in {split} shares {kind} {k[:80]!r} with row "
                                   f"{first_row[(kind, k)]} in {other}")
                    splits.add(split)
                    first_row.setdefault((kind, k), f"{rid}")
            if rule is not None and rule.factor is not None and split != rule.heldout_split and rule.held_out(fac):
                leak("heldout_value", f"row {rid} in {split} holds {rule.factor}={fac.get(rule.factor)!r}, held out "
                                      f"to {rule.heldout_split} by {rule.strategy}")
    return {"ok": not any(leaks.values()), "rows": dict(sorted(rows.items())), "leaks": leaks,
            "examples": examples, "rule": None if rule_rec is None else
            {k: rule_rec.get(k) for k in ("strategy", "params", "heldout_split", "rule_hash")}}


def format_report(res: dict) -> str:
    """One line, then the first leaks."""
    rows = ", ".join(f"{k} {v}" for k, v in res["rows"].items())
    rule = res.get("rule") or {"strategy": "unknown (no splits.json)"}
    if res["ok"]:
        return f"check-splits: no leak ({rows}; strategy {rule['strategy']})"
    counts = ", ".join(f"{k} {v}" for k, v in res["leaks"].items() if v)
    return "\n".join([f"check-splits: LEAKS: {counts} ({rows}; strategy {rule['strategy']}); first:",
                      *(f"  {e}" for e in res["examples"])])
