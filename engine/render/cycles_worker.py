"""The Blender side of the Cycles backend: a self-contained server run by the ``.venv-cycles`` Python.

It imports only ``bpy`` (Blender as a Python module, which needs Python 3.11 for bpy 4.5) and
numpy, never the engine, so the engine's venv and Blender's stay apart. One process per pipeline
worker, started by :class:`engine.render.cycles_backend.CyclesRenderer` and reused across scenes.

Protocol: one JSON object per line on stdin (a request), one JSON object per line on the
process's original stdout (the reply: ``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``).
Blender's own log lines go to stderr (file descriptor 1 is pointed at 2 at start-up, so nothing
Blender prints can corrupt a reply). Bulk data travels as files in the folder given as argv[1]:

- ``{"op": "setup", "device": "auto|cpu|gpu", "threads": n|null}`` -> ``{"device": "CPU|OPTIX|CUDA",
  "gpus": [names], "version": "4.5.x"}``: picks the compute device (OptiX, then CUDA, for
  ``auto``/``gpu``; ``gpu`` fails when none is found).
- ``{"op": "scene", "npz": path, "meshes": [...], "lights": [...], "ambient": [r, g, b],
  "background": [r, g, b]}``: replaces the scene. The npz holds ``v<i>``, ``f<i>``, ``n<i>``, ``c<i>``
  (vertices, faces, normals, linear colours of mesh i; world metres, +Z up) and optional
  ``uv<i>``, ``tex<i>``; each mesh entry has ``name``, ``instance_id``, ``roughness``, ``metallic``.
  Lights are ``{type: sun, direction, strength}`` or ``{type: point, position, power}`` (Blender
  units, converted by the engine side) with ``cast_shadows``.
- ``{"op": "render", "K": 3x3, "cam_to_world": 4x4 (OpenCV camera), "width", "height", "samples",
  "denoise", "seed", "passes": bool, "out": path prefix}`` -> writes ``<out>rgb.png`` (8-bit sRGB,
  the Standard view transform) and, with ``passes``, ``<out>depth.npy`` (float32 (H, W), Blender's
  Z pass: camera-space z in metres, 0 where nothing was hit) and ``<out>index.npy`` (int32 (H, W),
  object pass index = instance id). Passes use a 0.01-pixel box filter (every sample through the
  pixel centre, like the raster backend's exact passes).
- ``{"op": "quit"}``.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback

import numpy as np

PROTO = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)  # Blender prints render progress on stdout: send it to stderr instead

import bpy  # noqa: E402
from mathutils import Matrix, Vector  # noqa: E402

WORK = sys.argv[1] if len(sys.argv) > 1 else "."
STATE: dict = {"device": "CPU"}


def reply(**kw) -> None:
    PROTO.write(json.dumps(kw) + "\n")
    PROTO.flush()


def setup(device: str, threads: int | None) -> dict:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    s = bpy.context.scene
    s.render.engine = "CYCLES"
    prefs = bpy.context.preferences.addons["cycles"].preferences
    chosen, gpus = "CPU", []
    if device in ("auto", "gpu"):
        for kind in ("OPTIX", "CUDA"):
            try:
                prefs.compute_device_type = kind
                prefs.get_devices()
            except Exception:  # the kind is not compiled in or has no driver
                continue
            found = [d for d in prefs.devices if d.type == kind]
            if found:
                for d in prefs.devices:
                    d.use = d.type == kind
                chosen, gpus = kind, [d.name for d in found]
                break
        if chosen == "CPU" and device == "gpu":
            raise RuntimeError("render.cycles.device=gpu: Blender found no OptiX or CUDA device; "
                               "fix: device=auto (falls back to the CPU) or device=cpu")
    s.cycles.device = "GPU" if chosen != "CPU" else "CPU"
    if threads:
        s.render.threads_mode = "FIXED"
        s.render.threads = int(threads)
    s.render.resolution_percentage = 100
    s.render.film_transparent = False
    s.view_settings.view_transform = "Standard"
    s.view_settings.look = "None"
    s.view_settings.exposure = 0.0
    s.view_settings.gamma = 1.0
    s.display_settings.display_device = "sRGB"
    s.render.image_settings.file_format = "PNG"
    s.render.image_settings.color_mode = "RGB"
    s.render.image_settings.color_depth = "8"
    s.cycles.denoiser = "OPENIMAGEDENOISE"
    s.cycles.denoising_input_passes = "RGB_ALBEDO_NORMAL"
    STATE["device"] = chosen
    return {"device": chosen, "gpus": gpus, "version": bpy.app.version_string}


def _clear() -> None:
    for coll in (bpy.data.objects, bpy.data.meshes, bpy.data.materials, bpy.data.images, bpy.data.lights,
                 bpy.data.cameras, bpy.data.worlds):
        for item in list(coll):
            coll.remove(item)


def _material(name: str, has_tex: bool, tex_image, roughness: float, metallic: float):
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    nt = mat.node_tree
    bsdf = nt.nodes["Principled BSDF"]
    bsdf.inputs["Roughness"].default_value = roughness
    bsdf.inputs["Metallic"].default_value = metallic
    col = nt.nodes.new("ShaderNodeVertexColor")
    col.layer_name = "Col"
    base = col.outputs["Color"]
    if has_tex:
        tex = nt.nodes.new("ShaderNodeTexImage")
        tex.image = tex_image
        uvn = nt.nodes.new("ShaderNodeUVMap")
        uvn.uv_map = "UV"
        nt.links.new(uvn.outputs["UV"], tex.inputs["Vector"])
        mix = nt.nodes.new("ShaderNodeMix")
        mix.data_type = "RGBA"
        mix.blend_type = "MULTIPLY"
        mix.inputs["Factor"].default_value = 1.0
        # the Mix node has a Float, a Vector and a Color socket of each name: take the Color ones
        rgba_in = [sock for sock in mix.inputs if sock.type == "RGBA"]
        nt.links.new(base, rgba_in[0])
        nt.links.new(tex.outputs["Color"], rgba_in[1])
        base = next(sock for sock in mix.outputs if sock.type == "RGBA")
    nt.links.new(base, bsdf.inputs["Base Color"])
    return mat


def build_scene(req: dict) -> dict:
    t0 = time.perf_counter()
    _clear()
    s = bpy.context.scene
    data = np.load(req["npz"])
    for i, m in enumerate(req["meshes"]):
        v, f, n, c = data[f"v{i}"], data[f"f{i}"].astype(np.int64), data[f"n{i}"], data[f"c{i}"]
        me = bpy.data.meshes.new(m["name"])
        me.vertices.add(len(v))
        me.vertices.foreach_set("co", v.astype(np.float32).ravel())
        me.loops.add(3 * len(f))
        me.loops.foreach_set("vertex_index", f.astype(np.int32).ravel())
        me.polygons.add(len(f))
        me.polygons.foreach_set("loop_start", np.arange(0, 3 * len(f), 3, dtype=np.int32))
        me.update(calc_edges=True)
        me.shade_smooth()
        me.normals_split_custom_set_from_vertices(n.astype(np.float32).reshape(-1, 3))
        rgba = np.ones((len(v), 4), np.float32)
        rgba[:, :3] = c
        attr = me.color_attributes.new("Col", "FLOAT_COLOR", "POINT")
        attr.data.foreach_set("color", rgba.ravel())
        img = None
        has_tex = f"tex{i}" in data and f"uv{i}" in data
        if has_tex:
            uv = data[f"uv{i}"].astype(np.float32)
            layer = me.uv_layers.new(name="UV")
            layer.data.foreach_set("uv", uv[f.ravel()].ravel())
            tex = data[f"tex{i}"]
            img = bpy.data.images.new(f"{m['name']}_tex", tex.shape[1], tex.shape[0], alpha=False)
            img.colorspace_settings.name = "sRGB"  # before the pixels: changing it regenerates the image
            px = np.ones((tex.shape[0], tex.shape[1], 4), np.float32)
            px[..., :3] = tex[..., :3] / 255.0  # row 0 at v = 0, as the raster backend uploads it
            img.pixels.foreach_set(px.ravel())
            img.pack()
        me.materials.append(_material(f"{m['name']}_mat", has_tex, img, float(m["roughness"]), float(m["metallic"])))
        ob = bpy.data.objects.new(m["name"], me)
        ob.pass_index = int(m["instance_id"])
        s.collection.objects.link(ob)
    for k, L in enumerate(req["lights"]):
        if L["type"] == "sun":
            ld = bpy.data.lights.new(f"light{k}", "SUN")
            ld.energy = float(L["strength"])
            ld.angle = float(L.get("angle", 0.0093))  # the sun's 0.53 degree disc
        else:
            ld = bpy.data.lights.new(f"light{k}", "POINT")
            ld.energy = float(L["power"])
            ld.shadow_soft_size = float(L.get("radius", 0.05))
        ld.color = L["color"]
        ld.use_shadow = bool(L.get("cast_shadows", True))
        ob = bpy.data.objects.new(f"light{k}", ld)
        if L["type"] == "sun":
            ob.rotation_euler = Vector(L["direction"]).to_track_quat("-Z", "Y").to_euler()
        else:
            ob.location = L["position"]
        s.collection.objects.link(ob)
    world = bpy.data.worlds.new("world")
    world.use_nodes = True
    nt = world.node_tree
    bg_light = nt.nodes["Background"]
    bg_light.inputs["Color"].default_value = (*req["ambient"], 1.0)  # what surfaces are lit by
    bg_cam = nt.nodes.new("ShaderNodeBackground")
    bg_cam.inputs["Color"].default_value = (*req["background"], 1.0)  # what the camera sees
    path = nt.nodes.new("ShaderNodeLightPath")
    mix = nt.nodes.new("ShaderNodeMixShader")
    nt.links.new(path.outputs["Is Camera Ray"], mix.inputs["Fac"])
    nt.links.new(bg_light.outputs["Background"], mix.inputs[1])
    nt.links.new(bg_cam.outputs["Background"], mix.inputs[2])
    nt.links.new(mix.outputs["Shader"], nt.nodes["World Output"].inputs["Surface"])
    s.world = world
    cam = bpy.data.cameras.new("camera")
    cam_ob = bpy.data.objects.new("camera", cam)
    s.collection.objects.link(cam_ob)
    s.camera = cam_ob
    return {"seconds": time.perf_counter() - t0}


def set_camera(K: np.ndarray, c2w: np.ndarray, width: int, height: int, near: float, far: float) -> None:
    """Blender camera from an OpenCV pinhole: pose = cam_to_world @ diag(1, -1, -1, 1) (flip Y and Z);
    focal length from fx over the sensor's fitted side; principal point as lens shift, in units of
    the image's larger side (pixel centres at integer coordinates, so the image centre is (W - 1) / 2)."""
    s = bpy.context.scene
    s.render.resolution_x, s.render.resolution_y = int(width), int(height)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    s.render.pixel_aspect_x, s.render.pixel_aspect_y = 1.0, 1.0
    if fy > fx:
        s.render.pixel_aspect_x = fy / fx
    elif fx > fy:
        s.render.pixel_aspect_y = fx / fy
    cam = s.camera.data
    cam.type = "PERSP"
    cam.sensor_width = cam.sensor_height = 36.0
    big = max(width, height)
    if width >= height:
        cam.sensor_fit = "HORIZONTAL"
        cam.lens = fx * 36.0 / width
    else:
        cam.sensor_fit = "VERTICAL"
        cam.lens = fy * 36.0 / height
    cam.shift_x = ((width - 1) / 2 - cx) / big
    cam.shift_y = (cy - (height - 1) / 2) / big
    cam.clip_start, cam.clip_end = float(near), float(far)
    s.camera.matrix_world = Matrix((c2w @ np.diag([1.0, -1.0, -1.0, 1.0])).tolist())


