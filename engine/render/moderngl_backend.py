"""The moderngl backend: a standalone EGL context, GLSL 4.30, exact ids/depth and anti-aliased colour.

Passes per view (framebuffers are kept per image size and reused across frames), with
``antialias: msaa`` (and always under ``quality: high``):
1. shadow map (once per scene and light set): depth of the objects seen from the first
   directional or point light; sampled with hardware-filtered PCF in the colour pass;
2. ids + depth, single-sample: int32 instance ids and float32 camera z written by the fragment
   shader (the plane's exact z at the pixel centre, not the z-buffer's non-linear value);
3. colour, multisampled (``msaa_samples``): Lambert + Blinn-Phong with vertex colours, textures
   and shadows, resolved to RGB8 (sRGB-encoded);
4. amodal statistics: every object's triangles drawn with no depth test into a per-pixel bit
   mask (``imageAtomicOr``, one bit per object), so each (pixel, object) pair is counted once;
   the first hit adds to the object's amodal count and sets the bits of its pixel column and
   row (three atomics: per-fragment min/max box updates cost llvmpipe twice the whole pass).
   Only the small counter buffer is read back; the boxes are the first and last bits set.
   Visible counts and boxes come from the id image on the CPU (``visibility.id_stats``).

With ``antialias: edge`` (the default) passes 2 and 3 are one single-sample pass writing ids,
camera z and the colour shaded at the pixel centre (shadows looked up where they are used), and
after pass 4 the geometric edge pixels of the id and depth images are filtered with FXAA
(engine/render/edge_aa.py): the multisampled pass, its clear and its resolve cost llvmpipe more
than a third of a frame.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from engine.assets.types import RenderMesh
from engine.render.context import moderngl_context
from engine.render.edge_aa import edge_pixels, fxaa
from engine.render.gl_lights import SURFACE_GLSL, write_light_uniforms
from engine.render.high import HighShading
from engine.render.post import apply_camera_effects
from engine.render.protocol import gl_projection, light_view_projection, mesh_bounds, scene_lights
from engine.render.types import Frame
from engine.render.visibility import bit_boxes, box_union, id_stats, object_fields
from engine.geometry import invert_pose
from engine.scene.graph import SceneGraph, View

log = logging.getLogger("engine.render")

MAX_LIGHTS = 4

_VS = """
#version 430
uniform mat4 u_view;   // world -> OpenCV camera
uniform mat4 u_proj;   // camera -> clip (see protocol.gl_projection)
in vec3 in_pos; in vec3 in_normal; in vec3 in_color; in vec2 in_uv; in vec2 in_mat;
in int in_inst; in int in_obj;
out vec3 v_world; out vec3 v_normal; out vec3 v_color; out vec2 v_uv; out vec2 v_mat; out float v_z;
flat out int v_inst; flat out int v_obj;
// shadow-map clip coordinates of the point and of its normal (u_light_vp is linear, so the
// fragment's normal-offset coordinate is v_light_p + k * v_light_n; only shadowed programs read them)
uniform mat4 u_light_vp;
out vec4 v_light_p; out vec4 v_light_n;
invariant gl_Position;
void main() {
    vec4 pc = u_view * vec4(in_pos, 1.0);
    v_z = pc.z;
    v_world = in_pos; v_normal = in_normal; v_color = in_color; v_uv = in_uv; v_mat = in_mat;
    v_inst = in_inst; v_obj = in_obj;
    v_light_p = u_light_vp * vec4(in_pos, 1.0);
    v_light_n = u_light_vp * vec4(in_normal, 0.0);
    gl_Position = u_proj * pc;
}
"""

# The shadow lookup of the ids pass, compiled per light kind and PCF radius (SHADOW 1
# directional, 2 point; PCF r): llvmpipe evaluates both sides of a branch on a uniform, so a
# program without a shadow light must not carry this code at all.
_SHADOW_GLSL = """
uniform sampler2DShadow u_shadow;
uniform float u_shadow_texel;     // 1 / shadow map size
uniform float u_shadow_offset;    // normal offset, metres
in vec4 v_light_p; in vec4 v_light_n;

