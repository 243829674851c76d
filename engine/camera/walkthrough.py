"""Walkthrough camera paths: a person filming a room (room scenes) or orbiting a table or an
open plane (tabletop / open scenes), sampled into N frames that are ordinary views.

Room paths (docs/video.md, "Camera paths"):

1. Free space: the cells of a ``grid_m`` grid over the room rectangle shrunk by ``clearance_m``
   whose centre is at least ``grid_m`` from every obstacle rectangle (each object whose box
   reaches below the eye height plus the clearance, its footprint grown by ``clearance_m`` on
   every side). Two 8-neighbour free cell centres are at most ``grid_m * sqrt(2)`` apart, each at
   least ``grid_m`` from a convex obstacle, so the segment joining them never touches one.
2. Waypoints: ``waypoints`` distinct floor objects (furniture groups' members, largest footprints
   first among a random draw) each get a free cell ``waypoint_distance_m`` from their
   footprint; visited in nearest-first order from a random start cell of the largest free
   component, joined by grid shortest paths (scipy.sparse.csgraph.dijkstra, 8-neighbour).
3. Smoothing: greedy string pulling keeps a shortcut only when the segment is exactly free
   (shapely: it does not intersect any obstacle rectangle); the room rectangle is convex, so
   vertices inside keep segments inside. Steps 1-3 use the rectangles grown by a further
   m = half the largest spacing of two frames along the path (``max_speed_m_s * duration_s /
   (N - 1) / 2``, plus 1 mm): the straight chord between two consecutive frames that straddle a
   polyline vertex lies in the triangle they make with it, within m of the polyline, so it stays
   outside the rectangles grown by ``clearance_m`` alone.
4. Timing: the polyline is cut at ``max_speed_m_s * duration_s`` and sampled at N =
   round(fps * duration_s) evenly spaced arc lengths.
5. Look-at: each frame aims at the object of the next waypoint not yet reached (its box
   centre); yaw and pitch move towards it by a step whose length hypot(d_yaw, d_pitch) is at
   most ``max_angular_speed_deg_s / fps``, so the angle between consecutive optical axes (at
   most that great-circle step) never exceeds the bound. Pitch stays within ``pitch_deg``.

Orbit paths circle the centre of the target pool (the table's objects, or all objects) at a
radius beyond their bounding radius, looking at the centre; the swept angle is at most
``orbit_sweep_deg`` and at most 0.9 * the angular bound * duration, and every frame position
and chord is checked against the obstacle rectangles and the room as above.

Frames, units: world Z-up metres; yaw about +Z from +X, pitch above the horizon (radians in
the record); poses are OpenCV cam_to_world (engine.geometry.look_at).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import shapely
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from engine.camera.annotate import objects_geometry
from engine.camera.config import scene_profile, validate_camera_cfg
from engine.camera.intrinsics import make_intrinsics, vertical_fov_deg
from engine.camera.sampler import CameraSamplingError, find_table, target_pool
from engine.geometry.boxes import OrientedBox
from engine.geometry.transforms import make_pose
from engine.plain import to_plain
from engine.scene.graph import SceneGraph, View

PATH_ID = "path_0"


def is_walkthrough(camera_cfg: Mapping) -> bool:
    """True when the camera config asks for walkthrough paths (``mode: walkthrough``)."""
    return camera_cfg.get("mode", "views") == "walkthrough"


def num_frames(wcfg: Mapping) -> int:
    """Frames of a path: round(fps * duration_s), at least 2."""
    return max(2, int(round(float(wcfg["fps"]) * float(wcfg["duration_s"]))))


@dataclass
class PlannedPath:
    """A planned path before it becomes views.

    Attributes:
        kind: ``walkthrough`` or ``orbit``.
        eyes: (N, 3) camera centres, world m. yaws, pitches: (N,) radians (pitch > 0 looks up).
        waypoints: (W, 2) waypoint positions (world x, y m); focus: object id aimed at per frame.
    """

    kind: str
    eyes: np.ndarray
    yaws: np.ndarray
    pitches: np.ndarray
    waypoints: np.ndarray
    focus: list[str]


def obstacle_rects(scene: SceneGraph, clearance: float, top_z: float) -> np.ndarray:
    """(M,) shapely polygons: footprints grown by ``clearance`` on every side (the box inflated by
    the clearance, seen from above) of the objects whose box bottom is below ``top_z`` (m)."""
    grow = np.array([2 * clearance, 2 * clearance, 0.0])
    return np.array([OrientedBox.from_yaw(o.center, np.asarray(o.size, float) + grow, o.yaw).footprint()
                     for o in scene.objects if o.center[2] - o.size[2] / 2 < top_z], dtype=object)


def segments_free(points: np.ndarray, rects: np.ndarray) -> bool:
    """True when no segment of the (K, 2) polyline ``points`` touches any obstacle rectangle."""
    if len(rects) == 0:
        return True
    geom = shapely.linestrings(points) if len(points) > 1 else shapely.points(points[0])
    return not bool(shapely.intersects(geom, rects).any())


def _free_grid(scene: SceneGraph, rects: np.ndarray, clearance: float, g: float):
    """Cell centres (ny, nx, 2) and the free mask of the room grid (see module doc, step 1)."""
    hx, hy = scene.room.size[0] / 2 - clearance, scene.room.size[1] / 2 - clearance
    if hx <= 0 or hy <= 0:
        return None, None
    nx, ny = int(math.floor(2 * hx / g)) + 1, int(math.floor(2 * hy / g)) + 1
    xs = -hx + (2 * hx - (nx - 1) * g) / 2 + g * np.arange(nx)
    ys = -hy + (2 * hy - (ny - 1) * g) / 2 + g * np.arange(ny)
    cx, cy = np.meshgrid(xs, ys)
    centres = np.stack([cx, cy], axis=-1)
    free = np.ones((ny, nx), dtype=bool)
    if len(rects):
        pts = shapely.points(centres.reshape(-1, 2))
        tree = shapely.STRtree(rects)
        hit = tree.query(pts, predicate="dwithin", distance=g)
        blocked = np.zeros(nx * ny, dtype=bool)
        blocked[hit[0]] = True
        free = ~blocked.reshape(ny, nx)
    return centres, free


def _grid_graph(free: np.ndarray, g: float):
    """Sparse 8-neighbour graph over the free cells (weights in metres) and the cell index map."""
    ny, nx = free.shape
    idx = -np.ones(free.shape, dtype=np.int64)
    idx[free] = np.arange(int(free.sum()))
    rows, cols, w = [], [], []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):  # cell (y, x) -> (y + dy, x + dx)
        if dx >= 0:
            a, b = idx[:ny - dy, :nx - dx], idx[dy:, dx:]
        else:
            a, b = idx[:ny - dy, -dx:], idx[dy:, :nx + dx]
        ok = (a >= 0) & (b >= 0)
        rows.append(a[ok])
        cols.append(b[ok])
        w.append(np.full(int(ok.sum()), g * math.hypot(dx, dy)))
    r, c, ww = np.concatenate(rows), np.concatenate(cols), np.concatenate(w)
    n = int(free.sum())
    m = coo_matrix((np.concatenate([ww, ww]), (np.concatenate([r, c]), np.concatenate([c, r]))), shape=(n, n)).tocsr()
    return m, idx


def _string_pull(points: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """Greedy shortcuts of a free polyline: from each kept vertex jump to the farthest vertex
    reached by a run of free segments from it (each checked exactly)."""
    out = [points[0]]
    i, n = 0, len(points)
    while i < n - 1:
        j = i + 1
        while j + 1 < n and segments_free(np.stack([points[i], points[j + 1]]), rects):
            j += 1
        out.append(points[j])
        i = j
    return np.array(out)


def _cut_and_sample(poly: np.ndarray, max_len: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) points evenly spaced by arc length along ``poly`` cut at ``max_len`` m, and their
    arc lengths (n,)."""
    seg = np.linalg.norm(np.diff(poly, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    total = min(float(cum[-1]), max_len)
    s = np.linspace(0.0, total, n)
    x = np.interp(s, cum, poly[:, 0])
    y = np.interp(s, cum, poly[:, 1])
    return np.stack([x, y], axis=1), s


def _wrap(a: np.ndarray | float):
    """Angle(s) wrapped to [-pi, pi)."""
    return (np.asarray(a) + math.pi) % (2 * math.pi) - math.pi


def schedule_angles(eyes: np.ndarray, targets: np.ndarray, pitch_lim: tuple[float, float], max_step: float,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Yaw and pitch (N,) radians per frame: towards ``targets`` (N, 3) from ``eyes`` (N, 3), each
    step's hypot(d_yaw, d_pitch) at most ``max_step`` rad; pitch clipped to ``pitch_lim`` (rad).
    The first frame takes its desired angles."""
    n = len(eyes)
    yaws, pitches = np.zeros(n), np.zeros(n)
    for k in range(n):
        d = targets[k] - eyes[k]
        horiz = math.hypot(d[0], d[1])
        want_yaw = math.atan2(d[1], d[0]) if horiz > 1e-6 else (yaws[k - 1] if k else 0.0)
        want_pitch = float(np.clip(math.atan2(d[2], max(horiz, 1e-6)), *pitch_lim))
        if k == 0:
            yaws[0], pitches[0] = want_yaw, want_pitch
            continue
        dy = float(_wrap(want_yaw - yaws[k - 1]))
        dp = want_pitch - pitches[k - 1]
        step = math.hypot(dy, dp)
        f = min(1.0, max_step / step) if step > 0 else 1.0
        yaws[k] = float(_wrap(yaws[k - 1] + f * dy))
        pitches[k] = pitches[k - 1] + f * dp
    return yaws, pitches


def pose_from_angles(eye: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    """(4, 4) OpenCV cam_to_world at ``eye`` with optical axis (cos p cos y, cos p sin y, sin p),
    roll 0 (camera +X horizontal)."""
    fwd = np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), math.sin(pitch)])
    right = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
    down = np.cross(fwd, right)
    return make_pose(np.stack([right, down, fwd], axis=1), eye)


def plan_room_path(scene: SceneGraph, cfg: Mapping, rng: np.random.Generator) -> PlannedPath | None:
    """A walkthrough of a ``room`` scene (module doc); None when the free space is too small.

    ``cfg`` is the camera config (plain dict); draws, in order: eye height, start cell,
    waypoint objects, waypoint cells."""
    w = cfg["walkthrough"]
    prof = scene_profile(cfg, scene)
    c, g = float(w["clearance_m"]), float(w["grid_m"])
    h = float(rng.uniform(*prof["height_m"]))
    n = num_frames(w)
    # Plan against rectangles grown by half the largest frame spacing (module doc, step 3): a
    # chord between consecutive frames that cuts a corner of the polyline stays within that of it.
    m = float(w["max_speed_m_s"]) * float(w["duration_s"]) / max(n - 1, 1) / 2 + 1e-3
    rects = obstacle_rects(scene, c + m, h + c)
    centres, free = _free_grid(scene, rects, c, g)
    if free is None or not free.any():
        return None
    lab, nlab = ndimage.label(free, structure=np.ones((3, 3)))
    sizes = np.bincount(lab.ravel())[1:]
    comp = lab == (int(np.argmax(sizes)) + 1)
    if comp.sum() < 4:
        return None
    graph, idx = _grid_graph(comp, g)
    cells = centres[comp]  # (F, 2) in the order of idx
    start = int(rng.integers(len(cells)))
    floor_objs = [o for o in scene.objects if o.on_floor]
    if not floor_objs:
        return None
    k = int(rng.integers(w["waypoints"][0], w["waypoints"][1] + 1))
    pick = rng.permutation(len(floor_objs))[:k]
    anchors = [floor_objs[int(i)] for i in pick]
    fps_ = [o.box.footprint() for o in anchors]
    pts = shapely.points(cells)
    lo, hi = (float(x) for x in w["waypoint_distance_m"])
    way_cells, way_objs = [], []
    for o, fp in zip(anchors, fps_):
        d = shapely.distance(pts, fp) - c
        ok = np.flatnonzero((d >= lo) & (d <= hi))
        if len(ok) == 0:
            continue
        way_cells.append(int(ok[int(rng.integers(len(ok)))]))
        way_objs.append(o)
    if not way_cells:
        return None
    # visit nearest-first from the start
    order, cur, left = [], start, list(range(len(way_cells)))
    while left:
        j = min(left, key=lambda q: (float(np.linalg.norm(cells[way_cells[q]] - cells[cur])), q))
        order.append(j)
        left.remove(j)
        cur = way_cells[j]
    stops = [start] + [way_cells[j] for j in order]
    dist, pred = dijkstra(graph, indices=stops[:-1], return_predecessors=True)
    chain: list[int] = [start]
    seg_end: list[int] = []  # polyline index where each waypoint is reached
    for q in range(len(stops) - 1):
        a, b = stops[q], stops[q + 1]
        if not np.isfinite(dist[q, b]):
            return None
        back = [b]
        while back[-1] != a:
            back.append(int(pred[q, back[-1]]))
        chain += back[::-1][1:]
        seg_end.append(len(chain) - 1)
    raw = cells[chain]
    # string pulling per leg, so each waypoint stays a vertex (the look-at schedule keys on it)
    poly = [raw[0]]
    prev = 0
    for e in seg_end:
        leg = _string_pull(raw[prev:e + 1], rects) if e > prev else raw[prev:e + 1]
        poly += list(leg[1:])
        prev = e
    poly = np.array(poly)
    if len(poly) < 2:
        poly = np.stack([raw[0], raw[0]])
    xy, s = _cut_and_sample(poly, float(w["max_speed_m_s"]) * float(w["duration_s"]), n)
    # arc length at which each waypoint is reached (vertices of poly)
    seg = np.linalg.norm(np.diff(poly, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    way_s = []
    for q in range(len(order)):
        wp = cells[way_cells[order[q]]]
        hit = np.flatnonzero(np.all(np.isclose(poly, wp), axis=1))
        way_s.append(float(cum[hit[-1]]) if len(hit) else float(cum[-1]))
    focus_objs = [way_objs[j] for j in order]
    focus = []
    for sk in s:
        q = next((i for i, ws in enumerate(way_s) if ws > sk + 1e-9), len(way_s) - 1)
        focus.append(focus_objs[q])
    eyes = np.column_stack([xy, np.full(n, h)])
    targets = np.array([o.center for o in focus], dtype=float)
    lim = tuple(math.radians(x) for x in w["pitch_deg"])
    yaws, pitches = schedule_angles(eyes, targets, lim, math.radians(float(w["max_angular_speed_deg_s"])) / float(w["fps"]))
    waypoints = np.array([cells[way_cells[j]] for j in order])
    return PlannedPath("walkthrough", eyes, yaws, pitches, waypoints, [o.id for o in focus])


def plan_orbit(scene: SceneGraph, cfg: Mapping, rng: np.random.Generator) -> PlannedPath | None:
    """An orbit around the target pool's centre (tabletop and open scenes; module doc).

    Draws, in order: eye height, extra radius, start angle, direction (per attempt)."""
    w = cfg["walkthrough"]
    st = scene.room.type
    prof = scene_profile(cfg, scene)
    c = float(w["clearance_m"])
    pool = target_pool(scene)
    centre = np.mean([o.center for o in pool], axis=0)
    # bounding radius of what the camera must stay out of: the table (tabletop) or every object (open)
    table = find_table(scene) if st == "tabletop" else None
    ring = [table] if table is not None else list(scene.objects)
    corners = np.concatenate([o.box.corners[:, :2] for o in ring])
    r0 = float(np.max(np.linalg.norm(corners - centre[:2], axis=1))) + c
    n = num_frames(w)
    dur = float(w["duration_s"])
    sweep = min(math.radians(float(w["orbit_sweep_deg"])), 0.9 * math.radians(float(w["max_angular_speed_deg_s"])) * dur)
    lim = tuple(math.radians(x) for x in w["pitch_deg"])
    min_sweep = math.radians(float(w["orbit_min_sweep_deg"]))
    m = 720  # angle samples around the circle
    grid = np.linspace(-math.pi, math.pi, m, endpoint=False)
    for _ in range(int(w["max_attempts"])):
        h = float(rng.uniform(*prof["height_m"]))
        r = r0 + float(rng.uniform(*w["orbit_distance_m"][st]))
        sign = 1.0 if rng.random() < 0.5 else -1.0
        u = float(rng.random())
        rects = obstacle_rects(scene, c, h + c)
        xy_all = centre[:2] + r * np.column_stack([np.cos(grid), np.sin(grid)])
        ok = np.ones(m, dtype=bool)
        if prof["inside_room"]:
            hx, hy = scene.room.size[0] / 2 - c, scene.room.size[1] / 2 - c
            ok &= (np.abs(xy_all[:, 0]) <= hx) & (np.abs(xy_all[:, 1]) <= hy)
        if len(rects):
            nxt = np.roll(xy_all, -1, axis=0)
            chords = shapely.linestrings(np.stack([xy_all, nxt], axis=1))
            tree = shapely.STRtree(rects)
            hit = tree.query(chords, predicate="intersects")[0]
            ok[hit] = False
            ok[(hit + 1) % m] = False
        run_start, run_len = _longest_run(ok)
        step = 2 * math.pi / m
        avail = (run_len - 1) * step if run_len < m else 2 * math.pi
        sw = min(sweep, avail)
        if sw < min_sweep:
            continue
        a0 = grid[run_start] + u * (avail - sw) if run_len < m else float(grid[int(u * m) % m])
        if sign < 0 and run_len < m:
            a0 = a0 + sw  # same arc, walked the other way
        ang = a0 + sign * np.linspace(0.0, sw, n)
        xy = centre[:2] + r * np.column_stack([np.cos(ang), np.sin(ang)])
        if not segments_free(xy, rects):  # chords of the frame sampling: checked exactly
            continue
        eyes = np.column_stack([xy, np.full(n, h)])
        targets = np.repeat(centre[None, :], n, axis=0)
        yaws, pitches = schedule_angles(eyes, targets, lim, math.radians(float(w["max_angular_speed_deg_s"])) / float(w["fps"]))
        focus = [o.id for o in pool]
        return PlannedPath("orbit", eyes, yaws, pitches, xy[[0, -1]], [focus[0]] * n)
    return None


def _longest_run(ok: np.ndarray) -> tuple[int, int]:
    """(start, length) of the longest circular run of True in ``ok`` ((0, len) when all True)."""
    m = len(ok)
    if ok.all():
        return 0, m
    if not ok.any():
        return 0, 0
    first_false = int(np.flatnonzero(~ok)[0])
    rolled = np.roll(ok, -first_false)  # starts with False: runs do not wrap
    best, best_start, cur, cur_start = 0, 0, 0, 0
    for i, v in enumerate(rolled.tolist()):
        if v:
            if cur == 0:
                cur_start = i
            cur += 1
            if cur > best:
                best, best_start = cur, cur_start
        else:
            cur = 0
    return (best_start + first_false) % m, best


def plan_path(scene: SceneGraph, camera_cfg: Mapping, rng: np.random.Generator) -> PlannedPath:
    """The scene's path: a room walkthrough, or an orbit for tabletop / open scenes.

    Raises CameraSamplingError (the pipeline retries with another rng) when no path fits,
    naming the keys to relax."""
    cfg = to_plain(camera_cfg)
    w = cfg["walkthrough"]
    if scene.room.type == "room":
        for _ in range(int(w["max_attempts"])):
            p = plan_room_path(scene, cfg, rng)
            if p is not None:
                return p
    else:
        p = plan_orbit(scene, cfg, rng)
        if p is not None:
            return p
    raise CameraSamplingError(
        f"scene {scene.scene_id} ({scene.room.type}): no walkthrough path in {w['max_attempts']} attempts; fix: lower "
        "camera.walkthrough.clearance_m, widen camera.walkthrough.waypoint_distance_m (rooms) or "
        "camera.walkthrough.orbit_distance_m (tabletop/open), or raise camera.walkthrough.max_attempts")


def sample_walkthrough(scene: SceneGraph, camera_cfg: Mapping, rng: np.random.Generator) -> tuple[list[View], list[dict]]:
    """Views (``frame_000``...) along one path and the ``paths`` record entry; ``scene`` unchanged.

    Every view is a normal view (K, pose, geometric per-object fields; params add ``path_id``,
    ``frame_index``, ``timestamp`` s). The path entry: ``id``, ``kind``, ``view_ids`` (frame
    order), ``timestamps`` (s, k / fps), ``fps``, ``waypoints`` [[x, y]] m, ``focus`` (object id
    aimed at per frame), ``clearance_m``, ``max_angular_speed_deg_s``, ``max_speed_m_s``.
    Draws: fov, then the plan's draws (:func:`plan_room_path`, :func:`plan_orbit`).
    """
    validate_camera_cfg(camera_cfg)
    if not isinstance(rng, np.random.Generator):
        raise TypeError("sample_walkthrough: rng must be a numpy.random.Generator; fix: pass "
                        "engine.rng.stage_rng(seed, scene_index, 'camera')")
    cfg = to_plain(camera_cfg)
    w = cfg["walkthrough"]
    fps = float(w["fps"])
    fov = float(rng.uniform(*cfg["fov_deg"]))
    plan = plan_path(scene, cfg, rng)
    width, height, near = int(cfg["width"]), int(cfg["height"]), float(cfg["near_m"])
    K = make_intrinsics(width, height, fov)
    views, ids, stamps = [], [], []
    for k, (eye, yaw, pitch) in enumerate(zip(plan.eyes, plan.yaws, plan.pitches)):
        pose = pose_from_angles(eye, float(yaw), float(pitch))
        vid = f"frame_{k:03d}"
        t = k / fps
        geom = objects_geometry(scene.objects, K, pose, width, height, near)
        params = {"profile": scene.room.type, "path_id": PATH_ID, "frame_index": k, "timestamp": t,
                  "height": float(eye[2]), "yaw": float(yaw), "yaw_deg": math.degrees(float(yaw)),
                  "pitch": float(pitch), "pitch_deg": math.degrees(float(pitch)), "fov_deg": fov,
                  "fov_v_deg": vertical_fov_deg(K, height), "near_m": near, "focus": plan.focus[k],
                  "in_frustum_count": int(sum(g.in_frustum for g in geom.values()))}
        views.append(View(id=vid, K=K.tolist(), width=width, height=height, cam_to_world=pose.tolist(),
                          objects=geom, params=params))
        ids.append(vid)
        stamps.append(t)
    path = {"id": PATH_ID, "kind": plan.kind, "view_ids": ids, "timestamps": stamps, "fps": fps,
            "waypoints": np.asarray(plan.waypoints, dtype=float).tolist(), "focus": list(plan.focus),
            "clearance_m": float(w["clearance_m"]), "max_angular_speed_deg_s": float(w["max_angular_speed_deg_s"]),
            "max_speed_m_s": float(w["max_speed_m_s"])}
    return views, [path]
