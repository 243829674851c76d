"""Hand-worked scenes shared by the tests of the perspective, camera, motion, multi-view,
ASCII and text QA families. Every position is chosen so that answers can be worked by hand."""

from __future__ import annotations

import math

import numpy as np

from engine.geometry.transforms import look_at
from engine.scene.annotations import ObjectInView
from engine.scene.graph import Room, SceneGraph, SceneObject, View, Wall

K_64 = [[32.0, 0.0, 31.5], [0.0, 32.0, 31.5], [0.0, 0.0, 1.0]]  # 64x64 px, 90 degree field of view


def walls_for(sx: float, sy: float, h: float = 2.5) -> list[Wall]:
    """The four walls of an sx x sy room, counter-clockwise seen from above."""
    c = [(-sx / 2, -sy / 2), (sx / 2, -sy / 2), (sx / 2, sy / 2), (-sx / 2, sy / 2)]
    return [Wall(f"wall_{i}", list(c[i]), list(c[(i + 1) % 4]), h) for i in range(4)]


def obj(i, cat, center, size, yaw_deg=0.0, support="floor", has_front=False, **attrs) -> SceneObject:
    return SceneObject(id=f"obj_{i:02d}", instance_id=i + 1, category=cat, center=list(center), size=list(size),
                       yaw=math.radians(yaw_deg), support=support, has_front=has_front, attributes=attrs)


def view_at(vid: str, eye, target, objects=None) -> View:
    return View(vid, K_64, 64, 64, look_at(np.array(eye, float), np.array(target, float)).tolist(),
                objects=objects or {})


def map_scene() -> SceneGraph:
    """A 4 m x 3 m room (x in [-2, 2], y in [-1.5, 1.5]) with a bed, a table, a mug, a chair."""
    objects = [
        obj(0, "bed", (-1.0, 0.5, 0.25), (2.0, 1.0, 0.5), color="white"),
        obj(1, "table", (1.0, -0.5, 0.375), (1.2, 0.8, 0.75), color="brown"),
        obj(2, "mug", (1.25, -0.75, 0.80), (0.1, 0.1, 0.1), support="on:obj_01", color="red"),
        obj(3, "chair", (-1.0, -1.0, 0.45), (0.6, 1.1, 0.9), yaw_deg=90.0, color="blue"),
    ]
    # Camera at (1.1, 1.1) looking south and a little west: heading -100 degrees -> 'v'.
    h = math.radians(-100.0)
    eye = (1.1, 1.1, 1.5)
    v = view_at("view_0", eye, (eye[0] + math.cos(h), eye[1] + math.sin(h), 1.5))
    return SceneGraph("s_map", 0, Room("room", [4.0, 3.0, 2.5], walls_for(4.0, 3.0)), objects, [v])


def seen(px: int = 500, frac: float = 1.0) -> ObjectInView:
    """Hand-set renderer visibility fields of one object in one view."""
    return ObjectInView(visible_pixels=px, amodal_pixels=int(px / frac) if frac else px, visible_fraction=frac,
                        truncated=False)


def make_ctx(scene: SceneGraph, view_index: int = 0, qa_cfg: dict | None = None):
    """A FamilyContext for ``scene.views[view_index]`` with the default QA config."""
    from engine.qa.config import resolve_qa_cfg
    from engine.qa.context import FamilyContext
    from engine.qa.facts import ViewFacts, WorldFacts
    from engine.scene.catalog import load_catalog

    catalog = load_catalog()
    world = WorldFacts(scene, catalog)
    views = [ViewFacts(world, v) for v in scene.views]
    return FamilyContext(scene, catalog, world, views[view_index], views, resolve_qa_cfg(qa_cfg or {}))


_TEMPLATES: dict = {}


def template(tid: str):
    """The repository template with id ``tid`` (the folder is loaded once per test session)."""
    from engine.qa.templates import load_templates

    if not _TEMPLATES:
        _TEMPLATES.update(load_templates())
    return _TEMPLATES[tid]


