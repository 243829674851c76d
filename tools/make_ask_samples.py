#!/usr/bin/env python
"""Write the hand-made sample inputs of ``spatialforge ask`` (tests/data/ask/, docs/ask.md).

Each sample follows one public layout, written from that layout's documentation: CLEVR's scene
JSON (clevr-dataset-gen's render_images.py fields), OpenSpatial's per-image Parquet (its
EmbodiedScan export: image / pose / intrinsic paths, 9-DoF boxes, obj_tags, depth_map + scale,
per-object masks), and our own scene record (docs/record.md). The scenes are placed by hand
below; the images are flat-colour drawings of the boxes themselves (ray-cast at every pixel
centre), so masks and depth agree with the boxes exactly.

    .venv/bin/python tools/make_ask_samples.py [--out tests/data/ask]   # rewrites the samples
    .venv/bin/python tools/make_ask_samples.py --bench 1000 --out /tmp/ask-bench  # a large CLEVR file

The written files are deterministic (same bytes on every run).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.geometry.transforms import yaw_rotation  # noqa: E402
from engine.ingest.boxes import euler_zxy_matrix  # noqa: E402
from engine.ingest.visibility import box_entry_depths  # noqa: E402

CLEVR_RGB = {"gray": (87, 87, 87), "red": (173, 35, 35), "blue": (42, 75, 215), "green": (29, 105, 20),
             "brown": (129, 74, 25), "purple": (129, 38, 192), "cyan": (41, 208, 208), "yellow": (255, 238, 51)}
PALETTE = [(200, 60, 50), (60, 140, 210), (90, 170, 80), (220, 180, 40), (150, 90, 200), (240, 130, 60)]
BACKGROUND = (128, 128, 128)


def look_at(eye, target) -> np.ndarray:
    """4x4 OpenCV camera-to-world pose at ``eye`` looking at ``target`` (world +Z up)."""
    eye, target = np.asarray(eye, float), np.asarray(target, float)
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, y, z], axis=1)
    pose[:3, 3] = eye
    return pose


def draw(K, pose, width, height, boxes, colours) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rgb, ids, depth m) of flat-shaded boxes: the nearest box entry at every pixel centre."""
    depth = np.full((height, width), np.inf)
    ids = np.zeros((height, width), dtype=np.int32)
    for k, (c, s, R) in enumerate(boxes):
        t = box_entry_depths(np.asarray(K), pose, c, s, R, (0, 0, width - 1, height - 1), 0.01)
        closer = t < depth
        depth[closer] = t[closer]
        ids[closer] = k + 1
    rgb = np.empty((height, width, 3), dtype=np.uint8)
    rgb[:] = BACKGROUND
    for k, col in enumerate(colours):
        shade = np.asarray(col, float)
        rgb[ids == k + 1] = shade.astype(np.uint8)
    depth[~np.isfinite(depth)] = 0.0
    return rgb, ids, depth


def save_png(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, optimize=False, compress_level=9)


# ---------------------------------------------------------------- CLEVR
CLEVR_W, CLEVR_H, CLEVR_F = 480, 320, 525.0  # Blender's 35 mm lens on a 32 mm sensor, 480 px wide
CLEVR_EYE = (7.0, -7.0, 5.0)  # Blender units; the camera looks at the origin
SIZE_R = {"large": 0.7, "small": 0.35}


def clevr_scene(index: int, objects: list[dict], out: Path, split: str = "sample") -> dict:
    """One CLEVR scene dict (render_images.py's fields) and its image, in Blender units."""
    K = np.array([[CLEVR_F, 0, (CLEVR_W - 1) / 2], [0, CLEVR_F, (CLEVR_H - 1) / 2], [0, 0, 1]])
    pose = look_at(CLEVR_EYE, (0.0, 0.0, 0.0))
    boxes, colours, objs = [], [], []
    for o in objects:
        r = SIZE_R[o["size"]] / (np.sqrt(2) if o["shape"] == "cube" else 1.0)
        x, y = o["xy"]
        c = np.array([x, y, r])
        half = r if o["shape"] != "cube" else r
        boxes.append((c, np.array([2 * half] * 3), yaw_rotation(np.deg2rad(o["rotation"]))))
        colours.append(CLEVR_RGB[o["color"]])
        pc = pose[:3, :3].T @ (c - pose[:3, 3])
        u, v = CLEVR_F * pc[0] / pc[2] + K[0, 2], CLEVR_F * pc[1] / pc[2] + K[1, 2]
        objs.append({"shape": o["shape"], "size": o["size"], "material": o["material"],
                     "3d_coords": [round(float(a), 6) for a in c], "rotation": o["rotation"],
                     "pixel_coords": [int(round(u + 0.5)), int(round(v + 0.5)), round(float(pc[2]), 6)],
                     "color": o["color"]})
    rgb, _, _ = draw(K, pose, CLEVR_W, CLEVR_H, boxes, colours)
    name = f"CLEVR_{split}_{index:06d}.png"
    save_png(out / "images" / name, rgb)
    return {"split": split, "image_index": index, "image_filename": name, "objects": objs,
            "directions": {"left": [-0.6563, -0.7545, 0.0], "right": [0.6563, 0.7545, -0.0],
                           "front": [0.7545, -0.6563, 0.0], "behind": [-0.7545, 0.6563, -0.0],
                           "above": [0.0, 0.0, 1.0], "below": [-0.0, -0.0, -1.0]}}


