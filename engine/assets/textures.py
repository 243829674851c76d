"""Procedural, seamlessly tiling surface textures: wood planks, tiles, carpet, plain, plaster.

A texture is generated deterministically from its parameters (stored in ``scene.materials``,
seed included) with a ``numpy.random.Generator`` seeded from that seed, and cached by those
parameters. Colours in the spec are linear RGB; pixels are gamma-2.2 encoded uint8 (like any
image file, and as the renderers decode them: ``linear = (texel / 255) ** 2.2``); the renderer
multiplies the decoded texel by the vertex colour (white for room surfaces). Textures tile
(wrap) on both axes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

import numpy as np
import scipy.fft

KINDS = ("wood", "tiles", "carpet", "plain", "plaster")
DEFAULT_SIZE = 256
GAMMA = 2.2  # texel encoding: texel = 255 * linear ** (1 / GAMMA)


def _periodic_noise(rng: np.random.Generator, size: int, sigma: tuple[float, float]) -> np.ndarray:
    """(size, size) float32 smooth noise with zero mean and unit std that tiles.

    White noise blurred by a Gaussian of std ``sigma`` (rows, columns) pixels as a circular
    convolution, done in the Fourier domain (the Gaussian's transfer function
    exp(-2 pi^2 sigma^2 f^2)); ~10x faster than a spatial wrap-mode filter for wide blurs."""
    white = rng.standard_normal((size, size), dtype=np.float32)
    n = scipy.fft.irfft2(scipy.fft.rfft2(white) * _gaussian_gain(size, *sigma), s=(size, size))  # float32
    n -= n.mean()
    n *= np.float32(1.0 / (n.std() + 1e-12))
    return n


@lru_cache(maxsize=32)
def _gaussian_gain(size: int, sigma_v: float, sigma_u: float) -> np.ndarray:
    """(size, size // 2 + 1) transfer function of a Gaussian blur on the rfft2 grid (read-only)."""
    fv = np.fft.fftfreq(size)[:, None]
    fu = np.fft.rfftfreq(size)[None, :]
    gain = np.exp(-2.0 * np.pi**2 * ((sigma_v * fv) ** 2 + (sigma_u * fu) ** 2)).astype(np.float32)
    gain.setflags(write=False)
    return gain


def _wood(rng, size, c1, c2, p) -> tuple[np.ndarray, np.ndarray]:
    """Planks along u (columns), ``planks`` rows per texture, staggered seams, grain stripes.
    Height: 1 on planks, 0 in the gaps and butt joints, grain as +-0.15 ripples."""
    planks = int(p.get("planks", 4))
    h = size // planks
    tone = rng.uniform(0.0, 1.0, planks)  # mix between the two colours per plank
    img = np.empty((size, size, 3), dtype=np.float32)
    grain = _periodic_noise(rng, size, (1.0, 24.0))  # long streaks along u
    height = 1.0 + np.float32(0.15) * np.tanh(grain)
    u = np.arange(size)
    for k in range(planks):
        rows = slice(k * h, (k + 1) * h if k < planks - 1 else size)  # the last plank takes the rest
        col = (c1 * (1 - tone[k]) + c2 * tone[k]).astype(np.float32)
        g = 1.0 + np.float32(p.get("grain", 0.12)) * grain[rows]
        g *= (1.0 + 0.05 * np.sin(2 * np.pi * (u * rng.integers(2, 5) / size + rng.uniform()))).astype(np.float32)
        img[rows] = col * g[..., None]
        seam = int(rng.integers(0, size))  # one butt joint per plank row, wrapped
        img[rows, seam % size] *= 0.55
        height[rows, seam % size] = 0.0
    img[::h] *= 0.5  # gaps between plank rows
    height[::h] = 0.0
    return img, height


def _tiles(rng, size, c1, c2, p) -> tuple[np.ndarray, np.ndarray]:
    """``tiles`` x ``tiles`` square tiles of colour ``c1`` (slightly varied) with grout ``c2``.
    Height: 1 on tiles, 0 in the grout lines."""
    n = int(p.get("tiles", 4))
    t = size // n
    var = rng.uniform(-1.0, 1.0, (n, n)) * float(p.get("variation", 0.06))
    idx = np.minimum(np.arange(size) // t, n - 1)
    img = c1.astype(np.float32) * (1.0 + var[idx][:, idx]).astype(np.float32)[..., None]
    img *= (1.0 + np.float32(0.03) * _periodic_noise(rng, size, (2.0, 2.0)))[..., None]
    gw = max(1, int(round(t * float(p.get("grout", 0.06)))))
    line = (np.arange(size) % t) < gw
    img[line, :] = c2
    img[:, line] = c2
    height = np.ones((size, size), np.float32)
    height[line, :] = 0.0
    height[:, line] = 0.0
    return img, height


def _carpet(rng, size, c1, c2, p) -> tuple[np.ndarray, np.ndarray]:
    """Fibre noise: fine per-pixel noise over a soft blotch pattern between ``c1`` and ``c2``.
    Height: the fibre noise (0.5 +- 0.5)."""
    blot = 0.5 + 0.5 * np.tanh(_periodic_noise(rng, size, (8.0, 8.0)))
    fine = _periodic_noise(rng, size, (0.6, 0.6))
    # c1 * (1 - 0.35 blot) + c2 * 0.35 blot, times the fibre noise
    c1, c2 = c1.astype(np.float32), c2.astype(np.float32)
    img = c1 + (blot * np.float32(0.35))[..., None] * (c2 - c1)
    img *= (1.0 + np.float32(p.get("noise", 0.10)) * fine)[..., None]
    return img, 0.5 + 0.5 * np.tanh(fine)


def _plaster(rng, size, c1, c2, p) -> tuple[np.ndarray, np.ndarray]:
    """Faint smooth mottling of ``c1`` (walls). Height: the mottling (0.5 +- 0.5)."""
    n = _periodic_noise(rng, size, (6.0, 6.0))
    return c1.astype(np.float32) * (1.0 + np.float32(p.get("noise", 0.04)) * n)[..., None], 0.5 + 0.5 * np.tanh(n)


def _plain(rng, size, c1, c2, p) -> tuple[np.ndarray, np.ndarray]:
    return np.broadcast_to(c1, (size, size, 3)).copy(), np.zeros((size, size), np.float32)


_MAKERS = {"wood": _wood, "tiles": _tiles, "carpet": _carpet, "plain": _plain, "plaster": _plaster}
_NON_PARAMS = {"texture", "color", "color2", "seed", "scale_m", "specular", "shininess", "extent_m", "size"}


@lru_cache(maxsize=64)
def _cached(kind: str, c1: tuple, c2: tuple, seed: int, size: int, params: tuple) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.Generator(np.random.PCG64(seed))
    img, height = _MAKERS[kind](rng, size, np.asarray(c1), np.asarray(c2), dict(params))
    lin = np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)
    out = np.round(np.power(lin, np.float32(1.0 / GAMMA)) * np.float32(255.0)).astype(np.uint8)
    out.setflags(write=False)
    h = np.clip(np.asarray(height, dtype=np.float32), 0.0, 1.0)
    h.setflags(write=False)
    return out, h


def make_texture(spec: Mapping[str, Any], size: int | None = None) -> np.ndarray:
    """Generate (or fetch from the cache) the texture a surface spec describes.

    Args:
        spec: e.g. ``scene.materials["floor"]``: ``texture`` (one of :data:`KINDS`), ``color``
            and ``color2`` (linear RGB in [0, 1]), ``seed`` (non-negative int), optional
            ``size`` (pixels, default 256) and kind parameters (wood: ``planks``, ``grain``;
            tiles: ``tiles``, ``grout``, ``variation``; carpet/plaster: ``noise``).
        size: overrides ``spec["size"]``.

    Returns a read-only (size, size, 3) uint8 gamma-encoded RGB array; same spec -> same bytes.
    """
    return _cached(*_cache_key(spec, size))[0]


def make_height_map(spec: Mapping[str, Any], size: int | None = None) -> np.ndarray:
    """The relief that goes with :func:`make_texture` (same spec, same pixel grid, same tiling).

    Returns a read-only (size, size) float32 array in [0, 1]: 1 = the surface's top (planks,
    tiles), 0 = the bottom of a groove (plank gaps and butt joints, grout lines); carpet and
    plaster give their fibre / mottling noise around 0.5, plain surfaces 0 everywhere. The
    renderer's normal detail (``quality: high``) scales it by the recorded ``bump_mm``.
    """
    return _cached(*_cache_key(spec, size))[1]


def _cache_key(spec: Mapping[str, Any], size: int | None) -> tuple:
    """The arguments of :func:`_cached` for a spec (validated; ValueError names the bad field)."""
    kind = spec.get("texture")
    if kind not in _MAKERS:
        raise ValueError(f"texture: {kind!r} is not one of {KINDS}")
    seed = spec.get("seed")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"texture seed: must be a non-negative int, got {seed!r}")
    cols = []
    for key in ("color", "color2"):
        c = spec.get(key)
        if not (isinstance(c, (list, tuple)) and len(c) == 3 and all(0 <= float(x) <= 1 for x in c)):
            raise ValueError(f"texture {key}: must be linear RGB [r, g, b] in [0, 1], got {c!r}")
        cols.append(tuple(float(x) for x in c))
    n = int(size or spec.get("size", DEFAULT_SIZE))
    if n < 16:
        raise ValueError(f"texture size: must be >= 16 pixels, got {n}")
    params = tuple(sorted((k, float(v)) for k, v in spec.items() if k not in _NON_PARAMS))
    return kind, cols[0], cols[1], int(seed), n, params
