"""Shared-memory blocks that a DataLoader worker reuses for the batches it sends.

A batch collated in a DataLoader worker must reach the training process in shared memory. torch's
own way (``default_collate``) makes a fresh shared-memory file per batch: the kernel zero-fills
every page the worker writes, and the file is unmapped again once the training process drops the
batch. Each worker here keeps a few blocks (``memfd`` files mapped once) and writes each batch
into one that is free, so steady-state batches fault in no new pages.

A block is free when neither process still holds a tensor of the batch it carried:

- in the training process the batch's tensors are views of one storage over that process's own
  mapping of the block (:class:`_Lease`, made for this batch); when the last of them is gone (the batch, any slice of it kept by
  the user) torch drops the mapping object, whose finaliser clears the block's *held* byte that
  this batch's pickling set (one byte per pickling, so a batch sent twice holds its block until
  both copies are gone);
- in the worker, a weak reference to the storage its own tensors of the batch view says whether
  any is still alive.

A batch that is never sent leaves its block free once the worker drops it; a batch that is sent
and never rebuilt (the DataLoader shut down with batches in flight) keeps its block held. When
all :data:`MAX_BLOCKS` blocks are held (a consumer that keeps many batches) the worker falls back to
a fresh shared block per batch (torch's way): memory, never correctness. A worker's blocks take
up to :data:`MAX_BLOCKS` times its largest batch (at 256x256, batches of 16 with two-view rows:
16 x 2 x 196,608 bytes = 6.3 MB a block, 38 MB at most).

A batch crosses the process boundary as :class:`PooledBatch` (a ``dict``): its pickle carries the
non-tensor fields, the tensors' places in the block and the block's file descriptor
(``multiprocessing.reduction.DupFd``, as torch passes a shared storage's), and the training
process rebuilds a plain ``dict`` of the same keys, in the same order, with the same tensors.
"""

from __future__ import annotations

import math
import mmap
import os
from multiprocessing.reduction import DupFd

import torch
from torch.multiprocessing.reductions import StorageWeakRef

HEADER = 64  # bytes before a block's payload: one held byte per pickling of its current batch
ALIGN = 64  # bytes: where each tensor of a batch starts in the payload
FREE, HELD = 0, 1
MAX_BLOCKS = 6  # per worker: a batch being collated, the DataLoader's prefetched ones, the one in use


class _Lease(mmap.mmap):
    """The training process's mapping of a block for one batch; when torch lets the batch's storage
    go (its last tensor or view is gone) this object is finalised and clears its held byte."""

    slot: int
    pid: int  # the process that mapped it: a forked child's copy of the object must not free the block

    def __del__(self):
        try:
            if not self.closed and self.pid == os.getpid():
                self[self.slot] = FREE
        except (ValueError, TypeError, AttributeError):  # interpreter shutdown: the worker is gone anyway
            pass


class _Block:
    """One shared-memory file of the worker, mapped once, with ``capacity`` payload bytes."""

    def __init__(self, capacity: int):
        self.capacity = int(capacity)
        self.fd = os.memfd_create("spatialforge-batch", os.MFD_CLOEXEC)
        try:
            os.ftruncate(self.fd, HEADER + self.capacity)
            self.map = mmap.mmap(self.fd, HEADER + self.capacity)
        except OSError:
            os.close(self.fd)
            raise
        self.worker_ref: StorageWeakRef | None = None  # the storage of the worker's tensors of the last batch

    def free(self) -> bool:
        """Whether no process holds a tensor of the last batch this block carried."""
        return (self.worker_ref is None or self.worker_ref.expired()) and not any(self.map[:HEADER])

    def close(self) -> None:
        self.map.close()
        os.close(self.fd)


class BlockPool:
    """The blocks of one worker process (:func:`pool` gives the calling process its own)."""

    def __init__(self, max_blocks: int = MAX_BLOCKS):
        self.max_blocks = max_blocks
        self.blocks: list[_Block] = []

    def take(self, nbytes: int) -> _Block | None:
        """A free block of at least ``nbytes`` payload bytes; None when all ``max_blocks`` are held
        or no block can be made (the caller then uses a fresh shared block)."""
        free = [b for b in self.blocks if b.free()]
        fits = [b for b in free if b.capacity >= nbytes]
        if fits:
            block = min(fits, key=lambda b: b.capacity)
        else:
            if len(self.blocks) >= self.max_blocks:
                if not free:
                    return None
                small = free[0]  # too small for this batch: replace it
                self.blocks.remove(small)
                small.close()
            try:
                block = _Block(max([nbytes, *(b.capacity for b in self.blocks)]))
            except (OSError, AttributeError):  # no memfd here (not Linux), or out of descriptors or memory
                return None
            self.blocks.append(block)
        return block


