"""Geometric facts, computed once per scene (world facts) and once per view, shared by templates.

World frame: metres, +Z up. Camera frame: OpenCV (+X right, +Y down, +Z forward). Arrays are
indexed by the object's position in ``scene.objects`` (``WorldFacts.index[oid]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely

from engine.geometry.boxes import boxes_point_distance, interval_gap
from engine.geometry.projection import world_to_camera
from engine.geometry.transforms import invert_pose
from engine.scene.annotations import NOT_IN_VIEW
from engine.scene.catalog import Catalog
from engine.scene.graph import SceneGraph, View


class WorldFacts:
    """View-independent facts of a scene.

    Attributes:
        ids: object ids in scene order; index: id -> row.
        centers, sizes: (N, 3) world metres (size = depth, width, height along local axes).
        zmin, zmax: (N,) world z range of each box (m). volume: (N,) m^3.
        category: ids -> catalog key; name: id -> display name ("coffee table").
        support: id -> supporting object id or None ("floor"/"wall" give None).
        boxes: (N,) OrientedBox; rotations: (N, 3, 3) their local-to-world rotations;
            footprints: (N,) shapely floor polygons (made on first use).
        by_category: category -> ids (scene order), made on first use.
    """

    def __init__(self, scene: SceneGraph, catalog: Catalog):
        self.scene = scene
        self.catalog = catalog
        self.objects = list(scene.objects)
        self.ids = [o.id for o in self.objects]
        self.index = {oid: i for i, oid in enumerate(self.ids)}
        self.by_id = {o.id: o for o in self.objects}
        n = len(self.objects)
        self.centers = np.array([o.center for o in self.objects], dtype=float).reshape(n, 3)
        self.sizes = np.array([o.size for o in self.objects], dtype=float).reshape(n, 3)
        self.yaws = np.array([o.yaw for o in self.objects], dtype=float)
        self.zmin = self.centers[:, 2] - self.sizes[:, 2] / 2
        self.zmax = self.centers[:, 2] + self.sizes[:, 2] / 2
        self.volume = np.prod(self.sizes, axis=1) if n else np.zeros(0)
        self.boxes = [o.box for o in self.objects]
        self.rotations = np.array([b.rotation for b in self.boxes]).reshape(n, 3, 3)
        self.category = {o.id: o.category for o in self.objects}
        self.name = {o.id: (catalog[o.category].name if o.category in catalog else o.category.replace("_", " "))
                     for o in self.objects}
        self.support = {o.id: o.supported_by for o in self.objects}
        self._dist: dict[tuple[int, int], float] = {}
        self._dxy: dict[tuple[int, int], float] = {}
        self._footprints: np.ndarray | None = None  # (N,) shapely polygons, made at first use
        self.cache: dict = {}  # per-scene values a family computes once (key by family)

    def footprint(self, i: int):
        """Shapely footprint polygon of object row ``i`` (world x, y metres), cached."""
        return self.footprints[i]

    @property
    def footprints(self) -> np.ndarray:
        """(N,) shapely footprint polygons (world x, y metres): each box's bottom ring, CCW, as
        ``Polygon(box.corners[[0, 4, 6, 2], :2])``; made at first use, all at once."""
        if self._footprints is None:
            rings = np.array([b.corners[[0, 4, 6, 2], :2] for b in self.boxes]).reshape(-1, 4, 2)
            self._footprints = shapely.polygons(rings)
        return self._footprints

    def distance(self, a: str, b: str) -> float:
        """Closest-point distance (m) between objects ``a`` and ``b`` (0 when touching), cached."""
        i, j = sorted((self.index[a], self.index[b]))
        d = self._dist.get((i, j))
        if d is None:
            # Scene objects rotate about +Z only (rotation = Rz(yaw)), so boxes are prisms and the
            # closest-point distance is hypot(footprint distance, z gap) (see box_box_distance).
            d = float(np.hypot(self.horizontal_distance(a, b), self.vertical_gap(a, b)))
            self._dist[(i, j)] = d
        return d

    def horizontal_distance(self, a: str, b: str) -> float:
        """Distance (m) between the two floor footprints (0 when they overlap), cached."""
        i, j = sorted((self.index[a], self.index[b]))
        d = self._dxy.get((i, j))
        if d is None:
            fp = self.footprints
            d = self._dxy[(i, j)] = float(shapely.distance(fp[i], fp[j]))  # = fp[i].distance(fp[j])
        return d

    def vertical_gap(self, a: str, b: str) -> float:
        """Gap (m) between the z ranges of ``a`` and ``b``; 0 when they overlap."""
        i, j = self.index[a], self.index[b]
        return interval_gap((self.zmin[i], self.zmax[i]), (self.zmin[j], self.zmax[j]))

    @cached_property
    def rows(self) -> "FactRows":
        """The per-object arrays as Python lists (floats), made once per scene: families that
        look at one or two objects at a time read these instead of indexing numpy arrays (the
        same values; Python float arithmetic is the same IEEE arithmetic)."""
        return FactRows(centers=self.centers.tolist(), sizes=self.sizes.tolist(), zmin=self.zmin.tolist(),
                        zmax=self.zmax.tolist(), volume=self.volume.tolist())

    @cached_property
    def by_category(self) -> dict[str, list[str]]:
        """Category -> ids of its objects (scene order); categories in order of first appearance.
        Shared: do not modify."""
        out: dict[str, list[str]] = {}
        for oid in self.ids:
            out.setdefault(self.category[oid], []).append(oid)
        return out

    def same_category(self, oid: str) -> list[str]:
        """Other objects of ``oid``'s category, scene order."""
        c = self.category[oid]
        return [o for o in self.ids if o != oid and self.category[o] == c]


