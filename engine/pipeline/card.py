"""Writing a dataset folder's card (README.md): the Hub's YAML header, the description, the
counts and answer distributions, the split rule, optionally the blind baseline and the plots."""

from __future__ import annotations

import json
from pathlib import Path

import engine
from engine.atomic import atomic_write_text
from engine.export.card import card_body, card_stats
from engine.export.hf import dataset_card, dataset_features_yaml

SPLITS_RULE = "splits.json"  # the split rule record, when a split strategy wrote one


def write_card(out: str | Path, cfg: dict, config_hash: str, split_names: list[str], plots: bool = False,
               blind: bool = False) -> dict:
    """(Re)write ``out/README.md``; with ``plots`` also ``out/card/*.png``, with ``blind`` the
    blind meter's table (a text-only model fitted per template; seconds to minutes). Returns the
    statistics the card shows."""
    root = Path(out)
    stats = card_stats(root)
    split_rows = {s: stats["split_rows"].get(s, 0) for s in split_names}
    split_bytes = {s: sum(p.stat().st_size for p in (root / "data").glob(f"{s}-*.parquet")) for s in split_rows}
    rule = json.loads((root / SPLITS_RULE).read_text()) if (root / SPLITS_RULE).is_file() else None
    scores = None
    if blind:
        import pyarrow.parquet as pq

        from engine.eval.blind import score_rows

        rows = []
        for f in sorted((root / "data").glob("*.parquet")):
            t = pq.read_table(f)
            rows += t.select([c for c in t.column_names if c not in ("images", "depths", "instance_masks")]).to_pylist()
        scores = score_rows(rows)
    drawn = []
    if plots:
        from engine.viewer.card_plots import card_plots

        drawn = card_plots(root, stats)
    o = cfg["output"]
    body = card_body(stats, cfg, config_hash, engine.__version__, rule, scores, drawn)
    text = dataset_card(dataset_features_yaml(o["depth"], o["instance_mask"]), split_rows, split_bytes, config_hash,
                        engine.__version__, license=o.get("license", "cc-by-4.0"), extra=body)
    atomic_write_text(root / "README.md", text)
    return stats
