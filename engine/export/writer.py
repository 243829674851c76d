"""Streaming Parquet shard writer: rows go out in row groups, the file appears only when complete.

Rows are buffered up to ``row_group_size`` and written with ``pyarrow.parquet.ParquetWriter``
to a temporary name in the destination folder; :meth:`ParquetShardWriter.close` renames it.
The Arrow schema carries the ``datasets`` features (schema metadata ``huggingface``), so
``datasets.load_dataset`` restores ``Image`` columns.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from engine.atomic import commit, sha256_file, temp_path


class ParquetShardWriter:
    """Write one Parquet file of rows (dicts matching ``schema``) in bounded memory.

    Args:
        path: final file path; the file is written to a temporary name beside it.
        schema: the Arrow schema of a row with its ``huggingface`` metadata
            (engine.export.hf.dataset_schema).
        row_group_size: rows per row group (also the buffer size).
        compression: ``zstd``, ``snappy``, ``gzip`` or ``none``.
    """

    def __init__(self, path: str | Path, schema: pa.Schema, row_group_size: int = 64, compression: str = "zstd"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = temp_path(self.path)
        self.schema = schema
        self.row_group_size = int(row_group_size)
        self._buf: list[dict] = []
        self.rows = 0
        self._w = pq.ParquetWriter(self.tmp, self.schema, compression=None if compression == "none" else compression)

    def write(self, row: dict) -> None:
        """Append one row; flushes a row group when the buffer is full."""
        self._buf.append(row)
        self.rows += 1
        if len(self._buf) >= self.row_group_size:
            self._flush()

    def _flush(self) -> None:
        if self._buf:
            table = pa.Table.from_pylist(self._buf, schema=self.schema)
            self._w.write_table(table, row_group_size=self.row_group_size)
            self._buf = []

    def close(self) -> str:
        """Flush, close, rename to the final name; return the file's sha256."""
        self._flush()
        self._w.close()
        digest = sha256_file(self.tmp)
        commit(self.tmp, self.path)
        return digest

    def abort(self) -> None:
        """Close and delete the temporary file (on error)."""
        try:
            self._w.close()
        finally:
            self.tmp.unlink(missing_ok=True)
