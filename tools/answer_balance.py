"""Answer balance of a generated dataset: per template, the share of each answer.

For every bool and choice template whose answers come from a small fixed set (<= --max-answers
distinct answers: yes/no, left/right, bins, quadrants, ...), prints each answer's share and the
excess of the most common answer over a uniform share. A model that always gives a template's
most common answer scores (uniform + excess) without looking at the image: the excess is a
shortcut, and balancing (docs/qa.md) keeps it small.

    .venv/bin/python tools/answer_balance.py outputs/demo [--max-answers 4] [--tolerance 0.02]

Exits 0 either way; the last line says whether every template with at least --min-rows rows
is within --tolerance of uniform.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import pyarrow.parquet as pq


def answer_shares(folder: Path) -> dict[str, collections.Counter]:
    """Template id -> Counter of typed answers (JSON text) over every Parquet shard of ``folder``."""
    files = sorted((folder / "data").glob("*.parquet"))
    if not files:
        raise SystemExit(f"{folder}: no data/*.parquet files; fix: pass a dataset folder written by spatialforge generate")
    by: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for f in files:
        for r in pq.read_table(f, columns=["template_id", "answer_type", "value"]).to_pylist():
            if r["answer_type"] in ("bool", "choice"):
                by[r["template_id"]][json.dumps(json.loads(r["value"]))] += 1
    return by


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--max-answers", type=int, default=4, help="only templates with at most this many distinct answers")
    ap.add_argument("--min-rows", type=int, default=50, help="templates with fewer rows are listed but not judged")
    ap.add_argument("--tolerance", type=float, default=0.03, help="allowed excess of the top answer over uniform")
    args = ap.parse_args(argv)
    by = answer_shares(args.folder)
    print(f"{'template':42s} {'rows':>5s} {'excess':>7s}  answers")
    bad = []
    for tid, c in sorted(by.items()):
        n, k = sum(c.values()), len(c)
        if k > args.max_answers:
            continue
        top = c.most_common(1)[0][1] / n
        excess = top - 1.0 / max(k, 2)
        shares = ", ".join(f"{json.loads(a)}: {m / n:.0%}" for a, m in sorted(c.items()))
        flag = ""
        if n >= args.min_rows and excess > args.tolerance:
            flag, _ = "  <-- unbalanced", bad.append(tid)
        elif n < args.min_rows:
            flag = "  (too few rows to judge)"
        print(f"{tid:42s} {n:5d} {excess:+7.3f}  {shares}{flag}")
    verdict = "every judged template within" if not bad else f"{len(bad)} template(s) beyond"
    print(f"{verdict} {args.tolerance:.0%} of uniform (templates with >= {args.min_rows} rows)")


if __name__ == "__main__":
    main(sys.argv[1:])
