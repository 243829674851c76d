"""Typed support and placement relations, parsed once from their record / catalog strings.

A scene object's ``support`` (docs/record.md) is one of

    OnFloor()            record "floor"        stands on the floor
    OnWall()             record "wall"         mounted on a wall (which one: SceneObject.against)
    OnObject(object_id)  record "on:<id>"      stands on another object of the scene

and a catalog category's ``placement`` (scenes/catalog.yaml, a hint for the room sampler) is one of

    Free()               "free"                anywhere on the floor
    AgainstWall()        "against_wall"        back flush against a wall
    Near(category)       "near:<category>"     a satellite of an anchor of that category

The strings are parsed here and nowhere else (:func:`parse_support`, :func:`parse_placement`,
called by ``SceneObject`` and the catalog loader); ``str(relation)`` gives the string back, so
records are written unchanged. Relations are small frozen dataclasses compared by value
(``obj.support == ON_FLOOR``, ``isinstance(obj.support, OnObject)``; SceneObject's ``on_floor``,
``on_wall`` and ``supported_by`` and Category's ``near`` read them). Comparing one with a plain
string raises TypeError: such a comparison is a leftover of the string form and would otherwise
be silently false.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union


class RelationError(ValueError):
    """A support or placement string is malformed; the message names the field."""


class _Relation:
    """Shared behaviour: value equality within a kind, and a loud error against strings."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            raise TypeError(f"{self!r} compared with the string {other!r}: compare relations with relations "
                            "(engine.scene.relations), or str(relation) with strings")
        return type(other) is type(self) and self._key() == other._key()  # type: ignore[attr-defined]

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def _key(self) -> tuple:
        return ()


# ---- support of a scene object


@dataclass(frozen=True, eq=False)
class OnFloor(_Relation):
    """Stands on the floor (record ``floor``)."""

    def __str__(self) -> str:
        return "floor"


@dataclass(frozen=True, eq=False)
class OnWall(_Relation):
    """Mounted on a wall (record ``wall``); the wall is the object's ``against``."""

    def __str__(self) -> str:
        return "wall"


@dataclass(frozen=True, eq=False)
class OnObject(_Relation):
    """Stands on the object ``object_id`` of the same scene (record ``on:<object_id>``)."""

    object_id: str

    def __str__(self) -> str:
        return f"on:{self.object_id}"

    def _key(self) -> tuple:
        return (self.object_id,)


Support = Union[OnFloor, OnWall, OnObject]
ON_FLOOR = OnFloor()
ON_WALL = OnWall()


def parse_support(value: Any, field: str = "support") -> Support:
    """The Support of a record string ``floor``, ``wall`` or ``on:<object id>``.

    Raises RelationError naming ``field`` (e.g. ``objects[3].support``) on any other value.
    Whether the id names an object of the scene is checked by validate_scene_record.
    """
    if value == "floor":
        return ON_FLOOR
    if value == "wall":
        return ON_WALL
    if isinstance(value, str) and value.startswith("on:") and len(value) > 3:
        return OnObject(value[3:])
    raise RelationError(f"{field}: {value!r} must be 'floor', 'wall' or 'on:<object id>'")


# ---- placement rule of a catalog category


@dataclass(frozen=True, eq=False)
class Free(_Relation):
    """Anywhere on the floor (catalog ``free``, the default)."""

    def __str__(self) -> str:
        return "free"


@dataclass(frozen=True, eq=False)
class AgainstWall(_Relation):
    """Back flush against a wall (catalog ``against_wall``)."""

    def __str__(self) -> str:
        return "against_wall"


@dataclass(frozen=True, eq=False)
class Near(_Relation):
    """A satellite of an anchor of ``category`` (catalog ``near:<category>``); how it sits by its
    anchor is the category's ``near_mode`` / ``near_gap`` / ``near_max``."""

    category: str

    def __str__(self) -> str:
        return f"near:{self.category}"

    def _key(self) -> tuple:
        return (self.category,)


Placement = Union[Free, AgainstWall, Near]
FREE = Free()
AGAINST_WALL = AgainstWall()


def parse_placement(value: Any, field: str = "placement") -> Placement:
    """The Placement of a catalog string ``free``, ``against_wall`` or ``near:<category>``.

    Raises RelationError naming ``field`` on any other value. Whether the category exists is
    checked by the catalog loader.
    """
    if value == "free":
        return FREE
    if value == "against_wall":
        return AGAINST_WALL
    if isinstance(value, str) and value.startswith("near:") and len(value) > 5:
        return Near(value[5:])
    raise RelationError(f"{field}: {value!r} must be 'free', 'against_wall' or 'near:<category>'")
