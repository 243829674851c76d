"""The static gallery of a dataset (``spatialforge view``): files written from rows already read.

Layout of the output folder (opens from ``file://``, no server; data is loaded by ``<script>`` tags):

    index.html          the gallery: filters, search, overlay toggles, pages of sample cards
    summary.html        counts and answers per family and task, factor histograms, blind baseline,
                        the card's plots, and with predictions the score tables
    assets/app.js, assets/style.css     copied from engine/viewer/static/
    data/meta.js        filters' values, page size, whether predictions are shown
    data/rows-NNN.js    the cards' records, 500 per file
    video/<sha1>.mp4    the MP4 of a camera path (walkthrough datasets made with output.video=true), on the
                        card of a row whose views are exactly that path's frames
    img/<sha1>.jpg|png  images (named by content: rows sharing an image share the file); depth maps
                        coloured (near yellow, far blue) and instance masks coloured, as PNGs
    topdown/<sha1>.svg  a top-down plot per (scene, referenced objects, views)
    card/*.png          copies of the dataset card's plots
    viewer.json         what this folder holds (the files listed are ours to replace or remove)

A folder that is not empty and holds no ``viewer.json`` is refused and left as it is.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
from pathlib import Path
from typing import Callable

import numpy as np

from engine.atomic import TMP_PREFIX, atomic_write_bytes
from engine.scene.graph import SceneGraph
from engine.viewer.topdown_svg import highlight, topdown_base

STATIC = Path(__file__).resolve().parent / "static"
MANIFEST = "viewer.json"
FOLDERS = ("assets", "data", "img", "topdown", "card", "video")  # ours inside an output folder
CHUNK_ROWS = 500


class GalleryError(ValueError):
    """The output folder cannot be used; the message names it and the fix."""


def owned_files(out: Path) -> list[Path]:
    """The files of gallery folder ``out`` that its ``viewer.json`` lists, and the manifest itself
    (nothing when it has none or it is unreadable)."""
    try:
        listed = json.loads((out / MANIFEST).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [out / f for f in listed if isinstance(f, str) and ".." not in Path(f).parts] + [out / MANIFEST]


def _check_out(out: Path, protect: Path | None) -> None:
    if out.exists() and not out.is_dir():
        raise GalleryError(f"--out: {out} is a file; fix: pass a folder (default DATASET/viewer)")
    if protect is not None and out.resolve() == Path(protect).resolve():
        raise GalleryError(f"--out: {out} is the dataset folder itself; fix: pass another folder "
                           "(default DATASET/viewer)")
    if out.is_dir() and not (out / MANIFEST).is_file() and any(p for p in out.iterdir()
                                                                 if not p.name.startswith(TMP_PREFIX)):
        raise GalleryError(f"--out: {out} is not empty and holds no {MANIFEST} (not a gallery this command "
                           "wrote); fix: pass an empty or new folder, nothing there was changed")


class _Writer:
    """Writes files under ``out`` atomically (no fsync: a gallery can be rebuilt) and remembers them."""

    def __init__(self, out: Path):
        self.out, self.files = out, set()

    def put(self, rel: str, data: bytes) -> str:
        if rel not in self.files:
            atomic_write_bytes(self.out / rel, data, fsync=False)
            self.files.add(rel)
        return rel


def _ext(data: bytes) -> str:
    return "png" if data[:4] == b"\x89PNG" else "jpg" if data[:3] == b"\xff\xd8\xff" else "bin"


def _image(w: _Writer, data: bytes | None) -> str | None:
    if not data:
        return None
    return w.put(f"img/{hashlib.sha1(data).hexdigest()[:20]}.{_ext(data)}", data)


def _png(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def depth_png(data: bytes) -> bytes:
    """A 16-bit depth PNG (millimetres, 0 = no hit) as an RGBA PNG for eyes: 2nd to 98th
    percentile of the hits mapped on viridis reversed (near yellow, far dark blue), no hit transparent."""
    from matplotlib import colormaps
    from PIL import Image

    d = np.asarray(Image.open(io.BytesIO(data))).astype(np.float64)
    hit = d > 0
    rgba = np.zeros(d.shape + (4,), np.uint8)
    if hit.any():
        lo, hi = np.percentile(d[hit], [2, 98])
        x = np.clip((d - lo) / max(hi - lo, 1.0), 0, 1)
        lut = (colormaps["viridis_r"](np.linspace(0, 1, 256)) * 255).astype(np.uint8)
        rgba = lut[(x * 255).astype(np.int64)]
        rgba[..., 3] = np.where(hit, 255, 0)
    return _png(rgba)


def mask_png(data: bytes) -> bytes:
    """A 16-bit instance-id PNG (0 = background) as an RGBA PNG: one colour per id (golden-ratio
    hues), background transparent."""
    from matplotlib.colors import hsv_to_rgb
    from PIL import Image

    ids = np.asarray(Image.open(io.BytesIO(data))).astype(np.int64)
    n = int(ids.max(initial=0)) + 1
    hues = (np.arange(n) * 0.618033988749895) % 1.0
    lut = np.concatenate([(hsv_to_rgb(np.stack([hues, np.full(n, 0.75), np.full(n, 0.95)], 1)) * 255),
                          np.full((n, 1), 255.0)], 1).astype(np.uint8)
    lut[0] = 0
    return _png(lut[ids])


def _derived(w: _Writer, data: bytes | None, kind: str, convert) -> str | None:
    if not data:
        return None
    rel = f"img/{kind}-{hashlib.sha1(data).hexdigest()[:20]}.png"
    if rel not in w.files:
        w.put(rel, convert(data))
    return rel


def _nth(r: dict, col: str, k: int):
    """Item ``k`` of the list column ``col`` of row ``r`` (None when absent or shorter)."""
    xs = r.get(col) or []
    return xs[k] if k < len(xs) else None


def _video(w: _Writer, scene: SceneGraph | None, view_ids: list[str], video_file, copied: dict) -> str | None:
    """The gallery copy (``video/<sha1>.mp4``) of the MP4 of the camera path of ``scene`` whose
    frames are exactly ``view_ids`` (in order), or None when no path matches or ``video_file``
    (scene_id, path_id) -> Path | None finds no file. ``copied``: source path -> copy, so a
    video shared by many rows is read once."""
    if video_file is None or scene is None or not view_ids:
        return None
    pid = next((p.get("id") for p in scene.paths if list(p.get("view_ids") or []) == view_ids), None)
    src = video_file(scene.scene_id, pid) if pid is not None else None
    if src is None:
        return None
    if src not in copied:
        data = Path(src).read_bytes()
        copied[src] = w.put(f"video/{hashlib.sha1(data).hexdigest()[:20]}.mp4", data)
    return copied[src]


def _card(w: _Writer, r: dict, scenes: dict, bases: dict, colors: dict, video_file=None,
          copied: dict | None = None) -> dict:
    """The record of one card (what app.js draws), writing its images, top-down plot and video
    (the key ``video`` is present only on a card that has one)."""
    sid = r.get("scene_id")
    scene, key = None, None
    if r.get("scene"):
        key = (sid, hashlib.sha1(r["scene"].encode()).hexdigest())
        if key not in scenes:
            if len(scenes) > 256:  # rows come grouped by scene: a small cache is enough
                scenes.clear()
            scenes[key] = SceneGraph.from_json(r["scene"])
        scene = scenes[key]
    refs, view_ids = list(r.get("objects") or []), list(r.get("view_ids") or [])
    vmap = {v.id: v for v in scene.views} if scene else {}
    objs = {o.id: o for o in scene.objects} if scene else {}
    views = []
    for k, vid in enumerate(view_ids):
        v = vmap.get(vid)
        img = _nth(r, "images", k)
        boxes = []
        for n, oid in enumerate(refs):
            ann = v.objects.get(oid) if v else None
            b = (ann.bbox_visible or ann.box_amodal) if ann else None
            if b:
                name = objs[oid].category.replace("_", " ") if oid in objs else oid
                boxes.append({"id": oid, "n": n + 1, "name": name, "box": [int(x) for x in b]})
        views.append({"id": vid, "img": _image(w, (img or {}).get("bytes")),
                      "depth": _derived(w, (_nth(r, "depths", k) or {}).get("bytes"), "depth", depth_png),
                      "mask": _derived(w, (_nth(r, "instance_masks", k) or {}).get("bytes"), "mask", mask_png),
                      "w": v.width if v else None, "h": v.height if v else None, "boxes": boxes})
    topdown = None
    if scene is not None:
        base_key = (key, tuple(view_ids))
        if base_key not in bases:  # one layout per scene and views; rows differ only in highlights
            if len(bases) > 1024:
                bases.clear()
            bases[base_key] = topdown_base(scene, view_ids, colors)
        svg = highlight(bases[base_key], refs)
        topdown = w.put(f"topdown/{hashlib.sha1(svg.encode()).hexdigest()[:20]}.svg", svg.encode("utf-8"))
    value = r.get("value")
    video = _video(w, scene, view_ids, video_file, {} if copied is None else copied)
    card = {"id": r["id"], "split": r["split"], "family": r.get("family"), "task": r.get("task"),
            "template_id": r.get("template_id"), "answer_type": r.get("answer_type"), "question": r.get("question"),
            "choices": r.get("choices"), "answer": r.get("answer"), "answer_index": r.get("answer_index"),
            "value": value, "unit": r.get("unit"), "rationale": r.get("rationale"), "frame": r.get("frame"),
            "objects": refs, "scene_id": sid, "views": views, "topdown": topdown, "factors": r.get("factors") or {},
            "prediction": r.get("prediction")}
    if video is not None:  # absent otherwise: galleries of datasets without videos keep their bytes
        card["video"] = video
    return card


def _facets(cards: list[dict]) -> dict:
    """Values (with counts over the cards) of every filter: split, family, task, answer, each factor."""
    def count(vals) -> list:
        c: dict = {}
        for v in vals:
            c[v] = c.get(v, 0) + 1
        return sorted(c.items(), key=lambda kv: (-kv[1], str(kv[0])))

    f = {k: count(c[k] for c in cards) for k in ("split", "family", "task")}
    f["answer"] = count(c["answer"] for c in cards if c["answer"] is not None and len(c["answer"]) <= 40)
    names = sorted({k for c in cards for k in c["factors"]})
    f["factors"] = {n: count(x for c in cards for x in (c["factors"].get(n) if isinstance(c["factors"].get(n), list)
                                                        else [c["factors"].get(n, "none")])) for n in names}
    return f


def _js(name: str, obj) -> bytes:
    return f"{name}({json.dumps(obj, separators=(',', ':'), ensure_ascii=False)});\n".encode("utf-8")


def write_gallery(out: str | Path, rows: list[dict], summary: dict, colors: dict, page_size: int = 24,
                  protect: str | Path | None = None,
                  video_file: Callable[[str, str], Path | None] | None = None) -> Path:
    """Write the gallery of ``rows`` (dicts of dataset columns plus ``split``, ``factors`` as
    {name: label or [labels]}, optional ``prediction``) and the ``summary`` page into ``out``
    (see the module docstring); return the path of index.html. ``colors``: the catalog colour
    table for the top-down plots. ``protect``: a folder ``out`` must not be (the dataset).
    ``video_file``: (scene_id, path_id) -> the MP4 of that camera path or None; a card whose
    views are exactly a path's frames gets a copy of it (``video/``)."""
    from engine.viewer.summary_html import summary_html

    out = Path(out)
    _check_out(out, Path(protect) if protect else None)
    before = set(str(p.relative_to(out)) for p in owned_files(out)) if out.is_dir() else set()
    w = _Writer(out)
    scenes: dict = {}
    bases: dict = {}
    copied: dict = {}
    cards = [_card(w, r, scenes, bases, colors, video_file, copied) for r in rows]
    for name in ("app.js", "style.css"):
        w.put(f"assets/{name}", (STATIC / name).read_bytes())
    chunks = []
    for k in range(0, max(len(cards), 1), CHUNK_ROWS):
        chunks.append(w.put(f"data/rows-{k // CHUNK_ROWS:03d}.js", _js("SF.addRows", cards[k:k + CHUNK_ROWS])))
    has_pred = any(c["prediction"] is not None for c in cards) or "score" in summary
    meta = {"title": Path(summary["dataset"]).name or summary["dataset"], "dataset": summary["dataset"],
            "page_size": page_size, "predictions": has_pred, "per_task": summary["per_task"],
            "dataset_rows": summary["dataset_rows"], "facets": _facets(cards)}
    w.put("data/meta.js", _js("SF.setMeta", meta))
    plots = []
    for p in summary.get("card_plots") or []:
        plots.append(w.put(f"card/{Path(p).name}", Path(p).read_bytes()))
    w.put("summary.html", summary_html(summary, plots, len(cards)).encode("utf-8"))
    scripts = "\n".join(f'<script src="{html.escape(c)}"></script>' for c in ["data/meta.js", *chunks])
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    page = page.replace("{{title}}", html.escape(meta["title"])).replace("{{data_scripts}}", scripts)
    index = w.put("index.html", page.encode("utf-8"))
    files = sorted(w.files)
    atomic_write_bytes(out / MANIFEST, (json.dumps({"kind": "spatialforge-viewer", "dataset": summary["dataset"],
                                                    "files": files}, indent=1) + "\n").encode("utf-8"))
    _remove_stale(out, set(files), before)
    return out / index


def _remove_stale(out: Path, keep: set[str], before: set[str]) -> None:
    """Remove what an earlier build left that this one did not write: files the old manifest
    listed, and any file in our folders (a build stopped before its manifest), then empty folders."""
    stale = {f for f in before if f not in keep and f != MANIFEST}
    for d in FOLDERS:
        if (out / d).is_dir():
            stale |= {str(p.relative_to(out)) for p in (out / d).iterdir() if p.is_file()} - keep
    for f in stale:
        p = out / f
        if p.is_file():
            p.unlink()
    for d in FOLDERS:
        if (out / d).is_dir() and not any((out / d).iterdir()):
            (out / d).rmdir()


def remove_gallery(out: Path) -> int:
    """Remove the gallery in ``out`` (the files its viewer.json lists, then its folders left
    empty and ``out`` itself when empty); returns the number of files removed."""
    n = 0
    for p in owned_files(out):
        if p.is_file():
            p.unlink()
            n += 1
    for d in [*FOLDERS, "."]:
        q = out / d
        if q.is_dir() and not any(q.iterdir()):
            q.rmdir()
    return n

