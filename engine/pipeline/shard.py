"""One shard: scenes [k*S, (k+1)*S) through the stages into its files, written atomically.

A shard is a pure function of (resolved config, shard index): the same files, byte for byte,
on any worker, executor or run. Its files (final names, relative to the output folder):

- ``data/<split>-KKKKK-of-NNNNN.parquet`` for every split with a positive ratio (maybe empty);
- ``scenes/scenes-KKKKK-of-NNNNN.jsonl`` (``output.scenes``): one scene record per line;
- ``wds/<split>-KKKKK-of-NNNNN.tar`` (``output.webdataset``);
- ``llava/<split>-KKKKK-of-NNNNN.json`` + ``llava/images/`` (``output.llava``);
- ``pointclouds/<scene_id>.ply`` for every scene of the shard (``output.point_cloud``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from engine.eval.leaks import leak_entry
from engine.export.hf import dataset_schema, qa_record, view_record
from engine.export.video import video_name, write_mp4
from engine.export.writers import WRITERS, WriterContext
from engine.atomic import commit, sha256_file, temp_path
from engine.pipeline.config import JobSpec
from engine.pipeline.encode import encode_depth, encode_ids, encode_rgb
from engine.pipeline.pointclouds import write_scene_point_cloud
from engine.pipeline.splits import make_rule, route_scene
from engine.pipeline.config import qa_enabled
from engine.pipeline.stages import SceneOutput, SceneSkipped, SceneStages, scene_id_of
from engine.pipeline.timing import StageTimer
from engine.export.marks import DEFAULT_MAX_COVER, draw_marks_image
from engine.qa.factors import factors_json, factors_of, scene_factors

log = logging.getLogger("spatialforge")


class RunFailedError(RuntimeError):
    """The run stopped at a fault (a scene that raised, a worker that hung or died). Its message
    names the shard and says that rerunning resumes: complete shards are kept, the failed one
    left no file. The CLI prints it and exits 1."""

    def __init__(self, message: str, shard: int | None = None):
        super().__init__(message)
        self.shard = shard

    def __reduce__(self):  # keep ``shard`` across processes (pool workers, Ray tasks)
        return type(self), (str(self), self.shard)


class SceneError(RunFailedError):
    """A scene's stages raised (not a layout or camera skip) and ``on_scene_error`` is ``stop``.
    ``scene_index`` names it; the original exception is the cause."""

    def __init__(self, message: str, shard: int | None = None, scene_index: int | None = None):
        super().__init__(message, shard)
        self.scene_index = scene_index

    def __reduce__(self):
        return type(self), (str(self), self.shard, self.scene_index)


def error_text(e: BaseException) -> str:
    """One line ``Type: message`` for a manifest entry, without memory addresses (so the same
    failure reads the same on every run)."""
    text = " ".join(f"{type(e).__name__}: {e}".split())
    return re.sub(r"0x[0-9a-fA-F]{6,}", "0x?", text)[:500]


def shard_tag(job: JobSpec, shard_index: int) -> str:
    """``KKKKK-of-NNNNN`` for shard ``shard_index``."""
    return f"{shard_index:05d}-of-{job.num_shards:05d}"


def shard_files(job: JobSpec, shard_index: int) -> dict[str, str]:
    """Kind -> relative path of every file shard ``shard_index`` makes: ``scenes`` (when
    ``output.scenes``), then ``<writer>:<split>`` for every exporter of
    :data:`engine.export.writers.WRITERS` that the output config switches on."""
    tag, out = shard_tag(job, shard_index), job.cfg["output"]
    files: dict[str, str] = {}
    if out["scenes"]:
        files["scenes"] = f"scenes/scenes-{tag}.jsonl"
    for wk in WRITERS:
        if wk.enabled(out):
            for s in job.split_names():
                files[f"{wk.name}:{s}"] = wk.path(s, tag)
    return files


class RowImages:
    """Encodes a scene's frames once per view (and marked variants once per marks request).

    ``_rgb``, ``depths`` and ``masks`` give what a row holds; a subclass that returns arrays
    instead of encoded bytes feeds the streaming dataset (engine/pipeline/stream.py)."""

    def __init__(self, cfg: dict, out: SceneOutput, draw_marks, timer: StageTimer):
        self.o = cfg["output"]
        self.timer = timer
        self.out = out
        self.draw_marks = draw_marks
        self.rgb: dict[str, bytes] = {}
        self.depth: dict[str, bytes] = {}
        self.mask: dict[str, bytes] = {}
        self.marked: dict[tuple, tuple[bytes, list]] = {}
        self.base: dict[str, Image.Image] = {}  # view id -> its frame as a PIL image (marks copy it)
        self.mark_candidates: dict[str, dict] = {}  # view id -> draw_marks' per-object memo
        # qa.refer.mark_max_cover (a hand-made config without it: the default)
        refer = (cfg.get("qa") or {}).get("refer") or {}
        self.mark_max_cover = float(refer.get("mark_max_cover", DEFAULT_MAX_COVER))
        self.instance_ids = {o.id: o.instance_id for o in out.scene.objects}

    def _rgb(self, img) -> bytes:
        """Encoded bytes of an (H, W, 3) uint8 array or a PIL RGB image."""
        with self.timer("encode"):
            return encode_rgb(img, self.o["image_format"], self.o["jpeg_quality"], self.o["jpeg_subsampling"])

    def _plain(self, vid: str):
        """The row image of view ``vid`` without marks: encoded from the view's PIL image when
        marks made one (the same pixels, one conversion fewer), else from the frame."""
        return self._rgb(self.base[vid] if vid in self.base else self.out.frames[vid].rgb)

    def _base(self, vid: str) -> Image.Image:
        """View ``vid``'s frame as a PIL RGB image, converted once per view (marks draw on copies)."""
        if vid not in self.base:
            self.base[vid] = Image.fromarray(self.out.frames[vid].rgb)
        return self.base[vid]

    def images(self, view_ids: list[str], marks: dict | None) -> tuple[list[bytes], dict | None]:
        """Encoded rgb per view id and the marks record.

        ``marks`` = {view_id, object_ids, style[, per_view: {view_id: object_ids}]}: the views it
        names get their objects' marks drawn (``per_view`` when given, else ``object_ids`` on
        ``view_id``); the record adds the mark records ``draw_marks`` returned per view under ``records``."""
        frames = self.out.frames
        if not frames:
            return [], None
        per_view = {}
        if marks:
            per_view = dict(marks.get("per_view") or {marks["view_id"]: marks["object_ids"]})
        imgs, records = [], {}
        for vid in view_ids:
            if vid not in frames:
                raise ValueError(f"QA row names view {vid!r}, which scene {self.out.scene.scene_id} does not have")
            if vid in per_view:
                style = marks.get("style")
                key = (vid, tuple(per_view[vid]), str(style))
                if key not in self.marked:
                    view = next(v for v in self.out.scene.views if v.id == vid)
                    with self.timer("marks"):
                        img, recs = self.draw_marks(self._base(vid), view, list(per_view[vid]), style,
                                                    ids=frames[vid].ids, instance_ids=self.instance_ids,
                                                    candidates=self.mark_candidates.setdefault(vid, {}),
                                                    max_cover=self.mark_max_cover)
                    self.marked[key] = (self._rgb(img), recs)
                data, records[vid] = self.marked[key]
                imgs.append(data)
            else:
                if vid not in self.rgb:
                    self.rgb[vid] = self._plain(vid)
                imgs.append(self.rgb[vid])
        marks_rec = dict(marks, records=records) if marks else None
        return imgs, marks_rec

    def depths(self, view_ids: list[str]) -> list[bytes] | None:
        if not self.o["depth"]:
            return None
        for vid in view_ids:
            if vid not in self.depth and vid in self.out.frames:
                with self.timer("encode"):
                    self.depth[vid] = encode_depth(self.out.frames[vid].depth)
        return [self.depth[v] for v in view_ids if v in self.depth]

    def masks(self, view_ids: list[str]) -> list[bytes] | None:
        if not self.o["instance_mask"]:
            return None
        for vid in view_ids:
            if vid not in self.mask and vid in self.out.frames:
                with self.timer("encode"):
                    self.mask[vid] = encode_ids(self.out.frames[vid].ids)
        return [self.mask[v] for v in view_ids if v in self.mask]


