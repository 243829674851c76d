"""The renderer registry: backend name -> renderer class, and the per-process renderer cache.

Adding a backend: a module with a class implementing :class:`engine.render.protocol.Renderer`,
its name in ``protocol.BACKENDS`` (what a config may ask for) and one entry here. A class with
``takes_cpus = True`` is built as ``cls(cfg, cpus=...)`` (the worker's CPU share), others as ``cls(cfg)``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from engine.plain import to_plain
from engine.render.context import llvmpipe_threads
from engine.render.cycles_backend import CyclesRenderer
from engine.render.moderngl_backend import ModernglRenderer
from engine.render.protocol import BACKENDS, Renderer, validate_render_cfg
from engine.render.pyrender_backend import PyrenderRenderer

RENDERERS: dict[str, type] = {"moderngl": ModernglRenderer, "pyrender": PyrenderRenderer, "cycles": CyclesRenderer}
if set(RENDERERS) != set(BACKENDS):  # pragma: no cover - a registration mistake
    raise RuntimeError(f"render backends: registry {sorted(RENDERERS)} != protocol.BACKENDS {sorted(BACKENDS)}")

_RENDERERS: dict[tuple, Renderer] = {}


def get_renderer(render_cfg: Mapping, cpus: int | None = None) -> Renderer:
    """The renderer of this process for ``render_cfg`` (validated), created on first use.

    Cached per (backend, platform, device_index) and per the settings that change pixels; one GL
    context per process. Image sizes come from each View; framebuffers are kept per size.
    ``cpus``: CPUs a CPU rasteriser may use when the context is made (see
    :func:`llvmpipe_threads`; a context keeps its threads, so a cached renderer is unaffected), and
    the threads of a backend that declares ``takes_cpus`` (cycles: Blender's CPU threads).
    """
    cfg = {k: to_plain(v) for k, v in dict(render_cfg).items()}
    validate_render_cfg(cfg)
    # per process: a child forked from a process that rendered (a DataLoader worker) makes its own
    key = (os.getpid(), cfg["backend"], cfg["platform"], cfg["device_index"],
           repr(sorted((k, repr(v)) for k, v in cfg.items())))
    r = _RENDERERS.get(key)
    if r is None:
        with llvmpipe_threads(cpus):
            cls = RENDERERS[cfg["backend"]]
            r = cls(cfg, cpus=cpus) if getattr(cls, "takes_cpus", False) else cls(cfg)
        _RENDERERS[key] = r
    return r
