"""The dataset card's pictures (matplotlib PNGs next to the card, under ``card/``):

- ``card/answers.png``: the answer distribution of each task (bars, the most frequent answers);
- ``card/factors.png``: per split, histograms of scene quantities (objects per scene, floor area
  in m², camera height in m), read from each row's scene record;
- ``card/samples.png``: a grid of sample images with their question and answer.
"""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_bytes

PLOTS = ("card/answers.png", "card/factors.png", "card/samples.png")


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def answers_plot(stats: dict, path: Path, max_tasks: int = 24) -> None:
    """Bars of the most frequent answers of the ``max_tasks`` largest tasks (``stats`` from
    :func:`engine.export.card.card_stats`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted(stats["answers"], key=lambda t: -sum(n for _, n in stats["answers"][t]))[:max_tasks]
    cols = 4
    rows = max(1, -(-len(tasks) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.4 * rows), squeeze=False)
    for ax, t in zip(axes.flat, tasks):
        top = stats["answers"][t]
        ax.barh([textwrap.shorten(str(a), 18) for a, _ in top][::-1], [n for _, n in top][::-1], color="#4c78a8")
        ax.set_title(t, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    fig.suptitle("Most frequent answers per task", fontsize=11)
    fig.tight_layout()
    _save(fig, path)


def _scene_quantities(out: Path, limit: int) -> dict[str, dict[str, list[float]]]:
    import pyarrow.parquet as pq

    q: dict[str, dict[str, list[float]]] = {}
    for f in sorted((out / "data").glob("*.parquet")):
        split = f.name.split("-", 1)[0]
        seen: set[str] = set()
        t = pq.read_table(f, columns=["scene_id", "scene"])
        for sid, scene in zip(t.column("scene_id").to_pylist(), t.column("scene").to_pylist()):
            if sid in seen or len(seen) >= limit:
                continue
            seen.add(sid)
            s = json.loads(scene)
            d = q.setdefault(split, {"objects per scene": [], "floor area (m²)": [], "camera height (m)": []})
            d["objects per scene"].append(len(s["objects"]))
            d["floor area (m²)"].append(s["room"]["size"][0] * s["room"]["size"][1])
            d["camera height (m)"] += [v["cam_to_world"][2][3] for v in s.get("views", [])]
    return q


def factors_plot(out: Path, path: Path, limit: int = 5000) -> None:
    """Histograms per split of objects per scene, floor area and camera height (up to ``limit``
    scenes per shard file)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    q = _scene_quantities(out, limit)
    names = ["objects per scene", "floor area (m²)", "camera height (m)"]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3))
    for ax, name in zip(axes, names):
        values = [v for d in q.values() for v in d[name]]
        bins = np.histogram_bin_edges(values or [0, 1], bins=20)
        for split, d in sorted(q.items()):
            ax.hist(d[name], bins=bins, alpha=0.6, label=split, density=True)
        ax.set_title(name, fontsize=10)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def samples_plot(out: Path, path: Path, n: int = 8) -> None:
    """The first row with an image and a question of each of the first ``n`` scenes (train first):
    image, question, answer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pyarrow.parquet as pq
    from PIL import Image

    files = sorted((out / "data").glob("*.parquet"), key=lambda f: (not f.name.startswith("train"), f.name))
    picked, scenes = [], set()
    for f in files:
        for r in pq.read_table(f, columns=["scene_id", "images", "question", "answer"]).to_pylist():
            if r["images"] and r["question"] and r["scene_id"] not in scenes:  # one row per scene
                scenes.add(r["scene_id"])
                picked.append(r)
            if len(picked) >= n:
                break
        if len(picked) >= n:
            break
    cols = 4
    rows = max(1, -(-len(picked) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 5 * rows), squeeze=False)
    for ax, r in zip(axes.flat, picked):
        ax.imshow(Image.open(io.BytesIO(r["images"][0]["bytes"])).convert("RGB"))
        ax.set_title("\n".join(textwrap.wrap(r["question"], 44)[:5]) + f"\n→ {textwrap.shorten(str(r['answer']), 40)}",
                     fontsize=7, loc="left")
        ax.axis("off")
    for ax in list(axes.flat)[len(picked):]:
        ax.axis("off")
    fig.tight_layout()
    _save(fig, path)


def card_plots(out: str | Path, stats: dict) -> list[str]:
    """Draw the three plots into ``out/card/``; return their paths relative to ``out``."""
    root = Path(out)
    answers_plot(stats, root / PLOTS[0])
    factors_plot(root, root / PLOTS[1])
    samples_plot(root, root / PLOTS[2])
    return list(PLOTS)
