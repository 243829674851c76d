"""Score a model's predictions against a SpatialForge dataset (``spatialforge score``).

Answers are parsed as VSI-Bench does (the first whitespace token, a trailing period stripped),
extended to this dataset's answer types:

=========  ================================================  =====================================
type       a prediction is read as                            score of one row
=========  ================================================  =====================================
choice     the option letter (``B``, ``B.``, ``(B)``), else    1 if it is the right option, else 0
           the whole text equal to an option's text
bool       first token yes/no (also true/false)              exact match
count      first token an integer (or a number word)          exact match
number     first token a number, an optional unit after it   MRA: mean over thresholds 0.50, 0.55,
           (m, cm, mm, m2, deg, ...), converted to the        ... 0.95 of |p - t| / |t| <= 1 - th
           row's unit
text       the whole text (lower case, spaces collapsed)      exact match
ascii      the grid of lines (code fences dropped)            cell accuracy over the union grid
json       box2d: the first four numbers; box3d: a JSON       IoU of the boxes (2D: inclusive pixel
           object with center, size (and rotation)            boxes; 3D: oriented boxes, exact)
=========  ================================================  =====================================

An unparseable answer scores 0, a dataset row without a prediction scores 0 (counted as
missing), a prediction whose id is not in the dataset is listed and never scored. The same
functions score one row for the lmms-eval task (engine/export/lmms_eval.py ships this file's
text inside its utils.py) and a whole file for the command, so the two agree by construction.
This module imports only the standard library and numpy at the top, so it runs inside lmms-eval
without the engine installed.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from typing import Any

import numpy as np

# --- parsing and per-row scoring (standard library + numpy; copied verbatim into the lmms-eval utils.py) ---

MRA_THRESHOLDS = np.linspace(0.50, 0.95, 10)  # VSI-Bench: 0.50, 0.55, ..., 0.95
_NUM = re.compile(r"^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(.*)$", re.S)
_ANY_NUM = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_WORDS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve "
                                     "thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty".split())}
# unit words a number may carry -> (dimension, factor to the dimension's base unit); longest first
_UNITS = sorted({
    "m": ("m", 1.0), "meter": ("m", 1.0), "meters": ("m", 1.0), "metre": ("m", 1.0), "metres": ("m", 1.0),
    "cm": ("m", 0.01), "centimeters": ("m", 0.01), "centimetres": ("m", 0.01), "mm": ("m", 0.001),
    "m2": ("m2", 1.0), "m^2": ("m2", 1.0), "m²": ("m2", 1.0), "sq m": ("m2", 1.0), "sqm": ("m2", 1.0),
    "square meters": ("m2", 1.0), "square metres": ("m2", 1.0), "square meter": ("m2", 1.0),
    "deg": ("deg", 1.0), "degree": ("deg", 1.0), "degrees": ("deg", 1.0), "°": ("deg", 1.0),
}.items(), key=lambda kv: -len(kv[0]))
METRIC = {"choice": "accuracy", "bool": "accuracy", "count": "accuracy", "text": "accuracy",
          "number": "mra", "ascii": "cell_accuracy", "json": "iou"}


def first_token(text: Any) -> str:
    """VSI-Bench's fuzzy match: the first whitespace-separated token, a trailing period stripped."""
    parts = str(text).split(None, 1)
    return parts[0].rstrip(".").strip() if parts else ""


def norm_text(text: Any) -> str:
    """Lower case, whitespace collapsed, a trailing period stripped."""
    return " ".join(str(text).lower().split()).rstrip(".").strip()


def parse_choice(pred: Any, choices: list[str]) -> int | None:
    """The option index a prediction names: its first token as a letter (``B``, ``B.``, ``(B)``,
    ``B)``), else its whole text equal to one option's text; None when neither."""
    tok = first_token(pred).strip("()").rstrip(":),").upper()
    if len(tok) == 1 and "A" <= tok < chr(ord("A") + len(choices)):
        return ord(tok) - ord("A")
    text = norm_text(pred)
    for i, c in enumerate(choices):
        if text == norm_text(c):
            return i
    return None


def parse_bool(pred: Any) -> bool | None:
    """yes/true -> True, no/false -> False (first token, punctuation stripped), else None."""
    tok = first_token(pred).lower().rstrip(",!;:")
    return True if tok in ("yes", "true") else False if tok in ("no", "false") else None


def parse_count(pred: Any) -> int | None:
    """The first token as an integer (``3``, ``3.0``, ``three``), else None."""
    tok = first_token(pred).lower().rstrip(",!;:")
    if tok in _WORDS:
        return _WORDS[tok]
    try:
        x = float(tok)
    except ValueError:
        return None
    return int(x) if math.isfinite(x) and x == int(x) else None


