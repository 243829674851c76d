"""The dataset viewer (docs/viewer.md): label placement, the sample, the output folder's ownership,
and the gallery in headless Chromium (filters, overlays, the wrong-answers view) checked against
counts computed here from the Parquet shards and from the predictions this test writes."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from engine.cli import main
from engine.pipeline.view import build_view, sample_rows
from engine.scene.catalog import load_catalog
from engine.scene.graph import SceneGraph
from engine.viewer.labels import place_labels, rects_overlap
from engine.viewer.topdown_svg import topdown_svg

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def test_labels_at_one_point_do_not_overlap():
    # 12 labels all wanting the same spot, and one fixed marker there: every label is moved off
    # the marker and none overlaps another.
    sizes = np.array([[2.0 + 0.3 * k, 0.5] for k in range(12)])
    anchors = np.zeros((12, 2))
    c, moved = place_labels(anchors, sizes, bounds=[-10, -10, 10, 10], fixed=[[-0.3, -0.3, 0.3, 0.3]])
    assert rects_overlap(c, sizes) == []
    assert moved.all()
    half = sizes / 2
    assert (np.abs(c[:, 0]) >= 0.3 + half[:, 0] - 1e-9).__or__(np.abs(c[:, 1]) >= 0.3 + half[:, 1] - 1e-9).all()
    assert (c - half >= -10).all() and (c + half <= 10).all()
    # a label alone stays on its anchor
    c1, m1 = place_labels([[1.0, 2.0]], [[1.0, 0.4]])
    assert np.allclose(c1, [[1.0, 2.0]]) and not m1.any()


def test_sample_quotas_and_few_row_groups():
    # 100 row groups of 64 rows; task k holds 10 * (k + 1) rows spread over every group.
    rng = np.random.default_rng(0)
    task = np.concatenate([np.full(10 * (k + 1), k) for k in range(8)])
    task = np.concatenate([task, np.full(6400 - len(task), 8)])
    task = rng.permutation(task)
    group = np.repeat(np.arange(100), 64)
    wrong = rng.random(6400) < 0.1
    for w in (None, wrong):
        picked = sample_rows(task, group, 100, 25, np.random.default_rng(1), w)
        got = Counter(task[picked].tolist())
        for k in range(9):
            total = int((task == k).sum())
            assert got[k] >= min(total, 25)  # every task has its quota (all its rows when fewer)
        if w is not None:
            got_w = Counter(task[picked][w[picked]].tolist())
            for k in range(9):
                assert got_w[k] >= min(int(((task == k) & w).sum()), 25)
        assert len(np.unique(picked)) == len(picked)
    # the abundant task fills its quota from the first groups visited: few groups read
    only8 = sample_rows(np.full(6400, 8), group, 100, 50, np.random.default_rng(1))
    assert len(only8) == 50 and len(np.unique(group[only8])) == 1


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("viewer") / "ds"
    assert main(["generate", "num_scenes=3", "camera.width=96", "camera.height=96", "progress=false",
                 "output.depth=true", "output.instance_mask=true", f"out={out}"]) == 0
    return out


def _rows(ds: Path, cols: list[str]) -> list[dict]:
    rows = []
    for f in sorted((ds / "data").glob("*.parquet")):
        rows += [dict(r, split=f.name.split("-")[0]) for r in pq.read_table(f, columns=cols).to_pylist()]
    return rows


def _predictions(ds: Path, path: Path) -> set[str]:
    """Write predictions: every third row wrong (another option, the other yes/no, or text that does
    not parse), every seventh missing, the rest the truth; returns the ids that must be wrong."""
    wrong = set()
    with open(path, "w", encoding="utf-8") as f:
        for k, r in enumerate(_rows(ds, ["id", "answer_type", "answer", "choices", "answer_index", "value"])):
            if k % 7 == 1:
                wrong.add(r["id"])
                continue
            bad = k % 3 == 0
            at = r["answer_type"]
            if at == "choice":
                p = chr(65 + (r["answer_index"] + bad) % len(r["choices"]))
            elif at == "bool":
                p = "yes" if json.loads(r["value"]) != bad else "no"
            elif at == "number":
                p = "no idea" if bad else str(json.loads(r["value"]))
            else:
                p = "no idea" if bad else r["answer"]
            if bad:
                wrong.add(r["id"])
            f.write(json.dumps({"id": r["id"], "prediction": p}) + "\n")
    return wrong


def test_topdown_svg_labels_do_not_overlap(dataset):
    scene = SceneGraph.from_json(_rows(dataset, ["scene"])[0]["scene"])
    refs = [scene.objects[0].id, scene.objects[-1].id]
    svg = topdown_svg(scene, refs, [scene.views[0].id], load_catalog().colors)
    import xml.etree.ElementTree as ET

    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    boxes = [(float(r.get("x")), float(r.get("y")), float(r.get("width")), float(r.get("height")))
             for r in root.iter(f"{ns}rect") if r.get("fill") == "#fff"]
    assert len(boxes) == len(scene.objects) + 1  # every object and the highlighted camera
    assert sorted(t.get("data-obj") for t in root.iter(f"{ns}text") if t.get("class") == "reflab" and t.get("data-obj")) == sorted(refs)
    c = np.array([[x + w / 2, y + h / 2] for x, y, w, h in boxes])
    assert rects_overlap(c, np.array([[w, h] for _, _, w, h in boxes])) == []
    hi = [p.get("data-obj") for p in root.iter(f"{ns}polygon") if p.get("class") == "ref"]
    assert sorted(hi) == sorted(refs)


def test_summary_counts_agree_with_the_card(dataset):
    # the viewer's pyarrow aggregation against the card's row-by-row counts (engine.export.card)
    from engine.export.card import card_stats
    from engine.pipeline.view import _shards, dataset_stats

    a, b = dataset_stats(_shards(dataset)), card_stats(dataset)
    assert (a["split_rows"], a["family"], a["task"]) == (b["split_rows"], b["family"], b["task"])
    # answers: the five most frequent full answers (ties by text), counted here row by row (the card
    # counts answers cut to 40 characters, so two long maps with one start merge there)
    full: dict = {}
    for r in _rows(dataset, ["family", "task", "answer"]):
        full.setdefault(f"{r['family']}.{r['task']}", Counter())[r["answer"]] += 1
    cut = lambda x: x if len(x) <= 40 else x[:37] + "..."  # noqa: E731
    assert a["answers"] == {t: [(cut(x), n) for x, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:5]]
                            for t, c in sorted(full.items())}


def test_out_folder_ownership(dataset, tmp_path, capsys):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    assert main(["view", str(dataset), "--out", str(foreign)]) == 2
    assert "not a gallery" in capsys.readouterr().err
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    assert main(["view", str(dataset), "--out", str(dataset)]) == 2
    # the default folder DATASET/viewer goes away with an overwrite of the dataset (files it lists only)
    ds = tmp_path / "copy"
    shutil.copytree(dataset, ds)
    assert main(["view", str(ds), "--per-task", "2"]) == 0
    (ds / "viewer" / "img" / "extra.txt").write_text("someone's")
    from engine.pipeline.manifest import read_manifest
    from engine.pipeline.output import remove_owned

    remove_owned(ds, read_manifest(ds))
    assert sorted(str(p.relative_to(ds)) for p in ds.rglob("*") if p.is_file()) == ["viewer/img/extra.txt"]


def test_gallery_in_headless_chromium(dataset, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium (tools/setup_system.sh --browser, run by make test)")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    preds = tmp_path / "preds.jsonl"
    wrong_ids = _predictions(dataset, preds)
    res = build_view(dataset, tmp_path / "gallery", per_task=50, predictions=str(preds), page_size=10)
    rows = _rows(dataset, ["id", "task", "answer", "scene", "view_ids", "objects", "factors", "question"])
    tasks = Counter(r["task"] for r in rows)
    assert max(tasks.values()) <= 50 and res["rows"] == len(rows)  # the sample is the whole small dataset
    task = "box2d" if tasks["box2d"] else tasks.most_common(1)[0][0]
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(Path(res["index"]).as_uri())
        page.wait_for_selector("#count[data-count]", state="attached")  # the first render has run
        count = lambda: int(page.get_attribute("#count", "data-count"))  # noqa: E731
        assert count() == len(rows)
        assert page.locator(".card").count() == 10  # paged
        page.screenshot(path=str(tmp_path / "gallery.png"))
        # filter by task: as many cards as the Parquet has rows of that task
        page.select_option("#f-task", task)
        assert count() == tasks[task]
        assert page.locator(".card").count() == min(10, tasks[task])
        # the box overlay: hidden, then shown, one box per referenced object, at the answer's pixels
        box = page.locator(".card").first.locator("svg.boxes")
        assert not box.is_visible()
        page.click("#ov-boxes")
        assert box.is_visible()
        first_id = page.locator(".card").first.get_attribute("data-id")
        row = next(r for r in rows if r["id"] == first_id)
        scene = SceneGraph.from_json(row["scene"])
        v = next(v for v in scene.views if v.id == row["view_ids"][0])
        want = [v.objects[o].bbox_visible for o in row["objects"] if v.objects[o].bbox_visible]
        rects = box.locator("rect")
        assert rects.count() == len(want)
        got = [[float(rects.nth(k).get_attribute(a)) for a in ("x", "y", "width", "height")] for k in range(len(want))]
        assert got == [[b[0], b[1], b[2] - b[0] + 1, b[3] - b[1] + 1] for b in want]
        if task == "box2d":
            b = json.loads(row["answer"])
            assert got[0] == [b[0], b[1], b[2] - b[0] + 1, b[3] - b[1] + 1]
        page.click("#ov-depth")
        assert page.locator(".card").first.locator("img.depth").first.is_visible()
        page.screenshot(path=str(tmp_path / "boxes.png"))
        # a factor value and the search box, against counts from the Parquet's factors and questions
        page.select_option("#f-task", "")
        refs = Counter(json.loads(r["factors"])["num_refs"] for r in rows)
        n_refs, want_n = max(refs.items(), key=lambda kv: (kv[1], kv[0]))
        page.select_option("#f-factor", "num_refs")
        page.select_option("#f-fvalue", str(n_refs))
        assert count() == want_n
        page.select_option("#f-factor", "")
        word = max(rows[len(rows) // 2]["question"].split(), key=len).upper()  # a word of some question
        page.fill("#q", word)
        assert count() == sum(word.lower() in r["question"].lower() for r in rows) > 0
        page.fill("#q", "")
        # the wrong-answers view lists exactly the rows this test made wrong, over every page
        page.click("#ov-depth")
        page.check("#wrong")
        assert count() == len(wrong_ids)
        seen = []
        while True:
            seen += page.eval_on_selector_all(".card", "cs => cs.map(c => c.dataset.id)")
            if page.is_disabled("#next"):
                break
            page.click("#next")
        assert sorted(seen) == sorted(wrong_ids)
        page.screenshot(path=str(tmp_path / "wrong.png"))
        # the summary page links back to the mistakes
        page.goto((Path(res["index"]).parent / "summary.html").as_uri())
        assert page.locator("#scores").count() == 1
        page.screenshot(path=str(tmp_path / "summary.png"), full_page=True)
        page.click("text=Page through the wrong answers")
        page.wait_for_selector("#count[data-count]", state="attached")
        assert count() == len(wrong_ids)
        browser.close()
    assert errors == []
    print(f"screenshots: {tmp_path}/*.png")


def test_serve_answers_on_loopback(dataset, tmp_path):
    # --serve: the gallery over http://127.0.0.1:PORT/ (the process started here is stopped by its pid)
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "view", str(dataset), "--out", str(tmp_path / "g"),
                             "--per-task", "1", "--serve", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        body = None
        for _ in range(300):
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        assert body == (tmp_path / "g" / "index.html").read_bytes()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _cards(gallery: Path) -> list[dict]:
    """The card records a gallery's data/rows-*.js files hold (``SF.addRows([...]);``)."""
    cards = []
    for f in sorted((gallery / "data").glob("rows-*.js")):
        text = f.read_text(encoding="utf-8").strip()
        assert text.startswith("SF.addRows(") and text.endswith(");")
        cards += json.loads(text[len("SF.addRows("):-2])
    return cards