@dataclass(frozen=True)
class FactRows:
    """Per-object values as Python lists, indexed like the arrays they copy (``WorldFacts.index``
    rows). World: centers, sizes (N x 3, m), zmin, zmax (m), volume (m^3). View: cam_dist (m),
    u (projected centre column, px, NaN behind the camera), vis_frac, vis_px, amodal_px."""

    centers: list = None
    sizes: list = None
    zmin: list = None
    zmax: list = None
    volume: list = None
    cam_dist: list = None
    u: list = None
    vis_frac: list = None
    vis_px: list = None
    amodal_px: list = None


class ViewFacts:
    """Facts of one view: camera pose, per-object visibility and camera-relative geometry.

    Attributes:
        view: the View; K (3, 3); pose: cam_to_world (4, 4); cam_pos (3,) world m.
        vis_frac, vis_px, amodal_px: (N,) renderer visibility (0 where the renderer gave none).
        in_frame: (N,) the camera sampler's ``in_frame_fraction`` (share of the box's projected
            area inside the image, 0..1). A view none of whose objects carries the field (a
            record written before it existed) counts every object as 1.0, so old records load
            and ask as before; in a view that has it, an object without it counts 0.0.
        truncated: (N,) bool (renderer field, else the camera sampler's ``truncated_geom``).
        cam_dist: (N,) camera centre to the closest box point (m).
        cam_xyz: (N, 3) box centres in the camera frame (m); depth = cam_xyz[:, 2].
        uv: (N, 2) projected centres (pixels; NaN behind the camera).
    """

    def __init__(self, world: WorldFacts, view: View):
        self.world = world
        self.view = view
        self.id = view.id
        self.K = np.asarray(view.K, dtype=float)
        self.pose = np.asarray(view.cam_to_world, dtype=float)
        self.cam_pos = self.pose[:3, 3]
        self.width, self.height = int(view.width), int(view.height)
        ids = world.ids
        per = [view.objects.get(oid, NOT_IN_VIEW) for oid in ids]
        self.info = dict(zip(ids, per))
        # What a missing field counts as is the ObjectInView readings' (engine/scene/annotations.py).
        self.vis_frac = np.array([p.vis_frac for p in per], dtype=float)
        self.vis_px = np.array([p.vis_px for p in per], dtype=int)
        self.amodal_px = np.array([p.amodal_px for p in per], dtype=int)
        self.truncated = np.array([p.is_truncated for p in per], dtype=bool)
        missing = 0.0 if any(p.in_frame_fraction is not None for p in per) else 1.0
        self.in_frame = np.array([p.in_frame(missing) for p in per], dtype=float)
        self._visible_ids: dict[tuple[float, int, float], list[str]] = {}
        n = len(ids)
        if n:
            self.cam_xyz = world_to_camera(self.pose, world.centers)
            self.cam_dist = boxes_point_distance(world.centers, world.sizes, world.rotations, self.cam_pos)
            z = self.cam_xyz[:, 2]
            self.uv = np.full((n, 2), np.nan)
            front = z > 1e-9
            self.uv[front, 0] = self.K[0, 0] * self.cam_xyz[front, 0] / z[front] + self.K[0, 2]
            self.uv[front, 1] = self.K[1, 1] * self.cam_xyz[front, 1] / z[front] + self.K[1, 2]
        else:
            self.cam_xyz = np.zeros((0, 3))
            self.cam_dist = np.zeros(0)
            self.uv = np.zeros((0, 2))

    @cached_property
    def rows(self) -> FactRows:
        """The per-object view arrays as Python lists (see :class:`FactRows`), made once per view."""
        return FactRows(cam_dist=self.cam_dist.tolist(), u=self.uv[:, 0].tolist(), vis_frac=self.vis_frac.tolist(),
                        vis_px=self.vis_px.tolist(), amodal_px=self.amodal_px.tolist())

    @cached_property
    def world_to_cam(self) -> np.ndarray:
        """(4, 4) world-to-camera pose."""
        return invert_pose(self.pose)

    @cached_property
    def heading_xy(self) -> np.ndarray:
        """(2,) unit vector: the camera's viewing direction projected on the floor (world x, y)."""
        f = self.pose[:3, 2][:2]
        n = np.linalg.norm(f)
        return f / n if n > 1e-9 else np.array([1.0, 0.0])

    def i(self, oid: str) -> int:
        """Row of object ``oid``."""
        return self.world.index[oid]

    def visible(self, oid: str, min_fraction: float, min_pixels: int, min_in_frame: float) -> bool:
        """True when ``oid`` is visible enough: visible fraction >= min_fraction, visible pixels
        >= min_pixels (at least 1) and in-frame fraction (:attr:`in_frame`) >= min_in_frame.
        Families take the thresholds from the template (``FamilyContext.min_fraction``,
        ``min_pixels``, ``min_in_frame``)."""
        i = self.world.index[oid]
        return bool(self.vis_frac[i] >= min_fraction and self.vis_px[i] >= max(1, min_pixels)
                    and self.in_frame[i] >= min_in_frame)

    def visible_ids(self, min_fraction: float, min_pixels: int, min_in_frame: float) -> list[str]:
        """Ids (scene order) of the objects :meth:`visible` with these thresholds; a new list
        each call (the answer is computed once per view and threshold triple)."""
        key = (min_fraction, min_pixels, min_in_frame)
        ids = self._visible_ids.get(key)
        if ids is None:
            ok = (self.vis_frac >= min_fraction) & (self.vis_px >= max(1, min_pixels)) & (self.in_frame >= min_in_frame)
            ids = self._visible_ids[key] = [oid for oid, k in zip(self.world.ids, ok.tolist()) if k]
        return list(ids)

    def present(self, oid: str) -> bool:
        """True when any pixel of ``oid`` shows in this view (it could be confused with others),
        however little of it is in the frame."""
        return bool(self.vis_px[self.world.index[oid]] > 0)

    def bbox_visible(self, oid: str):
        """Renderer's visible 2D box [u0, v0, u1, v1] (inclusive pixels) or None."""
        return self.info[oid].bbox_visible

    def bbox_amodal(self, oid: str):
        """Renderer's amodal 2D box, else the camera sampler's geometric one, else None."""
        return self.info[oid].box_amodal

    def image_angle_deg(self, oid: str) -> float:
        """Horizontal angle (deg) of the centre's ray from the optical axis; + is right."""
        x, _, z = self.cam_xyz[self.world.index[oid]]
        return float(np.degrees(np.arctan2(x, z)))

    def topdown_bearing_deg(self, src_xy, dst_xy) -> float:
        """Clockwise angle (deg, (-180, 180]) of dst seen from src in the floor plane, 0 = camera heading."""
        d = np.asarray(dst_xy, float) - np.asarray(src_xy, float)
        h = self.heading_xy
        fwd = float(d @ h)
        right = float(d[0] * h[1] - d[1] * h[0])  # heading rotated clockwise by 90 deg is (h_y, -h_x)
        return float(np.degrees(np.arctan2(right, fwd)))
