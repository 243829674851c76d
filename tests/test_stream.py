"""The streaming dataset (engine/pipeline/stream.py, engine/pipeline/torch_stream.py): a DataLoader
with 2 workers yields the same samples on every run and no sample twice, the same set as 0 workers
and as the ``datasets.IterableDataset`` path; the samples are the offline pipeline's rows (same
ids, text and pixels); the collate function round-trips a batch of mixed view counts; torch and
the renderer share a process in either import order.

Tiny job: 4 scenes at 64x64, one scene per block, so 2 workers get 2 blocks each.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the optional extra `stream` (make test installs it)

from torch.utils.data import DataLoader  # noqa: E402

import engine.pipeline.stream as stream_module  # noqa: E402
from engine.pipeline.config import load_job  # noqa: E402
from engine.schema import ConfigError  # noqa: E402
from engine.pipeline.stream import SampleStream, hf_stream, shuffle_rng, shuffled  # noqa: E402
from engine.pipeline.torch_stream import SpatialStream, collate_samples, consumer_of, to_torch, uncollate  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BASE = ["camera.width=64", "camera.height=64", "output.scenes_per_shard=1", "seed=3", "render.shadow_map_size=256",
        "render.msaa_samples=1", "qa.questions_per_view=4", "progress=false"]
OV = BASE + ["num_scenes=4"]
# This test process renders (in-process tests, the num_workers=0 pass), so its DataLoader workers are
# spawned: Mesa's GL state does not survive a fork (test_fork_after_render_is_refused).
CTX = "spawn"


def _key(s: dict) -> tuple:
    """A sample's identity: id, text and a digest of its pixels (torch or numpy images)."""
    imgs = s["images"]
    data = imgs.numpy().tobytes() if hasattr(imgs, "numpy") else np.stack(imgs).transpose(0, 3, 1, 2).tobytes() if imgs else b""
    return (s["id"], s["question"], s["answer"], s["value"], hashlib.sha256(data).hexdigest())


@pytest.fixture(scope="module")
def ds():
    return SpatialStream(OV)


@pytest.fixture(scope="module")
def main_process(ds):
    """The samples with num_workers=0 (this process renders; the workers forked later must not
    reuse its GL context)."""
    return [_key(s) for s in DataLoader(ds, batch_size=None, num_workers=0)]


def test_two_workers_same_samples_twice_none_twice(ds, request):
    runs = [[_key(s) for s in DataLoader(ds, batch_size=None, num_workers=2, multiprocessing_context=CTX)]
            for _ in range(2)]
    # the workers made their stages and GL contexts; the parent made none
    assert (os.getpid(), ds.stream.job.config_hash) not in stream_module._STAGES
    main_process = request.getfixturevalue("main_process")
    assert runs[0] == runs[1]  # same samples, same order
    assert len(runs[0]) == len(set(runs[0])) > 20  # no sample twice
    assert sorted(runs[0]) == sorted(main_process)  # the same set as one consumer
    ids = [k[0] for k in runs[0]]
    # worker 0 takes scenes 0 and 2, worker 1 scenes 1 and 3; the DataLoader alternates workers
    assert {i.split("_")[0] for i in ids} == {f"s{k:09d}" for k in range(4)}


def test_consumers_partition_blocks():
    st = SampleStream.from_overrides(["num_scenes=23", "output.scenes_per_shard=2"])
    assert st.num_blocks == 12
    for n in (1, 2, 3, 5, 12, 13):
        blocks = [b for g in range(n) for b in st.blocks(g, n)]
        assert sorted(blocks) == list(range(12))  # disjoint and complete
    assert list(st.block_scenes(11)) == [22]
    assert consumer_of(1, 2, 1, 2) == (3, 4) and consumer_of(0, 4, 0, 1) == (0, 4)
    assert SampleStream(st.job, infinite=True).num_scenes == 10**9


def test_ranks_split_the_stream(ds, main_process):
    job = ds.stream.job
    parts = [[_key(s) for s in SpatialStream(job=job, rank=r, world_size=2)] for r in range(2)]
    assert not set(parts[0]) & set(parts[1])
    assert sorted(parts[0] + parts[1]) == sorted(main_process)
    with pytest.raises(ValueError, match="world_size"):
        SpatialStream(job=job, rank=2, world_size=2)