def parse_number(pred: Any, unit: str | None) -> float | None:
    """The leading number of a prediction in ``unit``: ``2.3``, ``2.3m``, ``230 cm`` (converted),
    ``33.9 square meters``; None when it does not start with a number or names a unit of another
    dimension (``2 degrees`` for a length). Other trailing words are ignored."""
    m = _NUM.match(str(pred).strip())
    if not m:
        return None
    x = float(m.group(1))
    rest = m.group(2).strip().lower()
    for word, (dim, f) in _UNITS:
        if rest.startswith(word) and (len(rest) == len(word) or not rest[len(word)].isalnum()):
            if unit is None or dim == unit:
                return x * f
            if unit == "m2" and dim == "m" and f == 1.0 and rest[len(word):].lstrip().startswith(("2", "^2", "²")):
                return x
            return None
    return x if math.isfinite(x) else None


def mra(pred: float | None, truth: float) -> float:
    """VSI-Bench's mean relative accuracy of one prediction: the share of thresholds th in
    0.50, 0.55, ..., 0.95 with |pred - truth| / |truth| <= 1 - th (|pred - truth| when truth
    is 0); 0 for no prediction."""
    if pred is None:
        return 0.0
    rel = abs(pred - truth) / (abs(truth) if truth != 0 else 1.0)
    return float(np.mean(rel <= 1 - MRA_THRESHOLDS + 1e-12))


def mra_many(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """:func:`mra` of arrays (nan in ``pred`` scores 0)."""
    pred, truth = np.asarray(pred, float), np.asarray(truth, float)
    rel = np.abs(pred - truth) / np.where(truth != 0, np.abs(truth), 1.0)
    rel = np.where(np.isnan(rel), np.inf, rel)
    return (rel[:, None] <= (1 - MRA_THRESHOLDS + 1e-12)[None, :]).mean(axis=1)


def _grid(text: str) -> list[str]:
    lines = [ln.rstrip() for ln in str(text).replace("\r\n", "\n").split("\n") if not ln.strip().startswith("```")]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def cell_accuracy(pred: Any, truth: str) -> float:
    """Share of cells equal in the two grids (lines of characters) over the union grid: rows and
    columns either grid lacks count as wrong, so extra or missing rows cost. Code fences and
    surrounding blank lines of the prediction are dropped; trailing spaces are ignored."""
    p, t = _grid(pred), _grid(truth)
    rows, cols = max(len(p), len(t)), max([len(x) for x in p + t] or [0])
    if rows * cols == 0:
        return 0.0
    hit = sum(a == b for pl, tl in zip(p, t) for a, b in zip(pl, tl))
    return hit / (rows * cols)


def parse_box2d(pred: Any) -> list[float] | None:
    """The first four numbers of a prediction as [u0, v0, u1, v1] (u0 <= u1, v0 <= v1), else None."""
    nums = _ANY_NUM.findall(str(pred))
    if len(nums) < 4:
        return None
    b = [float(x) for x in nums[:4]]
    return b if b[0] <= b[2] and b[1] <= b[3] else None


def iou2d(a: list[float], b: list[float]) -> float:
    """IoU of two inclusive pixel boxes [u0, v0, u1, v1] (a box covers (u1-u0+1) x (v1-v0+1) pixels)."""
    w = min(a[2], b[2]) - max(a[0], b[0]) + 1
    h = min(a[3], b[3]) - max(a[1], b[1]) + 1
    inter = max(w, 0.0) * max(h, 0.0)
    area = lambda x: (x[2] - x[0] + 1) * (x[3] - x[1] + 1)
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def parse_box3d(pred: Any) -> dict | None:
    """A JSON object in the prediction (from its first ``{`` to its last ``}``) with ``center``
    (3 numbers), ``size`` (3 positive numbers) and optionally ``rotation`` (3x3, box to camera;
    the identity when absent), else None."""
    s = str(pred)
    i, j = s.find("{"), s.rfind("}")
    if i < 0 or j < i:
        return None
    try:
        d = json.loads(s[i:j + 1])
        c = np.asarray(d["center"], float).reshape(3)
        z = np.asarray(d["size"], float).reshape(3)
        r = np.asarray(d.get("rotation", np.eye(3)), float).reshape(3, 3)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(r)) and np.all(np.isfinite(z)) and np.all(z > 0)):
        return None
    return {"center": c, "size": z, "rotation": r}


_UNIT_CORNERS = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])
_EDGES = np.array([(i, j) for i in range(8) for j in range(i + 1, 8) if bin(i ^ j).count("1") == 1])


def _inside_many(points: np.ndarray, center: np.ndarray, rot: np.ndarray, half: np.ndarray, tol: float) -> np.ndarray:
    """(N, M) whether points (N, M, 3) lie in boxes (center (N, 3), rotation (N, 3, 3), half sizes (N, 3))."""
    local = np.einsum("nmi,nij->nmj", points - center[:, None, :], rot)
    return np.all(np.abs(local) <= half[:, None, :] * (1 + 1e-9) + tol, axis=2)


