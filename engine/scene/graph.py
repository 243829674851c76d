"""Scene graph dataclasses and their exact JSON round-trip.

Frames and units: world right-handed, metres, +Z up, floor at z = 0; angles in radians.
The room spans x in [-sx/2, sx/2], y in [-sy/2, sy/2]. See docs/record.md for the record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.geometry.boxes import OrientedBox
from engine.geometry.transforms import yaw_rotation
from engine.scene.annotations import ObjectInView
from engine.scene.relations import ON_FLOOR, OnFloor, OnObject, OnWall, Support, parse_support
from engine.scene.validate import SCHEMA_VERSION, validate_scene_record


def _floats(a) -> list:
    """Nested python floats from an array-like (exact: json writes repr of float64)."""
    return np.asarray(a, dtype=float).tolist()


@dataclass
class Wall:
    """A vertical wall segment from ``start`` to ``end`` (x, y metres), ``height`` m tall.

    The wall's inward normal (towards the room interior) is the left normal of start->end;
    walls are listed counter-clockwise seen from above.
    """

    id: str
    start: list[float]
    end: list[float]
    height: float
    thickness: float = 0.1

    @property
    def inward_normal(self) -> np.ndarray:
        """(2,) unit normal pointing into the room."""
        d = np.asarray(self.end, dtype=float) - np.asarray(self.start, dtype=float)
        n = np.array([-d[1], d[0]])
        return n / np.linalg.norm(n)

    def to_dict(self) -> dict:
        return {"id": self.id, "start": _floats(self.start), "end": _floats(self.end),
                "height": float(self.height), "thickness": float(self.thickness)}

    @classmethod
    def from_dict(cls, d: dict) -> "Wall":
        return cls(d["id"], list(d["start"]), list(d["end"]), float(d["height"]), float(d.get("thickness", 0.1)))


@dataclass
class Room:
    """The enclosure: ``type`` is ``room``, ``tabletop`` or ``open``; ``size`` = [sx, sy, sz] m;
    ``room_type`` is the room's function for typed room scenes (``living_room``, ``bedroom``,
    ``kitchen``, ``dining_room``, ``office``, ``bathroom``; scenes/room_types.yaml), else None.

    For ``open`` scenes there are no walls and sz is 0 (an unbounded-looking plane of sx x sy).
    ``architecture`` (rooms with a door, windows, ceiling and skirting; None otherwise) is the
    dict of engine/layout/architecture.py: ``ceiling``, ``skirting_height``, ``openings``.
    """

    type: str
    size: list[float]
    walls: list[Wall] = field(default_factory=list)
    architecture: dict[str, Any] | None = None
    room_type: str | None = None

    @property
    def openings(self) -> list[dict]:
        """The doors and windows (record dicts), [] when the room has no architecture."""
        return list((self.architecture or {}).get("openings", []))

    @property
    def floor_area(self) -> float:
        """Floor area in square metres."""
        return float(self.size[0] * self.size[1])

    def contains_xy(self, points_xy: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        """Boolean (N,) mask: which (N, 2) floor points are inside the room rectangle."""
        p = np.atleast_2d(points_xy)
        hx, hy = self.size[0] / 2 + tol, self.size[1] / 2 + tol
        return (np.abs(p[:, 0]) <= hx) & (np.abs(p[:, 1]) <= hy)

    def to_dict(self) -> dict:
        d = {"type": self.type, "size": _floats(self.size), "walls": [w.to_dict() for w in self.walls]}
        if self.room_type is not None:
            d["room_type"] = self.room_type
        if self.architecture is not None:
            d["architecture"] = self.architecture
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Room":
        arch = d.get("architecture")
        return cls(d["type"], list(d["size"]), [Wall.from_dict(w) for w in d.get("walls", [])],
                   None if arch is None else json.loads(json.dumps(arch)), d.get("room_type"))


@dataclass
class SceneObject:
    """One object: a gravity-aligned oriented box plus semantics.

    Attributes:
        id: unique string id, e.g. ``obj_03``.
        instance_id: positive int written into instance masks (0 is background).
        category: catalog category name.
        attributes: e.g. {"color": "red", "material": "wood"}.
        center: (3,) world metres; size: (3,) full extents (local x = depth/front axis,
            y = width, z = height); yaw: radians about +Z; an object with a front faces local +X.
        support: a :data:`~engine.scene.relations.Support`: OnFloor, OnWall (wall-mounted) or
            OnObject(id); the record strings ``floor``, ``wall``, ``on:<id>`` are parsed on
            construction (engine.scene.relations.parse_support) and written back by to_dict.
        against: id of the wall the object's back is against, or None.
        has_front: whether the category has a front (its facing is meaningful).
        shape_params: the sampled shape parameters of the category's parametric mesh recipe
            (scenes/meshes.yaml ``params``), e.g. {"back": "slatted", "arms": false}; written
            to the record only when non-empty (records without it get the default shape).
    """

    id: str
    instance_id: int
    category: str
    center: list[float]
    size: list[float]
    yaw: float
    support: Support = ON_FLOOR
    against: str | None = None
    has_front: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)
    shape_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.support, (OnFloor, OnWall, OnObject)):
            self.support = parse_support(self.support, f"object {self.id}: support")

    @property
    def rotation(self) -> np.ndarray:
        """(3, 3) local-to-world rotation derived from ``yaw``."""
        return yaw_rotation(self.yaw)

    @property
    def box(self) -> OrientedBox:
        """The object's OrientedBox."""
        return OrientedBox(self.center, self.size, self.rotation)

    @property
    def front(self) -> np.ndarray:
        """(3,) unit world direction the object faces (local +X)."""
        return self.rotation[:, 0]

    @property
    def supported_by(self) -> str | None:
        """Id of the supporting object when the support is OnObject, else None."""
        s = self.support
        return s.object_id if isinstance(s, OnObject) else None

    @property
    def on_floor(self) -> bool:
        """True when the object stands on the floor (support OnFloor)."""
        return isinstance(self.support, OnFloor)

    @property
    def on_wall(self) -> bool:
        """True when the object is mounted on a wall (support OnWall; the wall is ``against``)."""
        return isinstance(self.support, OnWall)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "instance_id": int(self.instance_id),
            "category": self.category,
            "attributes": dict(self.attributes),
            "center": _floats(self.center),
            "size": _floats(self.size),
            "rotation": _floats(self.rotation),
            "yaw": float(self.yaw),
            "support": str(self.support),
            "against": self.against,
            "has_front": bool(self.has_front),
            **({"shape_params": dict(self.shape_params)} if self.shape_params else {}),
        }

    @classmethod
    def from_dict(cls, d: dict, where: str = "object") -> "SceneObject":
        """Build from a record dict; a bad ``support`` raises RelationError naming ``<where>.support``."""
        return cls(
            id=d["id"], instance_id=int(d["instance_id"]), category=d["category"],
            center=list(d["center"]), size=list(d["size"]), yaw=float(d["yaw"]),
            support=parse_support(d.get("support", "floor"), f"{where}.support"), against=d.get("against"),
            has_front=bool(d.get("has_front", False)), attributes=dict(d.get("attributes", {})),
            shape_params=dict(d.get("shape_params", {})),
        )


