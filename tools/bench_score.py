"""Benchmark of ``spatialforge score``: 1,000,000 noisy predictions against a 1,000,000-row dataset.

The dataset is a small generated one (``--source``, made with ``spatialforge generate`` when
missing) whose rows are replicated, with new ids, into one Parquet file of the right schema
(without images and scene records, which scoring does not read); the predictions are the
ground truth with noise (a wrong letter, a scaled number, a shifted box (a third of the 3D boxes also turned), a
changed map cell, an unparseable answer, 0.1% missing ids). Then the whole command (read both files, parse, score,
tables per family / task / answer type / template) runs once, timed, and the score is printed.

    .venv/bin/python tools/bench_score.py --rows 1000000            # pin to one core: taskset -c 0 ...
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.eval.score import format_report, load_truth, score_dataset  # noqa: E402

COLUMNS = ("id", "family", "task", "template_id", "answer_type", "answer", "choices", "answer_index", "value", "unit")


def _noisy(rng: np.random.Generator, at: str, answer: str, choices, index, value, unit) -> str:
    u = rng.random()
    if u < 0.05:
        return "I cannot tell"
    if at == "choice":
        return f"{chr(65 + int(rng.integers(len(choices))))}." if u < 0.4 else answer[0]
    if at == "number":
        return f"{float(json.loads(value)) * rng.uniform(0.6, 1.4):.2f} {unit}" if u < 0.7 else answer
    if at == "bool":
        return ("yes" if u < 0.5 else "no")
    if at == "count":
        return str(int(json.loads(value)) + int(rng.integers(-1, 2)))
    if at == "json" and answer.startswith("["):
        b = json.loads(answer)
        d = int(rng.integers(0, 8))
        return json.dumps([b[0] + d, b[1], b[2] + d, b[3]])
    if at == "json":
        d = json.loads(answer)
        d["center"][0] += float(rng.uniform(-0.3, 0.3))
        if u < 0.35:  # a turned box: the general (convex hull) path
            a = float(rng.uniform(-0.5, 0.5))
            turn = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
            d["rotation"] = np.round(np.array(d["rotation"]) @ turn, 3).tolist()
        return json.dumps(d)
    if at == "ascii":
        lines = answer.split("\n")
        lines[1] = lines[1][:1] + "X" + lines[1][2:]
        return "\n".join(lines)
    return answer


def make(source: Path, rows: int, out: Path, seed: int = 0) -> tuple[Path, Path]:
    t = load_truth(str(source), COLUMNS).drop(["split"])
    reps = -(-rows // t.num_rows)
    big = pa.concat_tables([t] * reps).slice(0, rows)
    ids = [f"r{k:07d}" for k in range(rows)]
    big = big.set_column(0, "id", pa.array(ids, pa.string()))
    (out / "ds" / "data").mkdir(parents=True, exist_ok=True)
    pq.write_table(big, out / "ds" / "data" / "test-00000-of-00001.parquet")
    rng = np.random.default_rng(seed)
    small = {k: t[k].to_pylist() for k in COLUMNS}
    noisy = [[_noisy(rng, small["answer_type"][i], small["answer"][i], small["choices"][i], small["answer_index"][i],
                     small["value"][i], small["unit"][i]) for i in range(t.num_rows)] for _ in range(3)]
    with open(out / "preds.jsonl", "w", encoding="utf-8") as f:
        for k in range(rows):
            if k % 1000 == 999:  # 0.1% missing
                continue
            f.write(json.dumps({"id": ids[k], "prediction": noisy[k // t.num_rows % 3][k % t.num_rows]}) + "\n")
    return out / "ds", out / "preds.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--source", default="/tmp/score_bench_src", help="a small generated dataset (made when missing)")
    ap.add_argument("--work", default="/tmp/score_bench")
    ap.add_argument("--by", default="template_id")
    a = ap.parse_args()
    src, work = Path(a.source), Path(a.work)
    if not (src / "data").is_dir():
        subprocess.run([sys.executable, "-m", "engine.cli", "generate", "num_scenes=20", f"out={src}", "progress=false",
                        "camera.width=128", "camera.height=128"], check=True, cwd=REPO)
    t0 = time.perf_counter()
    ds, preds = make(src, a.rows, work)
    print(f"made {a.rows:,} rows and predictions in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    r = score_dataset(str(ds), str(preds), by=[b for b in a.by.split(",") if b])
    dt = time.perf_counter() - t0
    print("\n".join(format_report(r).splitlines()[:30]))
    print(f"\nscore: {a.rows:,} predictions in {dt:.1f} s ({a.rows / dt:,.0f} rows/s), one process")


if __name__ == "__main__":
    main()
