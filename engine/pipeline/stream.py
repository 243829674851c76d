"""Online generation: QA samples made on the fly from a job config, without writing a dataset.

The stream runs the offline pipeline's own per-scene code (``SceneStages.make_scene`` and
``shard.scene_rows``) over *blocks* of ``output.scenes_per_shard`` scenes: block ``b`` is scenes
``[b*S, (b+1)*S)`` with a fresh QA generator (answer balancing runs per block, as per shard
offline). So block ``b`` yields exactly the rows of shard ``b`` of ``spatialforge generate`` with
the same config (same ids, questions, answers, factors; images as arrays instead of JPEG/PNG).

Consumer ``g`` of ``G`` (a DataLoader worker of a rank: ``g = rank * num_workers + worker``,
``G = world_size * num_workers``) takes blocks ``g, g + G, g + 2G, ...``: the consumers' streams
are disjoint, each is a pure function of (config, g, G), and their union is the same set of
samples for any ``G``. This module needs no torch; :mod:`engine.pipeline.torch_stream` wraps it
as a ``torch.utils.data.IterableDataset``; :func:`hf_stream` gives it as a ``datasets.IterableDataset``.

A sample (``dict``): every field of a dataset row (docs/record.md; ``value``, ``marks``, ``meta``
and ``factors`` as JSON text) with ``images`` a list of (H, W, 3) uint8 RGB arrays in
``view_ids`` order (marked copies where the question names objects by number), ``depths`` a
list of (H, W) float32 camera-frame z in metres (0: nothing hit) when ``output.depth``,
``instance_masks`` a list of (H, W) int32 instance ids when ``output.instance_mask``, plus
``scene_index`` (int) and ``split`` (the split the offline pipeline routes the row to).
``scene`` (the scene record JSON, tens of KB) is kept only with ``scene_json=True`` (and only
then is it made).

The arrays are shared, not copied: every sample of a view holds that view's frame arrays (and
every sample with the same marks request one marked copy), so treat them as read-only (copy
before editing in place). :mod:`engine.pipeline.torch_stream` shares its tensors the same way.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from collections.abc import Iterable, Iterator

import numpy as np

from engine.export.marks import draw_marks_image
from engine.pipeline.config import MAX_SCENES, JobSpec, load_job
from engine.pipeline.shard import RowImages, SceneError, error_text, scene_rows
from engine.pipeline.splits import make_rule, route_scene
from engine.pipeline.stages import SceneSkipped, SceneStages, scene_id_of
from engine.pipeline.timing import StageTimer
from engine.render.context import forked_after_render
from engine.schema import ConfigError

log = logging.getLogger("spatialforge")

# One SceneStages (so one renderer and GL context) per process and config, made in the process
# that iterates: a DataLoader worker makes its own, the parent none. Keyed by pid too, so a worker
# forked from a parent that iterated itself (num_workers=0 first) never reuses the parent's context;
# such a worker refuses to render (engine.render.context.forked_after_render).
_STAGES: dict[tuple[int, str], SceneStages] = {}


def process_stages(job: JobSpec) -> SceneStages:
    """The :class:`SceneStages` of this process for ``job``, created on first use."""
    key = (os.getpid(), job.config_hash)
    st = _STAGES.get(key)
    if st is None:
        if forked_after_render():
            raise RuntimeError(
                "SampleStream: this process was forked from one that had rendered (a DataLoader worker started "
                "with 'fork' after the parent iterated the stream or rendered); Mesa's GL state does not survive "
                "a fork and the worker can hang; fix: DataLoader(..., multiprocessing_context='spawn') (or "
                "'forkserver'), or render nothing in the parent before the workers start (docs/streaming.md)")
        st = _STAGES[key] = SceneStages(job.cfg, job.config_hash)
    return st


class ArrayImages(RowImages):
    """Row images as arrays: RGB (H, W, 3) uint8 (marked copies drawn as offline), depth (H, W)
    float32 metres, instance ids (H, W) int32; nothing is encoded."""

    def _rgb(self, img) -> np.ndarray:
        return np.asarray(img, dtype=np.uint8)

    def _plain(self, vid: str) -> np.ndarray:
        return self._rgb(self.out.frames[vid].rgb)  # the frame's own array, never a PIL round trip

    def depths(self, view_ids: list[str]) -> list[np.ndarray] | None:
        if not self.o["depth"]:
            return None
        return [np.asarray(self.out.frames[v].depth, dtype=np.float32) for v in view_ids if v in self.out.frames]

    def masks(self, view_ids: list[str]) -> list[np.ndarray] | None:
        if not self.o["instance_mask"]:
            return None
        return [np.asarray(self.out.frames[v].ids, dtype=np.int32) for v in view_ids if v in self.out.frames]


def _unwrap(images: list | None) -> list | None:
    """Row image entries ({"bytes": array, "path": None}) -> the arrays."""
    return None if images is None else [d["bytes"] for d in images]


def shuffled(items: Iterable, size: int, rng: np.random.Generator) -> Iterator:
    """``items`` in a buffer-shuffled order: the first ``size`` fill a buffer; each later item
    takes the place of a uniformly drawn one, which is yielded; at the end the buffer is yielded in
    a random order. The same items, each once; none comes out more than ``size - 1`` places
    before its own position, and any number after it. ``size`` <= 1 yields ``items`` unchanged and
    draws nothing."""
    if size <= 1:
        yield from items
        return
    buf: list = []
    for x in items:
        if len(buf) < size:
            buf.append(x)
            continue
        j = int(rng.integers(size))
        yield buf[j]
        buf[j] = x
    for j in rng.permutation(len(buf)):
        yield buf[j]


def shuffle_rng(seed: int, consumer: int, consumers: int) -> np.random.Generator:
    """The shuffle buffer's generator of consumer ``consumer`` of ``consumers`` for job seed ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        [int(seed), int(consumer), int(consumers), zlib.crc32(b"shuffle_buffer")])))


