"""Cross-checks: moderngl vs pyrender, and moderngl vs an independent embree ray cast."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh

sys.path.insert(0, str(Path(__file__).parent))
from render_scenes import hand_room, room_views, simple_meshes  # noqa: E402

from engine.render import get_renderer, load_default_render_cfg  # noqa: E402

from trimesh.ray import ray_pyembree  # noqa: E402  (embreex, a dev dependency)


@pytest.fixture(scope="module")
def mgl():
    return get_renderer(load_default_render_cfg())


@pytest.fixture(scope="module")
def pyr():
    return get_renderer(dict(load_default_render_cfg(), backend="pyrender"))


def raycast(view, meshes):
    """Embree first hits through every pixel centre (integer u, v).

    Returns ids (H, W) int32, depth (H, W) float camera z (0 on a miss), and per instance id the
    amodal pixel count (rays cast against that object's meshes alone).
    """
    W, H = view.width, view.height
    K = np.asarray(view.K)
    pose = np.asarray(view.cam_to_world)
    v, u = np.mgrid[0:H, 0:W]
    d_cam = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u, float)], -1).reshape(-1, 3)
    dirs = d_cam @ pose[:3, :3].T
    origins = np.tile(pose[:3, 3], (len(dirs), 1))

    def first_hits(ms):
        tm = trimesh.Trimesh(np.concatenate([m.vertices for m in ms]),
                             np.concatenate([m.faces + off for m, off in zip(ms, np.cumsum([0] + [len(m.vertices) for m in ms[:-1]]))]),
                             process=False)
        face_inst = np.concatenate([np.full(len(m.faces), m.instance_id) for m in ms])
        tri, ray, loc = ray_pyembree.RayMeshIntersector(tm).intersects_id(origins, dirs, multiple_hits=False, return_locations=True)
        return tri, ray, loc, face_inst

    tri, ray, loc, face_inst = first_hits(meshes)
    ids = np.zeros(H * W, np.int32)
    depth = np.zeros(H * W)
    ids[ray] = face_inst[tri]
    depth[ray] = (loc - pose[:3, 3]) @ pose[:3, 2]
    amodal = {}
    for iid in sorted({m.instance_id for m in meshes if m.instance_id >= 1}):
        _, r, _, _ = first_hits([m for m in meshes if m.instance_id == iid])
        amodal[iid] = len(np.unique(r))
    return ids.reshape(H, W), depth.reshape(H, W), amodal


def test_backends_agree_on_ids_depth_and_visibility(mgl, pyr):
    assert mgl.name == "moderngl" and pyr.name == "pyrender" and pyr.gl_renderer
    scene = hand_room(20, seed=11)
    meshes = simple_meshes(scene)
    for view in room_views(192, 144, n=2):
        a, b = mgl.render(scene, view, meshes), pyr.render(scene, view, meshes)
        assert (a.ids == b.ids).mean() >= 0.999
        both = (a.depth > 0) & (b.depth > 0)
        assert (both == (a.depth > 0)).mean() >= 0.999
        assert np.median(np.abs(a.depth[both] - b.depth[both])) < 1e-3
        for oid in a.objects:
            ra, rb = a.objects[oid], b.objects[oid]
            assert abs(ra["amodal_pixels"] - rb["amodal_pixels"]) <= max(2, 0.005 * ra["amodal_pixels"])
            assert abs(ra["visible_fraction"] - rb["visible_fraction"]) <= 0.01
            assert ra["truncated"] == rb["truncated"]
        assert b.rgb.shape == a.rgb.shape and b.rgb.dtype == np.uint8 and b.rgb.std() > 10


def test_moderngl_matches_an_embree_ray_cast(mgl):
    checked = 0
    for seed, n in ((21, 20), (22, 12), (23, 20)):
        scene = hand_room(n, seed=seed)
        meshes = simple_meshes(scene)
        for view in room_views(160, 120, n=3)[seed % 3:][:2]:
            frame = mgl.render(scene, view, meshes)
            ids, depth, amodal = raycast(view, meshes)
            assert (frame.ids == ids).mean() >= 0.998
            hit = (depth > 0) & (frame.depth > 0)
            assert np.median(np.abs(frame.depth[hit] - depth[hit])) < 1e-3
            vis = np.bincount(ids.ravel(), minlength=n + 1)
            for o in scene.objects:
                rec = frame.objects[o.id]
                ref_amodal = amodal.get(o.instance_id, 0)
                assert abs(rec["amodal_pixels"] - ref_amodal) <= max(3, 0.01 * ref_amodal)
                if ref_amodal >= 50:
                    assert abs(rec["visible_fraction"] - vis[o.instance_id] / ref_amodal) <= 0.02
                    checked += 1
    assert checked >= 20
