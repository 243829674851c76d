"""WebDataset tar shards: one sample per QA row, written with deterministic tar headers.

Sample ``<row id>`` holds ``<id>.json`` (every row field except the image columns) and one
file per image: ``<id>.<k>.png|jpg`` for ``images[k]``, ``<id>.<k>.depth.png`` and
``<id>.<k>.mask.png`` when those columns exist. Readable with ``webdataset.WebDataset(url)``.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from engine.atomic import commit, sha256_file, temp_path

IMAGE_COLUMNS = ("images", "depths", "instance_masks")


class WebDatasetShardWriter:
    """Stream rows into a tar file at a temporary name; :meth:`close` renames it.

    Args:
        path: final ``.tar`` path. image_ext: ``png`` or ``jpg`` for the ``images`` column.
    """

    def __init__(self, path: str | Path, image_ext: str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = temp_path(self.path)
        self.ext = image_ext
        self.rows = 0
        self._tar = tarfile.open(self.tmp, "w", format=tarfile.USTAR_FORMAT)

    def _add(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = 0
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        self._tar.addfile(info, io.BytesIO(data))

    def write(self, row: dict) -> None:
        """Add one dataset row (as built by engine.export.hf.qa_record)."""
        key = row["id"]
        if "." in key or "/" in key:
            raise ValueError(f"row id {key!r}: WebDataset keys may not contain '.' or '/'")
        meta = {k: v for k, v in row.items() if k not in IMAGE_COLUMNS}
        self._add(f"{key}.json", json.dumps(meta, sort_keys=True, separators=(",", ":")).encode("utf-8"))
        for k, img in enumerate(row["images"]):
            self._add(f"{key}.{k}.{self.ext}", img["bytes"])
        for col, suffix in (("depths", "depth.png"), ("instance_masks", "mask.png")):
            for k, img in enumerate(row.get(col) or []):
                self._add(f"{key}.{k}.{suffix}", img["bytes"])
        self.rows += 1

    def close(self) -> str:
        """Finish the tar, rename it to its final name, return its sha256."""
        self._tar.close()
        digest = sha256_file(self.tmp)
        commit(self.tmp, self.path)
        return digest

    def abort(self) -> None:
        try:
            self._tar.close()
        finally:
            self.tmp.unlink(missing_ok=True)