def _passes_tree(on: bool, out: str) -> None:
    s = bpy.context.scene
    vl = s.view_layers[0]
    vl.use_pass_z = on
    vl.use_pass_object_index = on
    s.use_nodes = on
    if not on:
        return
    nt = s.node_tree
    nt.nodes.clear()
    rl = nt.nodes.new("CompositorNodeRLayers")
    comp = nt.nodes.new("CompositorNodeComposite")
    nt.links.new(rl.outputs["Image"], comp.inputs["Image"])
    fo = nt.nodes.new("CompositorNodeOutputFile")
    fo.base_path = os.path.dirname(out)
    fo.format.file_format = "OPEN_EXR"
    fo.format.color_depth = "32"
    fo.format.exr_codec = "NONE"
    fo.file_slots.clear()
    base = os.path.basename(out)
    for sock, slot in (("Depth", "depth"), ("IndexOB", "index")):
        fo.file_slots.new(f"{base}{slot}_")
        nt.links.new(rl.outputs[sock], fo.inputs[-1])


def _read_exr(path: str, h: int, w: int) -> np.ndarray:
    img = bpy.data.images.load(path)
    img.colorspace_settings.is_data = True
    px = np.empty(h * w * 4, np.float32)
    img.pixels.foreach_get(px)
    bpy.data.images.remove(img)
    os.remove(path)
    return px.reshape(h, w, 4)[::-1, :, 0]  # Blender images are bottom row first


