"""Hand-built scenes and plain box meshes for the renderer tests and benchmark (not a test file).

Boxes are drawn flat-shaded (24 vertices, 12 triangles, counter-clockwise seen from outside),
the floor as one upward quad and each wall as one inward-facing quad, so the rendered surfaces
are exactly the scene's boxes and planes and an independent ray caster can use the same meshes.
"""

from __future__ import annotations

import numpy as np

from engine.camera.intrinsics import make_intrinsics
from engine.geometry import look_at
from engine.assets.meshes import box_meshes
from engine.assets.types import RenderMesh
from engine.scene.graph import Room, SceneGraph, SceneObject, View, Wall

PALETTE = np.array([[0.8, 0.2, 0.2], [0.2, 0.6, 0.25], [0.2, 0.35, 0.8], [0.9, 0.75, 0.2], [0.6, 0.3, 0.7],
                    [0.2, 0.7, 0.75], [0.9, 0.5, 0.15], [0.5, 0.5, 0.5]], dtype=np.float32)


def quad_mesh(name: str, corners: np.ndarray, normal, color) -> RenderMesh:
    """A two-triangle quad (corners (4, 3) in order) facing ``normal``."""
    c = np.asarray(corners, np.float32)
    if np.dot(np.cross(c[1] - c[0], c[2] - c[0]), normal) < 0:
        c = c[::-1].copy()
    return RenderMesh(0, name, c, np.tile(np.asarray(normal, np.float32), (4, 1)),
                      np.array([[0, 1, 2], [0, 2, 3]], np.uint32), np.tile(np.asarray(color, np.float32), (4, 1)))


def simple_meshes(scene: SceneGraph) -> list[RenderMesh]:
    """Box meshes for every object plus the floor and wall quads of the room."""
    meshes = box_meshes(scene)  # each object's exact box, from the engine
    for m, o in zip(meshes, scene.objects):  # a distinct colour per object, for the contact sheet
        m.colors[:] = PALETTE[(o.instance_id - 1) % len(PALETTE)]
    sx, sy, _ = scene.room.size
    meshes.append(quad_mesh("floor", [[-sx / 2, -sy / 2, 0], [sx / 2, -sy / 2, 0], [sx / 2, sy / 2, 0], [-sx / 2, sy / 2, 0]],
                            [0, 0, 1], [0.75, 0.72, 0.68]))
    for w in scene.room.walls:
        n = np.append(w.inward_normal, 0.0)
        (x0, y0), (x1, y1) = w.start, w.end
        meshes.append(quad_mesh(w.id, [[x0, y0, 0], [x1, y1, 0], [x1, y1, w.height], [x0, y0, w.height]], n, [0.85, 0.85, 0.8]))
    return meshes


def room_walls(sx: float, sy: float, sz: float) -> list[Wall]:
    """Four walls of an sx x sy room, counter-clockwise seen from above."""
    c = [(-sx / 2, -sy / 2), (sx / 2, -sy / 2), (sx / 2, sy / 2), (-sx / 2, sy / 2)]
    return [Wall(f"wall_{i}", list(c[i]), list(c[(i + 1) % 4]), sz) for i in range(4)]


def make_view(eye, target, width: int, height: int, fov_deg: float, vid: str = "view_0") -> View:
    """A View looking from ``eye`` at ``target`` (world m)."""
    K = make_intrinsics(width, height, fov_deg)
    return View(vid, K.tolist(), width, height, look_at(eye, target).tolist())


def obj(i: int, category: str, center, size, yaw: float = 0.0) -> SceneObject:
    return SceneObject(f"obj_{i:02d}", i + 1, category, list(map(float, center)), list(map(float, size)), float(yaw))


def hand_room(n_objects: int = 20, seed: int = 0) -> SceneGraph:
    """A 6 x 5 x 2.8 m room with ``n_objects`` non-overlapping boxes on a grid (yaw jittered).

    The rng here only builds the fixture; it is explicit and seeded.
    """
    rng = np.random.default_rng(seed)
    sx, sy, sz = 6.0, 5.0, 2.8
    objs = []
    cols = 5
    for i in range(n_objects):
        gx, gy = i % cols, i // cols
        cx = -2.4 + gx * 1.2 + rng.uniform(-0.1, 0.1)
        cy = -1.9 + gy * 1.25 + rng.uniform(-0.1, 0.1)
        size = rng.uniform([0.3, 0.3, 0.2], [0.8, 0.8, 1.3])
        objs.append(obj(i, "box", [cx, cy, size[2] / 2], size, rng.uniform(-0.6, 0.6)))
    return SceneGraph(f"hand_room_{seed}", 0, Room("room", [sx, sy, sz], room_walls(sx, sy, sz)), objs)


def room_views(width: int, height: int, n: int = 4) -> list[View]:
    """``n`` views from eye height around the hand room, looking at its centre region."""
    out = []
    for k in range(n):
        a = 2 * np.pi * k / n + 0.4
        eye = [2.3 * np.cos(a), 1.9 * np.sin(a), 1.6]
        tgt = [-0.6 * np.cos(a), -0.5 * np.sin(a), 0.4]
        out.append(make_view(eye, tgt, width, height, 70.0, f"view_{k}"))
    return out
