"""Image encoding for export: RGB as PNG or JPEG; depth and instance ids as 16-bit PNG."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

DEPTH_MAX_MM = 65535
_SUBSAMPLING = {"4:4:4": 0, "4:2:0": 2}  # Pillow's codes


def encode_rgb(rgb: np.ndarray | Image.Image, fmt: str, jpeg_quality: int = 95, jpeg_subsampling: str = "4:2:0") -> bytes:
    """Encode an (H, W, 3) uint8 image (or a PIL RGB image) as ``png`` or ``jpeg`` bytes
    (deterministic); JPEG chroma at half resolution (``4:2:0``, the common photo setting) or
    full (``4:4:4``)."""
    if isinstance(rgb, Image.Image):
        if rgb.mode != "RGB":
            raise ValueError(f"rgb must be an RGB image, got mode {rgb.mode}")
        img = rgb
    else:
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"rgb must be (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}")
        img = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    buf = io.BytesIO()
    if fmt == "png":
        img.save(buf, format="PNG", compress_level=1)
    elif fmt == "jpeg":
        if jpeg_subsampling not in _SUBSAMPLING:
            raise ValueError(f"output.jpeg_subsampling: {jpeg_subsampling!r}; fix: one of {list(_SUBSAMPLING)}")
        img.save(buf, format="JPEG", quality=int(jpeg_quality), subsampling=_SUBSAMPLING[jpeg_subsampling])
    else:
        raise ValueError(f"output.image_format: {fmt!r}; fix: png or jpeg")
    return buf.getvalue()


def _png16(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(a, dtype=np.uint16)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def encode_depth(depth: np.ndarray) -> bytes:
    """(H, W) float32 camera-frame z in metres -> 16-bit PNG in millimetres (rounded, clipped
    to 65535; 0 where nothing was hit)."""
    mm = np.clip(np.rint(np.asarray(depth, dtype=np.float64) * 1000.0), 0, DEPTH_MAX_MM)
    return _png16(mm)


def encode_ids(ids: np.ndarray) -> bytes:
    """(H, W) int32 instance ids (0 = background) -> 16-bit PNG."""
    a = np.asarray(ids)
    if a.size and (a.min() < 0 or a.max() > 65535):
        raise ValueError(f"instance ids must lie in [0, 65535] for a 16-bit mask, got [{a.min()}, {a.max()}]")
    return _png16(a)


def decode_png16(data: bytes) -> np.ndarray:
    """Inverse of the 16-bit encoders: (H, W) uint16 array."""
    return np.asarray(Image.open(io.BytesIO(data)), dtype=np.uint16)
