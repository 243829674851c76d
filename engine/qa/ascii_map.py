"""Top-down ASCII maps of a scene (one letter per object, walls, camera position and heading).

Orientation (fixed): row 0 is the north side (+y), column 0 the west side (-x); east is +x.
The interior grid has ``ceil(sx / r)`` columns and ``ceil(sy / r)`` rows of ``r`` metres,
centred on the room centre, so every interior cell centre lies inside the room. Rooms with
walls get a one-cell border ring: ``#`` where the point of the room rectangle nearest to the
border cell's centre lies on a wall segment (a corner is drawn when either of its walls
reaches it), a space elsewhere; rooms without walls (open planes, tabletops) get no ring.

Cell contents, in order of precedence:

1. the camera mark (only with a view whose camera centre lies over an interior cell): ``^``
   north, ``>`` east, ``v`` south, ``<`` west, the nearest of the 4 headings (a heading exactly
   between two takes the counter-clockwise one);
2. an object letter: among the objects whose floor footprint contains the cell centre, the one
   with the highest top wins (small objects on furniture are drawn over it; ties go to the
   higher base, then to the earlier object in the scene). An object whose footprint contains no
   cell centre (smaller than a cell) takes the cell containing its centre when that cell is empty
   or held by a lower object that keeps another cell;
3. ``.`` empty floor.

Letters ``A``-``Z`` then ``a``-``z`` without ``v`` go to the drawn objects in scene order; an
object left with no cell (possible only when cells are coarse) gets no letter and is listed in
``AsciiMap.hidden``. The legend maps each letter to the object's referring expression.
"""

from __future__ import annotations

import functools
import math
import string
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from engine.qa.egomotion import heading
from engine.scene.graph import SceneGraph, View

WALL, FLOOR, OUTSIDE = "#", ".", " "
HEADING_MARKS = (">", "^", "<", "v")  # east, north, west, south (counter-clockwise from +x)
LETTERS = string.ascii_uppercase + string.ascii_lowercase.replace("v", "")


@dataclass
class AsciiMap:
    """A drawn map and everything needed to reason about it.

    Attributes:
        grid: rows of equal length, row 0 north.
        legend: letter -> referring expression, in letter order.
        letters: object id -> letter (drawn objects only).
        cells: object id -> list of (row, col) grid cells showing its letter (row-major order).
        hidden: ids of objects that could not be drawn at this resolution.
        camera_cell: (row, col) of the camera mark, or None.
        camera_mark: one of ``^ > v <`` or None.
        resolution_m: cell size in metres.
        x_west, y_north: world x of the west edge and y of the north edge of grid column/row 0.
    """

    grid: list[str]
    legend: dict[str, str]
    letters: dict[str, str]
    cells: dict[str, list[tuple[int, int]]]
    hidden: list[str]
    camera_cell: tuple[int, int] | None
    camera_mark: str | None
    resolution_m: float
    x_west: float
    y_north: float
    border: int = 0
    meta: dict = field(default_factory=dict)

    def cell_center(self, row: int, col: int) -> tuple[float, float]:
        """World (x, y) metres of the centre of grid cell (row, col)."""
        r = self.resolution_m
        return self.x_west + (col + 0.5) * r, self.y_north - (row + 0.5) * r

    def text(self) -> str:
        """The grid as one string, rows joined by newlines."""
        return "\n".join(self.grid)

    def legend_text(self) -> str:
        """The legend as lines ``A = the red chair``, in letter order."""
        return "\n".join(f"{k} = {v}" for k, v in self.legend.items())


def heading_mark(heading_rad: float) -> str:
    """The nearest of the 4 heading marks for a heading (radians, counter-clockwise from +x)."""
    k = int(math.floor((heading_rad + math.pi / 4) / (math.pi / 2) + 1e-12)) % 4
    return HEADING_MARKS[k]


