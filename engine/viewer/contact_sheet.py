"""A PNG contact sheet of rendered views: one row per view, RGB | depth | instance ids."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from engine.atomic import atomic_save_png
from engine.render.types import Frame

# Fixed id palette: a seeded permutation of well-spread hues, so an id gets the same colour in
# every sheet. Id 0 (background, room surfaces) is dark grey.
_PALETTE_SIZE = 256


def id_palette(n: int = _PALETTE_SIZE) -> np.ndarray:
    """(n, 3) uint8 colours for instance ids 0..n-1 (id 0 dark grey); the same on every call."""
    rng = np.random.Generator(np.random.PCG64(12345))  # fixed: a palette, not a sampled quantity
    hues = (np.arange(n) * 0.618033988749895) % 1.0
    sat = rng.uniform(0.55, 0.95, n)
    val = rng.uniform(0.7, 1.0, n)
    i = np.floor(hues * 6).astype(int) % 6
    f = hues * 6 - np.floor(hues * 6)
    p, q, t = val * (1 - sat), val * (1 - f * sat), val * (1 - (1 - f) * sat)
    table = np.stack([np.choose(i, [val, q, p, p, t, val]), np.choose(i, [t, val, val, q, p, p]),
                      np.choose(i, [p, p, t, val, val, q])], axis=1)
    out = (table * 255).astype(np.uint8)
    out[0] = (40, 40, 40)
    return out


def colorize_depth(depth: np.ndarray) -> np.ndarray:
    """(H, W) float32 metres -> (H, W, 3) uint8 with matplotlib's turbo map (near blue, far red).

    The range is the frame's own [min, max] over pixels with depth > 0; misses are black.
    """
    from matplotlib import colormaps

    hit = depth > 0
    out = np.zeros((*depth.shape, 3), np.uint8)
    if hit.any():
        lo, hi = float(depth[hit].min()), float(depth[hit].max())
        x = (depth[hit] - lo) / max(hi - lo, 1e-6)
        out[hit] = (colormaps["turbo"](x)[:, :3] * 255).astype(np.uint8)
    return out


def colorize_ids(ids: np.ndarray) -> np.ndarray:
    """(H, W) int32 instance ids -> (H, W, 3) uint8 with the fixed :func:`id_palette`."""
    pal = id_palette()
    return pal[np.asarray(ids) % len(pal)]


def contact_sheet(frames: Sequence[Frame], path: str | os.PathLike, titles: Sequence[str] | None = None,
                  max_width: int = 512) -> Path:
    """Write a PNG grid, one row per frame: RGB | depth (turbo) | ids (fixed palette).

    Args:
        frames: rendered frames (any sizes; each tile is scaled to at most ``max_width`` wide).
        path: output PNG path (written atomically: temporary file in the same folder, then
            os.replace).
        titles: optional caption per row (e.g. ``"s000000003 view_1"``).
    Returns the path written.
    """
    if not frames:
        raise ValueError("contact_sheet: frames is empty; fix: pass at least one rendered Frame")
    if titles is not None and len(titles) != len(frames):
        raise ValueError(f"contact_sheet: {len(titles)} titles for {len(frames)} frames; fix: one title per frame")
    rows = []
    for k, fr in enumerate(frames):
        tiles = [fr.rgb, colorize_depth(fr.depth), colorize_ids(fr.ids)]
        h, w = fr.rgb.shape[:2]
        scale = min(1.0, max_width / w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        ims = [Image.fromarray(t).resize(size, Image.NEAREST if i == 2 else Image.BILINEAR) for i, t in enumerate(tiles)]
        cap = 18 if titles is not None else 0
        row = Image.new("RGB", (3 * size[0] + 8, size[1] + cap), (255, 255, 255))
        for i, im in enumerate(ims):
            row.paste(im, (i * (size[0] + 4), cap))
        if titles is not None:
            ImageDraw.Draw(row).text((4, 3), str(titles[k]), fill=(0, 0, 0))
        rows.append(row)
    W = max(r.width for r in rows)
    sheet = Image.new("RGB", (W, sum(r.height + 4 for r in rows)), (255, 255, 255))
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height + 4
    return atomic_save_png(sheet, path)
