#!/usr/bin/env python
"""The blind meter: how well can each template be answered from its question text alone?

Rows come from a dataset (a Parquet file or folder of QA rows, or JSON lines) or are generated
from N sampled scenes with the pipeline's stages (one QA generator per
``output.scenes_per_shard`` scenes, as the pipeline runs it). Per template, text-only models
(n-gram logistic regression, option scorer, rule probes; a ridge regressor for numbers) are
fitted on half of the scenes and scored on the other half (engine/eval/blind.py).

    .venv/bin/python tools/blind_baseline.py --scenes 1000                    # default config
    .venv/bin/python tools/blind_baseline.py --scenes 300 --overrides scene=tabletop
    .venv/bin/python tools/blind_baseline.py --rows outputs/run/data          # parquet folder or .jsonl
    .venv/bin/python tools/blind_baseline.py --scenes 300 --save rows.jsonl --json table.json

``--splits K`` scores every template on K different scene splits and reports the means (one
split's excess moves by a few points with the split; the templates above chance on every split
are listed: small steady cues).

Prints per template: rows, test rows, blind accuracy, chance, excess and the strongest cue;
numeric templates: the text regressor's MRA next to the constant guess. The last line says
whether every choice/bool/text template is within --tolerance (5 points) of chance; the exit
status is 1 when one is not and --strict is given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))

from engine.eval.blind import report, score_rows, score_splits, shuffled_answers  # noqa: E402


def load_rows(path: str) -> list[dict]:
    """QA rows from a .jsonl file, a .parquet file or a folder of .parquet files (sorted)."""
    p = Path(path)
    if p.suffix == ".jsonl":
        return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
    import pyarrow.parquet as pq

    files = sorted(p.rglob("*.parquet")) if p.is_dir() else [p]
    if not files:
        raise SystemExit(f"--rows {path}: no .parquet files there; fix: point at a dataset's data/ folder or a .jsonl")
    rows = []
    for f in files:
        t = pq.read_table(f)
        rows += t.select([c for c in t.column_names if c != "images"]).to_pylist()
    return [r for r in rows if r.get("question")]


def generate_rows(n: int, overrides: list[str], cache: Path, seed: int) -> list[dict]:
    """Rows of ``n`` sampled scenes (scene indices 0..n-1, job ``seed``), each with its
    ``object_categories``; one QAGenerator per ``output.scenes_per_shard`` scenes."""
    from bench_qa import scene_records

    from engine.pipeline.config import compose_config
    from engine.qa import QAGenerator
    from engine.rng import stage_rng
    from engine.scene.catalog import load_catalog

    scenes = scene_records(n, overrides, cache, seed=seed)
    cfg = compose_config(list(overrides) + [f"seed={seed}"])
    per_shard = int(cfg["output"]["scenes_per_shard"])
    catalog = load_catalog()
    rows, gen = [], None
    for s in scenes:
        if gen is None or s.scene_index % per_shard == 0:
            gen = QAGenerator(cfg["qa"], catalog)
        cats = {o.id: o.category for o in s.objects}
        for r in gen.generate(s, stage_rng(seed, s.scene_index, "qa")):
            r["object_categories"] = [cats[o] for o in r["objects"]]
            rows.append(r)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", help="Parquet file/folder or .jsonl of QA rows; default: generate")
    ap.add_argument("--scenes", type=int, default=500, help="scenes to generate when --rows is not given")
    ap.add_argument("--seed", type=int, default=7, help="job seed of the generated scenes (the tests use 0)")
    ap.add_argument("--overrides", nargs="*", default=[], help="Hydra overrides for generation")
    ap.add_argument("--cache", default=str(REPO / "outputs" / "qa_bench_cache"),
                    help="rendered scene records are cached here, keyed by config (delete it after changing the engine)")
    ap.add_argument("--save", help="write the generated rows here (.jsonl)")
    ap.add_argument("--json", help="write the per-template table here (JSON)")
    ap.add_argument("--min-support", type=int, default=10, help="rows a probe's token must cover")
    ap.add_argument("--tolerance", type=float, default=0.05)
    ap.add_argument("--strict", action="store_true", help="exit 1 when a template is over the tolerance")
    ap.add_argument("--splits", type=int, default=1, metavar="K",
                    help="average each template's verdict over K scene splits (1: the single CRC32 split)")
    ap.add_argument("--null", type=int, default=0, metavar="K",
                    help="also score K copies with answers shuffled within each template: the meter's noise floor")
    args = ap.parse_args(argv)

    rows = load_rows(args.rows) if args.rows else generate_rows(args.scenes, args.overrides, Path(args.cache), args.seed)
    if args.save:
        Path(args.save).write_text("".join(json.dumps(r, default=str) + "\n" for r in rows))
    print(f"{len(rows)} QA rows from {len({r['scene_id'] for r in rows})} scenes")
    if args.splits < 1:
        raise SystemExit(f"--splits {args.splits}: must be at least 1")
    scores = (score_rows(rows, min_support=args.min_support) if args.splits == 1 else
              score_splits(rows, args.splits, min_support=args.min_support))
    text, ok = report(scores, args.tolerance)
    if args.splits > 1:
        print(f"means over {args.splits} scene splits (blind, chance, excess; the cue is split 0's):")
    print(text)
    if args.splits > 1:
        steady = [s for s in scores if s.extra.get("split_excess") and not s.note and s.answer_type in ("bool", "choice", "text")
                  and min(s.extra["split_excess"]) > 0]
        print(f"above chance on every one of the {args.splits} splits: " + (", ".join(
            f"{s.template_id} ({100 * min(s.extra['split_excess']):+.1f} to {100 * max(s.extra['split_excess']):+.1f})"
            for s in steady) or "none"))
    if args.json:
        Path(args.json).write_text(json.dumps([s.to_dict() for s in scores], indent=1))
    if args.null:
        import numpy as np

        worst = []
        for k in range(args.null):
            null = score_rows(shuffled_answers(rows, np.random.default_rng(k)), min_support=args.min_support)
            ex = [s.excess for s in null if not s.note and s.answer_type in ("bool", "choice", "text")]
            worst.append(max(ex))
            over = sum(e > args.tolerance for e in ex)
            print(f"null {k}: answers shuffled within templates: worst excess {100 * max(ex):+.1f} points, "
                  f"mean {100 * float(np.mean(ex)):+.1f}, {over} of {len(ex)} templates over {100 * args.tolerance:.0f}")
        print(f"the meter's noise floor on these rows: worst excess {100 * min(worst):+.1f} to {100 * max(worst):+.1f} points")
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
