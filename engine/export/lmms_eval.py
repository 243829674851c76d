"""An lmms-eval task for a dataset folder (``output.lmms_eval=true``): ``lmms_eval/spatialforge.yaml``
and ``lmms_eval/utils.py``, run with ``lmms-eval --tasks spatialforge --include_path DATASET/lmms_eval``.

The YAML loads the folder's Parquet files with ``datasets`` (``dataset_path`` is the folder) and
evaluates the ``test`` split. utils.py holds ``doc_to_visual``, ``doc_to_text``,
``process_results`` and the aggregation; its scoring functions are a verbatim copy of the row
scoring part of engine/eval/score.py (up to its END OF ROW SCORING line), made from that file
at export time: lmms-eval then scores with exactly the rules of ``spatialforge score`` without
installing the engine (whose rendering dependencies an evaluation machine does not need), and a
test checks the copy against the source.
"""

from __future__ import annotations

from pathlib import Path

from engine.atomic import atomic_write_text

FOLDER = "lmms_eval"
FILES = (f"{FOLDER}/spatialforge.yaml", f"{FOLDER}/utils.py")
MARKER = "# --- END OF ROW SCORING"
# read as text, not imported (eval and export are one layer; docs/architecture.md)
SCORE_SOURCE = Path(__file__).resolve().parents[1] / "eval" / "score.py"

YAML = """\
# lmms-eval task for this SpatialForge dataset (written by `spatialforge generate output.lmms_eval=true`).
# Run: lmms-eval --model ... --tasks spatialforge --include_path {folder}/lmms_eval --log_samples
# then `spatialforge score {folder} <samples_spatialforge.jsonl> --by family` for the tables.
task: spatialforge
dataset_path: {folder}
test_split: test
output_type: generate_until
doc_to_visual: !function utils.doc_to_visual
doc_to_text: !function utils.doc_to_text
doc_to_target: answer
generation_kwargs:
  max_new_tokens: 512
  temperature: 0
  do_sample: false
process_results: !function utils.process_results
metric_list:
  - metric: spatialforge_score
    aggregation: !function utils.aggregate_score
    higher_is_better: true
lmms_eval_specific_kwargs:
  default:
    pre_prompt: ""
    choice_post_prompt: "Answer with the option's letter from the given choices directly."
    short_post_prompt: "Answer the question using a single word or number."
    long_post_prompt: ""
metadata:
  version: 1.0
"""

LMMS_PART = '''

# --- lmms-eval hooks ---

def doc_to_visual(doc):
    """The row's images as RGB PIL images."""
    return [im.convert("RGB") for im in (doc.get("images") or [])]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    """The question and a post prompt by answer type (letters for choices, a short answer for
    bool / count / number / text, none for maps and JSON boxes, whose questions say the form)."""
    kw = lmms_eval_specific_kwargs or {}
    post = {"choice": kw.get("choice_post_prompt", ""), "ascii": kw.get("long_post_prompt", ""),
            "json": kw.get("long_post_prompt", "")}.get(doc["answer_type"], kw.get("short_post_prompt", ""))
    return "\\n".join(x for x in (kw.get("pre_prompt", ""), doc["question"], post) if x)


def process_results(doc, results):
    """Score the model's answer with the rules above; the metric value keeps the row id, so
    `spatialforge score` reads the sample log back without the dataset's row order."""
    pred = results[0] if results else None
    s, ok = score_answer(pred, doc["answer_type"], doc["answer"], doc.get("choices"), doc.get("answer_index"),
                         doc.get("value"), doc.get("unit"))
    return {"spatialforge_score": {"id": doc["id"], "family": doc["family"], "task": doc["task"],
                                   "score": float(s), "parsed": bool(ok)}}


def aggregate_score(results):
    """Mean score over the rows (per family in the log)."""
    import logging

    fam = {}
    for r in results:
        fam.setdefault(r["family"], []).append(r["score"])
    for f, v in sorted(fam.items()):
        logging.getLogger("spatialforge").info("spatialforge %s: %.2f (%d rows)", f, 100 * sum(v) / len(v), len(v))
    return 100.0 * sum(r["score"] for r in results) / len(results) if results else 0.0
'''


def utils_source() -> str:
    """The text of the task's utils.py: engine/eval/score.py's row scoring, then the lmms-eval hooks."""
    src = SCORE_SOURCE.read_text(encoding="utf-8")
    head = src[: src.index(MARKER)].rstrip() + "\n"
    note = ('"""lmms-eval hooks for a SpatialForge dataset. The scoring part below is a verbatim copy of '
            'engine/eval/score.py\n(written by engine/export/lmms_eval.py); the hooks are at the end."""\n\n')
    return note + head.split('"""', 2)[2].lstrip("\n") + LMMS_PART


def write_lmms_task(out: Path) -> list[Path]:
    """Write ``lmms_eval/spatialforge.yaml`` and ``lmms_eval/utils.py`` into dataset folder ``out``."""
    out = Path(out)
    (out / FOLDER).mkdir(parents=True, exist_ok=True)
    yaml_text = YAML.format(folder=str(out.resolve()))
    atomic_write_text(out / FILES[0], yaml_text)
    atomic_write_text(out / FILES[1], utils_source())
    return [out / f for f in FILES]