@dataclass
class View:
    """One camera view.

    Attributes:
        id: e.g. ``view_0``.
        K: (3, 3) intrinsics, pixels. width, height: image size in pixels.
        cam_to_world: (4, 4) OpenCV-convention pose (camera +X right, +Y down, +Z forward).
        objects: per object id, what is known of it in this view: an
            :class:`~engine.scene.annotations.ObjectInView` with the geometric fields from the
            camera sampler (``in_frustum``, ``bbox_amodal_geom``, ``truncated_geom``,
            ``in_frame_fraction``, ``distance``, ``depth``; docs/record.md) and, once rendered,
            ``visible_pixels``, ``amodal_pixels``, ``visible_fraction``, ``truncated``,
            ``bbox_visible``, ``bbox_amodal`` (pixel boxes [u0, v0, u1, v1] or None); fields
            not computed yet are None. Record dicts given here are parsed on construction.
        params: the sampled camera parameters (height, pitch, fov, ...), for the record.
        pixel_shares: once rendered, the share of the image's pixels showing objects and each
            bare room surface (engine.render.framing.SHARE_KEYS), or None.
    """

    id: str
    K: list[list[float]]
    width: int
    height: int
    cam_to_world: list[list[float]]
    objects: dict[str, ObjectInView] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    pixel_shares: dict[str, float] | None = None

    def __post_init__(self) -> None:
        for k, v in self.objects.items():
            if not isinstance(v, ObjectInView):
                self.objects[k] = ObjectInView.from_dict(v)

    @property
    def position(self) -> np.ndarray:
        """(3,) camera centre in world metres."""
        return np.asarray(self.cam_to_world, dtype=float)[:3, 3]

    @property
    def forward(self) -> np.ndarray:
        """(3,) unit optical axis (camera +Z) in world."""
        return np.asarray(self.cam_to_world, dtype=float)[:3, 2]

    def to_dict(self) -> dict:
        d = {
            "id": self.id, "K": _floats(self.K), "width": int(self.width), "height": int(self.height),
            "cam_to_world": _floats(self.cam_to_world),
            "objects": {k: v.to_dict() for k, v in sorted(self.objects.items())},
            "params": dict(self.params),
        }
        if self.pixel_shares is not None:
            d["pixel_shares"] = {k: float(v) for k, v in self.pixel_shares.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "View":
        ps = d.get("pixel_shares")
        return cls(d["id"], d["K"], int(d["width"]), int(d["height"]), d["cam_to_world"],
                   {k: ObjectInView.from_dict(v) for k, v in d.get("objects", {}).items()},
                   dict(d.get("params", {})), None if ps is None else {k: float(v) for k, v in ps.items()})


@dataclass
class SceneGraph:
    """A scene: room, objects, views, lights and materials, plus provenance.

    ``generator`` = {"name", "version", "config_hash"}; ``stats`` holds sampler statistics
    (per-object placement attempts); ``paths`` the camera paths of walkthrough scenes (each
    {``id``, ``kind``, ``view_ids`` in frame order, ``timestamps`` s, ``fps``, ...}; empty, and
    absent from the record, otherwise). Everything sampled is stored so the scene can be
    re-rendered and re-asked from its record alone.
    """

    scene_id: str
    seed: int
    room: Room
    objects: list[SceneObject] = field(default_factory=list)
    views: list[View] = field(default_factory=list)
    lights: list[dict] = field(default_factory=list)
    materials: dict[str, Any] = field(default_factory=dict)
    generator: dict[str, Any] = field(default_factory=dict)
    scene_index: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    paths: list[dict] = field(default_factory=list)  # camera paths (walkthrough mode; docs/video.md)

    def object(self, object_id: str) -> SceneObject:
        """The object with id ``object_id`` (KeyError naming the id otherwise)."""
        for o in self.objects:
            if o.id == object_id:
                return o
        raise KeyError(f"no object with id {object_id!r} in scene {self.scene_id}")

    def relations(self) -> list[tuple[str, str, str]]:
        """Support and placement relations as (subject, predicate, object) triples.

        Predicates: ``on`` (object or ``floor``), ``mounted_on`` (``wall``), ``against`` (wall id).
        """
        rel = []
        for o in self.objects:
            if o.on_wall:
                rel.append((o.id, "mounted_on", o.against or "wall"))
            elif o.supported_by:
                rel.append((o.id, "on", o.supported_by))
            else:
                rel.append((o.id, "on", "floor"))
            if o.against and not o.on_wall:
                rel.append((o.id, "against", o.against))
        return rel

    def to_dict(self) -> dict:
        d = {
            "schema_version": SCHEMA_VERSION,
            "scene_id": self.scene_id,
            "scene_index": int(self.scene_index),
            "seed": int(self.seed),
            "generator": dict(self.generator),
            "room": self.room.to_dict(),
            "objects": [o.to_dict() for o in self.objects],
            "views": [v.to_dict() for v in self.views],
            "lights": [dict(l) for l in self.lights],
            "materials": dict(self.materials),
            "stats": dict(self.stats),
        }
        if self.paths:  # written only when present: records of the view sampler keep their bytes
            d["paths"] = [dict(p) for p in self.paths]
        return d

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no whitespace, exact floats; identical bytes for equal scenes."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_dict(cls, d: dict, validate: bool = True) -> "SceneGraph":
        """Build from a record dict; with ``validate`` raises SceneRecordError naming bad fields."""
        if validate:
            validate_scene_record(d, raise_on_error=True)
        return cls(
            scene_id=d["scene_id"], seed=int(d["seed"]), room=Room.from_dict(d["room"]),
            objects=[SceneObject.from_dict(o, f"objects[{i}]") for i, o in enumerate(d["objects"])],
            views=[View.from_dict(v) for v in d.get("views", [])],
            lights=[dict(l) for l in d.get("lights", [])], materials=dict(d.get("materials", {})),
            generator=dict(d.get("generator", {})), scene_index=int(d.get("scene_index", 0)),
            stats=dict(d.get("stats", {})), paths=[dict(p) for p in d.get("paths", [])],
        )

    @classmethod
    def from_json(cls, text: str, validate: bool = True) -> "SceneGraph":
        """Parse canonical JSON written by :meth:`to_json`."""
        return cls.from_dict(json.loads(text), validate=validate)
