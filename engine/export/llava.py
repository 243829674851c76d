"""LLaVA-style conversation JSON with image files.

Per shard and split: ``llava/<split>-XXXXX-of-YYYYY.json``, a list of
``{"id", "image": <path> | [<paths>], "conversations": [{"from": "human", "value":
"<image>\\n...question"}, {"from": "gpt", "value": answer}]}`` with image paths relative to
``llava/`` (``images/<scene_id>_<view_id>[_m<hash>].<ext>``). Rows without images have no
``image`` key and no ``<image>`` token.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from engine.atomic import atomic_write_bytes, commit, sha256_file, temp_path


class LlavaShardWriter:
    """Collect one shard's conversations (text only in memory) and write image files as they come.

    Args:
        root: the ``llava/`` folder. name: the JSON file name. image_ext: ``png`` or ``jpg``.
    """

    def __init__(self, root: str | Path, name: str, image_ext: str):
        self.root = Path(root)
        self.path = self.root / name
        self.ext = image_ext
        self.entries: list[dict] = []
        self.image_names: list[str] = []
        self._checked: set[str] = set()
        self.rows = 0

    def _image_file(self, row: dict, k: int) -> str:
        data = row["images"][k]["bytes"]
        base = f"{row['scene_id']}_{row['view_ids'][k]}"
        if row.get("marks"):
            base += "_m" + hashlib.sha256(data).hexdigest()[:12]
        rel = f"images/{base}.{self.ext}"
        if rel not in self._checked:  # an image file left on disk is kept only when its bytes are right
            p = self.root / rel
            if not (p.is_file() and p.stat().st_size == len(data) and p.read_bytes() == data):
                atomic_write_bytes(p, data)
            self._checked.add(rel)
        self.image_names.append(rel)
        return rel

    def write(self, row: dict) -> None:
        """Add one dataset row (as built by engine.export.hf.qa_record) that has a question."""
        if row.get("question") is None:
            return
        paths = [self._image_file(row, k) for k in range(len(row["images"]))]
        entry: dict = {"id": row["id"]}
        if paths:
            entry["image"] = paths[0] if len(paths) == 1 else paths
        human = "<image>\n" * len(paths) + row["question"]
        entry["conversations"] = [{"from": "human", "value": human}, {"from": "gpt", "value": row["answer"]}]
        self.entries.append(entry)
        self.rows += 1

    def close(self) -> str:
        """Write the JSON atomically; return a sha256 over the JSON and the image files it names."""
        tmp = temp_path(self.path)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(self.entries, indent=1, sort_keys=True, ensure_ascii=False), encoding="utf-8")
        commit(tmp, self.path)
        return llava_digest(self.path)

    def abort(self) -> None:
        self.entries = []


def _image_names(json_path: Path) -> list[str]:
    """The image paths (relative to ``llava/``) a LLaVA JSON file names, sorted."""
    names: set[str] = set()
    for e in json.loads(json_path.read_text(encoding="utf-8")):
        img = e.get("image")
        names.update([img] if isinstance(img, str) else (img or []))
    return sorted(names)


def llava_images(json_path: str | Path) -> list[Path]:
    """Absolute paths of the image files a LLaVA JSON file names."""
    p = Path(json_path)
    return [p.parent / rel for rel in _image_names(p)]


_IMAGE_NAME = re.compile(r"^s\d{9}_[A-Za-z0-9_]+\.(png|jpg)$")


def is_llava_image_name(name: str) -> bool:
    """Whether ``name`` is an image file name this writer gives (``<scene_id>_<view_id>[_m<hash>].<ext>``)."""
    return bool(_IMAGE_NAME.match(name))


def llava_digest(json_path: str | Path) -> str:
    """sha256 over a LLaVA JSON file and every image file it names (sorted by path), so a
    missing or changed image file shows as a checksum mismatch."""
    p = Path(json_path)
    h = hashlib.sha256(sha256_file(p).encode())
    for rel in _image_names(p):
        h.update(f"{rel}:{sha256_file(p.parent / rel)}".encode())
    return h.hexdigest()