def test_walkthrough_video_on_its_cards(dataset, tmp_path):
    """A walkthrough dataset with output.video=true: every card whose views are exactly the path's
    frames shows a copy of the path's MP4 (same bytes, in the gallery folder, content-named); with
    the MP4 removed, and for an image dataset, no card has a video and no video/ folder is written."""
    ds = tmp_path / "walk"
    assert main(["generate", "preset=video", "camera.width=128", "camera.height=128", "qa.balancing.varied=false",
                 "camera.walkthrough.fps=2", "camera.walkthrough.duration_s=2", "num_scenes=1", "output.video=true",
                 "progress=false", "executor.workers=1", "split.ratios.train=1.0", "split.ratios.validation=0",
                 "split.ratios.test=0", f"out={ds}"]) == 0
    mp4 = ds / "videos" / "s000000000-path_0.mp4"
    rows = _rows(ds, ["id", "scene", "view_ids"])
    (path,) = SceneGraph.from_json(rows[0]["scene"]).paths
    on_path = {r["id"] for r in rows if r["view_ids"] == path["view_ids"]}
    assert mp4.is_file() and path["id"] == "path_0" and on_path  # the preset's rows use the whole path
    res = build_view(ds, tmp_path / "g", per_task=50, page_size=500)
    gallery = Path(res["index"]).parent
    cards = _cards(gallery)
    assert len(cards) == res["rows"] == len(rows)  # the sample is the whole small dataset
    with_video = {c["id"]: c["video"] for c in cards if "video" in c}
    assert set(with_video) == on_path
    import hashlib

    (rel,) = set(with_video.values())  # one path, one file shared by its cards
    assert rel == f"video/{hashlib.sha1(mp4.read_bytes()).hexdigest()[:20]}.mp4"
    assert (gallery / rel).read_bytes() == mp4.read_bytes()
    assert rel in json.loads((gallery / "viewer.json").read_text())["files"]

    import importlib.util

    if CHROMIUM.exists() and importlib.util.find_spec("playwright"):  # the browser check where make test has one
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:  # the page draws a <video controls> under the strip of those cards
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(Path(res["index"]).as_uri())
            page.wait_for_selector("#count[data-count]", state="attached")  # the cards are drawn
            got = page.eval_on_selector_all(".card", "cs => cs.map(c => [c.dataset.id, "
                                            "Array.from(c.querySelectorAll('.strip-col > .frames + video[controls]'))"
                                            ".map(v => v.getAttribute('src'))])")
            browser.close()
        assert {i: s for i, s in got if s} == {i: [rel] for i in with_video}

    shutil.rmtree(ds / "videos")  # the same rows without their MP4: the same cards, none with a video
    res2 = build_view(ds, tmp_path / "g2", per_task=50, page_size=500)
    assert _cards(Path(res2["index"]).parent) == [{k: v for k, v in c.items() if k != "video"} for c in cards]
    assert not (Path(res2["index"]).parent / "video").exists()
    res3 = build_view(dataset, tmp_path / "g3", per_task=5)  # an image dataset
    assert res3["rows"] > 0 and not any("video" in c for c in _cards(Path(res3["index"]).parent))
    assert not (Path(res3["index"]).parent / "video").exists()
