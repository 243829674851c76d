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
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from engine.qa.split_rules import make_rule

SPLITS_FILE = "splits.json"
LEAK_KINDS = ("scene", "image", "heldout_value", "near_duplicate")
_SHARD = re.compile(r"^([A-Za-z0-9_]+)-(\d{5})-of-\d{5}\.parquet$")
_DIGITS = re.compile(r"\d+(\.\d+)?")


class LeakError(ValueError):
    """The dataset folder cannot be checked (names it and the fix)."""


@lru_cache(maxsize=256)
def _name_patterns(names: tuple[str, ...]) -> tuple[tuple[str, re.Pattern], ...]:
    """(name, its compiled whole-word pattern, plural "s" allowed) for each distinct lower-cased
    name, longest first."""
    uniq = sorted({n.lower() for n in names if n}, key=len, reverse=True)
    return tuple((n, re.compile(r"\b" + re.escape(n) + r"s?\b")) for n in uniq)


def normalise_question(text: str, names: list[str]) -> str:
    """Lower-case ``text``, mask numbers as ``#`` and every name of ``names`` as ``<obj>``
    (longest first), and collapse white space."""
    q = (text or "").lower()
    for n, pat in _name_patterns(tuple(names)):
        if n in q:  # a name that is not a substring cannot match: skip its regex
            q = pat.sub("<obj>", q)
    q = _DIGITS.sub("#", q)
    return " ".join(q.split())


def _names(factors: dict) -> list[str]:
    cats = factors.get("scene_categories") or []
    return [*cats, *(c.replace("_", " ") for c in cats)]


class RowKeys(NamedTuple):
    """What the checker compares across splits for one row (see the module docstring)."""

    id: str | None
    scene: tuple[str, ...]
    image: tuple[str, ...]
    near_duplicate: tuple[str, ...]


def row_keys(row: dict, factors: dict, image_digests: dict[int, str] | None = None) -> RowKeys:
    """The leak keys of one dataset row (``row``: a row as written, images as ``{bytes, path}``
    dicts; ``factors``: its parsed ``factors`` column, {} when null).

    ``image_digests`` caches sha256 hex digests by ``id`` of the image bytes, for callers holding
    rows whose images share one bytes object (a scene's rows in a shard worker); the cache must not
    outlive those objects."""
    images = []
    for im in row.get("images") or []:
        data = im.get("bytes") if im else None
        if not data:
            continue
        if image_digests is None:
            images.append(hashlib.sha256(data).hexdigest())
        else:
            d = image_digests.get(id(data))
            if d is None:
                d = image_digests[id(data)] = hashlib.sha256(data).hexdigest()
            images.append(d)
    near = ()
    if row.get("question"):
        q = normalise_question(row["question"], _names(factors))
        near = tuple(f"{row['scene_id']}/{v}|{q}" for v in (row.get("view_ids") or []))
    return RowKeys(row.get("id"), (row["scene_id"],), tuple(images), near)


class LeakEntry(NamedTuple):
    """One row as the checker sees it: its keys, whether it holds a value the split rule holds
    out of its split, and that value (named in the report)."""

    keys: RowKeys
    held: bool
    held_value: object = None


def leak_entry(rule, split: str, row: dict, factors: dict, image_digests: dict[int, str] | None = None) -> LeakEntry:
    """The :class:`LeakEntry` of ``row`` in ``split`` under split ``rule`` (None: no rule
    recorded); arguments as for :func:`row_keys`."""
    held = rule is not None and rule.factor is not None and split != rule.heldout_split and rule.held_out(factors)
    return LeakEntry(row_keys(row, factors, image_digests), held, factors.get(rule.factor) if held else None)