// n: the unit normal turned towards the camera, = sign * v_normal / |v_normal|; the lookup point
// is p + n * offset, in the light's clip space v_light_p + (sign / |v_normal|) * offset * v_light_n.
// Points facing away from the light get a value the caller never uses (its light term is 0),
// so no branch for them: llvmpipe would evaluate both sides anyway.
float shadow_factor(vec3 n) {
    vec4 c = v_light_p + v_light_n * (u_shadow_offset * dot(n, v_normal) / dot(v_normal, v_normal));
    vec3 s = c.xyz / c.w * 0.5 + 0.5;
    // outside the casters' footprint or nearer the light than every caster: lit; beyond the
    // frustum's far plane: behind every caster, so compare at the far plane
    if (any(lessThan(s, vec3(0.0))) || any(greaterThan(s.xy, vec2(1.0)))) return 1.0;
    s.z = min(s.z, 1.0);
    // (2r)^2 hardware-filtered (bilinear 2x2) taps on a half-texel-offset grid; r = 0: one tap.
#if PCF == 0
    return texture(u_shadow, vec3(s.xy, s.z - 0.0005));
#else
    float sum = 0.0; float cnt = 0.0;
    for (int dx = -PCF; dx < PCF; ++dx)
        for (int dy = -PCF; dy < PCF; ++dy) {
            sum += texture(u_shadow, vec3(s.xy + (vec2(dx, dy) + 0.5) * u_shadow_texel, s.z - 0.0005));
            cnt += 1.0;
        }
    return sum / cnt;
#endif
}
"""

# Single-sample pass: exact ids and camera z, plus the shadow factor of the pixel (shadows are
# looked up once per pixel here, not once per MSAA sample in the colour pass).
_FS_IDS = """
#version 430
#define SHADOW %(SHADOW)d
#define PCF %(PCF)d
in vec3 v_world; in vec3 v_normal; in float v_z; flat in int v_inst;
uniform vec3 u_cam_pos;
layout(location = 0) out int o_id;
layout(location = 1) out float o_depth;
layout(location = 2) out float o_shadow;  // shadow occlusion in [0, 1], 0 = lit
#if SHADOW
""" + _SHADOW_GLSL + """
#endif
void main() {
    o_id = v_inst; o_depth = v_z;
#if SHADOW
    vec3 n = normalize(v_normal);
    if (dot(n, u_cam_pos - v_world) < 0.0) n = -n;
    o_shadow = 1.0 - shadow_factor(n);  // occlusion
#else
    o_shadow = 0.0;
#endif
}
"""


def ids_shader(shadow_type: str | None, pcf: int) -> str:
    """The ids/depth/shadow fragment shader for a shadow light of ``shadow_type``
    (``directional`` | ``point``, or None: no shadow) and PCF radius ``pcf``."""
    return _FS_IDS % {"SHADOW": {None: 0, "directional": 1, "point": 2}[shadow_type], "PCF": int(pcf)}


_FS_COLOR = """
#version 430
in vec3 v_world; in vec3 v_normal; in vec3 v_color; in vec2 v_uv; in vec2 v_mat;
uniform vec3 u_cam_pos;
uniform vec3 u_ambient;
uniform vec3 u_lvec[%(ML)d];      // direction of travel (directional) or position (point)
uniform vec3 u_lrad[%(ML)d];      // colour * intensity
uniform sampler2D u_shadow_screen; // per-pixel shadow occlusion from the ids pass (0 = lit)
#define u_use_tex %(TEX)s
uniform sampler2D u_tex;
out vec4 o_color;

void main() {%(SURFACE)s    vec3 col = albedo * u_ambient;
%(LIGHTS)s    o_color = vec4(pow(clamp(col, 0.0, 1.0), vec3(1.0 / 2.2)), 1.0);
}
"""
# One light's term, unrolled per light (a program per light set and for textured or plain
# surfaces: llvmpipe runs a loop over a uniform count with a per-light type branch at about twice
# the cost of the straight-line code, and samples a texture behind a uniform bool everywhere).
_LIGHT_DIRECTIONAL = "vec3 l = -normalize(u_lvec[%(i)d]); vec3 rad = u_lrad[%(i)d];"
_LIGHT_POINT = ("vec3 d = u_lvec[%(i)d] - v_world; float r2 = max(dot(d, d), 1e-4); vec3 l = d / sqrt(r2); "
                "vec3 rad = u_lrad[%(i)d] / r2;")
_LIGHT_TERM = """    {
        %(L)s
        float ndl = max(dot(n, l), 0.0);
        if (ndl > 0.0) {
            float vis = %(VIS)s;
            vec3 h = normalize(l + vdir);
            float spec = v_mat.x * pow(max(dot(n, h), 0.0), v_mat.y);
            col += vis * rad * (albedo * ndl + spec);
        }
    }
