"""The scene graph primitive: objects as oriented boxes, the room, views, and their JSON record."""

from engine.scene.annotations import ObjectInView
from engine.scene.graph import (
    SCHEMA_VERSION,
    Room,
    SceneGraph,
    SceneObject,
    View,
    Wall,
)
from engine.scene.validate import SceneRecordError, validate_scene_record

__all__ = [
    "SCHEMA_VERSION",
    "ObjectInView",
    "Room",
    "SceneGraph",
    "SceneObject",
    "View",
    "Wall",
    "SceneRecordError",
    "validate_scene_record",
]
