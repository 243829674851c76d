"""Motion family (as in SAT): consequences of ego-motion, goal aiming, and object movement.

Ego-motion is recomputed with the moved camera (:mod:`engine.qa.egomotion`): turning is in
place about world +Z (> 0 = left), walking is horizontal along the heading. "In view" is the
record's ``in_frustum`` definition (all 8 box corners in front and inside the image), judged
by :func:`engine.qa.egomotion.frustum_status` with ``params.margin_px`` to spare; occlusion is
ignored. A question about staying in view is asked only for an object fully in view now, and
only when it ends up clearly inside or clearly outside. Per object one turn angle per side and
``params.moves_per_object`` walks are tried (drawn with the rng), which keeps generation cheap.

Walks: the camera is a sphere of radius ``params.clearance_m`` (default :data:`CLEARANCE_M`,
0.1 m, validated in [0, 1]) about its centre, and a walk is asked only when that sphere can
travel the whole straight path: in a room with walls the path stays in the floor rectangle
shrunk by the radius, and the path keeps more than the radius from every object box
(:func:`walk_clear_many`). A walk that ends clear but passes through an object (a lamp on the
table between the camera and the end point) is not asked. Aiming: the signed turn from the
heading to the object's centre on the floor plane. Object movement: the object's box slides
``distance`` metres along the floor toward the anchor's centre, and is asked only when the
swept footprint crosses no other object that overlaps it in height (:func:`move_clear`: its
supporter and what it carries do not count); distances are between closest box points.
"""

from __future__ import annotations

import math

import numpy as np
from shapely.geometry import Polygon

from engine.geometry.boxes import OrientedBox, box_point_distance, interval_gap
from engine.geometry.transforms import invert_pose
from engine.qa import egomotion as em
from engine.qa.candidate import Candidate, bool_candidate, choice_candidate, number_candidate, capitalize
from engine.qa.context import FamilyContext
from engine.qa.facts import ViewFacts, WorldFacts
from engine.qa.schema import Template

TASKS = ("turn_in_view", "walk_in_view", "walk_closer", "aim_direction", "aim_degrees", "object_move_closer")
CLEARANCE_M = 0.1  # default params.clearance_m (m): the walking camera's radius (walk_clear_many)
DIRECTION_WORDS = {"forward": "forward", "back": "backward", "left": "to the left", "right": "to the right"}


def _num_list(t: Template, key: str, lo: float, hi: float) -> None:
    """``params[key]``, when given, must be a non-empty list of numbers in (lo, hi]."""
    vals = t.param(key)
    if vals is None:
        return
    if (not isinstance(vals, list) or not vals
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and lo < x <= hi for x in vals)):
        raise t.error(f"params.{key}", f"must be a non-empty list of numbers in ({lo}, {hi}], got {vals!r}")


def validate_template(t: Template) -> None:
    """Check ``angles`` (deg), ``distances`` (m), ``directions``, ``moves_per_object``, ``margin_px``
    (px) and ``clearance_m`` (m, the camera sphere of the walks)."""
    _num_list(t, "angles", 0, 180)
    _num_list(t, "distances", 0, 10)
    dirs = t.param("directions")
    if dirs is not None and (not isinstance(dirs, list) or not dirs or any(d not in em.WALK_DIRECTIONS for d in dirs)):
        raise t.error("params.directions", f"must be a non-empty list drawn from {sorted(em.WALK_DIRECTIONS)}")
    mpo = t.param("moves_per_object", 2)
    if not isinstance(mpo, int) or isinstance(mpo, bool) or mpo < 1:
        raise t.error("params.moves_per_object", f"must be a positive integer, got {mpo!r}")
    mp = t.param("margin_px", 3)
    if not isinstance(mp, (int, float)) or isinstance(mp, bool) or mp < 0:
        raise t.error("params.margin_px", f"must be a non-negative number of pixels, got {mp!r}")
    cl = t.param("clearance_m", CLEARANCE_M)
    if not isinstance(cl, (int, float)) or isinstance(cl, bool) or not 0 <= cl <= 1:
        raise t.error("params.clearance_m", f"must be a number of metres in [0, 1] (the camera's radius), got {cl!r}")


