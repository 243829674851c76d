"""The ``quality: high`` colour pass of the moderngl backend: GGX shading, normal detail, SSAO.

Used for scenes whose record holds ``materials["effects"]`` (engine/assets/effects.py); the ids,
depth, shadow and statistics passes are the fast ones, unchanged, so annotations are identical
with and without these effects. Per view, after the ids pass:

1. SSAO (when ``effects.ssao`` is set): from the exact camera-z image alone. For each pixel the
   camera-frame point ``p = ((u - cx) z / fx, (v - cy) z / fy, z)`` and its normal (from the
   neighbouring pixels on the smoother side) give a hemisphere of ``samples`` points within
   ``radius_m``; a sample counts as occluded when the depth image holds a surface in front of it
   (within the radius: weight ``smoothstep(0, 1, radius / |dz|)``). ao = 1 - strength * occluded
   share. The per-pixel rotation is a 4x4 Bayer pattern, removed by a 4x4 depth-aware box blur.
   AO scales the ambient light only;
2. colour, multisampled: with ``effects.pbr`` a GGX microfacet specular (Smith-Schlick G,
   Schlick F, F0 = mix(0.04, albedo, metalness)) plus (1 - metalness) Lambert diffuse, in the fast
   pass's radiance units (Lambert without 1/pi, so the specular lobe is scaled by pi); without it
   the fast Blinn-Phong formula. Normal detail perturbs the shading normal by a height field
   (Mikkelsen's surface-gradient bump mapping, forward differences one pixel apart): the floor's
   and walls' texture height maps (engine.assets.textures.make_height_map) scaled by ``bump_mm``,
   and world-space wood grain / fabric ribs on objects, faded out where a pixel spans a period.
"""

from __future__ import annotations

import numpy as np

from engine.assets.textures import make_height_map
from engine.render.gl_lights import SURFACE_GLSL, write_light_uniforms

AO_BLUR = 4  # the rotation pattern's period, pixels (the blur's width)
DETAIL_CODES = {None: 0, "wood": 1, "fabric": 2}

_VS_FULLSCREEN = """
#version 430
void main() {
    vec2 p = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2);
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
"""

_FS_SSAO = """
#version 430
uniform sampler2D u_depth;   // camera z (m), 0 = nothing hit
uniform vec4 u_K;            // fx, fy, cx, cy (pixels)
uniform ivec2 u_size;
uniform float u_radius;
uniform float u_strength;
uniform int u_samples;
uniform vec3 u_kernel[64];   // hemisphere (z = normal) points, |k| <= 1
out float o_ao;
vec3 P(ivec2 q, float z) { return vec3((float(q.x) - u_K.z) / u_K.x * z, (float(q.y) - u_K.w) / u_K.y * z, z); }
float Z(ivec2 q) { return texelFetch(u_depth, clamp(q, ivec2(0), u_size - 1), 0).r; }
vec3 side(ivec2 q, vec3 p, ivec2 d) {   // the tangent towards the neighbour on the smoother side
    float za = Z(q + d), zb = Z(q - d);
    float ea = za > 0.0 ? abs(za - p.z) : 1e9, eb = zb > 0.0 ? abs(p.z - zb) : 1e9;
    return ea <= eb ? P(q + d, za) - p : p - P(q - d, zb);
}
const float BAYER[16] = float[16](0., 8., 2., 10., 12., 4., 14., 6., 3., 11., 1., 9., 15., 7., 13., 5.);
void main() {
    ivec2 q = ivec2(gl_FragCoord.xy);
    float z = Z(q);
    if (z <= 0.0) { o_ao = 1.0; return; }
    vec3 p = P(q, z);
    vec3 n = normalize(cross(side(q, p, ivec2(1, 0)), side(q, p, ivec2(0, 1))));
    if (dot(n, p) > 0.0) n = -n;   // towards the camera (at the origin)
    float ang = 6.2831853 * (BAYER[(q.y & 3) * 4 + (q.x & 3)] + 0.5) / 16.0;
    vec3 r = vec3(cos(ang), sin(ang), 0.0);
    if (abs(dot(r, n)) > 0.99) r = vec3(0.0, cos(ang), sin(ang));
    vec3 t = normalize(r - n * dot(r, n));
    vec3 b = cross(n, t);
    float occ = 0.0;
    float bias = 0.02 * u_radius + 0.002;
    for (int i = 0; i < u_samples; ++i) {
        vec3 k = u_kernel[i];
        vec3 s = p + (t * k.x + b * k.y + n * k.z) * u_radius;
        if (s.z <= 1e-3) continue;
        ivec2 sq = ivec2(floor(vec2(u_K.x * s.x / s.z + u_K.z, u_K.y * s.y / s.z + u_K.w) + 0.5));
        if (any(lessThan(sq, ivec2(0))) || any(greaterThanEqual(sq, u_size))) continue;
        float sz = texelFetch(u_depth, sq, 0).r;
        if (sz <= 0.0) continue;   // sky: nothing there
        if (sz < s.z - bias) occ += smoothstep(0.0, 1.0, u_radius / abs(p.z - sz));
    }
    o_ao = 1.0 - u_strength * occ / float(u_samples);
}
"""

