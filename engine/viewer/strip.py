"""Contact strip of a camera path: its frames as RGB thumbnails in time order, captioned."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from engine.atomic import temp_path


def frame_strip(rgbs: Sequence[np.ndarray], path: str | os.PathLike, captions: Sequence[str] | None = None,
                cols: int = 8, tile: int = 160) -> Path:
    """Write a PNG grid of ``rgbs`` ((H, W, 3) uint8 each), ``cols`` per row, left to right then
    down (time order), each scaled to ``tile`` pixels wide with its caption above; atomic write.
    Returns the path written."""
    if not len(rgbs):
        raise ValueError("frame_strip: no frames; fix: pass the rendered frames of a path")
    h, w = rgbs[0].shape[:2]
    th = max(1, round(h * tile / w))
    cap = 16 if captions is not None else 0
    rows = (len(rgbs) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * (tile + 4) + 4, rows * (th + cap + 4) + 4), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for k, rgb in enumerate(rgbs):
        r, c = divmod(k, cols)
        x, y = 4 + c * (tile + 4), 4 + r * (th + cap + 4)
        sheet.paste(Image.fromarray(np.asarray(rgb, dtype=np.uint8)).resize((tile, th), Image.BILINEAR), (x, y + cap))
        if captions is not None:
            draw.text((x + 2, y + 2), captions[k], fill=(0, 0, 0))
    p = Path(path)
    tmp = temp_path(p)
    sheet.save(tmp, format="PNG")
    os.replace(tmp, p)
    return p
