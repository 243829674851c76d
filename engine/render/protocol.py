"""The renderer protocol, the render config schema, and camera/light maths shared by backends.

Frames: world right-handed, metres, +Z up. Cameras are OpenCV pinholes (``K``, ``cam_to_world``
with camera +X right, +Y down, +Z forward); pixel centres sit at integer coordinates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from engine.assets.appearance import appearance_cfg_errors
from engine.assets.effects import HIGH_KEYS, QUALITIES, SWITCHES, effects_cfg_errors
from engine.assets.types import RenderMesh
from engine.paths import CONF_DIR
from engine.plain import to_plain
from engine.render.cycles_config import cycles_cfg_errors
from engine.render.types import Frame
from engine.scene.graph import SceneGraph, View
from engine.schema import MISSING, Checker, ConfigError, is_num, is_rgb, raise_errors
from engine.yamlio import load_yaml

DEFAULT_RENDER_CFG = CONF_DIR / "render" / "default.yaml"
BACKENDS = ("moderngl", "pyrender", "cycles")
PLATFORMS = ("egl", "osmesa")
LIGHT_TYPES = ("directional", "point", "ambient")
# The per-object fields a renderer writes into View.objects (docs/record.md).
RENDER_FIELDS = ("visible_pixels", "amodal_pixels", "visible_fraction", "truncated", "bbox_visible", "bbox_amodal")


class RenderConfigError(ConfigError):
    """The render config is invalid; the message names the key (``render.<key>``) and the fix."""


@runtime_checkable
class Renderer(Protocol):
    """An offscreen renderer bound to one GL context of this process.

    Attributes:
        name: backend name (``moderngl`` or ``pyrender``).
        gl_renderer: the GL_RENDERER string of the context (e.g. ``llvmpipe (LLVM 15...)``).
        max_image_size: the largest image side (pixels) the context can draw (the smaller of
            GL_MAX_RENDERBUFFER_SIZE and GL_MAX_VIEWPORT_DIMS).
    """

    name: str
    gl_renderer: str
    max_image_size: int

    def render(self, scene: SceneGraph, view: View, meshes: list[RenderMesh]) -> Frame:
        """Render ``meshes`` (world metres) seen from ``view``.

        Returns a Frame: rgb (H, W, 3) uint8, depth (H, W) float32 camera z in metres (0 where
        nothing was hit), ids (H, W) int32 instance ids (0 for background and room surfaces),
        and ``objects`` with the per-object fields of :data:`RENDER_FIELDS` for every object
        of ``scene``.
        """
        ...


RENDER_KEYS = ("backend", "platform", "device_index", "msaa_samples", "shadows", "shadow_map_size",
               "shadow_pcf_radius", "near_m", "far_m", "background", "ambient", "default_lights")
# What appearance sampling records on a light besides what the renderer reads (docs/record.md).
_LIGHT_EXTRAS = ("name", "cast_shadows", "temperature_k", "elevation", "azimuth", "wall")
# appearance: engine.assets.appearance.appearance_cfg_errors; quality, high, effects: the quality
# preset (absent = fast), its switches and ranges (engine.assets.effects.effects_cfg_errors); cycles: engine.render.cycles_config
OPTIONAL_KEYS = ("appearance", "cycles", "antialias", *HIGH_KEYS)
ANTIALIAS = ("edge", "msaa")


def load_default_render_cfg() -> dict:
    """The render config of conf/render/default.yaml as a plain dict (without Hydra)."""
    with open(DEFAULT_RENDER_CFG, encoding="utf-8") as f:
        cfg = load_yaml(f)
    cfg.pop("defaults", None)
    return cfg


def validate_light(light: Any, where: str) -> list[str]:
    """Errors (``where.key: problem; fix: ...``) of one light dict; empty when valid.

    Lights: ``{type: directional, direction: [x, y, z], color: [r, g, b], intensity}`` where
    ``direction`` is the way the light travels (from the light into the scene, world frame);
    ``{type: point, position: [x, y, z] (world m), color, intensity}`` with irradiance
    ``intensity / d^2`` at distance d; ``{type: ambient, color, intensity}``.
    """
    c = Checker(light, where)
    if not isinstance(c.cfg, Mapping):
        return [f"{where}: must be a mapping, got {light!r}"]
    if not c.one_of("type", LIGHT_TYPES):
        return c.errors or [f"{where}.type: missing; fix: one of {', '.join(LIGHT_TYPES)}"]
    t = c.get("type")
    key = {"directional": "direction", "point": "position"}.get(t)
    c.keys("", ["type", "color", "intensity"] + ([key] if key else []), _LIGHT_EXTRAS)
    c.check("color", is_rgb, "a linear RGB triple in [0, 1]")
    c.number("intensity", 0.0)
    if key == "direction":
        c.check(key, lambda v: _is_vec3(v) and np.linalg.norm(np.asarray(v, float)) > 1e-9, "a non-zero world vector [x, y, z]")
    elif key:
        c.check(key, _is_vec3, "a world point [x, y, z] (metres)")
    return c.errors


def _is_vec3(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and len(v) == 3 and all(is_num(x) for x in v)


def render_cfg_errors(render_cfg: Mapping) -> list[str]:
    """Every problem of a render config (the ``render`` group), each ``render.<key>: problem; fix: ...``.

    The ``appearance`` sub-section (a mapping, a YAML path, or null for the default file) is
    checked by :func:`engine.assets.appearance.appearance_cfg_errors`.
    """
    if not isinstance(render_cfg, Mapping):
        return [f"render: must be a mapping, got {type(render_cfg).__name__}"]
    c = Checker(render_cfg, "render")
    c.keys("", RENDER_KEYS, OPTIONAL_KEYS, see="conf/render/default.yaml")
    c.one_of("backend", BACKENDS)
    c.check("platform", lambda v: v in PLATFORMS,
            "egl (default) or osmesa (pyrender only; needs libosmesa6 and PyOpenGL >= 3.1.10)")
    c.number("device_index", 0, integer=True, unit=" (the EGL device, i.e. the GPU index on NVIDIA machines)")
    c.check("msaa_samples", lambda v: v in (1, 2, 4, 8) and not isinstance(v, bool), "1 (off), 2, 4 or 8")
    if c.get("antialias") is not MISSING:
        c.one_of("antialias", ANTIALIAS)
    c.boolean("shadows")
    c.number("shadow_map_size", 256, 8192, integer=True, unit=" (texels per side)")
    c.number("shadow_pcf_radius", 0, 3, integer=True, unit=" (PCF: (2r)^2 bilinear taps, 1 tap for r = 0)")
    near_ok = c.check("near_m", lambda v: is_num(v) and 0 < v < 1, "a near-plane distance in metres in (0, 1)")
    far_ok = c.check("far_m", lambda v: is_num(v) and 1 < v <= 10000, "a far-plane distance in metres in (1, 10000]")
    c.check("background", is_rgb, "a linear RGB triple in [0, 1], e.g. [0.8, 0.85, 0.9]")
    c.number("ambient", 0.0, 1.0, unit=" (ambient light level)")
    if near_ok and far_ok and c.get("near_m") >= c.get("far_m"):
        c.err("near_m", f"{c.get('near_m')} must be below render.far_m {c.get('far_m')}")
    if c.get("backend") == "moderngl" and c.get("platform") == "osmesa":
        c.err("platform", "the moderngl backend runs on EGL only; fix: platform=egl, or backend=pyrender for osmesa")
    if c.get("backend") == "cycles" and c.get("platform") == "osmesa":
        c.err("platform", "the cycles backend takes its exact passes from moderngl, which runs on EGL only; fix: platform=egl")
    c.errors += cycles_cfg_errors(render_cfg)
    if c.check("default_lights", lambda v: isinstance(v, list), "a list of lights (used when a scene has none)"):
        for i, light in enumerate(c.get("default_lights")):
            c.errors += validate_light(light, f"render.default_lights[{i}]")
    c.errors += _quality_errors(c)
    a = c.get("appearance")
    if a is not MISSING:
        if a is None or isinstance(a, (str, Mapping)):  # a YAML path (null: the default file) or inline
            c.errors += appearance_cfg_errors(a)
        else:
            c.err("appearance", f"got {a!r}; fix: a mapping, a YAML path, or null for scenes/appearance.yaml")
    return c.errors


def _quality_errors(c: Checker) -> list[str]:
    """Errors of ``render.quality``, ``render.high`` and ``render.effects`` (the last two are
    checked whatever the preset, so a typo shows before someone switches to high)."""
    q = Checker(c.cfg, "render")
    if q.get("quality") is not MISSING:
        q.check("quality", lambda v: v in QUALITIES, "fast (default: no extra effects) or high (the effects under render.high)")
    if q.get("high") is not MISSING:
        if q.check("high", lambda v: isinstance(v, Mapping), f"a mapping of switches {{{', '.join(f'{k}: true' for k in SWITCHES)}}}"):
            q.keys("high", SWITCHES, see="conf/render/default.yaml")
            for k in SWITCHES:
                if q.get(f"high.{k}") is not MISSING:
                    q.boolean(f"high.{k}")
    e = q.get("effects")
    if e is not MISSING:
        if e is None or isinstance(e, (str, Mapping)):
            q.errors += effects_cfg_errors(e)
        else:
            q.err("effects", f"got {e!r}; fix: a mapping, a YAML path, or null for scenes/render_effects.yaml")
    return q.errors


def validate_render_cfg(render_cfg: Mapping) -> None:
    """Check a render config; raise RenderConfigError (a ConfigError) listing every problem."""
    raise_errors(render_cfg_errors(render_cfg), "invalid render config", RenderConfigError)


def scene_lights(scene: SceneGraph, render_cfg: Mapping) -> tuple[list[dict], np.ndarray]:
    """The lights to draw a scene with: scene.lights, else the config's ``default_lights``.

    Returns:
        lights: directional and point lights as dicts with float64 arrays ``direction`` (unit,
            the way light travels) or ``position`` (world m), ``radiance`` (3,) = color *
            intensity, and ``cast_shadows`` (default True; the first such light casts shadows).
        ambient: (3,) linear RGB ambient term (sum of ``ambient`` lights, else render.ambient grey).
    """
    raw = [to_plain(l) for l in (scene.lights or to_plain(render_cfg["default_lights"]))]
    lights, ambient, has_ambient = [], np.zeros(3), False
    for i, light in enumerate(raw):
        errs = validate_light(light, f"scene.lights[{i}]")
        if errs:
            raise ValueError("; ".join(errs))
        color = np.asarray(light["color"], float) * float(light["intensity"])
        if light["type"] == "ambient":
            ambient += color
            has_ambient = True
        elif light["type"] == "directional":
            d = np.asarray(light["direction"], float)
            lights.append({"type": "directional", "direction": d / np.linalg.norm(d), "radiance": color,
                           "cast_shadows": bool(light.get("cast_shadows", True))})
        else:
            lights.append({"type": "point", "position": np.asarray(light["position"], float), "radiance": color,
                           "cast_shadows": bool(light.get("cast_shadows", True))})
    if not has_ambient:
        ambient = np.full(3, float(render_cfg["ambient"]))
    return lights, ambient


def gl_projection(K: np.ndarray, width: int, height: int, near: float, far: float) -> np.ndarray:
    """(4, 4) clip matrix from OpenCV camera coordinates (x right, y down, z forward, metres).

    Window x = u + 0.5 and window y = v + 0.5 for image pixel (u, v) (pixel centres at integer
    u, v), so a framebuffer read back bottom-row-first comes out in image row order with no flip.
    The map mirrors y, so counter-clockwise triangles appear clockwise: draw with front_face='cw'.
    Clip w is the camera z; GL depth in [-1, 1] maps [near, far].
    """
    K = np.asarray(K, dtype=float)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    P = np.zeros((4, 4))
    P[0, 0] = 2 * fx / width
    P[0, 2] = 2 * (cx + 0.5) / width - 1
    P[1, 1] = 2 * fy / height
    P[1, 2] = 2 * (cy + 0.5) / height - 1
    P[2, 2] = (far + near) / (far - near)
    P[2, 3] = -2 * far * near / (far - near)
    P[3, 2] = 1.0
    return P


def mesh_bounds(meshes: list[RenderMesh]) -> tuple[np.ndarray, np.ndarray]:
    """(lo (3,), hi (3,)) world bounds of all mesh vertices (metres)."""
    v = np.concatenate([m.vertices for m in meshes])  # one reduction, not two per mesh
    return v.min(axis=0).astype(float), v.max(axis=0).astype(float)


def light_view_projection(light: dict, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(4, 4) world -> GL clip matrix of a shadow-casting light covering the box [lo, hi] (m).

    [lo, hi] should bound the shadow casters: a point in shadow has a caster between it and the
    light, so it projects inside the casters' footprint, and points outside the map are lit.
    Directional lights get the tightest orthographic frustum around the box's 8 corners (in the
    light's view); point lights a perspective one from their position towards the box's centre
    (field of view covering its corners, at most 150 degrees). Receivers beyond the far plane
    are handled by the shader (their depth is clamped to it).
    """
    center = (lo + hi) / 2
    radius = max(float(np.linalg.norm(hi - lo)) / 2, 1e-3)
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    if light["type"] == "directional":
        fwd = np.asarray(light["direction"], float)
        fwd = fwd / np.linalg.norm(fwd)
        eye = center - fwd * (radius * 2)
    else:
        eye = light["position"]
        fwd = center - eye
        n = np.linalg.norm(fwd)
        fwd = fwd / n if n > 1e-6 else np.array([0.0, 0.0, -1.0])
    up = np.array([0.0, 0.0, 1.0]) if abs(fwd[2]) < 0.99 else np.array([0.0, 1.0, 0.0])
    right = np.cross(fwd, up)
    right /= np.linalg.norm(right)
    upv = np.cross(right, fwd)
    V = np.eye(4)  # world -> light view (GL: x right, y up, looking down -z)
    V[0, :3], V[1, :3], V[2, :3] = right, upv, -fwd
    V[:3, 3] = -V[:3, :3] @ eye
    if light["type"] == "directional":
        c = corners @ V[:3, :3].T + V[:3, 3]
        pad = 1e-3 + 1e-3 * radius
        x0, y0 = c[:, :2].min(axis=0) - pad
        x1, y1 = c[:, :2].max(axis=0) + pad
        near, far = max(float(-c[:, 2].max()) - pad, 0.0), float(-c[:, 2].min()) + pad
        P = np.diag([2 / (x1 - x0), 2 / (y1 - y0), -2 / (far - near), 1.0])
        P[0, 3], P[1, 3], P[2, 3] = -(x1 + x0) / (x1 - x0), -(y1 + y0) / (y1 - y0), -(far + near) / (far - near)
    else:
        rel = corners - eye
        dist = np.linalg.norm(rel, axis=1)
        cosang = np.clip((rel @ fwd) / np.maximum(dist, 1e-9), -1, 1)
        half = min(np.arccos(cosang).max() + 0.02, np.radians(75))
        near, far = 0.05, float(dist.max()) + 0.1
        f = 1 / np.tan(half)
        P = np.zeros((4, 4))
        P[0, 0] = P[1, 1] = f
        P[2, 2] = -(far + near) / (far - near)
        P[2, 3] = -2 * far * near / (far - near)
        P[3, 2] = -1.0
    return P @ V
