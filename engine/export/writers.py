"""Shard writers: the protocol every exporter implements and the registry the pipeline reads.

A writer turns the rows of one shard and one split into one file (plus, for LLaVA, its image
files), written under a temporary name and renamed by :meth:`ShardWriter.close`. The shard
runner (engine/pipeline/shard.py), the manifest (what checksum a finished file has) and the
output-folder reset read :data:`WRITERS`; the config's ``output.<flag>`` switches each on.

Adding an exporter: its writer class (a module in engine/export/), one :class:`WriterKind` here,
its flag in conf/output/default.yaml, and its tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from engine.atomic import sha256_file
from engine.export.llava import LlavaShardWriter, is_llava_image_name, llava_digest, llava_images
from engine.export.webdataset import WebDatasetShardWriter
from engine.export.writer import ParquetShardWriter


class ShardWriter(Protocol):
    """What the shard runner calls: ``write`` each row, then ``close`` (returns the checksum the
    manifest records for the finished file) or, on any error, ``abort`` (removes what it wrote)."""

    def write(self, row: dict) -> None: ...

    def close(self) -> str: ...

    def abort(self) -> None: ...


@dataclass(frozen=True)
class WriterContext:
    """What a writer may need beyond its path: the ``output`` config, the row schema
    (``pyarrow.Schema`` with the ``datasets`` features, engine.export.hf.dataset_schema) and the
    image file extension (``jpg`` or ``png``)."""

    output: Mapping[str, Any]
    schema: Any
    image_ext: str


@dataclass(frozen=True)
class WriterKind:
    """One exporter.

    Attributes:
        name: the prefix of its shard file kinds (``<name>:<split>``).
        folder, ext: its files are ``<folder>/<split>-KKKKK-of-NNNNN.<ext>`` in the output folder.
        flag: the ``output`` key that switches it on (None: always on), with ``flag_doc`` for the
            config validator's message.
        make: (output root, relative path, context) -> a ShardWriter.
        digest: the checksum of a finished file (the manifest's resume check).
        members: the other files a finished file names (LLaVA: its images), absolute paths; the
            output folder's owner removes them with it.
        member_folders: sub-folders of ``folder`` holding such files (made and removed with them).
        is_member_name: whether a file name in a member folder is one this exporter writes (used
            to recognise our files when the manifest is unreadable).
    """

    name: str
    folder: str
    ext: str
    flag: str | None
    flag_doc: str
    make: Callable[[Path, str, WriterContext], ShardWriter]
    digest: Callable[[Path], str] = sha256_file
    members: Callable[[Path], list[Path]] = lambda path: []
    member_folders: tuple[str, ...] = ()
    is_member_name: Callable[[str], bool] = lambda name: False

    def path(self, split: str, tag: str) -> str:
        """Relative path of the file for ``split`` and shard tag ``KKKKK-of-NNNNN``."""
        return f"{self.folder}/{split}-{tag}.{self.ext}"

    def enabled(self, output: Mapping[str, Any]) -> bool:
        """Whether the ``output`` config switches this exporter on."""
        return self.flag is None or bool(output[self.flag])


WRITERS: tuple[WriterKind, ...] = (
    WriterKind("parquet", "data", "parquet", None, "",
               lambda root, rel, ctx: ParquetShardWriter(root / rel, ctx.schema, ctx.output["row_group_size"],
                                                         ctx.output["compression"])),
    WriterKind("wds", "wds", "tar", "webdataset", "true or false (write wds/ tar shards)",
               lambda root, rel, ctx: WebDatasetShardWriter(root / rel, ctx.image_ext)),
    WriterKind("llava", "llava", "json", "llava", "true or false (write llava/ conversation JSON and image files)",
               lambda root, rel, ctx: LlavaShardWriter(root / "llava", Path(rel).name, ctx.image_ext),
               digest=llava_digest, members=llava_images, member_folders=("images",), is_member_name=is_llava_image_name),
)


def writer_for_file(rel: str | Path) -> WriterKind | None:
    """The exporter that made file ``rel`` (relative to the output folder), or None."""
    p = Path(rel)
    for wk in WRITERS:
        if p.parts[-2:-1] == (wk.folder,) and p.suffix == f".{wk.ext}":
            return wk
    return None
