"""What a renderer returns for one view (the meshes it draws are engine.assets.types.RenderMesh)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Frame:
    """What a renderer returns for one view.

    Attributes:
        rgb: (H, W, 3) uint8, anti-aliased colour.
        depth: (H, W) float32 camera-frame z in metres, 0 where nothing was hit.
        ids: (H, W) int32 instance ids, 0 for background and room surfaces.
        objects: per object id: ``visible_pixels``, ``amodal_pixels``, ``visible_fraction``,
            ``truncated``, ``bbox_visible``, ``bbox_amodal`` (see docs/record.md).
    """

    rgb: np.ndarray
    depth: np.ndarray
    ids: np.ndarray
    objects: dict[str, dict] = field(default_factory=dict)
