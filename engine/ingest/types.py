"""What a converter hands to ``spatialforge ask``: a scene record (objects and cameras, no
annotations yet) plus the user's files for each view."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.scene.graph import SceneGraph


class IngestError(ValueError):
    """A user's scene file is malformed; the message names the file, the field and the fix."""


@dataclass
class ViewInputs:
    """The user's files for one view.

    Attributes:
        rgb: the colour image (PNG or JPEG; its size must be the view's width x height).
        depth: optional depth image: a 16-bit PNG holding camera-frame z times ``depth_scale``
            (so metres = value / depth_scale; 0 = no reading), or a ``.npy`` of float metres.
        depth_scale: PNG units per metre (1000 for millimetres).
        mask: optional instance-id image (PNG or ``.npy``): pixel value = the object's
            ``instance_id``, 0 = background.
        object_masks: optional per-object binary masks (object id -> PNG, non-zero = the object),
            OpenSpatial's ``masks`` column; combined into one id image in object order.
    """

    rgb: Path
    depth: Path | None = None
    depth_scale: float = 1000.0
    mask: Path | None = None
    object_masks: dict[str, Path] | None = None

    @property
    def has_mask(self) -> bool:
        """True when the view comes with instance masks (either form)."""
        return self.mask is not None or bool(self.object_masks)


@dataclass
class UserScene:
    """One scene the user brought.

    Attributes:
        scene: objects (gravity-aligned boxes, world Z-up, metres) and views (K, OpenCV
            cam_to_world, width, height, params); the per-view object annotations are empty until
            ``engine.ingest.annotate.annotate_scene`` fills them.
        inputs: view id -> ViewInputs.
        source: where it came from: ``format`` (native / openspatial / clevr) and ``id`` (the
            scene's id in the user's file).
        notes: counters for the run's summary (e.g. ``tilted_boxes``: boxes not gravity-aligned,
            replaced by their enclosing gravity-aligned box; ``support_unknown``: objects neither
            on the floor nor on another box).
    """

    scene: SceneGraph
    inputs: dict[str, ViewInputs]
    source: dict
    notes: dict[str, int] = field(default_factory=dict)
