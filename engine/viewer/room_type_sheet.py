"""A contact sheet of rendered views grouped by room type: one row per type, RGB tiles.

``make demo`` writes ``room_types.png`` (24 views across the six room types) with it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from engine.atomic import atomic_save_png


def room_type_sheet(rows: Mapping[str, Sequence[tuple[str, np.ndarray]]], path: str | os.PathLike,
                    tile: int = 192) -> Path:
    """Write a PNG with one row per room type (in ``rows``' order): the type's name, then its
    (title, RGB (H, W, 3) uint8) tiles scaled to ``tile`` pixels wide, each captioned with its
    title. Returns the path (written atomically)."""
    if not rows or not any(rows.values()):
        raise ValueError("room_type_sheet: no views; fix: pass at least one rendered view per room type")
    label_w, cap = 96, 14
    ncol = max(len(v) for v in rows.values())
    h = tile + cap
    sheet = Image.new("RGB", (label_w + ncol * (tile + 2), len(rows) * (h + 2)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for r, (name, tiles) in enumerate(rows.items()):
        y = r * (h + 2)
        draw.text((4, y + h // 2 - 6), str(name).replace("_", " "), fill=(0, 0, 0))
        for k, (title, rgb) in enumerate(tiles):
            im = Image.fromarray(np.asarray(rgb, np.uint8))
            im = im.resize((tile, max(1, round(im.height * tile / im.width))), Image.BILINEAR)
            x = label_w + k * (tile + 2)
            sheet.paste(im, (x, y + cap))
            draw.text((x + 2, y + 1), str(title), fill=(0, 0, 0))
    return atomic_save_png(sheet, path)