def _crossings(corners: np.ndarray, center: np.ndarray, rot: np.ndarray, half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (N, 72, 3) where the 12 edges of boxes with ``corners`` (N, 8, 3) cross the 6 face
    planes of the other boxes, and whether each is a real crossing inside the other box."""
    p0, d = corners[:, _EDGES[:, 0]], corners[:, _EDGES[:, 1]] - corners[:, _EDGES[:, 0]]  # (N, 12, 3)
    p0n, dn = np.einsum("nei,nik->nek", p0, rot), np.einsum("nei,nik->nek", d, rot)      # (N, 12, 3)
    cn = np.einsum("ni,nik->nk", center, rot)[:, None, :, None] + np.stack([-half, half], -1)[:, None]  # (N, 1, 3, 2)
    ok = np.abs(dn) > 1e-12
    t = (cn - p0n[..., None]) / np.where(ok, dn, 1.0)[..., None]                          # (N, 12, 3, 2)
    pts = p0[:, :, None, None, :] + t[..., None] * d[:, :, None, None, :]
    n = len(corners)
    pts, t = pts.reshape(n, 72, 3), t.reshape(n, 72)
    valid = np.repeat(ok.reshape(n, 36), 2, axis=1) & (t >= 0) & (t <= 1)
    return pts, valid & _inside_many(pts, center, rot, half, 1e-7)


def iou3d_many(a: list[dict], b: list[dict]) -> np.ndarray:
    """Exact IoU of pairs of oriented 3D boxes (dicts of center, size, rotation): their
    intersection is the convex hull of A's corners inside B, B's corners inside A and every
    crossing of an edge of one with a face of the other. Rotations are replaced by the nearest
    rotation matrix (an answer's rounded one is not exactly orthonormal). Identical boxes give 1."""
    from scipy.spatial import ConvexHull, QhullError

    n = len(a)
    out = np.zeros(n)
    if not n:
        return out
    ca, cb = np.array([x["center"] for x in a], float), np.array([x["center"] for x in b], float)
    sa, sb = np.array([x["size"] for x in a], float), np.array([x["size"] for x in b], float)
    u, _, vt = np.linalg.svd(np.array([x["rotation"] for x in a], float))
    ra = u @ vt
    u, _, vt = np.linalg.svd(np.array([x["rotation"] for x in b], float))
    rb = u @ vt
    ka = ca[:, None, :] + np.einsum("nkj,nij->nki", _UNIT_CORNERS[None] * sa[:, None, :], ra)  # (N, 8, 3)
    kb = cb[:, None, :] + np.einsum("nkj,nij->nki", _UNIT_CORNERS[None] * sb[:, None, :], rb)
    in_b, in_a = _inside_many(ka, cb, rb, sb / 2, 1e-7), _inside_many(kb, ca, ra, sa / 2, 1e-7)
    xab, vab = _crossings(ka, cb, rb, sb / 2)
    xba, vba = _crossings(kb, ca, ra, sa / 2)
    pts = np.concatenate([ka, kb, xab, xba], axis=1)                                        # (N, 160, 3)
    keep = np.concatenate([in_b, in_a, vab, vba], axis=1)
    va, vb = np.prod(sa, axis=1), np.prod(sb, axis=1)
    same = np.all(ca == cb, 1) & np.all(sa == sb, 1) & np.all([np.array_equal(x["rotation"], y["rotation"])
                                                                for x, y in zip(a, b)], 0)
    # B's axes along A's (a signed permutation, e.g. the same rotation): the overlap is a box in A's frame
    rel = np.einsum("nji,njk->nik", ra, rb)
    aligned = np.all(np.isclose(np.abs(rel), np.round(np.abs(rel)), atol=1e-9), axis=(1, 2))
    hb = np.einsum("nik,nk->ni", np.abs(np.round(rel)), sb / 2)
    cba = np.einsum("nji,nj->ni", ra, cb - ca)
    ov = np.clip(np.minimum(sa / 2, cba + hb) - np.maximum(-sa / 2, cba - hb), 0, None).prod(axis=1)
    out[aligned] = (ov / (va + vb - ov))[aligned]
    out[same] = 1.0
    for i in np.flatnonzero(~aligned & ~same):
        p = pts[i][keep[i]]
        if len(p) < 4:
            continue
        try:
            inter = min(ConvexHull(p).volume, va[i], vb[i])
        except (QhullError, ValueError):  # flat: the boxes only touch
            continue
        out[i] = inter / (va[i] + vb[i] - inter)
    return out


def iou3d(a: dict, b: dict) -> float:
    """Exact IoU of two oriented 3D boxes (:func:`iou3d_many` of one pair)."""
    return float(iou3d_many([a], [b])[0])


def score_answer(pred: Any, answer_type: str, answer: str, choices: list[str] | None = None,
                 answer_index: int | None = None, value: Any = None, unit: str | None = None) -> tuple[float, bool]:
    """(score in [0, 1], whether the prediction parsed) of one prediction against one row's
    answer, with the rules of this module. ``value`` is the row's ``value`` column (JSON text)."""
    if pred is None:
        return 0.0, False
    if answer_type == "choice":
        k = parse_choice(pred, list(choices or []))
        return (float(k == answer_index), True) if k is not None else (0.0, False)
    if answer_type == "bool":
        b = parse_bool(pred)
        truth = json.loads(value) if isinstance(value, str) else value
        if truth is None:
            truth = parse_bool(answer)
        return (float(b == bool(truth)), True) if b is not None else (0.0, False)
    if answer_type == "count":
        n = parse_count(pred)
        return (float(n == parse_count(answer)), True) if n is not None else (0.0, False)
    if answer_type == "number":
        x = parse_number(pred, unit)
        truth = float(json.loads(value)) if value is not None else parse_number(answer, unit)
        return (mra(x, truth), True) if x is not None else (0.0, False)
    if answer_type == "ascii":
        return cell_accuracy(pred, answer), bool(_grid(pred))
    if answer_type == "json":
        t = json.loads(answer)
        if isinstance(t, list):
            p = parse_box2d(pred)
            return (iou2d(p, [float(x) for x in t]), True) if p is not None else (0.0, False)
        p, tb = parse_box3d(pred), parse_box3d(answer)
        return (iou3d(p, tb), True) if p is not None else (0.0, False)
    return float(norm_text(pred) == norm_text(answer)), True  # text


# --- END OF ROW SCORING (engine/export/lmms_eval.py copies this file up to this line) ---
# --- a whole predictions file against a dataset folder ---


class ScoreInputError(ValueError):
    """A dataset folder or a predictions file cannot be read; the message names it and the fix."""


ROW_COLUMNS = ("id", "family", "task", "template_id", "answer_type", "answer", "choices", "answer_index",
               "value", "unit")
COLUMN_FACTORS = ("family", "task", "template_id", "answer_type", "unit", "frame", "split")
SCENE_FACTORS = ("num_objects", "room_type", "num_views", "camera_height", "camera_pitch", "fov", "image_size")


def _parquet_files(dataset: str) -> dict[str, list]:
    """split -> its Parquet files under ``dataset/data`` (names ``<split>-KKKKK-of-NNNNN.parquet``)."""
    from pathlib import Path

    root = Path(dataset)
    if not root.is_dir():
        raise ScoreInputError(f"{dataset}: no such folder; fix: pass the dataset folder that "
                              "`spatialforge generate out=...` wrote (it holds data/*.parquet)")
    files = sorted((root / "data").glob("*.parquet")) if (root / "data").is_dir() else []
    if not files:
        raise ScoreInputError(f"{dataset}: no data/*.parquet files; fix: pass the dataset folder that "
                              "`spatialforge generate out=...` wrote (it holds data/*.parquet)")
    out: dict[str, list] = {}
    for f in files:
        out.setdefault(f.name.split("-", 1)[0], []).append(f)
    return out


def load_truth(dataset: str, columns: tuple[str, ...] = ROW_COLUMNS):
    """The dataset's rows (``columns`` of every split, plus ``split``) as one pyarrow Table, in
    split order (train, validation, test, then others) and file order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = _parquet_files(dataset)
    order = sorted(files, key=lambda s: ({"train": 0, "validation": 1, "test": 2}.get(s, 3), s))
    tables = []
    for split in order:
        for f in files[split]:
            names = pq.read_schema(f).names
            t = pq.read_table(f, columns=[c for c in columns if c in names])
            tables.append(t.append_column("split", pa.array([split] * t.num_rows, pa.string())))
    return pa.concat_tables(tables, promote_options="default")


def _lmms_prediction(d: dict) -> Any:
    """The model's answer in an lmms-eval sample-log line: ``filtered_resps`` (a string, or a list
    holding one, possibly nested), else ``resps``."""
    p = d.get("filtered_resps", d.get("resps"))
    while isinstance(p, list) and p:
        p = p[0]
    return p if isinstance(p, str) else None


def _lmms_id(d: dict) -> str | None:
    """The row id an lmms-eval sample names: its ``doc`` (older logs keep it), else a metric value
    this project's task returns (a dict with ``id``)."""
    doc = d.get("doc")
    if isinstance(doc, dict) and isinstance(doc.get("id"), str):
        return doc["id"]
    for v in d.values():
        if isinstance(v, dict) and isinstance(v.get("id"), str) and "score" in v:
            return v["id"]
    return None


def _load_plain_jsonl(path: str) -> tuple[dict, dict] | None:
    """:func:`load_predictions` of a well-formed ``{"id", "prediction"}`` file (every line an object
    with a string id and a string prediction) read by pyarrow's JSON reader; None for anything
    else (the line-by-line reader then reports what is wrong where)."""
    import pyarrow as pa
    import pyarrow.json as pj

    try:
        t = pj.read_json(path, read_options=pj.ReadOptions(block_size=1 << 24))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError):
        return None
    if t.num_rows == 0 or not {"id", "prediction"} <= set(t.column_names) or "doc_id" in t.column_names \
            or t.schema.field("id").type != pa.string() or t.schema.field("prediction").type != pa.string() \
            or t["id"].null_count or t["prediction"].null_count:
        return None
    ids, ps = t["id"].to_pylist(), t["prediction"].to_pylist()
    preds = dict(zip(reversed(ids), reversed(ps)))  # the first line of an id wins
    preds = {k: preds[k] for k in dict.fromkeys(ids)}  # in file order
    dup_ids = [] if len(preds) == len(ids) else [k for k, v in Counter(ids).items() if v > 1]
    return preds, {"lines": len(ids), "duplicates": len(ids) - len(preds), "duplicate_ids": dup_ids[:100],
                   "bad_lines": 0, "bad_line_numbers": [], "format": "jsonl"}


