"""Geometry-masked FXAA: the anti-aliasing of the moderngl backend's one-pass colour
(``render.antialias: edge``, docs/rendering.md).

The one-pass colour is shaded once per pixel at its centre, with no multisampling. Only the
pixels on a geometric edge are then filtered, found exactly from the pass's own id and depth
images (:func:`edge_pixels`): a 4-neighbour with another instance id (object silhouettes, object
against room), or a crease in inverse depth ``w = 1 / z``, which is affine in the pixel
coordinates on any plane (``|w_left + w_right - 2 w| > CREASE * w``, or the same vertically: a
fold between two faces, a wall meeting the floor or the skirting, the sky behind a window). Those
pixels get the FXAA filter (the four diagonal lumas give the edge direction; two or four
bilinear taps along it; the wider blend is kept unless it leaves the local luma range), in
numpy on the read-back image (:func:`fxaa`); every other pixel is kept unchanged, so texture
detail (plank seams, grout) is not blurred. Ids, depth and the visibility statistics do not
depend on it. On llvmpipe at 512 x 512 a full-screen GL pass doing the edge test cost about 16
ms, the same filter drawn as one GL point per edge pixel about 6 ms (tests/test_render.py keeps
that GL version as the reference the numpy filter is checked against: within one 8-bit level on
at least 99.9 % of the edge pixels of rendered views), the numpy filter about 3.
"""

from __future__ import annotations

import numpy as np

CREASE = 0.002  # relative curvature of inverse depth per pixel step that counts as a crease
_BAND = 64  # image rows per block of the crease test (64 x 512 float32: 128 KB per temporary)


