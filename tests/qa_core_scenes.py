"""Hand-worked scenes and helpers for the QA core tests (measurement, relations, occlusion,
counting, grounding). Every number quoted in a comment was worked by hand."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from engine.geometry.transforms import look_at
from engine.scene.annotations import ObjectInView
from engine.scene.graph import Room, SceneGraph, SceneObject, View

REPO = Path(__file__).resolve().parents[1]
CORE_FAMILIES = ("measurement", "relations", "occlusion", "counting", "grounding")

# 640 x 480, fx = fy = 200, principal point at the image centre.
K = [[200.0, 0.0, 319.5], [0.0, 200.0, 239.5], [0.0, 0.0, 1.0]]
EYE = [0.0, -4.0, 1.0]  # level camera looking along +y: camera +X = world +x, camera +Y = world -z


def core_templates(tmp: Path) -> str:
    """A folder holding only the core families' template files (independent of other families)."""
    d = Path(tmp) / "core_templates"
    d.mkdir(exist_ok=True)
    for f in CORE_FAMILIES:
        shutil.copy(REPO / "templates" / f"{f}.yaml", d / f"{f}.yaml")
    return str(d)


def obj(i, cat, center, size, support="floor", **attrs) -> SceneObject:
    return SceneObject(id=f"obj_{i:02d}", instance_id=i + 1, category=cat, center=list(center), size=list(size),
                       yaw=0.0, support=support, attributes=attrs)


def vis(frac=1.0, px=1000, truncated=False, bbox=None, amodal_bbox=None) -> ObjectInView:
    amodal = int(round(px / frac)) if frac > 0 else px
    return ObjectInView.from_dict({"visible_fraction": frac, "visible_pixels": px if frac > 0 else 0,
                                   "amodal_pixels": amodal, "truncated": truncated, "bbox_visible": bbox,
                                   "bbox_amodal": amodal_bbox or bbox})


def living_room() -> SceneGraph:
    """Five axis-aligned objects, all fully visible from a level camera at (0, -4, 1) looking +y.

    table  obj_00  x[-0.5, 0.5]  y[-0.4, 0.4]  z[0, 0.75]
    mug    obj_01  x[0.15, 0.25] y[-0.15,-0.05] z[0.75, 0.85]   on the table
    chair  obj_02  red,  x[-1.75,-1.25] y[-0.25, 0.25] z[0, 0.9]
    chair  obj_03  blue, x[1.25, 1.75]  y[0.75, 1.25]  z[0, 0.9]
    floor lamp obj_04   x[-1.15,-0.85]  y[1.85, 2.15]  z[0, 1.6]
    """
    objs = [
        obj(0, "table", [0, 0, 0.375], [1.0, 0.8, 0.75], color="brown", material="wood"),
        obj(1, "mug", [0.2, -0.1, 0.8], [0.1, 0.1, 0.1], support="on:obj_00", color="red", material="ceramic"),
        obj(2, "chair", [-1.5, 0, 0.45], [0.5, 0.5, 0.9], color="red", material="wood"),
        obj(3, "chair", [1.5, 1.0, 0.45], [0.5, 0.5, 0.9], color="blue", material="wood"),
        obj(4, "floor_lamp", [-1.0, 2.0, 0.8], [0.3, 0.3, 1.6], color="white", material="metal"),
    ]
    pose = look_at(np.array(EYE), np.array([0.0, 0.0, 1.0]))
    boxes = {"obj_00": [219, 240, 419, 300], "obj_01": [324, 232, 335, 242], "obj_02": [223, 223, 266, 290],
             "obj_03": [369, 240, 390, 280], "obj_04": [280, 180, 293, 280]}
    objects = {o.id: vis(1.0, 1000, bbox=boxes[o.id]) for o in objs}
    view = View("view_0", K, 640, 480, pose.tolist(), objects)
    return SceneGraph("s_hand", 0, Room("room", [6.0, 5.0, 2.5]), objs, [view])


# Hand-worked facts of living_room() -------------------------------------------------------------
NAMES = {"obj_00": "the table", "obj_01": "the mug", "obj_02": "the red chair", "obj_03": "the blue chair",
         "obj_04": "the floor lamp"}
# u = 200 * x / (y + 4) + 319.5 for a centre (x, y, z)
U = {"obj_00": 319.5, "obj_01": 319.5 + 40 / 3.9, "obj_02": 244.5, "obj_03": 379.5, "obj_04": 319.5 - 200 / 6}
# camera (0, -4, 1) to the closest box point
CAM_DIST = {"obj_00": np.sqrt(3.6 ** 2 + 0.25 ** 2), "obj_01": np.sqrt(0.15 ** 2 + 3.85 ** 2 + 0.15 ** 2),
            "obj_02": np.sqrt(1.25 ** 2 + 3.75 ** 2 + 0.1 ** 2), "obj_03": np.sqrt(1.25 ** 2 + 4.75 ** 2 + 0.1 ** 2),
            "obj_04": np.sqrt(0.85 ** 2 + 5.85 ** 2)}