def render(req: dict) -> dict:
    s = bpy.context.scene
    K = np.asarray(req["K"], float)
    c2w = np.asarray(req["cam_to_world"], float)
    w, h = int(req["width"]), int(req["height"])
    set_camera(K, c2w, w, h, req.get("near", 0.02), req.get("far", 200.0))
    s.cycles.samples = int(req["samples"])
    s.cycles.use_denoising = bool(req["denoise"])
    s.cycles.seed = int(req.get("seed", 0))
    passes = bool(req.get("passes"))
    s.cycles.pixel_filter_type = "BOX" if passes else "BLACKMAN_HARRIS"
    s.cycles.filter_width = 0.01 if passes else 1.5
    out = req["out"]
    _passes_tree(passes, out)
    s.render.filepath = out + "rgb.png"
    s.frame_current = 1
    t0 = time.perf_counter()
    bpy.ops.render.render(write_still=True)
    dt = time.perf_counter() - t0
    if passes:
        depth = _read_exr(f"{out}depth_0001.exr", h, w)
        index = _read_exr(f"{out}index_0001.exr", h, w)
        depth = np.where(depth < 1e9, depth, 0.0).astype(np.float32)
        np.save(out + "depth.npy", depth)
        np.save(out + "index.npy", np.rint(index).astype(np.int32))
    return {"seconds": dt}


def main() -> None:
    ops = {"setup": lambda r: setup(r.get("device", "auto"), r.get("threads")), "scene": build_scene, "render": render}
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            if req.get("op") == "quit":
                reply(ok=True)
                return
            reply(ok=True, **ops[req["op"]](req))
        except Exception:
            reply(ok=False, error=traceback.format_exc())


if __name__ == "__main__":
    main()