def load_predictions(path: str) -> tuple[dict, dict]:
    """(id -> prediction text, counts) from a JSONL file of ``{"id", "prediction"}`` lines or an
    lmms-eval ``samples_*.jsonl`` log (``doc_id``, ``filtered_resps``: the id from ``doc.id``, this
    project's metric dicts, or else ``doc_id`` as the row's position in the lmms task's split,
    returned under the key ``("doc_id", n)``). counts: lines, duplicates (a later line for an id
    already seen: the first one counts), duplicate_ids, bad_lines (not JSON, or without an id
    or a prediction), bad_line_numbers, format."""
    import os

    if not os.path.isfile(path):
        raise ScoreInputError(f"{path}: no such file; fix: pass a JSONL file with one "
                              '{"id": ..., "prediction": ...} object per line (or an lmms-eval samples_*.jsonl)')
    fast = _load_plain_jsonl(path)
    if fast is not None:
        return fast
    preds: dict = {}
    c = Counter()
    dup_ids, bad_nums = [], []
    formats = Counter()
    loads = json.loads
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                c["lines"] += 1
                try:
                    d = loads(line)
                except ValueError:
                    d = None
                if not isinstance(d, dict):
                    c["bad_lines"] += 1
                    bad_nums.append(n)
                    continue
                if "prediction" in d and isinstance(d.get("id"), str):
                    key, p = d["id"], d["prediction"]
                    p = p if isinstance(p, str) else json.dumps(p) if p is not None else None
                    formats["jsonl"] += 1
                elif "doc_id" in d or "filtered_resps" in d:
                    key, p = _lmms_id(d), _lmms_prediction(d)
                    if key is None and isinstance(d.get("doc_id"), int):
                        key = ("doc_id", d["doc_id"])
                    formats["lmms-eval"] += 1
                else:
                    key, p = None, None
                if key is None or p is None:
                    c["bad_lines"] += 1
                    bad_nums.append(n)
                    continue
                if key in preds:
                    c["duplicates"] += 1
                    dup_ids.append(key if isinstance(key, str) else f"doc_id {key[1]}")
                    continue
                preds[key] = p
    except UnicodeDecodeError:
        raise ScoreInputError(f"{path}: not UTF-8 text; fix: pass a JSONL file (UTF-8, one JSON object a line)") from None
    if c["lines"] and c["bad_lines"] == c["lines"]:
        raise ScoreInputError(f"{path}: not JSONL (none of its {c['lines']} lines is a JSON object with "
                              '"id" and "prediction", or an lmms-eval sample); fix: write one '
                              '{"id": "<row id>", "prediction": "<answer text>"} object per line')
    if not c["lines"]:
        raise ScoreInputError(f"{path}: empty; fix: write one {{\"id\": ..., \"prediction\": ...}} object per line")
    counts = {"lines": c["lines"], "duplicates": c["duplicates"], "duplicate_ids": dup_ids[:100],
              "bad_lines": c["bad_lines"], "bad_line_numbers": bad_nums[:100],
              "format": "+".join(sorted(formats)) or "none"}
    return preds, counts


