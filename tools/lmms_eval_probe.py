"""Load a dataset's exported lmms-eval task through lmms-eval itself and score the ground truth.

Run with the interpreter that has lmms-eval (``make setup-lmms`` builds ``.venv-lmms``; the
engine's own venv does not carry lmms-eval's torch stack):

    .venv-lmms/bin/python tools/lmms_eval_probe.py DATASET

It builds ``TaskManager(include_path=DATASET/lmms_eval)``, gets the ``spatialforge`` task, and
for every test document runs the task's ``process_results`` on the true answer and on a wrong
one (``"zzz"``), then the task's aggregation over each. Prints one JSON object: ``docs``,
``ids`` (document ids in order), ``truth_scores`` / ``wrong_scores`` (per document, in [0, 1]),
``truth_aggregate`` / ``wrong_aggregate`` (the task's aggregation, percent), ``lmms_eval``
(version). This file imports nothing from the engine.
"""
from __future__ import annotations

import json
import os
import sys
from importlib.metadata import version


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: lmms_eval_probe.py DATASET", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from lmms_eval.tasks import TaskManager, get_task_dict

    folder = os.path.abspath(argv[0])
    tm = TaskManager(include_path=os.path.join(folder, "lmms_eval"))
    task = get_task_dict(["spatialforge"], tm)["spatialforge"]
    docs = list(task.test_docs())
    agg = task.aggregation()["spatialforge_score"]
    right = [task.process_results(d, [d["answer"]])["spatialforge_score"] for d in docs]
    wrong = [task.process_results(d, ["zzz"])["spatialforge_score"] for d in docs]
    print(json.dumps({
        "lmms_eval": version("lmms_eval"),
        "docs": len(docs),
        "ids": [d["id"] for d in docs],
        "truth_scores": [r["score"] for r in right],
        "wrong_scores": [r["score"] for r in wrong],
        "truth_aggregate": agg(right),
        "wrong_aggregate": agg(wrong),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
