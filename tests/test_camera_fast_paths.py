"""The camera sampler's fast paths give bit for bit what their plain formulations give.

Each test compares a shortcut with a straightforward reference (kept in the engine, or written
out here as the code stood before the shortcut) on random inputs, with ``tobytes`` / ``==``
comparisons: the sampled views must not change by a single bit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.camera.annotate import boxes_in_frame_fraction, geometry_arrays, objects_geometry
from engine.camera.framing import BoxCaster, estimate_framing, framing_ok, grid_rays, ray_cover, surely_poor
from engine.camera.intrinsics import make_intrinsics
from engine.camera.obstacles import Obstacles
from engine.camera.sampler import _cluster, _Clusters
from engine.geometry import look_at
from engine.geometry.projection import BOX_EDGES, clip_box_to_near, project_boxes, project_camera_box, world_to_camera
from engine.rng import uniform
from engine.scene import ObjectInView, SceneObject


def _look_at_numpy(eye, target, up=(0.0, 0.0, 1.0)):
    """look_at as first written: np.cross, np.linalg.norm, np.stack."""
    eye = np.asarray(eye, dtype=float)
    fwd = np.asarray(target, dtype=float) - eye
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, np.asarray(up, dtype=float))
    right /= np.linalg.norm(right)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([right, np.cross(fwd, right), fwd], axis=1)
    pose[:3, 3] = eye
    return pose


def test_look_at_matches_numpy_formulation_bitwise():
    rng = np.random.default_rng(0)
    cases = [(rng.normal(size=3) * 3, rng.normal(size=3) * 3, (0.0, 0.0, 1.0)) for _ in range(3000)]
    cases += [(rng.normal(size=3), rng.normal(size=3), rng.normal(size=3)) for _ in range(1000)]
    cases += [([0, 0, 1.5], [1, 0, 1.5], (0, 0, 1)), ([0, 0, 0], [-1, 0, 0], (0, 0, 1)),
              ([0.0, -0.0, 1], [0, -1, 1], (0, 0, 1)), ([1, 1, 1], [1, 1, 0.5], (0, 1, 0))]
    for eye, target, up in cases:
        assert look_at(eye, target, up).tobytes() == _look_at_numpy(eye, target, up).tobytes()
    with pytest.raises(ValueError, match="coincide"):
        look_at([1, 2, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="parallel"):
        look_at([0, 0, 0], [0, 0, 2])


def test_uniform_is_rng_uniform():
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    for lo, hi in [(55.0, 75.0), (-math.pi, math.pi), (-35.0, 5.0), (1, 2), (0.8, 1.6), (-1e-3, 7.3)] * 500:
        assert uniform(a, lo, hi) == float(b.uniform(lo, hi))
    assert a.random() == b.random()  # the same draws were made


def _objects(rng, n, spread=3.0):
    objs = []
    for i in range(n):
        size = rng.uniform(0.05, 1.5, 3)
        c = [*rng.uniform(-spread, spread, 2), size[2] / 2 + rng.uniform(0, 1)]
        objs.append(SceneObject(f"obj_{i:02d}", i + 1, "box", c, size.tolist(), float(rng.uniform(-math.pi, math.pi))))
    return objs


def _random_view(rng, width=512, height=384):
    eye = np.array([*rng.uniform(-3, 3, 2), rng.uniform(0.2, 2.5)])
    pose = look_at(eye, [*rng.uniform(-3, 3, 2), rng.uniform(0, 1.5)])
    return make_intrinsics(width, height, float(rng.uniform(40, 110))), pose


def _estimate_reference(caster, K, pose, width, height, near, cfg):
    """estimate_framing as first written: cast() of all grid rays against all boxes."""
    g = int(cfg["grid"])
    hit, nearest = caster.cast(pose[:3, 3], grid_rays(K, pose, width, height, g), near)
    rays = g * g
    amodal = hit.sum(axis=1)
    visible = np.bincount(nearest[nearest >= 0], minlength=len(amodal)) if len(amodal) else np.zeros(0, int)
    frac = np.divide(visible, amodal, out=np.zeros(len(amodal)), where=amodal > 0)
    well = (frac >= float(cfg["min_visible_fraction"])) & (visible / rays >= float(cfg["min_pixel_share"]))
    return {"seen_well": int(well.sum()), "bare_share": float(np.count_nonzero(nearest < 0) / rays)}


def test_cast_view_and_estimate_match_cast_of_every_ray():
    rng = np.random.default_rng(5)
    cfg = {"grid": 20, "min_visible_fraction": 0.5, "min_pixel_share": 0.004}
    for trial in range(60):
        objs = _objects(rng, int(rng.integers(0, 25)))
        caster = BoxCaster(objs)
        for _ in range(10):
            K, pose = _random_view(rng)
            near = float(rng.choice([0.05, 0.3]))
            grid = int(rng.choice([4, 7, 20]))
            hit, nearest = caster.cast(pose[:3, 3], grid_rays(K, pose, 512, 384, grid), near)
            hit2, nearest2 = caster.cast_view(K, pose, 512, 384, grid, near)
            assert np.array_equal(hit, hit2) and np.array_equal(nearest, nearest2)
            cam = (caster.corners - pose[:3, 3]) @ pose[:3, :3]
            ref = _estimate_reference(caster, K, pose, 512, 384, near, cfg)
            assert estimate_framing(caster, K, pose, 512, 384, near, cfg) == ref
            assert estimate_framing(caster, K, pose, 512, 384, near, cfg, cam) == ref


def test_ray_cover_bounds_the_cast():
    rng = np.random.default_rng(8)
    cfgs = [{"grid": 20, "min_visible_fraction": 0.5, "min_pixel_share": 0.004, "min_seen_well": 3,
             "max_bare_share": 0.6},
            {"grid": 8, "min_visible_fraction": 0.0, "min_pixel_share": 0.0, "min_seen_well": 2, "max_bare_share": 0.9}]
    poor = 0
    for trial in range(80):
        objs = _objects(rng, int(rng.integers(1, 20)), spread=2.5)
        caster = BoxCaster(objs)
        for _ in range(10):
            K, pose = _random_view(rng)
            near = float(rng.choice([0.05, 0.3]))
            cam = (caster.corners - pose[:3, 3]) @ pose[:3, :3]
            for cfg in cfgs:
                rays, cells = ray_cover(K, 512, 384, near, cfg["grid"], cam)
                hit, nearest = caster.cast(pose[:3, 3], grid_rays(K, pose, 512, 384, cfg["grid"]), near)
                assert not hit[:, ~rays].any() and (nearest[~rays] == -1).all()  # uncovered rays meet nothing
                assert (hit.sum(axis=1) <= np.array(cells)).all()
                if surely_poor((rays, cells), cfg):
                    poor += 1
                    assert not framing_ok(_estimate_reference(caster, K, pose, 512, 384, near, cfg), cfg)
    assert poor > 50


def _project_boxes_reference(K, pose, corners, width, height, near):
    """project_boxes' near-plane path as first written: project_camera_box box by box."""
    n = len(corners)
    pc = world_to_camera(pose, corners.reshape(-1, 3)).reshape(n, 8, 3)
    out = project_boxes(K, pose, corners, width, height, near)
    for i in np.flatnonzero(~np.all(pc[:, :, 2] >= near, axis=1)):
        proj = project_camera_box(K, pc[i], width, height, near)
        assert out["hit"][i] == (proj is not None)
        if proj is not None:
            assert out["bbox"][i].tolist() == proj["bbox"]
            assert (out["truncated"][i], out["in_front"][i]) == (proj["truncated"], proj["in_front"])