def _first_tokens(preds):
    """pyarrow: :func:`first_token` of each prediction (null stays null)."""
    import pyarrow.compute as pc

    tok = pc.struct_field(pc.extract_regex(preds, r"^\s*(?P<t>\S*)"), [0])
    return pc.utf8_rtrim(tok, characters=".")


def score_table(truth, preds: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, parsed, answered) arrays over ``truth``'s rows, with the rules of
    :func:`score_answer`: choice letters, bool and count answers are read with pyarrow kernels in
    one pass (a choice prediction that is not a letter falls back to :func:`parse_choice`),
    numbers are scored with :func:`mra_many`, 3D boxes with :func:`iou3d_many`, the rest row by row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = truth.num_rows
    get = preds.get
    p_list = [get(i) for i in truth["id"].to_pylist()]
    p_arr = pa.array(p_list, pa.string())
    answered = np.asarray(p_arr.is_valid())
    score, parsed = np.zeros(n), np.zeros(n, bool)
    at = truth["answer_type"]
    tok = _first_tokens(p_arr)
    rest = np.zeros(n, bool)

    # choice: a letter A.. within the options
    is_c = np.asarray(pc.equal(at, "choice").fill_null(False)) & answered
    letter = pc.utf8_upper(pc.utf8_rtrim(pc.utf8_trim(tok, characters="()"), characters=":),"))
    nch = np.asarray(pc.list_value_length(truth["choices"]).fill_null(0))
    k = np.full(n, -1)
    for j in range(int(nch.max(initial=0))):
        k[np.asarray(pc.equal(letter, chr(65 + j)).fill_null(False)) & (j < nch)] = j
    hit = is_c & (k >= 0)
    idx = np.asarray(truth["answer_index"].fill_null(-1))
    score[hit], parsed[hit] = k[hit] == idx[hit], True
    rest |= is_c & ~hit

    # bool: yes/true, no/false
    is_b = np.asarray(pc.equal(at, "bool").fill_null(False)) & answered
    if is_b.any():
        low = pc.utf8_rtrim(pc.utf8_lower(tok), characters=",!;:")
        yes = np.asarray(pc.is_in(low, value_set=pa.array(["yes", "true"])).fill_null(False))
        no = np.asarray(pc.is_in(low, value_set=pa.array(["no", "false"])).fill_null(False))
        truth_yes = np.asarray(pc.equal(truth["value"], "true").fill_null(False))
        ok = is_b & (yes | no)
        score[ok], parsed[ok] = yes[ok] == truth_yes[ok], True

    # numbers: parsed row by row, MRA in one pass
    is_n = np.flatnonzero(np.asarray(pc.equal(at, "number").fill_null(False)) & answered)
    if len(is_n):
        units, values = truth["unit"].to_pylist(), truth["value"].to_pylist()
        xs = np.array([np.nan if (x := parse_number(p_list[i], units[i])) is None else x for i in is_n], float)
        tv = np.array([float(values[i]) for i in is_n])
        score[is_n], parsed[is_n] = mra_many(xs, tv), ~np.isnan(xs)

    # 3D boxes: one batch
    is_j = np.flatnonzero(np.asarray(pc.equal(at, "json").fill_null(False)) & answered)
    answers = truth["answer"].to_pylist() if (rest.any() or len(is_j) or n) else None
    box_rows, box_p, box_t = [], [], []
    for i in is_j:
        if answers[i].lstrip().startswith("{"):
            pb = parse_box3d(p_list[i])
            if pb is not None:
                box_rows.append(i), box_p.append(pb), box_t.append(parse_box3d(answers[i]))
        else:
            rest[i] = True
    if box_rows:
        score[box_rows], parsed[box_rows] = iou3d_many(box_p, box_t), True

    # the rest row by row
    other = np.asarray(pc.is_in(at, value_set=pa.array(["count", "text", "ascii"])).fill_null(False)) & answered
    todo = np.flatnonzero(rest | other)
    if len(todo):
        cols = {c: truth[c].to_pylist() for c in ("answer_type", "choices", "answer_index", "value", "unit")}
        for i in todo:
            score[i], parsed[i] = score_answer(p_list[i], cols["answer_type"][i], answers[i], cols["choices"][i],
                                               cols["answer_index"][i], cols["value"][i], cols["unit"][i])
    return score, parsed, answered


