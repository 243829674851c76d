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

from engine.camera.annotate import objects_geometry
from engine.camera.config import scene_profile, validate_camera_cfg
from engine.camera.framing import BoxCaster, estimate_framing, framing_ok
from engine.plain import to_plain
from engine.camera.intrinsics import make_intrinsics, vertical_fov_deg
from engine.geometry import look_at
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


class _Obstacles:
    """Vectorised point-in-inflated-box tests for all objects of a scene (world metres)."""

    def __init__(self, objects: list[SceneObject], margin: float, footprint_objects: list[SceneObject]):
        self.centers = np.array([o.center for o in objects], dtype=float).reshape(-1, 3)
        self.rots = np.array([o.rotation for o in objects], dtype=float).reshape(-1, 3, 3)
        self.halves = np.array([o.size for o in objects], dtype=float).reshape(-1, 3) / 2 + margin
        self.corners = np.array([o.box.corners for o in objects], dtype=float).reshape(-1, 8, 3)
        fo = footprint_objects
        self.fp_centers = np.array([o.center for o in fo], dtype=float).reshape(-1, 3)
        self.fp_rots = np.array([o.rotation for o in fo], dtype=float).reshape(-1, 3, 3)
        self.fp_halves = np.array([o.size for o in fo], dtype=float).reshape(-1, 3) / 2 + margin

    def in_frustum_upper_bound(self, K: np.ndarray, pose: np.ndarray, width: int, height: int, near: float) -> int:
        """How many objects may be fully inside the frustum: a count >= the exact one.

        One batched projection of all corners with a 1e-6 slack (pixels and metres), so the
        sampler can skip the exact per-object geometry of hopeless candidates.
        """
        R, t = pose[:3, :3], pose[:3, 3]
        cam = (self.corners - t) @ R  # (N, 8, 3) camera frame
        z = cam[..., 2]
        ok = z >= near - 1e-6
        zs = np.where(ok, z, 1.0)
        u = K[0, 0] * cam[..., 0] / zs + K[0, 2]
        v = K[1, 1] * cam[..., 1] / zs + K[1, 2]
        ok &= (u >= -0.5 - 1e-6) & (u <= width - 0.5 + 1e-6) & (v >= -0.5 - 1e-6) & (v <= height - 0.5 + 1e-6)
        return int(np.all(ok, axis=1).sum())

    def inside_box(self, p: np.ndarray) -> bool:
        """True when ``p`` (3,) lies inside or on any inflated object box."""
        local = np.einsum("nij,ni->nj", self.rots, p - self.centers)
        return bool(np.any(np.all(np.abs(local) <= self.halves, axis=1)))

    def above_footprint(self, p: np.ndarray) -> bool:
        """True when ``p``'s floor position (x, y) lies inside any inflated floor footprint."""
        local = np.einsum("nij,ni->nj", self.fp_rots, p - self.fp_centers)
        return bool(np.any(np.all(np.abs(local[:, :2]) <= self.fp_halves[:, :2], axis=1)))


def _inside_room(scene: SceneGraph, eye: np.ndarray, margin: float) -> bool:
    sx, sy, sz = (float(v) for v in scene.room.size)
    if abs(eye[0]) > sx / 2 - margin or abs(eye[1]) > sy / 2 - margin:
        return False
    return sz <= 0 or eye[2] <= sz - margin


def _cluster(pool: list[SceneObject], centers: np.ndarray, anchor: int, m: int) -> list[int]:
    """Indices into ``pool`` of the anchor and its m-1 nearest neighbours (floor distance, stable)."""
    d = np.linalg.norm(centers[:, :2] - centers[anchor, :2], axis=1)
    d[anchor] = -1.0
    return [int(i) for i in np.argsort(d, kind="stable")[:m]]


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
    validate_camera_cfg(camera_cfg)
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
    floor_objs = [o for o in scene.objects if o.on_floor] if prof["clear_footprints"] else []
    obstacles = _Obstacles(scene.objects, float(cfg["object_margin_m"]), floor_objs)
    cos_min_rot = math.cos(math.radians(cfg["min_rotation_deg"]))
    fr = prof.get("framing")
    caster = BoxCaster(scene.objects) if fr else None

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
        # Draw every value of the candidate up front, in a fixed order.
        fov = float(rng.uniform(*cfg["fov_deg"]))
        m = int(rng.integers(1, max(1, min(k, len(pool))) + 1)) if pool else 0
        anchor = int(rng.integers(len(pool))) if pool else 0
        h = float(rng.uniform(*prof["height_m"]))
        pitch = math.radians(float(rng.uniform(*prof["pitch_deg"])))
        dist = float(rng.uniform(*prof["distance_m"]))
        yaw = float(rng.uniform(-math.pi, math.pi))
        shot = None
        if fr:  # framing profiles: a close-up of the cluster with probability close_prob
            close = bool(rng.random() < float(fr["close_prob"]))
            close_dist = float(rng.uniform(*fr["close_distance_m"]))
            close_pitch = math.radians(float(rng.uniform(*fr["close_pitch_deg"])))
            shot = "close" if close else "wide"
            if close:
                dist, pitch = close_dist, close_pitch

        members = _cluster(pool, pool_centers, anchor, m) if pool else []
        aim = pool_centers[members].mean(axis=0) if members else np.zeros(3)
        if shot == "close" and float(fr["yaw_spread_deg"]) < 180.0 and math.hypot(aim[0], aim[1]) > 1e-9:
            # close-ups look outwards, from the room's middle towards the cluster, within +-yaw_spread_deg
            yaw = math.atan2(aim[1], aim[0]) + yaw * float(fr["yaw_spread_deg"]) / 180.0
            yaw = (yaw + math.pi) % (2 * math.pi) - math.pi
        direction = np.array([math.cos(yaw), math.sin(yaw)])
        eye = np.array([aim[0] - dist * direction[0], aim[1] - dist * direction[1], h])
        target = np.array([aim[0], aim[1], h + dist * math.tan(pitch)])

        if prof["inside_room"] and not _inside_room(scene, eye, float(cfg["wall_margin_m"])):
            reasons["outside_room"] += 1
            continue
        if obstacles.inside_box(eye):
            reasons["inside_object"] += 1
            continue
        if prof["clear_footprints"] and obstacles.above_footprint(eye):
            reasons["above_footprint"] += 1
            continue
        pose = look_at(eye, target, up=(0.0, 0.0, 1.0))
        fwd = pose[:3, 2]
        if any(np.linalg.norm(eye - v.position) < cfg["min_translation_m"] or float(fwd @ v.forward) > cos_min_rot + 1e-12
               for v in views):
            reasons["too_close_to_view"] += 1
            continue
        K = make_intrinsics(width, height, fov)
        if obstacles.in_frustum_upper_bound(K, pose, width, height, near) < k:
            reasons["too_few_in_frustum"] += 1
            continue
        est = estimate_framing(caster, K, pose, width, height, near, fr) if fr else None
        relaxed = bool(fr) and since_last > int(fr["relax_after"])  # a hard scene: take a plainer view
        if est is not None and not relaxed and not framing_ok(est, fr):
            reasons["poor_framing"] += 1
            continue
        geom = objects_geometry(scene.objects, K, pose, width, height, near)
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
        since_last = 0
    return views