"""


def color_shader(light_types: tuple[str, ...], shadow_idx: int, textured: bool) -> str:
    """The fast colour fragment shader for lights of ``light_types`` (``directional`` | ``point``,
    in the order of :func:`engine.render.protocol.scene_lights`), light ``shadow_idx`` shadowed
    by the ids pass's per-pixel occlusion (-1: none), for ``textured`` surfaces (albedo = vertex
    colour x texel) or plain ones (vertex colour)."""
    terms = "".join(_LIGHT_TERM % {
        "L": (_LIGHT_DIRECTIONAL if t == "directional" else _LIGHT_POINT) % {"i": i},
        "VIS": "1.0 - texelFetch(u_shadow_screen, ivec2(gl_FragCoord.xy), 0).r" if i == shadow_idx else "1.0"}
        for i, t in enumerate(light_types))
    return _FS_COLOR % {"ML": MAX_LIGHTS, "SURFACE": SURFACE_GLSL, "LIGHTS": terms, "TEX": "true" if textured else "false"}


# antialias: edge. ids, exact camera z and the shaded colour in one single-sample pass (the
# shadow occlusion used where it is computed); engine/render/edge_aa.py then smooths the edges.
_FS_ONE_PASS = """
#version 430
#define SHADOW %(SHADOW)d
#define PCF %(PCF)d
in vec3 v_world; in vec3 v_normal; in vec3 v_color; in vec2 v_uv; in vec2 v_mat; in float v_z; flat in int v_inst;
uniform vec3 u_cam_pos;
uniform vec3 u_ambient;
uniform vec3 u_lvec[%(ML)d];
uniform vec3 u_lrad[%(ML)d];
#define u_use_tex %(TEX)s
uniform sampler2D u_tex;
layout(location = 0) out int o_id;
layout(location = 1) out float o_depth;
layout(location = 2) out vec4 o_color;
#if SHADOW
""" + _SHADOW_GLSL + """
#endif
void main() {
    o_id = v_inst; o_depth = v_z;%(SURFACE)s
#if SHADOW
    float occ = 1.0 - shadow_factor(n);
#endif
    vec3 col = albedo * u_ambient;
%(LIGHTS)s    o_color = vec4(pow(clamp(col, 0.0, 1.0), vec3(1.0 / 2.2)), 1.0);
}
"""


def one_pass_shader(shadow_type: str | None, pcf: int, light_types: tuple[str, ...], shadow_idx: int,
                    textured: bool) -> str:
    """The ``antialias: edge`` fragment shader: ids, camera z and colour at once (arguments as
    for :func:`ids_shader` and :func:`color_shader`)."""
    terms = "".join(_LIGHT_TERM % {
        "L": (_LIGHT_DIRECTIONAL if t == "directional" else _LIGHT_POINT) % {"i": i},
        "VIS": "1.0 - occ" if i == shadow_idx else "1.0"} for i, t in enumerate(light_types))
    return _FS_ONE_PASS % {"SHADOW": {None: 0, "directional": 1, "point": 2}[shadow_type], "PCF": int(pcf),
                           "ML": MAX_LIGHTS, "SURFACE": SURFACE_GLSL, "LIGHTS": terms,
                           "TEX": "true" if textured else "false"}

_VS_SHADOW = """
#version 430
uniform mat4 u_light_vp;
in vec3 in_pos;
void main() { gl_Position = u_light_vp * vec4(in_pos, 1.0); }
"""

_FS_EMPTY = """
#version 430
void main() {}
"""

# The hidden part of each object's amodal mask: its pixels where the id image shows something
# else (the visible part comes from the id image on the CPU; same vertex shader, invariant
# position, so both passes cover the same pixels). The mask dedupes an object's own overlapping
# triangles.
_FS_STATS = """
#version 430
flat in int v_obj; flat in int v_inst;
layout(r32ui, binding = 0) uniform coherent uimage2DArray u_mask;
layout(std430, binding = 1) buffer Stats { uint s[]; };
uniform isampler2D u_ids;  // the view's id image (instance ids)
uniform int u_words;  // per object: the hidden count, then column bits, then row bits
uniform int u_colw;   // words of column bits: ceil(W / 32)
void main() {
    ivec2 p = ivec2(gl_FragCoord.xy);
    if (texelFetch(u_ids, p, 0).r == v_inst) return;  // visible here: counted from the id image
    uint bit = 1u << uint(v_obj & 31);
    uint prev = imageAtomicOr(u_mask, ivec3(p, v_obj >> 5), bit);
    if ((prev & bit) != 0u) return;
    uint b = uint(v_obj * u_words);
    atomicAdd(s[b], 1u);
    atomicOr(s[b + 1u + uint(p.x >> 5)], 1u << uint(p.x & 31));
    atomicOr(s[b + 1u + uint(u_colw + (p.y >> 5))], 1u << uint(p.y & 31));
}
"""

VERTEX_FORMAT = "3f 3f 3f 2f 2f 1i 1i"
VERTEX_ATTRS = ("in_pos", "in_normal", "in_color", "in_uv", "in_mat", "in_inst", "in_obj")
_VDTYPE = np.dtype([("pos", "<f4", 3), ("normal", "<f4", 3), ("color", "<f4", 3), ("uv", "<f4", 2),
                    ("mat", "<f4", 2), ("inst", "<i4"), ("obj", "<i4")])


def _texture_key(m: RenderMesh):
    return None if m.texture is None or m.uv is None else id(m.texture)


class _SizeTargets:
    """Framebuffers for one image size (reused across frames)."""

    def __init__(self, ctx, width: int, height: int, samples: int):
        import moderngl

        size = (width, height)
        self.ids_tex = ctx.texture(size, 1, dtype="i4")
        self.ids_tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self.depth_tex = ctx.texture(size, 1, dtype="f4")
        self.zbuf = ctx.depth_renderbuffer(size)
        self.shadow_tex = ctx.texture(size, 1, dtype="f2")
        self.shadow_tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self.fbo_ids = ctx.framebuffer([self.ids_tex, self.depth_tex, self.shadow_tex], self.zbuf)
        self.one_rgb = ctx.texture(size, 4)  # antialias: edge, the one pass's colour (read back, then filtered)
        self.fbo_one = ctx.framebuffer([self.ids_tex, self.depth_tex, self.one_rgb], self.zbuf)
        self.fbo_one_bg = ctx.framebuffer([self.one_rgb])
        self.ms_color = ctx.renderbuffer(size, 4, samples=samples if samples > 1 else 0)
        self.ms_depth = ctx.depth_renderbuffer(size, samples=samples if samples > 1 else 0)
        self.fbo_ms = ctx.framebuffer([self.ms_color], self.ms_depth)
        self.rgb = ctx.renderbuffer(size, 4)
        self.fbo_rgb = ctx.framebuffer([self.rgb])
        self.fbo_stats = ctx.framebuffer([self.rgb])  # colour writes off: only the shader's atomics
        self.fbo_stats.color_mask = (False, False, False, False)
        self.mask = None
        self.mask_layers = 0
        self._zeros = b""
        self.resources = [self.ids_tex, self.depth_tex, self.shadow_tex, self.zbuf, self.fbo_ids, self.ms_color, self.ms_depth,
                          self.fbo_ms, self.rgb, self.fbo_rgb, self.fbo_stats, self.one_rgb, self.fbo_one, self.fbo_one_bg]

    def zeros(self, layers: int) -> bytes:
        """Zero bytes for ``layers`` layers of the bit mask (kept: allocating them costs too)."""
        n = self.ids_tex.size[0] * self.ids_tex.size[1] * 4 * layers
        if len(self._zeros) < n:
            self._zeros = bytes(n)
        return memoryview(self._zeros)[:n]

    def bit_mask(self, ctx, layers: int):
        """The (W, H, layers) r32ui bit-mask array, grown when more objects come."""
        if self.mask is None or self.mask_layers < layers:
            if self.mask is not None:
                self.mask.release()
            self.mask = ctx.texture_array((*self.ids_tex.size, layers), 1, dtype="u4")
            self.mask_layers = layers
        return self.mask

    def release(self):
        for r in self.resources + ([self.mask] if self.mask is not None else []):
            r.release()


class _SceneBuffers:
    """Vertex/index buffers, textures and the shadow map of one scene's meshes."""

    def __init__(self, ctx, programs: dict, meshes: list[RenderMesh], obj_index: dict[int, int]):
        import moderngl

        self.meshes = list(meshes)  # strong refs: the identity key below stays valid while cached
        self.key = tuple(id(m) for m in meshes) + tuple(id(m.vertices) for m in meshes)
        # Objects first (the stats pass draws that prefix), textured meshes grouped by texture.
        order = sorted(range(len(meshes)), key=lambda i: (meshes[i].instance_id < 1, _texture_key(meshes[i]) is not None, i))
        ms = [meshes[i] for i in order]
        counts = np.array([len(m.vertices) for m in ms], dtype=np.int64)
        nf = np.array([np.size(m.faces) for m in ms], dtype=np.int64)  # indices per mesh
        vstart = np.concatenate([[0], np.cumsum(counts)])
        istart = np.concatenate([[0], np.cumsum(nf)])
        v = np.zeros(int(vstart[-1]), dtype=_VDTYPE)  # one structured array, filled field by field
        v["pos"] = np.concatenate([m.vertices for m in ms])
        v["normal"] = np.concatenate([m.normals for m in ms])
        v["color"] = np.concatenate([m.colors for m in ms])
        for m, a, b in zip(ms, vstart[:-1], vstart[1:]):
            if m.uv is not None:
                v["uv"][a:b] = m.uv
        mat = np.array([(-1.0, 0.0) if m.emissive else (float(m.specular), float(m.shininess)) for m in ms])  # < 0: emissive
        v["mat"] = np.repeat(mat.astype(np.float32), counts, axis=0)
        v["inst"] = np.repeat([int(m.instance_id) for m in ms], counts)
        v["obj"] = np.repeat([obj_index.get(int(m.instance_id), 0) for m in ms], counts)
        faces = np.concatenate([np.asarray(m.faces, dtype=np.uint32).reshape(-1) for m in ms])
        faces += np.repeat(vstart[:-1], nf).astype(np.uint32)
        runs = []
        self.n_obj_indices = 0
        for m, first, count in zip(ms, istart[:-1].tolist(), nf.tolist()):
            tk = _texture_key(m)
            if runs and runs[-1][2] == tk:
                runs[-1][1] += count
            else:
                runs.append([first, count, tk, m])
            if m.instance_id >= 1:
                self.n_obj_indices = first + count
        self.n_indices = int(istart[-1])
        self.vbo = ctx.buffer(v.tobytes())
        self.ibo = ctx.buffer(faces.tobytes())
        self.ctx = ctx
        self.vaos = {}
        for name, prog in programs.items():
            self.vao(name, prog)
        self.textures = {}
        self.runs = []
        self.run_meshes = [r[3] for r in runs]  # the first mesh of each run (the high pass reads its surface)
        for first, count, tk, m in runs:
            tex = None
            if tk is not None:
                tex = self.textures.get(tk)
                if tex is None:
                    img = np.ascontiguousarray(m.texture, dtype=np.uint8)
                    tex = ctx.texture((img.shape[1], img.shape[0]), 3, img.tobytes())
                    tex.build_mipmaps()
                    tex.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
                    tex.repeat_x = tex.repeat_y = True
                    self.textures[tk] = tex
            self.runs.append((first, count, tex))
        casters = [m for m in meshes if m.instance_id >= 1]  # the shadow pass draws objects only
        self.bounds = mesh_bounds(casters) if casters else None
        self.shadow = None
        self.shadow_fbo = None
        self.shadow_key = None
        self.light_vp = None

    def vao(self, name: str, prog):
        """The vertex array of program ``prog`` (kept under ``name``) over this scene's buffers."""
        v = self.vaos.get(name)
        if v is None:
            attrs = [a for a in VERTEX_ATTRS if a in prog]
            v = self.vaos[name] = self.ctx.vertex_array(prog, [(self.vbo, self._format(attrs), *attrs)], self.ibo,
                                                        index_element_size=4)
        return v

    @staticmethod
    def _format(attrs: list[str]) -> str:
        """Vertex format string with padding for attributes a program does not use."""
        parts = []
        for f, a in zip(VERTEX_FORMAT.split(), VERTEX_ATTRS):
            if a in attrs:
                parts.append(f)
            else:
                parts.append(f"{int(f[0]) * 4}x")
        return " ".join(parts)

    def release(self):
        # the shadow map belongs to the renderer (shared by all scenes), not to this scene
        for r in [self.vbo, self.ibo, *self.vaos.values(), *self.textures.values()]:
            r.release()


