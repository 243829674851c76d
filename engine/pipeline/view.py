"""``spatialforge view``: the rows a gallery shows, read from a dataset folder without loading it whole.

1. A light pass reads only the ``task`` column (and ``id`` with predictions) of every shard.
2. With predictions, every row of the scored splits is scored
   (engine.eval.score.score_prediction_rows) and a row is *wrong* when its score is below 1 (a
   missing or unparsed answer scores 0).
3. The sample: row groups are visited in a seeded random order, and in each the rows of tasks
   still short of ``per_task`` rows (and, with predictions, of ``per_task`` wrong rows) are taken at
   random, until every task has its quota or the groups run out. Only the row groups that gave a
   row are then read in full (images, scene records): a few hundred 64-row groups for a
   gallery of thousands of rows, whatever the dataset's size.
4. Each sampled row becomes a card record (engine.viewer.gallery): its images, depth and instance
   maps written as files, the 2D boxes of its referenced objects, a top-down SVG, its factors.
5. The summary: counts and answers per family and task (:func:`dataset_stats`, every row), factor
   histograms over up to ``hist_rows`` rows of random row groups, the card's blind-baseline table
   and plots, and with predictions the score tables (engine.eval.score.score_report).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from engine.rng import stage_rng

ROW_GROUP_COLUMNS = ("id", "scene_id", "view_ids", "images", "depths", "instance_masks", "family", "task",
                     "template_id", "question", "answer", "answer_type", "frame", "rationale", "choices",
                     "answer_index", "value", "unit", "objects", "factors", "scene")
VIEW_STAGE = "viewer"  # the rng stream of the sample (engine.rng.stage_rng(seed, 0, stage))


class ViewInputError(ValueError):
    """The dataset or the output folder cannot be used; the message names it and the fix."""


def _shards(dataset: Path) -> list[tuple[str, Path]]:
    """(split, file) of every Parquet shard, in score.load_truth's order (train, validation, test, others)."""
    from engine.eval.score import ScoreInputError, _parquet_files

    try:
        files = _parquet_files(str(dataset))
    except ScoreInputError as e:
        raise ViewInputError(str(e)) from None
    order = sorted(files, key=lambda s: ({"train": 0, "validation": 1, "test": 2}.get(s, 3), s))
    return [(s, f) for s in order for f in files[s]]