def test_hf_iterable_dataset_same_samples(ds, main_process):
    import datasets

    h = hf_stream(job=ds.stream.job)
    assert isinstance(h, datasets.IterableDataset) and h.n_shards == 4
    assert sorted(_key(s) for s in h) == sorted(main_process)
    # the same through a DataLoader with 2 workers (datasets gives each worker 2 of the 4 blocks)
    got = [_key(to_torch(s)) for s in DataLoader(h, batch_size=None, num_workers=2, collate_fn=dict,
                                                          multiprocessing_context=CTX)]
    assert sorted(got) == sorted(main_process)


SMALL = BASE + ["num_scenes=2"]
LOSSLESS = ["output.image_format=png", "output.depth=true", "output.instance_mask=true"]


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    """The rows ``spatialforge generate`` writes for SMALL + LOSSLESS (PNG pixels, depth in mm,
    instance ids): {id: (split, row)}."""
    import pyarrow.parquet as pq

    from engine.pipeline.run import generate

    out = tmp_path_factory.mktemp("offline") / "d"
    generate(load_job(SMALL + LOSSLESS + [f"out={out}", "executor.workers=1"]))
    rows = {}
    for f in sorted((out / "data").glob("*.parquet")):
        split = f.name.split("-")[0]
        for r in pq.read_table(f).to_pylist():
            rows[r["id"]] = (split, r)
    return rows


def _png(entry: dict, rgb: bool = False) -> np.ndarray:
    """A row's PNG image entry as an array: (H, W, 3) uint8 with ``rgb``, else the 16-bit plane
    (depth in mm, instance ids)."""
    from PIL import Image

    img = Image.open(io.BytesIO(entry["bytes"]))
    return np.asarray(img.convert("RGB") if rgb else img)


def test_samples_are_the_offline_rows(offline, ds):
    """Block b yields shard b's rows: same ids and text; pixels equal the PNG images the pipeline
    wrote (marked copies included); depth equals the millimetre PNG within 0.5 mm; the split field
    is the row's split."""
    small, extra = SMALL, LOSSLESS
    stream = list(SampleStream.from_overrides(small + extra, scene_json=True).samples())
    assert len(stream) == len(offline) > 10
    marked = 0
    for s in stream:
        split, r = offline[s["id"]]
        assert s["split"] == split
        for k in ("scene_id", "view_ids", "question", "answer", "choices", "answer_index", "value", "unit",
                  "objects", "marks", "meta", "factors", "rationale", "scene"):
            assert s[k] == r[k], (s["id"], k)
        assert len(s["images"]) == len(r["images"]) == len(s["view_ids"])
        for a, b in zip(s["images"], r["images"]):
            assert np.array_equal(a, _png(b, rgb=True))
        for a, b in zip(s["depths"], r["depths"]):
            assert np.abs(a * 1000.0 - _png(b).astype(float)).max() <= 0.5
        for a, b in zip(s["instance_masks"], r["instance_masks"]):
            assert np.array_equal(a, _png(b))
        marked += s["marks"] is not None
    assert marked > 0  # marked copies were compared too
    train = [s["id"] for s in SampleStream.from_overrides(small, split="train").samples()]
    assert train == [s["id"] for s in stream if s["split"] == "train"]


def test_samples_of_a_view_share_its_tensors(offline):
    """SpatialStream makes each view's tensors once: the samples of one view (same view ids, same
    marks) hold the very same images / depths / instance_masks tensors, a marked row has its own
    image (but its view's depth and ids), and every sample still equals the PNG row the offline
    pipeline wrote; a collated batch is a copy of its own."""
    samples = list(SpatialStream(SMALL + LOSSLESS))
    assert len(samples) == len(offline) > 10
    groups: dict[tuple, list] = {}
    for s in samples:
        r = offline[s["id"]][1]
        v = len(r["images"])
        assert s["images"].dtype == torch.uint8 and s["images"].is_contiguous()
        if v == 0:
            assert s["images"].shape == (0, 3, 0, 0)
            continue
        want = np.stack([_png(e, rgb=True) for e in r["images"]]).transpose(0, 3, 1, 2)
        assert torch.equal(s["images"], torch.from_numpy(np.ascontiguousarray(want)))
        mm = np.stack([_png(e) for e in r["depths"]]).astype(float)
        assert s["depths"].dtype == torch.float32 and np.abs(s["depths"].numpy() * 1000.0 - mm).max() <= 0.5
        assert s["instance_masks"].dtype == torch.int32
        assert np.array_equal(s["instance_masks"].numpy(), np.stack([_png(e) for e in r["instance_masks"]]))
        groups.setdefault((s["scene_id"], tuple(s["view_ids"]), s["marks"]), []).append(s)
    shared = 0
    for g in groups.values():
        for k in ("images", "depths", "instance_masks"):
            assert all(x[k] is g[0][k] for x in g), k  # one tensor per view (and marks request)
        shared += len(g) > 1
    assert shared > 0
    plain = {(sid, vids[0]): g[0] for (sid, vids, marks), g in groups.items() if len(vids) == 1 and marks is None}
    marked = [g[0] for (sid, vids, marks), g in groups.items() if len(vids) == 1 and marks is not None
              and (sid, vids[0]) in plain]
    assert marked  # rows whose question names objects by number
    for m in marked:
        p = plain[m["scene_id"], m["view_ids"][0]]
        assert m["images"].data_ptr() != p["images"].data_ptr() and not torch.equal(m["images"], p["images"])
        assert m["depths"] is p["depths"] and m["instance_masks"] is p["instance_masks"]
    a, b = plain[next(iter(plain))], marked[0]
    batch = collate_samples([a, a, b])
    batch["images"].zero_()  # the batch owns its pixels: the samples' shared tensors are untouched
    assert a["images"].any() and b["images"].any()


