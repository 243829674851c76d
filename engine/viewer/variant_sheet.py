"""A sheet of shape variants: one row per category, each tile one sampled variant rendered alone.

``make demo`` writes ``variants.png`` (the most frequent categories of the demo's scenes); it is
how the parametric recipes of ``scenes/meshes.yaml`` are checked by eye.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from engine.assets.meshes import load_recipes, object_mesh
from engine.scene.shape_params import draw_params
from engine.assets.types import RenderMesh
from engine.atomic import atomic_save_png
from engine.camera.intrinsics import make_intrinsics
from engine.geometry import look_at
from engine.render.backends import get_renderer
from engine.scene.catalog import Catalog
from engine.scene.graph import Room, SceneGraph, SceneObject, View

_FLOOR = (0.62, 0.60, 0.57)


def distinct_variants(category: str, k: int, rng: np.random.Generator, tries: int = 200) -> list[dict]:
    """Up to ``k`` shape-parameter draws of ``category`` whose discrete (choice/int) values
    differ, drawn from ``rng`` (fewer when the recipe has fewer combinations)."""
    spec = load_recipes()["params"].get(category) or {}
    out, seen = [], set()
    for _ in range(tries):
        p = draw_params(spec, rng)
        key = tuple((n, v) for n, v in p.items() if spec[n]["kind"] != "range")
        if key not in seen:
            seen.add(key)
            out.append(p)
        if len(out) == k:
            break
    return out


def _tile(renderer, catalog: Catalog, category: str, params: Mapping, color: Sequence[float], px: int) -> np.ndarray:
    c = catalog[category]
    size = [float(np.mean(c.size[a])) for a in ("depth", "width", "height")]
    z = size[2] / 2
    obj = SceneObject("obj_00", 1, category, [0.0, 0.0, z], size, 0.0, shape_params=dict(params))
    sec = np.clip(np.asarray(color) * 0.55, 0, 1).tolist()
    mesh = object_mesh(obj, catalog, {"color": list(color), "secondary": sec, "specular": 0.2, "shininess": 24.0})
    r = 3.0 * max(size)
    floor = RenderMesh(0, "floor", np.array([[-r, -r, 0], [r, -r, 0], [r, r, 0], [-r, r, 0]], np.float32),
                       np.tile(np.float32([0, 0, 1]), (4, 1)), np.array([[0, 1, 2], [0, 2, 3]], np.uint32),
                       np.tile(np.float32(_FLOOR), (4, 1)))
    d = 1.25 * float(np.linalg.norm(size)) + 0.1
    eye = np.array([0.8 * d, 0.55 * d, z + 0.55 * d])
    view = View("view_0", make_intrinsics(px, px, 40.0).tolist(), px, px, look_at(eye, np.array([0, 0, z])).tolist())
    scene = SceneGraph(scene_id="variants", seed=0, room=Room("open", [2 * r, 2 * r, 0.0], []), objects=[obj])
    return renderer.render(scene, view, [mesh, floor]).rgb


def variant_sheet(categories: Sequence[str], catalog: Catalog, render_cfg: Mapping, path: str | os.PathLike,
                  per_row: int = 6, px: int = 160, seed: int = 0) -> Path:
    """Write a PNG: one row per category, ``per_row`` distinct variants (drawn from
    ``np.random.default_rng(seed)``), each rendered alone at ``px`` x ``px`` from the front
    left; the row starts with the category name. Returns the path (written atomically)."""
    rng = np.random.default_rng(seed)
    renderer = get_renderer(render_cfg)
    label_w = 110
    sheet = Image.new("RGB", (label_w + per_row * (px + 2), len(categories) * (px + 2)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for row, cat in enumerate(categories):
        c = catalog[cat]
        y = row * (px + 2)
        variants = distinct_variants(cat, per_row, rng)
        draw.text((4, y + px // 2 - 12), f"{cat}\n{len(variants)} variants", fill=(0, 0, 0))
        for k, params in enumerate(variants):
            color = catalog.colors[c.colors[k % len(c.colors)]]
            sheet.paste(Image.fromarray(_tile(renderer, catalog, cat, params, color, px)), (label_w + k * (px + 2), y))
    return atomic_save_png(sheet, path)