def _fmt(x: float) -> str:
    """A parameter value as the question prints it (``90``, ``0.5``)."""
    return f"{x:g}"


def _status(v: ViewFacts, box: OrientedBox, pose: np.ndarray, margin_px: float,
            world_to_cam: np.ndarray | None = None) -> str:
    """:func:`engine.qa.egomotion.frustum_status` of ``box`` from camera ``pose`` (4x4 camera to
    world; ``world_to_cam`` its inverse when known) with ``v``'s intrinsics and image size."""
    return em.frustum_status(v.K, pose, box, v.width, v.height, margin_px,
                             near=float(v.view.params.get("near_m", 1e-3)), world_to_cam=world_to_cam)


def _status_now(ctx: FamilyContext, a: str, margin_px: float) -> str:
    """:func:`frustum_status` of object ``a`` from the view's own pose (every object wholly in
    front of the near plane at once, cached per view; one reaching behind it when first asked)."""
    cache = ctx.cache.setdefault("motion", {})
    if margin_px not in cache:
        v, w = ctx.view, ctx.world
        corners = w.cache.get("motion_corners")  # (N, 8, 3) every box's corners, once per scene
        if corners is None:
            corners = w.cache["motion_corners"] = np.array([b.corners for b in w.boxes]).reshape(-1, 8, 3)
        cache[margin_px] = em.LazyFrustumStatuses(v.K, v.pose, corners, v.width, v.height, margin_px,
                                                  near=float(v.view.params.get("near_m", 1e-3)),
                                                  world_to_cam=v.world_to_cam)
    return cache[margin_px][ctx.view.i(a)]


def standable(ctx: FamilyContext, position: np.ndarray) -> bool:
    """True when a camera centre (3,) lies inside the room's floor rectangle and in no object's box
    (a point test; walks use :func:`walk_clear_many`, which checks the whole path)."""
    return bool(standable_many(ctx, np.asarray(position, dtype=float)[None])[0])


def standable_many(ctx: FamilyContext, positions: np.ndarray) -> np.ndarray:
    """(M,) bool: :func:`standable` for each of M camera centres (M, 3), world metres (the same
    elementwise arithmetic for all at once)."""
    p = np.asarray(positions, dtype=float).reshape(-1, 3)
    ok = np.ones(len(p), dtype=bool)
    if ctx.scene.room.walls:
        ok &= ctx.scene.room.contains_xy(p[:, :2])
    w = ctx.world
    if not w.ids:
        return ok
    d = p[:, None, :] - w.centers[None]  # (M, N, 3)
    c, s = np.cos(w.yaws), np.sin(w.yaws)
    local = np.stack([d[..., 0] * c + d[..., 1] * s, -d[..., 0] * s + d[..., 1] * c, d[..., 2]], axis=-1)
    return ok & ~np.any(np.all(np.abs(local) <= w.sizes / 2 + 1e-9, axis=-1), axis=1)


