"""WebDataset tar shards: one sample per QA row, written with deterministic tar headers.

Sample ``<row id>`` holds ``<id>.json`` (every row field except the image columns) and one
file per image: ``<id>.<k>.png|jpg`` for ``images[k]``; ``<id>.<k>.depth.npy.gz`` and
``<id>.<k>.mask.npy.gz`` when those columns exist: the 16-bit maps of the Parquet rows (depth in
millimetres, 0 = no hit; instance ids, 0 = background) as gzipped NumPy ``.npy`` arrays, (H, W)
uint16.

Why not PNG, as in the Parquet rows: webdataset's image decoders (``.decode("pil")``,
``"rgb8"``, ``"torchrgb"``, ...) all convert a PNG to 8-bit L/RGB, so a 16-bit PNG member
would lose its millimetres under the usual decode call. Every ``webdataset`` decoder, whatever
its image spec, ungzips ``.gz`` members and loads ``.npy`` ones with NumPy, so
``webdataset.WebDataset(url).decode("pil")`` gives RGB images and the exact uint16 arrays.
Gzip (level 6, mtime 0) keeps them about the size of the PNGs.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from engine.atomic import commit, sha256_file, temp_path

IMAGE_COLUMNS = ("images", "depths", "instance_masks")
# column -> member suffix of its 16-bit maps
MAP_SUFFIXES = {"depths": "depth.npy.gz", "instance_masks": "mask.npy.gz"}
GZIP_LEVEL = 6
_CACHE_MAX = 64  # converted maps kept: the rows of a view share its maps


def png16_to_npy_gz(data: bytes) -> bytes:
    """A 16-bit PNG (depth or instance ids) as a gzipped ``.npy`` of its (H, W) uint16 array,
    byte-reproducible (gzip mtime 0)."""
    with Image.open(io.BytesIO(data)) as img:
        arr = np.asarray(img)
    if arr.ndim != 2 or arr.min(initial=0) < 0 or arr.max(initial=0) > 65535:
        raise ValueError(f"expected a 16-bit single-channel PNG, got shape {arr.shape} dtype {arr.dtype}")
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr, dtype=np.uint16), allow_pickle=False)
    return gzip.compress(buf.getvalue(), compresslevel=GZIP_LEVEL, mtime=0)


def load_npy_gz(data: bytes) -> np.ndarray:
    """Inverse of :func:`png16_to_npy_gz` without webdataset's decoders: the (H, W) uint16 array."""
    return np.load(io.BytesIO(gzip.decompress(data)), allow_pickle=False)


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
        self._maps: dict[bytes, bytes] = {}  # PNG bytes -> .npy.gz bytes
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
        for col, suffix in MAP_SUFFIXES.items():
            for k, img in enumerate(row.get(col) or []):
                self._add(f"{key}.{k}.{suffix}", self._map(img["bytes"]))
        self.rows += 1

    def _map(self, png: bytes) -> bytes:
        """The ``.npy.gz`` member of a 16-bit PNG, converted once for all the rows of its view."""
        out = self._maps.get(png)
        if out is None:
            if len(self._maps) >= _CACHE_MAX:
                self._maps.clear()
            out = self._maps[png] = png16_to_npy_gz(png)
        return out

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