def _scene_factors(scene_json: str, view_ids: list[str]) -> dict:
    """Factor values read from a row's scene record and its views (the first view for camera values)."""
    s = json.loads(scene_json)
    views = {v["id"]: v for v in s.get("views", [])}
    v = views.get(view_ids[0]) if view_ids else None
    p = (v or {}).get("params", {})
    return {"num_objects": len(s.get("objects", [])), "room_type": (s.get("room") or {}).get("room_type") or (s.get("room") or {}).get("type"),
            "num_views": len(view_ids), "camera_height": p.get("height"),
            "camera_pitch": p.get("pitch"), "fov": p.get("fov_deg"),
            "image_size": f"{v['width']}x{v['height']}" if v else None}


def factor_values(dataset: str, truth, names: list[str]) -> dict[str, list]:
    """Per factor name, its value on every row of ``truth``: from the ``factors`` JSON column
    when the dataset has one and the row names the factor, else a row column, else a value
    computed from the scene record (:data:`SCENE_FACTORS`). Raises ScoreInputError for a name
    none of these has."""
    import pyarrow.parquet as pq

    out: dict[str, list] = {}
    names_left = list(names)
    first = next(iter(_parquet_files(dataset).values()))[0]
    schema = set(pq.read_schema(first).names) | {"split"}
    ids = truth["id"].to_pylist()
    if "factors" in schema:
        ft = load_truth(dataset, ("id", "factors"))
        fac = dict(zip(ft["id"].to_pylist(), ft["factors"].to_pylist()))
        parsed = [json.loads(fac[i]) if fac.get(i) else {} for i in ids]
        for name in list(names_left):
            if any(name in d for d in parsed):
                out[name] = [d.get(name) for d in parsed]
                names_left.remove(name)
    for name in list(names_left):
        if name in schema:
            col = truth[name] if name in truth.column_names else load_truth(dataset, ("id", name))[name]
            out[name] = [json.dumps(x) if isinstance(x, (list, dict)) else x for x in col.to_pylist()]
            names_left.remove(name)
    if any(n in SCENE_FACTORS for n in names_left):
        t = load_truth(dataset, ("id", "scene_id", "view_ids", "scene"))
        by_id = {}
        cache: dict = {}
        for rid, sid, vids, sc in zip(t["id"].to_pylist(), t["scene_id"].to_pylist(), t["view_ids"].to_pylist(),
                                      t["scene"].to_pylist()):
            key = (sid, tuple(vids or ()))
            if key not in cache:
                cache[key] = _scene_factors(sc, list(vids or ()))
            by_id[rid] = cache[key]
        for name in [n for n in names_left if n in SCENE_FACTORS]:
            out[name] = [by_id[i][name] for i in ids]
            names_left.remove(name)
    if names_left:
        known = sorted(set(COLUMN_FACTORS) | set(SCENE_FACTORS) | (schema - {"images", "scene", "id"}))
        raise ScoreInputError(f"--by {','.join(names_left)}: no such factor in {dataset}; fix: use one of "
                              f"{', '.join(known)}" + (" or a key of the factors column" if "factors" in schema else ""))
    return out