def all_candidates(ctx, tid: str, seed: int = 0, params: dict | None = None, **constraint_overrides) -> list:
    """Every candidate of template ``tid`` on ``ctx`` (tuples uncapped), with optional overrides
    of the template's params and constraints."""
    import dataclasses

    from engine.qa.families import get_family

    t = template(tid)
    if constraint_overrides:
        t = dataclasses.replace(t, constraints={**t.constraints, **constraint_overrides})
    if params:
        t = dataclasses.replace(t, params={**t.params, **params})
    ctx.cfg["balancing"]["max_candidates"] = 100000
    return get_family(t.family).generate(ctx, t, np.random.default_rng(seed))


def perspective_scene() -> SceneGraph:
    """A 6 m x 6 m room: sofa A (0, 0) facing east, table B (3, 0), floor lamp C (1.5, 2),
    chair D (1, -2) facing south. One view from the west, everything visible."""
    objects = [
        obj(0, "sofa", (0.0, 0.0, 0.4), (0.9, 2.0, 0.8), has_front=True, color="gray"),
        obj(1, "table", (3.0, 0.0, 0.375), (0.8, 1.2, 0.75), color="brown"),
        obj(2, "floor_lamp", (1.5, 2.0, 0.8), (0.4, 0.4, 1.6), color="white"),
        obj(3, "chair", (1.0, -2.0, 0.45), (0.5, 0.5, 0.9), yaw_deg=-90.0, has_front=True, color="blue"),
    ]
    vis = {o.id: seen() for o in objects}
    v = view_at("view_0", (-2.5, 0.0, 1.6), (2.0, 0.0, 0.6), vis)
    return SceneGraph("s_persp", 0, Room("room", [6.0, 6.0, 2.5], walls_for(6.0, 6.0)), objects, [v])


def two_view_scene() -> SceneGraph:
    """The perspective scene plus a red box E (3.6, 0.3) hidden behind the table in view 0, a green
    box F (2, 2.5) seen in both views, a second chair G (-1.5, -2.5) only glimpsed in view 1, and
    view 1 at (-1, 0.5, 1.4), level, heading 30 degrees (view 0: (-2.5, 0, 1.6), heading 0,
    pitched 12.5 degrees down)."""
    s = perspective_scene()
    s.objects += [
        obj(4, "box", (3.6, 0.3, 0.15), (0.3, 0.3, 0.3), color="red"),
        obj(5, "box", (2.0, 2.5, 0.15), (0.3, 0.3, 0.3), color="green"),
        obj(6, "chair", (-1.5, -2.5, 0.45), (0.5, 0.5, 0.9), color="red", has_front=True),
    ]
    v0 = s.views[0]
    v0.objects.update({"obj_04": seen(0, 0.0), "obj_05": seen(), "obj_06": seen(0, 0.0)})
    h = math.radians(30.0)
    eye = (-1.0, 0.5, 1.4)
    vis1 = {"obj_00": seen(), "obj_01": seen(50, 0.1), "obj_02": seen(), "obj_03": seen(0, 0.0),
            "obj_04": seen(), "obj_05": seen(), "obj_06": seen(30, 0.1)}
    s.views.append(view_at("view_1", eye, (eye[0] + math.cos(h), eye[1] + math.sin(h), 1.4), vis1))
    return s


_SAMPLED: list = []


