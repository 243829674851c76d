"""Camera pose sampling: several views per scene, each seeing at least k whole objects.

Procedure per candidate (see docs/camera.md): draw a horizontal fov, a cluster of 1..k nearby
objects (its centre is the aim point), an eye height, a pitch, a horizontal distance and a yaw;
put the camera ``distance`` behind the cluster centre along ``yaw`` at that height and look at
the point above/below the cluster centre that gives the sampled pitch (``look_at`` with up +Z,
so roll is 0). Reject candidates outside the room, inside an inflated object box, above a
floor-standing object's footprint (when the profile asks), too close in position or direction
to an accepted view, or with fewer than k objects fully inside the frustum. Bounded attempts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from engine.camera.annotate import geometry_arrays, objects_geometry
from engine.camera.config import scene_profile, validate_camera_cfg
from engine.camera.framing import BoxCaster, estimate_framing, framing_ok, ray_cover, screen_ok, surely_poor
from engine.camera.intrinsics import intrinsics_unchecked, vertical_fov_deg
from engine.camera.obstacles import Obstacles as _Obstacles
from engine.geometry import look_at
from engine.plain import to_plain
from engine.rng import uniform
from engine.scene.graph import SceneGraph, SceneObject, View

REJECT_REASONS = ("outside_room", "inside_object", "above_footprint", "too_close_to_view", "too_few_in_frustum",
                  "poor_framing")


class CameraSamplingError(ValueError):
    """No camera satisfied the constraints within the attempt budget; the message says what to relax."""


def find_table(scene: SceneGraph) -> SceneObject | None:
    """The table of a tabletop scene.

    ``scene.stats["table_id"]`` when the layout recorded it (engine/layout/tabletop.py does);
    else the object that supports the most others (``on:<id>``, ties to the earlier object);
    else the first object whose category is ``table``; None when none of these exists.
    """
    table_id = scene.stats.get("table_id")
    if table_id is not None:
        return scene.object(table_id)  # KeyError naming the id if the record is inconsistent
    counts = {o.id: 0 for o in scene.objects}
    for o in scene.objects:
        if o.supported_by in counts:
            counts[o.supported_by] += 1
    best = max(scene.objects, key=lambda o: counts[o.id], default=None)  # max keeps the first of ties
    if best is not None and counts[best.id] > 0:
        return best
    return next((o for o in scene.objects if o.category == "table"), None)


def target_pool(scene: SceneGraph) -> list[SceneObject]:
    """Objects the camera may aim at: on the table for ``tabletop`` scenes (if any), else all."""
    if scene.room.type == "tabletop":
        table = find_table(scene)
        if table is not None:
            on_table = [o for o in scene.objects if o.supported_by == table.id]
            if on_table:
                return on_table
    return list(scene.objects)


def _cluster(pool: list[SceneObject], centers: np.ndarray, anchor: int, m: int) -> list[int]:
    """Indices into ``pool`` of the anchor and its m-1 nearest neighbours (floor distance, stable)."""
    d = np.linalg.norm(centers[:, :2] - centers[anchor, :2], axis=1)
    d[anchor] = -1.0
    return [int(i) for i in np.argsort(d, kind="stable")[:m]]


class _Clusters:
    """``(members, aim)`` per (anchor, m), computed once per scene: the :func:`_cluster` indices
    and their mean pool centre (x, y, z floats, the numpy mean of those centres).

    The neighbour order of every anchor comes from one (n, n) distance matrix: row ``a`` holds
    the values :func:`_cluster` computes for anchor ``a`` (the same differences, and a norm of two
    squares, whose sum has one rounding in any order), and a stable row sort orders them alike.
    """

    def __init__(self, centers: np.ndarray):
        self.centers = centers  # (n, 3) pool object centres, world m
        xy = centers[:, :2]
        d = np.linalg.norm(xy[None, :, :] - xy[:, None, :], axis=2)
        np.fill_diagonal(d, -1.0)
        self._order = np.argsort(d, axis=1, kind="stable")
        self._cache: dict[tuple[int, int], tuple[list[int], tuple[float, float, float]]] = {}

    def get(self, anchor: int, m: int) -> tuple[list[int], tuple[float, float, float]]:
        hit = self._cache.get((anchor, m))
        if hit is None:
            members = self._order[anchor, :m].tolist()
            hit = self._cache[(anchor, m)] = (members, tuple(self.centers[members].mean(axis=0).tolist()))
        return hit


_VALID_CFGS: dict[str, None] = {}  # repr of plain-dict camera configs that passed validation (a few, newest last)


def _validate(camera_cfg: Mapping) -> None:
    """validate_camera_cfg, skipped for a plain dict equal (same repr: values and types) to one
    that passed before; the pipeline passes the same config for every scene."""
    key = repr(camera_cfg) if type(camera_cfg) is dict else None
    if key is not None and key in _VALID_CFGS:
        return
    validate_camera_cfg(camera_cfg)
    if key is not None:
        _VALID_CFGS[key] = None
        while len(_VALID_CFGS) > 8:
            del _VALID_CFGS[next(iter(_VALID_CFGS))]


def _too_close(pose: np.ndarray, accepted: list[tuple[np.ndarray, np.ndarray]], min_translation: float,
               cos_min_rot: float) -> bool:
    """True when a candidate (cam_to_world ``pose``) stands within ``min_translation`` m of an
    accepted view's centre, or its optical axis is within the minimum rotation of that view's
    (``accepted``: (centre, axis) pairs; the distance as ``np.linalg.norm`` computes it)."""
    eye, fwd = pose[:3, 3], pose[:3, 2]
    for pos, axis in accepted:
        d = eye - pos
        if math.sqrt(d.dot(d)) < min_translation or float(fwd @ axis) > cos_min_rot + 1e-12:
            return True
    return False


def _relax_hint(cfg: dict, scene_type: str, reasons: dict[str, int]) -> str:
    """What to relax for every rejection reason seen, the most frequent first."""
    hints = {
        "too_few_in_frustum": f"lower camera.min_objects_in_frustum (k={cfg['min_objects_in_frustum']}), widen "
                              f"camera.fov_deg {cfg['fov_deg']} or raise camera.profiles.{scene_type}.distance_m",
        "too_close_to_view": f"lower camera.num_views ({cfg['num_views']}), camera.min_rotation_deg "
                             f"({cfg['min_rotation_deg']}) or camera.min_translation_m ({cfg['min_translation_m']})",
        "outside_room": f"shorten camera.profiles.{scene_type}.distance_m, lower camera.wall_margin_m or "
                        f"the top of profiles.{scene_type}.height_m",
        "inside_object": "lower camera.object_margin_m or change the height/distance ranges",
        "above_footprint": f"set camera.profiles.{scene_type}.clear_footprints: false or lower camera.object_margin_m",
        "poor_framing": f"lower camera.profiles.{scene_type}.framing.min_seen_well, raise its max_bare_share "
                        f"or set framing: null",
    }
    seen = sorted((r for r in REJECT_REASONS if reasons[r]), key=lambda r: -reasons[r])  # stable on ties
    return "; ".join(f"for {r!r} ({reasons[r]}x) {hints[r]}" for r in seen) or "no candidate was tried"


def sample_views(scene: SceneGraph, camera_cfg: Mapping, rng: np.random.Generator) -> list[View]:
    """Sample ``camera_cfg["num_views"]`` views of ``scene`` (the caller sets ``scene.views``).

    Args:
        scene: the scene graph (world metres, +Z up); it is not modified.
        camera_cfg: the camera config (see ``conf/camera/default.yaml``), validated here.
        rng: the stage's generator; the only source of randomness.

    Returns:
        Views ``view_0``... with K (3x3), width, height, cam_to_world (4x4, OpenCV), ``params``
        (every sampled value: ``height`` m, ``pitch``/``yaw`` rad and ``pitch_deg``/``yaw_deg``,
        ``fov_deg`` horizontal and ``fov_v_deg``, ``distance_m`` horizontal eye-to-target,
        ``target`` [x,y,z] look-at point, ``target_objects`` ids, ``profile``, ``near_m``,
        ``attempts``, ``in_frustum_count``) and per-object geometric fields (see
        :func:`engine.camera.annotate.objects_geometry`). Every view has at least k objects
        in_frustum, and every pair of views differs by >= min_rotation_deg between optical axes
        and >= min_translation_m between centres.

    Raises:
        CameraSamplingError: k exceeds the number of objects, or no candidate passed within
            ``max_attempts``; the message names the config keys to relax.
    """
    _validate(camera_cfg)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"sample_views: rng must be a numpy.random.Generator, got {type(rng).__name__}; "
                        "fix: pass engine.rng.stage_rng(seed, scene_index, 'camera')")
    cfg = to_plain(camera_cfg)
    k, n_views = cfg["min_objects_in_frustum"], cfg["num_views"]
    n_obj = len(scene.objects)
    if k > n_obj:
        raise CameraSamplingError(
            f"scene {scene.scene_id} has {n_obj} objects but camera.min_objects_in_frustum is {k}; "
            f"fix: lower camera.min_objects_in_frustum to <= {n_obj} or sample scenes with more objects")
    st = scene.room.type
    prof = scene_profile(cfg, scene)
    width, height, near = cfg["width"], cfg["height"], float(cfg["near_m"])
    pool = target_pool(scene)
    pool_centers = np.array([o.center for o in pool], dtype=float).reshape(-1, 3)
    clusters = _Clusters(pool_centers)
    arrays = geometry_arrays(scene.objects)  # the objects' boxes as arrays, shared by the tests below
    floor_objs = [o for o in scene.objects if o.on_floor] if prof["clear_footprints"] else []
    obstacles = _Obstacles(scene.objects, float(cfg["object_margin_m"]), floor_objs, arrays)
    cos_min_rot = math.cos(math.radians(cfg["min_rotation_deg"]))
    min_translation = cfg["min_translation_m"]
    fr = prof.get("framing")
    caster = BoxCaster(scene.objects, arrays) if fr else None
    # the room test of a candidate centre: |x|, |y| within the walls less wall_margin_m, below the ceiling
    sx, sy, sz = (float(v) for v in scene.room.size)
    wall_margin = float(cfg["wall_margin_m"])
    in_x, in_y, in_z = sx / 2 - wall_margin, sy / 2 - wall_margin, sz - wall_margin
    check_room, clear_footprints = prof["inside_room"], prof["clear_footprints"]
    m_hi = max(1, min(k, len(pool))) + 1
    ranges = [prof["height_m"], prof["pitch_deg"], prof["distance_m"], (-math.pi, math.pi)]
    if fr:
        close_prob, spread, grid = float(fr["close_prob"]), float(fr["yaw_spread_deg"]), int(fr["grid"])
        ranges += [(0.0, 1.0), fr["close_distance_m"], fr["close_pitch_deg"]]
    # value = lo + (hi - lo) * u, as rng.uniform(lo, hi) computes it (engine.rng.uniform)
    spans = [(float(lo), float(hi) - float(lo)) for lo, hi in ranges]
    n_doubles = len(spans)
    (h_lo, h_span), (p_lo, p_span), (d_lo, d_span), (y_lo, y_span) = spans[:4]
    (cd_lo, cd_span), (cp_lo, cp_span) = spans[5:] if fr else ((0.0, 0.0), (0.0, 0.0))
    fov_lo, fov_hi = cfg["fov_deg"]
    accepted: list[tuple[np.ndarray, np.ndarray]] = []  # (centre, optical axis) of each view

    views: list[View] = []
    reasons = {r: 0 for r in REJECT_REASONS}
    attempts = since_last = 0
    while len(views) < n_views:
        if attempts >= cfg["max_attempts"]:
            raise CameraSamplingError(
                f"scene {scene.scene_id} ({st}, {n_obj} objects): found {len(views)} of {n_views} views in "
                f"{attempts} attempts (camera.max_attempts); rejections {reasons}; fix: "
                f"{_relax_hint(cfg, st, reasons)}; or raise camera.max_attempts")
        attempts += 1
        since_last += 1
        # Draw every value of the candidate up front, in a fixed order: fov, m, anchor, then height,
        # pitch, distance, yaw (and with framing: close-up coin, close distance, close pitch), the
        # latter one contiguous run of doubles, so one rng.random(n) call draws them.
        fov = uniform(rng, fov_lo, fov_hi)
        m = int(rng.integers(1, m_hi)) if pool else 0
        anchor = int(rng.integers(len(pool))) if pool else 0
        u = rng.random(n_doubles).tolist()
        h = h_lo + h_span * u[0]
        pitch = math.radians(p_lo + p_span * u[1])
        dist = d_lo + d_span * u[2]
        yaw = y_lo + y_span * u[3]
        shot = None
        if fr:  # framing profiles: a close-up of the cluster with probability close_prob
            close = bool(u[4] < close_prob)
            shot = "close" if close else "wide"
            if close:
                dist, pitch = cd_lo + cd_span * u[5], math.radians(cp_lo + cp_span * u[6])

        members, (ax, ay, az) = clusters.get(anchor, m) if pool else ([], (0.0, 0.0, 0.0))
        if shot == "close" and spread < 180.0 and math.hypot(ax, ay) > 1e-9:
            # close-ups look outwards, from the room's middle towards the cluster, within +-yaw_spread_deg
            yaw = math.atan2(ay, ax) + yaw * spread / 180.0
            yaw = (yaw + math.pi) % (2 * math.pi) - math.pi
        ex, ey = ax - dist * math.cos(yaw), ay - dist * math.sin(yaw)
        target = (ax, ay, h + dist * math.tan(pitch))

        if check_room and (abs(ex) > in_x or abs(ey) > in_y or (sz > 0 and h > in_z)):
            reasons["outside_room"] += 1
            continue
        why = obstacles.blocked(ex, ey, h, clear_footprints)  # inside_object, above_footprint or None
        if why is not None:
            reasons[why] += 1
            continue
        pose = look_at((ex, ey, h), target, up=(0.0, 0.0, 1.0))
        fwd = pose[:3, 2]
        if accepted and _too_close(pose, accepted, min_translation, cos_min_rot):
            reasons["too_close_to_view"] += 1
            continue
        K = intrinsics_unchecked(width, height, fov)
        if not obstacles.in_frustum_at_least(k, K, pose, width, height, near):
            reasons["too_few_in_frustum"] += 1
            continue
        relaxed = bool(fr) and since_last > int(fr["relax_after"])  # a hard scene: take a plainer view
        est = None
        if fr:
            cam_corners = obstacles.camera_corners(pose)
            if not relaxed:  # (a relaxed view records its estimate, so it is always cast)
                cover = ray_cover(K, width, height, near, grid, cam_corners)  # rays that may meet a box
                if cover is not None and surely_poor(cover, fr):
                    reasons["poor_framing"] += 1  # what the estimate would say; it is skipped
                    continue
            est = estimate_framing(caster, K, pose, width, height, near, fr, cam_corners)
        if est is not None and not (screen_ok(est, fr, since_last) if relaxed else framing_ok(est, fr)):
            reasons["poor_framing"] += 1
            continue
        geom = objects_geometry(scene.objects, K, pose, width, height, near, arrays=arrays)
        count = sum(g.in_frustum for g in geom.values())
        if count < k:
            reasons["too_few_in_frustum"] += 1
            continue
        params = {
            "profile": st,
            "height": h,
            "pitch": pitch,
            "pitch_deg": math.degrees(pitch),
            "yaw": yaw,
            "yaw_deg": math.degrees(yaw),
            "fov_deg": fov,
            "fov_v_deg": vertical_fov_deg(K, height),
            "distance_m": dist,
            "target": [float(x) for x in target],
            "target_objects": [pool[i].id for i in members],
            "near_m": near,
            "min_objects_in_frustum": k,
            "in_frustum_count": int(count),
            "attempts": since_last,
        }
        if fr:
            params["shot"] = shot
            params["framing_est"] = est
            params["framing_relaxed"] = relaxed
        views.append(View(id=f"view_{len(views)}", K=K.tolist(), width=width, height=height,
                          cam_to_world=pose.tolist(), objects=geom, params=params))
        accepted.append((pose[:3, 3], fwd))
        since_last = 0
    return views
