"""The pyrender backend: the same Frame through pyrender 0.1.45 over EGL (or OSMesa).

Fixes it needs (docs/rendering.md, "Backends"): ``np.infty`` restored under numpy 2; the camera is
``IntrinsicsCamera(fx, fy, cx + 0.5, cy + 0.5)`` (pyrender puts pixel centres at half
integers) with pose ``cam_to_world @ diag(1, -1, -1, 1)``; depth comes from the SEG pass, which
is single-sample (the anti-aliased colour pass blends depth at edges). Ids are the SEG pass's
colours decoded as ``r + 256 g + 65536 b``. Amodal masks come from one SEG pass per object with
only that object's nodes drawn. Colour uses pyrender's PBR shading, so it differs from the
moderngl backend; ids and depth agree with it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from engine.assets.types import RenderMesh
from engine.render.context import import_pyrender
from engine.render.post import apply_camera_effects
from engine.render.protocol import scene_lights
from engine.render.types import Frame
from engine.render.visibility import id_stats, mask_stats, object_fields
from engine.scene.graph import SceneGraph, View

_FLIP = np.diag([1.0, -1.0, -1.0, 1.0])


def _id_color(iid: int) -> tuple[int, int, int]:
    return (iid & 255, (iid >> 8) & 255, (iid >> 16) & 255)


def _light_pose(direction: np.ndarray) -> np.ndarray:
    """4x4 pose whose -Z axis is ``direction`` (pyrender lights shine along their -Z)."""
    z = -direction / np.linalg.norm(direction)
    up = np.array([0.0, 0.0, 1.0]) if abs(z[2]) < 0.99 else np.array([0.0, 1.0, 0.0])
    x = np.cross(up, z)
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2] = x, np.cross(z, x), z
    return pose


class PyrenderRenderer:
    """The pyrender backend. Build it with engine.render.get_renderer."""

    name = "pyrender"

    def __init__(self, cfg: Mapping):
        self.cfg = dict(cfg)
        self.pr = import_pyrender(cfg["platform"], int(cfg["device_index"]))
        self.osr = self.pr.OffscreenRenderer(64, 64)
        self.osr._platform.make_current()
        from OpenGL.GL import GL_MAX_RENDERBUFFER_SIZE, GL_MAX_VIEWPORT_DIMS, GL_RENDERER, glGetIntegerv, glGetString

        self.gl_renderer = glGetString(GL_RENDERER).decode()
        self.max_image_size = int(min(int(glGetIntegerv(GL_MAX_RENDERBUFFER_SIZE)), *map(int, glGetIntegerv(GL_MAX_VIEWPORT_DIMS))))
        self.osr._platform.make_uncurrent()
        self._key = None
        self._scene = None
        self._nodes: dict[int, list] = {}
        self._room_nodes: list = []

    def _build(self, scene: SceneGraph, meshes: list[RenderMesh]):
        """A pyrender.Scene of the meshes (cached while the same mesh objects come back)."""
        key = tuple(id(m) for m in meshes) + tuple(id(m.vertices) for m in meshes)
        if self._key == key and self._scene is not None and self._scene_ref is scene:
            return
        pr = self.pr
        bg = list(self.cfg["background"]) + [1.0]
        lights, ambient = scene_lights(scene, self.cfg)
        s = pr.Scene(bg_color=bg, ambient_light=list(ambient))
        nodes: dict[int, list] = {}
        room = []
        for m in meshes:
            tex = None
            if m.texture is not None and m.uv is not None:
                tex = pr.Texture(source=np.ascontiguousarray(m.texture, np.uint8), source_channels="RGB")
            mat = pr.MetallicRoughnessMaterial(baseColorFactor=[1.0, 1.0, 1.0, 1.0], metallicFactor=0.0,
                                               roughnessFactor=float(np.clip(1.0 - m.specular, 0.05, 1.0)),
                                               baseColorTexture=tex)
            colors = np.concatenate([m.colors, np.ones((len(m.colors), 1), np.float32)], axis=1)
            prim = pr.Primitive(positions=m.vertices, normals=m.normals, indices=np.asarray(m.faces, np.int64),
                                color_0=colors, texcoord_0=m.uv if tex is not None else None, material=mat)
            node = s.add(pr.Mesh([prim]), name=m.name)
            if m.instance_id >= 1:
                nodes.setdefault(int(m.instance_id), []).append(node)
            else:
                room.append(node)
        for light in lights:
            rad = light["radiance"]
            inten = float(rad.max())
            color = rad / inten if inten > 0 else np.ones(3)
            if light["type"] == "directional":
                s.add(pr.DirectionalLight(color=color, intensity=inten * 3.0), pose=_light_pose(light["direction"]))
            else:
                pose = np.eye(4)
                pose[:3, 3] = light["position"]
                s.add(pr.PointLight(color=color, intensity=inten * 4 * np.pi), pose=pose)
        self._key, self._scene, self._scene_ref = key, s, scene
        self._meshes = list(meshes)  # keep the ids in the key valid
        self._nodes, self._room_nodes = nodes, room
        self._cam_node = None

    def render(self, scene: SceneGraph, view: View, meshes: list[RenderMesh]) -> Frame:
        """Render one view; see engine.render.protocol.Renderer.render for the outputs."""
        if not meshes:
            raise ValueError("render: meshes is empty; fix: pass engine.assets.meshes.scene_meshes(scene, catalog)")
        pr = self.pr
        self._build(scene, meshes)
        W, H = int(view.width), int(view.height)
        K = np.asarray(view.K, dtype=float)
        near = float(self.cfg["near_m"])
        cam = pr.IntrinsicsCamera(K[0, 0], K[1, 1], K[0, 2] + 0.5, K[1, 2] + 0.5, znear=near, zfar=float(self.cfg["far_m"]))
        if self._cam_node is not None:
            self._scene.remove_node(self._cam_node)
        self._cam_node = self._scene.add(cam, pose=np.asarray(view.cam_to_world, dtype=float) @ _FLIP)
        self.osr.viewport_width, self.osr.viewport_height = W, H
        flags = pr.RenderFlags.SHADOWS_DIRECTIONAL if self.cfg["shadows"] else pr.RenderFlags.NONE
        rgb, _ = self.osr.render(self._scene, flags=flags)
        if view.params.get("camera_effects"):  # the record's camera effects, RGB only (shading stays pyrender's)
            rgb = apply_camera_effects(np.ascontiguousarray(rgb, dtype=np.uint8), view.params["camera_effects"])
        seg_map = {n: (0, 0, 0) for n in self._room_nodes}
        for iid, ns in self._nodes.items():
            for n in ns:
                seg_map[n] = _id_color(iid)
        seg, depth = self.osr.render(self._scene, flags=pr.RenderFlags.SEG, seg_node_map=seg_map)
        seg = seg.astype(np.int32)
        ids = seg[..., 0] + 256 * seg[..., 1] + 65536 * seg[..., 2]
        stats = id_stats(ids)
        for iid in sorted(self._nodes):
            amodal_seg, _ = self.osr.render(self._scene, flags=pr.RenderFlags.SEG,
                                            seg_node_map={n: (255, 255, 255) for n in self._nodes[iid]})
            n, box = mask_stats(amodal_seg[..., 0] > 0)
            stats.setdefault(iid, {"visible": 0, "bbox_visible": None}).update(amodal=n, bbox_amodal=box)
        return Frame(rgb=np.ascontiguousarray(rgb, dtype=np.uint8), depth=np.ascontiguousarray(depth, dtype=np.float32),
                     ids=np.ascontiguousarray(ids, dtype=np.int32), objects=object_fields(scene, view, stats, near))