@functools.lru_cache(maxsize=8)  # the maps of one scene share a room; scenes rarely do
def _wall_ring(sx: float, sy: float, r: float, ncols: int, nrows: int,
               walls: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The one-cell ring around a room's ``nrows`` x ``ncols`` interior grid of ``r`` m cells:
    (row indices, column indices, characters) of the ring cells, ``#`` where the point of the
    ``sx`` x ``sy`` m room rectangle nearest the cell centre lies on one of ``walls``
    (((x0, y0), (x1, y1)) world metres), a space elsewhere. Pure, so cached: the maps of one
    room share it. The returned arrays are read-only."""
    x_west, y_north = -ncols * r / 2 - r, nrows * r / 2 + r
    H, W = nrows + 2, ncols + 2
    cx = x_west + (np.arange(W) + 0.5) * r
    cy = y_north - (np.arange(H) + 0.5) * r
    ring = np.ones((H, W), dtype=bool)
    ring[1:-1, 1:-1] = False
    ri, rj = np.nonzero(ring)
    # The room-rectangle point nearest the cell centre decides: '#' when it lies on a wall.
    q = np.stack([np.clip(cx[rj], -sx / 2, sx / 2), np.clip(cy[ri], -sy / 2, sy / 2)], axis=1)
    on_wall = np.zeros(len(q), dtype=bool)
    for start, end in walls:
        p0, p1 = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
        d = p1 - p0
        t = np.clip((q - p0) @ d / (d @ d), 0.0, 1.0)
        on_wall |= np.linalg.norm(q - (p0 + t[:, None] * d), axis=1) <= 1e-6
    chars = np.where(on_wall, WALL, OUTSIDE)
    for a in (ri, rj, chars):
        a.flags.writeable = False
    return ri, rj, chars


def build_ascii_map(scene: SceneGraph, view: View | None, resolution_m: float,
                    names: Mapping[str, str], object_ids: list[str] | None = None,
                    cache: dict | None = None) -> AsciiMap:
    """Draw the top-down map of ``scene`` (see the module docstring for every rule).

    Args:
        scene: the scene; its room rectangle sets the grid.
        view: the camera to mark, or None for no camera mark.
        resolution_m: cell size in metres (> 0).
        names: object id -> unique referring expression (used in the legend).
        object_ids: objects to draw, default all objects of the scene (scene order kept).
        cache: optional dict owned by the caller for this scene (its objects and room must not
            change): the object cells, which do not depend on the view, are kept there per
            (resolution, object ids) and reused by the maps of the other views.
    """
    if not (isinstance(resolution_m, (int, float)) and resolution_m > 0 and math.isfinite(resolution_m)):
        raise ValueError(f"resolution_m: must be a positive number of metres, got {resolution_m!r}")
    r = float(resolution_m)
    sx, sy = float(scene.room.size[0]), float(scene.room.size[1])
    ncols, nrows = int(math.ceil(sx / r - 1e-9)), int(math.ceil(sy / r - 1e-9))
    if ncols * nrows > 40000:
        raise ValueError(f"resolution_m: {r} m gives a {nrows}x{ncols} grid; fix: use a coarser resolution")
    walls = tuple((tuple(w.start), tuple(w.end)) for w in scene.room.walls)
    b = 1 if walls else 0
    x_west, y_north = -ncols * r / 2 - b * r, nrows * r / 2 + b * r
    H, W = nrows + 2 * b, ncols + 2 * b
    cx = x_west + (np.arange(W) + 0.5) * r
    cy = y_north - (np.arange(H) + 0.5) * r
    grid = np.full((H, W), FLOOR, dtype="<U1")
    if b:
        ri, rj, ring_chars = _wall_ring(sx, sy, r, ncols, nrows, walls)
        grid[ri, rj] = ring_chars

    ids = [o.id for o in scene.objects] if object_ids is None else list(object_ids)
    by_id = {o.id: o for o in scene.objects}
    objs = [by_id[i] if i in by_id else scene.object(i) for i in ids]  # scene.object raises the KeyError
    for i in ids:
        if i not in names:
            raise KeyError(f"names: no referring expression for object {i!r}; fix: pass names for every drawn object")
    key = ("owner", r, tuple(ids))
    if cache is not None and key in cache:
        owner = cache[key].copy()
    else:
        owner = _owners(objs, r, b, H, W, ncols, nrows, cx, cy, x_west, y_north)
        if cache is not None:
            cache[key] = owner.copy()

    camera_cell, mark = None, None
    if view is not None:
        p = view.position
        j, i = math.floor((p[0] - x_west) / r), math.floor((y_north - p[1]) / r)
        if b <= i < H - b and b <= j < W - b:
            camera_cell, mark = (i, j), heading_mark(heading(view.cam_to_world))
            owner[i, j] = -2

    # Cells of each object in row-major order: a stable sort of the flat owner array groups them.
    flat = owner.ravel()
    order = np.argsort(flat, kind="stable")
    bounds = np.searchsorted(flat[order], np.arange(len(objs) + 1)).tolist()
    order = order.tolist()
    letters: dict[str, str] = {}
    cells: dict[str, list[tuple[int, int]]] = {}
    hidden: list[str] = []
    lut = np.full(max(len(objs), 1), FLOOR, dtype="<U1")  # owner index -> letter
    for k, o in enumerate(objs):
        where = order[bounds[k]:bounds[k + 1]]
        if not where:
            hidden.append(o.id)
            continue
        if len(letters) >= len(LETTERS):
            raise ValueError(f"scene {scene.scene_id}: more than {len(LETTERS)} objects to draw; fix: pass object_ids")
        letter = LETTERS[len(letters)]
        letters[o.id] = letter
        cells[o.id] = [divmod(q, W) for q in where]
        lut[k] = letter
    drawn = owner >= 0
    grid[drawn] = lut[owner[drawn]]
    if camera_cell is not None:
        grid[camera_cell] = mark
    legend = {letters[i]: names[i] for i in ids if i in letters}
    return AsciiMap(["".join(row) for row in grid.tolist()], legend, letters, cells, hidden, camera_cell, mark,
                    r, x_west, y_north, border=b)


def _owners(objs: list, r: float, b: int, H: int, W: int, ncols: int, nrows: int, cx: np.ndarray, cy: np.ndarray,
            x_west: float, y_north: float) -> np.ndarray:
    """(H, W) index into ``objs`` of the object drawn in each cell (-1 empty; the ring, if any,
    stays -1) before the camera is marked: the same for every view of the scene."""
    # Owner per interior cell: index into objs, -1 = empty. Priority = (top z, base z, -order).
    owner = np.full((H, W), -1, dtype=int)
    # Interior cell centres in row-major order (the raveled meshgrid of cx, cy).
    pts = np.empty((nrows * ncols, 2))
    pts[:, 0] = np.broadcast_to(cx[b:W - b], (nrows, ncols)).reshape(-1)
    pts[:, 1] = np.repeat(cy[b:H - b], ncols)
    # Gravity-aligned boxes: z range = centre z -/+ half height (as OrientedBox.z_range).
    ctr = np.array([o.center for o in objs], dtype=float).reshape(-1, 3)
    size = np.array([o.size for o in objs], dtype=float).reshape(-1, 3)
    yaw = np.array([o.yaw for o in objs], dtype=float)
    bases_a, tops_a = ctr[:, 2] - size[:, 2] / 2, ctr[:, 2] + size[:, 2] / 2
    tops = tops_a.tolist()
    if objs:
        # All objects at once: cell centres in each object's frame, (N objects, P cells).
        c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
        dx, dy = pts[None, :, 0] - ctr[:, 0, None], pts[None, :, 1] - ctr[:, 1, None]
        inside = ((np.abs(dx * c + dy * s) <= size[:, 0, None] / 2 + 1e-9)
                  & (np.abs(-dx * s + dy * c) <= size[:, 1, None] / 2 + 1e-9))
        # A cell goes to the highest top, then the highest base, then the earliest object:
        # rank objects by (top, base, -order) and take the best-ranked object inside.
        rank = np.empty(len(objs), dtype=int)
        rank[np.lexsort((-np.arange(len(objs)), bases_a, tops_a))] = np.arange(len(objs))
        scored = np.where(inside, rank[:, None], -1)
        best = scored.argmax(axis=0)
        cell_owner = np.where(scored.max(axis=0) >= 0, best, -1)
        owner[b:H - b, b:W - b] = cell_owner.reshape(nrows, ncols)
    # Objects smaller than a cell: claim the cell containing their centre. ``count[k]``: cells owned by k.
    count = np.bincount(owner[owner >= 0], minlength=len(objs)).tolist()
    for k, o in enumerate(objs):
        if count[k]:
            continue
        j = max(b, min(W - 1 - b, math.floor((o.center[0] - x_west) / r)))
        i = max(b, min(H - 1 - b, math.floor((y_north - o.center[1]) / r)))
        cur = int(owner[i, j])
        if cur == -1 or (tops[cur] < tops[k] and count[cur] > 1):
            owner[i, j] = k
            count[k] += 1
            if cur >= 0:
                count[cur] -= 1
    return owner


def ascii_map(scene: SceneGraph, view: View | None, resolution_m: float,
              names: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """The top-down map as (grid rows, legend letter -> referring expression).

    See the module docstring for the orientation and drawing rules; :func:`build_ascii_map`
    returns the full :class:`AsciiMap` (cells per object, camera cell).
    """
    m = build_ascii_map(scene, view, resolution_m, names)
    return m.grid, m.legend
