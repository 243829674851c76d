"""The gallery's summary page (static HTML): counts and answer distributions per family and task,
factor histograms, the blind-baseline table, the card's plots and, with predictions, the scores
per task, family, answer type and factor."""

from __future__ import annotations

from html import escape

MAX_BINS = 24


def _bar(n: float, top: float, label: str, shown: str | None = None) -> str:
    """A labelled horizontal bar of length n / top, with ``shown`` (default n) after it."""
    pct = 100.0 * n / top if top else 0.0
    return (f'<div class="bar"><span class="bl">{escape(label)}</span><span class="bt"><span class="bf" '
            f'style="width:{pct:.1f}%"></span></span><span class="bn">{escape(shown if shown is not None else str(n))}'
            '</span></div>')


def _table(header: list[str], rows: list[list], cls: str = "") -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c if isinstance(c, _Raw) else escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


class _Raw(str):
    """HTML that a table cell shows as it is."""


def _score_tables(rep: dict) -> str:
    c, o = rep["counts"], rep["overall"]
    parts = [f'<h2 id="scores">Scores of the predictions</h2><p>{escape(rep["predictions"])}: overall '
             f'<b>{100 * o["score"]:.2f}</b> over {o["rows"]} rows of split(s) {escape(", ".join(rep["splits"]))} '
             f'(accuracy, MRA for numbers, cell accuracy for maps, IoU for boxes; docs/scoring.md); '
             f'{c["missing"]} rows without a prediction and {c["unparsed"]} unparsed answers score 0; '
             f'{c["unknown"]} unknown ids. <a href="index.html#wrong=1">Page through the wrong answers</a> '
             '(score below 1).</p>']
    for name, rows in rep["tables"].items():
        body = [[r["bin"], r["rows"], r["answered"], r["parsed"],
                 _Raw(_bar(r["score"], 1.0, "", f'{100 * r["score"]:.1f}'))]
                for r in rows]
        parts.append(f'<details{" open" if name in ("task", "family") else ""}><summary>per {escape(name)}</summary>'
                     + _table([name, "rows", "answered", "parsed", "score"], body, "scores") + "</details>")
    return "\n".join(parts)


def summary_html(summary: dict, plots: list[str], n_cards: int) -> str:
    """The page's HTML. ``summary``: engine.pipeline.view.build_view's summary (stats from
    engine.pipeline.view.dataset_stats, histograms, blind table, optional score report); ``plots``:
    relative paths of the card's PNGs in the gallery; ``n_cards``: rows in the gallery."""
    st = summary["stats"]
    splits = sorted(st["split_rows"])
    total = sum(st["split_rows"].values())
    parts = [f'<h1>{escape(summary["dataset"])}</h1>',
             f'<p>{total:,} rows ({", ".join(f"{escape(s)} {n:,}" for s, n in sorted(st["split_rows"].items()))}); '
             f'the <a href="index.html">gallery</a> shows {n_cards:,} of them: up to {summary["per_task"]} per task'
             + (" and as many wrong ones per task" if "score" in summary else "") + f', sample seed {summary["seed"]}.</p>']
    if "score" in summary:
        parts.append(_score_tables(summary["score"]))
    fam = st["family"]
    top = max([sum(c.values()) for c in fam.values()] or [1])
    parts.append("<h2>Rows per family</h2>" + _table(
        ["family", *splits, "total", ""],
        [[f, *(c.get(s, 0) for s in splits), sum(c.values()), _Raw(_bar(sum(c.values()), top, ""))]
         for f, c in fam.items()]))
    parts.append("<h2>Rows per task and their most frequent answers</h2>")
    rows = []
    for t, c in st["task"].items():
        n = sum(c.values())
        answers = st["answers"].get(t, [])
        bars = "".join(_bar(k, n, a if a is not None else "null") for a, k in answers)
        task = t.split(".", 1)[-1]
        rows.append([_Raw(f'<a href="index.html#task={escape(task)}">{escape(t)}</a>'),
                     *(c.get(s, 0) for s in splits), n, _Raw(bars)])
    parts.append(_table(["task", *splits, "total", "answers (share of the task's rows)"], rows, "tasks"))
    h = summary["histograms"]
    parts.append(f'<h2>Factors</h2><p>Histograms over {h["rows"]:,} rows (random row groups); definitions in '
                 'docs/factors.md. Numbers with more than 12 values are in quantile bins; list factors count '
                 'each element.</p><div class="hists">')
    for name, d in h["factors"].items():
        bins = d["bins"][:MAX_BINS]
        top = max([k for _, k in bins] or [1])
        more = f'<p class="more">+{len(d["bins"]) - MAX_BINS} more values</p>' if len(d["bins"]) > MAX_BINS else ""
        parts.append(f'<div class="hist"><h3>{escape(name)}</h3>' + "".join(_bar(k, top, lab) for lab, k in bins)
                     + more + "</div>")
    parts.append("</div>")
    if summary.get("blind"):
        b = summary["blind"]
        parts.append("<h2>Blind baseline (text only)</h2><p>From the dataset card (spatialforge card --blind; "
                     "docs/blind_meter.md): a text-only model near chance means the question text does not give "
                     "the answer away.</p>" + _table(b[0], b[1:], "blind"))
    else:
        parts.append("<h2>Blind baseline (text only)</h2><p>The card has no blind-baseline table; "
                     "<code>spatialforge card DATASET --blind</code> adds it.</p>")
    if plots:
        parts.append("<h2>The card's plots</h2>" + "".join(
            f'<figure><img src="{escape(p)}" alt="{escape(p)}"><figcaption>{escape(p)}</figcaption></figure>'
            for p in plots))
    body = "\n".join(parts)
    return ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>summary: '
            f'{escape(summary["dataset"])}</title><link rel="stylesheet" href="assets/style.css"></head><body>'
            '<nav><a href="index.html">Gallery</a> <a class="on" href="summary.html">Summary</a></nav>'
            f'<main class="summary">{body}</main></body></html>\n')