def scene_rows(cfg: dict, out: SceneOutput, timer: StageTimer, draw_marks, scene_json: str,
               images: type[RowImages] = RowImages) -> list[dict]:
    """The dataset rows of one scene (QA rows, or one row per view when QA is off);
    ``scene_json`` is ``out.scene.to_json()``; ``images`` makes the rows' image entries."""
    enc = images(cfg, out, draw_marks, timer)
    rows = []
    with timer("rows"):
        scene_part = scene_factors(out.scene)
        if qa_enabled(cfg):
            for qa in out.qa_rows:
                imgs, marks_rec = enc.images(list(qa["view_ids"]), qa.get("marks"))
                fac = factors_json(factors_of(out.scene, list(qa["view_ids"]), qa, scene_part))
                rows.append(qa_record(qa, scene_json, imgs, enc.depths(qa["view_ids"]), enc.masks(qa["view_ids"]),
                                      marks_rec, factors=fac))
        else:
            for v in out.scene.views:
                imgs, _ = enc.images([v.id], None)
                fac = factors_json(factors_of(out.scene, [v.id], None, scene_part))
                rows.append(view_record(out.scene.scene_id, v.id, scene_json, imgs, enc.depths([v.id]),
                                        enc.masks([v.id]), factors=fac))
    return rows