class LeakTally:
    """Accumulates rows' keys split by split and counts leaks. The counts do not depend on the
    order rows are added; the examples (the first ``max_examples`` leaks) do, so every caller
    adds shards in index order and, within a shard, splits in name order and rows in file order
    (the order :func:`check_splits` reads the files in)."""

    def __init__(self, rule, max_examples: int = 5):
        self.rule = rule
        self.max_examples = max_examples
        self.seen: dict[str, dict] = {k: defaultdict(set) for k in ("scene", "image", "near_duplicate")}
        self.first_row: dict[tuple, str] = {}
        self.leaks = {k: 0 for k in LEAK_KINDS}
        self.examples: list[str] = []
        self.rows: dict[str, int] = defaultdict(int)

    def _leak(self, kind: str, msg: str) -> None:
        self.leaks[kind] += 1
        if len(self.examples) < self.max_examples:
            self.examples.append(f"{kind}: {msg}")

    def add(self, split: str, entry: LeakEntry) -> None:
        """Add one row of ``split`` (its :func:`leak_entry`)."""
        self.rows[split] += 1
        keys = entry.keys
        rid = keys.id
        for kind in ("scene", "image", "near_duplicate"):
            seen = self.seen[kind]
            for k in getattr(keys, kind):
                splits = seen[k]
                if split not in splits and splits:
                    other = next(iter(sorted(splits)))
                    self._leak(kind, f"row {rid} in {split} shares {kind} {k[:80]!r} with row "
                                     f"{self.first_row[(kind, k)]} in {other}")
                splits.add(split)
                self.first_row.setdefault((kind, k), f"{rid}")
        if entry.held:
            rule = self.rule
            self._leak("heldout_value", f"row {rid} in {split} holds {rule.factor}={entry.held_value!r}, held out "
                                        f"to {rule.heldout_split} by {rule.strategy}")

    def result(self, rule_rec: dict | None) -> dict:
        """{ok, rows: {split: n}, leaks: {kind: n}, examples: [text], rule} (see :func:`check_splits`)."""
        return {"ok": not any(self.leaks.values()), "rows": dict(sorted(self.rows.items())), "leaks": dict(self.leaks),
                "examples": list(self.examples), "rule": None if rule_rec is None else
                {k: rule_rec.get(k) for k in ("strategy", "params", "heldout_split", "rule_hash")}}


def rule_of(rule_rec: dict | None):
    """The split rule recorded in a dataset's ``splits.json`` (None when there is none)."""
    if not rule_rec:
        return None
    return make_rule({k: rule_rec[k] for k in ("ratios", "strategy", "params", "heldout_split",
                                              "keep_other_rows_in_heldout")})


def shard_files_in_order(root: Path) -> list[tuple[str, Path]]:
    """(split, path) of a dataset's ``data/*.parquet`` shards, by shard index and then split name
    (the order :class:`LeakTally` wants)."""
    files = []
    for p in (root / "data").glob("*.parquet") if (root / "data").is_dir() else []:
        m = _SHARD.match(p.name)
        if m:
            files.append((int(m.group(2)), m.group(1), p))
    return [(split, p) for _, split, p in sorted(files)]


def add_parquet_file(tally: LeakTally, split: str, path: Path) -> None:
    """Add every row of one Parquet shard of ``split`` to ``tally``."""
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    cols = [c for c in ("id", "scene_id", "view_ids", "question", "factors", "images") if c in schema.names]
    for r in pq.read_table(path, columns=cols).to_pylist():
        tally.add(split, leak_entry(tally.rule, split, r, json.loads(r["factors"]) if r.get("factors") else {}))


def check_splits(out: str | Path, max_examples: int = 5) -> dict:
    """Check the dataset in ``out``; return {ok, rows: {split: n}, leaks: {kind: n}, examples:
    [text], rule}. Raises LeakError when ``out`` holds no dataset."""
    root = Path(out)
    files = shard_files_in_order(root)
    if not files:
        raise LeakError(f"{root}: no data/*.parquet; fix: pass a dataset folder made by spatialforge generate")
    rule_rec = json.loads((root / SPLITS_FILE).read_text(encoding="utf-8")) if (root / SPLITS_FILE).is_file() else None
    tally = LeakTally(rule_of(rule_rec), max_examples)
    for split, p in files:
        add_parquet_file(tally, split, p)
    return tally.result(rule_rec)


def format_report(res: dict) -> str:
    """One line, then the first leaks."""
    rows = ", ".join(f"{k} {v}" for k, v in res["rows"].items())
    rule = res.get("rule") or {"strategy": "unknown (no splits.json)"}
    if res["ok"]:
        return f"check-splits: no leak ({rows}; strategy {rule['strategy']})"
    counts = ", ".join(f"{k} {v}" for k, v in res["leaks"].items() if v)
    return "\n".join([f"check-splits: LEAKS: {counts} ({rows}; strategy {rule['strategy']}); first:",
                      *(f"  {e}" for e in res["examples"])])
