"""The exporter registry (engine/export/writers.py) drives the shard runner, the manifest and
the output reset: a new exporter is one WriterKind, and the pipeline writes, checks and resumes
its files with no other change."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from engine.atomic import commit, sha256_file, temp_path
from engine.export import writers as registry
from engine.pipeline import manifest as manifest_mod
from engine.pipeline import shard as shard_mod
from engine.pipeline.config import load_job
from engine.pipeline.run import generate


class JsonlQuestions:
    """A toy exporter: one JSON line per row with its id and question."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = temp_path(path)
        self.f = open(self.tmp, "w", encoding="utf-8")

    def write(self, row: dict) -> None:
        self.f.write(json.dumps({"id": row["id"], "question": row["question"]}) + "\n")

    def close(self) -> str:
        self.f.close()
        commit(self.tmp, self.path)
        return sha256_file(self.path)

    def abort(self) -> None:
        self.f.close()
        self.tmp.unlink(missing_ok=True)


def test_a_registered_exporter_is_written_recorded_and_checked(tmp_path, monkeypatch):
    kind = registry.WriterKind("qjsonl", "qjsonl", "jsonl", None, "",
                               lambda root, rel, ctx: JsonlQuestions(root / rel))
    kinds = registry.WRITERS + (kind,)
    monkeypatch.setattr(registry, "WRITERS", kinds)
    monkeypatch.setattr(shard_mod, "WRITERS", kinds)
    out = tmp_path / "ds"
    job = load_job(["stages.render=false", "num_scenes=4", "output.scenes_per_shard=2", "progress=false",
                    "executor.workers=1",  # in this process, where the toy exporter is registered
                    "split.ratios.train=1.0", "split.ratios.validation=0.0", "split.ratios.test=0.0",
                    f"out={out}"])
    generate(job)
    m = json.loads((out / "manifest.json").read_text())
    for key, entry in m["shards"].items():
        k = int(key)
        tag = shard_mod.shard_tag(job, k)
        ours = f"qjsonl/train-{tag}.jsonl"
        assert entry["files"][ours] == sha256_file(out / ours)
        lines = [json.loads(x) for x in (out / ours).read_text().splitlines()]
        parquet = pq.read_table(out / f"data/train-{tag}.parquet", columns=["id", "question"]).to_pylist()
        assert lines == parquet and len(lines) == entry["rows"]["train"] > 0
    # the manifest's resume check uses the registry: a changed file is not complete any more
    assert manifest_mod.shard_complete(out, m["shards"]["00000"])
    (out / f"qjsonl/train-{shard_mod.shard_tag(job, 0)}.jsonl").write_text("tampered\n")
    assert not manifest_mod.shard_complete(out, m["shards"]["00000"])
    assert registry.writer_for_file("llava/train-00000-of-00002.json").name == "llava"
    assert registry.writer_for_file("data/train-00000-of-00002.parquet").name == "parquet"
    assert registry.writer_for_file("elsewhere/x.txt") is None
