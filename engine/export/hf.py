"""The Hugging Face dataset schema of a QA row and the dataset card (README.md).

Schema (one consistent layout for single- and multi-view rows):
- ``images``: list of ``Image`` in the order of ``view_ids`` (one entry for single-view rows);
  ``depths`` / ``instance_masks`` (optional, by ``output.depth`` / ``output.instance_mask``):
  lists of ``Image`` (16-bit PNG; depth in millimetres, masks hold instance ids, 0 = background).
- ``value``: the typed answer as JSON text (number, bool, int or string), so one column type
  fits every answer type; ``json.loads(row["value"])`` gives it back.
- ``scene``: the scene record as canonical JSON text (``SceneGraph.from_json``).
- ``marks``: JSON text of the marks drawn on the marked images ({view_id, object_ids, style,
  [per_view], records: {view_id: what draw_marks returned}}) or null; ``meta``: JSON text of the
  generator's ``meta`` dict plus any further fields it returned, or null when empty.
- ``factors``: JSON text of the row's factors (``conf/factors.yaml``, docs/factors.md): scene,
  view and question factors (scene and view factors only on rows of ``stages.qa=false`` runs).
"""

from __future__ import annotations

import json
import math
from typing import Any

import yaml

ANSWER_TYPES = ("choice", "bool", "number", "count", "text", "ascii", "json")
QA_TEXT_FIELDS = ("family", "task", "template_id", "question", "answer", "answer_type", "frame", "rationale")
QA_FIELDS = ("id", "scene_id", "view_ids", *QA_TEXT_FIELDS, "choices", "answer_index", "value", "unit", "objects")


def row_columns(depth: bool = False, instance_mask: bool = False) -> list[tuple[str, str]]:
    """The columns of a row in order, as (name, kind): kind ``string``, ``int32``,
    ``list_string`` or ``list_image`` (the single source of :func:`dataset_features` and
    :func:`dataset_schema`)."""
    cols = [("id", "string"), ("scene_id", "string"), ("view_ids", "list_string"), ("images", "list_image")]
    if depth:
        cols.append(("depths", "list_image"))
    if instance_mask:
        cols.append(("instance_masks", "list_image"))
    cols += [(k, "string") for k in QA_TEXT_FIELDS]
    cols += [("choices", "list_string"), ("answer_index", "int32"), ("value", "string"), ("unit", "string"),
             ("objects", "list_string"), ("marks", "string"), ("meta", "string"), ("factors", "string"),
             ("scene", "string")]
    return cols


def dataset_features(depth: bool = False, instance_mask: bool = False):
    """The ``datasets.Features`` of a row, in column order (imports ``datasets``: about a second)."""
    from datasets import Features, Image, List, Value

    make = {"string": lambda: Value("string"), "int32": lambda: Value("int32"),
            "list_string": lambda: List(Value("string")), "list_image": lambda: List(Image())}
    return Features({name: make[kind]() for name, kind in row_columns(depth, instance_mask)})


# datasets' serialisation of each column kind in the schema metadata (Features.to_dict)
_FEATURE_JSON = {"string": {"dtype": "string", "_type": "Value"}, "int32": {"dtype": "int32", "_type": "Value"},
                 "list_string": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "List"},
                 "list_image": {"feature": {"_type": "Image"}, "_type": "List"}}


# datasets' card form of each column kind (Features._to_yaml_list)
_FEATURE_YAML = {"string": {"dtype": "string"}, "int32": {"dtype": "int32"}, "list_string": {"list": "string"},
                 "list_image": {"list": "image"}}


def dataset_features_yaml(depth: bool = False, instance_mask: bool = False) -> list[dict]:
    """The card's ``dataset_info.features`` list (equal to ``dataset_features(...)._to_yaml_list()``,
    tests/test_dataset_card.py), without importing ``datasets``."""
    return [{"name": name, **_FEATURE_YAML[kind]} for name, kind in row_columns(depth, instance_mask)]


def dataset_schema(depth: bool = False, instance_mask: bool = False):
    """The Arrow schema of a row with the ``huggingface`` metadata ``datasets`` reads back (equal
    to ``dataset_features(...).arrow_schema``, tests/test_dataset_card.py), built with pyarrow alone so
    that shard workers need not import ``datasets``."""
    import pyarrow as pa

    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    arrow = {"string": pa.string(), "int32": pa.int32(), "list_string": pa.list_(pa.string()),
             "list_image": pa.list_(image)}
    cols = row_columns(depth, instance_mask)
    meta = {"info": {"features": {name: _FEATURE_JSON[kind] for name, kind in cols}}}
    return pa.schema([(name, arrow[kind]) for name, kind in cols], metadata={"huggingface": json.dumps(meta)})


