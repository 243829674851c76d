"""CLEVR's scene JSON (facebookresearch/clevr-dataset-gen: ``CLEVR_<split>_scenes.json``, a
``{"info", "scenes": [...]}`` file, or one scene object as ``render_images.py`` writes per image).

Per scene: ``image_filename`` (relative to ``--images``) and ``objects``, each with ``shape``
(cube / sphere / cylinder), ``size`` (large / small), ``material``, ``color``, ``3d_coords``
(Blender world, Z-up, units), ``rotation`` (degrees about +Z) and ``pixel_coords`` [px, py, z]:
the centre's pixel (x from the left edge, y from the top edge, rounded to integers) and its depth
along the camera's view axis (Blender units).

Sizes: a shape of size label L is scaled by r = ``size_radius[L]`` Blender units (scenes/
ask_formats.yaml: large 0.7, small 0.35); its box extents are ``extent_per_r`` x r (sphere and
cylinder 2r, cube sqrt(2) r); 1 Blender unit reads as ``metres_per_unit`` = 0.5 m.

The scene file holds no camera. It is fitted to the objects' ``pixel_coords``: the principal point
is the image centre, fx = fy = f, and for each f the objects' camera-frame centres
z K^-1 [u, v, 1] (u = px - 0.5, v = py - 0.5 in the engine's pixel-centre convention) are matched
to their world centres by the best rigid transform (Kabsch); f minimises the reprojection error
(scipy's bounded scalar search). Needs 3 objects not on one line; a scene whose objects
reproject worse than ``max_fit_px`` is refused. The fit is kept in the view's ``params``
(``fit_rms_px``, ``source: clevr``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar

from engine.geometry.transforms import yaw_rotation
from engine.ingest.annotate import image_size
from engine.ingest.build import formats, make_scene
from engine.ingest.types import IngestError, UserScene, ViewInputs


def kabsch(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation R (3, 3, det +1) and translation t (3,) minimising sum |R src_i + t - dst_i|^2;
    src, dst: (N, 3)."""
    cs, cd = src.mean(axis=0), dst.mean(axis=0)
    H = (src - cs).T @ (dst - cd)
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(Vt.T @ U.T)) or 1.0
    R = Vt.T @ np.diag([1.0, 1.0, d]) @ U.T
    return R, cd - R @ cs


def fit_camera(world: np.ndarray, uv: np.ndarray, depth: np.ndarray, width: int, height: int
               ) -> tuple[np.ndarray, np.ndarray, float]:
    """Pinhole camera from points with known pixels and depths.

    Args:
        world: (N, 3) world points, metres (N >= 3, not collinear). uv: (N, 2) pixel coordinates
            (engine convention: pixel centres at integers). depth: (N,) camera-frame z, metres.
        width, height: image size; the principal point is ((width - 1) / 2, (height - 1) / 2).

    Returns:
        (K (3, 3), cam_to_world (4, 4) OpenCV, rms reprojection error in pixels).
    """
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0

    def solve(f: float):
        cam = np.stack([(uv[:, 0] - cx) / f * depth, (uv[:, 1] - cy) / f * depth, depth], axis=1)
        R, t = kabsch(world, cam)
        pc = world @ R.T + t
        z = np.where(pc[:, 2] > 1e-9, pc[:, 2], 1e-9)
        proj = np.stack([f * pc[:, 0] / z + cx, f * pc[:, 1] / z + cy], axis=1)
        return float(np.sqrt(np.mean(np.sum((proj - uv) ** 2, axis=1)))), R, t

    res = minimize_scalar(lambda f: solve(f)[0], bounds=(0.1 * width, 20.0 * width), method="bounded",
                          options={"xatol": 1e-6})
    f = float(res.x)
    rms, R, t = solve(f)
    K = np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])
    pose = np.eye(4)
    pose[:3, :3] = R.T
    pose[:3, 3] = -R.T @ t
    return K, pose, rms


