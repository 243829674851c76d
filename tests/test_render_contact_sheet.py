"""Contact sheet: layout of the PNG grid and the fixed id palette."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.render.types import Frame
from engine.viewer.contact_sheet import colorize_depth, colorize_ids, contact_sheet, id_palette


def frame(h, w, iid):
    ids = np.zeros((h, w), np.int32)
    ids[h // 4: h // 2, w // 4: w // 2] = iid
    depth = np.where(ids > 0, 2.0, 5.0).astype(np.float32)
    depth[0] = 0  # a row of misses
    rgb = np.full((h, w, 3), 90, np.uint8)
    return Frame(rgb=rgb, depth=depth, ids=ids)


def test_sheet_has_one_row_of_three_tiles_per_frame(tmp_path):
    path = contact_sheet([frame(40, 60, 3), frame(40, 60, 7)], tmp_path / "sheet.png", ["a", "b"])
    im = np.asarray(Image.open(path).convert("RGB"))
    assert im.shape[1] == 3 * 60 + 8 and im.shape[0] == 2 * (40 + 18 + 4)
    # Second row, ids tile: the object's pixels carry the palette colour of id 7.
    y0 = 40 + 18 + 4 + 18
    assert tuple(im[y0 + 15, 2 * 64 + 20]) == tuple(id_palette()[7])
    assert tuple(im[y0 + 15, 2 * 64 + 2]) == tuple(id_palette()[0])
    assert not list(tmp_path.glob("*.png.*")) and not list(tmp_path.glob("tmp*"))


def test_palette_is_fixed_and_distinct():
    a, b = id_palette(), id_palette()
    assert np.array_equal(a, b) and len({tuple(c) for c in a[:64]}) == 64
    assert np.array_equal(colorize_ids(np.array([[0, 5]]))[0, 1], a[5])


def test_depth_colormap_marks_misses_black_and_orders_near_far():
    d = np.array([[0.0, 1.0, 3.0]], np.float32)
    c = colorize_depth(d).astype(int)
    assert c[0, 0].tolist() == [0, 0, 0] and c[0, 1].tolist() != c[0, 2].tolist()


def test_bad_input_names_the_fix(tmp_path):
    with pytest.raises(ValueError, match="frames is empty"):
        contact_sheet([], tmp_path / "x.png")
    with pytest.raises(ValueError, match="one title per frame"):
        contact_sheet([frame(8, 8, 1)], tmp_path / "x.png", ["a", "b"])
