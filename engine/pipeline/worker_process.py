"""Process settings for the processes that make data: a DataLoader worker of
:class:`engine.pipeline.torch_stream.SpatialStream`, a worker of the offline pipeline (a local
pool worker, a Ray task's process) and the ``spatialforge generate`` / ``demo`` / ``ask``
process itself (the heap pad only, :func:`pad_heap`); never a process that merely calls the
library (``generate(job)``, the stream with ``num_workers=0``).

A DataLoader worker is forked from the training process and inherits its objects and its malloc
heap. Measured on the stream (60 scenes, 120 views at 256x256, one worker, ``getrusage`` inside
the worker): past its first scene the worker took about 720 page faults per view outside
``collate_samples``, against about 45 for the same stream iterated in the training process: glibc
trimmed the top of the worker's heap whenever a scene's large temporaries were freed, and the next
scene faulted fresh zeroed pages in again. With a pad kept at the top of the heap it takes about
110, and its page faults over the run (collate included) fall from 175,000 to 89,000. On two cores
that share memory bandwidth, fewer freshly zeroed pages also leave more of it to the other worker.
Freezing the inherited objects keeps the garbage collector from walking the parent's heap, whose
pages the worker would otherwise copy as it touches them (faults to the first sample: 31,000 ->
18,000).

The offline pipeline's processes had the same trimming: 200 scenes at 256x256 took 357,000 page
faults in one process and 436,000 in two pool workers; with the pad 99,000 and 149,000, and 4-5%
less CPU per view (58.1 -> 55.3 ms in one process, 76.5 / 79.2 -> 73.7 / 75.8 ms with two
workers, start-up included; the pad set through ``MALLOC_TOP_PAD_`` for that measurement).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os

M_TOP_PAD = -2  # glibc mallopt parameter (malloc.h)
TOP_PAD_BYTES = 64 << 20  # free bytes glibc keeps at the top of the heap when it grows or trims

_TUNED_PID: int | None = None  # the process tune_data_worker ran in
_PAD_PID: int | None = None  # the process pad_heap ran in
_TOP_PAD_SET = False  # whether glibc took M_TOP_PAD there


def _mallopt(param: int, value: int) -> bool:
    """glibc ``mallopt(param, value)``; False where the C library has none (not glibc) or refuses."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        fn = getattr(libc, "mallopt", None)
        return bool(fn is not None and fn(ctypes.c_int(param), ctypes.c_int(value)) == 1)
    except OSError:
        return False


def pad_heap() -> bool:
    """Set glibc's ``M_TOP_PAD`` to 64 MB in this process: the heap grows by at least that much and
    keeps that much free at its top when it trims (about 64 MB more resident memory at most).
    Returns whether glibc took it (False on a C library without ``mallopt``)."""
    global _TOP_PAD_SET, _PAD_PID
    _TOP_PAD_SET = _mallopt(M_TOP_PAD, TOP_PAD_BYTES)
    _PAD_PID = os.getpid()
    return _TOP_PAD_SET


def tune_data_worker() -> bool:
    """Apply the data-worker settings to this process, once per process (call it from code that
    runs only in a worker, never in the user's process): ``gc.freeze()`` of the objects alive now
    (those inherited from the parent), and :func:`pad_heap`. Returns True when this call applied
    them, False when this process already had them."""
    global _TUNED_PID
    if _TUNED_PID == os.getpid():
        return False
    _TUNED_PID = os.getpid()
    gc.freeze()
    pad_heap()
    return True


def data_worker_tuned() -> dict:
    """What :func:`tune_data_worker` and :func:`pad_heap` did in this process: ``{"tuned": bool,
    "top_pad": bool (glibc took M_TOP_PAD), "frozen": gc.get_freeze_count()}``. ``tuned`` and
    ``top_pad`` are this process's own (a child forked from a tuned process reports False and
    tunes itself on its own call)."""
    pid = os.getpid()
    return {"tuned": _TUNED_PID == pid, "top_pad": _PAD_PID == pid and _TOP_PAD_SET, "frozen": gc.get_freeze_count()}
