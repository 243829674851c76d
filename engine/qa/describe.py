"""Natural-language descriptions of a scene, generated from its graph (for text-only QA).

Frame: the top-down plan with north = +y and east = +x (the same as the ASCII map). Positions
are given for object centres in metres relative to the room centre, to the centimetre, so a
reader can answer direction, left/right-on-the-plan and distance questions from the text
alone. Support ("the mug stands on the table"), wall proximity and compass relations between
pairs of objects are stated in words; a compass relation is worked from the stated (rounded)
centres, the numbers a reader sees. :attr:`SceneDescription.positions_cm` holds those numbers
as integer centimetres, so questions about the text can be answered with exact arithmetic on
exactly what the text says. The rng only chooses the sentence order, the anchor of each
relation sentence and the paraphrase; the facts are fixed by the scene.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from engine.geometry.boxes import OrientedBox
from engine.scene.graph import SceneGraph
from engine.qa.candidate import capitalize

COMPASS_8 = ("east", "north-east", "north", "north-west", "west", "south-west", "south", "south-east")
NEAR_WALL_M = 0.5  # an object whose footprint comes within this distance of a wall is "near" it
WALL_SIDES = ("north", "south", "east", "west")


def compass_8(dx: float, dy: float) -> tuple[str, float]:
    """8-way compass direction of the plan vector (dx east, dy north) and its margin.

    Returns (direction, margin_deg) where margin_deg is the angular distance (degrees) from the
    nearest sector boundary (sectors are 45 degrees wide, centred on the 8 directions).
    """
    ang = math.degrees(math.atan2(dy, dx)) % 360.0
    k = int(math.floor((ang + 22.5) / 45.0)) % 8
    off = (ang - 45.0 * k + 180.0) % 360.0 - 180.0
    return COMPASS_8[k], 22.5 - abs(off)



def _offset_words(v: float, pos: str, neg: str) -> str:
    return f"{abs(v):.2f} m {pos if v >= 0 else neg}"


def stated_cm(v: float) -> int:
    """A coordinate ``v`` (m) as the description prints it (``round(v, 2)`` with two decimals),
    in exact integer centimetres (``round(v, 2) * 100`` is within a rounding error of them)."""
    return int(round(round(float(v), 2) * 100))


def near_walls(scene: SceneGraph, object_id: str, box: OrientedBox | None = None) -> list[str]:
    """Sides (``north``/``south``/``east``/``west``) of walls the object's footprint is within NEAR_WALL_M of.

    ``box``: the object's OrientedBox (world metres) when the caller has it, else ``o.box``."""
    if not scene.room.walls:
        return []
    corners = (box if box is not None else scene.object(object_id).box).corners
    xs, ys = corners[:, 0].tolist(), corners[:, 1].tolist()
    hx, hy = scene.room.size[0] / 2, scene.room.size[1] / 2
    gaps = {"north": hy - max(ys), "south": min(ys) + hy, "east": hx - max(xs), "west": min(xs) + hx}
    return [s for s in WALL_SIDES if gaps[s] <= NEAR_WALL_M]


def outline_sentence(o, box: OrientedBox | None = None) -> str:
    """One sentence giving the exact floor outline of object ``o`` (a SceneObject; ``box``: its
    OrientedBox in world metres when the caller has it, else ``o.box``)."""
    q = math.degrees(o.yaw) / 90.0
    if abs(q - round(q)) < 1e-9:
        corners = (box if box is not None else o.box).corners
        xs, ys = corners[:, 0], corners[:, 1]
        return (f"Its floor outline spans x = {xs.min():.2f} to {xs.max():.2f} m and y = {ys.min():.2f} to "
                f"{ys.max():.2f} m (x east, y north of the room centre).")
    deg = math.degrees(o.yaw) % 360.0
    return (f"Its floor outline is a {o.size[0]:.2f} m by {o.size[1]:.2f} m rectangle centred on its centre, "
            f"the {o.size[0]:.2f} m side pointing {deg:.1f} degrees counter-clockwise from east.")