def _in_frame_reference(K, pose, corners, width, height, near):
    """boxes_in_frame_fraction as first written (one clip_box_to_near per box crossing the near plane)."""
    import shapely
    n = len(corners)
    out = np.zeros(n)
    pc = world_to_camera(pose, corners.reshape(-1, 3)).reshape(n, 8, 3)
    lo_u, lo_v, hi_u, hi_v = -0.5, -0.5, width - 0.5, height - 0.5
    front = np.all(pc[:, :, 2] >= near, axis=1)
    zs = np.where(front[:, None], pc[:, :, 2], 1.0)
    u = K[0, 0] * pc[:, :, 0] / zs + K[0, 2]
    v = K[1, 1] * pc[:, :, 1] / zs + K[1, 2]
    inside = front & np.all((u >= lo_u) & (u <= hi_u) & (v >= lo_v) & (v <= hi_v), axis=1)
    missed = front & ((u.max(axis=1) < lo_u) | (u.min(axis=1) > hi_u) | (v.max(axis=1) < lo_v) | (v.min(axis=1) > hi_v))
    out[inside] = 1.0
    owner = np.flatnonzero(front & ~inside & ~missed)
    batch = np.stack([u[owner], v[owner]], axis=2)
    clipped, clip_owner = [], []
    for i in np.flatnonzero(~front).tolist():
        verts = clip_box_to_near(pc[i], near)
        if len(verts) >= 3:
            clipped.append(np.stack([K[0, 0] * verts[:, 0] / verts[:, 2] + K[0, 2],
                                     K[1, 1] * verts[:, 1] / verts[:, 2] + K[1, 2]], axis=1))
            clip_owner.append(i)
    if clipped:
        m = max(8, max(len(c) for c in clipped))
        pad = lambda c: np.concatenate([c, np.repeat(c[:1], m - len(c), axis=0)])  # noqa: E731
        batch = np.concatenate([np.stack([pad(c) for c in batch]) if len(batch) else np.zeros((0, m, 2)),
                                np.stack([pad(c) for c in clipped])])
        owner = np.concatenate([owner, clip_owner]).astype(int)
    if len(owner):
        hulls = shapely.convex_hull(shapely.multipoints(batch))
        total = shapely.area(hulls)
        inner = shapely.area(shapely.clip_by_rect(hulls, lo_u, lo_v, hi_u, hi_v))
        ok = total > 0
        frac = np.zeros(len(owner))
        frac[ok] = np.clip(inner[ok] / total[ok], 0.0, 1.0)
        out[owner] = frac
    return out


