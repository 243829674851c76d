"""Pose proposals for the samplers: walls, against-wall, free-standing, near an anchor, on a
support surface, wall-mounted; and the bounded placement loop.

World frame: metres, +Z up, floor z = 0, room centred at the origin; yaw in radians about +Z
(yaw 0 faces +X). Every proposal returns a :class:`Proposal` or a rejection reason (str).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from engine.layout.drafts import Draft, Stats
from engine.layout.occupancy import Occupancy, rect_corners, rotated_half_extent
from engine.rng import uniform
from engine.scene.graph import Wall

EDGE = 0.01  # m kept between a small object's footprint and its support's edge
HALF_PI = math.pi / 2


@dataclass(frozen=True)
class WallLine:
    """A wall's inner face: start point, unit direction, inward unit normal, length (m) and the
    yaw that faces into the room (the normal's angle)."""

    id: str
    sx: float
    sy: float
    dx: float
    dy: float
    nx: float
    ny: float
    length: float
    yaw_in: float

    def point(self, t: float, inset: float) -> tuple[float, float]:
        """World (x, y) at ``t`` m along the wall and ``inset`` m into the room."""
        return self.sx + self.dx * t + self.nx * inset, self.sy + self.dy * t + self.ny * inset


def make_walls(size_x: float, size_y: float, height: float, thickness: float) -> tuple[list[Wall], list[WallLine]]:
    """Four walls of a room centred at the origin, counter-clockwise seen from above
    (wall_0 along y = -size_y/2 facing +Y, then +X, +Y, -X sides). The segment is the inner face;
    the thickness extends outwards."""
    hx, hy = size_x / 2, size_y / 2
    pts = [(-hx, -hy), (hx, -hy), (hx, hy), (-hx, hy)]
    # (direction, inward normal, yaw facing inwards) per wall; exact unit components.
    frames = [((1.0, 0.0), (0.0, 1.0), HALF_PI), ((0.0, 1.0), (-1.0, 0.0), math.pi),
              ((-1.0, 0.0), (0.0, -1.0), -HALF_PI), ((0.0, -1.0), (1.0, 0.0), 0.0)]
    walls, lines = [], []
    for k in range(4):
        s, e = pts[k], pts[(k + 1) % 4]
        (dx, dy), (nx, ny), yaw = frames[k]
        wid = f"wall_{k}"
        walls.append(Wall(wid, [s[0], s[1]], [e[0], e[1]], float(height), float(thickness)))
        lines.append(WallLine(wid, s[0], s[1], dx, dy, nx, ny, size_x if k % 2 == 0 else size_y, yaw))
    return walls, lines


@dataclass
class Proposal:
    """A candidate pose: the draft plus its footprint corners (4, 2), z-interval and class."""

    draft: Draft
    corners: np.ndarray
    z_lo: float
    z_hi: float
    cls: int


def wrap_angle(a: float) -> float:
    """Angle in radians wrapped to [-pi, pi)."""
    return (a + math.pi) % (2 * math.pi) - math.pi


def floor_draft(draft: Draft, x: float, y: float, yaw: float, cls: int) -> Proposal:
    """Put ``draft`` on the floor at (x, y) with ``yaw``: bottom z = 0."""
    d, w, h = draft.size
    draft.center = (x, y, h / 2)
    draft.yaw = yaw
    draft.support = "floor"
    return Proposal(draft, rect_corners(x, y, d / 2, w / 2, yaw), 0.0, h, cls)


def against_wall_pose(draft: Draft, wall: WallLine, wall_index: int, corner: float,
                      rng: np.random.Generator, cls: int) -> Proposal | str:
    """Back flush with ``wall`` (inner face), front (+X) facing into the room, at a uniform
    position along the wall keeping ``corner`` m from both ends."""
    d, w, h = draft.size
    lo, hi = corner + w / 2, wall.length - corner - w / 2
    if lo > hi:
        return "does_not_fit"
    t = uniform(rng, lo, hi)
    return wall_slot(draft, wall, wall_index, t, cls)


def wall_slot(draft: Draft, wall: WallLine, wall_index: int, t: float, cls: int) -> Proposal:
    """Floor object with its back flush on ``wall``, centred ``t`` m along it, facing inwards."""
    d, w, h = draft.size
    x, y = wall.point(t, d / 2)
    p = floor_draft(draft, x, y, wall.yaw_in, cls)
    draft.against, draft.wall_index, draft.wall_t = wall.id, wall_index, t
    return p


def free_pose(draft: Draft, half_x: float, half_y: float, margin: float, facing: str, yaw_jitter: float,
              rng: np.random.Generator, cls: int, any_yaw: bool = False) -> Proposal | str:
    """Free-standing on the floor, footprint at least ``margin`` m from the walls.

    ``facing``: ``room`` turns the front towards the room centre (within ``yaw_jitter``);
    otherwise the yaw is a multiple of 90 degrees plus jitter, or uniform when ``any_yaw``.
    """
    d, w, h = draft.size
    if facing == "room":
        ex = ey = math.hypot(d, w) / 2  # any yaw fits
    else:
        yaw = uniform(rng, -math.pi, math.pi) if any_yaw else \
            int(rng.integers(4)) * HALF_PI + uniform(rng, -yaw_jitter, yaw_jitter)
        ex, ey = rotated_half_extent(d / 2, w / 2, yaw)
    bx, by = half_x - margin - ex, half_y - margin - ey
    if bx < 0 or by < 0:
        return "does_not_fit"
    x, y = uniform(rng, -bx, bx), uniform(rng, -by, by)
    if facing == "room":
        yaw = math.atan2(-y, -x) + uniform(rng, -yaw_jitter, yaw_jitter)
    return floor_draft(draft, x, y, wrap_angle(yaw), cls)


def near_pose(draft: Draft, anchor: Draft, mode: str, gap_range: tuple[float, float], facing: str,
              walls: list[WallLine], rng: np.random.Generator, cls: int) -> Proposal | str:
    """Pose a satellite relative to its anchor.

    ``around``: on one of the anchor's four sides, front towards the anchor (chairs at a table);
    ``front``: in front of the anchor's front, facing it (coffee table before a sofa);
    ``beside``: next to the anchor along its back line, same facing (nightstand by a bed), back
    flush with the anchor's wall when the anchor is against one.
    The gap between the anchor's edge and the satellite is uniform in ``gap_range`` (m).
    """
    d, w, h = draft.size
    ad, aw, _ = anchor.size
    ax, ay = anchor.center[0], anchor.center[1]
    gap = uniform(rng, *gap_range)
    if mode == "beside":
        side = 1.0 if rng.random() < 0.5 else -1.0
        off = aw / 2 + gap + w / 2
        if anchor.wall_index is not None:
            wall = walls[anchor.wall_index]
            return wall_slot(draft, wall, anchor.wall_index, anchor.wall_t + side * off, cls)
        c, s = math.cos(anchor.yaw), math.sin(anchor.yaw)
        u, v = -ad / 2 + d / 2, side * off  # back lines aligned, beside along local y
        return floor_draft(draft, ax + c * u - s * v, ay + s * u + c * v, anchor.yaw, cls)
    if mode == "front":
        phi = anchor.yaw
        normal_half, tangent_off = ad / 2, uniform(rng, -0.15, 0.15) * aw / 2
    elif mode == "around":
        side = int(rng.integers(4))
        phi = anchor.yaw + side * HALF_PI
        normal_half, tangent_half = (ad / 2, aw / 2) if side % 2 == 0 else (aw / 2, ad / 2)
        m = max(tangent_half - w / 2, 0.0)
        tangent_off = uniform(rng, -m, m)
    else:
        raise ValueError(f"catalog near_mode {mode!r} for {draft.category}: must be around, front or beside")
    c, s = math.cos(phi), math.sin(phi)
    r = normal_half + gap + d / 2
    x = ax + c * r - s * tangent_off
    y = ay + s * r + c * tangent_off
    yaw = phi + math.pi if facing == "anchor" else phi
    return floor_draft(draft, x, y, wrap_angle(yaw), cls)


def on_support_pose(draft: Draft, support: Draft, support_index: int, has_front: bool, yaw_jitter: float,
                    rng: np.random.Generator, cls: int) -> Proposal | str:
    """On top of ``support``: bottom z == support top (support.center_z + support.size_z / 2),
    footprint inside the support's top rectangle (``EDGE`` m from its edges). Objects with a
    front face the way the support faces (a monitor on a desk), within ``yaw_jitter``; others
    take a uniform yaw."""
    d, w, h = draft.size
    sd, sw, _ = support.size
    if has_front:
        rel = uniform(rng, -yaw_jitter, yaw_jitter)
        if not support.has_front:  # no preferred direction: any side of the support
            rel += int(rng.integers(4)) * HALF_PI
    else:
        rel = uniform(rng, -math.pi, math.pi)
    ex, ey = rotated_half_extent(d / 2, w / 2, rel)
    bx, by = sd / 2 - EDGE - ex, sw / 2 - EDGE - ey
    if bx < 0 or by < 0:
        return "does_not_fit"
    u, v = uniform(rng, -bx, bx), uniform(rng, -by, by)
    c, s = math.cos(support.yaw), math.sin(support.yaw)
    x = support.center[0] + c * u - s * v
    y = support.center[1] + s * u + c * v
    z_bottom = support.center[2] + support.size[2] / 2
    draft.center = (x, y, z_bottom + h / 2)
    draft.yaw = wrap_angle(support.yaw + rel)
    draft.support, draft.support_index = "on", support_index
    return Proposal(draft, rect_corners(x, y, d / 2, w / 2, draft.yaw), z_bottom, z_bottom + h, cls)


def wall_mount_pose(draft: Draft, wall: WallLine, wall_index: int, corner: float, mount: tuple[float, float],
                    rng: np.random.Generator, cls: int) -> Proposal | str:
    """Wall-mounted: back flush with ``wall``, facing into the room, centre height uniform in
    ``mount`` (m above the floor), ``corner`` m from the wall ends."""
    w = draft.size[1]
    lo, hi = corner + w / 2, wall.length - corner - w / 2
    if lo > hi:
        return "does_not_fit"
    return _mount_at(draft, wall, wall_index, uniform(rng, lo, hi), mount, rng, cls)


def _mount_at(draft: Draft, wall: WallLine, wall_index: int, t: float, mount: tuple[float, float],
              rng: np.random.Generator, cls: int) -> Proposal:
    """``draft`` hung on ``wall`` with its centre ``t`` m along it, back flush, facing in, centre
    height uniform in ``mount`` (m above the floor)."""
    d, w, h = draft.size
    zc = uniform(rng, *mount)
    x, y = wall.point(t, d / 2)
    draft.center, draft.yaw = (x, y, zc), wall.yaw_in
    draft.support, draft.against, draft.wall_index, draft.wall_t = "wall", wall.id, wall_index, t
    return Proposal(draft, rect_corners(x, y, d / 2, w / 2, wall.yaw_in), zc - h / 2, zc + h / 2, cls)


def beside_window_pose(draft: Draft, wall: WallLine, wall_index: int, window: Mapping, corner: float,
                       mount: tuple[float, float], gap: tuple[float, float], rng: np.random.Generator,
                       cls: int) -> Proposal | str:
    """Wall-mounted beside ``window`` (a ``room.architecture`` opening on ``wall``): as
    :func:`wall_mount_pose`, with the object's near side ``gap`` m (uniform) from the window's left
    or right side (each with probability 1/2), e.g. a curtain flanking the window."""
    w = draft.size[1]
    t_win = (window["center"][0] - wall.sx) * wall.dx + (window["center"][1] - wall.sy) * wall.dy
    side = -1.0 if rng.random() < 0.5 else 1.0
    t = t_win + side * (float(window["width"]) / 2 + uniform(rng, *gap) + w / 2)
    if not corner + w / 2 <= t <= wall.length - corner - w / 2:
        return "does_not_fit"
    return _mount_at(draft, wall, wall_index, t, mount, rng, cls)


def place(propose: Callable[[], Proposal | str], occ: Occupancy, stats: Stats, max_attempts: int) -> Draft | None:
    """Bounded retry loop: up to ``max_attempts`` proposals; the first that fits is recorded in
    ``occ`` and returned (with ``attempts`` set); None when all were rejected."""
    for attempt in range(1, max_attempts + 1):
        p = propose()
        if isinstance(p, str):
            stats.reject(p)
            continue
        reason = occ.check(p.corners, p.z_lo, p.z_hi, p.cls, p.draft.group)
        if reason is not None:
            stats.reject(reason)
            continue
        stats.accept()
        occ.add(p.corners, p.z_lo, p.z_hi, p.cls, p.draft.group)
        p.draft.attempts = attempt
        return p.draft
    return None
