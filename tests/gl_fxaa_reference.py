"""The GL version of the edge filter (engine/render/edge_aa.py), kept as the reference its numpy
``fxaa`` is checked against: FXAA drawn as one GL point per edge pixel over the one-pass colour
texture (bilinear, clamp-to-edge), as the moderngl backend did before the filter moved to numpy."""

from __future__ import annotations

import numpy as np

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


def gl_fxaa(ctx, rgb: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Filter ``pixels`` ((N, 2) [column, row]) of ``rgb`` ((H, W, 3) uint8) on the GPU; returns (H, W, 3) uint8."""
    import moderngl

    H, W = rgb.shape[:2]
    with ctx:
        src = ctx.texture((W, H), 4, np.dstack([rgb, np.full((H, W), 255, np.uint8)]).tobytes())
        src.repeat_x = src.repeat_y = False
        dst = ctx.renderbuffer((W, H), 4)
        fbo_src, fbo = ctx.framebuffer([src]), ctx.framebuffer([dst])
        ctx.copy_framebuffer(fbo, fbo_src)
        prog = ctx.program(vertex_shader=_VS_POINTS, fragment_shader=_FS_FXAA)
        pts = np.ascontiguousarray(pixels, dtype=np.float32)
        vbo = ctx.buffer(pts.tobytes())
        vao = ctx.vertex_array(prog, [(vbo, "2f", "in_px")])
        fbo.use()
        ctx.disable(moderngl.DEPTH_TEST)
        src.use(location=4)
        prog["u_rgb"].value = 4
        prog["u_size"].value = (float(W), float(H))
        vao.render(moderngl.POINTS, vertices=len(pts))
        out = np.empty((H, W, 3), np.uint8)
        fbo.read_into(out, components=3, alignment=1)
        for r in (vao, vbo, prog, fbo, fbo_src, dst, src):
            r.release()
    return out