def walk_clear_many(ctx: FamilyContext, start: np.ndarray, ends: np.ndarray, radius: float = 0.0) -> np.ndarray:
    """(M,) bool: whether the camera, a sphere of ``radius`` metres about its centre, can walk the
    straight horizontal segment from ``start`` (3,) to each of ``ends`` (M, 3) (world metres,
    all at the start's height, as :func:`engine.qa.egomotion.walk` leaves them).

    A walk is clear when (a) in a room with walls, both ends lie in the floor rectangle shrunk
    by ``radius`` (the rectangle is convex, so then the whole segment does), and (b) the segment
    keeps more than ``radius`` from every object box
    (:func:`engine.qa.egomotion.segment_prism_distances`, exact for boxes turned about +Z only).
    Touching counts as blocked (1e-9 m tolerance); with ``radius`` 0 the end point test is
    :func:`standable`'s up to that tolerance. Scenes without walls (open) have no floor bound.
    """
    p0 = np.asarray(start, dtype=float).reshape(3)
    p1 = np.asarray(ends, dtype=float).reshape(-1, 3)
    r = float(radius)
    ok = np.ones(len(p1), dtype=bool)
    room = ctx.scene.room
    if room.walls:
        ok &= bool(room.contains_xy(p0[None, :2], tol=1e-9 - r)[0]) & room.contains_xy(p1[:, :2], tol=1e-9 - r)
    w = ctx.world
    if not w.ids:
        return ok
    # Only boxes within reach can block. A lower bound of each box's distance to the paths: the z
    # gap, and on the floor the distance from its centre to the nearest path less the radius of
    # its footprint's bounding circle.
    dz = np.maximum(0.0, np.maximum(w.zmin - p0[2], p0[2] - w.zmax))  # (N,)
    seg, q = p1[:, :2] - p0[:2], w.centers[:, :2] - p0[:2]  # (M, 2) paths, (N, 2) centres from the start
    ll = (seg * seg).sum(axis=1)[:, None]
    t = np.minimum(np.maximum((seg @ q.T) / np.where(ll > 0, ll, 1.0), 0.0), 1.0)  # (M, N)
    cd = np.sqrt(((t * seg[:, :1] - q[:, 0]) ** 2 + (t * seg[:, 1:] - q[:, 1]) ** 2).min(axis=0))
    lb = np.maximum(cd - np.hypot(w.sizes[:, 0], w.sizes[:, 1]) / 2, 0.0)
    near = lb * lb + dz * dz <= (r + 1e-9) ** 2
    if not near.any():
        return ok
    dist = em.segment_prism_distances(p0, p1, w.centers[near], w.sizes[near], w.yaws[near])  # (M, N near)
    return ok & np.all(dist > r + 1e-9, axis=1)


def _limit(ctx: FamilyContext) -> int:
    """Candidates per template and view (``balancing.max_candidates``)."""
    return int(ctx.cfg["balancing"]["max_candidates"])


def _shuffled(ids: list[str], rng: np.random.Generator) -> list[str]:
    """``ids`` in an rng-drawn order."""
    return [ids[int(i)] for i in rng.permutation(len(ids))]