def bin_values(values: list, bins: int = 5) -> list[str]:
    """Labels of a factor's values: the value itself when it takes at most 12 distinct values or
    is not numeric, else one of ``bins`` quantile bins ``[lo, hi]`` (equal-count edges)."""
    distinct = set(values)
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in distinct if v is not None)
    if len(distinct) <= 12 or not numeric:
        return ["none" if v is None else str(v) for v in values]
    x = np.array([np.nan if v is None else float(v) for v in values])
    edges = np.unique(np.nanquantile(x, np.linspace(0, 1, bins + 1)))
    k = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    labels = [f"[{edges[i]:.3g}, {edges[i + 1]:.3g}{']' if i == len(edges) - 2 else ')'}" for i in range(len(edges) - 1)]
    return ["none" if np.isnan(xi) else labels[ki] for xi, ki in zip(x, k)]


def _groups(keys: list, score: np.ndarray, parsed: np.ndarray, answered: np.ndarray) -> list[dict]:
    """Per distinct key: rows, answered, parsed, score (mean over rows, missing = 0), sorted by
    :func:`_bin_order`."""
    import pyarrow as pa

    enc = pa.array(keys if isinstance(keys, list) else keys.to_pylist()).cast(pa.string()).fill_null("none").dictionary_encode()
    inv, uniq = np.asarray(enc.indices), enc.dictionary.to_pylist()
    rows = np.bincount(inv, minlength=len(uniq))
    tot = np.bincount(inv, weights=score, minlength=len(uniq))
    ans = np.bincount(inv, weights=answered, minlength=len(uniq))
    par = np.bincount(inv, weights=parsed, minlength=len(uniq))
    out = [{"bin": str(u), "rows": int(r), "answered": int(a), "parsed": int(p), "score": float(s / r)}
           for u, r, a, p, s in zip(uniq, rows, ans, par, tot) if r]
    return sorted(out, key=lambda x: _bin_order(x["bin"]))


def _bin_order(label: str) -> tuple:
    """Numbers and quantile bins ``[lo, hi)`` by value, then other labels, ``none`` last."""
    m = _ANY_NUM.match(label.lstrip("["))
    if m and (label.startswith("[") or m.end() == len(label.lstrip("["))):
        return (0, float(m.group(0)), label)
    return (2 if label == "none" else 1, 0.0, label)