CLEVR_SAMPLE = [
    [{"shape": "cube", "size": "large", "material": "rubber", "color": "red", "xy": (1.0, 2.0), "rotation": 30.0},
     {"shape": "sphere", "size": "small", "material": "metal", "color": "blue", "xy": (-2.0, 0.5), "rotation": 0.0},
     {"shape": "cylinder", "size": "large", "material": "metal", "color": "green", "xy": (0.5, -2.0), "rotation": 75.0},
     {"shape": "cube", "size": "small", "material": "metal", "color": "yellow", "xy": (-1.0, -1.5), "rotation": 10.0},
     {"shape": "sphere", "size": "large", "material": "rubber", "color": "purple", "xy": (2.5, -0.5), "rotation": 0.0}],
    [{"shape": "cylinder", "size": "small", "material": "rubber", "color": "cyan", "xy": (-2.5, -2.0), "rotation": 40.0},
     {"shape": "cube", "size": "large", "material": "metal", "color": "brown", "xy": (0.0, 0.0), "rotation": 55.0},
     {"shape": "sphere", "size": "large", "material": "metal", "color": "gray", "xy": (2.0, 2.5), "rotation": 0.0},
     {"shape": "cube", "size": "small", "material": "rubber", "color": "red", "xy": (1.5, -2.5), "rotation": 80.0}],
]


def write_clevr(out: Path, scenes: list[list[dict]], split: str = "sample") -> Path:
    out.mkdir(parents=True, exist_ok=True)
    data = {"info": {"split": split, "version": "1.0", "license": "CC-BY 4.0", "date": "hand-made sample"},
            "scenes": [clevr_scene(i, objs, out, split) for i, objs in enumerate(scenes)]}
    path = out / f"CLEVR_{split}_scenes.json"
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path


def random_clevr(n: int, seed: int = 0) -> list[list[dict]]:
    """``n`` CLEVR-like scenes of 3-6 objects on the [-3, 3]^2 plane, apart (for the benchmark)."""
    rng = np.random.default_rng(seed)
    shapes, sizes, mats, cols = ["cube", "sphere", "cylinder"], ["large", "small"], ["rubber", "metal"], list(CLEVR_RGB)
    scenes = []
    for _ in range(n):
        objs: list[dict] = []
        n_objs = int(rng.integers(3, 7))
        while len(objs) < n_objs:
            xy = rng.uniform(-3, 3, 2)
            if all(np.hypot(*(xy - o["xy"])) > 1.6 for o in objs):
                objs.append({"shape": shapes[rng.integers(3)], "size": sizes[rng.integers(2)],
                             "material": mats[rng.integers(2)], "color": cols[rng.integers(len(cols))],
                             "xy": xy, "rotation": round(float(rng.uniform(0, 360)), 3)})
        for o in objs:
            o["xy"] = tuple(float(round(v, 4)) for v in o["xy"])
        scenes.append(objs)
    return scenes


# ---------------------------------------------------------------- OpenSpatial
OS_W, OS_H = 160, 120
OS_K = [[150.0, 0.0, 79.5], [0.0, 150.0, 59.5], [0.0, 0.0, 1.0]]
# [cx, cy, cz, xl, yl, zl, roll, pitch, yaw] (Z-up world, metres, radians; R = Rz(roll) Rx(pitch) Ry(yaw))
OS_BOXES = [
    ("table", [0.0, 0.0, 0.375, 1.2, 0.8, 0.75, 0.2, 0.0, 0.0]),
    ("chair", [1.1, 0.7, 0.45, 0.5, 0.5, 0.9, -0.5, 0.0, 0.0]),
    ("book", [0.1, -0.1, 0.78, 0.3, 0.22, 0.06, 0.6, 0.0, 0.0]),
    ("picture", [-1.2, 0.9, 0.4, 0.6, 0.8, 0.05, 0.0, 1.5707963267948966, 0.0]),
    ("cabinet", [-0.9, -1.0, 0.5, 0.5, 0.6, 1.0, 0.0, 0.0, 0.0]),
]
OS_EYES = [((2.6, -2.2, 1.6), (0.0, 0.0, 0.4)), ((-2.4, -2.6, 1.5), (0.0, 0.2, 0.4))]