def canonical_json(obj: Any) -> str:
    """JSON text with sorted keys and no whitespace (identical bytes for equal values)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False, default=_plain)


def _plain(x: Any):
    """numpy scalars/arrays -> python values for JSON."""
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"{type(x).__name__} is not JSON serialisable")


def _image(data: bytes) -> dict:
    return {"bytes": data, "path": None}


def qa_record(qa: dict, scene_json: str, images: list[bytes], depths: list[bytes] | None = None,
              masks: list[bytes] | None = None, marks: dict | None = None, factors: str | None = None) -> dict:
    """One dataset row from a QA generator row plus encoded images and the scene JSON
    (``factors``: the row's factors as JSON text, :mod:`engine.qa.factors`).

    Raises ValueError naming the field when the QA row breaks the record contract.
    """
    rid = qa.get("id", "?")
    for k in QA_FIELDS:
        if k not in qa:
            raise ValueError(f"QA row {rid}: field {k!r} missing (record contract, docs/record.md)")
    if qa["answer_type"] not in ANSWER_TYPES:
        raise ValueError(f"QA row {rid}: answer_type {qa['answer_type']!r} is not one of {ANSWER_TYPES}")
    value = qa["value"]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"QA row {rid}: value {value!r} is not finite")
    extra = dict(qa.get("meta") or {})
    extra.update({k: v for k, v in qa.items() if k not in QA_FIELDS and k not in ("marks", "meta", "paraphrase")})
    rec = {
        "id": str(qa["id"]),
        "scene_id": str(qa["scene_id"]),
        "view_ids": [str(v) for v in qa["view_ids"]],
        "images": [_image(b) for b in images],
    }
    if depths is not None:
        rec["depths"] = [_image(b) for b in depths]
    if masks is not None:
        rec["instance_masks"] = [_image(b) for b in masks]
    for k in QA_TEXT_FIELDS:
        rec[k] = None if qa[k] is None else str(qa[k])
    rec.update({
        "choices": None if qa["choices"] is None else [str(c) for c in qa["choices"]],
        "answer_index": None if qa["answer_index"] is None else int(qa["answer_index"]),
        "value": canonical_json(value),
        "unit": None if qa["unit"] is None else str(qa["unit"]),
        "objects": [str(o) for o in (qa["objects"] or [])],
        "marks": None if marks is None else canonical_json(marks),
        "meta": canonical_json(extra) if extra else None,
        "factors": factors,
        "scene": scene_json,
    })
    return rec


def view_record(scene_id: str, view_id: str, scene_json: str, images: list[bytes],
                depths: list[bytes] | None = None, masks: list[bytes] | None = None,
                factors: str | None = None) -> dict:
    """A row for a view when QA is off (``qa.enabled=false``): images, scene and the scene and
    view factors; QA fields null."""
    qa = {k: None for k in QA_FIELDS}
    qa.update({"id": f"{scene_id}_{view_id}", "scene_id": scene_id, "view_ids": [view_id], "objects": [],
               "answer_type": "text"})
    rec = qa_record(qa, scene_json, images, depths, masks, factors=factors)
    rec["answer_type"] = None
    rec["value"] = None
    return rec


def size_category(n: int) -> str:
    """The Hub's size category for ``n`` rows (``n<1K``, ``1K<n<10K``, ..., ``n>1T``)."""
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"),
              (10**12, "1B<n<1T")]
    return next((name for top, name in bounds if n < top), "n>1T")


def dataset_card(features: list[dict], split_rows: dict[str, int], split_bytes: dict[str, int], config_hash: str,
                 version: str, license: str = "cc-by-4.0", extra: str = "") -> str:
    """README.md text: YAML front matter (``configs`` with one data_files glob per split,
    ``dataset_info`` with the features (``features``: :func:`dataset_features_yaml`) and split
    sizes, license, task categories, size category) and a description, followed by ``extra`` (:func:`engine.export.card.card_body`).

    A split with no rows (no scene fell into it) is named in the description with 0 rows but
    left out of ``configs`` and ``dataset_info``: ``datasets`` (5.2; huggingface/datasets PR
    #8401 would change it) cannot load a split without rows: ``load_dataset(..., split=s)``
    raises "Instruction s corresponds to no data" however the card lists it, even over empty
    Parquet files of the right schema, and a card listing it makes ``load_dataset(folder)`` (all
    splits) fail too. Left out, every other split loads and ``split=s`` raises ``Unknown split``
    naming the splits there are (tests/test_dataset_card.py). Its empty shard files stay in
    ``data/``."""
    splits = sorted(s for s, n in split_rows.items() if n > 0)
    front = {
        "configs": [{"config_name": "default",
                     "data_files": [{"split": s, "path": f"data/{s}-*.parquet"} for s in splits]}],
        "dataset_info": {"features": features,
                         "splits": [{"name": s, "num_bytes": int(split_bytes.get(s, 0)),
                                     "num_examples": int(split_rows[s])} for s in splits]},
        "license": license,
        "task_categories": ["visual-question-answering"],
        "size_categories": [size_category(sum(split_rows.values()))],
        "tags": ["spatial-reasoning", "synthetic", "vqa"],
    }
    lines = [f"- `{s}`: {split_rows[s]} rows" if split_rows[s] else
             f"- `{s}`: 0 rows: no scene fell into this split, so it is not in `configs` (the `datasets` library "
             f"cannot load a split without rows); raise `num_scenes` to fill it" for s in sorted(split_rows)]
    body = f"""
# SpatialForge dataset

Synthetic spatial question answering made by SpatialForge {version} (config hash `{config_hash}`).

The resolved config is in `config.yaml`; `manifest.json` lists every shard with its checksum.

{chr(10).join(lines)}

Columns: `images` is a list of images in the order of `view_ids`; `value` is the typed answer as
JSON text; `scene` is the scene record as JSON (see docs/record.md of SpatialForge); `marks` and
`meta` are JSON text or null. Open it with `datasets.load_dataset("<this folder>")`.

{extra}"""
    return "---\n" + yaml.safe_dump(front, sort_keys=False) + "---\n" + body
