"""Scenes the user brings (``spatialforge ask``, docs/ask.md): converters from our scene records,
OpenSpatial's Parquet and CLEVR's scene JSON to scene records plus the user's image files, and the
per-view annotations computed from the boxes, depth and masks in place of our renderer."""

from __future__ import annotations

from pathlib import Path

from engine.ingest.annotate import annotate_scene
from engine.ingest.clevr import load_clevr
from engine.ingest.native import load_native
from engine.ingest.openspatial import load_openspatial
from engine.ingest.types import IngestError, UserScene, ViewInputs

LOADERS = {"native": load_native, "openspatial": load_openspatial, "clevr": load_clevr}

__all__ = ["LOADERS", "IngestError", "UserScene", "ViewInputs", "annotate_scene", "detect_format", "load_scenes"]


def detect_format(path: Path) -> str:
    """``openspatial`` for .parquet files or folders holding them; for JSON: ``clevr`` when it has
    ``scenes`` or objects with ``3d_coords``, ``native`` when it holds ``schema_version``."""
    if path.is_dir() or path.suffix == ".parquet":
        return "openspatial"
    if path.suffix not in (".json", ".jsonl"):
        raise IngestError(f"{path}: cannot tell the layout from the name; fix: pass --format "
                          f"{'|'.join(LOADERS)}")
    head = path.read_text(encoding="utf-8")[:200000]
    if '"schema_version"' in head:
        return "native"
    if '"3d_coords"' in head or '"scenes"' in head:
        return "clevr"
    raise IngestError(f"{path}: neither a scene record (schema_version) nor CLEVR scenes (3d_coords); fix: pass "
                      f"--format {'|'.join(LOADERS)}")


def load_scenes(path: str | Path, images: str | Path, fmt: str | None = None, seed: int = 0) -> list[UserScene]:
    """The scenes of the user's file in ``fmt`` (default: detected), indices 0..n-1; image paths
    are relative to ``images``. Raises IngestError naming the file, field and fix."""
    path, images = Path(path), Path(images)
    if not path.exists():
        raise IngestError(f"{path}: no such file or folder; fix: pass the scene file (JSON, JSONL or Parquet)")
    if not images.is_dir():
        raise IngestError(f"--images {images}: not a folder; fix: pass the folder the scene file's image paths are "
                          "relative to")
    fmt = fmt or detect_format(path)
    if fmt not in LOADERS:
        raise IngestError(f"--format {fmt!r}: unknown; fix: one of {', '.join(LOADERS)}")
    scenes = LOADERS[fmt](path, images, seed=seed)
    if not scenes:
        raise IngestError(f"{path}: holds no scene")
    return scenes
