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

import engine
from engine.atomic import atomic_write_text, sha256_file
from engine.export.writers import writer_for_file
from engine.schema import ConfigError

MANIFEST = "manifest.json"
LOCK = ".lock"
FORMAT = 1


class OutputLockedError(RuntimeError):
    """Another run holds the output folder's lock."""


class ManifestError(ConfigError):
    """``manifest.json`` is unreadable or not a manifest; the message says what to do."""


class OutputLock:
    """An exclusive ``fcntl.flock`` on ``<out>/.lock`` for the life of a run (released by the OS
    if the process dies). A second run into the same folder gets OutputLockedError at once."""

    def __init__(self, out: str | Path):
        self.path = Path(out) / LOCK
        self._fd: int | None = None

    def __enter__(self) -> "OutputLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise OutputLockedError(
                    f"{self.path.parent} is in use by another spatialforge run (pid {holder} holds {self.path}); "
                    "fix: wait for it to finish, or choose another out=") from None
            try:  # a run that finished unlinks its lock: hold the file that is at the path now
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        """Remove the lock file, then release it (a run waiting on the old file retries)."""
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
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
    """The manifest of ``out``; None when there is none. Raises ManifestError naming the file and
    the fix when it is truncated, not JSON or not a SpatialForge manifest."""
    p = Path(out) / MANIFEST
    if not p.is_file():
        if p.exists():
            raise ManifestError(f"out: {p} is not a file; fix: choose another out=")
        return None
    fix = ("fix: rerun with overwrite=true to remove this dataset's files (recognised by their names) "
           "and start over, or choose another out=")
    try:
        m = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ManifestError(f"out: {p} is not valid JSON ({e}); {fix}") from None
    if not (isinstance(m, dict) and isinstance(m.get("shards"), dict) and isinstance(m.get("config_hash"), str)
            and isinstance(m.get("engine"), dict) and m["engine"].get("name") == engine.ENGINE_NAME):
        raise ManifestError(f"out: {p} is not a {engine.ENGINE_NAME} manifest (a dict with engine, config_hash "
                            f"and shards); {fix}")
    for key, entry in m["shards"].items():
        if not (isinstance(entry, dict) and isinstance(entry.get("files"), dict)):
            raise ManifestError(f"out: {p} shard {key!r} has no file list; {fix}")
    return m


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