def light_pass(shards: list[tuple[str, Path]], with_ids: bool) -> dict:
    """Per dataset row (in shard order): ``task`` (int codes into ``tasks``), ``group`` (index into
    ``groups``: (shard index, row group)), ``offset`` in its row group; ``ids`` (pyarrow array)
    when ``with_ids``. Reads only those columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    task_chunks, id_chunks, groups, group_of, offsets = [], [], [], [], []
    for k, (_split, f) in enumerate(shards):
        pf = pq.ParquetFile(f)
        cols = ["task", "id"] if with_ids else ["task"]
        if "task" not in pf.schema_arrow.names:
            continue
        t = pf.read(columns=cols)
        task_chunks.append(t["task"].combine_chunks().cast(pa.string()))
        if with_ids:
            id_chunks.append(t["id"].combine_chunks())
        for g in range(pf.metadata.num_row_groups):
            n = pf.metadata.row_group(g).num_rows
            group_of.append(np.full(n, len(groups), np.int64))
            offsets.append(np.arange(n, dtype=np.int64))
            groups.append((k, g))
    if not task_chunks:
        raise ViewInputError("no shard has a task column (a stages.qa=false run); fix: view a dataset with QA rows")
    enc = pa.chunked_array(task_chunks).combine_chunks().dictionary_encode()
    codes = np.asarray(enc.indices.fill_null(-1))
    return {"task": codes, "tasks": enc.dictionary.to_pylist(), "groups": groups,
            "group": np.concatenate(group_of), "offset": np.concatenate(offsets),
            "ids": pa.chunked_array(id_chunks).combine_chunks() if with_ids else None}


def sample_rows(task: np.ndarray, group: np.ndarray, n_groups: int, per_task: int, rng: np.random.Generator,
                wrong: np.ndarray | None = None) -> np.ndarray:
    """Sorted dataset row numbers of the sample (see the module docstring).

    Args:
        task: (N,) task code per row (-1: no task, never taken). group: (N,) row group per row,
            rows of a group contiguous and groups in order. per_task: quota per task (and per task
            among wrong rows when ``wrong`` (N,) bool is given). rng: the sample's generator.
    """
    n_tasks = int(task.max(initial=-1)) + 1
    keys = [task] + ([np.where(wrong, task + n_tasks, -1)] if wrong is not None else [])
    n_keys = n_tasks * len(keys)
    total = np.zeros(n_keys, np.int64)
    for key in keys:
        total += np.bincount(key[key >= 0], minlength=n_keys)
    want = np.minimum(total, per_task)
    taken = np.zeros(n_keys, np.int64)
    starts = np.searchsorted(group, np.arange(n_groups + 1))
    chosen: list[np.ndarray] = []
    for g in rng.permutation(n_groups):
        if (taken >= want).all():
            break
        lo, hi = starts[g], starts[g + 1]
        order = lo + rng.permutation(hi - lo)
        got = np.zeros(hi - lo, bool)
        for key in keys:
            kk = key[order]
            for k in np.unique(kk[kk >= 0]):
                need = want[k] - taken[k]
                if need <= 0:
                    continue
                idx = np.flatnonzero((kk == k) & ~got)[:need]
                got[idx] = True
                taken[k] += len(idx)
                # a wrong row taken for the task quota also counts for the wrong quota, and back
                for other in keys:
                    if other is not key:
                        ok = other[order[idx]]
                        np.add.at(taken, ok[ok >= 0], 1)
        chosen.append(order[got])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)


class _Files:
    """Open Parquet shards, each opened once, with their column names."""

    def __init__(self, shards: list[tuple[str, Path]]):
        self.shards, self.open = shards, {}

    def __call__(self, k: int):
        """(ParquetFile, set of column names) of shard ``k``."""
        import pyarrow.parquet as pq

        if k not in self.open:
            pf = pq.ParquetFile(self.shards[k][1])
            self.open[k] = (pf, set(pf.schema_arrow.names))
        return self.open[k]


def read_rows(shards: list[tuple[str, Path]], groups: list, rows_by_group: dict[int, np.ndarray]) -> list[dict]:
    """The sampled rows as dicts (:data:`ROW_GROUP_COLUMNS` present in the shard, plus ``split``),
    reading only the row groups that hold one."""
    out: list[dict] = []
    files = _Files(shards)
    for g in sorted(rows_by_group):
        k, rg = groups[g]
        pf, names = files(k)
        cols = [c for c in ROW_GROUP_COLUMNS if c in names]
        t = pf.read_row_group(rg, columns=cols).take(rows_by_group[g])
        for r in t.to_pylist():
            r["split"] = shards[k][0]
            out.append(r)
    return out


def factor_histograms(shards, groups: list, hist_rows: int, rng: np.random.Generator) -> dict:
    """{factor: {"rows": n, "bins": [[label, count], ...]}} over the ``factors`` column of up to
    ``hist_rows`` rows from random row groups (every row when the dataset is smaller); numeric
    factors with more than 12 values in quantile bins (engine.eval.score.bin_values), list
    factors counted per element."""
    from engine.eval.score import _bin_order, bin_values

    parsed: list[dict] = []
    files = _Files(shards)
    for g in rng.permutation(len(groups)):
        if len(parsed) >= hist_rows:
            break
        k, rg = groups[g]
        pf, names = files(k)
        if "factors" in names:
            parsed += [json.loads(t) for t in pf.read_row_group(rg, columns=["factors"])["factors"].to_pylist() if t]
    names = sorted({k for d in parsed for k in d})
    values = {name: [d.get(name) for d in parsed] for name in names}
    n = len(parsed)
    out = {}
    for name, vs in sorted(values.items()):
        if any(isinstance(v, list) for v in vs):
            labels = [str(x) for v in vs if isinstance(v, list) for x in v]
        else:
            labels = bin_values([None if isinstance(v, dict) else v for v in vs])
        counts = Counter(labels)
        out[name] = {"rows": len(vs), "bins": sorted(counts.items(), key=lambda kv: _bin_order(kv[0]))}
    return {"rows": n, "factors": out}


def dataset_stats(shards: list[tuple[str, Path]], top: int = 5) -> dict:
    """Counts over every row, in the shape of engine.export.card.card_stats: ``split_rows``,
    ``family`` {family: {split: rows}}, ``task`` {"family.task": {split: rows}} and ``answers``
    {"family.task": [(answer, rows), ...]} (the ``top`` most frequent, ties by answer text; answers
    over 40 characters cut to 37 and "..."). Aggregated by pyarrow per shard (the family, task
    and answer columns only), then over the shards."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    split_rows: Counter = Counter()
    family: dict = defaultdict(Counter)
    task: dict = defaultdict(Counter)
    parts = []
    for split, f in shards:
        t = pq.read_table(f, columns=[c for c in ("family", "task", "answer") if c in pq.read_schema(f).names])
        split_rows[split] += t.num_rows
        if "task" not in t.column_names:
            continue
        t = t.filter(pc.is_valid(t["task"]))
        for r in t.group_by(["family", "task"]).aggregate([([], "count_all")]).to_pylist():
            family[r["family"]][split] += r["count_all"]
            task[f"{r['family']}.{r['task']}"][split] += r["count_all"]
        parts.append(t.group_by(["family", "task", "answer"]).aggregate([([], "count_all")]))
    answers: dict = {}
    if parts:
        a = pa.concat_tables(parts).group_by(["family", "task", "answer"]).aggregate([("count_all", "sum")])
        a = a.sort_by([("family", "ascending"), ("task", "ascending"), ("count_all_sum", "descending"),
                       ("answer", "ascending")])
        for r in a.to_pylist():
            key = f"{r['family']}.{r['task']}"
            lst = answers.setdefault(key, [])
            if len(lst) < top:
                an = r["answer"]
                lst.append((an if an is None or len(an) <= 40 else an[:37] + "...", r["count_all_sum"]))
    return {"split_rows": dict(split_rows), "family": {k: dict(v) for k, v in sorted(family.items())},
            "task": {k: dict(v) for k, v in sorted(task.items())}, "answers": dict(sorted(answers.items()))}