def read_clevr(path: Path) -> list[dict]:
    """The scene dicts of a CLEVR scenes file (``{"scenes": [...]}``, a list, or one scene)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise IngestError(f"{path}: not valid JSON ({e})") from None
    if isinstance(data, dict) and "scenes" in data:
        data = data["scenes"]
    return data if isinstance(data, list) else [data]


def load_clevr(path: Path, images: Path, seed: int = 0, start: int = 0) -> list[UserScene]:
    """UserScenes of a CLEVR scene file (module doc); indices from ``start``."""
    spec = formats()["clevr"]
    s = float(spec["metres_per_unit"])
    out = []
    for n, sc in enumerate(read_clevr(path)):
        where = f"{path.name}: scenes[{n}]"
        if not isinstance(sc, dict) or "objects" not in sc or "image_filename" not in sc:
            raise IngestError(f"{where}: expected a CLEVR scene with image_filename and objects")
        objects, world, uv, depth = [], [], [], []
        for k, o in enumerate(sc["objects"]):
            w = f"{where}.objects[{k}]"
            for key in ("shape", "size", "3d_coords", "rotation", "pixel_coords"):
                if key not in o:
                    raise IngestError(f"{w}.{key}: missing; fix: write the scene with CLEVR's render_images.py fields")
            if o["shape"] not in spec["shapes"]:
                raise IngestError(f"{w}.shape: {o['shape']!r} is not one of {sorted(spec['shapes'])}; fix: add it to "
                                  "clevr.shapes in scenes/ask_formats.yaml")
            if o["size"] not in spec["size_radius"]:
                raise IngestError(f"{w}.size: {o['size']!r} is not one of {sorted(spec['size_radius'])}; fix: add it "
                                  "to clevr.size_radius in scenes/ask_formats.yaml")
            shape = spec["shapes"][o["shape"]]
            r = float(spec["size_radius"][o["size"]])
            c = np.asarray(o["3d_coords"], dtype=float) * s
            attrs = {k2: o[k2] for k2 in ("color", "material") if k2 in o}
            objects.append({"category": shape["category"], "center": c.tolist(),
                            "size": (np.asarray(shape["extent_per_r"], dtype=float) * r * s).tolist(),
                            "rotation": yaw_rotation(np.deg2rad(float(o["rotation"]))), "attributes": attrs})
            px, py, pz = (float(x) for x in o["pixel_coords"])
            world.append(c)
            uv.append([px - 0.5, py - 0.5])
            depth.append(pz * s)
        rgb = images / str(sc["image_filename"])
        width, height = image_size(rgb)
        world_a = np.array(world).reshape(-1, 3)
        if len(world_a) < 3 or np.linalg.matrix_rank(world_a - world_a.mean(axis=0), tol=1e-6) < 2:
            raise IngestError(f"{where}: the camera is fitted to the objects' pixel_coords and needs 3 objects not on "
                              "one line; fix: leave such scenes out")
        K, pose, rms = fit_camera(world_a, np.array(uv), np.array(depth), width, height)
        if rms > float(spec["max_fit_px"]):
            raise IngestError(f"{where}: pixel_coords fit no pinhole camera centred on the {width}x{height} image "
                              f"(rms {rms:.2f} px > {spec['max_fit_px']}); fix: check the image size and the "
                              "objects' 3d_coords / pixel_coords")
        view = {"K": K.tolist(), "cam_to_world": pose.tolist(), "width": width, "height": height,
                "params": {"image": str(sc["image_filename"]), "source": "clevr", "fit_rms_px": round(rms, 4)}}
        sid = str(sc.get("image_index", n))
        scene, notes = make_scene(start + n, seed, objects, [view], f"{path.name}:{sid}")
        out.append(UserScene(scene, {"view_0": ViewInputs(rgb=rgb)}, {"format": "clevr", "id": sid}, notes))
    return out