def test_collate_round_trip_mixed_views():
    # families chosen so both single- and two-view rows come out whatever the layouts draw
    by_views: dict[int, list] = {}
    for s in SpatialStream(BASE + ["num_scenes=4", "qa.families=[multiview,measurement,text]"]):
        by_views.setdefault(int(s["images"].shape[0]), []).append(s)
    assert 1 in by_views and 2 in by_views  # single- and multi-view samples
    batch = [by_views[1][0], by_views[2][0], by_views[1][1]] + by_views.get(0, [])[:1]
    b = collate_samples(batch)
    n = len(batch)
    assert b["images"].shape == (n, 2, 3, 64, 64) and b["images"].dtype == torch.uint8
    assert b["num_views"].tolist() == [int(s["images"].shape[0]) for s in batch]
    assert b["view_mask"].tolist()[:3] == [[True, False], [True, True], [True, False]]
    assert not b["images"][0, 1].any() and not b["images"][2, 1].any()  # padding is zeros
    assert b["question"] == [s["question"] for s in batch]
    back = uncollate(b)
    assert len(back) == n
    for s, t in zip(batch, back):
        assert s.keys() == t.keys()
        for k in s:
            if isinstance(s[k], torch.Tensor):
                assert s[k].shape == t[k].shape and torch.equal(s[k], t[k]), k
            else:
                assert s[k] == t[k], k
    # the same batch collated in a DataLoader worker (one fresh shared block, padding left untouched
    # as the kernel's zeros): the same tensors, padding zeros
    w = next(iter(DataLoader(batch, batch_size=n, num_workers=1, collate_fn=collate_samples,
                             multiprocessing_context=CTX)))
    assert len({w[k].untyped_storage().data_ptr() for k in ("num_views", "view_mask", "images")}) == 1
    for k in ("images", "num_views", "view_mask"):
        assert torch.equal(w[k], b[k]), k
    assert not w["images"][0, 1].any() and not w["images"][2, 1].any()
    with pytest.raises(ValueError, match="different sizes"):
        collate_samples([by_views[1][0], dict(by_views[1][1], images=torch.zeros((1, 3, 32, 32), dtype=torch.uint8))])


def test_dataloader_batches_with_collate(ds, main_process):
    b = next(iter(DataLoader(ds, batch_size=5, num_workers=2, collate_fn=collate_samples,
                                multiprocessing_context=CTX)))
    assert b["images"].shape[0] == 5 and b["view_mask"].shape[0] == 5 and len(b["id"]) == 5
    # the batch a worker collated (into shared memory) holds the samples' own pixels
    assert {_key(s) for s in uncollate(b)} <= set(main_process)
    # ... in one shared block for all its tensors (one descriptor to pass per batch, not one per tensor)
    assert len({b[k].untyped_storage().data_ptr() for k in ("num_views", "view_mask", "images")}) == 1
    assert b["view_mask"].sum(dim=1).tolist() == b["num_views"].tolist()
    for i, n in enumerate(b["num_views"].tolist()):
        assert not b["images"][i, n:].any()


def test_render_then_import_torch():
    """Rendering first and importing torch afterwards works in one fresh process (no LLVM or GL
    clash). The other order is this process: the module imports torch before any test renders."""
    assert "torch" in sys.modules
    code = f"""
from engine.pipeline.stream import SampleStream
s = next(SampleStream.from_overrides({OV!r}).samples())
import torch
from engine.pipeline.torch_stream import to_torch
import json
t = to_torch(s)["images"]
print(json.dumps([list(t.shape), int(t.sum())]))
"""
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    shape, total = json.loads(res.stdout.strip().splitlines()[-1])
    assert shape[1:] == [3, 64, 64] and total > 0