def blind_table(dataset: Path) -> list[list[str]] | None:
    """The card's blind-baseline table (header row first) from ``README.md``, or None."""
    card = dataset / "README.md"
    if not card.is_file():
        return None
    text = card.read_text(encoding="utf-8")
    head = "## Blind baseline (text only)"
    if head not in text:
        return None
    section = text.split(head, 1)[1].split("\n## ", 1)[0]
    rows = [ln.strip().strip("|").split("|") for ln in section.splitlines() if ln.strip().startswith("|")]
    rows = [[c.strip() for c in r] for r in rows if not set("".join(r)) <= set("-: ")]
    return rows or None


def _row_factors(rows: list[dict]) -> None:
    """Replace each row's ``factors`` JSON by {name: label or [labels]} for the gallery's filters:
    list factors as their elements, numbers with more than 12 values in quantile bins."""
    from engine.eval.score import bin_values

    parsed = [json.loads(r["factors"]) if r.get("factors") else {} for r in rows]
    names = sorted({k for d in parsed for k in d})
    for r in rows:
        r["factors"] = {}
    for name in names:
        vs = [d.get(name) for d in parsed]
        if any(isinstance(v, list) for v in vs):
            for r, v in zip(rows, vs):
                if isinstance(v, list):
                    r["factors"][name] = [str(x) for x in v]
            continue
        for r, lab in zip(rows, bin_values([None if isinstance(v, dict) else v for v in vs])):
            r["factors"][name] = lab


def _attach_predictions(rows: list[dict], scored: dict) -> None:
    """Set each row's ``prediction``: {text, score, parsed, answered, wrong (score below 1)} from
    engine.eval.score.score_prediction_rows' result, or None for a row of a split not scored."""
    import pyarrow as pa
    import pyarrow.compute as pc

    truth = scored["truth"]
    hit = np.flatnonzero(np.asarray(pc.is_in(truth["id"], value_set=pa.array([r["id"] for r in rows], pa.string()))))
    ids = truth["id"].take(pa.array(hit, pa.int64())).to_pylist()
    at = dict(zip(ids, hit))
    for r in rows:
        j = at.get(r["id"])
        r["prediction"] = None if j is None else {
            "text": scored["preds"].get(r["id"]), "score": float(scored["score"][j]),
            "parsed": bool(scored["parsed"][j]), "answered": bool(scored["answered"][j]),
            "wrong": bool(scored["score"][j] < 1.0)}


