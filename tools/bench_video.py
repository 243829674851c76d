"""Walkthrough benchmark: frames/s and video questions/s per core for N-frame paths.

For each sampled room (layout, walkthrough path, appearance; prepared before timing):

- path render: every frame of the path with one renderer, meshes built once per scene (render +
  annotate_visibility), as the pipeline renders a path; its first frame uploads the scene's
  meshes and textures and draws the shadow map, the others reuse them;
- single-frame cost: the same frames each rendered as the only frame of a fresh copy of the
  scene's meshes (new buffers and textures, shadow map drawn again), the cost of a frame that
  shares nothing; the path must cost at most frames x that + a small constant;
- questions: the video family (conf/qa defaults, templates/video.yaml) on the rendered paths.

Times are CPU seconds of this process (all threads; the renderer rasterises on ``--cpus``
threads), so "per core" is frames (questions) per CPU-second. The time for 10,000 video
questions is extrapolated from the measured rates (rendering + QA, and QA alone).

    .venv/bin/python tools/bench_video.py                   # 6 rooms, 32 frames, 512x512
    .venv/bin/python tools/bench_video.py --scenes 2 --size 256 --frames 16
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.assets.appearance import load_appearance_config, sample_appearance  # noqa: E402
from engine.assets.meshes import scene_meshes  # noqa: E402
from engine.camera.config import WALKTHROUGH_CFG, load_camera_cfg  # noqa: E402
from engine.camera.walkthrough import sample_walkthrough  # noqa: E402
from engine.layout import load_scene_cfg, sample_layout  # noqa: E402
from engine.qa import QAGenerator  # noqa: E402
from engine.render import annotate_visibility, get_renderer, load_default_render_cfg  # noqa: E402
from engine.rng import stage_rng  # noqa: E402
from engine.scene.catalog import load_catalog  # noqa: E402


def prepare(n: int, size: int, frames: int, seed: int):
    """``n`` room scenes with one walkthrough path of ``frames`` frames at ``size`` x ``size``."""
    cat = load_catalog()
    fps = 4.0
    cam = load_camera_cfg(WALKTHROUGH_CFG, {"width": size, "height": size,
                                            "walkthrough": {"fps": fps, "duration_s": frames / fps}})
    app = load_appearance_config()
    scenes = []
    for i in range(n):
        s = sample_layout(load_scene_cfg("room"), cat, stage_rng(seed, i, "layout"), scene_id=f"s{i:09d}", seed=seed,
                          scene_index=i)
        s.views, s.paths = sample_walkthrough(s, cam, stage_rng(seed, i, "camera"))
        sample_appearance(s, cat, app, stage_rng(seed, i, "appearance"))
        scenes.append(s)
    return cat, scenes


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=6)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--cpus", type=int, default=1, help="renderer threads (llvmpipe); times are CPU seconds")
    ap.add_argument("--json", type=str, default=None, help="also write the figures here")
    a = ap.parse_args(argv)

    cat, scenes = prepare(a.scenes, a.size, a.frames, a.seed)
    r = get_renderer(load_default_render_cfg(), cpus=a.cpus)
    r.render(scenes[0], scenes[0].views[0], scene_meshes(scenes[0], cat))  # warm-up: context, programs

    path_cpu, first_cpu, n_frames = 0.0, 0.0, 0
    for s in scenes:
        t0 = time.process_time()
        meshes = scene_meshes(s, cat)
        for k, v in enumerate(s.views):
            t = time.process_time()
            annotate_visibility(v, r.render(s, v, meshes))
            if k == 0:
                first_cpu += time.process_time() - t
        path_cpu += time.process_time() - t0
        n_frames += len(s.views)

    alone_cpu, n_alone = 0.0, 0
    for s in scenes:
        for v in s.views[:: max(1, len(s.views) // 4)]:  # 4 frames a scene, each sharing nothing
            t = time.process_time()
            meshes = scene_meshes(s, cat)
            r.render(s, v, meshes)
            alone_cpu += time.process_time() - t
            n_alone += 1
            del meshes  # the renderer's per-scene cache is keyed by the mesh list: a new list uploads again

    gen = QAGenerator({"families": ["video"], "questions_per_view": 20, "max_per_template_per_view": 3}, cat)
    t = time.process_time()
    n_q = 0
    for i, s in enumerate(scenes):
        n_q += len(gen.generate(s, stage_rng(a.seed, i, "qa")))
    qa_cpu = time.process_time() - t

    per_frame_path = path_cpu / n_frames
    per_frame_alone = alone_cpu / max(1, n_alone)
    q_per_path = n_q / len(scenes)
    path_total = path_cpu / len(scenes)
    out = {
        "scenes": len(scenes), "frames_per_path": a.frames, "size": a.size, "renderer_threads": a.cpus,
        "frames_per_cpu_s": n_frames / path_cpu,
        "cpu_s_per_frame_in_path": per_frame_path,
        "cpu_s_first_frame_of_path": first_cpu / len(scenes),
        "cpu_s_per_frame_alone": per_frame_alone,
        "cpu_s_per_path": path_total,
        "frames_x_alone_s": a.frames * per_frame_alone,
        "video_questions": n_q, "questions_per_path": q_per_path,
        "questions_per_cpu_s_qa_only": n_q / qa_cpu if qa_cpu else float("inf"),
        "questions_per_cpu_s_with_render": n_q / (path_cpu + qa_cpu),
        "cpu_s_for_10000_questions_with_render": 10000 * (path_cpu + qa_cpu) / max(1, n_q),
        "cpu_s_for_10000_questions_qa_only": 10000 * qa_cpu / max(1, n_q),
    }
    print(json.dumps(out, indent=1))
    print(f"path of {a.frames} frames: {path_total:.2f} CPU s vs {a.frames} x a frame alone = "
          f"{a.frames * per_frame_alone:.2f} CPU s")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
