"""The sample stream (:mod:`engine.pipeline.stream`) for training: a ``torch.utils.data.IterableDataset``,
and its collate function (the same stream as a ``datasets.IterableDataset``:
:func:`engine.pipeline.stream.hf_stream`).

Needs torch (the optional extra ``stream``: ``pip install 'spatialforge[stream]'``). Importing
torch and rendering in one process works in either order (tests/test_stream.py does both); the GL
context is made lazily in the process that iterates (each DataLoader worker its own, never the
parent when ``num_workers > 0``), see docs/streaming.md.

A torch sample is a stream sample with ``images`` a uint8 tensor (V, 3, H, W) (V views, RGB,
channels first), ``depths`` float32 (V, H, W) metres and ``instance_masks`` int32 (V, H, W) when
the config asks for them; every other field as in the stream. A text-only row (the ``text``
family: no view) has V = 0 (``images`` of shape (0, 3, 0, 0)). :func:`collate_samples` batches
samples with different view counts by zero-padding to the largest V of the batch with a
``view_mask``; :func:`uncollate` inverts it exactly.

Shared tensors: :class:`SpatialStream` makes each view's tensor once per scene and hands the same
tensor to every sample of that view (a view yields about ten samples): samples with the same
``view_ids`` and the same marks share ``images`` (and ``depths``, ``instance_masks``) storage. A
row whose question names objects by number has its own marked image, as before. So treat a
sample's tensors as read-only (copy before an in-place edit: ``s["images"].clone()``); the
batches of :func:`collate_samples` are tensors of their own (collated in a DataLoader worker, a
batch's tensors are views into one shared-memory block, which the worker writes again only once
no process holds a tensor of the batch: :mod:`engine.pipeline.batch_blocks`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from engine.pipeline.batch_blocks import batch_tensors
from engine.pipeline.config import JobSpec, load_job
from engine.pipeline.stream import SampleStream
from engine.pipeline.worker_process import tune_data_worker

TENSOR_FIELDS = ("images", "depths", "instance_masks")  # per view; stacked (V, ...) per sample


def _stack_images(imgs: list[np.ndarray]) -> torch.Tensor:
    """V (H, W, 3) uint8 arrays -> a contiguous (V, 3, H, W) uint8 tensor (V = 0: (0, 3, 0, 0))."""
    if not imgs:
        return torch.zeros((0, 3, 0, 0), dtype=torch.uint8)
    return torch.from_numpy(np.ascontiguousarray(np.stack(imgs).transpose(0, 3, 1, 2)))


def _stack_planes(planes: list[np.ndarray], dtype: torch.dtype) -> torch.Tensor:
    """V (H, W) arrays -> a (V, H, W) tensor of ``dtype`` (V = 0: (0, 0, 0))."""
    return torch.from_numpy(np.stack(planes)) if planes else torch.zeros((0, 0, 0), dtype=dtype)


_PLANES = (("depths", torch.float32), ("instance_masks", torch.int32))


def to_torch(sample: dict, shared: "ViewTensors | None" = None) -> dict:
    """A stream sample with its per-view arrays stacked into tensors: ``images`` (V, 3, H, W)
    uint8, ``depths`` (V, H, W) float32, ``instance_masks`` (V, H, W) int32.

    With ``shared`` (a :class:`ViewTensors` of the sample's scene), samples whose views are the
    same arrays get the same tensors, made once (read-only by convention); without it every call
    makes new ones."""
    s = dict(sample)
    stack = shared.stacked if shared is not None else (lambda kind, arrays, make: make(arrays))
    s["images"] = stack("images", sample["images"], _stack_images)
    for k, dtype in _PLANES:
        if k in s:
            s[k] = stack(k, sample[k], lambda planes, dtype=dtype: _stack_planes(planes, dtype))
    return s


class ViewTensors:
    """The tensors of one scene's views, made once and shared by every sample that shows them.

    The stream hands every row of a view the same numpy arrays (the frame's, or one marked copy per
    marks request: :class:`engine.pipeline.stream.ArrayImages`), so the arrays' identities say which
    samples show the same pixels. :meth:`stacked` keeps the arrays it has seen (their ids stay
    unique while kept) and their stacked tensor; :meth:`for_scene` drops both when the stream
    moves on to another scene.
    """

    def __init__(self):
        self.scene: int | None = None
        self.memo: dict[tuple, tuple[torch.Tensor, list]] = {}

    def for_scene(self, scene_index: int) -> "ViewTensors":
        """This memo, emptied when ``scene_index`` is not the scene it holds."""
        if scene_index != self.scene:
            self.scene, self.memo = scene_index, {}
        return self

    def stacked(self, kind: str, arrays: list[np.ndarray], make) -> torch.Tensor:
        """``make(arrays)``, made on the first call with these very arrays for ``kind`` and reused after."""
        key = (kind, tuple(id(a) for a in arrays))
        hit = self.memo.get(key)
        if hit is None:
            hit = self.memo[key] = (make(arrays), list(arrays))  # the arrays kept alive: their ids stay theirs
        return hit[0]


def consumer_of(worker: int, num_workers: int, rank: int, world_size: int) -> tuple[int, int]:
    """(consumer index, consumers) of DataLoader worker ``worker`` of ``num_workers`` on rank
    ``rank`` of ``world_size``: ``rank * num_workers + worker`` of ``world_size * num_workers``."""
    return rank * num_workers + worker, world_size * num_workers


def _dist_rank() -> tuple[int, int]:
    """(rank, world size) of torch.distributed when it is initialised, else (0, 1)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class SpatialStream(IterableDataset):
    """Fresh QA samples generated on the fly, for ``torch.utils.data.DataLoader``.

    Args:
        overrides: Hydra override strings, as for ``spatialforge generate`` (``num_scenes=...``
            bounds the stream unless ``infinite``), or pass ``job``.
        job: a validated :class:`JobSpec` instead of ``overrides``.
        split, infinite, scene_json, shuffle_buffer: as :class:`engine.pipeline.stream.SampleStream`
            (``shuffle_buffer=1000``, say, mixes about a hundred views' samples; 0 keeps them scene by
            scene, so a batch of 16 shows one or two scenes).
        rank, world_size: this process's place among data-parallel processes (default: from
            ``torch.distributed`` when initialised, else 0 of 1).

    Each DataLoader worker (or the main process with ``num_workers=0``) iterates its own blocks of
    scenes (:meth:`SampleStream.blocks`): no sample twice, the same samples on every run, the same
    set of samples for any worker count.
    """

    def __init__(self, overrides: list[str] | None = None, *, job: JobSpec | None = None, split: str | None = None,
                 infinite: bool = False, scene_json: bool = False, shuffle_buffer: int = 0, rank: int | None = None,
                 world_size: int | None = None):
        super().__init__()
        if (rank is None) != (world_size is None) or (world_size is not None and not 0 <= rank < world_size):
            raise ValueError(f"SpatialStream: rank={rank}, world_size={world_size}; fix: pass both, with "
                             "0 <= rank < world_size, or neither (then torch.distributed decides)")
        job = job if job is not None else load_job(list(overrides or []))
        self.stream = SampleStream(job, split=split, infinite=infinite, scene_json=scene_json,
                                   shuffle_buffer=shuffle_buffer)
        self.rank, self.world_size = rank, world_size

    def consumer(self) -> tuple[int, int]:
        """(consumer index, consumers) of the calling process (DataLoader worker and rank)."""
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        rank, world = _dist_rank() if self.rank is None else (self.rank, self.world_size)
        return consumer_of(worker, workers, rank, world)

    def __iter__(self):
        if get_worker_info() is not None:  # a DataLoader worker: a process of ours alone
            tune_data_worker()
        g, n = self.consumer()
        shared = ViewTensors()
        # tensors made in scene order (a scene's samples share them), then shuffled as the numpy stream
        tensors = (to_torch(s, shared.for_scene(s["scene_index"])) for s in self.stream.ordered_samples(g, n))
        yield from self.stream.shuffle(tensors, g, n)


def _batch_tensors(specs: list[tuple[str, tuple[int, ...], torch.dtype]]) -> tuple[dict[str, torch.Tensor], bool]:
    """CPU tensors for a batch, one per (name, shape, dtype), and whether they are all zeros.

    Inside a DataLoader worker they are views into one shared-memory block, reused from batch to
    batch once the training process has let go of the batch it carried
    (:mod:`engine.pipeline.batch_blocks`): sending the batch copies nothing and passes one file
    descriptor, and steady-state batches fault in no new pages. Elsewhere they are uninitialised
    (``torch.empty``)."""
    if get_worker_info() is None:
        return {name: torch.empty(shape, dtype=dtype) for name, shape, dtype in specs}, False
    return batch_tensors(specs)


def collate_samples(batch: list[dict]) -> dict:
    """Batch torch samples that may have different view counts.

    Returns ``images`` (B, Vmax, 3, H, W) uint8 (views past a sample's own count are zeros),
    ``view_mask`` (B, Vmax) bool (True for real views), ``num_views`` (B,) int64, ``depths`` /
    ``instance_masks`` padded the same way when present, and every other field as a list of B
    values. Views must share one image size across the batch (a ValueError says which differ).
    """
    if not batch:
        raise ValueError("collate_samples: empty batch")
    nv = [int(s["images"].shape[0]) for s in batch]
    vmax, B = max(nv), len(batch)
    specs = [("num_views", (B,), torch.int64), ("view_mask", (B, vmax), torch.bool)]
    for k in TENSOR_FIELDS:
        if k not in batch[0]:
            continue
        shapes = {tuple(s[k].shape[1:]) for s in batch if s[k].shape[0] > 0}
        if not shapes:  # no sample of the batch has a view
            shapes = {tuple(batch[0][k].shape[1:])}
        if len(shapes) != 1:
            raise ValueError(f"collate_samples: {k} of different sizes in one batch {sorted(shapes)}; fix: one "
                             "camera.width/height per stream, or batch_size=1")
        specs.append((k, (B, vmax, *shapes.pop()), batch[0][k].dtype))
    out, zeroed = _batch_tensors(specs)
    # numpy copies: one thread, no intra-op pool spinning in the training process
    out["num_views"].numpy()[:] = nv
    out["view_mask"].numpy()[:] = np.arange(vmax) < np.asarray(nv)[:, None]
    for k in TENSOR_FIELDS:
        if k not in out:
            continue
        a = out[k].numpy()
        for i, s in enumerate(batch):
            if nv[i]:
                a[i, : nv[i]] = s[k].numpy()
            if nv[i] < vmax and not zeroed:
                a[i, nv[i]:] = 0
    for k in batch[0]:
        if k not in TENSOR_FIELDS:
            out[k] = [s[k] for s in batch]
    return out


def uncollate(batch: dict) -> list[dict]:
    """The samples of a :func:`collate_samples` batch, each with its own V views (padding removed)."""
    nv = batch["num_views"].tolist()
    samples = []
    for i, n in enumerate(nv):
        s = {}
        for k, v in batch.items():
            if k in ("num_views", "view_mask"):
                continue
            if k in TENSOR_FIELDS:  # a sample without views: the (0, 3, 0, 0) / (0, 0, 0) of to_torch
                s[k] = v[i, :n] if n else v.new_zeros((0, 3, 0, 0) if k == "images" else (0, 0, 0))
            else:
                s[k] = v[i]
        samples.append(s)
    return samples