_FS_BLUR = """
#version 430
uniform sampler2D u_ao;
uniform sampler2D u_depth;
uniform ivec2 u_size;
out float o_ao;
void main() {
    ivec2 q = ivec2(gl_FragCoord.xy);
    float z = texelFetch(u_depth, q, 0).r;
    if (z <= 0.0) { o_ao = 1.0; return; }
    float sum = 0.0, cnt = 0.0;
    for (int dx = -2; dx < 2; ++dx)
        for (int dy = -2; dy < 2; ++dy) {
            ivec2 s = clamp(q + ivec2(dx, dy), ivec2(0), u_size - 1);
            float zs = texelFetch(u_depth, s, 0).r;
            if (zs > 0.0 && abs(zs - z) < 0.05 * z) { sum += texelFetch(u_ao, s, 0).r; cnt += 1.0; }
        }
    o_ao = cnt > 0.0 ? sum / cnt : 1.0;
}
"""

_FS_COLOR_HIGH = """
#version 430
in vec3 v_world; in vec3 v_normal; in vec3 v_color; in vec2 v_uv; in vec2 v_mat; flat in int v_inst;
uniform vec3 u_cam_pos;
uniform vec3 u_ambient;
uniform int u_nlights;
uniform int u_ltype[%(ML)d];
uniform vec3 u_lvec[%(ML)d];
uniform vec3 u_lrad[%(ML)d];
uniform int u_shadow_light;
uniform sampler2D u_shadow_screen;
uniform bool u_use_tex;
uniform sampler2D u_tex;
uniform bool u_pbr;
uniform bool u_use_ao;
uniform sampler2D u_ao;
uniform bool u_use_height;
uniform sampler2D u_height;
uniform vec4 u_surf;          // room surfaces: roughness, metalness, bump (m), unused
layout(std430, binding = 2) buffer ObjMat { vec4 objmat[]; };  // per instance id: roughness, metalness, bump (m), detail
out vec4 o_color;
const float PI = 3.14159265;

float hash(vec2 p) { return fract(sin(dot(p, vec2(127.1, 311.7))) * 43758.5453); }
float vnoise(vec2 p) {
    vec2 i = floor(p), f = fract(p), u = f * f * (3.0 - 2.0 * f);
    return mix(mix(hash(i), hash(i + vec2(1, 0)), u.x), mix(hash(i + vec2(0, 1)), hash(i + vec2(1, 1)), u.x), u.y);
}
vec2 plane(vec3 p, vec3 n) {   // the two world coordinates across the normal's dominant axis
    vec3 a = abs(n);
    return (a.z >= a.x && a.z >= a.y) ? p.xy : (a.x >= a.y ? p.yz : p.xz);
}
float detail_h(int kind, vec3 p, vec3 n) {   // in [0, 1]
    vec2 ab = plane(p, n);
    if (kind == 1) return 0.5 + 0.5 * sin(6.2831853 * (ab.y * 40.0 + 2.5 * vnoise(ab * vec2(1.5, 6.0))));
    return 0.5 + 0.3 * sin(6.2831853 * ab.x * 40.0) + 0.2 * (vnoise(ab * 60.0) - 0.5);
}
vec3 bump(vec3 n, vec3 p, float hx, float hy) {   // hx, hy: height change (m) one pixel right / down
    vec3 dpdx = dFdx(p), dpdy = dFdy(p);
    vec3 r1 = cross(dpdy, n), r2 = cross(n, dpdx);
    float det = dot(dpdx, r1);
    if (abs(det) < 1e-20) return n;
    vec3 g = sign(det) * (hx * r1 + hy * r2);
    return normalize(abs(det) * n - g);
}

void main() {%(SURFACE)s    vec4 m = v_inst > 0 ? objmat[v_inst] : u_surf;
    float bump_m = m.z;
    if (bump_m > 0.0) {
        if (v_inst > 0) {
            int kind = int(m.w + 0.5);
            vec3 dx = dFdx(v_world), dy = dFdy(v_world);
            float fade = clamp(1.0 - 2.0 * 40.0 * max(length(dx), length(dy)), 0.0, 1.0);
            if (kind > 0 && fade > 0.0) {
                float h0 = detail_h(kind, v_world, n);
                n = bump(n, v_world, fade * bump_m * (detail_h(kind, v_world + dx, n) - h0),
                         fade * bump_m * (detail_h(kind, v_world + dy, n) - h0));
            }
        } else if (u_use_height) {
            vec2 du = dFdx(v_uv), dv = dFdy(v_uv);
            float h0 = texture(u_height, v_uv).r;
            n = bump(n, v_world, bump_m * (texture(u_height, v_uv + du).r - h0), bump_m * (texture(u_height, v_uv + dv).r - h0));
        }
        if (dot(n, vdir) < 0.0) n = normalize(n - 1.01 * dot(n, vdir) * vdir);
    }
    ivec2 q = ivec2(gl_FragCoord.xy);
    float ao = u_use_ao ? texelFetch(u_ao, q, 0).r : 1.0;
    float rough = clamp(m.x, 0.04, 1.0), metal = clamp(m.y, 0.0, 1.0);
    vec3 F0 = mix(vec3(0.04), albedo, metal);
    vec3 diff = u_pbr ? albedo * (1.0 - metal) : albedo;
    vec3 col = u_ambient * ao * (u_pbr ? diff + F0 * (1.0 - 0.5 * rough) : albedo);  // F0 term: a grey environment
    float ndv = max(dot(n, vdir), 1e-3);
    float a2 = pow(rough, 4.0), k = (rough + 1.0) * (rough + 1.0) / 8.0;
    for (int i = 0; i < u_nlights; ++i) {
        vec3 l; vec3 rad = u_lrad[i];
        if (u_ltype[i] == 0) { l = -normalize(u_lvec[i]); }
        else { vec3 d = u_lvec[i] - v_world; float r2 = max(dot(d, d), 1e-4); l = d / sqrt(r2); rad /= r2; }
        float ndl = dot(n, l);
        if (ndl <= 0.0) continue;
        float vis = (i == u_shadow_light) ? 1.0 - texelFetch(u_shadow_screen, q, 0).r : 1.0;
        vec3 h = normalize(l + vdir);
        float ndh = max(dot(n, h), 0.0);
        if (u_pbr) {
            float dd = ndh * ndh * (a2 - 1.0) + 1.0;
            float D = a2 / (PI * dd * dd);
            float G = (ndl / (ndl * (1.0 - k) + k)) * (ndv / (ndv * (1.0 - k) + k));
            vec3 F = F0 + (1.0 - F0) * pow(1.0 - max(dot(vdir, h), 0.0), 5.0);
            col += vis * rad * ndl * (diff * (1.0 - F) + PI * D * G * F / (4.0 * ndl * ndv + 1e-4));
        } else {
            col += vis * rad * (albedo * ndl + v_mat.x * pow(ndh, v_mat.y));
        }
    }
    o_color = vec4(pow(clamp(col, 0.0, 1.0), vec3(1.0 / 2.2)), 1.0);
}
"""