def sampled_scenes(n: int = 6) -> list[SceneGraph]:
    """``n`` rooms from the default layout and camera samplers (no rendering): an object counts
    as fully visible when the camera sampler put it in the frustum, else as unseen."""
    if len(_SAMPLED) < n:
        from engine.pipeline.config import load_job
        from engine.pipeline.stages import SceneStages
        from engine.pipeline.timing import StageTimer

        job = load_job(["stages.qa=false", "stages.render=false"])
        stages = SceneStages(job.cfg, "test")
        i = len(_SAMPLED)
        while len(_SAMPLED) < n:
            out = stages.make_scene(i, None, StageTimer())
            i += 1
            if not hasattr(out, "scene"):
                continue
            for v in out.scene.views:
                for oid, info in v.objects.items():
                    box = info.bbox_amodal_geom
                    px = int((box[2] - box[0]) * (box[3] - box[1])) if info.in_frustum and box else 0
                    v.objects[oid] = info.updated(seen(px, 1.0) if px else seen(0, 0.0))
            _SAMPLED.append(out.scene)
    return _SAMPLED[:n]


def tabletop_walk_scene() -> SceneGraph:
    """A 4 m x 4 m tabletop room: a table (x -0.6..0.6, y -0.4..0.4, top at 0.75 m) with a lamp on
    it (x, y -0.15..0.15, z 0.75..1.35), a mug (x 0.35..0.45, y 0.2..0.3) and a book
    (x -0.5..-0.3, y -0.325..-0.175). The camera stands beside the table at (-1.2, 0, 1.2),
    heading east (+x), looking down at (0.3, 0, 0.75). Walking forward 1.5 m ends at (0.3, 0, 1.2),
    above the table and 0.15 m clear of every box, but the straight path crosses the lamp."""
    objects = [
        obj(0, "table", (0.0, 0.0, 0.375), (1.2, 0.8, 0.75), color="brown"),
        obj(1, "lamp", (0.0, 0.0, 1.05), (0.3, 0.3, 0.6), support="on:obj_00", color="white"),
        obj(2, "mug", (0.4, 0.25, 0.8), (0.1, 0.1, 0.1), support="on:obj_00", color="red"),
        obj(3, "book", (-0.4, -0.25, 0.77), (0.2, 0.15, 0.04), support="on:obj_00", color="blue"),
    ]
    vis = {o.id: seen() for o in objects}
    v = view_at("view_0", (-1.2, 0.0, 1.2), (0.3, 0.0, 0.75), vis)
    return SceneGraph("s_walk", 0, Room("tabletop", [4.0, 4.0, 2.5], walls_for(4.0, 4.0)), objects, [v])


def move_scene() -> SceneGraph:
    """A 6 m x 6 m room for object moves: a cabinet A (x, y -0.25..0.25, 0.8 m tall) with a vase
    on it, a bookshelf B (x 2.3..2.7, y -0.5..0.5), a trash can T (x 0.4..0.6, y -0.1..0.1,
    0.4 m tall) between A and B, an armchair (x 2.1..2.9, y 1.8..2.6) and a sofa (x -2.45..-1.55,
    y 1..3). Sliding A 1 m toward B ends clear of T (x 0.75..1.25) but sweeps through it; sliding
    A toward the sofa (north-west) sweeps clear floor."""
    objects = [
        obj(0, "cabinet", (0.0, 0.0, 0.4), (0.5, 0.5, 0.8), color="white"),
        obj(1, "vase", (0.0, 0.0, 0.9), (0.15, 0.15, 0.2), support="on:obj_00", color="blue"),
        obj(2, "bookshelf", (2.5, 0.0, 0.9), (0.4, 1.0, 1.8), color="brown"),
        obj(3, "trash_can", (0.5, 0.0, 0.2), (0.2, 0.2, 0.4), color="gray"),
        obj(4, "armchair", (2.5, 2.2, 0.45), (0.8, 0.8, 0.9), color="red"),
        obj(5, "sofa", (-2.0, 2.0, 0.4), (0.9, 2.0, 0.8), color="green"),
    ]
    vis = {o.id: seen() for o in objects}
    v = view_at("view_0", (-2.5, -2.5, 1.6), (0.5, 0.5, 0.4), vis)
    return SceneGraph("s_move", 0, Room("room", [6.0, 6.0, 2.5], walls_for(6.0, 6.0)), objects, [v])