class SampleStream:
    """Samples of a job, generated on demand (see the module docstring for the fields).

    Args:
        job: a validated job (``load_job(overrides)``); ``num_scenes`` bounds the stream.
        split: keep only rows the offline pipeline routes to this split (None: every row).
        infinite: ignore ``num_scenes`` and run to the largest scene index (10**9 - 1).
        scene_json: keep the ``scene`` field (the scene record as JSON text).
        shuffle_buffer: shuffle each consumer's samples through a buffer of this many (0: the
            offline rows' order, scene by scene; see :func:`shuffled`), drawn from a generator of
            (seed, consumer, consumers): the same order on every run.
    """

    def __init__(self, job: JobSpec, split: str | None = None, infinite: bool = False, scene_json: bool = False,
                 shuffle_buffer: int = 0):
        if not isinstance(job, JobSpec):
            raise ConfigError(f"SampleStream: job is a {type(job).__name__}, not a JobSpec; fix: "
                              "SampleStream.from_overrides([...]) for Hydra override strings, or "
                              "SampleStream(load_job([...]))")
        if split is not None and split not in job.split_names():
            raise ConfigError(f"split: {split!r} is not a split of this config (splits with a positive ratio: "
                              f"{', '.join(job.split_names())}); fix: pass one of them, or split=None for every row")
        if isinstance(shuffle_buffer, bool) or not isinstance(shuffle_buffer, (int, np.integer)) or shuffle_buffer < 0:
            raise ConfigError(f"shuffle_buffer: {shuffle_buffer!r} is not a non-negative integer; fix: pass 0 (no "
                              "shuffling) or the number of samples to hold, e.g. 1000")
        self.shuffle_buffer = int(shuffle_buffer)
        self.job = job
        self.split = split
        self.infinite = bool(infinite)
        self.scene_json = bool(scene_json)
        self.timer = StageTimer()  # per-stage seconds of this process's iteration

    @classmethod
    def from_overrides(cls, overrides: list[str] | None = None, **kw) -> "SampleStream":
        """Compose and validate a job from Hydra override strings (as ``spatialforge generate``)."""
        return cls(load_job(list(overrides or [])), **kw)

    @property
    def block_size(self) -> int:
        """Scenes per block (``output.scenes_per_shard``)."""
        return self.job.scenes_per_shard

    @property
    def num_scenes(self) -> int:
        return MAX_SCENES if self.infinite else self.job.num_scenes

    @property
    def num_blocks(self) -> int:
        return -(-self.num_scenes // self.block_size)

    def blocks(self, consumer: int = 0, consumers: int = 1) -> range:
        """Block indices of consumer ``consumer`` of ``consumers``: ``consumer, consumer + consumers, ...``."""
        if not (consumers >= 1 and 0 <= consumer < consumers):
            raise ValueError(f"consumer {consumer} of {consumers}: need 0 <= consumer < consumers")
        return range(consumer, self.num_blocks, consumers)

    def block_scenes(self, block: int) -> range:
        """Scene indices of block ``block``."""
        s = self.block_size
        return range(block * s, min((block + 1) * s, self.num_scenes))

    def samples(self, consumer: int = 0, consumers: int = 1) -> Iterator[dict]:
        """Consumer ``consumer``'s samples, block by block (through the shuffle buffer, if any)."""
        return self.shuffle(self.ordered_samples(consumer, consumers), consumer, consumers)

    def ordered_samples(self, consumer: int = 0, consumers: int = 1) -> Iterator[dict]:
        """Consumer ``consumer``'s samples in the offline rows' order: block by block, scene by scene."""
        for b in self.blocks(consumer, consumers):
            yield from self.block_samples(b)

    def shuffle(self, items: Iterable, consumer: int, consumers: int) -> Iterator:
        """``items`` (this consumer's samples, or anything made from them one to one) through this
        stream's shuffle buffer: the same order for the same (seed, consumer, consumers)."""
        rng = shuffle_rng(self.job.cfg["seed"], consumer, consumers)
        return shuffled(items, self.shuffle_buffer, rng)

    def block_samples(self, block: int) -> Iterator[dict]:
        """The samples of block ``block`` (the rows of shard ``block`` offline), scene by scene."""
        cfg = self.job.cfg
        stages = process_stages(self.job)
        qa_gen = stages.new_qa_generator()
        rule = make_rule(cfg["split"])
        for scene_index in self.block_scenes(block):
            try:
                result = stages.make_scene(scene_index, qa_gen, self.timer)
                if isinstance(result, SceneSkipped):
                    continue
                scene_json = None  # the rows' ``scene`` field, dropped by _sample unless asked for
                if self.scene_json:
                    with self.timer("rows"):
                        scene_json = result.scene.to_json()
                rows = scene_rows(cfg, result, self.timer, draw_marks_image, scene_json, images=ArrayImages)
            except MemoryError:
                raise
            except Exception as e:
                self._scene_failed(stages, scene_index, e)
                continue
            routes, _ = route_scene(rule, cfg["seed"], scene_index, cfg["split"]["ratios"],
                                    [json.loads(r["factors"]) for r in rows])
            for row, split in zip(rows, routes):
                if split is None or (self.split is not None and split != self.split):
                    continue
                yield self._sample(row, scene_index, split)

    def _sample(self, row: dict, scene_index: int, split: str) -> dict:
        s = dict(row)
        s["images"] = _unwrap(row["images"])
        for k in ("depths", "instance_masks"):
            if k in s:
                s[k] = _unwrap(row[k])
        if not self.scene_json:
            s.pop("scene", None)
        s["scene_index"] = scene_index
        s["split"] = split
        return s

    def _scene_failed(self, stages: SceneStages, scene_index: int, e: Exception) -> None:
        """As offline: raise (``on_scene_error=stop``) or log, rebuild the renderer and go on."""
        where = f"scene {scene_index} ({scene_id_of(scene_index)}, seed {self.job.cfg['seed']}) raised {error_text(e)}"
        if self.job.cfg.get("on_scene_error", "stop") != "skip":
            raise SceneError(f"stream: {where}; fix: correct the cause, or pass on_scene_error=skip to leave "
                             "failing scenes out of the stream", None, scene_index) from e
        log.warning("stream: %s; on_scene_error=skip: the scene is left out", where)
        stages.reset_renderer()


def _hf_samples(job: JobSpec, blocks: list[int], split: str | None, scene_json: bool):
    """Generator behind :func:`hf_stream`: the samples of ``blocks`` (numpy arrays)."""
    stream = SampleStream(job, split=split, scene_json=scene_json)
    for b in blocks:
        yield from stream.block_samples(b)


def hf_stream(overrides: list[str] | None = None, *, job: JobSpec | None = None, split: str | None = None,
              scene_json: bool = False):
    """The same samples as a ``datasets.IterableDataset`` (``IterableDataset.from_generator``; the
    fields of :mod:`engine.pipeline.stream`, images as numpy arrays). Its shards are the blocks of
    scenes, so ``datasets`` hands each DataLoader worker a disjoint, contiguous share of them
    (``ds.n_shards`` = number of blocks); the union is the torch stream's set of samples. Needs a
    finite ``num_scenes``."""
    import datasets

    job = job if job is not None else load_job(list(overrides or []))
    nblocks = SampleStream(job).num_blocks
    return datasets.IterableDataset.from_generator(
        _hf_samples, gen_kwargs={"job": job, "blocks": list(range(nblocks)), "split": split, "scene_json": scene_json})
