"""The path-traced backend (``render.backend: cycles``): Blender's Cycles draws the RGB image, the
raster backend (moderngl) draws the exact passes.

One Blender process per renderer (so one per pipeline worker), started on first use and reused
across scenes: the ``.venv-cycles`` Python runs :mod:`engine.render.cycles_worker` (a
self-contained script that imports only bpy and numpy) and talks to this process over pipes (a
JSON line per request and reply) and files in a private temporary folder (mesh arrays as .npz,
the image as PNG). A scene is sent once and kept in Blender while its views render.

What Blender gets: the same :class:`RenderMesh` list the raster backend draws (vertices, faces,
vertex normals as custom normals, linear vertex colours, UVs and the sRGB textures), each with a
Principled BSDF (base colour = vertex colour x texture; roughness and metallic from
:func:`engine.render.cycles_config.principled_params`), ``pass_index`` = instance id; the record's
lights (:func:`engine.render.protocol.scene_lights`; directional -> sun, point -> point, scaled so a
white Lambert wall matches the raster shading), the ambient term as the world light seen by
surfaces and ``render.background`` as what the camera sees; the view's camera from ``K`` and
``cam_to_world`` (OpenCV -> Blender: flip the camera's Y and Z axes, principal point as lens shift).

What the Frame holds: ``rgb`` from Cycles (``render.cycles.samples`` samples, OpenImageDenoise
when ``denoise``); ``depth``, ``ids`` and ``objects`` from the raster backend, so every annotation
of a cycles dataset equals the raster one's (tests/test_render_cycles.py).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from engine.assets.types import RenderMesh
from engine.render.context import RendererUnavailableError
from engine.render.cycles_config import (POINT_POWER_PER_INTENSITY, PYTHON_ENV, SETUP_HINT,
                                         SUN_STRENGTH_PER_IRRADIANCE, cycles_python, cycles_settings,
                                         principled_params)
from engine.render.moderngl_backend import ModernglRenderer
from engine.render.protocol import scene_lights
from engine.render.types import Frame
from engine.scene.graph import SceneGraph, View

log = logging.getLogger("engine.render")
WORKER = Path(__file__).with_name("cycles_worker.py")


class CyclesWorkerError(RuntimeError):
    """The Blender worker failed; the message holds its traceback or the tail of its log."""


class BlenderWorker:
    """One Blender process (``python -I cycles_worker.py <tmpdir>``) and its request pipe.

    ``device``: auto | cpu | gpu; ``threads``: CPU threads for Cycles (None: Blender's default,
    one per core). The reply of ``setup`` is kept in ``info`` (device, GPU names, Blender version).
    """

    def __init__(self, python: Path, device: str, threads: int | None):
        if not python.exists():
            raise RendererUnavailableError(
                f"render.backend=cycles: Blender's Python module is not installed ({python} does not exist); "
                f"fix: {SETUP_HINT}, or set ${PYTHON_ENV} to a Python 3.11 with bpy 4.5")
        self.owner = os.getpid()  # a forked child must not talk to its parent's Blender
        self.dir = Path(tempfile.mkdtemp(prefix="spatialforge-cycles-"))
        self.log_path = self.dir / "blender.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([str(python), "-I", str(WORKER), str(self.dir)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1)
        atexit.register(self.close)
        try:
            self.info = self.call(op="setup", device=device, threads=threads)
        except Exception:
            self.close()
            raise
        log.info("cycles: Blender %s on %s %s", self.info["version"], self.info["device"], self.info["gpus"] or "")

    def call(self, **request) -> dict:
        """Send one request and return its reply; raise CyclesWorkerError when it failed."""
        if self.proc.poll() is not None:
            raise CyclesWorkerError(f"the Blender worker exited with code {self.proc.returncode}; log: {self._tail()}")
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError) as e:
            raise CyclesWorkerError(f"the Blender worker is gone ({e}); log: {self._tail()}") from e
        if not line:
            self.proc.wait(timeout=10)
            raise CyclesWorkerError(f"the Blender worker exited with code {self.proc.returncode} during "
                                    f"{request.get('op')!r}; log: {self._tail()}")
        reply = json.loads(line)
        if not reply.pop("ok"):
            raise CyclesWorkerError(f"Blender failed on {request.get('op')!r}:\n{reply['error']}")
        return reply

    def _tail(self, n: int = 2000) -> str:
        self._log.flush()
        return self.log_path.read_bytes()[-n:].decode("utf-8", "replace")

    def close(self) -> None:
        """Stop the process (a ``quit`` request, then terminate) and remove the temporary folder."""
        proc = getattr(self, "proc", None)
        if self.owner != os.getpid():
            return
        if proc is not None and proc.poll() is None:
            try:
                proc.stdin.write('{"op": "quit"}\n')
                proc.stdin.flush()
                proc.wait(timeout=10)
            except Exception:
                proc.terminate()
                proc.wait(timeout=10)
        if not self._log.closed:
            self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        atexit.unregister(self.close)


def blender_lights(scene: SceneGraph, render_cfg: Mapping) -> tuple[list[dict], list[float]]:
    """The scene's lights in Blender units and the ambient (world) colour.

    Directional light of radiance E (colour x intensity, linear RGB) -> sun of colour E / max(E) and
    strength pi max(E) (W/m^2); point light -> point light of colour E / max(E) and power
    4 pi^2 max(E) (W) (see cycles_config); ``cast_shadows`` kept. Ambient: (3,) linear RGB."""
    lights, ambient = scene_lights(scene, render_cfg)
    out = []
    for L in lights:
        peak = float(np.max(L["radiance"]))  # Blender's light colour is a hue in [0, 1]; the level goes to strength
        color = [float(x) / peak for x in L["radiance"]] if peak > 0 else [0.0, 0.0, 0.0]
        d = {"color": color, "cast_shadows": bool(L["cast_shadows"])}
        if L["type"] == "directional":
            d.update(type="sun", direction=[float(x) for x in L["direction"]], strength=SUN_STRENGTH_PER_IRRADIANCE * peak)
        else:
            d.update(type="point", position=[float(x) for x in L["position"]], power=POINT_POWER_PER_INTENSITY * peak)
        out.append(d)
    return out, [float(x) for x in ambient]


def mesh_payload(scene: SceneGraph, meshes: list[RenderMesh]) -> tuple[dict[str, np.ndarray], list[dict]]:
    """(arrays for the npz, per-mesh entries) describing ``meshes`` to the worker (see its docstring)."""
    mats = (scene.materials or {}).get("objects", {})
    arrays: dict[str, np.ndarray] = {}
    entries = []
    for i, m in enumerate(meshes):
        arrays[f"v{i}"], arrays[f"f{i}"] = np.asarray(m.vertices, np.float32), np.asarray(m.faces, np.uint32)
        arrays[f"n{i}"], arrays[f"c{i}"] = np.asarray(m.normals, np.float32), np.asarray(m.colors, np.float32)
        if m.texture is not None and m.uv is not None:
            arrays[f"uv{i}"], arrays[f"tex{i}"] = np.asarray(m.uv, np.float32), np.asarray(m.texture, np.uint8)
        rough, metal = principled_params(mats.get(m.name) if m.instance_id else None, m.shininess)
        entries.append({"name": m.name, "instance_id": int(m.instance_id), "roughness": rough, "metallic": metal})
    return arrays, entries


class CyclesRenderer:
    """The cycles backend (see the module docstring). Build it with engine.render.get_renderer.

    ``cpus``: CPU threads for Cycles and the raster passes (the worker's share of the machine).
    """

    name = "cycles"
    takes_cpus = True  # get_renderer passes the worker's CPU count

    def __init__(self, cfg: Mapping, cpus: int | None = None):
        self.cfg = dict(cfg)
        self.settings = cycles_settings(cfg)
        self.cpus = cpus
        self.worker = self._start()  # first: a missing venv fails before any GL object is made
        try:
            self.raster = ModernglRenderer({**self.cfg, "backend": "moderngl"})
        except Exception:
            self.worker.close()
            raise
        self.max_image_size = self.raster.max_image_size
        self.gl_renderer = f"Cycles (Blender {self.worker.info['version']}, {self.worker.info['device']}) + " \
                           f"{self.raster.gl_renderer}"
        self._scene: tuple | None = None

    def _start(self) -> BlenderWorker:
        return BlenderWorker(cycles_python(), self.settings["device"], self.cpus)

    def _send_scene(self, scene: SceneGraph, meshes: list[RenderMesh]) -> None:
        key = (scene, tuple(meshes))
        if self._scene is not None and self._scene[0] is scene and len(self._scene[1]) == len(meshes) \
                and all(a is b for a, b in zip(self._scene[1], meshes)):
            return
        arrays, entries = mesh_payload(scene, meshes)
        npz = self.worker.dir / "scene.npz"
        np.savez(npz, **arrays)
        lights, ambient = blender_lights(scene, self.cfg)
        self.worker.call(op="scene", npz=str(npz), meshes=entries, lights=lights, ambient=ambient,
                         background=[float(x) for x in self.cfg["background"]])
        self._scene = key  # holds the objects, so their ids stay theirs while cached

    def path_trace(self, scene: SceneGraph, view: View, meshes: list[RenderMesh], passes: bool = False,
                   samples: int | None = None) -> dict[str, np.ndarray]:
        """Render ``view`` with Cycles. Returns ``rgb`` (H, W, 3) uint8 sRGB and, with ``passes``,
        Blender's own ``depth`` (H, W) float32 camera z in metres (0 on a miss) and ``index`` (H, W)
        int32 object pass index (= instance id; 0 for room surfaces and misses), rendered through
        pixel centres (a 0.01-pixel box filter). ``samples`` overrides render.cycles.samples."""
        if self.worker.owner != os.getpid() or self.worker.proc.poll() is not None:
            # released, died, or inherited by a forked child: start a fresh one
            self.worker, self._scene = self._start(), None
        self._send_scene(scene, meshes)
        out = str(self.worker.dir / "view_")
        self.worker.call(op="render", K=np.asarray(view.K, float).tolist(),
                         cam_to_world=np.asarray(view.cam_to_world, float).tolist(), width=int(view.width),
                         height=int(view.height), samples=int(samples or self.settings["samples"]),
                         denoise=bool(self.settings["denoise"]), passes=passes, seed=0,
                         near=float(self.cfg["near_m"]), far=float(self.cfg["far_m"]), out=out)
        with Image.open(out + "rgb.png") as im:
            res = {"rgb": np.asarray(im.convert("RGB"), dtype=np.uint8).copy()}
        if passes:
            res["depth"] = np.load(out + "depth.npy")
            res["index"] = np.load(out + "index.npy")
        return res

    def render(self, scene: SceneGraph, view: View, meshes: list[RenderMesh]) -> Frame:
        """RGB from Cycles; depth, ids and the per-object fields from the raster backend (see
        :meth:`engine.render.protocol.Renderer.render` for shapes and units)."""
        exact = self.raster.render(scene, view, meshes)
        rgb = self.path_trace(scene, view, meshes)["rgb"]
        return Frame(rgb=rgb, depth=exact.depth, ids=exact.ids, objects=exact.objects)

    def release(self) -> None:
        """Stop the Blender process and free the raster backend's GL objects (the next render
        starts a fresh process)."""
        self.worker.close()
        self._scene = None
        self.raster.release()
