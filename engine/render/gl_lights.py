"""What the moderngl colour programs (fast and high) share: the light uniforms and the GLSL that
starts their fragment shaders (the camera-facing normal and the linear albedo)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# The first lines of a colour fragment shader's main(): ``n`` (unit normal turned towards the
# camera, so surfaces are two-sided), ``vdir`` (unit vector to the camera) and ``albedo`` (linear
# RGB: vertex colour times the gamma-2.2 decoded texel); an emissive surface (``v_mat.x < 0``, room
# backdrops and light fixtures) returns its albedo unlit.
SURFACE_GLSL = """
    vec3 n = normalize(v_normal);
    vec3 vdir = normalize(u_cam_pos - v_world);
    if (dot(n, vdir) < 0.0) n = -n;
    vec3 albedo = v_color;
    if (u_use_tex) albedo *= pow(texture(u_tex, v_uv).rgb, vec3(2.2));
    if (v_mat.x < 0.0) { o_color = vec4(pow(clamp(albedo, 0.0, 1.0), vec3(1.0 / 2.2)), 1.0); return; }  // emissive
"""


def write_light_uniforms(prog, cam_pos: Sequence[float], lights: list[dict], ambient: np.ndarray, shadow_idx: int,
                         max_lights: int) -> None:
    """Set ``u_cam_pos`` (world m), ``u_ambient`` (linear RGB), ``u_nlights``, ``u_ltype`` (0
    directional, 1 point), ``u_lvec`` (direction of travel or position, world), ``u_lrad``
    (colour * intensity) and ``u_shadow_light`` on a colour program; ``lights`` as returned by
    :func:`engine.render.protocol.scene_lights` (at most ``max_lights``), unused slots padded.
    Uniforms a program does not use (one made for a light set) are skipped, and arrays cut to the
    length it uses."""
    pad = max_lights - len(lights)
    values = {
        "u_cam_pos": tuple(float(x) for x in cam_pos),
        "u_ambient": tuple(float(x) for x in ambient),
        "u_nlights": len(lights),
        "u_ltype": [0 if l["type"] == "directional" else 1 for l in lights] + [0] * pad,
        "u_lvec": [tuple(float(x) for x in (l["direction"] if l["type"] == "directional" else l["position"]))
                   for l in lights] + [(0.0, 0.0, -1.0)] * pad,
        "u_lrad": [tuple(float(x) for x in l["radiance"]) for l in lights] + [(0.0, 0.0, 0.0)] * pad,
        "u_shadow_light": shadow_idx,
    }
    for name, value in values.items():
        if name in prog:
            u = prog[name]
            if isinstance(value, list):  # moderngl takes a length-1 array as a single value
                value = value[0] if u.array_length == 1 else value[:u.array_length]
            u.value = value
