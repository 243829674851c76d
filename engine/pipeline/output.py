"""The output folder and what in it is ours.

A dataset folder is ours when it holds a readable ``manifest.json`` written by this engine; the
manifest is written before any other file, and it lists every file the run makes (each shard's
files, the files an exporter's file names, such as LLaVA images, and the fixed top-level files).
A run refuses a non-empty folder that is not ours and never changes anything in it;
``overwrite=true`` removes only the files the manifest lists (and this engine's temporary files),
then the folders it made when they are left empty. When the manifest is unreadable, our files are
recognised by the names our writers give them (:func:`files_by_name`). The gallery that
``spatialforge view`` writes into ``viewer/`` by default is removed at an overwrite too (the files
its own ``viewer.json`` lists); it is not one of the dataset's files (``push`` never uploads it).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from engine.atomic import TMP_PREFIX
from engine.export.lmms_eval import FILES as LMMS_FILES
from engine.export.video import VIDEO_FOLDER, is_video_name
from engine.export.writers import WRITERS, writer_for_file
from engine.pipeline.manifest import LOCK, MANIFEST
from engine.pipeline.pointclouds import FOLDER as POINT_CLOUD_FOLDER, is_point_cloud_name
from engine.schema import ConfigError

# What a run writes besides its shards: the manifest, the card and its plots, the resolved config,
# the split rule, and the demo's pictures.
TOP_FILES = (MANIFEST, "README.md", "config.yaml", "splits.json", "card/answers.png", "card/factors.png",
             "card/samples.png", "topdown.png", "contact_sheet.png",
             "walkthrough.png", "walkthrough.mp4", "walkthrough_questions.json",  # the demo's walkthrough
             "room_types.png", "variants.png",  # the demo's realism sheets
             *LMMS_FILES)
SCENES_FOLDER = "scenes"
VIEWER_FOLDER = "viewer"  # `spatialforge view`'s default gallery: not the dataset's (never pushed), removed at an overwrite
# Shard files: <folder>/<split>-KKKKK-of-NNNNN.<ext>; scene records: scenes/scenes-KKKKK-of-NNNNN.jsonl.
_SHARD_NAME = re.compile(r"^[A-Za-z0-9_]+-\d{5}-of-\d{5}$")


def _folders() -> list[str]:
    """Folders a run may create, deepest first (removed at an overwrite only when left empty)."""
    names = [SCENES_FOLDER, "card", POINT_CLOUD_FOLDER, VIDEO_FOLDER, *dict.fromkeys(wk.folder for wk in WRITERS)]
    extra = [f"{wk.folder}/{sub}" for wk in WRITERS for sub in wk.member_folders]
    return extra + names


def is_bookkeeping(name: str) -> bool:
    """The lock and this engine's temporary files: present in a folder a run has only begun."""
    return name == LOCK or name.startswith(TMP_PREFIX)


def check_out_path(out: Path) -> None:
    """Refuse an ``out`` that cannot be a dataset folder: a file, a folder we cannot write, or a
    parent that is a file. Changes nothing."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out: {out} is a file, not a folder; fix: choose a folder path for out=")
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"out: {probe} (a parent of {out}) is a file; fix: choose another out=")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"out: {probe} is not writable by this user; fix: choose a folder you can write, "
                          "or change its permissions")


def foreign_entries(out: Path) -> list[str]:
    """Names in ``out`` that show it is someone else's folder: everything, when it holds no
    manifest, except the lock and temporary files of a run that had only begun."""
    if not out.is_dir():
        return []
    return sorted(p.name for p in out.iterdir() if not is_bookkeeping(p.name))


def owned_files(out: Path, manifest: dict) -> list[Path]:
    """Every file of ``out`` that ``manifest`` lists: shard files, what they name (LLaVA images)
    and the top-level files."""
    files: list[Path] = [out / name for name in TOP_FILES]
    for entry in manifest["shards"].values():
        for rel in entry.get("files", {}):
            p = out / rel
            files.append(p)
            wk = writer_for_file(rel)
            if wk is not None and p.is_file():
                files += wk.members(p)
    return files


def files_by_name(out: Path) -> list[Path]:
    """Files in ``out`` that carry the names our writers give (used when the manifest is
    unreadable): top-level files, shard files in our folders, and the files of the exporters'
    member folders."""
    found = [out / name for name in TOP_FILES if (out / name).is_file()]
    kinds = [(SCENES_FOLDER, "jsonl")] + [(wk.folder, wk.ext) for wk in WRITERS]
    for folder, ext in kinds:
        d = out / folder
        if d.is_dir():
            found += [p for p in d.iterdir() if p.is_file() and p.suffix == f".{ext}" and _SHARD_NAME.match(p.stem)]
    for wk in WRITERS:
        for sub in wk.member_folders:
            d = out / wk.folder / sub
            if d.is_dir():
                found += [p for p in d.iterdir() if p.is_file() and wk.is_member_name(p.name)]
    d = out / POINT_CLOUD_FOLDER  # output.point_cloud: pointclouds/<scene_id>.ply
    if d.is_dir():
        found += [p for p in d.iterdir() if p.is_file() and is_point_cloud_name(p.name)]
    d = out / VIDEO_FOLDER  # MP4s of camera paths (output.video), listed in their shard's files
    if d.is_dir():
        found += [p for p in d.iterdir() if p.is_file() and is_video_name(p.name)]
    return found


def remove_owned(out: Path, manifest: dict | None) -> int:
    """Remove our files from ``out`` (listed by ``manifest``, or recognised by name when it is
    None), the gallery in ``out/viewer`` (the files its viewer.json lists), our temporary files,
    and our folders left empty. Returns the number of files removed."""
    files = owned_files(out, manifest) if manifest is not None else files_by_name(out)
    n = 0
    if (out / VIEWER_FOLDER).is_dir():
        from engine.viewer.gallery import remove_gallery  # here: the gallery's modules draw with matplotlib

        n += remove_gallery(out / VIEWER_FOLDER)
    for p in dict.fromkeys(files):
        if p.is_file() or p.is_symlink():
            p.unlink()
            n += 1
    for dirpath, _dirs, names in os.walk(out):
        for name in names:
            if name.startswith(TMP_PREFIX):
                os.remove(os.path.join(dirpath, name))
                n += 1
    for folder in _folders():
        d = out / folder
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()
    return n
