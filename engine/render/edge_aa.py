"""Geometry-masked FXAA: the anti-aliasing of the moderngl backend's one-pass colour
(``render.antialias: edge``, docs/rendering.md).

The one-pass colour is shaded once per pixel at its centre, with no multisampling. Only the
pixels on a geometric edge are then filtered, found exactly from the pass's own id and depth
images (:func:`edge_pixels`): a 4-neighbour with another instance id (object silhouettes, object
against room), or a crease in inverse depth ``w = 1 / z``, which is affine in the pixel
coordinates on any plane (``|w_left + w_right - 2 w| > CREASE * w``, or the same vertically: a
fold between two faces, a wall meeting the floor or the skirting, the sky behind a window). Those
pixels get the FXAA filter (the four diagonal lumas give the edge direction; two or four
bilinear taps along it; the wider blend is kept unless it leaves the local luma range), drawn
as one GL point per pixel; every other pixel is copied unchanged, so texture detail (plank
seams, grout) is not blurred. Ids, depth and the visibility statistics do not depend on it.
A full-screen pass doing the edge test per pixel cost llvmpipe about 16 ms at 512 x 512; the
numpy test and the points cost a few.
"""

from __future__ import annotations

import numpy as np

CREASE = 0.002  # relative curvature of inverse depth per pixel step that counts as a crease

_VS_POINTS = """
#version 430
uniform vec2 u_size;         // image width, height (pixels)
in vec2 in_px;               // pixel (column, row of the GL image)
void main() { gl_Position = vec4((in_px + 0.5) / u_size * 2.0 - 1.0, 0.0, 1.0); }
"""

_FS_FXAA = """
#version 430
uniform sampler2D u_rgb;     // the one-pass colour (sRGB-encoded), bilinear, clamped
out vec4 o_color;

const float REDUCE_MIN = 1.0 / 128.0;
const float REDUCE_MUL = 1.0 / 8.0;
const float SPAN_MAX = 8.0;

float luma(vec3 c) { return dot(c, vec3(0.299, 0.587, 0.114)); }

void main() {
    vec2 px = 1.0 / vec2(textureSize(u_rgb, 0));
    vec2 uv = gl_FragCoord.xy * px;
    vec3 m = texelFetch(u_rgb, ivec2(gl_FragCoord.xy), 0).rgb;
    float l00 = luma(texture(u_rgb, uv + vec2(-1.0, -1.0) * px).rgb);
    float l10 = luma(texture(u_rgb, uv + vec2(1.0, -1.0) * px).rgb);
    float l01 = luma(texture(u_rgb, uv + vec2(-1.0, 1.0) * px).rgb);
    float l11 = luma(texture(u_rgb, uv + vec2(1.0, 1.0) * px).rgb);
    float lm = luma(m);
    float lo = min(lm, min(min(l00, l10), min(l01, l11)));
    float hi = max(lm, max(max(l00, l10), max(l01, l11)));
    vec2 dir = vec2(-((l00 + l10) - (l01 + l11)), (l00 + l01) - (l10 + l11));
    float reduce = max((l00 + l10 + l01 + l11) * (0.25 * REDUCE_MUL), REDUCE_MIN);
    dir = clamp(dir / (min(abs(dir.x), abs(dir.y)) + reduce), vec2(-SPAN_MAX), vec2(SPAN_MAX)) * px;
    vec3 a = 0.5 * (texture(u_rgb, uv + dir * (1.0 / 3.0 - 0.5)).rgb + texture(u_rgb, uv + dir * (2.0 / 3.0 - 0.5)).rgb);
    vec3 b = 0.5 * a + 0.25 * (texture(u_rgb, uv - 0.5 * dir).rgb + texture(u_rgb, uv + 0.5 * dir).rgb);
    float lb = luma(b);
    o_color = vec4((lb < lo || lb > hi) ? a : b, 1.0);
}
"""


def edge_pixels(ids: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """(N, 2) float32 [column, row] of the pixels on a geometric edge (see the module docstring).

    Args:
        ids: (H, W) int32 instance ids; depth: (H, W) float32 camera z (m), 0 where nothing was hit.
    """
    e = np.zeros(ids.shape, dtype=bool)
    d = ids[:, 1:] != ids[:, :-1]
    e[:, 1:] |= d
    e[:, :-1] |= d
    d = ids[1:] != ids[:-1]
    e[1:] |= d
    e[:-1] |= d
    w = np.zeros(depth.shape, dtype=np.float32)
    np.divide(1.0, depth, out=w, where=depth > 0)  # 0 where nothing was hit
    mid = w[1:-1, 1:-1]
    c = mid * np.float32(2.0)
    lim = mid * np.float32(CREASE)
    inner = e[1:-1, 1:-1]
    for a, b in ((w[1:-1, :-2], w[1:-1, 2:]), (w[:-2, 1:-1], w[2:, 1:-1])):  # across columns, across rows
        t = a + b
        t -= c
        np.abs(t, out=t)
        inner |= t > lim
    rows, cols = np.divmod(np.flatnonzero(e), e.shape[1])  # row-major, as np.nonzero; ~10x faster on 2-D
    return np.stack([cols, rows], axis=1).astype(np.float32)


class EdgeAA:
    """The edge filter of one GL context; :meth:`apply` filters one frame."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.prog = ctx.program(vertex_shader=_VS_POINTS, fragment_shader=_FS_FXAA)
        self.vbo = ctx.buffer(reserve=4096)
        self.vao = ctx.vertex_array(self.prog, [(self.vbo, "2f", "in_px")])

    def apply(self, src_fbo, rgb_tex, fbo_out, ids: np.ndarray, depth: np.ndarray) -> None:
        """Copy the colour of ``src_fbo`` (its attachment ``rgb_tex``, RGBA8, W x H) into ``fbo_out``
        and filter the edge pixels of ``ids`` / ``depth`` ((H, W), as read back) there."""
        import moderngl

        self.ctx.copy_framebuffer(fbo_out, src_fbo)
        pts = edge_pixels(ids, depth)
        if not len(pts):
            return
        if self.vbo.size < pts.nbytes:
            self.vbo.orphan(pts.nbytes * 2)
        self.vbo.write(pts.tobytes())
        fbo_out.use()
        self.ctx.disable(moderngl.DEPTH_TEST)
        rgb_tex.use(location=4)
        self.prog["u_rgb"].value = 4
        self.prog["u_size"].value = (float(ids.shape[1]), float(ids.shape[0]))
        self.vao.render(moderngl.POINTS, vertices=len(pts))

    def release(self) -> None:
        for r in (self.vao, self.vbo, self.prog):
            r.release()