def ssao_kernel(n: int = 64) -> np.ndarray:
    """(n, 3) float32 points in the unit hemisphere (z >= 0.1 |k|), denser near the centre
    (length 0.1 + 0.9 (i / n)^2); fixed (seed 0), so the AO of a view is a pure function of its depth."""
    rng = np.random.Generator(np.random.PCG64(0))
    d = rng.standard_normal((n, 3))
    d[:, 2] = np.abs(d[:, 2]) + 0.1 * np.linalg.norm(d, axis=1)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return (d * (0.1 + 0.9 * (np.arange(n) / n) ** 2)[:, None]).astype(np.float32)


class HighShading:
    """GL state of the high colour pass for one moderngl context (programs compiled on first use).

    Args:
        ctx: the moderngl context; vertex_shader: the backend's vertex shader source;
        vertex_format: ``attrs -> format string`` for the backend's interleaved vertex buffer.
    """

    def __init__(self, ctx, vertex_shader: str, vertex_format, max_lights: int):
        import moderngl

        self.ctx, self.mgl, self.max_lights = ctx, moderngl, max_lights
        fs = _FS_COLOR_HIGH % {"ML": max_lights, "SURFACE": SURFACE_GLSL}
        self.color = ctx.program(vertex_shader=vertex_shader, fragment_shader=fs)
        self.ssao = ctx.program(vertex_shader=_VS_FULLSCREEN, fragment_shader=_FS_SSAO)
        self.blur = ctx.program(vertex_shader=_VS_FULLSCREEN, fragment_shader=_FS_BLUR)
        self.ssao["u_kernel"].write(ssao_kernel(64).tobytes())
        self.vao_ssao = ctx.vertex_array(self.ssao, [])
        self.vao_blur = ctx.vertex_array(self.blur, [])
        self.vertex_format = vertex_format
        self._targets: dict[tuple[int, int], tuple] = {}
        self._scene_key = None
        self._scene_res: list = []

    def _ao_targets(self, w: int, h: int):
        t = self._targets.get((w, h))
        if t is None:
            if len(self._targets) >= 2:
                for r in self._targets.pop(next(iter(self._targets))):
                    r.release()
            raw = self.ctx.texture((w, h), 1, dtype="f4")
            out = self.ctx.texture((w, h), 1, dtype="f4")
            for tex in (raw, out):
                tex.filter = (self.mgl.NEAREST, self.mgl.NEAREST)
            t = (raw, self.ctx.framebuffer([raw]), out, self.ctx.framebuffer([out]))
            self._targets[(w, h)] = t
        return t

    def _scene(self, sb, scene, from_attrs):
        """(vao, per-run (surface vec4, height texture or None), object buffer) of the scene."""
        fx = scene.materials["effects"]
        if self._scene_res and self._scene_key[0] is sb.key and self._scene_key[1] is fx:
            return self._scene_res[0]
        self.release_scene()
        mgl = self.mgl
        attrs = [a for a in from_attrs if a in self.color]
        vao = self.ctx.vertex_array(self.color, [(sb.vbo, self.vertex_format(attrs), *attrs)], sb.ibo, index_element_size=4)
        wall_ids = {w.id for w in scene.room.walls}
        runs, heights = [], {}
        for (first, count, tex), m in zip(sb.runs, sb.run_meshes):
            key = "floor" if m.name == "floor" else ("wall" if m.name in wall_ids else None)
            e = fx.get(key) or {}
            rough = e.get("roughness", float(np.sqrt(2.0 / (float(m.shininess) + 2.0))))
            surf = (float(rough), float(e.get("metalness", 0.0)), float(e.get("bump_mm", 0.0)) / 1000.0, 0.0)
            hmap = None
            if key and surf[2] > 0 and tex is not None:
                hmap = heights.get(key)
                if hmap is None:
                    h = np.ascontiguousarray(make_height_map(scene.materials[key]), dtype=np.float32)
                    hmap = self.ctx.texture((h.shape[1], h.shape[0]), 1, h.tobytes(), dtype="f4")
                    hmap.filter = (mgl.LINEAR, mgl.LINEAR)
                    hmap.repeat_x = hmap.repeat_y = True
                    heights[key] = hmap
            runs.append((first, count, tex, surf, hmap))
        objs = fx.get("objects", {})
        n = max([int(o.instance_id) for o in scene.objects] + [0]) + 1
        table = np.zeros((n, 4), np.float32)
        for o in scene.objects:
            e = objs.get(o.id, {})
            table[int(o.instance_id)] = (e.get("roughness", 0.5), e.get("metalness", 0.0), float(e.get("bump_mm", 0.0)) / 1000.0,
                                         DETAIL_CODES.get(e.get("detail"), 0))
        buf = self.ctx.buffer(table.tobytes())
        res = (vao, runs, buf)
        # keyed by identity (the tuple and dict are held here): a new scene or new effects rebuild it
        self._scene_key, self._scene_res = (sb.key, fx), [res, vao, buf, *heights.values()]
        return res

    def release_scene(self) -> None:
        for r in self._scene_res[1:]:
            r.release()
        self._scene_key, self._scene_res = None, []

    def draw(self, sb, targets, scene, view, lights, ambient, shadow_idx, view_m, proj, attrs) -> None:
        """SSAO (when recorded) then the high colour pass into ``targets.fbo_ms`` (already cleared)."""
        mgl, ctx = self.mgl, self.ctx
        fx = scene.materials["effects"]
        vao, runs, objbuf = self._scene(sb, scene, attrs)
        W, H = int(view.width), int(view.height)
        ssao = fx.get("ssao")
        if ssao:
            raw, fbo_raw, out, fbo_out = self._ao_targets(W, H)
            K = np.asarray(view.K, float)
            ctx.disable(mgl.DEPTH_TEST | mgl.CULL_FACE)
            targets.depth_tex.use(location=6)
            p = self.ssao
            p["u_depth"].value = 6
            p["u_K"].value = (K[0, 0], K[1, 1], K[0, 2], K[1, 2])
            p["u_size"].value = (W, H)
            p["u_radius"].value = float(ssao["radius_m"])
            p["u_strength"].value = float(ssao["strength"])
            p["u_samples"].value = min(int(ssao["samples"]), 64)
            fbo_raw.use()
            self.vao_ssao.render(mgl.TRIANGLES, vertices=3)
            raw.use(location=7)
            self.blur["u_ao"].value = 7
            self.blur["u_depth"].value = 6
            self.blur["u_size"].value = (W, H)
            fbo_out.use()
            self.vao_blur.render(mgl.TRIANGLES, vertices=3)
            out.use(location=4)
            ctx.enable(mgl.DEPTH_TEST | mgl.CULL_FACE)
        pc = self.color
        pc["u_view"].write(view_m.T.astype("f4").tobytes())
        pc["u_proj"].write(proj.T.astype("f4").tobytes())
        write_light_uniforms(pc, view.position, lights, ambient, shadow_idx, self.max_lights)
        targets.shadow_tex.use(location=3)
        pc["u_shadow_screen"].value = 3
        pc["u_tex"].value = 0
        pc["u_ao"].value = 4
        pc["u_height"].value = 5
        pc["u_use_ao"].value = bool(ssao)
        pc["u_pbr"].value = bool(fx.get("pbr"))
        objbuf.bind_to_storage_buffer(2)
        targets.fbo_ms.use()
        for first, count, tex, surf, hmap in runs:
            pc["u_use_tex"].value = tex is not None
            if tex is not None:
                tex.use(location=0)
            pc["u_surf"].value = surf
            pc["u_use_height"].value = hmap is not None
            if hmap is not None:
                hmap.use(location=5)
            vao.render(mgl.TRIANGLES, vertices=count, first=first)

    def release(self) -> None:
        self.release_scene()
        for t in self._targets.values():
            for r in t:
                r.release()
        self._targets.clear()