def write_openspatial(out: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    boxes = [(np.array(b[:3]), np.array(b[3:6]), euler_zxy_matrix(*b[6:])) for _, b in OS_BOXES]
    rows = []
    for i, (eye, target) in enumerate(OS_EYES):
        pose = look_at(eye, target)
        rgb, ids, depth = draw(OS_K, pose, OS_W, OS_H, boxes, PALETTE)
        stem = f"{i:05d}"
        save_png(out / "posed_images" / "scene0000_00" / f"{stem}.color.png", rgb)
        save_png(out / "posed_images" / "scene0000_00" / f"{stem}.depth.png",
                 np.clip(np.rint(depth * 1000), 0, 65535).astype(np.uint16))
        (out / "poses").mkdir(exist_ok=True)
        np.savetxt(out / "poses" / f"scene0000_00_{stem}.txt", pose, fmt="%.9f")
        K4 = np.eye(4)
        K4[:3, :3] = OS_K
        np.savetxt(out / "intrinsic_depth.txt", K4, fmt="%.6f")
        masks = None
        if i == 0:  # the first image comes with per-object masks, the second without
            masks = []
            for k in range(len(boxes)):
                p = f"masks/scene0000_00_{stem}_{k}.png"
                save_png(out / p, ((ids == k + 1) * 255).astype(np.uint8))
                masks.append(p)
        rows.append({"id": f"scannet__scene0000_00__{stem}", "dataset": "scannet", "scene_id": "scene0000_00",
                     "image": f"posed_images/scene0000_00/{stem}.color.png",
                     "depth_map": f"posed_images/scene0000_00/{stem}.depth.png", "depth_scale": 1000,
                     "pose": f"poses/scene0000_00_{stem}.txt", "intrinsic": "intrinsic_depth.txt",
                     "bboxes_3d_world_coords": [b for _, b in OS_BOXES], "obj_tags": [t for t, _ in OS_BOXES],
                     "axis_align_matrix": "", "masks": masks})
    path = out / "scannet_per_image.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


# ---------------------------------------------------------------- our record
def write_native(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    objs = [("sofa", [0.0, 1.2, 0.425], [0.9, 2.0, 0.85], np.pi / 2, "floor", {"color": "gray", "material": "fabric"}),
            ("coffee_table", [0.0, 0.0, 0.225], [0.6, 1.1, 0.45], 0.0, "floor", {"color": "brown", "material": "wood"}),
            ("vase", [0.2, 0.1, 0.6], [0.15, 0.15, 0.3], 0.0, "on:obj_01", {"color": "blue", "material": "ceramic"}),
            ("armchair", [1.4, -0.3, 0.4], [0.8, 0.8, 0.8], np.pi, "floor", {"color": "red", "material": "fabric"})]
    K = [[200.0, 0.0, 95.5], [0.0, 200.0, 71.5], [0.0, 0.0, 1.0]]
    W, H = 192, 144
    pose = look_at((-2.6, -2.4, 1.7), (0.2, 0.2, 0.3))
    boxes = [(np.array(c), np.array(s), yaw_rotation(y)) for _, c, s, y, _, _ in objs]
    rgb, ids, _ = draw(K, pose, W, H, boxes, PALETTE)
    save_png(out / "images" / "livingroom_01" / "view_0.png", rgb)
    save_png(out / "images" / "livingroom_01" / "view_0.mask.png", ids.astype(np.uint8))
    rec = {"schema_version": 1, "scene_id": "livingroom_01", "scene_index": 0, "seed": 0,
           "generator": {"name": "hand-made"}, "room": {"type": "open", "size": [4.0, 4.0, 2.5], "walls": []},
           "objects": [{"id": f"obj_{k:02d}", "instance_id": k + 1, "category": cat, "attributes": attrs,
                        "center": c, "size": s, "rotation": yaw_rotation(y).tolist(), "yaw": y, "support": sup,
                        "against": None, "has_front": cat in ("sofa", "armchair")}
                       for k, (cat, c, s, y, sup, attrs) in enumerate(objs)],
           "views": [{"id": "view_0", "K": K, "width": W, "height": H, "cam_to_world": pose.tolist(),
                      "objects": {}, "params": {"image": "livingroom_01/view_0.png",
                                                "mask": "livingroom_01/view_0.mask.png"}}],
           "lights": [], "materials": {}, "stats": {}}
    path = out / "scenes.jsonl"
    path.write_text(json.dumps(rec) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "tests" / "data" / "ask"))
    ap.add_argument("--bench", type=int, default=0, help="write only a CLEVR file of this many random scenes")
    a = ap.parse_args(argv)
    out = Path(a.out)
    if a.bench:
        print(write_clevr(out, random_clevr(a.bench), split="bench"))
        return 0
    print(write_clevr(out / "clevr", CLEVR_SAMPLE))
    print(write_openspatial(out / "openspatial"))
    print(write_native(out / "native"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
