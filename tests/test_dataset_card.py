"""The dataset card with a split no scene falls into, checked with the real ``datasets`` library:
every split with rows loads with its row count, the empty one fails with a clear error, and
listing the empty split in the card would break loading (why the card leaves it out)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from engine.export.hf import dataset_card, dataset_features, dataset_features_yaml, dataset_schema
from engine.pipeline.config import load_job
from engine.pipeline.manifest import read_manifest
from engine.pipeline.run import generate
from engine.pipeline.splits import split_of

SEED = 3  # with the default ratios (train .9, validation .05, test .05) scenes 0, 1 fall in test, train
TINY = ["num_scenes=2", f"seed={SEED}", "camera.width=64", "camera.height=64", "render.shadow_map_size=256",
        "render.msaa_samples=1", "qa.questions_per_view=2", "progress=false", "executor.workers=1"]


@pytest.fixture(scope="module")
def empty_split_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("card") / "ds"
    job = load_job(TINY + [f"out={out}"])
    assert sorted(split_of(SEED, i, job.cfg["split"]["ratios"]) for i in range(2)) == ["test", "train"]
    summary = generate(job)
    assert summary["split_rows"]["validation"] == 0 and summary["split_rows"]["train"] > 0
    return out


def _split_rows(root: Path) -> dict[str, int]:
    rows: dict[str, int] = {}
    for entry in read_manifest(root)["shards"].values():
        for s, n in entry["rows"].items():
            rows[s] = rows.get(s, 0) + n
    return rows


def _front(root: Path) -> dict:
    return yaml.safe_load((root / "README.md").read_text().split("---\n")[1])


def test_every_split_with_rows_loads_and_the_empty_one_says_so(empty_split_dataset, tmp_path):
    from datasets import load_dataset

    root, cache = empty_split_dataset, str(tmp_path / "hf")
    rows = _split_rows(root)
    assert rows["validation"] == 0
    # the empty split's Parquet file is there (right schema, no rows) but not in the card's YAML
    assert (root / "data" / "validation-00000-of-00001.parquet").is_file()
    front = _front(root)
    assert [d["split"] for d in front["configs"][0]["data_files"]] == ["test", "train"]
    assert [s["name"] for s in front["dataset_info"]["splits"]] == ["test", "train"]
    assert "`validation`: 0 rows: no scene fell into this split" in (root / "README.md").read_text()

    dd = load_dataset(str(root), cache_dir=cache)
    assert {s: len(d) for s, d in dd.items()} == {s: n for s, n in rows.items() if n}
    for s in ("train", "test"):
        assert len(load_dataset(str(root), split=s, cache_dir=cache)) == rows[s]
    with pytest.raises(ValueError, match=r"Unknown split \"validation\". Should be one of \['test', 'train'\]"):
        load_dataset(str(root), split="validation", cache_dir=cache)


def test_listing_the_empty_split_would_break_loading(empty_split_dataset, tmp_path):
    """Why the card leaves a split without rows out: with it listed, ``datasets`` cannot load it,
    nor the whole dataset. When this starts to pass through (a ``datasets`` that loads empty
    splits, huggingface/datasets PR #8401), list every split in engine.export.hf.dataset_card."""
    from datasets import load_dataset

    root = tmp_path / "listed"
    shutil.copytree(empty_split_dataset, root)
    text = (root / "README.md").read_text()
    _, front_text, body = text.split("---\n", 2)
    front = yaml.safe_load(front_text)
    front["configs"][0]["data_files"].append({"split": "validation", "path": "data/validation-*.parquet"})
    front["dataset_info"]["splits"].append({"name": "validation", "num_bytes": 0, "num_examples": 0})
    (root / "README.md").write_text("---\n" + yaml.safe_dump(front, sort_keys=False) + "---\n" + body)
    for split in ("validation", None):
        with pytest.raises(ValueError, match="corresponds to no data"):
            load_dataset(str(root), split=split, cache_dir=str(tmp_path / f"hf-{split}"))


def test_card_lists_splits_with_rows_only():
    card = dataset_card(dataset_features_yaml(), {"train": 5, "validation": 0, "test": 2},
                        {"train": 100, "validation": 7, "test": 50}, "abc", "0.1.0")
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["configs"][0]["data_files"] == [{"split": "test", "path": "data/test-*.parquet"},
                                                 {"split": "train", "path": "data/train-*.parquet"}]
    assert [(s["name"], s["num_examples"]) for s in front["dataset_info"]["splits"]] == [("test", 2), ("train", 5)]
    assert "- `train`: 5 rows" in card and "- `validation`: 0 rows" in card


@pytest.mark.parametrize("depth,mask", [(False, False), (True, False), (False, True), (True, True)])
def test_the_schema_and_card_features_are_the_ones_datasets_makes(depth, mask):
    """Shard workers write with a schema built by pyarrow alone (no ``datasets`` import): it must
    equal, metadata included, the schema ``datasets`` derives from the row features."""
    made = dataset_schema(depth, mask)
    assert made.equals(dataset_features(depth, mask).arrow_schema, check_metadata=True)
    assert dataset_features_yaml(depth, mask) == dataset_features(depth, mask)._to_yaml_list()
    assert ("depths" in made.names) is depth and ("instance_masks" in made.names) is mask
