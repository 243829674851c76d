#!/usr/bin/env python
"""Blind baseline: how well can a question be answered from its text alone? (the shortcut meter)

Rows come from a dataset (a Parquet file or folder of QA rows, or JSON lines), or are generated
on the fly from N sampled scenes with the pipeline's stages and the default QA config. Rows are
split by scene into two halves; the baseline is fitted on one half and tested on the other:

- bool: the most frequent answer for (template, referenced categories), backing off to the
  template when that key was seen fewer than --min-support times;
- choice: among the question's own options, the one most often right for the same keys (by
  option text), backing off to the most frequent letter of the template;
- count / number / text: the most frequent answer text per key (reported, no chance level).

Referenced categories come from the scene record when rows carry one (``scene`` JSON) or from
the generated scenes; questions naming objects by marks use the key "mark".

    .venv/bin/python tools/blind_baseline.py --scenes 500 [--overrides qa.families=[relations]]
    .venv/bin/python tools/blind_baseline.py --rows outputs/run/data   # parquet folder or .jsonl

Prints per family and task: rows, answer distribution (with --dist), blind accuracy, chance and
the difference; a final line says whether every choice/bool task is within 5 points of chance.
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))


def load_rows(path: str) -> list[dict]:
    """QA rows from a .jsonl file, a .parquet file or a folder of .parquet files (sorted)."""
    p = Path(path)
    if p.suffix == ".jsonl":
        return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
    import pyarrow.parquet as pq

    files = sorted(p.rglob("*.parquet")) if p.is_dir() else [p]
    rows = []
    for f in files:
        t = pq.read_table(f)
        cols = [c for c in t.column_names if c not in ("images",)]
        rows += t.select(cols).to_pylist()
    return [r for r in rows if r.get("question")]


def _json_field(v):
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def categories_key(row: dict, scenes: dict) -> tuple:
    """What the question text reveals of its objects: their categories in order, or ("mark",)."""
    if _json_field(row.get("marks")):
        return ("mark",)
    scene = scenes.get(row["scene_id"])
    if scene is None:
        return ()
    objs = _json_field(row.get("objects")) or []
    return tuple(scene.get(o, "?") for o in objs)


def generate_rows(n: int, overrides: list[str], cache: Path) -> tuple[list[dict], dict]:
    """Rows from ``n`` sampled scenes (pipeline stages, default QA config with overrides)."""
    from bench_qa import scene_records

    from engine.pipeline.config import compose_config
    from engine.qa import QAGenerator
    from engine.rng import stage_rng
    from engine.scene.catalog import load_catalog

    scenes = scene_records(n, overrides, cache)
    cfg = compose_config(overrides)
    gen = QAGenerator(cfg["qa"], load_catalog())
    rows = []
    for s in scenes:
        rows += gen.generate(s, stage_rng(0, s.scene_index, "qa"))
    cats = {s.scene_id: {o.id: o.category for o in s.objects} for s in scenes}
    return rows, cats


def _half(scene_id: str) -> int:
    return zlib.crc32(scene_id.encode()) & 1


def evaluate(rows: list[dict], cats: dict, min_support: int = 5) -> dict:
    """Per (family, task, answer_type): n, blind accuracy on the test half, chance level."""
    train = [r for r in rows if _half(r["scene_id"]) == 0]
    test = [r for r in rows if _half(r["scene_id"]) == 1]
    by_key: dict[tuple, Counter] = defaultdict(Counter)
    by_t: dict[str, Counter] = defaultdict(Counter)
    letters: dict[str, Counter] = defaultdict(Counter)
    for r in train:
        val = json.dumps(_json_field(r["value"]), sort_keys=True) if r["answer_type"] != "choice" else r["value"]
        by_key[(r["template_id"], categories_key(r, cats))][val] += 1
        by_t[r["template_id"]][val] += 1
        if r["answer_type"] == "choice":
            letters[r["template_id"]][r["answer_index"]] += 1
    out: dict[tuple, dict] = defaultdict(lambda: {"n": 0, "hit": 0, "chance": 0.0})
    for r in test:
        key = (r["template_id"], categories_key(r, cats))
        stats = by_key[key] if sum(by_key[key].values()) >= min_support else by_t[r["template_id"]]
        if r["answer_type"] == "choice":
            choices = _json_field(r["choices"])
            scores = [stats.get(c, 0) for c in choices]
            if max(scores, default=0) > 0:
                guess = max(range(len(choices)), key=lambda k: (scores[k], -k))
            else:
                lc = letters[r["template_id"]]
                guess = max(range(len(choices)), key=lambda k: (lc.get(k, 0), -k))
            hit = guess == r["answer_index"]
            chance = 1.0 / len(choices)
        else:
            val = json.dumps(_json_field(r["value"]), sort_keys=True)
            guess = stats.most_common(1)[0][0] if stats else None
            hit = guess == val
            chance = 0.5 if r["answer_type"] == "bool" else float("nan")
        o = out[(r["family"], r["task"], r["answer_type"])]
        o["n"] += 1
        o["hit"] += int(hit)
        o["chance"] += chance
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", help="Parquet file/folder or .jsonl of QA rows; default: generate")
    ap.add_argument("--scenes", type=int, default=500, help="scenes to generate when --rows is not given")
    ap.add_argument("--overrides", nargs="*", default=[], help="Hydra overrides for generation")
    ap.add_argument("--cache", default=str(REPO / "outputs" / "qa_bench_cache"))
    ap.add_argument("--min-support", type=int, default=5)
    ap.add_argument("--dist", action="store_true", help="print the answer distribution of each task")
    ap.add_argument("--tolerance", type=float, default=0.05)
    args = ap.parse_args(argv)

    if args.rows:
        rows = load_rows(args.rows)
        cats = {}
        for r in rows:
            sc = _json_field(r.get("scene"))
            if isinstance(sc, dict) and r["scene_id"] not in cats:
                cats[r["scene_id"]] = {o["id"]: o["category"] for o in sc.get("objects", [])}
    else:
        rows, cats = generate_rows(args.scenes, args.overrides, Path(args.cache))
    fam = Counter(r["family"] for r in rows)
    print(f"{len(rows)} QA rows from {len({r['scene_id'] for r in rows})} scenes; per family: "
          + ", ".join(f"{k} {v}" for k, v in sorted(fam.items())))
    res = evaluate(rows, cats, args.min_support)
    tasks = Counter((r["family"], r["task"], r["answer_type"]) for r in rows)
    print(f"{'family.task (answer type)':<44}{'rows':>6}{'test':>6}{'blind':>8}{'chance':>8}{'diff':>7}")
    worst, ok = 0.0, True
    for key in sorted(tasks):
        o = res.get(key)
        name = f"{key[0]}.{key[1]} ({key[2]})"
        if not o or not o["n"]:
            print(f"{name:<44}{tasks[key]:>6}{0:>6}")
            continue
        acc = o["hit"] / o["n"]
        ch = o["chance"] / o["n"]
        if key[2] in ("bool", "choice"):
            d = acc - ch
            worst = max(worst, d)
            flag = "" if d <= args.tolerance else "  <-- above chance + tolerance"
            ok &= d <= args.tolerance
            print(f"{name:<44}{tasks[key]:>6}{o['n']:>6}{100 * acc:>7.1f}%{100 * ch:>7.1f}%{100 * d:>+6.1f}{flag}")
        else:
            print(f"{name:<44}{tasks[key]:>6}{o['n']:>6}{100 * acc:>7.1f}%{'-':>8}")
        if args.dist:
            dist = Counter(str(r["answer"] if r["answer_type"] != "choice" else r["answer"][:1]) for r in rows
                           if (r["family"], r["task"], r["answer_type"]) == key)
            print("      answers: " + ", ".join(f"{a!s:.24} {c}" for a, c in dist.most_common(8)))
    print(f"worst choice/bool excess over chance: {100 * worst:+.1f} points; "
          f"{'every choice/bool task within' if ok else 'NOT every task within'} {100 * args.tolerance:.0f} points")


if __name__ == "__main__":
    main()
