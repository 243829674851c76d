"""The triangle mesh type the mesh builders make and the renderer backends and the GLB export draw."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RenderMesh:
    """A triangle mesh ready to draw, in world coordinates.

    Attributes:
        instance_id: the object's instance id (>= 1), or 0 for room surfaces (floor, walls).
        name: object id (``obj_03``) or surface name (``floor``, ``wall_0``).
        vertices: (N, 3) float32 world metres.
        normals: (N, 3) float32 unit vertex normals, world frame.
        faces: (M, 3) uint32 vertex indices, counter-clockwise seen from outside.
        colors: (N, 3) float32 linear RGB base colour in [0, 1] (multiplied by the texture).
        uv: (N, 2) float32 texture coordinates, or None.
        texture: (H, W, 3) uint8 RGB texture image, or None.
        specular: specular strength in [0, 1]; shininess: Phong exponent.
        emissive: drawn in its colour, unlit (sky, ground backdrop, ceiling light fixtures).
    """

    instance_id: int
    name: str
    vertices: np.ndarray
    normals: np.ndarray
    faces: np.ndarray
    colors: np.ndarray
    uv: np.ndarray | None = None
    texture: np.ndarray | None = None
    specular: float = 0.1
    shininess: float = 16.0
    emissive: bool = False
