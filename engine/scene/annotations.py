"""Typed per-view object annotations: what one view knows of one object (docs/record.md).

``View.objects`` maps object id -> :class:`ObjectInView`. The record's per-object dict is parsed
once, by :meth:`ObjectInView.from_dict` (SceneGraph.from_dict calls it), and written back by
:meth:`ObjectInView.to_dict` with the same keys and values, so the JSON record is unchanged byte
for byte.

Missing fields. A field is None when the record does not hold it: the camera sampler's fields
before sampling (or ``in_frame_fraction`` in records written before it existed), the renderer's
before rendering. Boxes are None too when they are null in the record (no part of the box in the
image, no visible pixel); :attr:`ObjectInView.nulls` lists the keys the record holds as null, so
the two cases are written back as they were read. Code that needs a number reads the QA readings
:attr:`~ObjectInView.vis_frac`, :attr:`~ObjectInView.vis_px`, :attr:`~ObjectInView.amodal_px`,
:attr:`~ObjectInView.is_truncated`, :meth:`~ObjectInView.in_frame` and
:attr:`~ObjectInView.box_amodal`, which say in one place what a missing field counts as.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Record keys, in the order the pipeline writes them: the camera sampler's geometric fields
# (engine.camera.annotate.GEOMETRY_FIELDS), then the renderer's (engine.render.protocol.RENDER_FIELDS).
CAMERA_FIELDS = ("in_frustum", "bbox_amodal_geom", "truncated_geom", "in_frame_fraction", "distance", "depth")
RENDERER_FIELDS = ("visible_pixels", "amodal_pixels", "visible_fraction", "truncated", "bbox_visible", "bbox_amodal")
FIELDS = CAMERA_FIELDS + RENDERER_FIELDS
_KNOWN = frozenset(FIELDS)


@dataclass(frozen=True, slots=True, repr=False)
class ObjectInView:
    """One object in one view; every field is None when the record does not hold it.

    From the camera sampler (geometry):
        in_frustum: all 8 box corners in front of the camera and inside the image.
        bbox_amodal_geom: [u0, v0, u1, v1] pixels of the projected box clipped to the image.
        truncated_geom: the projected box crosses the image border or the near plane.
        in_frame_fraction: share (0..1) of the box's projected area inside the image.
        distance: camera centre to the closest box point, m. depth: camera-frame z of the centre, m.
    From the renderer (pixels inside the image):
        visible_pixels, amodal_pixels: pixel counts. visible_fraction: visible / amodal (0 when
        amodal is 0). truncated: the amodal mask touches the border (or truncated_geom).
        bbox_visible, bbox_amodal: [u0, v0, u1, v1] inclusive integer pixel boxes.
    Bookkeeping for the exact record:
        nulls: the keys the record holds as null (a None field not listed is absent).
        extra: (key, value) pairs of keys this engine does not know, written back unchanged.

    Values are kept as read (lists stay the record's lists: do not modify them); build changed
    entries with :meth:`updated` or ``dataclasses.replace``.
    """

    in_frustum: bool | None = None
    bbox_amodal_geom: list[float] | None = None
    truncated_geom: bool | None = None
    in_frame_fraction: float | None = None
    distance: float | None = None
    depth: float | None = None
    visible_pixels: int | None = None
    amodal_pixels: int | None = None
    visible_fraction: float | None = None
    truncated: bool | None = None
    bbox_visible: list[int] | None = None
    bbox_amodal: list[int] | None = None
    nulls: frozenset[str] = frozenset()
    extra: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ObjectInView:
        """Parse one per-object record dict (every key it holds is kept; null is None + :attr:`nulls`)."""
        get = d.get
        nulls = frozenset(k for k, v in d.items() if v is None and k in _KNOWN) \
            if any(v is None for v in d.values()) else frozenset()
        extra = () if _KNOWN.issuperset(d) else tuple((k, v) for k, v in d.items() if k not in _KNOWN)
        return cls(get("in_frustum"), get("bbox_amodal_geom"), get("truncated_geom"), get("in_frame_fraction"),
                   get("distance"), get("depth"), get("visible_pixels"), get("amodal_pixels"),
                   get("visible_fraction"), get("truncated"), get("bbox_visible"), get("bbox_amodal"),
                   nulls, extra)

    def to_dict(self) -> dict[str, Any]:
        """The record dict: the fields held (see :attr:`nulls`) in :data:`FIELDS` order, then :attr:`extra`."""
        nulls = self.nulls
        out = {}
        for k in FIELDS:
            v = getattr(self, k)
            if v is not None or k in nulls:
                out[k] = v
        out.update(self.extra)
        return out

    def updated(self, fields: ObjectInView | Mapping[str, Any]) -> ObjectInView:
        """A copy with the fields ``fields`` holds (an ObjectInView or a record dict) written
        over these, as ``dict.update`` on the records; the other fields are kept."""
        d = self.to_dict()
        d.update(fields.to_dict() if isinstance(fields, ObjectInView) else fields)
        return ObjectInView.from_dict(d)

    def __repr__(self) -> str:
        return f"ObjectInView({', '.join(f'{k}={v!r}' for k, v in self.to_dict().items())})"

    # ---- QA readings: what a missing field counts as, in one place

    @property
    def vis_frac(self) -> float:
        """``visible_fraction``, 0.0 when not rendered."""
        return self.visible_fraction or 0.0

    @property
    def vis_px(self) -> int:
        """``visible_pixels``, 0 when not rendered."""
        return self.visible_pixels or 0

    @property
    def amodal_px(self) -> int:
        """``amodal_pixels``, 0 when not rendered."""
        return self.amodal_pixels or 0

    @property
    def is_truncated(self) -> bool:
        """The renderer's ``truncated``, else the camera sampler's ``truncated_geom``, else False."""
        t = self.truncated
        if t is None:
            t = self.truncated_geom
        return bool(t)

    def in_frame(self, default: float) -> float:
        """``in_frame_fraction``, or ``default`` when the record lacks it (ViewFacts passes 1.0
        for a view none of whose objects has it, a record from before the field, else 0.0)."""
        f = self.in_frame_fraction
        return default if f is None else f

    @property
    def box_amodal(self) -> list | None:
        """The renderer's amodal box, else the camera sampler's geometric one, else None."""
        b = self.bbox_amodal
        return b if b is not None else self.bbox_amodal_geom


NOT_IN_VIEW = ObjectInView()  # what a view knows of an object it has no entry for: nothing
