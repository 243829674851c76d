"""The output folder's manifest (which shards are complete, with checksums) and its lock.

``manifest.json`` is rewritten atomically after every completed shard. It holds only
deterministic facts (no timings, no dates), so a resumed run ends with the same manifest as an
uninterrupted one.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from engine.export.writers import writer_for_file
from engine.atomic import atomic_write_text, sha256_file

MANIFEST = "manifest.json"
LOCK = ".lock"
FORMAT = 1


class OutputLockedError(RuntimeError):
    """Another run holds the output folder's lock."""


class OutputLock:
    """An exclusive ``fcntl.flock`` on ``<out>/.lock`` for the life of a run (released by the OS
    if the process dies). A second run into the same folder gets OutputLockedError at once."""

    def __init__(self, out: str | Path):
        self.path = Path(out) / LOCK
        self._fd: int | None = None

    def __enter__(self) -> "OutputLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise OutputLockedError(
                f"{self.path.parent} is in use by another spatialforge run (pid {holder} holds {self.path}); "
                "fix: wait for it to finish, or choose another out=") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def new_manifest(config_hash: str, engine_name: str, engine_version: str, num_scenes: int, num_shards: int,
                 scenes_per_shard: int, splits: list[str]) -> dict:
    """An empty manifest for a job."""
    return {"format": FORMAT, "engine": {"name": engine_name, "version": engine_version},
            "config_hash": config_hash, "num_scenes": num_scenes, "num_shards": num_shards,
            "scenes_per_shard": scenes_per_shard, "splits": splits, "shards": {}}


def read_manifest(out: str | Path) -> dict | None:
    """The manifest in ``out``, or None when there is none."""
    p = Path(out) / MANIFEST
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise RuntimeError(f"{p} is not valid JSON ({e}); fix: rerun with overwrite=true to start over") from None


def write_manifest(out: str | Path, manifest: dict) -> None:
    """Atomically write the manifest (sorted keys, shards in index order)."""
    m = dict(manifest)
    m["shards"] = {k: m["shards"][k] for k in sorted(m["shards"])}
    atomic_write_text(Path(out) / MANIFEST, json.dumps(m, indent=1, sort_keys=True) + "\n")


def shard_key(shard_index: int) -> str:
    return f"{shard_index:05d}"


def file_digest(path: Path) -> str:
    """The checksum the manifest records for ``path``: its exporter's digest
    (:data:`engine.export.writers.WRITERS`; LLaVA: over the JSON and its images), else sha256."""
    wk = writer_for_file(path)
    return wk.digest(path) if wk is not None else sha256_file(path)


def shard_complete(out: str | Path, entry: dict | None) -> bool:
    """True when every file of a manifest shard entry exists with the recorded checksum."""
    if not entry:
        return False
    root = Path(out)
    for rel, digest in entry.get("files", {}).items():
        p = root / rel
        try:
            if not p.is_file() or file_digest(p) != digest:
                return False
        except (OSError, ValueError):
            return False
    return True
