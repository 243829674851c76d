"""Offscreen rendering: RGB, metric depth, instance ids and per-object visibility.

Public API (see docs/rendering.md):
    get_renderer(render_cfg) -> Renderer      one per process and config, GL context reused
    Renderer.render(scene, view, meshes) -> Frame
    annotate_visibility(view, frame)          writes the renderer fields into view.objects
    validate_render_cfg(render_cfg)
"""

from engine.render.backends import RENDERERS, get_renderer
from engine.render.context import RendererUnavailableError
from engine.render.protocol import RENDER_FIELDS, Renderer, RenderConfigError, load_default_render_cfg, validate_render_cfg
from engine.render.types import Frame
from engine.render.visibility import annotate_visibility

__all__ = [
    "get_renderer",
    "RENDERERS",
    "Renderer",
    "Frame",
    "annotate_visibility",
    "validate_render_cfg",
    "load_default_render_cfg",
    "RenderConfigError",
    "RendererUnavailableError",
    "RENDER_FIELDS",
]
