"""Camera effects on a rendered RGB image (``quality: high``): lens, sensor and encoder.

Applied by the backends to ``Frame.rgb`` only, after the exact passes: depth, instance ids and
visibility never see them. The parameters are a view's ``params["camera_effects"]`` record entry
(sampled by :func:`engine.assets.effects.camera_effects`), so a view re-renders identically from
its record. Order (linear light, after decoding the gamma-2.2 image):

1. blur: a Gaussian of ``blur_sigma_px`` pixels (per channel, edges reflected; 0 = none);
2. vignetting: gain ``1 - vignetting * (r / r_corner)^2``, r = the pixel centre's distance from the
   image centre, so a corner pixel loses exactly ``vignetting`` of its light;
3. exposure: gain ``2 ** exposure_ev``;
4. sensor noise: Gaussian with variance ``noise_std^2 + shot_noise * value`` from
   ``Generator(PCG64(noise_seed))``;
5. white balance: per-channel gains ``white_balance`` [r, g, b];
6. clip to [0, 1], gamma-2.2 encode to uint8;
7. a JPEG round trip at ``jpeg_quality`` (PIL, 4:2:0 chroma); None = skipped.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
import scipy.ndimage
from PIL import Image

GAMMA = 2.2
KEYS = ("exposure_ev", "white_balance", "noise_std", "shot_noise", "noise_seed", "blur_sigma_px", "vignetting",
        "jpeg_quality")
# Parameters that leave an image unchanged (tests turn one effect on at a time from these).
IDENTITY = {"exposure_ev": 0.0, "white_balance": [1.0, 1.0, 1.0], "noise_std": 0.0, "shot_noise": 0.0, "noise_seed": 0,
            "blur_sigma_px": 0.0, "vignetting": 0.0, "jpeg_quality": None}


_DECODE = ((np.arange(256) / 255.0) ** GAMMA).astype(np.float32)  # uint8 -> linear, a table


def vignetting_gain(height: int, width: int, vignetting: float) -> np.ndarray:
    """(H, W) float32 gain ``1 - vignetting * (r / r_corner)^2`` (r from the image centre to the
    pixel centre, pixels); exactly ``1 - vignetting`` at the four corner pixels."""
    v = np.arange(height, dtype=np.float32) - np.float32((height - 1) / 2)
    u = np.arange(width, dtype=np.float32) - np.float32((width - 1) / 2)
    r2 = v[:, None] ** 2 + u[None, :] ** 2
    return np.float32(1.0) - np.float32(vignetting) * r2 / max(float(r2.max()), 1e-12)


def jpeg_round_trip(rgb: np.ndarray, quality: int) -> np.ndarray:
    """(H, W, 3) uint8 image after JPEG encoding at ``quality`` (1-100, 4:2:0) and decoding."""
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="JPEG", quality=int(quality), subsampling=2)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def apply_camera_effects(rgb: np.ndarray, params: Mapping) -> np.ndarray:
    """Apply one view's camera effects (see the module docstring) to a rendered image.

    Args:
        rgb: (H, W, 3) uint8 gamma-2.2 encoded image (``Frame.rgb``); not modified.
        params: every key of :data:`KEYS` (a view's ``params["camera_effects"]``).

    Returns a new (H, W, 3) uint8 image; same image and params -> same bytes.
    """
    missing = [k for k in KEYS if k not in params]
    if missing:
        raise ValueError(f"camera_effects: missing {missing}; fix: sample them with engine.assets.effects.camera_effects")
    x = _DECODE[rgb]  # (H, W, 3) float32 linear
    sigma = float(params["blur_sigma_px"])
    if sigma > 0:
        x = scipy.ndimage.gaussian_filter(x, sigma=(sigma, sigma, 0), mode="reflect")
    if float(params["vignetting"]) > 0:
        x *= vignetting_gain(x.shape[0], x.shape[1], float(params["vignetting"]))[..., None]
    x *= np.float32(2.0 ** float(params["exposure_ev"]))
    std, shot = float(params["noise_std"]), float(params["shot_noise"])
    if std > 0 or shot > 0:
        rng = np.random.Generator(np.random.PCG64(int(params["noise_seed"])))
        sd = np.sqrt(np.float32(std * std) + np.float32(shot) * np.clip(x, 0.0, None))
        x += sd * rng.standard_normal(x.shape, dtype=np.float32)
    x *= np.asarray(params["white_balance"], dtype=np.float32)
    out = np.round(np.power(np.clip(x, 0.0, 1.0), np.float32(1.0 / GAMMA)) * np.float32(255.0)).astype(np.uint8)
    q = params["jpeg_quality"]
    return out if q is None else jpeg_round_trip(out, int(q))
