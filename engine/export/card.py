"""The dataset card's body: what was made and how, counts per split, family and task, answer
distributions, the split rule, the blind baseline per template, and links to the card's plots.

:func:`card_stats` reads the finished Parquet shards of a dataset folder (only the small text
columns); :func:`card_body` turns the statistics into Markdown. The YAML header is
:func:`engine.export.hf.dataset_card`'s; plots are drawn by :mod:`engine.viewer.card_plots`.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

STAT_COLUMNS = ("family", "task", "template_id", "answer", "answer_type")
TOP_ANSWERS = 5


def card_stats(out: str | Path) -> dict[str, Any]:
    """Counts of a dataset folder: rows per split, per (family, split) and (task, split), and the
    most frequent answers per task (over every split). Reads ``data/<split>-*.parquet``."""
    import pyarrow.parquet as pq

    root = Path(out)
    split_rows: Counter = Counter()
    family: dict[str, Counter] = defaultdict(Counter)
    task: dict[str, Counter] = defaultdict(Counter)
    answers: dict[str, Counter] = defaultdict(Counter)
    for f in sorted((root / "data").glob("*.parquet")):
        split = f.name.split("-", 1)[0]
        cols = [c for c in STAT_COLUMNS if c in pq.read_schema(f).names]
        t = pq.read_table(f, columns=cols)
        split_rows[split] += t.num_rows
        if "task" not in cols:
            continue
        fam, tk, ans = (t.column(c).to_pylist() for c in ("family", "task", "answer"))
        for fa, ta, an in zip(fam, tk, ans):
            if ta is None:
                continue
            family[fa][split] += 1
            task[f"{fa}.{ta}"][split] += 1
            answers[f"{fa}.{ta}"][an if an is None or len(an) <= 40 else an[:37] + "..."] += 1
    return {"split_rows": dict(split_rows), "family": {k: dict(v) for k, v in sorted(family.items())},
            "task": {k: dict(v) for k, v in sorted(task.items())},
            "answers": {k: v.most_common(TOP_ANSWERS) for k, v in sorted(answers.items())}}


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    return "\n".join(lines)


def card_body(stats: dict, cfg: dict, config_hash: str, version: str, splits_rule: dict | None = None,
              blind: list | None = None, plots: list[str] | None = None) -> str:
    """Markdown sections of the card after its title (see the module docstring).

    Args:
        stats: :func:`card_stats`. cfg: the resolved config. splits_rule: the split rule record
            (``splits.json``) when the dataset has one. blind: ``engine.eval.blind.TemplateScore``
            per template when the blind meter was run. plots: relative paths of the card's PNGs.
    """
    splits = sorted(stats["split_rows"])
    overrides = [f"num_scenes={cfg['num_scenes']}", f"seed={cfg['seed']}", f"scene={cfg['scene']['type']}"]
    if cfg.get("preset"):
        overrides.append(f"preset={cfg['preset']}")
    parts = [
        "## How it was made",
        f"SpatialForge {version}, config hash `{config_hash}`, seed {cfg['seed']}, {cfg['num_scenes']} scenes of type "
        f"`{cfg['scene']['type']}`, {cfg['camera']['num_views']} view(s) per scene at "
        f"{cfg['camera']['width']}x{cfg['camera']['height']}. The resolved config is `config.yaml`; the same bytes "
        f"come back from `spatialforge generate {' '.join(overrides)} ...` with the other keys as in `config.yaml` "
        "(the config hash checks it).",
        "## Rows per family and split",
        _table(["family", *splits, "total"], [[f, *(c.get(s, 0) for s in splits), sum(c.values())]
                                              for f, c in stats["family"].items()]),
        "## Rows per task and split",
        _table(["task", *splits, "total"], [[t, *(c.get(s, 0) for s in splits), sum(c.values())]
                                            for t, c in stats["task"].items()]),
        "## Most frequent answers per task",
        _table(["task", "answers (count)"], [[t, "; ".join(f"`{a}` ({n})" for a, n in top)]
                                              for t, top in stats["answers"].items()]),
    ]
    if splits_rule:
        parts += ["## Split rule", "```json\n" + json.dumps(splits_rule, indent=1, sort_keys=True) + "\n```"]
    if blind:
        rows = [[s.template_id, s.rows, f"{100 * s.blind:.1f}%", f"{100 * s.chance:.1f}%", f"{100 * s.excess:+.1f}"]
                if s.blind == s.blind else [s.template_id, s.rows, "-", "-", s.note] for s in blind]
        parts += ["## Blind baseline (text only)",
                  "A text-only model trained on half of the scenes and scored on the other half (SpatialForge's "
                  "blind meter, docs/blind_meter.md): accuracy near chance means the question text does not "
                  "give the answer away.",
                  _table(["template", "rows", "blind", "chance", "excess (points)"], rows)]
    if plots:
        parts += ["## Plots", *[f"![{Path(p).stem}]({p})" for p in plots]]
    return "\n\n".join(parts) + "\n"