# closest-point distances between boxes (footprint gap, z gap)
DIST = {
    frozenset({"obj_00", "obj_01"}): 0.0,
    frozenset({"obj_00", "obj_02"}): 0.75,
    frozenset({"obj_00", "obj_03"}): np.hypot(0.75, 0.35),
    frozenset({"obj_00", "obj_04"}): np.hypot(0.35, 1.45),
    frozenset({"obj_01", "obj_02"}): np.hypot(1.4, 0.0),
    frozenset({"obj_01", "obj_03"}): np.hypot(1.0, 0.8),
    frozenset({"obj_01", "obj_04"}): np.hypot(1.0, 1.9),
    frozenset({"obj_02", "obj_03"}): np.hypot(2.5, 0.5),
    frozenset({"obj_02", "obj_04"}): np.hypot(0.1, 1.6),
    frozenset({"obj_03", "obj_04"}): np.hypot(2.1, 0.6),
}
HEIGHT = {"obj_00": 0.75, "obj_01": 0.1, "obj_02": 0.9, "obj_03": 0.9, "obj_04": 1.6}
ZRANGE = {"obj_00": (0, 0.75), "obj_01": (0.75, 0.85), "obj_02": (0, 0.9), "obj_03": (0, 0.9), "obj_04": (0, 1.6)}
VOLUME = {"obj_00": 0.6, "obj_01": 0.001, "obj_02": 0.225, "obj_03": 0.225, "obj_04": 0.144}
CENTER_XY = {"obj_00": (0, 0), "obj_01": (0.2, -0.1), "obj_02": (-1.5, 0), "obj_03": (1.5, 1.0), "obj_04": (-1.0, 2.0)}


def occlusion_scene() -> SceneGraph:
    """A box in front of a chair from a camera at (0, -4, 1) looking +y, plus a fully visible vase.

    box    obj_00 x[-0.3, 0.3] y[-1.3,-0.7] z[0, 0.6]  nearer, fully visible
    chair  obj_01 x[-0.25,0.25] y[-0.25,0.25] z[0, 0.9] behind the box: 40% visible
    vase   obj_02 x[1.4, 1.6] y[-0.1, 0.1] z[0, 0.3]    fully visible
    chair  obj_03 x[2.75, 3.25] ... out of view (no pixel)
    ball   obj_04 x[-1.6,-1.4] y[0.4, 0.6] z[0, 0.2]     fully visible, u = 319.5 - 300 / 4.5
    """
    objs = [
        obj(0, "box", [0, -1.0, 0.3], [0.6, 0.6, 0.6], color="brown", material="paper"),
        obj(1, "chair", [0, 0, 0.45], [0.5, 0.5, 0.9], color="red", material="wood"),
        obj(2, "vase", [1.5, 0, 0.15], [0.2, 0.2, 0.3], color="blue", material="ceramic"),
        obj(3, "chair", [3.0, -3.5, 0.45], [0.5, 0.5, 0.9], color="green", material="wood"),
        obj(4, "ball", [-1.5, 0.5, 0.1], [0.2, 0.2, 0.2], color="yellow", material="rubber"),
    ]
    pose = look_at(np.array(EYE), np.array([0.0, 0.0, 1.0]))
    objects = {
        "obj_00": vis(1.0, 3000, bbox=[280, 240, 359, 320]),
        "obj_01": vis(0.4, 800, bbox=[295, 195, 344, 239], amodal_bbox=[295, 195, 344, 300]),
        "obj_02": vis(1.0, 300, bbox=[389, 255, 400, 290]),
        "obj_03": {"visible_fraction": 0.0, "visible_pixels": 0, "amodal_pixels": 0, "truncated": False,
                   "bbox_visible": None, "bbox_amodal": None},
        "obj_04": vis(1.0, 200, bbox=[247, 255, 258, 266]),
    }
    view = View("view_0", K, 640, 480, pose.tolist(), objects)
    return SceneGraph("s_occ", 1, Room("room", [8.0, 9.0, 2.5]), objs, [view])


def random_scene(rng: np.random.Generator, n: int, scene_id: str = "s_rand", n_views: int = 1) -> SceneGraph:
    """Random gravity-aligned boxes on the floor (some on top of others) and random cameras looking
    at the scene centre; visibility filled from geometry only: fraction 1 when the projected box
    lies inside the image, else 0 (no mutual occlusion is modelled, so occlusion tasks are off)."""
    from engine.geometry.projection import project_box

    cats = [("chair", "red"), ("chair", "blue"), ("table", "brown"), ("box", "white"), ("lamp", "black"),
            ("sofa", "gray"), ("mug", "green"), ("bottle", "blue"), ("cabinet", "white")]
    objs = []
    for i in range(n):
        cat, col = cats[int(rng.integers(len(cats)))]
        size = rng.uniform(0.2, 1.2, size=3)
        cx, cy = rng.uniform(-2.5, 2.5, size=2)
        base = 0.0 if rng.random() < 0.8 else rng.uniform(0.3, 1.2)
        objs.append(SceneObject(id=f"obj_{i:02d}", instance_id=i + 1, category=cat,
                                center=[float(cx), float(cy), float(base + size[2] / 2)], size=size.tolist(),
                                yaw=float(rng.uniform(-np.pi, np.pi)), attributes={"color": col, "material": "wood"}))
    views = []
    for k in range(n_views):
        ang = rng.uniform(-np.pi, np.pi)
        eye = np.array([6 * np.cos(ang), 6 * np.sin(ang), rng.uniform(1.0, 2.0)])
        pose = look_at(eye, np.array([rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5), 0.5]))
        objects = {}
        for o in objs:
            pb = project_box(K, pose, o.box, 640, 480)
            inside = pb is not None and not pb["truncated"]
            bb = [int(np.floor(x + 0.5)) for x in pb["bbox"]] if pb is not None else None
            objects[o.id] = {"visible_fraction": 1.0 if inside else 0.0, "visible_pixels": 500 if inside else 0,
                             "amodal_pixels": 500 if inside else 0, "truncated": False,
                             "bbox_visible": bb if inside else None, "bbox_amodal": bb if inside else None}
        views.append(View(f"view_{k}", K, 640, 480, pose.tolist(), objects))
    return SceneGraph(scene_id, 0, Room("room", [8.0, 8.0, 2.5]), objs, views)
