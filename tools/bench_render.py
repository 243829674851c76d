"""Renderer benchmark: frames/s and peak memory for sampled 20-object rooms.

Each frame is RGB + float32 depth + int32 ids + per-object visibility with amodal counts
(render + annotate_visibility), shadows as in conf/render/default.yaml; the moderngl backend is
timed with each ``--antialias`` mode (edge, the default, and msaa).
Scenes (layout, views, appearance, meshes) are prepared before timing; every scene has the
camera config's views (2 by default), so the shadow map is rendered once per scene.

    .venv/bin/python tools/bench_render.py                       # both backends, 512 and 1024
    .venv/bin/python tools/bench_render.py --backends moderngl --sizes 512 --frames 5000  # memory
    .venv/bin/python tools/bench_render.py --device-index 1      # another EGL device / GPU
    .venv/bin/python tools/bench_render.py --backends moderngl --sizes 512 --quality fast high  # s/frame per preset

``--quality high`` samples the high effects (engine/assets/effects.py, every switch on) into copies
of the same scenes, so fast and high time the same layouts and views; the camera effects
(post-processing) are timed inside the frame.
"""

from __future__ import annotations

import argparse
import copy
import resource
import sys
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.camera import sample_views  # noqa: E402
from engine.layout import load_scene_cfg, sample_layout  # noqa: E402
from engine.render import annotate_visibility, get_renderer, load_default_render_cfg  # noqa: E402
from engine.assets.appearance import load_appearance_config, sample_appearance  # noqa: E402
from engine.assets.effects import high_switches, load_effects_config, sample_effects  # noqa: E402
from engine.assets.meshes import scene_meshes  # noqa: E402
from engine.rng import stage_rng  # noqa: E402
from engine.scene.catalog import load_catalog  # noqa: E402


def rss_mb() -> float:
    """Current resident set size of this process, MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scaled_view(view, size: int):
    """A copy of ``view`` rendered at ``size`` x ``size`` (same field of view)."""
    v = copy.deepcopy(view)
    s = size / view.width
    K = np.asarray(view.K, float)
    K[0, 0] *= s
    K[1, 1] *= s
    K[0, 2] = (K[0, 2] + 0.5) * s - 0.5
    K[1, 2] = (K[1, 2] + 0.5) * s - 0.5
    v.K, v.width, v.height = K.tolist(), size, round(view.height * s)
    return v


def prepare(n_scenes: int, n_objects: int, quality: str = "fast"):
    """``n_scenes`` sampled rooms with ``n_objects`` objects each: (scene, meshes) pairs; with
    ``quality="high"`` the high effects are sampled into them (every switch on)."""
    catalog = load_catalog()
    cam = yaml.safe_load(open(Path(__file__).resolve().parents[1] / "conf" / "camera" / "default.yaml"))
    scfg = load_scene_cfg("room")
    if "num_objects" in scfg:
        scfg["num_objects"] = [n_objects, n_objects]
    appearance = load_appearance_config()
    out = []
    i = 0
    while len(out) < n_scenes:
        try:
            scene = sample_layout(scfg, catalog, stage_rng(7, i, "layout"), scene_id=f"bench{i}", scene_index=i)
            scene.views = sample_views(scene, cam, stage_rng(7, i, "camera"))
        except Exception:  # an infeasible sample: take the next index
            i += 1
            continue
        sample_appearance(scene, catalog, appearance, stage_rng(7, i, "appearance"))
        sample_effects(scene, load_effects_config(), high_switches({"quality": quality}), stage_rng(7, i, "effects"))
        out.append((scene, scene_meshes(scene, catalog)))
        i += 1
    return out


def run(renderer, scenes, size: int, frames: int, report_every: int = 0) -> dict:
    """Render ``frames`` frames cycling over the scenes' views; returns timing and memory."""
    jobs = [(s, m, scaled_view(v, size)) for s, m in scenes for v in s.views]
    renderer.render(jobs[0][0], jobs[0][2], jobs[0][1])  # warm-up: programs, framebuffers
    rss0 = rss_mb()
    samples = []
    t0, c0 = time.perf_counter(), time.process_time()
    for k in range(frames):
        scene, meshes, view = jobs[k % len(jobs)]
        frame = renderer.render(scene, view, meshes)
        annotate_visibility(view, frame)
        if report_every and (k + 1) % report_every == 0:
            samples.append((k + 1, round(rss_mb(), 1)))
            print(f"    frame {k + 1}: RSS {samples[-1][1]} MiB", flush=True)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"fps": frames / dt, "ms": 1000 * dt / frames, "cpu_ms": 1000 * cpu / frames, "rss_start": rss0, "rss_end": rss_mb(), "samples": samples}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", nargs="+", default=["moderngl", "pyrender"], choices=["moderngl", "pyrender"])
    ap.add_argument("--sizes", nargs="+", type=int, default=[512, 1024])
    ap.add_argument("--frames", type=int, default=120, help="frames per (backend, size) for moderngl")
    ap.add_argument("--pyrender-frames", type=int, default=12, help="frames per size for pyrender (slow)")
    ap.add_argument("--scenes", type=int, default=6)
    ap.add_argument("--objects", type=int, default=20)
    ap.add_argument("--device-index", type=int, default=0)
    ap.add_argument("--quality", nargs="+", default=["fast"], choices=["fast", "high"], help="render.quality presets to time")
    ap.add_argument("--antialias", nargs="+", default=["edge", "msaa"], choices=["edge", "msaa"],
                    help="render.antialias modes to time (moderngl; quality high always draws msaa)")
    args = ap.parse_args()
    for quality in args.quality:
        print(f"== render.quality={quality}")
        bench(args, quality)


def bench(args, quality: str) -> None:
    """Time every backend and size for one quality preset."""
    scenes = prepare(args.scenes, args.objects, quality)
    tris = np.mean([sum(len(m.faces) for m in ms) for _, ms in scenes])
    nobj = np.mean([len(s.objects) for s, _ in scenes])
    print(f"{len(scenes)} rooms, {nobj:.1f} objects, {tris:.0f} triangles on average; "
          f"{sum(len(s.views) for s, _ in scenes)} views")
    runs = [(b, aa) for b in args.backends for aa in (args.antialias if b == "moderngl" else ["msaa"])]
    for backend, aa in runs:
        cfg = dict(load_default_render_cfg(), backend=backend, device_index=args.device_index, antialias=aa)
        r = get_renderer(cfg)
        print(f"{backend}: GL_RENDERER = {r.gl_renderer}; antialias {aa} (msaa {cfg['msaa_samples']}), shadows "
              f"{cfg['shadows']} ({cfg['shadow_map_size']}^2, PCF r={cfg['shadow_pcf_radius']})")
        for size in args.sizes:
            n = args.frames if backend == "moderngl" else args.pyrender_frames
            res = run(r, scenes, size, n, report_every=max(n // 10, 1) if n >= 1000 else 0)
            print(f"  {size}x{size} {quality}: {res['fps']:.1f} frames/s ({res['ms'] / 1000:.4f} s/frame, CPU {res['cpu_ms'] / 1000:.4f} s/frame "
                  f"over {n} frames); "
                  f"RSS {res['rss_start']:.0f} -> {res['rss_end']:.0f} MiB, peak {peak_rss_mb():.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
