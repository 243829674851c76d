"""Atomic file writes: write a temporary file in the same folder, fsync, then os.replace.

Used by every stage that writes files (pipeline shards and manifest, exporters, plots), so a
crash never leaves a half-written file under a final name.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

TMP_PREFIX = ".tmp-"


def temp_path(path: str | Path) -> Path:
    """A unique temporary name beside ``path`` (same folder, so os.replace is atomic)."""
    p = Path(path)
    return p.with_name(f"{TMP_PREFIX}{os.getpid()}-{p.name}")


def atomic_write_bytes(path: str | Path, data: bytes, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (readers see the old file or the new one). ``fsync``
    False skips flushing to the disk (still atomic; for many small files that can be remade)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(p)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """UTF-8 text version of :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save_png(image, path: str | Path) -> Path:
    """Write a PIL image as PNG to ``path`` atomically (parent folders made); returns the path."""
    import io

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
    return path


def commit(tmp: str | Path, path: str | Path) -> None:
    """fsync a finished temporary file and rename it to its final name."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def remove_stale_temps(root: str | Path) -> int:
    """Delete temporary files left by a killed run under ``root``; return how many."""
    n = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith(TMP_PREFIX):
                os.remove(os.path.join(dirpath, name))
                n += 1
    return n