def score_prediction_rows(dataset: str, predictions: str, splits: list[str] | None = None) -> dict:
    """Score every row of the scored splits: a dict with ``truth`` (the rows, a pyarrow Table of
    :data:`ROW_COLUMNS` and ``split``), ``score``, ``parsed``, ``answered`` (arrays over its rows,
    :func:`score_table`), ``preds`` (id -> prediction text), ``counts`` (the report's counts),
    ``splits`` and ``unknown`` (predicted ids not in the dataset). ``splits``: the splits scored
    (default: those holding a predicted id, all when none does)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    preds, counts = load_predictions(predictions)
    truth = load_truth(dataset)
    all_splits = sorted(set(truth["split"].to_pylist()))
    doc_keys = [k for k in preds if isinstance(k, tuple)]
    if doc_keys:  # lmms-eval doc_id: the row's position in the task's split (test unless one split is given)
        lsplit = splits[0] if splits and len(splits) == 1 else "test"
        split_ids = truth.filter(pc.equal(truth["split"], lsplit))["id"].to_pylist()
        for k in doc_keys:
            p = preds.pop(k)
            if 0 <= k[1] < len(split_ids) and split_ids[k[1]] not in preds:
                preds[split_ids[k[1]]] = p
            else:
                preds[f"doc_id {k[1]}"] = p
    all_ids = truth["id"].to_pylist()
    known = set(all_ids)
    unknown = [k for k in preds if k not in known]
    if splits is None:
        hit = pc.is_in(truth["id"], value_set=pa.array(list(set(preds) - set(unknown)), pa.string()))
        splits = sorted(set(truth.filter(hit)["split"].to_pylist())) or all_splits
    bad = [s for s in splits if s not in all_splits]
    if bad:
        raise ScoreInputError(f"--split {','.join(bad)}: not in {dataset}; fix: use {', '.join(all_splits)}")
    truth = truth.filter(pc.is_in(truth["split"], value_set=pa.array(splits, pa.string())))
    outside = len(set(preds) - set(unknown) - set(truth["id"].to_pylist()))
    score, parsed, answered = score_table(truth, preds)
    n = truth.num_rows
    counts = {"rows": n, "predictions": len(preds), "scored": int(answered.sum()),
              "missing": int(n - answered.sum()), "unparsed": int(answered.sum() - parsed.sum()),
              "unknown": len(unknown), "unknown_ids": unknown[:100], "outside_splits": outside, **counts}
    return {"truth": truth, "score": score, "parsed": parsed, "answered": answered, "preds": preds,
            "counts": counts, "splits": splits, "unknown": unknown}


def score_report(dataset: str, predictions: str, rows: dict, by: list[str] | None = None, bins: int = 5) -> dict:
    """The report (JSON-able) of :func:`score_prediction_rows`' result ``rows``: counts, overall,
    and tables per family, task, answer_type and each ``by`` factor (:func:`factor_values`, binned with
    :func:`bin_values`)."""
    truth, score, parsed, answered = rows["truth"], rows["score"], rows["parsed"], rows["answered"]
    n = truth.num_rows
    report = {
        "dataset": str(dataset), "predictions": str(predictions), "splits": rows["splits"], "counts": rows["counts"],
        "overall": {"rows": n, "answered": int(answered.sum()), "parsed": int(parsed.sum()),
                    "score": float(score.mean()) if n else 0.0},
        "metric": METRIC, "tables": {},
    }
    tables = {k: truth[k] for k in ("family", "task", "answer_type")}
    if by:
        tables.update({k: bin_values(v, bins) for k, v in factor_values(dataset, truth, by).items()})
    for name, keys in tables.items():
        report["tables"][name] = _groups(keys, score, parsed, answered)
    return report


def score_dataset(dataset: str, predictions: str, by: list[str] | None = None, splits: list[str] | None = None,
                  bins: int = 5) -> dict:
    """Score ``predictions`` against the dataset folder ``dataset``; return the report (JSON-able):
    counts, overall, and tables per family, task, answer_type and each ``by`` factor. ``splits``:
    the splits scored (default: those holding a predicted id, all when none does)."""
    return score_report(dataset, predictions, score_prediction_rows(dataset, predictions, splits), by, bins)


def format_report(r: dict) -> str:
    """The report as plain-text tables (scores in percent)."""
    c = r["counts"]
    lines = [f"dataset {r['dataset']}  splits {','.join(r['splits'])}  predictions {r['predictions']} ({c['format']})",
             f"rows {c['rows']}  scored {c['scored']}  missing {c['missing']} (score 0)  unparsed answers "
             f"{c['unparsed']} (score 0)  unknown ids {c['unknown']} (not scored)  duplicates {c['duplicates']}  "
             f"bad lines {c['bad_lines']}" + (f"  ids in other splits {c['outside_splits']}" if c["outside_splits"] else "")]
    if c["unknown_ids"]:
        lines.append("unknown ids: " + ", ".join(map(str, c["unknown_ids"][:20])) + (" ..." if c["unknown"] > 20 else ""))
    if c["bad_line_numbers"]:
        lines.append("bad lines: " + ", ".join(map(str, c["bad_line_numbers"][:20])) + (" ..." if c["bad_lines"] > 20 else ""))
    o = r["overall"]
    lines.append(f"overall {100 * o['score']:.2f}  ({o['rows']} rows; accuracy / MRA / cell accuracy / IoU per "
                 "answer type, averaged over rows)")
    for name, rows in r["tables"].items():
        w = max([len(name)] + [len(x["bin"]) for x in rows])
        lines.append("")
        lines.append(f"{name:<{w}}  {'rows':>8}  {'answered':>8}  {'parsed':>8}  {'score':>7}")
        for x in rows:
            lines.append(f"{x['bin']:<{w}}  {x['rows']:>8}  {x['answered']:>8}  {x['parsed']:>8}  {100 * x['score']:>7.2f}")
    return "\n".join(lines)
