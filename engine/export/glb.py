"""Export a scene's meshes as a binary glTF (GLB) file, for viewing in any 3D viewer.

Geometry is written in the engine's world frame (metres, +Z up) under a root node ``world_zup``
whose transform turns +Z up into glTF's +Y up (x, y, z) -> (x, z, -y), so viewers show the
scene upright while each mesh keeps the engine's coordinates. One node per object, named by
its object id (``obj_03``), plus ``floor`` and one node per wall (``wall_0``, ...). Objects
carry vertex colours (linear RGB, as glTF COLOR_0 expects); floor and walls carry their
procedural texture (sRGB-like gamma 2.2, as glTF base colour textures expect) and UVs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from engine.atomic import atomic_write_bytes
from engine.assets.meshes import scene_meshes
from engine.assets.types import RenderMesh
from engine.scene.catalog import Catalog
from engine.scene.graph import SceneGraph

ROOT_NODE = "world_zup"
# +Z up (engine) -> +Y up (glTF): a -90 degree rotation about +X.
Z_UP_TO_Y_UP = np.array([[1.0, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]])


def _to_trimesh(m: RenderMesh) -> trimesh.Trimesh:
    tm = trimesh.Trimesh(vertices=m.vertices.astype(np.float64), faces=m.faces.astype(np.int64),
                         vertex_normals=m.normals.astype(np.float64), process=False)
    if m.texture is not None and m.uv is not None:
        tint = np.clip(np.round(m.colors.mean(axis=0) ** (1 / 2.2) * 255), 0, 255).astype(np.uint8)
        mat = trimesh.visual.material.PBRMaterial(
            name=f"{m.name}_material", baseColorTexture=Image.fromarray(np.asarray(m.texture)),
            baseColorFactor=[*tint.tolist(), 255], metallicFactor=0.0, roughnessFactor=1.0 - 0.8 * m.specular)
        tm.visual = trimesh.visual.TextureVisuals(uv=m.uv.astype(np.float64), material=mat)
    else:
        rgba = np.ones((len(m.vertices), 4))
        rgba[:, :3] = m.colors
        tm.visual = trimesh.visual.ColorVisuals(tm, vertex_colors=np.round(rgba * 255).astype(np.uint8))
    return tm


def export_glb(scene: SceneGraph, path: str | os.PathLike, catalog: Catalog) -> Path:
    """Write the scene (objects + floor + walls) as a GLB file at ``path``; returns its Path.

    The scene must have been through :func:`engine.assets.appearance.sample_appearance` (its
    colours and textures come from ``scene.materials``). The write is atomic: a temporary file
    in the same folder is renamed over ``path``.
    """
    out = Path(path)
    if out.suffix.lower() != ".glb":
        raise ValueError(f"path: {str(out)!r} must end in .glb")
    if not out.parent.exists():
        raise FileNotFoundError(f"path: folder {str(out.parent)!r} does not exist; fix: create it first")
    meshes = scene_meshes(scene, catalog)
    gl = trimesh.Scene()
    gl.graph.update(frame_from=gl.graph.base_frame, frame_to=ROOT_NODE, matrix=Z_UP_TO_Y_UP)
    for m in meshes:
        gl.add_geometry(_to_trimesh(m), node_name=m.name, geom_name=m.name, parent_node_name=ROOT_NODE,
                        transform=np.eye(4))
    atomic_write_bytes(out, gl.export(file_type="glb"))
    return out