def generate(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    """Candidates of template ``t`` on ``ctx.view`` (see the module docstring): turns and aims in
    degrees (> 0 left), walks and moves in m on the floor plane."""
    ids = ctx.referents(t)
    if t.task == "turn_in_view":
        return _turn_in_view(ctx, t, rng, ids)
    if t.task in ("walk_in_view", "walk_closer"):
        return _walk(ctx, t, rng, ids)
    if t.task in ("aim_direction", "aim_degrees"):
        return _aim(ctx, t, rng, ids)
    if t.task == "object_move_closer":
        return _object_move(ctx, t, rng, ids)
    raise t.error("task", f"unknown motion task {t.task!r}")


def _turn_in_view(ctx: FamilyContext, t: Template, rng: np.random.Generator, ids: list[str]) -> list[Candidate]:
    v, w = ctx.view, ctx.world
    mp = float(t.param("margin_px", 3))
    out = []
    turned = {}  # (sign, angle) -> turned pose and its inverse
    for a in _shuffled(ids, rng):
        if len(out) >= _limit(ctx):
            break
        box = w.boxes[w.index[a]]
        if _status_now(ctx, a, mp) != "inside":
            continue
        angles = t.param("angles", [90])
        for direction in ("left", "right"):
            for angle in (angles[int(rng.integers(len(angles)))],):  # one angle per object and side
                sign = 1.0 if direction == "left" else -1.0
                if (sign, angle) not in turned:
                    pose = em.turn(v.pose, sign * math.radians(angle))
                    turned[(sign, angle)] = pose, invert_pose(pose), np.linalg.inv(pose)
                pose, w2c, inv = turned[(sign, angle)]
                st = _status(v, box, pose, mp, w2c)
                if st == "partial":
                    continue
                refs = ctx.refer(t, [a], rng)
                if refs is None:
                    continue
                x, _, z = (inv @ np.append(w.centers[w.index[a]], 1.0))[:3]
                bear = math.degrees(math.atan2(x, z))
                rat = (f"After turning {direction} {_fmt(angle)} degrees, the centre of {refs[0]} is "
                       f"{abs(bear):.0f} degrees to the {'right' if bear > 0 else 'left'} of the view direction"
                       f"{'' if abs(bear) <= 90 else ' (behind the camera)'} and its box lies "
                       f"{'entirely inside' if st == 'inside' else 'outside'} the image, so "
                       f"{'yes' if st == 'inside' else 'no'}.")
                slots = {"a": refs[0], "direction": direction, "angle": _fmt(angle)}
                out.append(bool_candidate(ctx, t, rng, slots, refs, st == "inside", rat))
    return out


def _walk(ctx: FamilyContext, t: Template, rng: np.random.Generator, ids: list[str]) -> list[Candidate]:
    v, w = ctx.view, ctx.world
    mp = float(t.param("margin_px", 3))
    moves = _walk_moves(ctx, tuple(t.param("distances", [1.0])), tuple(t.param("directions", ["forward"])),
                        float(t.param("clearance_m", CLEARANCE_M)))
    if moves is None:  # no heading: the camera looks straight down
        return []
    out = []
    for a in _shuffled(ids, rng):
        if len(out) >= _limit(ctx):
            break
        box = w.boxes[w.index[a]]
        d0 = float(v.cam_dist[v.i(a)])
        if t.task == "walk_in_view" and _status_now(ctx, a, mp) != "inside":
            continue
        per = min(len(moves), int(t.param("moves_per_object", 2)))
        for k in rng.choice(len(moves), size=per, replace=False) if per else []:
            direction, dist, pose, w2c = moves[int(k)]
            words = DIRECTION_WORDS[direction]
            if t.task == "walk_in_view":
                st = _status(v, box, pose, mp, w2c)
                if st == "partial":
                    continue
                value = st == "inside"
                rat = (f"After walking {_fmt(dist)} m {words}, the box of {{a}} projects "
                       f"{'entirely inside' if value else 'outside'} the image, so {'yes' if value else 'no'}.")
            else:
                d1 = box_point_distance(box, pose[:3, 3])
                if not ctx.clears(t, d0, d1):
                    continue
                value = d1 < d0
                rat = (f"Now {{a}} is {d0:.2f} m away; after walking {_fmt(dist)} m {words} it would be "
                       f"{d1:.2f} m away, so {'yes' if value else 'no'}.")
            refs = ctx.refer(t, [a], rng)
            if refs is None:
                continue
            slots = {"a": refs[0], "distance": _fmt(dist), "direction": words}
            out.append(bool_candidate(ctx, t, rng, slots, refs, value, rat.format(a=refs[0])))
    return out


def _walk_moves(ctx: FamilyContext, dists: tuple, directions: tuple, radius: float = CLEARANCE_M) -> list | None:
    """The clear walks of the view's camera (:func:`walk_clear_many` with the camera a sphere of
    ``radius`` m): (direction, distance, pose after the walk, its inverse) for each distance (m)
    and direction in that order, cached per view (the walk templates share them); None when the
    camera has no heading."""
    cache = ctx.cache.setdefault("motion_walks", {})
    key = (dists, directions, radius)
    if key not in cache:
        try:
            # em.walk for each, with the heading's unit vectors found once per direction
            start = ctx.view.pose
            unit = {d: em.horizontal_direction(start, d) for d in directions} if dists else {}
            walks = []
            for dist in dists:
                for direction in directions:
                    pose = np.array(start, dtype=float)
                    pose[:3, 3] += float(dist) * unit[direction]
                    walks.append((direction, dist, pose))
        except ValueError:
            cache[key] = None
        else:
            ok = walk_clear_many(ctx, ctx.view.pose[:3, 3],
                                 np.array([pose[:3, 3] for _, _, pose in walks]).reshape(-1, 3), radius)
            cache[key] = [(direction, dist, pose, invert_pose(pose))
                          for (direction, dist, pose), keep in zip(walks, ok.tolist()) if keep]
    return cache[key]


def _aim(ctx: FamilyContext, t: Template, rng: np.random.Generator, ids: list[str]) -> list[Candidate]:
    v, w = ctx.view, ctx.world
    m = ctx.margin(t, "min_angle_deg")
    out = []
    for a in ids:
        try:
            ang = math.degrees(em.aim_angle(v.pose, w.centers[w.index[a]]))
        except ValueError:
            continue
        if abs(ang) < m or (t.task == "aim_direction" and abs(ang) > 180.0 - m):
            continue
        refs = ctx.refer(t, [a], rng)
        if refs is None:
            continue
        side = "left" if ang > 0 else "right"
        rat = (f"Seen from above, the centre of {refs[0]} is {abs(ang):.0f} degrees to the {side} of the camera's "
               f"heading, so you turn {side} by {abs(ang):.0f} degrees.")
        if t.task == "aim_direction":
            out.append(choice_candidate(ctx, t, rng, {"a": refs[0]}, refs, ["left", "right"],
                                        0 if side == "left" else 1, rat))
        else:
            out.append(number_candidate(ctx, t, rng, {"a": refs[0]}, refs, abs(ang), rat, decimals=0))
    return out


def moved_box(box: OrientedBox, toward_xy: np.ndarray, distance: float) -> OrientedBox:
    """``box`` slid ``distance`` metres along the floor toward the point ``toward_xy`` (2,)."""
    d = np.asarray(toward_xy, dtype=float)[:2] - box.center[:2]
    n = np.linalg.norm(d)
    if n < 1e-9:
        raise ValueError("moved_box: the target point is at the box centre")
    shift = np.append(d / n * float(distance), 0.0)
    return OrientedBox(box.center + shift, box.size, box.rotation)


def _object_move(ctx: FamilyContext, t: Template, rng: np.random.Generator, ids: list[str]) -> list[Candidate]:
    w, room = ctx.world, ctx.scene.room
    out = []
    dists = t.param("distances", [1.0])
    for a, b, c in ctx.tuples(ids, 3, rng):
        oa = w.by_id[a]
        if not oa.on_floor or any(w.support.get(x) in (a, b, c) for x in (a, b, c)):
            continue
        dist = float(dists[int(rng.integers(len(dists)))])
        if w.horizontal_distance(a, b) < dist + 0.1:  # it must not run into the anchor
            continue
        box = w.boxes[w.index[a]]
        moved = moved_box(box, w.centers[w.index[b], :2], dist)
        if room.walls and not bool(np.all(room.contains_xy(moved.corners[:, :2]))):
            continue
        d0 = w.distance(a, c)
        d1 = _moved_distance(w, moved, w.index[c])
        if not ctx.clears(t, d0, d1) or not move_clear(w, a, moved):
            continue
        refs = ctx.refer(t, [a, b, c], rng)
        if refs is None:
            continue
        value = d1 < d0
        rat = (f"{capitalize(refs[0])} is {d0:.2f} m from {refs[2]}; moved {_fmt(dist)} m toward "
               f"{refs[1]} it would be {d1:.2f} m from it, so {'yes' if value else 'no'}.")
        slots = {"a": refs[0], "b": refs[1], "c": refs[2], "distance": _fmt(dist)}
        out.append(bool_candidate(ctx, t, rng, slots, refs, value, rat, frame="world"))
    return out


def carried(w: WorldFacts, a: str) -> set[str]:
    """Ids of the objects resting on ``a``, directly or on top of each other (they move with it)."""
    out: set[str] = set()
    grow = {a}
    while grow:
        grow = {x for x, s in w.support.items() if s in grow and x not in out}
        out |= grow
    return out


def move_clear(w: WorldFacts, a: str, moved: OrientedBox, min_depth_m: float = 1e-6) -> bool:
    """Whether object ``a`` can slide in a straight line along the floor from its box to ``moved``
    (its box translated horizontally, rotation and height kept) without passing through another
    object.

    The floor region a translated rectangle sweeps is the convex hull of its start and end
    footprints (world x, y metres). An obstacle is every other object whose z range overlaps
    ``a``'s (by more than 1e-9 m) except ``a``'s own supporter and the objects it carries
    (:func:`carried`); so wall-mounted things above ``a`` and the floor do not block, a mug on
    a table in the way does. The move is blocked when the swept region and an obstacle's
    footprint overlap by more than ``min_depth_m`` metres along every separating axis (both
    rectangles' axes and the normal of the move: the separating-axis theorem for convex
    polygons), i.e. their interiors meet; touching or sliding along a neighbour is allowed.
    (The layouts never leave z-overlapping, unstacked objects with overlapping footprints, so
    the start footprint itself blocks nothing.)
    """
    i = w.index[a]
    cache = w.cache.setdefault("motion", {})
    if "axes" not in cache:  # per scene: (N, 2) each box's local x axis on the floor; (N,) footprint radii
        cache["axes"] = np.stack([np.cos(w.yaws), np.sin(w.yaws)], axis=1).reshape(-1, 2)
        cache["radius"] = np.hypot(w.sizes[:, 0], w.sizes[:, 1]) / 2
    ux, rad = cache["axes"], cache["radius"]
    ca, ha, move = w.centers[i, :2], w.sizes[i, :2] / 2, moved.center[:2] - w.centers[i, :2]
    mm = float(move @ move)
    # Candidates: overlapping a in z, and with a footprint's bounding circle within reach of a's
    # bounding circle along the move (centre-to-path distance <= the sum of the two radii).
    q = w.centers[:, :2] - ca
    t = np.minimum(np.maximum(q @ move / mm, 0.0), 1.0) if mm > 0 else np.zeros(len(q))
    cd2 = (q[:, 0] - t * move[0]) ** 2 + (q[:, 1] - t * move[1]) ** 2
    mask = ((np.minimum(w.zmax, w.zmax[i]) - np.maximum(w.zmin, w.zmin[i]) > 1e-9)
            & (cd2 <= (rad + rad[i] + 1e-9) ** 2))
    mask[i] = False
    if mask.any():
        for x in {w.support.get(a)} | carried(w, a):
            if x in w.index:
                mask[w.index[x]] = False
    if not mask.any():
        return True
    # Separating axes. On a's two axes and the move's normal the swept region is a's projection
    # widened by the move's; obstacles project as their centre +- half width.
    ua = ux[i]
    va = np.array([-ua[1], ua[0]])
    cj, hj, uj = w.centers[mask, :2], w.sizes[mask, :2] / 2, ux[mask]  # (K, 2) obstacles
    vj = np.stack([-uj[:, 1], uj[:, 0]], axis=1)
    axes = np.array([ua, va, [-move[1], move[0]]] if mm > 0 else [ua, va])
    axes /= np.hypot(axes[:, 0], axes[:, 1])[:, None]  # (S, 2) unit
    pm, ra = axes @ move, ha[0] * np.abs(axes @ ua) + ha[1] * np.abs(axes @ va)
    lo, hi = axes @ ca - ra + np.minimum(pm, 0.0), axes @ ca + ra + np.maximum(pm, 0.0)  # (S,)
    rj = hj[:, :1] * np.abs(uj @ axes.T) + hj[:, 1:] * np.abs(vj @ axes.T)  # (K, S)
    pj = cj @ axes.T
    hit = np.all(np.minimum(hi, pj + rj) - np.maximum(lo, pj - rj) > min_depth_m, axis=1)  # (K,)
    # On each obstacle's own two axes.
    for e, h in ((uj, hj[:, 0]), (vj, hj[:, 1])):
        p, pm, pa = np.einsum("kd,kd->k", e, cj), e @ move, e @ ca
        ra = ha[0] * np.abs(e @ ua) + ha[1] * np.abs(e @ va)
        lo, hi = pa - ra + np.minimum(pm, 0.0), pa + ra + np.maximum(pm, 0.0)  # (K,) the swept region
        hit &= np.minimum(hi, p + h) - np.maximum(lo, p - h) > min_depth_m
    return not bool(hit.any())


def _moved_distance(w: WorldFacts, moved: OrientedBox, j: int) -> float:
    """``box_box_distance(moved, w.boxes[j])`` (m) for ``moved``, a scene object's box slid along
    the floor. Scene boxes are built from a yaw (rotation about +Z only) and sliding keeps the
    rotation, so both boxes are gravity-aligned and box_box_distance takes its prism path:
    the same arithmetic, reusing row ``j``'s cached footprint polygon."""
    dxy = Polygon(moved.corners[[0, 4, 6, 2], :2]).distance(w.footprint(j))  # = moved.footprint()
    dz = interval_gap(moved.z_range, w.boxes[j].z_range)
    return float(np.hypot(dxy, dz))
