"""Reused shared-memory blocks for the batches of DataLoader workers (engine/pipeline/batch_blocks.py):
a block is written again only when neither process holds a tensor of the batch it carried, so every
batch the training process keeps (or a slice of it) keeps its values; reused blocks carry the right
padding; and blocks are in fact reused."""

from __future__ import annotations

import gc
import pickle
from multiprocessing.reduction import ForkingPickler

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch.utils.data import DataLoader, IterableDataset  # noqa: E402

from engine.pipeline.batch_blocks import MAX_BLOCKS, PooledBatch, batch_tensors, pool  # noqa: E402
from engine.pipeline.torch_stream import collate_samples  # noqa: E402

RES = 8
BATCH = 4


def sample(i: int) -> dict:
    """Sample ``i``: 0, 1 or 2 views of pixels drawn from ``i`` (so a batch's padding slots fall
    where an earlier batch of the same block had pixels)."""
    v = (0, 2, 1, 1, 2)[i % 5]
    px = np.random.default_rng(i).integers(1, 256, (v, 3, RES, RES), dtype=np.uint8)
    return {"images": torch.from_numpy(px) if v else torch.zeros((0, 3, 0, 0), dtype=torch.uint8),
            "question": f"question {i}", "id": str(i)}


class Samples(IterableDataset):
    def __init__(self, n: int):
        self.n = n

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        w, k = (info.id, info.num_workers) if info is not None else (0, 1)
        for b in range(w, -(-self.n // BATCH), k):  # whole batches per worker: a batch's samples are known
            yield from (sample(i) for i in range(b * BATCH, min((b + 1) * BATCH, self.n)))


def tagged_collate(batch: list[dict]) -> dict:
    """collate_samples, plus which pooled block carried the batch (None: a fresh block)."""
    out = collate_samples(batch)
    out["block"] = [id(out.block) if isinstance(out, PooledBatch) else None]
    return out


def replace_mask(batch: list[dict]) -> dict:
    """collate_samples with ``view_mask`` replaced in the worker (it travels as itself)."""
    out = collate_samples(batch)
    out["view_mask"] = torch.ones_like(out["view_mask"])
    return out


def expected(first: int) -> dict:
    return collate_samples([sample(i) for i in range(first, first + BATCH)])


def same(got: dict, want: dict) -> bool:
    return all(torch.equal(got[k], want[k]) for k in ("images", "view_mask", "num_views")) and \
        got["id"] == want["id"] and got["question"] == want["question"]


def test_blocks_reused_only_when_free():
    n = 240
    loader = DataLoader(Samples(n), batch_size=BATCH, num_workers=2, collate_fn=tagged_collate,
                        multiprocessing_context="spawn")
    kept, slices, blocks = [], [], []
    for step, b in enumerate(loader):
        first = int(b["id"][0])
        assert same(b, expected(first)), first  # incl. zero padding written into a reused block
        blocks.append(b["block"][0])
        if step % 9 == 0:
            kept.append((first, b))  # the whole batch kept by the training loop
        elif step % 9 == 4:
            slices.append((first, b["images"][1].clone(), b["images"][1]))  # only a view of it kept
    # nothing a held batch or slice shows was overwritten by the workers' later batches
    for first, b in kept:
        assert same(b, expected(first)), first
    for first, copy, view in slices:
        assert torch.equal(view, copy), first
    pooled = [x for x in blocks if x is not None]
    # most batches went through pooled blocks, reused again and again (2 workers' pools)
    assert len(pooled) >= len(blocks) // 2
    assert len(set(pooled)) <= 2 * MAX_BLOCKS < len(pooled)


def test_replaced_field_and_plain_process():
    # outside a DataLoader worker: plain tensors, no pooled block
    assert not isinstance(collate_samples([sample(1), sample(2)]), PooledBatch)

    b = next(iter(DataLoader(Samples(8), batch_size=BATCH, num_workers=1, collate_fn=replace_mask,
                             multiprocessing_context="spawn")))
    want = expected(0)
    assert torch.equal(b["images"], want["images"]) and bool(b["view_mask"].all())
    assert list(b) == list(want)  # the keys in collate_samples' order


def test_pool_in_process():
    """The pool's own rules, in this process: a block is not handed out while a tensor of its
    batch lives here or while a pickled copy of the batch is alive, and is afterwards."""
    p = pool()
    p.blocks.clear()
    out, zeroed = batch_tensors([("a", (10, 10), torch.int64), ("b", (3,), torch.bool)])
    assert isinstance(out, PooledBatch) and not zeroed
    block = out.block
    out["a"][:] = torch.arange(100).view(10, 10)
    out["b"][:] = torch.tensor([True, False, True])
    out["note"] = ["kept as it is"]
    assert not block.free() and p.take(800) is not block  # the worker's own tensors still live
    data = ForkingPickler.dumps(out)  # as the DataLoader's queue pickles a batch
    del out
    assert not block.free()  # a pickled copy on its way holds the block
    back = pickle.loads(data)
    assert type(back) is dict and list(back) == ["a", "b", "note"] and back["note"] == ["kept as it is"]
    assert torch.equal(back["a"], torch.arange(100).view(10, 10)) and back["b"].tolist() == [True, False, True]
    row = back["a"][3]
    del back
    assert not block.free()  # a view of the batch still lives
    del row
    gc.collect()
    assert block.free() and p.take(800) is block  # the smallest free block that fits


def test_no_block_falls_back_to_a_fresh_shared_block(monkeypatch):
    def refuse(*a, **k):
        raise OSError(24, "Too many open files")

    p = pool()
    p.blocks.clear()
    monkeypatch.setattr("os.memfd_create", refuse)
    out, zeroed = batch_tensors([("a", (4, 4), torch.int32)])
    assert not isinstance(out, PooledBatch) and zeroed and not out["a"].any()
    assert out["a"].untyped_storage().is_shared()  # torch's own shared block: it still crosses processes