def _path_video(dataset: Path, scene_id: str, path_id: str) -> Path | None:
    """The MP4 of camera path ``path_id`` of scene ``scene_id`` in ``dataset`` (written with
    output.video=true; engine.export.video.video_name), or None when there is none."""
    from engine.export.video import video_name

    p = dataset / video_name(scene_id, path_id)
    return p if p.is_file() else None


def build_view(dataset: str | Path, out: str | Path | None = None, per_task: int = 50, predictions: str | None = None,
               seed: int = 0, hist_rows: int = 20_000, page_size: int = 24) -> dict:
    """Write the gallery of ``dataset`` into ``out`` (default ``dataset/viewer``); return a summary
    dict with ``index`` (the path of index.html), ``rows`` (cards), ``row_groups_read``, ``dataset_rows``.

    Args:
        per_task: rows sampled per task (and wrong rows per task with predictions), >= 1.
        predictions: a JSONL file that ``spatialforge score`` reads; adds predictions, scores and
            the wrong-answers filter.
        seed: the sample's seed (the same seed and dataset give the same gallery).
        hist_rows: rows read for the factor histograms.
    """
    from engine.scene.catalog import load_catalog
    from engine.viewer.gallery import GalleryError, write_gallery

    dataset = Path(dataset)
    if not isinstance(per_task, int) or per_task < 1:
        raise ViewInputError(f"--per-task: got {per_task!r}; fix: a positive integer (rows shown per task)")
    out = Path(out) if out is not None else dataset / "viewer"
    shards = _shards(dataset)
    scored = None
    if predictions is not None:
        from engine.eval.score import ScoreInputError, score_prediction_rows

        try:
            scored = score_prediction_rows(str(dataset), predictions)
        except ScoreInputError as e:
            raise ViewInputError(str(e)) from None
    light = light_pass(shards, with_ids=scored is not None)
    wrong = None
    if scored is not None:  # per dataset row: scored and below 1
        import pyarrow as pa
        import pyarrow.compute as pc

        wrong_ids = scored["truth"]["id"].filter(pa.array(scored["score"] < 1.0))
        wrong = np.asarray(pc.is_in(light["ids"], value_set=wrong_ids))
    rng = stage_rng(seed, 0, VIEW_STAGE)
    picked = sample_rows(light["task"], light["group"], len(light["groups"]), per_task, rng, wrong)
    by_group: dict[int, list] = defaultdict(list)
    for i in picked:
        by_group[int(light["group"][i])].append(int(light["offset"][i]))
    rows = read_rows(shards, light["groups"], {g: np.array(v) for g, v in by_group.items()})
    if scored is not None:
        _attach_predictions(rows, scored)
    _row_factors(rows)
    summary = {"dataset": str(dataset), "stats": dataset_stats(shards), "per_task": per_task, "seed": seed,
               "histograms": factor_histograms(shards, light["groups"], hist_rows, stage_rng(seed, 1, VIEW_STAGE)),
               "blind": blind_table(dataset), "card_plots": sorted(str(p) for p in (dataset / "card").glob("*.png")),
               "dataset_rows": int(len(light["task"]))}
    if scored is not None:
        from engine.eval.score import score_report

        by = sorted({k for r in rows for k, v in r["factors"].items() if not isinstance(v, list)}
                    - {"family", "task", "answer_type", "template_id"})
        summary["score"] = score_report(str(dataset), predictions, scored, by)
    try:
        index = write_gallery(out, rows, summary, load_catalog().colors, page_size=page_size, protect=dataset,
                              video_file=lambda sid, pid: _path_video(dataset, sid, pid))
    except GalleryError as e:
        raise ViewInputError(str(e)) from None
    return {"index": str(index), "rows": len(rows), "row_groups_read": len(by_group),
            "dataset_rows": summary["dataset_rows"]}


def serve(folder: str | Path, port: int) -> None:
    """Serve ``folder`` on http://127.0.0.1:``port``/ until interrupted (Python's http.server)."""
    import functools
    import http.server

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as httpd:
        print(f"serving {folder} at http://127.0.0.1:{port}/index.html (Ctrl-C stops)", flush=True)
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass

