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


def _wood_draws(rng, size, planks) -> dict:
    """The random part of a wood texture, in the order the generator is read."""
    tone = rng.uniform(0.0, 1.0, planks)  # mix between the two colours per plank
    grain = _periodic_noise(rng, size, (1.0, 24.0))  # long streaks along u
    freq, phase, seam = [], [], []
    for _ in range(planks):
        freq.append(int(rng.integers(2, 5)))
        phase.append(rng.uniform())
        seam.append(int(rng.integers(0, size)))  # one butt joint per plank row, wrapped
    return {"tone": tone, "grain": grain, "freq": freq, "phase": phase, "seam": seam}


def _wood(d, size, c1, c2, p) -> tuple[np.ndarray, np.ndarray]:
    """Planks along u (columns), ``planks`` rows per texture, staggered seams, grain stripes.
    Height: 1 on planks, 0 in the gaps and butt joints, grain as +-0.15 ripples."""
    planks = int(p.get("planks", 4))
    h = size // planks
    tone, grain = d["tone"], d["grain"]
    img = np.empty((size, size, 3), dtype=np.float32)
    height = 1.0 + np.float32(0.15) * np.tanh(grain)
    u = np.arange(size)
    for k in range(planks):
        rows = slice(k * h, (k + 1) * h if k < planks - 1 else size)  # the last plank takes the rest
        col = (c1 * (1 - tone[k]) + c2 * tone[k]).astype(np.float32)
        g = 1.0 + np.float32(p.get("grain", 0.12)) * grain[rows]
        g *= (1.0 + 0.05 * np.sin(2 * np.pi * (u * d["freq"][k] / size + d["phase"][k]))).astype(np.float32)
        img[rows] = col * g[..., None]
        seam = d["seam"][k]
        img[rows, seam % size] *= 0.55
        height[rows, seam % size] = 0.0
    img[::h] *= 0.5  # gaps between plank rows
    height[::h] = 0.0
    return img, height


def _tiles_draws(rng, size, n) -> dict:
    return {"var": rng.uniform(-1.0, 1.0, (n, n)), "noise": _periodic_noise(rng, size, (2.0, 2.0))}


def _tiles(d, size, c1, c2, p) -> tuple[np.ndarray, np.ndarray]:
    """``tiles`` x ``tiles`` square tiles of colour ``c1`` (slightly varied) with grout ``c2``.
    Height: 1 on tiles, 0 in the grout lines."""
    n = int(p.get("tiles", 4))
    t = size // n
    var = d["var"] * float(p.get("variation", 0.06))
    idx = np.minimum(np.arange(size) // t, n - 1)
    img = c1.astype(np.float32) * (1.0 + var[idx][:, idx]).astype(np.float32)[..., None]
    img *= (1.0 + np.float32(0.03) * d["noise"])[..., None]
    gw = max(1, int(round(t * float(p.get("grout", 0.06)))))
    line = (np.arange(size) % t) < gw
    img[line, :] = c2
    img[:, line] = c2
    height = np.ones((size, size), np.float32)
    height[line, :] = 0.0
    height[:, line] = 0.0
    return img, height


def _carpet_draws(rng, size, _) -> dict:
    blot = _periodic_noise(rng, size, (8.0, 8.0))
    return {"blot": 0.5 + 0.5 * np.tanh(blot), "fine": _periodic_noise(rng, size, (0.6, 0.6))}


def _carpet(d, size, c1, c2, p) -> tuple[np.ndarray, np.ndarray]:
    """Fibre noise: fine per-pixel noise over a soft blotch pattern between ``c1`` and ``c2``.
    Height: the fibre noise (0.5 +- 0.5)."""
    blot, fine = d["blot"], d["fine"]
    # c1 * (1 - 0.35 blot) + c2 * 0.35 blot, times the fibre noise
    c1, c2 = c1.astype(np.float32), c2.astype(np.float32)
    img = c1 + (blot * np.float32(0.35))[..., None] * (c2 - c1)
    img *= (1.0 + np.float32(p.get("noise", 0.10)) * fine)[..., None]
    return img, 0.5 + 0.5 * np.tanh(fine)


def _plaster_draws(rng, size, _) -> dict:
    return {"noise": _periodic_noise(rng, size, (6.0, 6.0))}


def _plaster(d, size, c1, c2, p) -> tuple[np.ndarray, np.ndarray]:
    """Faint smooth mottling of ``c1`` (walls). Height: the mottling (0.5 +- 0.5)."""
    n = d["noise"]
    return c1.astype(np.float32) * (1.0 + np.float32(p.get("noise", 0.04)) * n)[..., None], 0.5 + 0.5 * np.tanh(n)


def _plain_draws(rng, size, _) -> dict:
    return {}


def _plain(d, size, c1, c2, p) -> tuple[np.ndarray, np.ndarray]:
    return np.broadcast_to(c1, (size, size, 3)).copy(), np.zeros((size, size), np.float32)


_MAKERS = {"wood": _wood, "tiles": _tiles, "carpet": _carpet, "plain": _plain, "plaster": _plaster}
# kind -> (draw function, the integer parameter that shapes the draws and its default)
_DRAWS = {"wood": (_wood_draws, "planks", 4), "tiles": (_tiles_draws, "tiles", 4),
          "carpet": (_carpet_draws, None, 0), "plain": (_plain_draws, None, 0), "plaster": (_plaster_draws, None, 0)}
_NON_PARAMS = {"texture", "color", "color2", "seed", "scale_m", "specular", "shininess", "extent_m", "size"}


@lru_cache(maxsize=256)
def _draws(kind: str, seed: int, size: int, shape: int) -> dict:
    """The random fields of a texture (noise, per-plank or per-tile values), read from a generator
    seeded with ``seed``; kept across scenes, since appearance sampling draws texture seeds from a
    small pool (``texture_patterns`` in scenes/appearance.yaml) while colours and amplitudes vary."""
    fn, _, _ = _DRAWS[kind]
    d = fn(np.random.Generator(np.random.PCG64(seed)), size, shape)
    for v in d.values():
        if isinstance(v, np.ndarray):
            v.setflags(write=False)
    return d


_LEVELS = 65535  # linear values are quantised to 1/65535 before the gamma table (well under one 8-bit step)


@lru_cache(maxsize=1)
def _gamma_table() -> np.ndarray:
    """(65536,) uint8: ``round(255 * (q / 65535) ** (1 / GAMMA))`` for every 16-bit linear level q."""
    return np.round(np.power(np.arange(_LEVELS + 1) / _LEVELS, 1.0 / GAMMA) * 255.0).astype(np.uint8)


def _encode(lin: np.ndarray) -> np.ndarray:
    """Gamma-encode linear values (any shape, clipped to [0, 1]) to uint8 through :func:`_gamma_table`
    (a table look-up; ``np.power`` over a 256 x 256 x 3 texture cost more than the rest of it)."""
    q = np.asarray(lin, dtype=np.float32) * np.float32(_LEVELS)
    np.clip(q, 0.0, float(_LEVELS), out=q)
    q += np.float32(0.5)
    return np.take(_gamma_table(), q.astype(np.uint16))  # np.take: half the time of fancy indexing here


@lru_cache(maxsize=16)
def _cached(kind: str, c1: tuple, c2: tuple, seed: int, size: int, params: tuple) -> tuple[np.ndarray, np.ndarray]:
    p = dict(params)
    _, shape_key, shape_default = _DRAWS[kind]
    d = _draws(kind, seed, size, int(p.get(shape_key, shape_default)) if shape_key else 0)
    img, height = _MAKERS[kind](d, size, np.asarray(c1), np.asarray(c2), p)
    out = _encode(img)
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