def test_batched_near_plane_clipping_matches_box_by_box():
    rng = np.random.default_rng(9)
    assert len(BOX_EDGES) == 12
    for trial in range(150):
        objs = _objects(rng, int(rng.integers(1, 20)), spread=2.0)
        corners = geometry_arrays(objs).corners
        K, pose = _random_view(rng)
        near = float(rng.choice([0.001, 0.05, 0.5]))
        _project_boxes_reference(K, pose, corners, 512, 384, near)
        ref = _in_frame_reference(K, pose, corners, 512, 384, near)
        assert boxes_in_frame_fraction(K, pose, corners, 512, 384, near).tobytes() == ref.tobytes()
        geom = objects_geometry(objs, K, pose, 512, 384, near)
        assert [g.in_frame_fraction for g in geom.values()] == ref.tolist()
        proj = project_boxes(K, pose, corners, 512, 384, near)
        for i, g in enumerate(geom.values()):  # objects_geometry as first written, from these two
            assert g == ObjectInView.from_dict({
                "in_frustum": bool(proj["in_front"][i] and not proj["truncated"][i]),
                "bbox_amodal_geom": [float(x) for x in proj["bbox"][i]] if proj["hit"][i] else None,
                "truncated_geom": bool(proj["truncated"][i]), "in_frame_fraction": float(ref[i]),
                "distance": g.distance, "depth": g.depth})


def test_clusters_match_cluster():
    rng = np.random.default_rng(2)
    for t in range(200):
        n = int(rng.integers(1, 25))
        c = rng.normal(size=(n, 3)) * 3
        if t % 2:
            c = np.round(c, 1)  # ties: the stable order must agree
        clusters = _Clusters(c)
        for a in range(n):
            for m in range(1, min(n, 4) + 1):
                members, aim = clusters.get(a, m)
                assert members == _cluster([None] * n, c, a, m)
                assert list(aim) == c[members].mean(axis=0).tolist()


def test_in_frustum_shortcut_gives_the_bound_verdict():
    rng = np.random.default_rng(4)
    for trial in range(40):
        objs = _objects(rng, int(rng.integers(1, 20)))
        ob = Obstacles(objs, 0.2, [o for o in objs if o.on_floor])
        for _ in range(25):
            K, pose = _random_view(rng, 640, 480)
            near = float(rng.choice([1e-4, 0.05, 0.4]))
            bound = ob.in_frustum_upper_bound(K, pose, 640, 480, near)
            assert ob.count_in_frustum(ob.camera_corners(pose), K, 640, 480, near) == bound
            for k in range(0, 6):
                assert ob.in_frustum_at_least(k, K, pose, 640, 480, near) == (bound >= k)
    # boxes with corners exactly on the image border or the near plane: the exact bound decides
    box = SceneObject("obj_00", 1, "box", [0.0, 0.0, 2.0], [1.0, 1.0, 1.0], 0.0)
    ob = Obstacles([box], 0.2, [])
    pose = look_at([-1.5, 0.0, 2.0], [0.0, 0.0, 2.0])
    for fov in (50.0, 90.0, 126.869897645844):
        K = make_intrinsics(64, 64, fov)
        for near in (0.05, 1.0, 1.0 + 1e-6 - 1e-12):
            assert ob.in_frustum_at_least(1, K, pose, 64, 64, near) == (ob.in_frustum_upper_bound(K, pose, 64, 64, near) >= 1)


def test_blocked_gives_inside_box_and_above_footprint_verdicts():
    rng = np.random.default_rng(6)
    for trial in range(60):
        objs = _objects(rng, int(rng.integers(1, 20)))
        floor = [o for o in objs if rng.random() < 0.6]
        ob = Obstacles(objs, float(rng.choice([0.0, 0.2])), floor)
        pts = [[*rng.uniform(-4, 4, 2), rng.uniform(0, 2.5)] for _ in range(200)]
        for i, o in enumerate(objs[:5]):  # points on (up to rounding) inflated box sides and corners
            for local in ([1, 0, 0], [0, -1, 0.5], [1, 1, 1], [-1, 0.3, 2], [0.2, 1, -1]):
                pts.append(np.array(o.center) + o.rotation @ (np.array(local) * ob.halves[i]))
        for p in pts:
            p = np.array(p, dtype=float)
            want = "inside_object" if ob.inside_box(p) else None
            for fp in (False, True):
                w = want or ("above_footprint" if fp and ob.above_footprint(p) else None)
                assert ob.blocked(*p.tolist(), fp) == w
    # axis-aligned boxes: points exactly on inflated sides and corners
    box = SceneObject("obj_00", 1, "box", [1.0, 2.0, 0.5], [2.0, 1.0, 1.0], 0.0)
    ob = Obstacles([box], 0.25, [box])
    for p in ([2.25, 2.0, 0.5], [1.0, 2.75, 1.2], [2.25, 2.75, 1.25], [2.25 + 1e-15, 2.0, 0.5], [1.0, 2.0, 1.25 + 1e-12]):
        p = np.array(p)
        want = "inside_object" if ob.inside_box(p) else ("above_footprint" if ob.above_footprint(p) else None)
        assert ob.blocked(*p.tolist(), True) == want