@dataclass
class SceneDescription:
    """A description and the facts it states.

    Attributes:
        text: the paragraph.
        sentences: its sentences, in order.
        positions: object id -> (east, north) centre offset in metres as stated (rounded to 0.01).
        positions_cm: object id -> (east, north) as stated, in integer centimetres
            (``positions`` times 100, exact): answers worked on these match the text exactly.
        supports: object id -> id of the object it stands on (only objects on other objects).
        relations: (a, direction, b) compass statements made: "a is <direction> of b".
        object_ids: the objects described, in the order they are introduced.
    """

    text: str
    sentences: list[str]
    positions: dict[str, tuple[float, float]]
    supports: dict[str, str]
    relations: list[tuple[str, str, str]] = field(default_factory=list)
    object_ids: list[str] = field(default_factory=list)
    positions_cm: dict[str, tuple[int, int]] = field(default_factory=dict)


def describe_scene(scene: SceneGraph, names: Mapping[str, str], rng: np.random.Generator,
                   object_ids: list[str] | None = None, min_relation_margin_deg: float = 10.0,
                   footprints: bool = False, boxes: Mapping[str, OrientedBox] | None = None) -> SceneDescription:
    """Describe ``scene`` in English from its graph.

    Args:
        scene: the scene (room size and walls, objects as boxes, support relations).
        names: object id -> unique referring expression ("the red chair").
        rng: chooses the object order, relation anchors and phrasing (deterministic given it).
        object_ids: objects to describe (default all, scene order before shuffling).
        min_relation_margin_deg: a compass relation sentence is only written when the direction
            between the stated centres is at least this many degrees from a sector boundary
            (and they are more than 0.3 m apart).
        footprints: also state each object's floor outline exactly (x east, y north, metres from
            the room centre), enough to draw the ASCII map from the text.
        boxes: object id -> OrientedBox (world metres) to reuse (e.g. ``WorldFacts.boxes``);
            by default each object's ``box`` is built.
    """
    ids = [o.id for o in scene.objects] if object_ids is None else list(object_ids)
    for i in ids:
        if i not in names:
            raise KeyError(f"names: no referring expression for object {i!r}; fix: pass names for every object")
    sx, sy, sz = (float(v) for v in scene.room.size)
    sents: list[str] = []
    if scene.room.type == "room":
        sents.append(f"The room is {sx:.2f} m from west to east, {sy:.2f} m from south to north and {sz:.2f} m high.")
    else:
        sents.append(f"The scene is a {scene.room.type} area {sx:.2f} m from west to east and {sy:.2f} m from south to north.")
    order = [ids[k] for k in rng.permutation(len(ids))]
    positions: dict[str, tuple[float, float]] = {}
    cm: dict[str, tuple[int, int]] = {}
    supports: dict[str, str] = {}
    relations: list[tuple[str, str, str]] = []
    by_id = {o.id: o for o in scene.objects}
    for n, oid in enumerate(order):
        o = by_id[oid] if oid in by_id else scene.object(oid)  # scene.object raises the KeyError
        box = boxes[oid] if boxes is not None else None
        e, no = round(float(o.center[0]), 2), round(float(o.center[1]), 2)
        positions[oid] = (e, no)
        cm[oid] = (stated_cm(e), stated_cm(no))
        where = f"{_offset_words(e, 'east', 'west')} and {_offset_words(no, 'north', 'south')} of the room centre"
        name = names[oid]
        if o.supported_by and o.supported_by in names:
            supports[oid] = o.supported_by
            stand = f"stands on {names[o.supported_by]}"
        elif o.on_wall:
            stand = "hangs on a wall"
        else:
            stand = "stands on the floor"
        form = int(rng.integers(0, 2))
        if form == 0:
            sents.append(f"{capitalize(name)} {stand}; its centre is {where}.")
        else:
            sents.append(f"The centre of {name} is {where}, and it {stand}.")
        sents.append(f"It is {o.size[2]:.2f} m tall.")
        if footprints:
            sents.append(outline_sentence(o, box))
        walls = near_walls(scene, oid, box)
        if walls:
            sents.append(f"It is near the {' and '.join(walls)} wall{'s' if len(walls) > 1 else ''}.")
        if n > 0:
            anchor = order[int(rng.integers(0, n))]
            a = by_id[anchor]
            dx, dy = cm[oid][0] - cm[anchor][0], cm[oid][1] - cm[anchor][1]  # stated, integer cm
            d, margin = compass_8(dx, dy)
            stacked = o.supported_by == anchor or a.supported_by == oid
            if not stacked and margin >= min_relation_margin_deg and dx * dx + dy * dy > 30 * 30:
                relations.append((oid, d, anchor))
                sents.append(f"{capitalize(name)} is {d} of {names[anchor]}.")
    return SceneDescription(" ".join(sents), sents, positions, supports, relations, order, cm)
