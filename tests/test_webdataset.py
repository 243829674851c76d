"""WebDataset members: depth and instance maps decode back to their exact uint16 values with
webdataset's ordinary decode calls (a 16-bit PNG member would come back as 8-bit RGB)."""

from __future__ import annotations

import tarfile

import numpy as np
import pytest
from PIL import Image

from engine.export.webdataset import MAP_SUFFIXES, WebDatasetShardWriter, load_npy_gz, png16_to_npy_gz
from engine.pipeline.encode import decode_png16, encode_depth, encode_ids, encode_rgb

H, W = 24, 32


def _maps(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An RGB frame, a depth map in metres reaching past 8 bits of millimetres (up to 60 m) with
    misses (0), and instance ids past 255."""
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    depth = rng.uniform(0.1, 60.0, (H, W)).astype(np.float32)
    depth[:3] = 0.0
    ids = rng.integers(0, 1000, (H, W)).astype(np.int32)
    return rgb, depth, ids


def _rows(n_views: int = 2, rows_per_view: int = 3) -> tuple[list[dict], dict[str, tuple]]:
    """Dataset rows as engine.export.hf.qa_record makes them (several rows per view share its
    encoded maps), and the expected (depth mm, ids) per row id."""
    rows, want = [], {}
    for v in range(n_views):
        rgb, depth, ids = _maps(v)
        img, dep, msk = encode_rgb(rgb, "png"), encode_depth(depth), encode_ids(ids)
        for r in range(rows_per_view):
            rid = f"s000000000_v{v}_q{r}"
            rows.append({"id": rid, "question": "?", "images": [{"bytes": img, "path": None}],
                         "depths": [{"bytes": dep, "path": None}], "instance_masks": [{"bytes": msk, "path": None}]})
            want[rid] = (rgb, decode_png16(dep), ids.astype(np.uint16))
    return rows, want


def _write(path, rows) -> str:
    w = WebDatasetShardWriter(path, "png")
    for row in rows:
        w.write(row)
    return w.close()


def test_members_and_reproducible_bytes(tmp_path):
    rows, _ = _rows()
    digest = _write(tmp_path / "a.tar", rows)
    assert _write(tmp_path / "b.tar", rows) == digest
    with tarfile.open(tmp_path / "a.tar") as tar:
        names = tar.getnames()
    rid = rows[0]["id"]
    assert [n for n in names if n.startswith(rid + ".")] == [
        f"{rid}.json", f"{rid}.0.png", f"{rid}.0.depth.npy.gz", f"{rid}.0.mask.npy.gz"]
    assert set(MAP_SUFFIXES.values()) == {"depth.npy.gz", "mask.npy.gz"}


def test_npy_gz_round_trip_without_webdataset():
    _, depth, ids = _maps(3)
    png = encode_depth(depth)
    out = load_npy_gz(png16_to_npy_gz(png))
    assert out.dtype == np.uint16 and np.array_equal(out, decode_png16(png))
    assert np.array_equal(out, np.clip(np.rint(depth.astype(np.float64) * 1000), 0, 65535))
    assert out.max() > 255  # the point: millimetres past 8 bits survive
    assert np.array_equal(load_npy_gz(png16_to_npy_gz(encode_ids(ids))), ids)
    with pytest.raises(ValueError, match="16-bit single-channel"):
        png16_to_npy_gz(encode_rgb(np.zeros((4, 4, 3), np.uint8), "png"))


@pytest.mark.parametrize("spec", ["pil", "rgb8", "l", None])
def test_webdataset_decoders_keep_16_bits(tmp_path, spec):
    wds = pytest.importorskip("webdataset")
    rows, want = _rows()
    path = tmp_path / "shard.tar"
    _write(path, rows)
    ds = wds.WebDataset(str(path), shardshuffle=False)
    ds = ds.decode(spec) if spec else ds.decode()
    seen = 0
    for sample in ds:
        rgb, depth_mm, ids = want[sample["__key__"]]
        for name, exact in (("0.depth.npy.gz", depth_mm), ("0.mask.npy.gz", ids)):
            got = sample[name]
            assert isinstance(got, np.ndarray) and got.dtype == np.uint16, (spec, name, type(got))
            assert np.array_equal(got, exact), (spec, name)
        if spec == "pil":
            assert np.array_equal(np.asarray(sample["0.png"]), rgb)
        assert sample["json"]["question"] == "?"
        seen += 1
    assert seen == len(rows)


def test_a_16_bit_png_member_would_lose_its_millimetres():
    """Why the maps are not PNG members: webdataset's image decoder converts to 8-bit."""
    autodecode = pytest.importorskip("webdataset.autodecode")
    _, depth, _ = _maps(1)
    png = encode_depth(depth)
    decoded = autodecode.ImageHandler("pil")("x.0.depth.png", png)
    assert isinstance(decoded, Image.Image) and decoded.mode == "RGB"
    assert not np.array_equal(np.asarray(decoded)[..., 0].astype(np.uint16), decode_png16(png))