def write_path_videos(root: Path, out: SceneOutput) -> dict[str, str]:
    """Write one MP4 per camera path of a rendered scene (``engine.export.video``); returns
    {path relative to ``root``: sha256}."""
    written = {}
    for p in out.scene.paths:
        rel = video_name(out.scene.scene_id, p["id"])
        write_mp4([out.frames[v].rgb for v in p["view_ids"]], root / rel, p["fps"])
        written[rel] = sha256_file(root / rel)
    return written


def run_shard(job: JobSpec, shard_index: int, stages: SceneStages,
              progress: Callable[[int], None] | None = None) -> dict:
    """Make shard ``shard_index`` into ``job.out`` and return its result:
    ``{"shard", "scenes": [first, end), "rows": {split: n}, "files": {path: sha256},
    "stats": {counter: n}, "scene_errors": [{scene_index, error}], "seconds": {stage: s},
    "leak_entries": {split: [LeakEntry of each row written, in file order]}}`` (the entries feed
    the coordinator's split check, :class:`engine.eval.leaks.LeakTally`, without reading the
    files back).

    Files are written under temporary names and renamed only when the shard is complete; the
    caller records the result in the manifest. ``progress(n)`` is called after each scene.

    A scene whose stages raise (anything but the layout and camera skips, which are counted) is
    left out and listed in ``scene_errors`` (stats ``scene_errors``) when ``on_scene_error`` is
    ``skip``; with ``stop`` (the default) the shard raises :class:`SceneError` naming the scene and
    the seed, and its writers abort (no file). The renderer is rebuilt after a failed scene, so
    the scenes after it do not depend on the failure. Errors while writing always stop the shard.
    """
    cfg, root = job.cfg, job.out
    o = cfg["output"]
    timer = StageTimer()
    files = shard_files(job, shard_index)
    schema = dataset_schema(o["depth"], o["instance_mask"])
    ext = "jpg" if o["image_format"] == "jpeg" else "png"
    ctx = WriterContext(o, schema, ext)
    kinds = [wk for wk in WRITERS if wk.enabled(o)]
    writers = {f"{wk.name}:{s}": wk.make(root, files[f"{wk.name}:{s}"], ctx) for wk in kinds for s in job.split_names()}
    scenes_tmp = scenes_f = None
    if "scenes" in files:
        scenes_tmp = temp_path(root / files["scenes"])
        scenes_tmp.parent.mkdir(parents=True, exist_ok=True)
        scenes_f = open(scenes_tmp, "w", encoding="utf-8")
    clouds: dict[str, object] = {}  # output.point_cloud: final path -> temporary file
    qa_gen = stages.new_qa_generator()
    stats: dict[str, int] = {"scenes": 0}
    scene_errors: list[dict] = []
    rows_per_split = {s: 0 for s in job.split_names()}
    videos: dict[str, str] = {}  # MP4 per camera path (output.video): relative path -> sha256
    scene_range = job.shard_range(shard_index)
    rule = make_rule(cfg["split"])
    leaks: dict[str, list] = {s: [] for s in sorted(job.split_names())}
    try:
        for scene_index in scene_range:
            try:
                result = stages.make_scene(scene_index, qa_gen, timer)
                if not isinstance(result, SceneSkipped):
                    with timer("rows"):
                        scene_json = result.scene.to_json()  # once: every row and the scenes file carry it
                    rows = scene_rows(cfg, result, timer, draw_marks_image, scene_json)
            except (RunFailedError, MemoryError):
                raise
            except Exception as e:
                _scene_failed(job, shard_index, scene_index, e)  # raises unless on_scene_error=skip
                stages.reset_renderer()
                scene_errors.append({"scene_index": scene_index, "error": error_text(e)})
                stats["scene_errors"] = stats.get("scene_errors", 0) + 1
                result = None
            if result is None:
                pass
            elif isinstance(result, SceneSkipped):
                stats[result.reason] = stats.get(result.reason, 0) + 1
            else:
                for k, v in result.stats.items():
                    stats[k] = stats.get(k, 0) + v
                stats["scenes"] += 1
                stats["views"] = stats.get("views", 0) + len(result.scene.views)
                # each row's split (None: dropped by a held-out rule), docs/splits.md
                row_factors = [json.loads(r["factors"]) for r in rows]
                routes, moved = route_scene(rule, job.cfg["seed"], scene_index, cfg["split"]["ratios"], row_factors)
                for k, v in moved.items():
                    stats[k] = stats.get(k, 0) + v
                with timer("check"):  # the leak checker's keys of the rows written (engine/eval/leaks.py)
                    image_digests: dict[int, str] = {}  # the scene's rows share their images' bytes objects
                    for row, split, fac in zip(rows, routes, row_factors):
                        if split is not None:
                            leaks[split].append(leak_entry(rule, split, row, fac, image_digests))
                with timer("write"):
                    for row, split in zip(rows, routes):
                        if split is None:
                            continue
                        for wk in kinds:
                            writers[f"{wk.name}:{split}"].write(row)
                        rows_per_split[split] += 1
                    if scenes_f is not None:
                        scenes_f.write(scene_json + "\n")
                if o.get("point_cloud") and result.frames:
                    with timer("point_cloud"):
                        rel, tmp = write_scene_point_cloud(root, result.scene, result.frames)
                        clouds[rel] = tmp
                if o.get("video"):
                    with timer("write"):
                        videos.update(write_path_videos(root, result))
            if progress is not None:
                progress(1)
        with timer("write"):
            digests: dict[str, str] = {}
            for kind, rel in files.items():
                if kind == "scenes":
                    scenes_f.close()
                    digests[rel] = sha256_file(scenes_tmp)
                    commit(scenes_tmp, root / rel)
                else:
                    digests[rel] = writers[kind].close()
            for rel, tmp in clouds.items():
                digests[rel] = sha256_file(tmp)
                commit(tmp, root / rel)
            digests.update(videos)
    except BaseException:
        for w in writers.values():
            try:
                w.abort()
            except Exception:
                pass
        if scenes_f is not None:
            scenes_f.close()
            scenes_tmp.unlink(missing_ok=True)
        for tmp in clouds.values():
            tmp.unlink(missing_ok=True)
        for rel in videos:
            (root / rel).unlink(missing_ok=True)
        raise
    stats["rows"] = sum(rows_per_split.values())
    return {"shard": shard_index, "scenes": [scene_range.start, scene_range.stop], "rows": rows_per_split,
            "files": digests, "stats": dict(sorted(stats.items())), "scene_errors": scene_errors,
            "seconds": timer.seconds, "leak_entries": leaks}


def _scene_failed(job: JobSpec, shard_index: int, scene_index: int, e: Exception) -> None:
    """Report a scene whose stages raised: raise :class:`SceneError` (``on_scene_error=stop``),
    else log it (the caller leaves the scene out)."""
    where = (f"scene {scene_index} ({scene_id_of(scene_index)}, seed {job.cfg['seed']}) of shard {shard_index} "
             f"raised {error_text(e)}")
    if job.cfg.get("on_scene_error", "stop") != "skip":
        raise SceneError(f"{where}; shard {shard_index} was not written (complete shards are kept, so rerunning "
                         "resumes); fix: correct the cause and rerun, or pass on_scene_error=skip to leave failing "
                         "scenes out (listed under scene_errors in manifest.json)", shard_index, scene_index) from e
    log.warning("%s; on_scene_error=skip: the scene is left out (manifest.json lists it under scene_errors)", where,
                exc_info=e)
