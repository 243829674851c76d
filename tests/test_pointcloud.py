"""Point clouds from rendered depth (engine/export/pointcloud.py, output.point_cloud).

A rendered scene's points, each checked against the oriented box of the object its label names
(an independent computation: the box from the scene record's center, size and rotation, never the
renderer or the back-projection): every labelled point lies in its box within 1 mm. A handful of
pixels are back-projected by hand (pinhole inverse written out here) and found in the cloud. The
PLY round-trips; the pipeline writes one file per scene, lists it in the manifest, and refuses
the option without rendering.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from engine.export.pointcloud import point_cloud_ply, read_point_cloud_ply, scene_point_cloud
from engine.pipeline.config import load_job
from engine.pipeline.stages import SceneStages
from engine.pipeline.timing import StageTimer

OV = ["camera.width=96", "camera.height=96", "num_scenes=2", "seed=5", "render.shadow_map_size=256",
      "render.msaa_samples=1", "progress=false", "executor.workers=1"]


@pytest.fixture(scope="module")
def rendered():
    job = load_job(OV)
    st = SceneStages(job.cfg, job.config_hash)
    out = st.make_scene(0, None, StageTimer())
    return out.scene, out.frames


def test_points_lie_in_their_instance_boxes(rendered):
    scene, frames = rendered
    pc = scene_point_cloud(scene, frames, voxel=0)
    depth_px = sum(int((f.depth > 0).sum()) for f in frames.values())
    assert len(pc) == depth_px  # voxel 0: every pixel with depth
    by_iid = {o.instance_id: o for o in scene.objects}
    labelled = 0
    for iid in np.unique(pc.instance):
        if iid == 0:
            continue
        o = by_iid[int(iid)]
        R = np.asarray(o.rotation, dtype=float)  # local -> world
        local = (pc.points[pc.instance == iid] - np.asarray(o.center)) @ R  # R^T (p - c) per row
        excess = np.abs(local) - np.asarray(o.size) / 2
        assert excess.max() <= 1e-3, (o.id, o.category, float(excess.max()))
        labelled += int((pc.instance == iid).sum())
    assert labelled > 500
    # every object the renderer saw has points, and only those
    seen = {o.instance_id for o in scene.objects for v in scene.views if (v.objects[o.id].visible_pixels or 0) > 0}
    assert set(np.unique(pc.instance)) - {0} == seen


def test_hand_backprojection(rendered):
    """A few pixels per view by hand: x = (u - cx) z / fx, y = (v - cy) z / fy, world = R x + t."""
    scene, frames = rendered
    pc = scene_point_cloud(scene, frames, voxel=0)
    start = 0
    for k, view in enumerate(scene.views):
        f = frames[view.id]
        vs, us = np.nonzero(f.depth > 0)
        K, T = np.asarray(view.K), np.asarray(view.cam_to_world)
        mine = pc.points[pc.view == k]
        assert len(mine) == len(vs)
        for j in (0, len(vs) // 3, len(vs) // 2, len(vs) - 1):
            u, v, z = float(us[j]), float(vs[j]), float(f.depth[vs[j], us[j]])
            cam = np.array([(u - K[0, 2]) * z / K[0, 0], (v - K[1, 2]) * z / K[1, 1], z])
            world = T[:3, :3] @ cam + T[:3, 3]
            assert np.allclose(mine[j], world, atol=1e-6)
            assert pc.instance[start + j] == f.ids[vs[j], us[j]]
            assert np.array_equal(pc.colors[start + j], f.rgb[vs[j], us[j], :3])
        start += len(vs)


def test_voxel_fusion_and_ply_round_trip(rendered):
    scene, frames = rendered
    full = scene_point_cloud(scene, frames, voxel=0)
    fused = scene_point_cloud(scene, frames, voxel=0.05)
    cells = np.floor(fused.points / 0.05).astype(np.int64)
    assert len(np.unique(cells, axis=0)) == len(fused) < len(full)  # one point per occupied cell
    assert len(np.unique(np.floor(full.points / 0.05).astype(np.int64), axis=0)) == len(fused)
    objects = scene_point_cloud(scene, frames, voxel=0, background=False)
    assert len(objects) == int((full.instance > 0).sum()) and (objects.instance > 0).all()
    data = point_cloud_ply(fused)
    assert data == point_cloud_ply(scene_point_cloud(scene, frames, voxel=0.05))  # same bytes
    pts, rgb, inst = read_point_cloud_ply(data)
    assert np.allclose(pts, fused.points, atol=1e-5) and np.array_equal(rgb, fused.colors)
    assert np.array_equal(inst, fused.instance)


def test_pipeline_writes_point_clouds(tmp_path):
    from engine.pipeline.manifest import read_manifest
    from engine.pipeline.run import generate
    from engine.schema import ConfigError

    out = tmp_path / "d"
    generate(load_job(OV + ["output.point_cloud=true", "qa.questions_per_view=2", f"out={out}"]))
    files = sorted(p.name for p in (out / "pointclouds").iterdir())
    assert files == ["s000000000.ply", "s000000001.ply"]
    listed = {rel: d for e in read_manifest(out)["shards"].values() for rel, d in e["files"].items()}
    for name in files:
        data = (out / "pointclouds" / name).read_bytes()
        assert listed[f"pointclouds/{name}"] == hashlib.sha256(data).hexdigest()
        pts, _, inst = read_point_cloud_ply(data)
        assert len(pts) > 1000 and inst.max() > 0
    with pytest.raises(ConfigError, match="output.point_cloud"):
        generate(load_job(OV + ["output.point_cloud=true", "stages.render=false", f"out={tmp_path / 'e'}"]))
