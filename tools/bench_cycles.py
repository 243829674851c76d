"""Cycles benchmark: seconds per frame of the path-traced backend next to the raster backend's, in one run.

The same sampled 20-object rooms as tools/bench_render.py (layout, views, appearance and meshes
prepared before timing). For each sample count, a frame is one ``CyclesRenderer.render`` (the
Blender path trace with OpenImageDenoise, plus the moderngl passes for depth, ids and
visibility) and ``annotate_visibility``; the raster line is the default moderngl frame (MSAA 4x,
shadows). The first Cycles frame of a scene includes sending the scene to Blender (reported
apart as the set-up time). Needs .venv-cycles (`make setup-cycles`).

    .venv/bin/python tools/bench_cycles.py                            # 512x512 at 16, 64 and 256 samples
    .venv/bin/python tools/bench_cycles.py --samples 16 64 --frames 2 --device cpu --threads 2
    .venv/bin/python tools/bench_cycles.py --device gpu --frames 8     # an NVIDIA GPU (OptiX, else CUDA)
    .venv/bin/python tools/bench_cycles.py --samples 64 --save outputs/cycles   # also the images, side by side
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from bench_render import prepare, scaled_view  # noqa: E402
from PIL import Image  # noqa: E402

from engine.render import annotate_visibility, get_renderer, load_default_render_cfg  # noqa: E402


def time_frames(renderer, jobs, frames: int) -> float:
    """Mean seconds per frame over ``frames`` renders (render + annotate_visibility), cycling over ``jobs``."""
    t0 = time.perf_counter()
    for k in range(frames):
        scene, meshes, view = jobs[k % len(jobs)]
        annotate_visibility(view, renderer.render(scene, view, meshes))
    return (time.perf_counter() - t0) / frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", nargs="+", type=int, default=[16, 64, 256])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--frames", type=int, default=2, help="Cycles frames per sample count")
    ap.add_argument("--raster-frames", type=int, default=20)
    ap.add_argument("--scenes", type=int, default=1)
    ap.add_argument("--objects", type=int, default=20)
    ap.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    ap.add_argument("--threads", type=int, default=None, help="Cycles CPU threads (default: one per core)")
    ap.add_argument("--no-denoise", action="store_true", help="time without OpenImageDenoise instead")
    ap.add_argument("--device-index", type=int, default=0, help="EGL device of the raster passes")
    ap.add_argument("--save", type=Path, default=None,
                    help="folder: write cycles_<samples>.png, the first view's Cycles | raster images side by side")
    args = ap.parse_args()

    scenes = prepare(args.scenes, args.objects)
    jobs = [(s, m, scaled_view(v, args.size)) for s, m in scenes for v in s.views]
    base = dict(load_default_render_cfg(), device_index=args.device_index)
    raster = get_renderer(base)
    raster.render(jobs[0][0], jobs[0][2], jobs[0][1])  # warm-up: programs, framebuffers
    r_s = time_frames(raster, jobs, args.raster_frames)
    print(f"{len(scenes)} room(s), {len(jobs)} views at {args.size}x{args.size}")
    print(f"raster (moderngl, {raster.gl_renderer}, MSAA {base['msaa_samples']}x, shadows): "
          f"{r_s:.3f} s/frame ({1 / r_s:.1f} frames/s over {args.raster_frames} frames)", flush=True)
    for samples in args.samples:
        cfg = dict(base, backend="cycles",
                   cycles={"samples": samples, "denoise": not args.no_denoise, "device": args.device})
        t0 = time.perf_counter()
        r = get_renderer(cfg, cpus=args.threads)
        start = time.perf_counter() - t0
        t0 = time.perf_counter()
        r._send_scene(jobs[0][0], jobs[0][1])
        setup = time.perf_counter() - t0
        c_s = time_frames(r, jobs, args.frames)
        if args.save:
            scene, meshes, view = jobs[0]
            pair = np.concatenate([r.render(scene, view, meshes).rgb, raster.render(scene, view, meshes).rgb], axis=1)
            args.save.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pair).save(args.save / f"cycles_{samples}.png")
        print(f"cycles {samples:>4} samples{'' if args.no_denoise else ' + OIDN'} ({r.worker.info['device']}"
              f"{' ' + ', '.join(r.worker.info['gpus']) if r.worker.info['gpus'] else ''}): {c_s:.2f} s/frame "
              f"over {args.frames} frames ({c_s / r_s:.0f}x the raster frame); Blender start {start:.1f} s, "
              f"scene set-up {setup:.2f} s", flush=True)
        r.release()


if __name__ == "__main__":
    main()
