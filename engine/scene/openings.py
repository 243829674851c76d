"""Where a room's doors and windows reach into the room (``room.architecture``, docs/record.md).

Doors and windows are room parts (id 0), not objects. A window's frame and sill and a closed
door's leaf stay inside the wall's thickness, so they hide no object; an open door's leaf swings
into the room inside its doorway, so QA rules that name the object hiding another must know the
box it may occupy (engine/qa/families/occlusion.py).
"""

from __future__ import annotations

import math

import numpy as np

from engine.geometry.boxes import OrientedBox
from engine.geometry.transforms import yaw_rotation
from engine.scene.graph import Room

LEAF_MARGIN = 0.05  # m of slack around the leaf (its thickness behind the hinge line, the knob)
CASING = 0.06       # m: width of the door casing beside and above the opening (and of window frame bars)
CASING_PROUD = 0.005  # m the door casing stands proud of the wall's inner face (kept clear in the layout)


def window_walls(room: Room) -> list:
    """The room's walls that hold at least one window, in the order of ``room.walls`` (empty
    without architecture or windows): where daylight may enter a closed room."""
    ids = {op["wall"] for op in room.openings if op["kind"] == "window"}
    return [w for w in room.walls if w.id in ids]


def door_swing_boxes(room: Room) -> list[OrientedBox]:
    """One box per open door (``open_deg`` > 0): the door's width (plus LEAF_MARGIN each side)
    along its wall, from LEAF_MARGIN behind the wall's inner face to the width (plus LEAF_MARGIN)
    into the room, floor to the door's height; world metres, local x along the inward normal.
    An open leaf turned by at most 90 degrees about a hinge at the opening's edge lies inside it."""
    walls = {w.id: w for w in room.walls}
    out = []
    for op in room.openings:
        if op["kind"] != "door" or float(op.get("open_deg", 0.0)) <= 0.0:
            continue
        n = walls[op["wall"]].inward_normal
        w, h = float(op["width"]), float(op["height"])
        depth = w + 2 * LEAF_MARGIN
        c = np.asarray(op["center"], float) + n * (depth / 2 - LEAF_MARGIN)
        out.append(OrientedBox([c[0], c[1], h / 2], [depth, w + 2 * LEAF_MARGIN, h],
                               yaw_rotation(math.atan2(n[1], n[0]))))
    return out