_POOL: tuple[int, BlockPool] | None = None


def pool() -> BlockPool:
    """This process's block pool (a forked child makes its own; it never writes its parent's blocks)."""
    global _POOL
    if _POOL is None or _POOL[0] != os.getpid():
        _POOL = (os.getpid(), BlockPool())
    return _POOL[1]


def layout(specs: list[tuple[str, tuple[int, ...], torch.dtype]]) -> tuple[list[int], int]:
    """Byte offsets of tensors ``(name, shape, dtype)`` packed in one payload (each at a multiple
    of :data:`ALIGN`), and the payload's size in bytes."""
    offsets, total = [], 0
    for _, shape, dtype in specs:
        total = -(-total // ALIGN) * ALIGN
        offsets.append(total)
        total += math.prod(shape) * dtype.itemsize
    return offsets, max(total, 1)


def _views(base: torch.Tensor, specs, offsets) -> dict[str, torch.Tensor]:
    """The tensors ``specs`` at ``offsets`` of the uint8 payload ``base``."""
    out = {}
    for (name, shape, dtype), off in zip(specs, offsets):
        n = math.prod(shape) * dtype.itemsize
        out[name] = base[off:off + n].view(dtype).view(shape)
    return out


class PooledBatch(dict):
    """A batch whose tensors live in a pooled block (made in a DataLoader worker by
    :func:`batch_tensors`); unpickled, it is a plain ``dict`` with tensors over the same block."""

    block: _Block
    views: dict[str, torch.Tensor]  # the block's tensors as made; a field replaced since is pickled as itself
    specs: list
    offsets: list
    sends: int = 0

    def __reduce__(self):
        if self.sends >= HEADER:
            raise RuntimeError(f"PooledBatch: pickled {HEADER} times; fix: send a batch once (copy it to send more)")
        slot, self.sends = self.sends, self.sends + 1
        self.block.map[slot] = HELD  # before the pickle leaves: the block stays held until its lease goes
        kept = [i for i, (name, _, _) in enumerate(self.specs) if self.get(name) is self.views[name]]
        names = {self.specs[i][0] for i in kept}
        fields = [(k, None if k in names else v) for k, v in self.items()]
        return (_rebuild, (fields, [self.specs[i] for i in kept], [self.offsets[i] for i in kept],
                           DupFd(self.block.fd), HEADER + self.block.capacity, slot))


def _rebuild(fields: list, specs: list, offsets: list, dupfd, length: int, slot: int) -> dict:
    """The training process's side of :class:`PooledBatch`: map the block and view its tensors."""
    fd = dupfd.detach()
    try:
        lease = _Lease(fd, length)
    finally:
        os.close(fd)
    lease.slot, lease.pid = slot, os.getpid()
    base = torch.frombuffer(lease, dtype=torch.uint8, offset=HEADER)  # holds ``lease`` while any view lives
    del lease
    tensors = _views(base, specs, offsets)
    return {k: tensors[k] if k in tensors else v for k, v in fields}


def batch_tensors(specs: list[tuple[str, tuple[int, ...], torch.dtype]]) -> tuple[PooledBatch | dict, bool]:
    """Tensors ``(name, shape, dtype)`` for a batch collated in a DataLoader worker, views into one
    shared block: a pooled one (returned in a :class:`PooledBatch`, contents left over from an
    earlier batch) or, when every pooled block is held, a fresh one (a plain ``dict``, all zeros).
    The bool says whether the tensors are zeros."""
    offsets, nbytes = layout(specs)
    block = pool().take(nbytes)
    if block is None:
        storage = torch.UntypedStorage._new_shared(nbytes)
        base = torch.empty(0, dtype=torch.uint8).set_(storage, 0, (nbytes,))
        return _views(base, specs, offsets), True
    base = torch.frombuffer(block.map, dtype=torch.uint8, offset=HEADER, count=nbytes)
    block.worker_ref = StorageWeakRef(base.untyped_storage())
    views = _views(base, specs, offsets)
    out = PooledBatch(views)
    out.block, out.views, out.specs, out.offsets = block, dict(views), specs, offsets
    return out, False