class ModernglRenderer:
    """The moderngl backend (see the module docstring). Build it with engine.render.get_renderer."""

    name = "moderngl"

    def __init__(self, cfg: Mapping):
        import moderngl

        self.cfg = dict(cfg)
        self.ctx = moderngl_context(int(cfg["device_index"]))
        self.gl_renderer = self.ctx.info["GL_RENDERER"]
        info = self.ctx.info
        self.max_image_size = int(min(info["GL_MAX_RENDERBUFFER_SIZE"], *info["GL_MAX_VIEWPORT_DIMS"]))
        self.samples = min(int(cfg["msaa_samples"]), int(self.ctx.info.get("GL_MAX_SAMPLES", 4) or 4))
        with self.ctx:
            self.programs = {
                "stats": self.ctx.program(vertex_shader=_VS, fragment_shader=_FS_STATS),
                "shadow": self.ctx.program(vertex_shader=_VS_SHADOW, fragment_shader=_FS_EMPTY),
            }
            self.stats_buf = None
        self._targets: dict[tuple[int, int], _SizeTargets] = {}
        self._scene: _SceneBuffers | None = None
        self._shadow = self._shadow_fbo = None  # one shadow map, reused by every scene
        self._moderngl = moderngl
        self._high: HighShading | None = None  # quality: high programs, made for the first such scene
        self._color: dict[tuple, object] = {}  # fast colour programs per (light types, shadow light, textured)
        self._ids: dict[str | None, object] = {}  # ids programs per shadow light type (None: no shadow)
        self._one: dict[tuple, object] = {}  # antialias: edge, one-pass programs per (shadow type, light set, textured)

    # -- caches -----------------------------------------------------------------------------
    def _size_targets(self, width: int, height: int) -> _SizeTargets:
        t = self._targets.get((width, height))
        if t is None:
            if len(self._targets) >= 2:  # keep memory flat when sizes vary: at most two sizes
                old = next(iter(self._targets))
                self._targets.pop(old).release()
            t = _SizeTargets(self.ctx, width, height, self.samples)
            self._targets[(width, height)] = t
        return t

    def _scene_buffers(self, meshes: list[RenderMesh], obj_index: dict[int, int]) -> _SceneBuffers:
        key = tuple(id(m) for m in meshes) + tuple(id(m.vertices) for m in meshes)
        sb = self._scene
        if sb is not None and sb.key == key and sb.obj_index == obj_index:
            return sb
        if sb is not None:
            sb.release()
            self._scene = None
        sb = _SceneBuffers(self.ctx, self.programs, meshes, obj_index)
        sb.obj_index = dict(obj_index)
        self._scene = sb
        return sb

    def release(self) -> None:
        """Free every GL object of this renderer (the context stays, shared by the process)."""
        with self.ctx:
            if self._scene is not None:
                self._scene.release()
                self._scene = None
            for t in self._targets.values():
                t.release()
            self._targets.clear()
            for r in (self._shadow_fbo, self._shadow):
                if r is not None:
                    r.release()
            self._shadow = self._shadow_fbo = None
            if self._high is not None:
                self._high.release()
                self._high = None

    # -- passes -----------------------------------------------------------------------------
    def _shadow_pass(self, sb: _SceneBuffers, lights: list[dict]) -> int:
        """Render (or reuse) the scene's shadow map; returns the shadow light's index or -1."""
        if not self.cfg["shadows"] or sb.n_obj_indices == 0:
            return -1
        idx = next((i for i, l in enumerate(lights) if l["cast_shadows"]), -1)
        if idx < 0:
            return -1
        light = lights[idx]
        key = (idx, light["type"], tuple(np.round(light.get("direction", light.get("position")), 12)))
        if sb.shadow_key == key:
            return idx
        ctx, mgl = self.ctx, self._moderngl
        n = int(self.cfg["shadow_map_size"])
        if self._shadow is None:
            self._shadow = ctx.depth_texture((n, n))
            self._shadow.compare_func = "<="
            self._shadow.filter = (mgl.LINEAR, mgl.LINEAR)
            self._shadow.repeat_x = self._shadow.repeat_y = False
            self._shadow_fbo = ctx.framebuffer(depth_attachment=self._shadow)
        sb.shadow, sb.shadow_fbo = self._shadow, self._shadow_fbo
        sb.light_vp = light_view_projection(light, *sb.bounds)
        sb.shadow_fbo.use()
        sb.shadow_fbo.clear(depth=1.0)
        ctx.enable(mgl.DEPTH_TEST | mgl.CULL_FACE)
        ctx.front_face = "ccw"
        ctx.cull_face = "front"  # casters' back faces: robust against acne on lit faces
        self.programs["shadow"]["u_light_vp"].write(sb.light_vp.T.astype("f4").tobytes())
        sb.vaos["shadow"].render(mgl.TRIANGLES, vertices=sb.n_obj_indices, first=0)
        sb.shadow_key = key
        return idx

    def _program(self, cache: dict, key, fragment_shader) -> object:
        """The program ``cache[key]``, compiled from ``fragment_shader()`` on first use."""
        prog = cache.get(key)
        if prog is None:
            prog = cache[key] = self.ctx.program(vertex_shader=_VS, fragment_shader=fragment_shader())
        return prog

    def _shadow_uniforms(self, prog, sb: _SceneBuffers, view: View, light: dict) -> None:
        """Set the shadow lookup's uniforms (``_SHADOW_GLSL``) of ``prog`` for shadow light ``light``."""
        prog["u_cam_pos"].value = tuple(float(x) for x in view.position)
        if light["type"] == "directional":
            side_m = 2.0 / float(min(np.linalg.norm(sb.light_vp[0, :3]), np.linalg.norm(sb.light_vp[1, :3])))
        else:  # perspective texels grow with distance: the casters' diameter as a scale
            side_m = float(np.linalg.norm(sb.bounds[1] - sb.bounds[0]))
        prog["u_light_vp"].write(sb.light_vp.T.astype("f4").tobytes())
        if "u_shadow_texel" in prog:  # PCF radius > 0
            prog["u_shadow_texel"].value = 1.0 / self.cfg["shadow_map_size"]
        # directional: side_m is the map's larger side (2 / scale), m
        prog["u_shadow_offset"].value = 1.5 * 2.0 * side_m / self.cfg["shadow_map_size"]
        sb.shadow.use(location=1)
        prog["u_shadow"].value = 1  # own unit: samplers of different types may not share one

    def _ids_pass(self, sb: _SceneBuffers, t: _SizeTargets, view: View, lights: list[dict], shadow_idx: int,
                  view_m: np.ndarray, proj: np.ndarray) -> None:
        """antialias: msaa (and quality: high). ids, exact camera z and per-pixel shadow occlusion, single sample."""
        shadow_type = lights[shadow_idx]["type"] if shadow_idx >= 0 else None
        pi = self._program(self._ids, shadow_type, lambda: ids_shader(shadow_type, int(self.cfg["shadow_pcf_radius"])))
        pi["u_view"].write(view_m.T.astype("f4").tobytes())
        pi["u_proj"].write(proj.T.astype("f4").tobytes())
        if shadow_idx >= 0:
            self._shadow_uniforms(pi, sb, view, lights[shadow_idx])
        t.fbo_ids.use()
        t.fbo_ids.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)  # ids 0, depth 0, occlusion 0 (lit)
        sb.vao(f"ids{shadow_type}", pi).render(self._moderngl.TRIANGLES, vertices=sb.n_indices, first=0)

    def _msaa_color_pass(self, sb: _SceneBuffers, t: _SizeTargets, scene: SceneGraph, view: View, lights: list[dict],
                         ambient: np.ndarray, shadow_idx: int, view_m: np.ndarray, proj: np.ndarray) -> None:
        """Colour, multisampled, resolved into ``t.fbo_rgb`` (quality: high effects in engine/render/high.py)."""
        ctx, mgl = self.ctx, self._moderngl
        bg = [float(c) ** (1 / 2.2) for c in self.cfg["background"]]
        t.fbo_ms.use()
        t.fbo_ms.clear(*bg, 1.0, depth=1.0)
        if "effects" in scene.materials:
            if self._high is None:
                self._high = HighShading(ctx, _VS, _SceneBuffers._format, MAX_LIGHTS)
            self._high.draw(sb, t, scene, view, lights, ambient, shadow_idx, view_m, proj, VERTEX_ATTRS)
        else:
            sig = (tuple(l["type"] for l in lights), shadow_idx)
            for first, count, tex in sb.runs:
                pc = self._program(self._color, (*sig, tex is not None), lambda: color_shader(*sig, tex is not None))
                pc["u_view"].write(view_m.T.astype("f4").tobytes())
                pc["u_proj"].write(proj.T.astype("f4").tobytes())
                write_light_uniforms(pc, view.position, lights, ambient, shadow_idx, MAX_LIGHTS)
                if shadow_idx >= 0:
                    t.shadow_tex.use(location=3)
                    pc["u_shadow_screen"].value = 3
                if tex is not None:
                    pc["u_tex"].value = 0
                    tex.use(location=0)
                sb.vao(f"color{sig}{tex is not None}", pc).render(mgl.TRIANGLES, vertices=count, first=first)
        ctx.copy_framebuffer(t.fbo_rgb, t.fbo_ms)

    def _one_pass(self, sb: _SceneBuffers, t: _SizeTargets, view: View, lights: list[dict], ambient: np.ndarray,
                  shadow_idx: int, view_m: np.ndarray, proj: np.ndarray) -> None:
        """antialias: edge. ids, exact camera z and colour in one single-sample pass; the colour
        (``t.one_rgb``) is read back and its edge pixels filtered on the CPU (engine/render/edge_aa.py)."""
        mgl = self._moderngl
        shadow_type = lights[shadow_idx]["type"] if shadow_idx >= 0 else None
        pcf = int(self.cfg["shadow_pcf_radius"])
        t.fbo_one_bg.use()
        t.fbo_one_bg.clear(*[float(c) ** (1 / 2.2) for c in self.cfg["background"]], 1.0)
        t.fbo_ids.use()
        t.fbo_ids.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)  # ids 0, depth 0
        t.fbo_one.use()
        sig = (tuple(l["type"] for l in lights), shadow_idx)
        ready = set()  # programs whose uniforms this view has set (runs alternate between two)
        for first, count, tex in sb.runs:
            key = (shadow_type, *sig, tex is not None)
            prog = self._program(self._one, key, lambda: one_pass_shader(shadow_type, pcf, *sig, tex is not None))
            if key not in ready:
                ready.add(key)
                prog["u_view"].write(view_m.T.astype("f4").tobytes())
                prog["u_proj"].write(proj.T.astype("f4").tobytes())
                write_light_uniforms(prog, view.position, lights, ambient, shadow_idx, MAX_LIGHTS)
                if shadow_idx >= 0:
                    self._shadow_uniforms(prog, sb, view, lights[shadow_idx])
            if tex is not None:
                prog["u_tex"].value = 0
                tex.use(location=0)
            sb.vao(f"one{key}", prog).render(mgl.TRIANGLES, vertices=count, first=first)

    def render(self, scene: SceneGraph, view: View, meshes: list[RenderMesh]) -> Frame:
        """Render one view; see engine.render.protocol.Renderer.render for the outputs."""
        if not meshes:
            raise ValueError("render: meshes is empty; fix: pass engine.assets.meshes.scene_meshes(scene, catalog)")
        W, H = int(view.width), int(view.height)
        objs = sorted(scene.objects, key=lambda o: o.instance_id)
        obj_index = {int(o.instance_id): k for k, o in enumerate(objs)}
        lights, ambient = scene_lights(scene, self.cfg)
        if len(lights) > MAX_LIGHTS:
            raise ValueError(f"render: {len(lights)} lights; the moderngl backend draws at most {MAX_LIGHTS}")
        ctx, mgl = self.ctx, self._moderngl
        near, far = float(self.cfg["near_m"]), float(self.cfg["far_m"])
        view_m = invert_pose(np.asarray(view.cam_to_world, dtype=float))
        proj = gl_projection(np.asarray(view.K, dtype=float), W, H, near, far)
        with ctx:
            t = self._size_targets(W, H)
            sb = self._scene_buffers(meshes, obj_index)
            shadow_idx = self._shadow_pass(sb, lights)
            self.programs["stats"]["u_view"].write(view_m.T.astype("f4").tobytes())
            self.programs["stats"]["u_proj"].write(proj.T.astype("f4").tobytes())
            ctx.front_face = "cw"  # gl_projection mirrors y
            ctx.cull_face = "back"
            ctx.enable(mgl.DEPTH_TEST | mgl.CULL_FACE)
            one_pass = self.cfg.get("antialias", "msaa") == "edge" and "effects" not in scene.materials
            if one_pass:
                self._one_pass(sb, t, view, lights, ambient, shadow_idx, view_m, proj)
            else:
                self._ids_pass(sb, t, view, lights, shadow_idx, view_m, proj)
                self._msaa_color_pass(sb, t, scene, view, lights, ambient, shadow_idx, view_m, proj)

            # amodal statistics: the hidden part over the objects' triangles (the visible part comes
            # from the id image below)
            n_obj = len(objs)
            colw, roww = (W + 31) // 32, (H + 31) // 32
            words = 1 + colw + roww
            stats = np.zeros((n_obj, words), dtype=np.uint32)
            if n_obj and sb.n_obj_indices:
                layers = (n_obj + 31) // 32
                mask = t.bit_mask(ctx, layers)
                mask.bind_to_image(0, read=True, write=True)
                mask.write(t.zeros(layers), viewport=(0, 0, 0, W, H, layers))  # an upload beats a clear shader on llvmpipe
                if self.stats_buf is None or self.stats_buf.size < stats.nbytes:
                    if self.stats_buf is not None:
                        self.stats_buf.release()
                    self.stats_buf = ctx.buffer(reserve=max(stats.nbytes, 64 * words * 4))
                self.stats_buf.write(stats.tobytes())
                self.stats_buf.bind_to_storage_buffer(1)
                ctx.memory_barrier()
                ps = self.programs["stats"]
                ps["u_words"].value, ps["u_colw"].value = words, colw
                ps["u_ids"].value = 2
                t.ids_tex.use(location=2)
                ctx.disable(mgl.DEPTH_TEST)
                ctx.enable(mgl.CULL_FACE)  # cull as the id pass did, whatever pass ran in between
                t.fbo_stats.use()
                sb.vaos["stats"].render(mgl.TRIANGLES, vertices=sb.n_obj_indices, first=0)
                ctx.memory_barrier()
                stats = np.frombuffer(self.stats_buf.read(size=stats.nbytes), dtype=np.uint32).reshape(n_obj, words)

            ids = np.empty((H, W), dtype=np.int32)
            t.fbo_ids.read_into(ids, components=1, attachment=0, dtype="i4")
            depth = np.empty((H, W), dtype=np.float32)
            t.fbo_ids.read_into(depth, components=1, attachment=1, dtype="f4")
            rgb = np.empty((H, W, 3), dtype=np.uint8)
            (t.fbo_one_bg if one_pass else t.fbo_rgb).read_into(rgb, components=3, alignment=1)
        if one_pass:
            rgb = fxaa(rgb, edge_pixels(ids, depth))

        if view.params.get("camera_effects"):  # RGB only: depth, ids and the statistics are read above
            rgb = apply_camera_effects(rgb, view.params["camera_effects"])
        hidden_boxes = bit_boxes(stats[:, 1:1 + colw], stats[:, 1 + colw:])
        per_id = id_stats(ids)
        for o in objs:
            k, iid = obj_index[int(o.instance_id)], int(o.instance_id)
            s = per_id.setdefault(iid, {"visible": 0, "bbox_visible": None})
            s.update(amodal=s["visible"] + int(stats[k, 0]),
                     bbox_amodal=box_union(s["bbox_visible"], hidden_boxes[k] if stats[k, 0] else None))
        return Frame(rgb=rgb, depth=depth, ids=ids, objects=object_fields(scene, view, per_id, near))