def _scene_runs(labels: list[int], window: int) -> float:
    """Mean number of distinct labels per window of ``window`` consecutive items (a batch's scenes)."""
    wins = [labels[i:i + window] for i in range(0, len(labels) - window + 1, window)]
    return float(np.mean([len(set(w)) for w in wins]))


def test_shuffled_buffer_meter():
    """The shuffle buffer on a stream shaped like the sample stream (scenes of 20 samples in a row):
    each item once; no item earlier than size - 1 places before its own; batches of 16 mix many
    scenes. The meter (distinct scenes per batch) fails the unshuffled stream: the planted case."""
    items = list(range(2000))
    scene = [i // 20 for i in items]
    out = list(shuffled(iter(items), 200, shuffle_rng(3, 0, 1)))
    assert sorted(out) == items and out != items
    assert all(pos >= x - 199 for pos, x in enumerate(out))
    assert out == list(shuffled(iter(items), 200, shuffle_rng(3, 0, 1)))  # the same order again
    assert out != list(shuffled(iter(items), 200, shuffle_rng(3, 1, 2)))  # another consumer's own
    assert list(shuffled(iter(items), 0, shuffle_rng(3, 0, 1))) == items
    plain, mixed = _scene_runs(scene, 16), _scene_runs([scene[x] for x in out], 16)
    assert plain <= 2.0  # the planted shortcut: a batch shows one or two scenes
    # 11.4-11.6 for seeds 0-4 (the buffer holds samples of more than its 200 / 20 = 10 newest scenes;
    # 16 uniform draws from 10 scenes alone would show 10 * (1 - 0.9 ** 16) = 8.1)
    assert mixed >= 6.5, mixed
    with pytest.raises(ConfigError, match="shuffle_buffer"):
        SampleStream(load_job(OV), shuffle_buffer=-1)
    with pytest.raises(ConfigError, match="from_overrides"):  # override strings where a job belongs
        SampleStream(OV)


def test_stream_shuffle_buffer(main_process):
    """SpatialStream and SampleStream with a shuffle buffer give the unshuffled samples (pixels
    included), each once, in the order the buffer makes of their indices; numpy and torch agree."""
    torch_keys = [_key(s) for s in SpatialStream(OV, shuffle_buffer=8)]
    numpy_keys = [_key(s) for s in SampleStream(load_job(OV), shuffle_buffer=8).samples()]
    order = list(shuffled(iter(range(len(main_process))), 8, shuffle_rng(3, 0, 1)))  # seed=3 in BASE
    assert torch_keys == numpy_keys == [main_process[i] for i in order]
    assert torch_keys != main_process and sorted(torch_keys) == sorted(main_process)


def test_data_worker_settings_only_in_workers():
    """A DataLoader worker of the stream freezes its inherited objects and pads glibc's heap
    (engine/pipeline/worker_process.py); the process iterating with num_workers=0 is the user's and
    keeps its own settings. A fresh process, so that its worker can be forked before it renders."""
    code = f"""
import gc, json, os
from torch.utils.data import DataLoader
from engine.pipeline.torch_stream import SpatialStream
from engine.pipeline.worker_process import data_worker_tuned
def probe(sample):
    return dict(data_worker_tuned(), pid=os.getpid())
ds = SpatialStream({OV!r})
w = next(iter(DataLoader(ds, batch_size=None, num_workers=1, collate_fn=probe, multiprocessing_context="fork")))
p = next(iter(DataLoader(ds, batch_size=None, num_workers=0, collate_fn=probe)))
print(json.dumps([w, p]))
"""
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    w, p = json.loads(res.stdout.strip().splitlines()[-1])
    assert w["pid"] != p["pid"] and p["pid"] != os.getpid()
    assert w["tuned"] and w["top_pad"] and w["frozen"] > 1000  # the parent's objects, frozen in the worker
    assert not p["tuned"] and not p["top_pad"] and p["frozen"] == 0


def test_fork_after_render_is_refused(main_process):
    """A worker forked from this process (which has rendered: the main_process fixture) refuses to
    make a GL context, with an error naming the fix, instead of risking a hang inside Mesa."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork start method on this platform")
    with pytest.raises(RuntimeError, match="multiprocessing_context='spawn'"):
        next(iter(DataLoader(SpatialStream(OV), batch_size=None, num_workers=1, multiprocessing_context="fork")))
