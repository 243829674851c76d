"""What the sampled views show: the distribution of per-view pixel shares over N scenes.

Generates scenes 0..N-1 of the job config (layout, camera, appearance, render; no QA), and for
every view classifies its pixels with engine.render.framing (object / wall / floor / ceiling /
outdoor / none, from the rendered id and depth images) and counts the objects *seen well*
(rendered visible fraction >= --min-visible-fraction and visible pixels >= --min-pixel-share of
the image). Prints, per class and for ``bare`` (= 1 - object), the mean and the 10/50/90th
percentiles, the share of views that are mostly bare (> 0.7), the seen-well counts, the shot
kinds when the camera recorded them, and the *screens*: per view the largest share of the image
that one object taller than the camera, standing within ``--screen-distance`` metres, takes
(docs/camera.md); ``--json`` writes the same numbers.

    .venv/bin/python tools/view_framing.py --scenes 40 [--res 256] [--json out.json] [overrides...]
    # the same measure on another checkout's scenes (e.g. main), with this checkout's classifier:
    .venv/bin/python tools/view_framing.py --engine /path/to/other/checkout --scenes 40

docs/camera.md ("Framing") shows the figures before and after the framing constraints.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _framing_module():
    """engine.render.framing of the engine on the path, else this checkout's file (older engines)."""
    try:
        from engine.render import framing
        return framing
    except ImportError:
        spec = importlib.util.spec_from_file_location("_view_framing_cls", ROOT / "engine" / "render" / "framing.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod


def screen_share(scene, view, objects: dict, distance_m: float) -> float:
    """The largest rendered share of the image that one screen takes: an object whose box rises
    above the camera centre and whose nearest box corner is within ``distance_m`` in camera depth
    (the rule of engine/camera/framing.py, measured on the rendered pixels)."""
    from engine.camera.framing import screens

    if not scene.objects:
        return 0.0
    corners = np.array([o.box.corners for o in scene.objects], dtype=float)
    flags = screens(corners, np.asarray(view.cam_to_world, dtype=float), distance_m)
    return max((objects[o.id]["visible_pixels"] / (view.width * view.height)
                for o, f in zip(scene.objects, flags) if f), default=0.0)


def measure(n: int, overrides: list[str], min_vis: float, min_px: float, seed: int = 0,
            screen_m: float = 1.2) -> dict:
    """Per-view shares, seen-well counts and screen shares of scenes 0..n-1; returns
    {"views": [...], "skipped": k}."""
    from engine.pipeline.config import load_job
    from engine.pipeline.stages import SceneStages
    from engine.pipeline.timing import StageTimer

    fr = _framing_module()
    job = load_job(list(overrides) + [f"seed={seed}", "stages.qa=false"])
    stages = SceneStages(job.cfg, job.config_hash)
    views, skipped = [], 0
    for i in range(n):
        res = stages.make_scene(i, None, StageTimer())
        if not hasattr(res, "scene"):
            skipped += 1
            continue
        for v in res.scene.views:
            f = res.frames[v.id]
            shares = fr.pixel_shares(res.scene, v, f.ids, f.depth)
            px = min_px * v.width * v.height
            well = sum(1 for o in f.objects.values() if o["visible_fraction"] >= min_vis and o["visible_pixels"] >= px)
            views.append({"scene": i, "view": v.id, "shares": shares, "seen_well": well,
                          "shot": v.params.get("shot"), "relaxed": bool(v.params.get("framing_relaxed")),
                          "screen": screen_share(res.scene, v, f.objects, screen_m)})
    return {"views": views, "skipped": skipped}


def summarize(res: dict) -> dict:
    """Mean and 10/50/90th percentiles per class and for ``bare``; seen-well and shot counts."""
    views = res["views"]
    keys = list(views[0]["shares"]) if views else []
    out = {"views": len(views), "skipped_scenes": res["skipped"], "classes": {}}
    for k in keys + ["bare"]:
        x = np.array([1.0 - v["shares"]["object"] if k == "bare" else v["shares"][k] for v in views])
        out["classes"][k] = {"mean": float(x.mean()), "p10": float(np.percentile(x, 10)),
                             "p50": float(np.percentile(x, 50)), "p90": float(np.percentile(x, 90))}
    bare = np.array([1.0 - v["shares"]["object"] for v in views])
    out["views_bare_over_0.7"] = float((bare > 0.7).mean()) if views else 0.0
    sw = np.array([v["seen_well"] for v in views])
    out["seen_well"] = {"mean": float(sw.mean()) if views else 0.0, "min": int(sw.min()) if views else 0,
                        "views_under_3": float((sw < 3).mean()) if views else 0.0}
    out["shots"] = dict(Counter(str(v["shot"]) for v in views))
    if views and "screen" in views[0]:
        sc = np.array([v["screen"] for v in views])
        out["screen"] = {"mean": float(sc.mean()), "views_over_0.15": float((sc > 0.15).mean()),
                         "views_over_0.25": float((sc > 0.25).mean())}
        out["relaxed"] = float(np.mean([v["relaxed"] for v in views]))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=40)
    ap.add_argument("--res", type=int, default=256, help="image side in pixels (camera.width/height)")
    ap.add_argument("--engine", default=None, help="checkout whose engine generates the scenes (default: this one)")
    ap.add_argument("--min-visible-fraction", type=float, default=0.5)
    ap.add_argument("--min-pixel-share", type=float, default=0.004)
    ap.add_argument("--screen-distance", type=float, default=1.2,
                    help="metres: how near a screen stands (camera.profiles.room.framing.screen_distance_m)")
    ap.add_argument("--json", default=None, help="also write the summary and per-view shares here")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. scene=room camera.num_views=3")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(args.engine).resolve() if args.engine else ROOT))
    res = measure(args.scenes, [f"camera.width={args.res}", f"camera.height={args.res}"] + args.overrides,
                  args.min_visible_fraction, args.min_pixel_share, screen_m=args.screen_distance)
    s = summarize(res)
    import engine
    print(f"engine {Path(engine.__file__).parent.parent}  scenes {args.scenes}  views {s['views']}  "
          f"skipped scenes {s['skipped_scenes']}")
    print(f"{'class':10s} {'mean':>6s} {'p10':>6s} {'p50':>6s} {'p90':>6s}")
    for k, d in s["classes"].items():
        print(f"{k:10s} {d['mean']:6.3f} {d['p10']:6.3f} {d['p50']:6.3f} {d['p90']:6.3f}")
    print(f"views with bare share > 0.7: {s['views_bare_over_0.7']:.3f}")
    print(f"objects seen well per view: mean {s['seen_well']['mean']:.2f}, min {s['seen_well']['min']}, "
          f"views under 3: {s['seen_well']['views_under_3']:.3f}")
    print(f"shots: {s['shots']}")
    if "screen" in s:
        print(f"screens (an object taller than the camera within {args.screen_distance} m): share of the image "
              f"mean {s['screen']['mean']:.3f}; views over 0.15: {s['screen']['views_over_0.15']:.3f}, over 0.25: "
              f"{s['screen']['views_over_0.25']:.3f}; views with the framing rule relaxed: {s['relaxed']:.3f}")
    if args.json:
        from engine.atomic import atomic_write_text
        atomic_write_text(args.json, json.dumps({"summary": s, "views": res["views"]}, indent=1))


if __name__ == "__main__":
    main()