def edge_pixels(ids: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """(N, 2) int64 [column, row] of the pixels on a geometric edge (see the module docstring).

    Args:
        ids: (H, W) int32 instance ids; depth: (H, W) float32 camera z (m), 0 where nothing was hit.
    """
    e = np.zeros(ids.shape, dtype=bool)
    d = ids[:, 1:] != ids[:, :-1]
    e[:, 1:] = d
    e[:, :-1] |= d
    d = ids[1:] != ids[:-1]
    e[1:] |= d
    e[:-1] |= d
    # the crease test in bands of _BAND rows, each reading the row either side: its temporaries stay
    # small (cache-resident, and not mapped afresh per view by malloc)
    H = ids.shape[0]
    for r0 in range(1, H - 1, _BAND):
        r1 = min(r0 + _BAND, H - 1)
        dd = depth[r0 - 1:r1 + 1]
        w = np.zeros(dd.shape, dtype=np.float32)
        np.divide(np.float32(1.0), dd, out=w, where=dd > 0)  # 0 where nothing was hit
        # |w_a + w_b - 2 w| > CREASE w, as two comparisons of w_a + w_b (w >= 0): fewer passes
        mid = w[1:-1, 1:-1]
        hi, lo = mid * np.float32(2.0 + CREASE), mid * np.float32(2.0 - CREASE)
        inner = e[r0:r1, 1:-1]
        t = np.empty_like(mid)
        for a, b in ((w[1:-1, :-2], w[1:-1, 2:]), (w[:-2, 1:-1], w[2:, 1:-1])):  # across columns, across rows
            np.add(a, b, out=t)
            inner |= t > hi
            inner |= t < lo
    rows, cols = np.divmod(np.flatnonzero(e), e.shape[1])  # row-major, as np.nonzero; ~10x faster on 2-D
    return np.stack([cols, rows], axis=1)


_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


_PAD = 8  # texels of clamp-to-edge padding: the widest tap reaches 0.5 * 8 + 1 texels from the pixel


def fxaa(rgb: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """FXAA on the listed pixels of an image: the direction from the four diagonal lumas, two
    taps along it (``a``), two more further out (``b``), ``b`` unless its luma leaves the range
    of the centre and diagonal lumas (FXAA's "console" variant, one pixel at a time).

    Args:
        rgb: (H, W, 3) uint8, gamma-encoded, as shaded (row 0 = GL row 0; read only).
        pixels: (N, 2) [column, row] of the pixels to filter (e.g. :func:`edge_pixels`).

    Returns a copy of ``rgb`` with those pixels filtered. Taps read the unfiltered image with
    bilinear interpolation and clamp-to-edge addressing, as the GL sampler does; results round to
    the nearest 8-bit level (GL samples 8-bit textures with 8-bit interpolation weights, so the
    two can differ by one level where a tap falls between texels).
    """
    H, W = rgb.shape[:2]
    out = rgb.copy()
    if not len(pixels):
        return out
    texels = np.pad(rgb, ((_PAD, _PAD), (_PAD, _PAD), (0, 0)), mode="edge").reshape(-1, 3)  # clamp-to-edge
    stride = W + 2 * _PAD
    x = np.asarray(pixels[:, 0], dtype=np.intp)
    y = np.asarray(pixels[:, 1], dtype=np.intp)
    base = (y + _PAD) * stride + (x + _PAD)  # each pixel's row in ``texels``

    def texel(rows) -> np.ndarray:
        """(N, 3) float32 0..255 of the texels at ``rows`` of ``texels``."""
        return np.take(texels, rows, axis=0).astype(np.float32)

    def bilinear(sx, sy) -> np.ndarray:
        """(N, 3) float32 0..255, bilinear, at offsets (sx, sy) texels from each pixel's centre
        (|offset| < _PAD - 1): the texels at floor(offset) and floor(offset) + 1 from the pixel,
        weighted by the offset's fraction."""
        ix, iy = np.floor(sx), np.floor(sy)
        # the fractions repeated over the 3 channels: a (N, 1) operand makes numpy loop 3 items at a time
        fx, fy = np.repeat(sx - ix, 3).reshape(-1, 3), np.repeat(sy - iy, 3).reshape(-1, 3)
        r00 = iy.astype(np.intp)
        r00 *= stride
        r00 += base
        r00 += ix.astype(np.intp)
        top = texel(r00)
        top += (texel(r00 + 1) - top) * fx
        r00 += stride
        bottom = texel(r00)
        r00 += 1
        bottom += (texel(r00) - bottom) * fx
        top += (bottom - top) * fy
        return top

    lm = texel(base) @ _LUMA
    # full-pixel diagonal offsets from the pixel centre land on the diagonal neighbours' centres
    l00, l10 = texel(base - stride - 1) @ _LUMA, texel(base - stride + 1) @ _LUMA
    l01, l11 = texel(base + stride - 1) @ _LUMA, texel(base + stride + 1) @ _LUMA
    lo = np.minimum(np.minimum(lm, l00), np.minimum(np.minimum(l10, l01), l11))
    hi = np.maximum(np.maximum(lm, l00), np.maximum(np.maximum(l10, l01), l11))
    dx = (l01 + l11) - (l00 + l10)
    dy = (l00 + l01) - (l10 + l11)
    reduce = np.maximum((l00 + l10 + l01 + l11) * np.float32(0.25 / 8.0), np.float32(255.0 / 128.0))  # lumas 0..255
    rcp = 1.0 / (np.minimum(np.abs(dx), np.abs(dy)) + reduce)
    dx = np.clip(dx * rcp, -8.0, 8.0)  # texels
    dy = np.clip(dy * rcp, -8.0, 8.0)
    a = bilinear(dx * (1 / 3 - 0.5), dy * (1 / 3 - 0.5))
    a += bilinear(dx * (2 / 3 - 0.5), dy * (2 / 3 - 0.5))
    a *= 0.5
    b = bilinear(-0.5 * dx, -0.5 * dy)
    b += bilinear(0.5 * dx, 0.5 * dy)
    b *= 0.25
    b += 0.5 * a
    lb = b @ _LUMA
    res = np.where(((lb < lo) | (lb > hi))[:, None], a, b)
    out.reshape(-1, 3)[y * W + x] = np.rint(res).astype(np.uint8)  # within 0..255: convex combinations of texels
    return out
