"""The dataset card: the Hub's YAML header read back by huggingface_hub's own card parser and
matching the data files, the counts in its body, the plots, the blind table."""

from __future__ import annotations

import json
import re

import pyarrow.parquet as pq
import pytest

from engine.cli import main

TINY = ["num_scenes=6", "camera.width=64", "camera.height=64", "render.shadow_map_size=256", "progress=false",
        "executor.workers=1", "split.ratios.train=0.5", "split.ratios.validation=0", "split.ratios.test=0.5"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("card") / "ds"
    assert main(["generate", *TINY, f"out={out}"]) == 0
    return out


def test_header_parses_and_matches_the_files(dataset):
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(dataset / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "cc-by-4.0" and data["task_categories"] == ["visual-question-answering"]
    assert data["size_categories"] == ["n<1K"]
    rows = {f.name.split("-", 1)[0]: 0 for f in (dataset / "data").glob("*.parquet")}
    for f in (dataset / "data").glob("*.parquet"):
        rows[f.name.split("-", 1)[0]] += pq.read_metadata(f).num_rows
    files = data["configs"][0]["data_files"]
    assert {d["split"] for d in files} == {s for s, n in rows.items() if n}
    for d in files:
        assert list(dataset.glob(d["path"]))  # every glob names existing files
    assert {s["name"]: s["num_examples"] for s in data["dataset_info"]["splits"]} == {s: n for s, n in rows.items() if n}


def test_body_counts_add_up(dataset):
    text = (dataset / "README.md").read_text()
    table = text.split("## Rows per task and split")[1].split("##")[0]
    totals = [int(line.rstrip(" |").rsplit("|", 1)[1]) for line in table.strip().splitlines()[2:]]
    n = sum(pq.read_metadata(f).num_rows for f in (dataset / "data").glob("*.parquet"))
    assert sum(totals) == n
    tasks = {r["family"] + "." + r["task"] for f in (dataset / "data").glob("*.parquet")
             for r in pq.read_table(f, columns=["family", "task"]).to_pylist()}
    assert {line.split("|")[1].strip() for line in table.strip().splitlines()[2:]} == tasks


def test_card_command_plots_and_blind(dataset, capsys):
    assert main(["card", str(dataset), "--plots", "--blind"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["card"].endswith("README.md")
    for name in ("answers", "factors", "samples"):
        png = dataset / "card" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (dataset / "README.md").read_text()
    assert "## Blind baseline (text only)" in text and "![samples](card/samples.png)" in text
    # every template with rows has a line in the blind table
    templates = {r["template_id"] for f in (dataset / "data").glob("*.parquet")
                 for r in pq.read_table(f, columns=["template_id"]).to_pylist() if r["template_id"]}
    blind = text.split("## Blind baseline (text only)")[1].split("##")[0]
    assert templates == set(re.findall(r"^\| ([a-z0-9_]+\.[a-z0-9_.]+) \|", blind, re.M))


def test_card_refuses_a_non_dataset(tmp_path, capsys):
    assert main(["card", str(tmp_path)]) == 2
    assert "fix" in capsys.readouterr().err
