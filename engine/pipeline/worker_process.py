"""Process settings for a data worker: a process that only makes samples (a DataLoader worker of
:class:`engine.pipeline.torch_stream.SpatialStream`), never the user's own process.

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
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os

M_TOP_PAD = -2  # glibc mallopt parameter (malloc.h)
TOP_PAD_BYTES = 64 << 20  # free bytes glibc keeps at the top of the heap when it grows or trims

_TUNED_PID: int | None = None
_TOP_PAD_SET = False  # whether glibc took M_TOP_PAD in the tuned process


def _mallopt(param: int, value: int) -> bool:
    """glibc ``mallopt(param, value)``; False where the C library has none (not glibc) or refuses."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        fn = getattr(libc, "mallopt", None)
        return bool(fn is not None and fn(ctypes.c_int(param), ctypes.c_int(value)) == 1)
    except OSError:
        return False


def tune_data_worker() -> bool:
    """Apply the data-worker settings to this process, once per process (call it from code that
    runs only in a worker, never in the user's process): ``gc.freeze()`` of the objects alive now
    (those inherited from the parent), and glibc's ``M_TOP_PAD`` at 64 MB (about 64 MB more
    resident memory at most). Returns True when this call applied them, False when this process
    already had them."""
    global _TUNED_PID, _TOP_PAD_SET
    if _TUNED_PID == os.getpid():
        return False
    _TUNED_PID = os.getpid()
    gc.freeze()
    _TOP_PAD_SET = _mallopt(M_TOP_PAD, TOP_PAD_BYTES)
    return True


def data_worker_tuned() -> dict:
    """What :func:`tune_data_worker` did in this process (a forked child inherits none of it):
    ``{"tuned": bool, "top_pad": bool (glibc took M_TOP_PAD), "frozen": gc.get_freeze_count()}``."""
    mine = _TUNED_PID == os.getpid()
    return {"tuned": mine, "top_pad": mine and _TOP_PAD_SET, "frozen": gc.get_freeze_count()}
