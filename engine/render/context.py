"""GL contexts and renderer instances, one per process and reused (never one per frame).

``get_renderer`` caches a renderer per (backend, platform, device_index); each renderer keeps its
framebuffers per image size, so every view size shares the one context of the process.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager


log = logging.getLogger("engine.render")

_MODERNGL_CONTEXTS: dict[tuple[int, int], object] = {}

EGL_PACKAGES = "libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri"
OSMESA_PACKAGES = "libosmesa6 (and PyOpenGL >= 3.1.10)"


class RendererUnavailableError(RuntimeError):
    """No GL context could be created; the message says which packages to install."""


def moderngl_context(device_index: int):
    """The process's standalone moderngl EGL context for ``device_index`` (created once).

    Logs GL_RENDERER at creation. Raises RendererUnavailableError naming the Debian packages
    when EGL is missing.
    """
    key = (os.getpid(), device_index)  # a forked child (a DataLoader worker) never uses its parent's context
    ctx = _MODERNGL_CONTEXTS.get(key)
    if ctx is None:
        import moderngl

        try:
            ctx = moderngl.create_standalone_context(backend="egl", device_index=device_index, require=430)
        except Exception as e:  # glcontext raises plain Exceptions
            raise RendererUnavailableError(
                f"moderngl: cannot create an EGL context on device {device_index} ({e}); fix: install the "
                f"Debian packages {EGL_PACKAGES} (tools/setup_system.sh), or set render.backend=pyrender "
                f"render.platform=osmesa with {OSMESA_PACKAGES}") from e
        log.info("moderngl EGL context on device %d: GL_RENDERER=%s, GL %s", device_index,
                 ctx.info["GL_RENDERER"], ctx.info["GL_VERSION"])
        _MODERNGL_CONTEXTS[key] = ctx
    return ctx


def forked_after_render() -> bool:
    """True when this process inherited GL contexts that another process made, i.e. it was forked
    (a DataLoader worker under the default 'fork' start method) from a process that had rendered.
    Mesa's llvmpipe keeps threads and locks that do not survive a fork: a new context made in such
    a child can hang (seen in a test process that had rendered before forking its workers)."""
    return any(pid != os.getpid() for pid, _ in _MODERNGL_CONTEXTS)


def import_pyrender(platform: str, device_index: int):
    """Import pyrender for ``platform`` (egl | osmesa) and return the module.

    Sets PYOPENGL_PLATFORM and EGL_DEVICE_ID before the first import of PyOpenGL (it cannot be
    changed afterwards in the same process) and restores ``np.infty`` (removed in numpy 2),
    which pyrender 0.1.45 still uses.
    """
    import numpy as np

    current = os.environ.get("PYOPENGL_PLATFORM")
    import sys

    if "OpenGL" in sys.modules and current not in (None, platform):
        raise RendererUnavailableError(
            f"pyrender: PyOpenGL was already imported with PYOPENGL_PLATFORM={current!r}; fix: use one "
            f"render.platform per process (asked for {platform!r})")
    os.environ["PYOPENGL_PLATFORM"] = platform
    os.environ["EGL_DEVICE_ID"] = str(device_index)
    if not hasattr(np, "infty"):
        np.infty = np.inf
    try:
        import pyrender
    except Exception as e:
        pkgs = EGL_PACKAGES if platform == "egl" else OSMESA_PACKAGES
        raise RendererUnavailableError(f"pyrender ({platform}) failed to import ({e}); fix: install {pkgs}") from e
    return pyrender


@contextmanager
def llvmpipe_threads(cpus: int | None):
    """Inside: Mesa llvmpipe makes new GL contexts with raster threads for ``cpus`` CPUs
    (``LP_NUM_THREADS`` = ``cpus``, or ``0`` for one CPU: rasterise in the calling thread, since a
    separate raster thread then only adds hand-offs, about 8% more CPU per 512x512 frame).

    ``None``, or ``LP_NUM_THREADS`` already set by the user, leaves the environment alone (llvmpipe's
    default is a thread per core, in every process). Restored on exit. No effect on GPU drivers;
    the pixels do not depend on it."""
    if cpus is None or "LP_NUM_THREADS" in os.environ:
        yield
        return
    os.environ["LP_NUM_THREADS"] = str(cpus if cpus > 1 else 0)
    try:
        yield
    finally:
        os.environ.pop("LP_NUM_THREADS", None)
